//! [`Fulfilment`] on the stock, warehouse-orders, orders and idempotency tables.
//!
//! Every change is one `TransactWriteItems`: the order `Put` conditioned on its version,
//! warehouse orders conditioned on theirs (or on not existing yet), stock rows moved with
//! `ADD` (negative moves conditioned on the counter covering them), and an optional
//! once-only record. The cancellation reasons say which condition failed.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::keys::{item_pk, once_marker, stock_key, warehouse_sk, TOTAL};
use super::transact::{once, put, update, Faults, TransactFailure, Transactor, Tx};
use super::{classify, decode, encode, n, newest_first, s};
use crate::config::Tables;
use crate::domain::{ItemId, OrderId, Page, PageRequest, WarehouseId, WarehouseOrder};
use crate::ports::{
    Applied, Clock, Fulfilment, FulfilmentChange, ItemStock, StockMove, StoreError,
};

/// Warehouse orders and per-warehouse stock.
#[derive(Debug, Clone)]
pub struct DynamoFulfilment {
    client: Client,
    tables: Tables,
    transactor: Transactor,
}

impl DynamoFulfilment {
    /// An adapter over `client` on the named table, queue or bus.
    pub fn new(client: Client, tables: Tables, faults: Arc<Faults>, clock: Arc<dyn Clock>) -> Self {
        Self {
            transactor: Transactor::new(client.clone(), faults, clock),
            client,
            tables,
        }
    }

    fn stock_write(
        &self,
        m: &StockMove,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        let sk = match &m.warehouse {
            Some(w) => warehouse_sk(w),
            None => TOTAL.to_owned(),
        };
        let mut adds = Vec::new();
        let mut conditions = Vec::new();
        let mut values = vec![(":i", s(m.item.to_string()))];
        let mut sets = vec!["itemId = :i".to_owned()];
        for (name, delta, placeholder, floor) in [
            ("physical", m.physical, ":p", ":pf"),
            ("available", m.available, ":a", ":af"),
        ] {
            if delta == 0 || (m.warehouse.is_none() && name == "physical") {
                continue;
            }
            adds.push(format!("{name} {placeholder}"));
            values.push((placeholder, n(delta)));
            if delta < 0 {
                conditions.push(format!("{name} >= {floor}"));
                values.push((floor, n(-delta)));
            }
        }
        if m.shortfall > 0 {
            adds.push("shortfall :s".into());
            values.push((":s", n(m.shortfall)));
        }
        if let Some(version) = m.expect_version {
            conditions.push(if version == 0 {
                "(attribute_not_exists(stockVersion) OR stockVersion = :ev)".into()
            } else {
                "stockVersion = :ev".into()
            });
            values.push((":ev", n(version)));
        }
        match &m.warehouse {
            Some(w) => {
                sets.push("warehouseId = :w".into());
                values.push((":w", s(w.as_str())));
            }
            None => {
                adds.push("stockVersion :one".into());
                values.push((":one", n(1)));
            }
        }
        let expression = format!("ADD {} SET {}", adds.join(", "), sets.join(", "));
        let condition = (!conditions.is_empty()).then(|| conditions.join(" AND "));
        update(
            &self.tables.stock,
            stock_key(item_pk(m.item), sk),
            &expression,
            condition.as_deref(),
            &[],
            values,
        )
    }
}

/// What each transaction item is, to read the cancellation reasons.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Record,
    Stock,
    Once,
}

#[async_trait]
impl Fulfilment for DynamoFulfilment {
    async fn stock(&self, items: &[ItemId]) -> Result<HashMap<ItemId, ItemStock>, StoreError> {
        super::inventory::item_stock(&self.client, &self.tables.stock, items).await
    }

    async fn shipments(&self, order: OrderId) -> Result<Vec<WarehouseOrder>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.warehouse_orders)
            .key_condition_expression("orderId = :o")
            .expression_attribute_values(":o", s(order.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(decode)
            .collect()
    }

    async fn shipments_of(
        &self,
        warehouse: &WarehouseId,
        page: &PageRequest,
    ) -> Result<Page<WarehouseOrder>, StoreError> {
        newest_first(
            &self.client,
            &self.tables.warehouse_orders,
            "byWarehouse",
            "orderId",
            ("warehouseId", warehouse.as_str()),
            None,
            page,
        )
        .await
    }

    async fn apply(&self, change: &FulfilmentChange<'_>) -> Result<Applied, StoreError> {
        let applied = self.apply_once(change).await?;
        // A sharded item's units may sit in its other shards while this change takes from
        // shard 0 (a loss, a repair): gather them there and try once more.
        let takes: Vec<(ItemId, u32)> = change
            .stock
            .iter()
            .filter(|m| m.warehouse.is_none() && m.available < 0 && m.expect_version.is_none())
            .map(|m| (m.item, u32::try_from(-m.available).unwrap_or(u32::MAX)))
            .collect();
        if applied != Applied::Short || takes.is_empty() {
            return Ok(applied);
        }
        for (item, units) in takes {
            if !super::shards::concentrate(
                &self.client,
                &self.transactor,
                &self.tables.stock,
                item,
                0,
                units,
            )
            .await?
            {
                return Ok(Applied::Short);
            }
        }
        self.apply_once(change).await
    }
}

impl DynamoFulfilment {
    async fn apply_once(&self, change: &FulfilmentChange<'_>) -> Result<Applied, StoreError> {
        let mut tx = Tx::new();
        if let Some((current, next)) = change.order {
            tx.add(
                Part::Record,
                put(
                    &self.tables.orders,
                    super::orders::order_record(next)?,
                    Some("version = :v"),
                    &[],
                    vec![(":v", n(current.version))],
                )?,
            );
        }
        for write in &change.shipments {
            let (condition, values): (&str, Vec<(&str, AttributeValue)>) = match write.current {
                Some(current) => ("version = :v", vec![(":v", n(current.version))]),
                None => ("attribute_not_exists(orderId)", vec![]),
            };
            tx.add(
                Part::Record,
                put(
                    &self.tables.warehouse_orders,
                    encode(write.next)?,
                    Some(condition),
                    &[],
                    values,
                )?,
            );
        }
        for m in &change.stock {
            tx.add(Part::Stock, self.stock_write(m)?);
        }
        if let Some(key) = &change.once {
            tx.add(
                Part::Once,
                once(
                    &self.tables.idempotency,
                    &once_marker(key),
                    "applied",
                    self.transactor.now(),
                )?,
            );
        }
        if tx.len() > 100 {
            return Err(StoreError::Unavailable(format!(
                "a fulfilment change of {} writes exceeds one transaction",
                tx.len()
            )));
        }
        match self.transactor.write(tx).await {
            Ok(()) => Ok(Applied::Done),
            Err(TransactFailure::Cancelled(why)) => {
                if why.failed_on(&Part::Once) {
                    Ok(Applied::AlreadyApplied)
                } else if why.failed_on(&Part::Record) {
                    Ok(Applied::Stale)
                } else if why.failed_on(&Part::Stock) {
                    Ok(Applied::Short)
                } else {
                    Err(TransactFailure::unexpected(&why, "fulfilment change"))
                }
            }
            Err(TransactFailure::Store(e)) => Err(e),
        }
    }
}
