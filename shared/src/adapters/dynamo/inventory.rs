//! [`Inventory`] on the stock table.
//!
//! Rows (see `infra/DATA_MODEL.md`): `pk = ITEM#<itemId>` with `sk = TOTAL` holding the
//! aggregated `available` count shoppers buy from, and `sk = WH#<warehouseId>` holding that
//! warehouse's `physical` and `available` counts (also indexed `byWarehouse`).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::keys::{
    idempotency_key as idempotency_key_record, item_key, item_pk, receipt_key, stock_key,
    total_key, warehouse_key, warehouse_of_sk, warehouse_sk, TOTAL,
};
use super::transact::{
    check, give_back, put, update, Faults, TransactFailure, Transactor, Tx, MARKER_TTL_SECONDS,
};
use super::{batch_get, counter, n, number, read_string, s, Record};
use crate::domain::{ItemId, SaleSettings, StockReceipt, WarehouseId};
use crate::ports::{
    Inventory, ItemStock, ReceiptRejected, StockLevels, StockTotal, StoreError, WarehouseStock,
};

/// Table names the inventory adapter touches.
#[derive(Debug, Clone)]
pub struct InventoryTables {
    /// The stock table.
    pub stock: String,
    /// The entries.
    pub items: String,
    /// The warehouses table (receipts check the warehouse exists).
    pub warehouses: String,
    /// The idempotency table (receipt keys).
    pub idempotency: String,
}

/// The stock table, plus the checks on items, warehouses and idempotency records that stock
/// transactions include.
#[derive(Debug, Clone)]
pub struct DynamoInventory {
    client: Client,
    tables: InventoryTables,
    transactor: Transactor,
    /// Sale settings read recently, per item (see [`SALES_FRESH_FOR`]).
    sales: Arc<Recent<SaleSettings>>,
    /// Availability read recently, per item (see [`Inventory::available_recently`]).
    recent: Arc<Recent<u32>>,
}

/// How long this instance trusts a sale setting it read: begin-checkout asks for every cart
/// item, and a hot item is asked for thousands of times a second. A stale shard count only
/// spreads holds over fewer shards; a waiting room switched on is in force within this.
const SALES_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(2);

impl DynamoInventory {
    /// An adapter over `client` on the named table, queue or bus.
    pub fn new(
        client: Client,
        tables: InventoryTables,
        faults: Arc<Faults>,
        clock: Arc<dyn crate::ports::Clock>,
    ) -> Self {
        let transactor = Transactor::new(client.clone(), faults, clock);
        Self {
            client,
            tables,
            transactor,
            sales: Default::default(),
            recent: Default::default(),
        }
    }

    async fn read_rows(
        &self,
        keys: Vec<Record>,
        consistent: bool,
    ) -> Result<Vec<Record>, StoreError> {
        batch_get(&self.client, &self.tables.stock, keys, consistent).await
    }

    /// The aggregated stock of `items`: their `TOTAL` rows and, for sharded items, the other
    /// shards (see [`super::shards::read`]).
    async fn read_totals(
        &self,
        items: &[ItemId],
        consistent: bool,
    ) -> Result<HashMap<ItemId, StockTotal>, StoreError> {
        Ok(
            super::shards::read(&self.client, &self.tables.stock, items, consistent)
                .await?
                .into_iter()
                .map(|(id, s)| (id, s.total))
                .collect(),
        )
    }

    async fn levels(
        &self,
        warehouse: &WarehouseId,
        item: ItemId,
    ) -> Result<StockLevels, StoreError> {
        let rows = self
            .read_rows(
                vec![stock_key(item_pk(item), warehouse_sk(warehouse))],
                true,
            )
            .await?;
        let total = self.read_totals(&[item], true).await?;
        let mut levels = StockLevels {
            warehouse_physical: 0,
            warehouse_available: 0,
            item_available: 0,
        };
        levels.item_available = total.get(&item).map_or(0, |t| t.available);
        for row in rows {
            levels.warehouse_physical = number(&row, "physical")?;
            levels.warehouse_available = number(&row, "available")?;
        }
        Ok(levels)
    }

    /// The receipt recorded under `key`, to tell a replay from a reused key.
    async fn recorded_fingerprint(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = idempotency_key_record(key);
        read_string(&self.client, &self.tables.idempotency, key, "fingerprint").await
    }
}

