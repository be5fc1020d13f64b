//! [`Checkouts`] on the holds table, with the stock, shoppers, orders and idempotency
//! tables it changes in the same transactions.
//!
//! A held checkout carries `heldShard = "HELD"` in the `byExpiry` index the sweeper reads;
//! every transition away from held moves it to `CLOSED`. The hold record's
//! `ttl` is its expiry, so DynamoDB's TTL deletion (and its stream record) is the backstop.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::keys::{
    begin_key, hold_key, release_marker, user_key, CART, CHECKOUT_POINTER as POINTER, CLOSED_SHARD,
    HELD_SHARD,
};
use super::orders::order_record;
use super::orders::OrderPart;
use super::transact::{
    check, delete, give_back, once, put, receipt, take, update, Faults, TransactFailure,
    Transactor, Tx,
};
use super::{classify, decode, encode, n, s};
use crate::config::Tables;
use crate::domain::{
    Checkout, CheckoutId, HoldState, ItemId, Order, PaymentAttempt, ReleaseReason, Timestamp,
    UserId,
};
use crate::ports::{
    Checkouts, Clock, HoldRefused, PaymentClaim, Receipt, Replacing, StoreError, Transition,
};

/// Checkout holds in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoCheckouts {
    client: Client,
    tables: Tables,
    transactor: Transactor,
}

