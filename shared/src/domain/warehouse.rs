//! Warehouses: fulfilment sites with a location, used for assignment and delivery estimates.

use serde::{Deserialize, Serialize};

use super::WarehouseId;

/// A fulfilment site. Sites are real US store locations (Best Buy open data, CC0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Warehouse {
    /// The warehouse's id.
    pub warehouse_id: WarehouseId,
    /// The product name, as listed.
    pub name: String,
    /// The city.
    pub city: String,
    /// Its state.
    pub state: String,
    /// The ZIP code.
    pub zip: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
}