/// Values this instance read recently, per item, with when it read them.
type Recent<V> = std::sync::Mutex<HashMap<ItemId, (std::time::Instant, V)>>;

/// The values of `items` read less than `fresh` ago, and the items to read again.
fn recent_hits<V: Copy>(
    cache: &Recent<V>,
    items: &[ItemId],
    fresh: std::time::Duration,
    now: std::time::Instant,
) -> (HashMap<ItemId, V>, Vec<ItemId>) {
    let cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    let mut found = HashMap::with_capacity(items.len());
    let mut missing = Vec::new();
    for item in items {
        match cache.get(item) {
            Some((at, value)) if now.duration_since(*at) < fresh => {
                found.insert(*item, *value);
            }
            _ => missing.push(*item),
        }
    }
    (found, missing)
}

/// Keep values just read (the cache is bounded: past 10,000 items it starts over).
fn remember<V: Copy>(
    cache: &Recent<V>,
    now: std::time::Instant,
    found: &mut HashMap<ItemId, V>,
    fresh: impl Iterator<Item = (ItemId, V)>,
) {
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() > 10_000 {
        cache.clear();
    }
    for (item, value) in fresh {
        cache.insert(item, (now, value));
        found.insert(item, value);
    }
}

pub(crate) fn build<T, E: std::fmt::Display>(built: Result<T, E>) -> Result<T, StoreError> {
    built.map_err(|e| StoreError::Unavailable(format!("request build: {e}")))
}

/// What each item of a receipt transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Receipt {
    /// The item exists.
    Item,
    /// The warehouse exists.
    Warehouse,
    /// The warehouse's row, conditioned on the shortfall read.
    Shortfall,
    /// The item's sellable total.
    Total,
    /// The receipt's idempotency record.
    Key,
}

#[async_trait]
impl Inventory for DynamoInventory {
    async fn available(&self, items: &[ItemId]) -> Result<HashMap<ItemId, u32>, StoreError> {
        let totals = self.read_totals(items, false).await?;
        Ok(totals
            .into_iter()
            .map(|(id, t)| (id, t.available))
            .collect())
    }

    async fn stock(&self, items: &[ItemId]) -> Result<HashMap<ItemId, ItemStock>, StoreError> {
        item_stock(&self.client, &self.tables.stock, items).await
    }

    async fn sales(&self, items: &[ItemId]) -> Result<HashMap<ItemId, SaleSettings>, StoreError> {
        let now = std::time::Instant::now();
        let (mut found, missing) = recent_hits(&self.sales, items, SALES_FRESH_FOR, now);
        if missing.is_empty() {
            return Ok(found);
        }
        let read = super::shards::read(&self.client, &self.tables.stock, &missing, false).await?;
        let fresh = missing.into_iter().map(|item| {
            (
                item,
                read.get(&item).map(|s| s.total.sale).unwrap_or_default(),
            )
        });
        remember(&self.sales, now, &mut found, fresh);
        Ok(found)
    }

    async fn available_recently(
        &self,
        items: &[ItemId],
    ) -> Result<HashMap<ItemId, u32>, StoreError> {
        let now = std::time::Instant::now();
        let (mut found, missing) =
            recent_hits(&self.recent, items, std::time::Duration::from_secs(1), now);
        if missing.is_empty() {
            return Ok(found);
        }
        let read = self.read_totals(&missing, false).await?;
        let fresh = missing
            .into_iter()
            .map(|item| (item, read.get(&item).map_or(0, |t| t.available)));
        remember(&self.recent, now, &mut found, fresh);
        Ok(found)
    }

