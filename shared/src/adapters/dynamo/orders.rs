//! [`Orders`] on the orders table (`byUser` index: newest first per shopper), with stock
//! effects applied to the stock table in the same transaction as the status change.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::transact::{Faults, TransactFailure, Transactor};
use super::tx::{give_back, put, take};
use super::{classify, decode, encode, n, newest_first, s, Record};
use crate::domain::{Order, OrderId, OrderStatus, Page, PageRequest, Timestamp, UserId};
use crate::ports::{Orders, StockEffect, StoreError, Transition};

/// The partition of the sparse `byPaymentDue` index: present exactly while an order owes
/// the provider a refund or void, so the outbox sweep reads only those orders.
const PAYMENT_DUE: &str = "DUE";

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
    pub fn new(
        client: Client,
        orders: impl Into<String>,
        stock: impl Into<String>,
        faults: Arc<Faults>,
    ) -> Self {
        let transactor = Transactor::new(client.clone(), faults);
        Self {
            client,
            orders: orders.into(),
            stock: stock.into(),
            transactor,
        }
    }
}

#[async_trait]
impl Orders for DynamoOrders {
    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.orders)
            .set_key(Some(HashMap::from([(
                "orderId".to_owned(),
                s(id.to_string()),
            )])))
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
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.orders)
                .index_name("byStatus")
                .key_condition_expression("#s = :s")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":s", s(status.as_str()))
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
            if start.is_none() {
                return Ok(ids);
            }
        }
    }

    async fn owing(&self, limit: u32) -> Result<Vec<OrderId>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.orders)
            .index_name("byPaymentDue")
            .key_condition_expression("paymentDue = :due")
            .expression_attribute_values(":due", s(PAYMENT_DUE))
            .limit(limit as i32)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|row| {
                let raw = row
                    .get("orderId")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                OrderId::try_from(raw.as_str()).map_err(StoreError::Corrupt)
            })
            .collect()
    }

    async fn create(&self, order: &Order) -> Result<bool, StoreError> {
        let item = put(
            &self.orders,
            order_record(order)?,
            Some("attribute_not_exists(orderId)"),
            &[],
            vec![],
        )?;
        match self.transactor.write(vec![item]).await {
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
        let mut items = vec![put(
            &self.orders,
            order_record(next)?,
            Some("version = :v"),
            &[],
            vec![(":v", n(current.version))],
        )?];
        if let StockEffect::ReturnUnits(item, units) = effect {
            items.push(give_back(&self.stock, item, units)?);
        }
        for line in &current.lines {
            match effect {
                StockEffect::None | StockEffect::ReturnUnits(..) => {}
                StockEffect::Return => {
                    items.push(give_back(&self.stock, line.item_id, line.quantity.get())?)
                }
                StockEffect::Take => {
                    items.push(take(&self.stock, line.item_id, line.quantity.get())?)
                }
            }
        }
        match self.transactor.write(items).await {
            Ok(()) => Ok(Transition::Done),
            Err(TransactFailure::Cancelled(codes)) => {
                let failed = |i: usize| {
                    codes.get(i).and_then(Option::as_deref) == Some("ConditionalCheckFailed")
                };
                if failed(0) {
                    Ok(Transition::Stale)
                } else if (1..codes.len()).any(failed) {
                    Ok(Transition::Short)
                } else {
                    Err(StoreError::Unavailable(format!(
                        "order transition cancelled: {codes:?}"
                    )))
                }
            }
            Err(TransactFailure::Store(e)) => Err(e),
        }
    }
}
