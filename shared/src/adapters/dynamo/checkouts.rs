//! [`Checkouts`] on the holds table, with the stock, shoppers, orders and idempotency
//! tables it changes in the same transactions.
//!
//! A held checkout carries `heldShard = "HELD"` in the `byExpiry` index the sweeper reads;
//! every transition away from held moves it to `CLOSED`. The hold record's
//! `ttl` is its expiry, so DynamoDB's TTL deletion (and its stream record) is the backstop.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::carts::CART;
use super::transact::{Faults, TransactFailure, Transactor};
use super::tx::{delete, give_back, once, put, take, update};
use super::{classify, decode, encode, n, read_string, s, Record};
use crate::config::Tables;
use crate::domain::{Checkout, CheckoutId, HoldState, Order, ReleaseReason, Timestamp, UserId};
use crate::ports::{Checkouts, HoldRefused, StoreError};

/// The sort key of a user's latest-checkout pointer in the shoppers table.
const POINTER: &str = "CHECKOUT";
const HELD_SHARD: &str = "HELD";
/// Where a hold moves in the `byExpiry` index once it is over. Kept in the index rather than
/// dropped from it: DynamoDB Local's TTL never deletes an item that is absent from a sparse
/// index, which would silently disable the TTL backstop locally.
const CLOSED_SHARD: &str = "CLOSED";

/// Checkout holds in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoCheckouts {
    client: Client,
    tables: Tables,
    transactor: Transactor,
}

fn hold_key(id: CheckoutId) -> Record {
    HashMap::from([("checkoutId".to_owned(), s(id.to_string()))])
}

/// The idempotency record of a begin: scoped to the user, so keys never collide across users.
fn begin_key(user: &UserId, idempotency_key: &str) -> String {
    format!("checkout#{user}#{idempotency_key}")
}

fn user_key(user: &UserId, sk: &str) -> Record {
    HashMap::from([
        ("userId".to_owned(), s(user.as_str())),
        ("sk".to_owned(), s(sk)),
    ])
}

fn state(value: HoldState) -> aws_sdk_dynamodb::types::AttributeValue {
    s(match value {
        HoldState::Held => "HELD",
        HoldState::Consumed => "CONSUMED",
        HoldState::Released => "RELEASED",
    })
}

fn reason(value: ReleaseReason) -> &'static str {
    match value {
        ReleaseReason::Expired => "EXPIRED",
        ReleaseReason::Cancelled => "CANCELLED",
        ReleaseReason::Replaced => "REPLACED",
        ReleaseReason::PaymentFailed => "PAYMENT_FAILED",
    }
}

impl DynamoCheckouts {
    pub fn new(client: Client, tables: Tables, faults: Arc<Faults>) -> Self {
        let transactor = Transactor::new(client.clone(), faults);
        Self {
            client,
            tables,
            transactor,
        }
    }