    async fn configure_sale(
        &self,
        item: ItemId,
        settings: SaleSettings,
    ) -> Result<bool, StoreError> {
        let done = super::shards::configure(
            &self.client,
            &self.transactor,
            &self.tables.stock,
            item,
            settings,
        )
        .await?;
        self.sales
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&item);
        Ok(done)
    }

    async fn alert_states(
        &self,
        items: &[ItemId],
    ) -> Result<HashMap<ItemId, crate::ports::AlertState>, StoreError> {
        Ok(
            super::shards::read(&self.client, &self.tables.stock, items, true)
                .await?
                .into_iter()
                .map(|(id, s)| (id, s.alert))
                .collect(),
        )
    }

    async fn record_alert(
        &self,
        item: ItemId,
        seq: u64,
        announced: crate::ports::Announced,
    ) -> Result<bool, StoreError> {
        super::shards::record_alert(&self.client, &self.tables.stock, item, seq, announced).await
    }

    async fn concentrate(&self, item: ItemId, shard: u16, units: u32) -> Result<bool, StoreError> {
        super::shards::concentrate(
            &self.client,
            &self.transactor,
            &self.tables.stock,
            item,
            shard,
            units,
        )
        .await
    }

    async fn receive(
        &self,
        receipt: &StockReceipt,
        idempotency_key: Option<&str>,
    ) -> Result<(StockLevels, bool), ReceiptRejected> {
        // A receipt first makes good a recorded shortfall (units on the books that a loss
        // took off the shelf): those units become real again without going on sale twice.
        // The shortfall read is a condition of the write, so a race re-reads and retries.
        for _ in 0..5 {
            let shortfall = self
                .shortfall(&receipt.warehouse_id, receipt.item_id)
                .await?;
            match self
                .receive_once(receipt, idempotency_key, shortfall)
                .await?
            {
                Some(done) => return Ok(done),
                None => continue,
            }
        }
        Err(StoreError::Contention("stock row kept changing during a receipt".into()).into())
    }
}

/// Every stock row of each of `items` (the aggregate and each warehouse's), one strongly
/// consistent `Query` per item, all at once: each item's rows share a partition, so each
/// answer is one consistent picture of that item.
pub(crate) async fn item_stock(
    client: &Client,
    table: &str,
    items: &[ItemId],
) -> Result<HashMap<ItemId, ItemStock>, StoreError> {
    let mut reads = tokio::task::JoinSet::new();
    for item in items.iter().copied() {
        let (client, table) = (client.clone(), table.to_owned());
        reads.spawn(async move {
            Ok::<_, StoreError>((item, query_item(&client, &table, item).await?))
        });
    }
    let mut found = HashMap::with_capacity(items.len());
    while let Some(read) = reads.join_next().await {
        let (item, stock) =
            read.map_err(|e| StoreError::Bug(format!("stock read task: {e}")))??;
        found.insert(item, stock);
    }
    Ok(found)
}

async fn query_item(client: &Client, table: &str, item: ItemId) -> Result<ItemStock, StoreError> {
    let mut stock = ItemStock::default();
    let rows = super::every_page(
        client
            .query()
            .table_name(table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(item_pk(item)))
            .consistent_read(true),
    )
    .await?;
    for row in rows {
        let sk = row
            .get("sk")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        if sk == TOTAL {
            stock.total = StockTotal {
                available: number(&row, "available")?,
                version: counter(&row, "stockVersion")?,
                sale: super::shards::sale_of(&row)?,
            };
        } else if let Some(w) = warehouse_of_sk(&sk) {
            let id = WarehouseId::try_from(w)
                .map_err(|_| StoreError::Corrupt(format!("stock row {sk}")))?;
            stock.warehouses.insert(
                id,
                WarehouseStock {
                    physical: number(&row, "physical")?,
                    available: number(&row, "available")?,
                    shortfall: number(&row, "shortfall")?,
                },
            );
        }
    }
    // A sharded item's other shards live in partitions of their own: read them after the
    // item's partition (each consistently; the sum is what availability is).
    if stock.total.sale.is_sharded() {
        let keys = (1..stock.total.sale.shards)
            .map(|k| super::keys::shard_key(item, k))
            .collect();
        for row in batch_get(client, table, keys, true).await? {
            stock.total.available = stock
                .total
                .available
                .saturating_add(number(&row, "available")?);
        }
    }
    Ok(stock)
}

