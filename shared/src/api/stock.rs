//! Stock routes used by warehouse systems.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;

use super::request::{idempotency_key, json_body, warehouse_caller};
use super::{finish, json, HttpResult};
use crate::domain::{ItemId, Quantity, StockReceipt, ValidationErrors};
use crate::usecases::stock;
use crate::App;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReceiveBody {
    item_id: String,
    quantity: i64,
}

/// `POST /v1/warehouses/{warehouseId}/stock` (role warehouse; optional `Idempotency-Key`)
pub async fn receive_stock(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let (who, warehouse_id) = warehouse_caller(&app.identities, &req).await?;
            let key = idempotency_key(&req)?;
            let body: ReceiveBody = json_body(&req)?;
            let mut errors = ValidationErrors::default();
            let item_id = errors.check("itemId", ItemId::try_from(body.item_id));
            let quantity = errors.check("quantity", Quantity::try_from(body.quantity));
            let receipt = errors.finish(|| {
                Some(StockReceipt {
                    warehouse_id,
                    item_id: item_id?,
                    quantity: quantity?,
                })
            })?;
            let outcome =
                stock::receive_stock(&app.inventory, &who, &receipt, key.as_deref()).await?;
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({
                    "warehouseId": receipt.warehouse_id,
                    "itemId": receipt.item_id,
                    "received": receipt.quantity,
                    "levels": outcome.levels,
                    "replayed": outcome.replayed,
                }),
            ))
        }
        .await,
    )
}
