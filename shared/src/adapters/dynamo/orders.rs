//! [`Orders`] on the orders table (`byUser` index: newest first per shopper), with stock
//! effects applied to the stock table in the same transaction as the status change.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::keys::{order_key, PAYMENT_DUE};
use super::transact::{give_back, put, take, Faults, TransactFailure, Transactor, Tx};
use super::{classify, decode, encode, n, newest_first, s, Record};
use crate::domain::{Order, OrderId, OrderStatus, Page, PageRequest, Timestamp, UserId};
use crate::ports::{Orders, StockEffect, StoreError, Transition};

/// An order as stored: the order itself plus the index attributes derived from it. Every
/// adapter that writes orders uses this, so the outbox index never disagrees with the order.
pub(crate) fn order_record(order: &Order) -> Result<Record, StoreError> {
    let mut record = encode(order)?;
    if !order.money_due.is_empty() {
        record.insert("paymentDue".into(), s(PAYMENT_DUE));
    }
    Ok(record)
}

/// The orders table and the stock table its transitions touch.
#[derive(Debug, Clone)]
pub struct DynamoOrders {
    client: Client,
    orders: String,
    stock: String,
    transactor: Transactor,
}

impl DynamoOrders {
    /// An adapter over `client` on the named table, queue or bus.
    pub fn new(
        client: Client,
        orders: impl Into<String>,
        stock: impl Into<String>,
        faults: Arc<Faults>,
        clock: Arc<dyn crate::ports::Clock>,
    ) -> Self {
        let transactor = Transactor::new(client.clone(), faults, clock);
        Self {
            client,
            orders: orders.into(),
            stock: stock.into(),
            transactor,
        }
    }
}

impl DynamoOrders {
    /// The order ids in one partition of a keys-only index, following pages (up to `limit`).
    async fn ids_in(
        &self,
        index: &str,
        attribute: &str,
        value: &str,
        limit: Option<usize>,
    ) -> Result<Vec<OrderId>, StoreError> {
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.orders)
                .index_name(index)
                .key_condition_expression("#a = :v")
                .expression_attribute_names("#a", attribute)
                .expression_attribute_values(":v", s(value))
                .set_limit(limit.map(|l| l as i32))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            for row in out.items.unwrap_or_default() {
                let raw = row
                    .get("orderId")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                ids.push(OrderId::try_from(raw.as_str()).map_err(StoreError::Corrupt)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() || limit.is_some_and(|l| ids.len() >= l) {
                return Ok(ids);
            }
        }
    }
}

/// What each item of an order transition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderPart {
    /// The order record, conditioned on the version read.
    Order,
    /// A stock row (a conditional take, or units going back).
    Stock,
    /// Anything unconditional (the cart cleared).
    Other,
}

/// How an order write with a stock effect ended: the order's own condition failing means it
/// changed since read; a stock condition failing is a conditional take that ran short.
pub(crate) fn transition_outcome(
    result: Result<(), TransactFailure<OrderPart>>,
    what: &str,
) -> Result<Transition, StoreError> {
    match result {
        Ok(()) => Ok(Transition::Done),
        Err(TransactFailure::Cancelled(why)) if why.failed_on(&OrderPart::Order) => {
            Ok(Transition::Stale)
        }
        Err(TransactFailure::Cancelled(why)) if why.failed_on(&OrderPart::Stock) => {
            Ok(Transition::Short)
        }
        Err(TransactFailure::Cancelled(why)) => Err(TransactFailure::unexpected(&why, what)),
        Err(TransactFailure::Store(e)) => Err(e),
    }
}

#[async_trait]
impl Orders for DynamoOrders {
    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.orders)
            .set_key(Some(order_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        out.item.map(decode).transpose()
    }

    async fn for_user(
        &self,
        user: &UserId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        page: &PageRequest,
    ) -> Result<Page<Order>, StoreError> {
        let range = match (from, to) {
            (None, None) => None,
            (from, to) => Some((
                // The extremes of the fixed-width timestamp text.
                from.map(|t| t.to_string())
                    .unwrap_or_else(|| "0000-01-01T00:00:00.000Z".into()),
                to.map(|t| t.to_string())
                    .unwrap_or_else(|| "9999-12-31T23:59:59.999Z".into()),
            )),
        };
        let partition = ("userId", user.as_str());
        newest_first(
            &self.client,
            &self.orders,
            "byUser",
            "orderId",
            partition,
            range,
            page,
        )
        .await
    }

    async fn with_status(&self, status: OrderStatus) -> Result<Vec<OrderId>, StoreError> {
        self.ids_in("byStatus", "status", status.as_str(), None)
            .await
    }

    async fn created_before(
        &self,
        status: OrderStatus,
        before: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<OrderId>, StoreError> {
        let start = page
            .cursor
            .as_ref()
            .map(|c| {
                super::cursor::decode(
                    c,
                    &["orderId", "status", "createdAt"],
                    ("status", status.as_str()),
                )
            })
            .transpose()?;
        let out = self
            .client
            .query()
            .table_name(&self.orders)
            .index_name("byStatus")
            .key_condition_expression("#s = :s AND createdAt <= :before")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", s(status.as_str()))
            .expression_attribute_values(":before", s(before.to_string()))
            .limit(page.limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let next_cursor = super::cursor::encode(out.last_evaluated_key());
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(|row| {
                let raw = row
                    .get("orderId")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str)
                    .unwrap_or_default();
                OrderId::try_from(raw).map_err(StoreError::Corrupt)
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn remove(&self, order: &Order) -> Result<bool, StoreError> {
        match self
            .client
            .delete_item()
            .table_name(&self.orders)
            .set_key(Some(order_key(order.order_id)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(order.version))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(classify("DeleteItem", e)),
        }
    }

    async fn owing(&self, limit: u32) -> Result<Vec<OrderId>, StoreError> {
        self.ids_in(
            "byPaymentDue",
            "paymentDue",
            PAYMENT_DUE,
            Some(limit as usize),
        )
        .await
    }

    async fn create(&self, order: &Order) -> Result<bool, StoreError> {
        let item = put(
            &self.orders,
            order_record(order)?,
            Some("attribute_not_exists(orderId)"),
            &[],
            vec![],
        )?;
        let mut tx = Tx::new();
        tx.add("order", item);
        match self.transactor.write(tx).await {
            Ok(()) => Ok(true),
            Err(TransactFailure::Cancelled(_)) => Ok(false),
            Err(TransactFailure::Store(e)) => Err(e),
        }
    }

    async fn transition(
        &self,
        current: &Order,
        next: &Order,
        effect: StockEffect,
    ) -> Result<Transition, StoreError> {
        let mut tx = Tx::new();
        tx.add(
            OrderPart::Order,
            put(
                &self.orders,
                order_record(next)?,
                Some("version = :v"),
                &[],
                vec![(":v", n(current.version))],
            )?,
        );
        if let StockEffect::ReturnUnits(item, units) = effect {
            tx.add(OrderPart::Stock, give_back(&self.stock, item, 0, units)?);
        }
        for line in &current.lines {
            let (item, units) = (line.item_id, line.quantity.get());
            match effect {
                StockEffect::None | StockEffect::ReturnUnits(..) => {}
                StockEffect::Return => {
                    tx.add(OrderPart::Stock, give_back(&self.stock, item, 0, units)?);
                }
                StockEffect::Take => {
                    tx.add(OrderPart::Stock, take(&self.stock, item, 0, units)?);
                }
            }
        }
        transition_outcome(self.transactor.write(tx).await, "order transition")
    }
}