impl DynamoInventory {
    /// Write aggregated rows directly (`available`, `stockVersion` 1), 25 per request: for
    /// benchmarks that need a large catalogue's stock on a fresh table, never for a shop in
    /// use (it bypasses the warehouse rows that receipts keep in step).
    pub async fn load_totals(&self, rows: &[(ItemId, u32)]) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let mut requests = Vec::with_capacity(rows.len());
        for (item, units) in rows {
            let mut row = total_key(*item);
            row.insert("available".into(), n(*units));
            row.insert("stockVersion".into(), n(1));
            requests.push(
                WriteRequest::builder()
                    .put_request(build(PutRequest::builder().set_item(Some(row)).build())?)
                    .build(),
            );
        }
        super::batch_write(&self.client, &self.tables.stock, requests).await
    }

    /// The warehouse row's recorded shortfall (0 when none).
    async fn shortfall(&self, warehouse: &WarehouseId, item: ItemId) -> Result<u32, StoreError> {
        let row = self
            .read_rows(
                vec![stock_key(item_pk(item), warehouse_sk(warehouse))],
                true,
            )
            .await?;
        row.first().map_or(Ok(0), |r| number(r, "shortfall"))
    }

    /// One attempt at a receipt, given the shortfall read; `None` if the row moved.
    async fn receive_once(
        &self,
        receipt: &StockReceipt,
        idempotency_key: Option<&str>,
        shortfall: u32,
    ) -> Result<Option<(StockLevels, bool)>, ReceiptRejected> {
        let StockReceipt {
            warehouse_id,
            item_id,
            quantity,
        } = receipt;
        let covered = quantity.get().min(shortfall);
        let mut tx = Tx::new();
        tx.add(
            Receipt::Item,
            check(
                &self.tables.items,
                item_key(*item_id),
                "attribute_exists(itemId)",
                vec![],
            )?,
        );
        tx.add(
            Receipt::Warehouse,
            check(
                &self.tables.warehouses,
                warehouse_key(warehouse_id),
                "attribute_exists(warehouseId)",
                vec![],
            )?,
        );
        tx.add(
            Receipt::Shortfall,
            update(
                &self.tables.stock,
                stock_key(item_pk(*item_id), warehouse_sk(warehouse_id)),
                "ADD physical :q, available :sale, shortfall :made_good SET warehouseId = :w, itemId = :i",
                Some(if shortfall == 0 {
                    "attribute_not_exists(shortfall) OR shortfall = :s"
                } else {
                    "shortfall = :s"
                }),
                &[],
                vec![
                    (":q", n(quantity.get())),
                    (":sale", n(quantity.get() - covered)),
                    (":made_good", n(-i64::from(covered))),
                    (":s", n(shortfall)),
                    (":w", s(warehouse_id.as_str())),
                    (":i", s(item_id.to_string())),
                ],
            )?,
        );
        tx.add(
            Receipt::Total,
            give_back(&self.tables.stock, *item_id, 0, quantity.get() - covered)?,
        );
        let fingerprint = format!("{item_id}:{}", quantity.get());
        let record_key = idempotency_key.map(|k| receipt_key(warehouse_id, k));
        if let Some(key) = &record_key {
            let expires = self.transactor.now().unix_seconds() + MARKER_TTL_SECONDS;
            let mut record = idempotency_key_record(key);
            record.insert("fingerprint".into(), s(fingerprint.as_str()));
            record.insert("ttl".into(), n(expires));
            tx.add(
                Receipt::Key,
                put(
                    &self.tables.idempotency,
                    record,
                    Some("attribute_not_exists(#k)"),
                    &[("#k", "key")],
                    vec![],
                )?,
            );
        }
        match self.transactor.write(tx).await {
            Ok(()) => Ok(Some((self.levels(warehouse_id, *item_id).await?, false))),
            Err(TransactFailure::Cancelled(why)) => {
                if why.failed_on(&Receipt::Item) {
                    Err(ReceiptRejected::UnknownItem)
                } else if why.failed_on(&Receipt::Warehouse) {
                    Err(ReceiptRejected::UnknownWarehouse)
                } else if let (true, Some(key)) = (why.failed_on(&Receipt::Key), &record_key) {
                    match self.recorded_fingerprint(key).await? {
                        Some(recorded) if recorded == fingerprint => {
                            Ok(Some((self.levels(warehouse_id, *item_id).await?, true)))
                        }
                        _ => Err(ReceiptRejected::KeyReused),
                    }
                } else if why.failed_on(&Receipt::Shortfall) {
                    // The shortfall moved since it was read.
                    Ok(None)
                } else {
                    Err(TransactFailure::unexpected(&why, "receipt").into())
                }
            }
            Err(TransactFailure::Store(e)) => Err(e.into()),
        }
    }
}
