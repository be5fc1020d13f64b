//! Stock entering warehouses. The HTTP route and (later) the warehouse SQS channel both call
//! [`receive_stock`], so the rules live here once.

use crate::domain::{Principal, StockReceipt};
use crate::ports::{Inventory, ReceiptRejected, StockLevels};

/// Why a `ReceiveStock` use case refused or failed; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveStockError {
    /// Only the warehouse itself may receive stock into it.
    #[error("only the warehouse itself may receive stock into it")]
    NotThisWarehouse,
    /// The receipt was refused (unknown item or warehouse, key reused).
    #[error(transparent)]
    Rejected(#[from] ReceiptRejected),
}

/// The outcome of a receipt: the new levels, and whether this was a replay of a receipt
/// already applied under the same idempotency key.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Stock after the receipt.
    #[serde(flatten)]
    pub levels: StockLevels,
    /// Whether this was a retry answered from the first receipt.
    pub replayed: bool,
}

/// A warehouse receives units of an item: its physical and available stock and the item's
/// aggregated stock rise together, in one transaction.
#[tracing::instrument(name = "receive_stock", skip_all, fields(warehouse_id = %receipt.warehouse_id, item_id = %receipt.item_id))]
pub async fn receive_stock(
    inventory: &(impl Inventory + ?Sized),
    who: &Principal,
    receipt: &StockReceipt,
    idempotency_key: Option<&str>,
) -> Result<Receipt, ReceiveStockError> {
    if !who.acts_for(&receipt.warehouse_id) {
        return Err(ReceiveStockError::NotThisWarehouse);
    }
    let (levels, replayed) = inventory.receive(receipt, idempotency_key).await?;
    tracing::info!(
        warehouse_id = %receipt.warehouse_id,
        item_id = %receipt.item_id,
        quantity = receipt.quantity.get(),
        replayed,
        "stock received"
    );
    Ok(Receipt { levels, replayed })
}
