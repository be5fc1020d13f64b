//! The delivery promise shown with search results: when an item would arrive at a ZIP code if
//! ordered now, from the nearest warehouse that holds sellable units of it.
//!
//! It uses the assignment's own ETA model ([`super::fulfilment::eta_days`]) and location
//! table, so the date a shopper sees in search is the date the order gets when it ships from
//! that warehouse. Two things are precomputed, so a page costs a few comparisons per hit:
//! per item, the warehouses holding sellable units (kept in the search index, see
//! [`super::SearchDoc::sites`]); per 3-digit ZIP area, every warehouse in distance order with
//! its transit days ([`Area`], built once per area and kept by [`DeliveryMap`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use time::Date;

use super::fulfilment::{distance_km, eta_days, locate_zip, GeoPoint};
use super::{Timestamp, Warehouse, WarehouseId};

/// A shopper's 5-digit ZIP code, parsed at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Zip(String);

impl Zip {
    /// The text as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 3-digit area the location table knows.
    pub fn area(&self) -> &str {
        &self.0[..3]
    }
}

impl TryFrom<&str> for Zip {
    type Error = String;
    fn try_from(raw: &str) -> Result<Self, String> {
        let five = raw.split_once('-').map_or(raw, |(five, _)| five);
        if five.len() != 5 || !five.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be a 5-digit US ZIP code".into());
        }
        if locate_zip(five).is_none() {
            return Err("no warehouse delivers to this ZIP area".into());
        }
        Ok(Self(five.to_owned()))
    }
}

/// One warehouse as seen from a ZIP area.
#[derive(Debug, Clone, PartialEq)]
pub struct Reach {
    /// The warehouse.
    pub warehouse_id: WarehouseId,
    /// Great-circle distance, km.
    pub distance_km: f64,
    /// Days from an order now to delivery (handling plus transit).
    pub days: u32,
}

/// Every warehouse from one ZIP area, nearest first (ties by id, as assignment breaks them).
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    reach: Vec<Reach>,
}

impl Area {
    /// The warehouses `sites` seen from `at`.
    pub fn new(at: GeoPoint, sites: &[Warehouse]) -> Self {
        let mut reach: Vec<Reach> = sites
            .iter()
            .map(|w| {
                let distance = distance_km(
                    at,
                    GeoPoint {
                        lat: w.lat,
                        lon: w.lon,
                    },
                );
                Reach {
                    warehouse_id: w.warehouse_id.clone(),
                    distance_km: distance,
                    days: eta_days(distance),
                }
            })
            .collect();
        reach.sort_by(|a, b| {
            a.distance_km
                .total_cmp(&b.distance_km)
                .then_with(|| a.warehouse_id.cmp(&b.warehouse_id))
        });
        Self { reach }
    }

    /// The nearest of `holding` (sorted, as [`super::SearchDoc::sites`] keeps them), if any.
    pub fn nearest(&self, holding: &[WarehouseId]) -> Option<&Reach> {
        if holding.is_empty() {
            return None;
        }
        self.reach
            .iter()
            .find(|r| holding.binary_search(&r.warehouse_id).is_ok())
    }

    /// The warehouses that deliver within `days`.
    pub fn within(&self, days: u32) -> Vec<WarehouseId> {
        self.reach
            .iter()
            .filter(|r| r.days <= days)
            .map(|r| r.warehouse_id.clone())
            .collect()
    }

    /// The distinct delivery times from this area, fastest first.
    pub fn day_rings(&self) -> Vec<u32> {
        let mut days: Vec<u32> = self.reach.iter().map(|r| r.days).collect();
        days.sort_unstable();
        days.dedup();
        days
    }

    /// Every warehouse, nearest first.
    pub fn all(&self) -> &[Reach] {
        &self.reach
    }
}

/// What a search hit says about delivery to the shopper's ZIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPromise {
    /// Whether any warehouse holds a sellable unit.
    pub deliverable: bool,
    /// The earliest delivery date (UTC calendar day), when deliverable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_date: Option<String>,
    /// Days from now to that date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// The warehouse it would ship from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ships_from: Option<WarehouseId>,
}

impl DeliveryPromise {
    /// The promise for an item held at `holding`, ordered `now`, shipped to `area`.
    pub fn of(area: &Area, holding: &[WarehouseId], now: Timestamp) -> Self {
        match area.nearest(holding) {
            Some(reach) => Self {
                deliverable: true,
                estimated_date: Some(
                    now.plus_millis(i64::from(reach.days) * 24 * 3600 * 1000)
                        .date()
                        .to_string(),
                ),
                days: Some(reach.days),
                ships_from: Some(reach.warehouse_id.clone()),
            },
            None => Self {
                deliverable: false,
                estimated_date: None,
                days: None,
                ships_from: None,
            },
        }
    }
}

