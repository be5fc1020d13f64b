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

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::carts::CART;
use super::orders::order_record;
use super::transact::{Faults, TransactFailure, Transactor};
use super::tx::{delete, give_back, once, put, receipt, take, update};
use super::{classify, decode, encode, n, s, Record};
use crate::config::Tables;
use crate::domain::{
    Checkout, CheckoutId, HoldState, ItemId, Order, PaymentAttempt, ReleaseReason, Timestamp,
    UserId,
};
use crate::ports::{
    Checkouts, HoldRefused, PaymentClaim, Receipt, Replacing, StoreError, Transition,
};

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

    /// Commit `items`; a cancellation because a condition failed (the hold was no longer
    /// held by the attempt the caller saw, or the once-only marker existed) is `Ok(false)`.
    async fn gated(&self, items: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
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

    fn release_items(&self, checkout: &Checkout) -> Result<Vec<TransactWriteItem>, StoreError> {
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

    /// The hold's move out of `HELD` (to `to`), conditioned on it still being held by the
    /// payment attempt `checkout` shows: no attempt, or exactly that one. A cancel or a
    /// replacement therefore never releases a hold whose payment is in flight.
    fn leave_held(
        &self,
        checkout: &Checkout,
        set: &str,
        mut values: Vec<(&'static str, aws_sdk_dynamodb::types::AttributeValue)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let attempt = if checkout.paying.is_some() {
            values.push((":attempts", n(checkout.attempts)));
            "attempts = :attempts AND attribute_exists(paying)"
        } else {
            "attribute_not_exists(paying)"
        };
        values.push((":held", state(HoldState::Held)));
        values.push((":closed", s(CLOSED_SHARD)));
        update(
            &self.tables.holds,
            hold_key(checkout.checkout_id),
            &format!("SET {set}, heldShard = :closed"),
            Some(&format!("#state = :held AND {attempt}")),
            &[("#state", "state")],
            values,
        )
    }

    fn release_item(
        &self,
        checkout: &Checkout,
        why: ReleaseReason,
    ) -> Result<TransactWriteItem, StoreError> {
        self.leave_held(
            checkout,
            "#state = :released, releaseReason = :why, releasedAt = :now",
            vec![
                (":released", state(HoldState::Released)),
                (":why", s(reason(why))),
                (":now", s(Timestamp::now().to_string())),
            ],
        )
    }

    fn receipt_items(&self, r: Option<&Receipt>) -> Result<Vec<TransactWriteItem>, StoreError> {
        r.map(|r| receipt(&self.tables.idempotency, r))
            .into_iter()
            .collect()
    }
}

/// What each item of a hold transaction is, to read its cancellation reasons by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Take(ItemId),
    Unconditional,
    NewHold,
    Pointer,
    BeginKey,
    Cart,
    PreviousHold,
    PreviousMarker,
}

/// Per item, the units a new hold takes net of the replaced hold's units going back: one
/// transaction may touch each stock row once only.
fn net_demand(new: &Checkout, old: Option<&Checkout>) -> Vec<(ItemId, i64)> {
    let mut net: std::collections::BTreeMap<ItemId, i64> = new
        .demand()
        .into_iter()
        .map(|(i, q)| (i, i64::from(q)))
        .collect();
    for (item, q) in old.map(Checkout::demand).unwrap_or_default() {
        *net.entry(item).or_default() -= i64::from(q);
    }
    net.into_iter().filter(|(_, q)| *q != 0).collect()
}