/// How long past its hold time a released checkout's record is kept (one day).
const RELEASED_KEPT_SECS: i64 = 24 * 3600;

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
    /// An adapter over `client` on the named table, queue or bus.
    pub fn new(client: Client, tables: Tables, faults: Arc<Faults>, clock: Arc<dyn Clock>) -> Self {
        let transactor = Transactor::new(client.clone(), faults, clock);
        Self {
            client,
            tables,
            transactor,
        }
    }

    /// Commit `items`; a cancellation because a condition failed (the hold was no longer
    /// held by the attempt the caller saw, or the once-only marker existed) is `Ok(false)`.
    async fn gated(&self, tx: Tx) -> Result<bool, StoreError> {
        match self.transactor.write(tx).await {
            Ok(()) => Ok(true),
            Err(TransactFailure::Cancelled(why)) if why.only_conditions() => Ok(false),
            Err(TransactFailure::Cancelled(why)) => {
                Err(TransactFailure::unexpected(&why, "hold transaction"))
            }
            Err(TransactFailure::Store(e)) => Err(e),
        }
    }

    /// The release marker and the stock going back: what every release adds.
    fn add_release(&self, tx: &mut Tx, checkout: &Checkout) -> Result<(), StoreError> {
        tx.add(
            "release marker",
            once(
                &self.tables.idempotency,
                &release_marker(checkout.checkout_id),
                "released",
                self.transactor.now(),
            )?,
        );
        for (item, units) in checkout.demand() {
            tx.add(
                "stock back",
                give_back(&self.tables.stock, item, checkout.shard_of(item), units)?,
            );
        }
        Ok(())
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
            if set.contains("#ttl") {
                &[("#state", "state"), ("#ttl", "ttl")]
            } else {
                &[("#state", "state")]
            },
            values,
        )
    }

    fn release_item(
        &self,
        checkout: &Checkout,
        why: ReleaseReason,
        at: Timestamp,
    ) -> Result<TransactWriteItem, StoreError> {
        self.leave_held(
            checkout,
            "#state = :released, releaseReason = :why, releasedAt = :now, #ttl = :keep",
            vec![
                (":released", state(HoldState::Released)),
                (":why", s(reason(why))),
                (":now", s(at.to_string())),
                // Kept a day past its hold time, so a repeated cancel (or a look) still
                // reads what ended it instead of a hold that seems to have expired. TTL's
                // later deletion of a released record releases nothing (it is not held).
                (
                    ":keep",
                    n(checkout.expires_at.unix_seconds() + RELEASED_KEPT_SECS),
                ),
            ],
        )
    }

    /// The request's recorded answer, when it came with an `Idempotency-Key`.
    fn add_receipt(&self, tx: &mut Tx, r: Option<&Receipt>) -> Result<(), StoreError> {
        if let Some(r) = r {
            tx.add(
                "request receipt",
                receipt(&self.tables.idempotency, r, self.transactor.now())?,
            );
        }
        Ok(())
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

/// Per stock row (item and shard), the units a new hold takes net of the replaced hold's
/// units going back: one transaction may touch each row once only.
fn net_demand(new: &Checkout, old: Option<&Checkout>) -> Vec<((ItemId, u16), i64)> {
    let mut net: std::collections::BTreeMap<(ItemId, u16), i64> = new
        .demand()
        .into_iter()
        .map(|(i, q)| ((i, new.shard_of(i)), i64::from(q)))
        .collect();
    if let Some(old) = old {
        for (item, q) in old.demand() {
            *net.entry((item, old.shard_of(item))).or_default() -= i64::from(q);
        }
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
        let mut tx = Tx::new();
        for ((item, shard), units) in net_demand(checkout, previous.map(|(c, _)| c)) {
            if units > 0 {
                tx.add(
                    Part::Take(item),
                    take(&self.tables.stock, item, shard, units as u32)?,
                );
            } else {
                tx.add(
                    Part::Unconditional,
                    give_back(&self.tables.stock, item, shard, (-units) as u32)?,
                );
            }
        }
        let mut record = encode(checkout)?;
        record.insert("heldShard".into(), s(HELD_SHARD));
        record.insert("ttl".into(), n(checkout.expires_at.unix_seconds()));
        tx.add(
            Part::NewHold,
            put(
                &self.tables.holds,
                record,
                Some("attribute_not_exists(checkoutId)"),
                &[],
                vec![],
            )?,
        );
        let mut pointer = user_key(&checkout.user_id, POINTER);
        pointer.insert("checkoutId".into(), s(checkout.checkout_id.to_string()));
        tx.add(
            Part::Pointer,
            match replacing {
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
            },
        );
        tx.add(
            Part::BeginKey,
            once(
                &self.tables.idempotency,
                &begin_key(&checkout.user_id, idempotency_key),
                &checkout.checkout_id.to_string(),
                self.transactor.now(),
            )?,
        );
        tx.add(
            Part::Cart,
            check(
                &self.tables.shoppers,
                user_key(&checkout.user_id, CART),
                "version = :v",
                vec![(":v", n(cart_version))],
            )?,
        );
        if let Some((old, why)) = previous {
            // Released the moment the new checkout replaced it.
            tx.add(
                Part::PreviousHold,
                self.release_item(old, why, checkout.created_at)?,
            );
            let marker = release_marker(old.checkout_id);
            tx.add(
                Part::PreviousMarker,
                once(
                    &self.tables.idempotency,
                    &marker,
                    "released",
                    self.transactor.now(),
                )?,
            );
        }

        match self.transactor.write(tx).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Cancelled(why)) => {
                let failed: Vec<Part> = why.failed().copied().collect();
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
                Err(TransactFailure::unexpected(&why, "hold").into())
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
        if (super::counter(&record, "ttl")? as i64) < self.transactor.now().unix_seconds() {
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

    async fn record_reference(
        &self,
        checkout: &Checkout,
        reference: &str,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.tables.holds)
            .set_key(Some(hold_key(checkout.checkout_id)))
            .update_expression("SET paying.#reference = :reference")
            .condition_expression(
                "#state = :held AND attempts = :attempts AND attribute_exists(paying)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#reference", "reference")
            .expression_attribute_values(":reference", s(reference))
            .expression_attribute_values(":held", state(HoldState::Held))
            .expression_attribute_values(":attempts", n(checkout.attempts))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(false),
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }

    async fn release(
        &self,
        checkout: &Checkout,
        why: ReleaseReason,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = Tx::new();
        tx.add("hold", self.release_item(checkout, why, now)?);
        self.add_release(&mut tx, checkout)?;
        self.gated(tx).await
    }

    async fn release_deleted(&self, checkout: &Checkout) -> Result<bool, StoreError> {
        let mut tx = Tx::new();
        self.add_release(&mut tx, checkout)?;
        self.gated(tx).await
    }

    async fn record_decline(
        &self,
        checkout: &Checkout,
        why: &str,
        answer: Option<&Receipt>,
    ) -> Result<bool, StoreError> {
        let decline = update(
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
        )?;
        let mut tx = Tx::new();
        tx.add("hold", decline);
        self.add_receipt(&mut tx, answer)?;
        self.gated(tx).await
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
        let mut tx = Tx::new();
        tx.add("hold", consume)
            .add("order", order_put)
            .add("cart", clear_cart);
        self.add_receipt(&mut tx, answer)?;
        self.gated(tx).await
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
        let mut tx = Tx::new();
        tx.add("hold", link).add("order", order_put);
        self.add_receipt(&mut tx, answer)?;
        self.gated(tx).await
    }

    async fn place_late(&self, current: &Order, placed: &Order) -> Result<Transition, StoreError> {
        let mut tx = Tx::new();
        tx.add(
            OrderPart::Order,
            put(
                &self.tables.orders,
                order_record(placed)?,
                Some("version = :v"),
                &[],
                vec![(":v", n(current.version))],
            )?,
        );
        let mut demand: std::collections::BTreeMap<ItemId, u32> = Default::default();
        for line in &current.lines {
            *demand.entry(line.item_id).or_default() += line.quantity.get();
        }
        // Shard 0: a late placement is rare, and `Short` makes the caller gather units there
        // from the other shards and try again (see `usecases::payments`).
        for (item, units) in demand {
            tx.add(OrderPart::Stock, take(&self.tables.stock, item, 0, units)?);
        }
        tx.add(
            OrderPart::Other,
            delete(&self.tables.shoppers, user_key(&current.user_id, CART))?,
        );
        super::orders::transition_outcome(self.transactor.write(tx).await, "late placement")
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
