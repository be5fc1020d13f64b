//! Fulfilment: where a shipping address is, which warehouses ship an order, and when it
//! arrives. Pure rules; the assignment worker feeds them stock it read and writes the
//! outcome in one transaction.
//!
//! Choice of warehouses (`plan`): one warehouse that can ship every line, nearest first;
//! otherwise as few shipments as possible (every pair of warehouses is tried exactly, larger
//! covers greedily), then the smallest total distance; a line no single warehouse can fill is
//! split across the nearest warehouses holding it. A line short everywhere backorders the order.
//!
//! ETA model: one day to pick and pack, then ground transit at 800 km per day (at least one
//! day), from the farthest warehouse of the order.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::{Address, ItemId, OrderId, Quantity, Timestamp, UserId, WarehouseId};

/// A point on the map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
}

/// Great-circle distance in kilometres (haversine).
pub fn distance_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let (dla, dlo) = ((b.lat - a.lat).to_radians(), (b.lon - a.lon).to_radians());
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

#[derive(Deserialize)]
struct Locations {
    zip3: HashMap<String, [f64; 2]>,
    state: HashMap<String, [f64; 2]>,
}

fn locations() -> &'static Locations {
    static TABLE: OnceLock<Locations> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str(include_str!("../../data/locations.json"))
            .expect("shared/data/locations.json is valid")
    })
}

/// Where an address is, roughly: the centroid of its 3-digit ZIP area, else of its state
/// (from the store locations in `shared/data/locations.json`).
pub fn locate(address: &Address) -> Option<GeoPoint> {
    locate_zip(address.zip5()).or_else(|| {
        locations()
            .state
            .get(address.state.as_str())
            .map(|[lat, lon]| GeoPoint {
                lat: *lat,
                lon: *lon,
            })
    })
}

/// The centroid of a ZIP code's 3-digit area, if the table knows it.
pub fn locate_zip(zip: &str) -> Option<GeoPoint> {
    let zip3 = zip.get(..3).unwrap_or("");
    locations().zip3.get(zip3).map(|[lat, lon]| GeoPoint {
        lat: *lat,
        lon: *lon,
    })
}

/// Pick-and-pack time before a parcel leaves.
pub const HANDLING_DAYS: i64 = 1;
/// Ground transit speed.
pub const KM_PER_DAY: f64 = 800.0;

/// Days from an order to delivery over `distance_km`: handling, then at least one day of
/// transit.
pub fn eta_days(distance_km: f64) -> u32 {
    let transit = (distance_km / KM_PER_DAY).ceil().max(1.0) as u32;
    HANDLING_DAYS as u32 + transit
}

/// When a parcel sent now over `distance_km` arrives.
pub fn eta(now: Timestamp, distance_km: f64) -> Timestamp {
    now.plus_millis(i64::from(eta_days(distance_km)) * 24 * 3600 * 1000)
}

/// Where a warehouse order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ShipmentState {
    /// Sent to the warehouse, not yet shipped.
    Assigned,
    /// Left the warehouse.
    Shipped,
    /// Delivered to the shopper.
    Delivered,
    /// Cancelled before it shipped.
    Cancelled,
}

/// Units of one item in a shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipmentLine {
    /// The item's id.
    pub item_id: ItemId,
    /// How many units.
    pub quantity: Quantity,
}

/// One warehouse's share of an order. Keyed by (order, warehouse): the same order assigned
/// twice produces the same records, so a redelivered assignment changes nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseOrder {
    /// The order's id.
    pub order_id: OrderId,
    /// The warehouse's id.
    pub warehouse_id: WarehouseId,
    /// The shopper's user id (Cognito `sub`).
    pub user_id: UserId,
    /// The lines, one per item.
    pub lines: Vec<ShipmentLine>,
    /// Its state.
    pub state: ShipmentState,
    /// Great-circle distance from the warehouse to the shipping ZIP.
    pub distance_km: f64,
    /// The estimated delivery date, once warehouses are assigned.
    pub eta: Timestamp,
    /// The carrier's tracking number, once shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// Set when a stock loss left this warehouse unable to ship it as planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Optimistic-concurrency version, bumped by every write (`If-Match` compares it).
    pub version: u64,
}

impl WarehouseOrder {
    /// Units of `item` in this shipment.
    pub fn units_of(&self, item: ItemId) -> u32 {
        self.lines
            .iter()
            .filter(|l| l.item_id == item)
            .map(|l| l.quantity.get())
            .sum()
    }