/// Whole days from `now`'s UTC date to `by` (negative when `by` is past).
pub fn days_until(now: Timestamp, by: Date) -> i64 {
    (by - now.date()).whole_days()
}

/// The warehouse sites and, per ZIP area seen so far, their [`Area`]. One per function
/// instance: areas are built on first use (about 50 distances each) and kept; there are at
/// most ~900 areas.
#[derive(Debug)]
pub struct DeliveryMap {
    sites: Vec<Warehouse>,
    areas: Mutex<HashMap<String, Arc<Area>>>,
}

impl DeliveryMap {
    /// A map over `sites`.
    pub fn new(sites: Vec<Warehouse>) -> Self {
        Self {
            sites,
            areas: Mutex::new(HashMap::new()),
        }
    }

    /// Every site's id, sorted.
    pub fn site_ids(&self) -> Vec<WarehouseId> {
        let mut ids: Vec<WarehouseId> = self.sites.iter().map(|w| w.warehouse_id.clone()).collect();
        ids.sort();
        ids
    }

    /// The warehouses as seen from `zip`'s area.
    pub fn area(&self, zip: &Zip) -> Arc<Area> {
        let mut areas = self.areas.lock().unwrap_or_else(|p| p.into_inner());
        areas
            .entry(zip.area().to_owned())
            .or_insert_with(|| {
                // A parsed Zip always has a location (checked by `Zip::try_from`).
                let at = locate_zip(zip.as_str()).unwrap_or(GeoPoint { lat: 0.0, lon: 0.0 });
                Arc::new(Area::new(at, &self.sites))
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(id: &str, lat: f64, lon: f64) -> Warehouse {
        Warehouse {
            warehouse_id: WarehouseId::try_from(id).unwrap(),
            name: id.into(),
            city: "c".into(),
            state: "MN".into(),
            zip: "55425".into(),
            lat,
            lon,
        }
    }

    fn ids(names: &[&str]) -> Vec<WarehouseId> {
        let mut v: Vec<WarehouseId> = names
            .iter()
            .map(|n| WarehouseId::try_from(*n).unwrap())
            .collect();
        v.sort();
        v
    }

    fn bloomington() -> Area {
        // Bloomington MN, Chicago, Los Angeles.
        let sites = [
            site("wh-msp", 44.86, -93.29),
            site("wh-chi", 41.88, -87.63),
            site("wh-lax", 34.05, -118.24),
        ];
        Area::new(locate_zip("55425").unwrap(), &sites)
    }

    #[test]
    fn the_promise_comes_from_the_nearest_warehouse_holding_the_item() {
        let area = bloomington();
        let now = Timestamp::from_unix_millis(1_796_000_000_000); // 2026-11-30
        let near = DeliveryPromise::of(&area, &ids(&["wh-msp", "wh-lax"]), now);
        assert_eq!(near.ships_from, WarehouseId::try_from("wh-msp").ok());
        assert_eq!(near.days, Some(2), "one day handling, one day transit");
        let far = DeliveryPromise::of(&area, &ids(&["wh-lax"]), now);
        assert_eq!(
            far.days,
            Some(5),
            "about 2,450 km: one day handling, four of transit"
        );
        assert!(far.estimated_date > near.estimated_date);
    }

    #[test]
    fn an_item_no_warehouse_holds_is_not_deliverable() {
        let promise = DeliveryPromise::of(&bloomington(), &[], Timestamp::now());
        assert!(!promise.deliverable);
        assert_eq!(promise.estimated_date, None);
    }

    #[test]
    fn rings_and_reach_follow_the_eta_model() {
        let area = bloomington();
        // Chicago is about 570 km away: one day of transit, like the local warehouse.
        assert_eq!(area.day_rings(), vec![2, 5]);
        let nearest_first: Vec<WarehouseId> = ["wh-msp", "wh-chi"]
            .iter()
            .map(|n| WarehouseId::try_from(*n).unwrap())
            .collect();
        assert_eq!(area.within(3), nearest_first);
        assert!(area.within(1).is_empty());
    }

    #[test]
    fn zip_codes_are_parsed_at_the_edge() {
        assert_eq!(Zip::try_from("55425-1234").unwrap().as_str(), "55425");
        assert!(Zip::try_from("5542").is_err());
        assert!(Zip::try_from("abcde").is_err());
        assert!(Zip::try_from("00000").is_err(), "an area no table knows");
    }
}
