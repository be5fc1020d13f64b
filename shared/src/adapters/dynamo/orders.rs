//! [`Orders`] on the orders table (`byUser` index: newest first per shopper), with stock
//! effects applied to the stock table in the same transaction as the status change.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::transact::{Faults, TransactFailure, Transactor};
use super::tx::{give_back, put, take};
use super::{classify, cursor, decode, encode, n, s};
use crate::domain::{Order, OrderId, Page, PageRequest, Timestamp, UserId};
use crate::ports::{Orders, StockEffect, StoreError, Transition};

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
        let start = match &page.cursor {
            Some(c) => Some(cursor::decode(
                c,
                &["orderId", "userId", "createdAt"],
                ("userId", user.as_str()),
            )?),
            None => None,
        };
        // Timestamps are fixed-width text, so BETWEEN on the sort key is a time range.
        let from = from.map(|t| t.to_string()).unwrap_or_else(|| "0000".into());
        let to = to.map(|t| t.to_string()).unwrap_or_else(|| "9999".into());
        let out = self
            .client
            .query()
            .table_name(&self.orders)
            .index_name("byUser")
            .key_condition_expression("userId = :u AND createdAt BETWEEN :from AND :to")
            .expression_attribute_values(":u", s(user.as_str()))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .scan_index_forward(false)
            .limit(page.limit as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let next_cursor = cursor::encode(out.last_evaluated_key());
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(decode)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn create(&self, order: &Order) -> Result<bool, StoreError> {
        let item = put(
            &self.orders,
            encode(order)?,
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
            encode(next)?,
            Some("version = :v"),
            &[],
            vec![(":v", n(current.version))],
        )?];
        for line in &current.lines {
            match effect {
                StockEffect::None => {}
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