    /// The record after moving to `state`.
    pub fn moved_to(&self, state: ShipmentState, now: Timestamp) -> Self {
        let mut next = self.clone();
        next.state = state;
        next.updated_at = now;
        next.version += 1;
        next
    }
}

/// A candidate warehouse: where it is from the customer, and what it can promise.
#[derive(Debug, Clone)]
pub struct Site {
    /// The warehouse's id.
    pub warehouse_id: WarehouseId,
    /// Great-circle distance from the warehouse to the shipping ZIP.
    pub distance_km: f64,
    /// Available (unpromised) units per item.
    pub available: HashMap<ItemId, u32>,
}

impl Site {
    fn has(&self, item: ItemId, units: u32) -> bool {
        self.available.get(&item).copied().unwrap_or(0) >= units
    }
}

/// Which warehouse ships what.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Shipments, each with its warehouse's distance.
    Ship(Vec<(WarehouseId, f64, Vec<ShipmentLine>)>),
    /// These items cannot be filled from all warehouses together.
    Short(Vec<ItemId>),
}

/// Decide the shipments for `lines` (item, units; one entry per item) from `sites`.
pub fn plan(lines: &[(ItemId, u32)], sites: &[Site]) -> Plan {
    let mut sites: Vec<&Site> = sites.iter().collect();
    sites.sort_by(|a, b| {
        a.distance_km
            .total_cmp(&b.distance_km)
            .then_with(|| a.warehouse_id.cmp(&b.warehouse_id))
    });
    let short: Vec<ItemId> = lines
        .iter()
        .filter(|(item, units)| {
            sites
                .iter()
                .map(|s| s.available.get(item).copied().unwrap_or(0))
                .sum::<u32>()
                < *units
        })
        .map(|(item, _)| *item)
        .collect();
    if !short.is_empty() {
        return Plan::Short(short);
    }
    let whole = |site: &Site| lines.iter().all(|(item, units)| site.has(*item, *units));
    // 1. One warehouse for everything, nearest first.
    if let Some(site) = sites.iter().find(|s| whole(s)) {
        return Plan::Ship(vec![shipment(site, lines)]);
    }
    // 2. Two warehouses, each line whole from the nearer of the two that has it: the pair
    //    with the smallest total distance.
    let mut best_pair: Option<(f64, usize, usize)> = None;
    for i in 0..sites.len() {
        for j in i + 1..sites.len() {
            let (a, b) = (sites[i], sites[j]);
            let covered = lines
                .iter()
                .all(|(item, units)| a.has(*item, *units) || b.has(*item, *units));
            let used_b = lines.iter().any(|(item, units)| !a.has(*item, *units));
            let used_a = lines.iter().any(|(item, units)| a.has(*item, *units));
            if covered && used_a && used_b {
                let cost = a.distance_km + b.distance_km;
                if best_pair.is_none_or(|(c, _, _)| cost < c) {
                    best_pair = Some((cost, i, j));
                }
            }
        }
    }
    if let Some((_, i, j)) = best_pair {
        let (a, b) = (sites[i], sites[j]);
        let (from_a, from_b): (Vec<_>, Vec<_>) = lines
            .iter()
            .copied()
            .partition(|(item, units)| a.has(*item, *units));
        return Plan::Ship(vec![shipment(a, &from_a), shipment(b, &from_b)]);
    }
    // 3. Greedy: the warehouse covering the most remaining lines whole (nearest on ties),
    //    until no warehouse covers a whole line; what is left is split, nearest first.
    let mut remaining: Vec<(ItemId, u32)> = lines.to_vec();
    let mut chosen: BTreeMap<usize, Vec<(ItemId, u32)>> = BTreeMap::new();
    loop {
        let best = sites
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    i,
                    remaining
                        .iter()
                        .filter(|(item, u)| s.has(*item, *u))
                        .count(),
                )
            })
            .filter(|(_, n)| *n > 0)
            .max_by(|(i, n), (j, m)| n.cmp(m).then(j.cmp(i)));
        let Some((index, _)) = best else { break };
        let site = sites[index];
        let (take, rest): (Vec<_>, Vec<_>) = remaining
            .into_iter()
            .partition(|(item, u)| site.has(*item, *u));
        chosen.entry(index).or_default().extend(take);
        remaining = rest;
    }
    for (item, mut units) in remaining {
        for (index, site) in sites.iter().enumerate() {
            let here = site.available.get(&item).copied().unwrap_or(0).min(units);
            if here > 0 {
                chosen.entry(index).or_default().push((item, here));
                units -= here;
            }
            if units == 0 {
                break;
            }
        }
    }
    Plan::Ship(
        chosen
            .into_iter()
            .map(|(index, lines)| shipment(sites[index], &lines))
            .collect(),
    )
}