    /// Commit `items`; a cancellation because the first item's condition failed (the hold
    /// was no longer held, or the once-only marker existed) is `Ok(false)`.
    async fn gated(
        &self,
        items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> Result<bool, StoreError> {
        match self.transactor.write(items).await {
            Ok(()) => Ok(true),
            Err(TransactFailure::Cancelled(codes))
                if codes
                    .iter()
                    .flatten()
                    .all(|c| c == "ConditionalCheckFailed") =>
            {
                Ok(false)
            }
            Err(TransactFailure::Cancelled(codes)) => Err(StoreError::Unavailable(format!(
                "transaction cancelled: {codes:?}"
            ))),
            Err(TransactFailure::Store(e)) => Err(e),
        }
    }

    fn release_items(
        &self,
        checkout: &Checkout,
    ) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, StoreError> {
        let mut items = vec![once(
            &self.tables.idempotency,
            &format!("release#{}", checkout.checkout_id),
            "released",
        )?];
        for (item, units) in checkout.demand() {
            items.push(give_back(&self.tables.stock, item, units)?);
        }
        Ok(items)
    }
}

#[async_trait]
impl Checkouts for DynamoCheckouts {
    async fn hold(
        &self,
        checkout: &Checkout,
        previous: Option<CheckoutId>,
        idempotency_key: &str,
    ) -> Result<(), HoldRefused> {
        let demand = checkout.demand();
        let mut items = Vec::with_capacity(demand.len() + 3);
        for (item, units) in &demand {
            items.push(take(&self.tables.stock, *item, *units)?);
        }
        let mut record = encode(checkout)?;
        record.insert("heldShard".into(), s(HELD_SHARD));
        record.insert("ttl".into(), n(checkout.expires_at.unix_seconds()));
        items.push(put(
            &self.tables.holds,
            record,
            Some("attribute_not_exists(checkoutId)"),
            &[],
            vec![],
        )?);
        let mut pointer = user_key(&checkout.user_id, POINTER);
        pointer.insert("checkoutId".into(), s(checkout.checkout_id.to_string()));
        items.push(match previous {
            None => put(
                &self.tables.shoppers,
                pointer,
                Some("attribute_not_exists(userId)"),
                &[],
                vec![],
            )?,
            Some(prev) => put(
                &self.tables.shoppers,
                pointer,
                Some("checkoutId = :prev"),
                &[],
                vec![(":prev", s(prev.to_string()))],
            )?,
        });
        let key = format!("checkout#{}#{idempotency_key}", checkout.user_id);
        items.push(once(
            &self.tables.idempotency,
            &key,
            &checkout.checkout_id.to_string(),
        )?);

        match self.transactor.write(items).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Cancelled(codes)) => {
                let failed = |i: usize| {
                    codes.get(i).and_then(Option::as_deref) == Some("ConditionalCheckFailed")
                };
                let n_items = demand.len();
                if failed(n_items + 2) {
                    let earlier = self.begun_with(&checkout.user_id, idempotency_key).await?;
                    return Err(earlier
                        .map(HoldRefused::Replay)
                        .unwrap_or(HoldRefused::Concurrent));
                }
                let short: Vec<_> = demand
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| failed(*i))
                    .map(|(_, (item, _))| *item)
                    .collect();
                if !short.is_empty() {
                    return Err(HoldRefused::Short(short));
                }
                if failed(n_items + 1) {
                    return Err(HoldRefused::Concurrent);
                }
                Err(StoreError::Unavailable(format!("hold cancelled: {codes:?}")).into())
            }
            Err(TransactFailure::Store(e)) => Err(e.into()),
        }
    }

    async fn get(&self, id: CheckoutId) -> Result<Option<Checkout>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.holds)
            .set_key(Some(hold_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        out.item.map(decode).transpose()
    }

    async fn begun_with(
        &self,
        user: &UserId,
        idempotency_key: &str,
    ) -> Result<Option<CheckoutId>, StoreError> {
        let key = HashMap::from([("key".to_owned(), s(begin_key(user, idempotency_key)))]);
        let raw = read_string(&self.client, &self.tables.idempotency, key, "value").await?;
        raw.map(|r| CheckoutId::try_from(r).map_err(StoreError::Corrupt))
            .transpose()
    }

    async fn latest(&self, user: &UserId) -> Result<Option<CheckoutId>, StoreError> {
        let raw = read_string(
            &self.client,
            &self.tables.shoppers,
            user_key(user, POINTER),
            "checkoutId",
        )
        .await?;
        raw.map(|r| CheckoutId::try_from(r).map_err(StoreError::Corrupt))
            .transpose()
    }

    async fn release(&self, checkout: &Checkout, why: ReleaseReason) -> Result<bool, StoreError> {
        let mut items = vec![update(
            &self.tables.holds,
            hold_key(checkout.checkout_id),
            "SET #state = :released, releaseReason = :why, releasedAt = :now, heldShard = :closed",
            Some("#state = :held"),
            &[("#state", "state")],
            vec![
                (":released", state(HoldState::Released)),
                (":held", state(HoldState::Held)),
                (":why", s(reason(why))),
                (":now", s(Timestamp::now().to_string())),
                (":closed", s(CLOSED_SHARD)),
            ],
        )?];
        items.extend(self.release_items(checkout)?);
        self.gated(items).await
    }

    async fn release_deleted(&self, checkout: &Checkout) -> Result<bool, StoreError> {
        self.gated(self.release_items(checkout)?).await
    }

    async fn record_decline(&self, checkout: &Checkout, why: &str) -> Result<(), StoreError> {
        let item = update(
            &self.tables.holds,
            hold_key(checkout.checkout_id),
            "ADD declines :one SET lastDecline = :why",
            Some("attribute_exists(checkoutId)"),
            &[],
            vec![(":one", n(1)), (":why", s(why))],
        )?;
        self.gated(vec![item]).await.map(|_| ())
    }

    async fn complete(
        &self,
        checkout: &Checkout,
        order: &Order,
        pending_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let consume = update(
            &self.tables.holds,
            hold_key(checkout.checkout_id),
            "SET #state = :consumed, orderId = :order, heldShard = :closed",
            Some("#state = :held"),
            &[("#state", "state")],
            vec![
                (":consumed", state(HoldState::Consumed)),
                (":held", state(HoldState::Held)),
                (":order", s(order.order_id.to_string())),
                (":closed", s(CLOSED_SHARD)),
            ],
        )?;
        let order_put = match pending_version {
            None => put(
                &self.tables.orders,
                encode(order)?,
                Some("attribute_not_exists(orderId)"),
                &[],
                vec![],
            )?,
            Some(v) => put(
                &self.tables.orders,
                encode(order)?,
                Some("version = :v"),
                &[],
                vec![(":v", n(v))],
            )?,
        };
        let clear_cart = delete(&self.tables.shoppers, user_key(&checkout.user_id, CART))?;
        self.gated(vec![consume, order_put, clear_cart]).await
    }

    async fn park(&self, checkout: &Checkout, order: &Order) -> Result<bool, StoreError> {
        let link = update(
            &self.tables.holds,
            hold_key(checkout.checkout_id),
            "SET orderId = :order",
            Some("#state = :held AND attribute_not_exists(orderId)"),
            &[("#state", "state")],
            vec![
                (":order", s(order.order_id.to_string())),
                (":held", state(HoldState::Held)),
            ],
        )?;
        let order_put = put(
            &self.tables.orders,
            encode(order)?,
            Some("attribute_not_exists(orderId)"),
            &[],
            vec![],
        )?;
        self.gated(vec![link, order_put]).await
    }

    async fn due(&self, now: Timestamp, limit: u32) -> Result<Vec<CheckoutId>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.holds)
            .index_name("byExpiry")
            .key_condition_expression("heldShard = :held AND expiresAt <= :now")
            .expression_attribute_values(":held", s(HELD_SHARD))
            .expression_attribute_values(":now", s(now.to_string()))
            .limit(limit as i32)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|mut r| {
                let raw = r
                    .remove("checkoutId")
                    .and_then(|v| v.as_s().ok().cloned())
                    .unwrap_or_default();
                CheckoutId::try_from(raw).map_err(StoreError::Corrupt)
            })
            .collect()
    }
}
