//! Sharded stock: an item's sellable units spread over counter rows with partition keys of
//! their own, so one hot item's holds are not all writes to one partition.
//!
//! Shard 0 is the item's `TOTAL` row (it carries the sale settings: `shards`, `waitingRoom`,
//! `admitPerSecond`); shards 1.. are `ITEM#<id>#S<k>` / `SHARD` rows holding `available` only.
//! Availability is the sum. Receipts, losses and repairs keep writing shard 0; holds take from
//! the shopper's home shard; [`concentrate`] moves units between shards in one transaction
//! when the shard a caller needs runs dry while others still hold units.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;

use super::keys::{item_of_pk, shard_key, shard_of_pk, total_key};
use super::transact::{give_back, take, update, TransactFailure, Transactor, Tx};
use super::{batch_get, counter, n, number, Record};
use crate::domain::{ItemId, SaleSettings};
use crate::ports::{StockTotal, StoreError};

/// The sale settings a `TOTAL` row carries (defaults where absent).
pub(crate) fn sale_of(row: &Record) -> Result<SaleSettings, StoreError> {
    let shards = number(row, "shards")?.clamp(1, u32::from(crate::domain::MAX_SHARDS)) as u16;
    Ok(SaleSettings {
        shards,
        waiting_room: row
            .get("waitingRoom")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        admit_per_second: number(row, "admitPerSecond")?,
    })
}

/// One item's stock as its shards hold it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shards {
    /// The `TOTAL` row's version and settings, with `available` summed over the shards.
    pub total: StockTotal,
    /// Units per shard, shard 0 first.
    pub units: Vec<u32>,
    /// The low-stock state last announced for the sum (see [`record_alert`]).
    pub alert: crate::ports::AlertState,
}

/// The `TOTAL` rows of `items` and, for sharded ones, their other shards: two batch reads
/// at most, whatever the number of items. Items never stocked are absent.
pub(crate) async fn read(
    client: &Client,
    table: &str,
    items: &[ItemId],
    consistent: bool,
) -> Result<HashMap<ItemId, Shards>, StoreError> {
    // BatchGetItem refuses a list that names a key twice.
    let mut unique: Vec<ItemId> = items.to_vec();
    unique.sort();
    unique.dedup();
    let keys = unique.iter().map(|i| total_key(*i)).collect();
    let mut found = HashMap::with_capacity(items.len());
    let mut extra = Vec::new();
    for row in batch_get(client, table, keys, consistent).await? {
        let pk = row
            .get("pk")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        let id = item_of_pk(&pk).ok_or_else(|| StoreError::Corrupt(format!("stock row {pk}")))?;
        let sale = sale_of(&row)?;
        let own = number(&row, "available")?;
        let mut units = vec![0; usize::from(sale.shards)];
        units[0] = own;
        extra.extend((1..sale.shards).map(|k| shard_key(id, k)));
        found.insert(
            id,
            Shards {
                total: StockTotal {
                    available: own,
                    version: counter(&row, "stockVersion")?,
                    sale,
                },
                units,
                alert: crate::ports::AlertState {
                    available: 0,
                    low: row
                        .get("lowAlerted")
                        .and_then(|v| v.as_bool().ok())
                        .copied()
                        .unwrap_or(false),
                    sold_out: row
                        .get("soldOutAlerted")
                        .and_then(|v| v.as_bool().ok())
                        .copied()
                        .unwrap_or(false),
                    seq: counter(&row, "alertSeq")?,
                },
            },
        );
    }
    if !extra.is_empty() {
        for row in batch_get(client, table, extra, consistent).await? {
            let pk = row
                .get("pk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let Some((id, k)) = shard_of_pk(&pk) else {
                return Err(StoreError::Corrupt(format!("stock shard {pk}")));
            };
            if let Some(shards) = found.get_mut(&id) {
                let units = number(&row, "available")?;
                if let Some(slot) = shards.units.get_mut(usize::from(k)) {
                    *slot = units;
                    shards.total.available = shards.total.available.saturating_add(units);
                }
            }
        }
    }
    for shards in found.values_mut() {
        shards.alert.available = shards.total.available;
    }
    Ok(found)
}