fn shipment(site: &Site, lines: &[(ItemId, u32)]) -> (WarehouseId, f64, Vec<ShipmentLine>) {
    let lines = lines
        .iter()
        .filter_map(|(item, units)| {
            Some(ShipmentLine {
                item_id: *item,
                quantity: Quantity::try_from(i64::from(*units)).ok()?,
            })
        })
        .collect();
    (site.warehouse_id.clone(), site.distance_km, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wh(name: &str) -> WarehouseId {
        WarehouseId::try_from(name).unwrap()
    }

    fn site(name: &str, km: f64, stock: &[(ItemId, u32)]) -> Site {
        Site {
            warehouse_id: wh(name),
            distance_km: km,
            available: stock.iter().copied().collect(),
        }
    }

    fn shipped(plan: &Plan) -> Vec<(String, Vec<(ItemId, u32)>)> {
        match plan {
            Plan::Ship(s) => s
                .iter()
                .map(|(w, _, l)| {
                    let mut lines: Vec<_> =
                        l.iter().map(|l| (l.item_id, l.quantity.get())).collect();
                    lines.sort();
                    (w.as_str().to_owned(), lines)
                })
                .collect(),
            Plan::Short(_) => panic!("short"),
        }
    }

    #[test]
    fn one_warehouse_with_everything_wins_over_a_nearer_split() {
        let (a, b) = (ItemId::generate(), ItemId::generate());
        let sites = [
            site("wh-near-a", 10.0, &[(a, 5)]),
            site("wh-near-b", 20.0, &[(b, 5)]),
            site("wh-far-all", 900.0, &[(a, 5), (b, 5)]),
        ];
        let plan = plan(&[(a, 2), (b, 1)], &sites);
        let mut both = vec![(a, 2), (b, 1)];
        both.sort();
        assert_eq!(shipped(&plan), vec![("wh-far-all".to_owned(), both)]);
    }

    #[test]
    fn items_in_two_warehouses_make_two_shipments_from_the_nearest_pair() {
        let (a, b) = (ItemId::generate(), ItemId::generate());
        let sites = [
            site("wh-a-far", 800.0, &[(a, 5)]),
            site("wh-a-near", 100.0, &[(a, 5)]),
            site("wh-b", 50.0, &[(b, 5)]),
        ];
        let got = shipped(&plan(&[(a, 1), (b, 3)], &sites));
        assert_eq!(got.len(), 2);
        assert!(got.contains(&("wh-a-near".to_owned(), vec![(a, 1)])));
        assert!(got.contains(&("wh-b".to_owned(), vec![(b, 3)])));
    }

    #[test]
    fn a_line_no_warehouse_can_fill_alone_is_split_nearest_first() {
        let a = ItemId::generate();
        let sites = [
            site("wh-1", 10.0, &[(a, 2)]),
            site("wh-2", 20.0, &[(a, 2)]),
            site("wh-3", 5.0, &[(a, 1)]),
        ];
        let got = shipped(&plan(&[(a, 4)], &sites));
        let units: u32 = got
            .iter()
            .flat_map(|(_, l)| l.iter().map(|(_, u)| *u))
            .sum();
        assert_eq!(units, 4);
        assert!(got.iter().all(|(w, _)| w != "wh-2") || got.len() == 3);
    }

    #[test]
    fn not_enough_anywhere_is_short() {
        let a = ItemId::generate();
        assert_eq!(
            plan(&[(a, 3)], &[site("wh-1", 1.0, &[(a, 2)])]),
            Plan::Short(vec![a])
        );
    }

    #[test]
    fn distances_and_etas_follow_the_stated_model() {
        let mall_of_america = GeoPoint {
            lat: 44.85466,
            lon: -93.24565,
        };
        let chicago = GeoPoint {
            lat: 41.8781,
            lon: -87.6298,
        };
        let km = distance_km(mall_of_america, chicago);
        assert!((560.0..600.0).contains(&km), "{km}");
        let now = Timestamp::from_unix_millis(0);
        assert_eq!(eta(now, km).unix_millis(), 2 * 24 * 3600 * 1000);
        assert_eq!(eta(now, 2_000.0).unix_millis(), 4 * 24 * 3600 * 1000);
    }
}
