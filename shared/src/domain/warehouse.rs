//! Warehouses: fulfilment sites with a location, used for assignment and delivery estimates.

use serde::{Deserialize, Serialize};

use super::WarehouseId;

/// A fulfilment site. Sites are real US store locations (Best Buy open data, CC0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Warehouse {
    pub warehouse_id: WarehouseId,
    pub name: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub lat: f64,
    pub lon: f64,
}