/// Record that the stock state `announced` was announced for `item`, if the state is still
/// at `seq` (another relay instance may have announced it first: `Ok(false)`).
pub(crate) async fn record_alert(
    client: &Client,
    table: &str,
    item: ItemId,
    seq: u64,
    announced: crate::ports::Announced,
) -> Result<bool, StoreError> {
    let out = client
        .update_item()
        .table_name(table)
        .set_key(Some(total_key(item)))
        .update_expression("SET lowAlerted = :low, soldOutAlerted = :out, alertSeq = :next")
        .condition_expression("attribute_exists(pk) AND (attribute_not_exists(alertSeq) AND :seq = :zero OR alertSeq = :seq)")
        .expression_attribute_values(
            ":low",
            aws_sdk_dynamodb::types::AttributeValue::Bool(announced.low),
        )
        .expression_attribute_values(
            ":out",
            aws_sdk_dynamodb::types::AttributeValue::Bool(announced.sold_out),
        )
        .expression_attribute_values(":next", n(seq + 1))
        .expression_attribute_values(":seq", n(seq))
        .expression_attribute_values(":zero", n(0))
        .send()
        .await;
    match out {
        Ok(_) => Ok(true),
        Err(e) => {
            use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
            if matches!(
                e.as_service_error(),
                Some(UpdateItemError::ConditionalCheckFailedException(_))
            ) {
                Ok(false)
            } else {
                Err(super::classify("UpdateItem", e))
            }
        }
    }
}

/// Which shards give how many units so that `into` holds `units`: the fullest first, as few
/// as possible. `None` when all of them together hold fewer.
fn plan(units_by_shard: &[u32], into: u16, units: u32) -> Option<Vec<(u16, u32)>> {
    let have = units_by_shard.get(usize::from(into)).copied().unwrap_or(0);
    if have >= units {
        return Some(vec![]);
    }
    let total: u64 = units_by_shard.iter().map(|u| u64::from(*u)).sum();
    if total < u64::from(units) {
        return None;
    }
    // Bring `into` up to its fair share when others have plenty (so the next shoppers of this
    // shard do not each move units again), but never below what is needed.
    let fair = (total / units_by_shard.len().max(1) as u64) as u32;
    let mut wanted = units.max(fair) - have;
    let mut donors: Vec<(u16, u32)> = units_by_shard
        .iter()
        .enumerate()
        .filter(|(k, u)| *k as u16 != into && **u > 0)
        .map(|(k, u)| (k as u16, *u))
        .collect();
    donors.sort_by_key(|d| std::cmp::Reverse(d.1));
    let mut moves = Vec::new();
    for (k, u) in donors {
        if wanted == 0 {
            break;
        }
        let give = u.min(wanted);
        moves.push((k, give));
        wanted -= give;
    }
    Some(moves)
}

/// Make shard `into` of `item` hold at least `units`, moving units from the other shards in
/// one transaction (each donor's take conditioned on what it holds). `Ok(false)` when all
/// shards together hold fewer. A donor that changed meanwhile makes it read and plan again.
pub(crate) async fn concentrate(
    client: &Client,
    transactor: &Transactor,
    table: &str,
    item: ItemId,
    into: u16,
    units: u32,
) -> Result<bool, StoreError> {
    for _ in 0..5 {
        let Some(shards) = read(client, table, &[item], true).await?.remove(&item) else {
            return Ok(false);
        };
        if usize::from(into) >= shards.units.len() {
            return Ok(shards.total.available >= units);
        }
        let Some(moves) = plan(&shards.units, into, units) else {
            return Ok(false);
        };
        if moves.is_empty() {
            return Ok(true);
        }
        let moved: u32 = moves.iter().map(|(_, u)| u).sum();
        let mut tx = Tx::new();
        for (k, u) in &moves {
            tx.add("donor", take(table, item, *k, *u)?);
        }
        tx.add("into", give_back(table, item, into, moved)?);
        match transactor.write(tx).await {
            Ok(()) => {
                tracing::info!(item_id = %item, into, moved, "stock moved between shards");
                return Ok(true);
            }
            Err(TransactFailure::Cancelled(why)) if why.only_conditions() => continue,
            Err(TransactFailure::Cancelled(why)) => {
                return Err(TransactFailure::unexpected(&why, "shard move"))
            }
            Err(TransactFailure::Store(e)) => return Err(e),
        }
    }
    Err(StoreError::Contention(
        "stock shards kept changing during a move".into(),
    ))
}