#[async_trait]
impl Checkouts for DynamoCheckouts {
    async fn hold(
        &self,
        checkout: &Checkout,
        replacing: Option<Replacing<'_>>,
        cart_version: u64,
        idempotency_key: &str,
    ) -> Result<(), HoldRefused> {
        let previous = replacing.and_then(|r| r.held);
        let mut items = Vec::new();
        let mut parts = Vec::new();
        for (item, units) in net_demand(checkout, previous.map(|(c, _)| c)) {
            if units > 0 {
                items.push(take(&self.tables.stock, item, units as u32)?);
                parts.push(Part::Take(item));
            } else {
                items.push(give_back(&self.tables.stock, item, (-units) as u32)?);
                parts.push(Part::Unconditional);
            }
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
        parts.push(Part::NewHold);
        let mut pointer = user_key(&checkout.user_id, POINTER);
        pointer.insert("checkoutId".into(), s(checkout.checkout_id.to_string()));
        items.push(match replacing {
            None => put(
                &self.tables.shoppers,
                pointer,
                Some("attribute_not_exists(userId)"),
                &[],
                vec![],
            )?,
            Some(r) => put(
                &self.tables.shoppers,
                pointer,
                Some("checkoutId = :prev"),
                &[],
                vec![(":prev", s(r.pointer.to_string()))],
            )?,
        });
        parts.push(Part::Pointer);
        items.push(once(
            &self.tables.idempotency,
            &begin_key(&checkout.user_id, idempotency_key),
            &checkout.checkout_id.to_string(),
        )?);
        parts.push(Part::BeginKey);
        items.push(
            TransactWriteItem::builder()
                .condition_check(super::inventory::build(
                    aws_sdk_dynamodb::types::ConditionCheck::builder()
                        .table_name(&self.tables.shoppers)
                        .set_key(Some(user_key(&checkout.user_id, CART)))
                        .condition_expression("version = :v")
                        .expression_attribute_values(":v", n(cart_version))
                        .build(),
                )?)
                .build(),
        );
        parts.push(Part::Cart);
        if let Some((old, why)) = previous {
            items.push(self.release_item(old, why)?);
            parts.push(Part::PreviousHold);
            let marker = format!("release#{}", old.checkout_id);
            items.push(once(&self.tables.idempotency, &marker, "released")?);
            parts.push(Part::PreviousMarker);
        }

        match self.transactor.write(items).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Cancelled(codes)) => {
                let failed: Vec<Part> = parts
                    .iter()
                    .zip(&codes)
                    .filter(|(_, c)| c.as_deref() == Some("ConditionalCheckFailed"))
                    .map(|(p, _)| *p)
                    .collect();
                if failed.contains(&Part::BeginKey) {
                    let earlier = self.begun_with(&checkout.user_id, idempotency_key).await?;
                    return Err(earlier
                        .map(HoldRefused::Replay)
                        .unwrap_or(HoldRefused::Concurrent));
                }
                let short: Vec<ItemId> = failed
                    .iter()
                    .filter_map(|p| match p {
                        Part::Take(item) => Some(*item),
                        _ => None,
                    })
                    .collect();
                if !short.is_empty() {
                    return Err(HoldRefused::Short(short));
                }
                if failed.iter().any(|p| {
                    matches!(
                        p,
                        Part::Pointer | Part::Cart | Part::PreviousHold | Part::PreviousMarker
                    )
                }) {
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
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.idempotency)
            .key("key", s(begin_key(user, idempotency_key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let Some(record) = out.item else {
            return Ok(None);
        };
        // The record's own expiry, not only TTL's eventual deletion, ends it.
        if (super::counter(&record, "ttl")? as i64) < Timestamp::now().unix_seconds() {
            return Ok(None);
        }
        let raw = record
            .get("value")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        CheckoutId::try_from(raw)
            .map(Some)
            .map_err(StoreError::Corrupt)
    }

    async fn latest(&self, user: &UserId) -> Result<Option<CheckoutId>, StoreError> {
        let raw = super::read_string(
            &self.client,
            &self.tables.shoppers,
            user_key(user, POINTER),
            "checkoutId",
        )
        .await?;
        raw.map(|r| CheckoutId::try_from(r).map_err(StoreError::Corrupt))
            .transpose()
    }

    async fn claim_payment(
        &self,
        id: CheckoutId,
        user: &UserId,
        attempt: &PaymentAttempt,
        now: Timestamp,
    ) -> Result<PaymentClaim, StoreError> {
        let paying = serde_dynamo::to_attribute_value(attempt)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.holds)
            .set_key(Some(hold_key(id)))
            .update_expression("SET paying = :paying ADD attempts :one")
            .condition_expression(
                "userId = :user AND #state = :held AND expiresAt > :now AND attribute_not_exists(paying)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":paying", paying)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":user", s(user.as_str()))
            .expression_attribute_values(":held", state(HoldState::Held))
            .expression_attribute_values(":now", s(now.to_string()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => Ok(PaymentClaim::Claimed(decode(
                out.attributes.unwrap_or_default(),
            )?)),
            Err(e) => {
                if let Some(UpdateItemError::ConditionalCheckFailedException(failed)) =
                    e.as_service_error()
                {
                    let current = failed.item.clone().map(decode).transpose()?;
                    return Ok(PaymentClaim::Refused(current));
                }
                Err(classify("UpdateItem", e))
            }
        }
    }

    async fn release(&self, checkout: &Checkout, why: ReleaseReason) -> Result<bool, StoreError> {
        let mut items = vec![self.release_item(checkout, why)?];
        items.extend(self.release_items(checkout)?);
        self.gated(items).await
    }

    async fn release_deleted(&self, checkout: &Checkout) -> Result<bool, StoreError> {
        self.gated(self.release_items(checkout)?).await
    }

    async fn record_decline(
        &self,
        checkout: &Checkout,
        why: &str,
        answer: Option<&Receipt>,
    ) -> Result<bool, StoreError> {
        let mut items = vec![update(
            &self.tables.holds,
            hold_key(checkout.checkout_id),
            "ADD declines :one SET lastDecline = :why REMOVE paying",
            Some("#state = :held AND attempts = :attempts AND attribute_exists(paying)"),
            &[("#state", "state")],
            vec![
                (":one", n(1)),
                (":why", s(why)),
                (":held", state(HoldState::Held)),
                (":attempts", n(checkout.attempts)),
            ],
        )?];
        items.extend(self.receipt_items(answer)?);
        self.gated(items).await
    }

    async fn complete(
        &self,
        checkout: &Checkout,
        order: &Order,
        pending_version: Option<u64>,
        answer: Option<&Receipt>,
    ) -> Result<bool, StoreError> {
        let consume = self.leave_held(
            checkout,
            "#state = :consumed, orderId = :order",
            vec![
                (":consumed", state(HoldState::Consumed)),
                (":order", s(order.order_id.to_string())),
            ],
        )?;
        let order_put = match pending_version {
            None => put(
                &self.tables.orders,
                order_record(order)?,
                Some("attribute_not_exists(orderId)"),
                &[],
                vec![],
            )?,
            Some(v) => put(
                &self.tables.orders,
                order_record(order)?,
                Some("version = :v"),
                &[],
                vec![(":v", n(v))],
            )?,
        };
        let clear_cart = delete(&self.tables.shoppers, user_key(&checkout.user_id, CART))?;
        let mut items = vec![consume, order_put, clear_cart];
        items.extend(self.receipt_items(answer)?);
        self.gated(items).await
    }

    async fn park(
        &self,
        checkout: &Checkout,
        order: &Order,
        answer: Option<&Receipt>,
    ) -> Result<bool, StoreError> {
        let link = update(
            &self.tables.holds,
            hold_key(checkout.checkout_id),
            "SET orderId = :order",
            Some("#state = :held AND attempts = :attempts AND attribute_exists(paying) AND attribute_not_exists(orderId)"),
            &[("#state", "state")],
            vec![
                (":order", s(order.order_id.to_string())),
                (":held", state(HoldState::Held)),
                (":attempts", n(checkout.attempts)),
            ],
        )?;
        let order_put = put(
            &self.tables.orders,
            order_record(order)?,
            Some("attribute_not_exists(orderId)"),
            &[],
            vec![],
        )?;
        let mut items = vec![link, order_put];
        items.extend(self.receipt_items(answer)?);
        self.gated(items).await
    }

    async fn place_late(&self, current: &Order, placed: &Order) -> Result<Transition, StoreError> {
        let mut items = vec![put(
            &self.tables.orders,
            order_record(placed)?,
            Some("version = :v"),
            &[],
            vec![(":v", n(current.version))],
        )?];
        let mut demand: std::collections::BTreeMap<ItemId, u32> = Default::default();
        for line in &current.lines {
            *demand.entry(line.item_id).or_default() += line.quantity.get();
        }
        for (item, units) in demand {
            items.push(take(&self.tables.stock, item, units)?);
        }
        items.push(delete(
            &self.tables.shoppers,
            user_key(&current.user_id, CART),
        )?);
        super::orders::transition_outcome(self.transactor.write(items).await, "late placement")
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