/// Change how `item` is sold: the settings on its `TOTAL` row (made if absent), and the units
/// on sale spread evenly over the shards, in one transaction conditioned on the shard count
/// and on each shard that gives units still holding them. The count
/// only grows: a hold taken from a shard gives its units back to that shard, so a dropped
/// shard would keep receiving units nobody counts. `Ok(false)`: fewer shards were asked for.
pub(crate) async fn configure(
    client: &Client,
    transactor: &Transactor,
    table: &str,
    item: ItemId,
    settings: SaleSettings,
) -> Result<bool, StoreError> {
    for _ in 0..5 {
        let current = read(client, table, &[item], true).await?.remove(&item);
        let old_shards = current.as_ref().map_or(1, |s| s.total.sale.shards);
        if settings.shards < old_shards {
            return Ok(false);
        }
        let mut tx = Tx::new();
        // Spread what is on sale evenly over the new count, so the launch's first holds find
        // units in their home shards instead of all moving them out of shard 0.
        let mut units = current
            .as_ref()
            .map(|s| s.units.clone())
            .unwrap_or_else(|| vec![0]);
        units.resize(usize::from(settings.shards), 0);
        let total: u32 = units.iter().sum();
        let even = total / u32::from(settings.shards);
        let target = |k: usize| {
            if k == 0 {
                total - even * (u32::from(settings.shards) - 1)
            } else {
                even
            }
        };
        for (k, have) in units.iter().enumerate().skip(1) {
            let (k16, want) = (k as u16, target(k));
            let new_row = k16 >= old_shards;
            if *have > want {
                tx.add("spread", take(table, item, k16, have - want)?);
            } else if want > *have || new_row {
                tx.add("spread", give_back(table, item, k16, want - have)?);
            }
        }
        let shard0 = i64::from(target(0)) - i64::from(units[0]);
        let condition = match (&current, old_shards) {
            (None, _) => "attribute_not_exists(pk)",
            (Some(_), 1) => "attribute_not_exists(shards) OR shards = :old",
            (Some(_), _) => "shards = :old",
        };
        tx.add(
            "settings",
            update(
                table,
                total_key(item),
                "SET shards = :n, waitingRoom = :w, admitPerSecond = :r, itemId = :i, \
                 available = if_not_exists(available, :zero) + :spread ADD stockVersion :one",
                Some(&if shard0 < 0 {
                    format!("({condition}) AND available >= :need")
                } else {
                    condition.to_owned()
                }),
                &[],
                vec![
                    (":n", n(settings.shards)),
                    (
                        ":w",
                        aws_sdk_dynamodb::types::AttributeValue::Bool(settings.waiting_room),
                    ),
                    (":r", n(settings.admit_per_second)),
                    (":i", super::s(item.to_string())),
                    (":zero", n(0)),
                    (":one", n(1)),
                    (":old", n(old_shards)),
                    (":spread", n(shard0)),
                ]
                .into_iter()
                .chain((shard0 < 0).then(|| (":need", n(-shard0))))
                .collect(),
            )?,
        );
        match transactor.write(tx).await {
            Ok(()) => {
                tracing::info!(item_id = %item, shards = settings.shards, waiting_room = settings.waiting_room, "sale settings changed");
                return Ok(true);
            }
            Err(TransactFailure::Cancelled(why)) if why.only_conditions() => continue,
            Err(TransactFailure::Cancelled(why)) => {
                return Err(TransactFailure::unexpected(&why, "sale settings"))
            }
            Err(TransactFailure::Store(e)) => return Err(e),
        }
    }
    Err(StoreError::Contention(
        "stock shards kept changing while resharding".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::plan;

    #[test]
    fn a_move_takes_from_the_fullest_shards_up_to_a_fair_share() {
        assert_eq!(plan(&[5, 0, 0], 1, 1), Some(vec![(0, 1)]));
        assert_eq!(plan(&[0, 3, 9, 0], 0, 2), Some(vec![(2, 3)]));
        assert_eq!(plan(&[1, 1, 1], 0, 3), Some(vec![(1, 1), (2, 1)]));
        assert_eq!(plan(&[1, 1, 1], 0, 4), None);
        assert_eq!(plan(&[2, 7], 0, 2), Some(vec![]));
    }
}
