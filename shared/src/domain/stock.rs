//! Stock as shoppers and warehouses see it.

use serde::Serialize;

use super::{ItemId, Quantity, WarehouseId};

/// What a shopper may buy of an item right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    /// Units on sale: received, minus held by checkouts, minus sold.
    pub available: u32,
    /// Whether any unit is on sale.
    pub in_stock: bool,
    /// In stock, but at or below the seller's low-stock threshold.
    pub low_stock: bool,
}

impl Availability {
    /// What a shopper may know of `available` units (exact counts only when low).
    pub fn new(available: u32, low_stock_threshold: u32) -> Self {
        Self {
            available,
            in_stock: available > 0,
            low_stock: available > 0 && available <= low_stock_threshold,
        }
    }
}

/// A delivery of units of one item into one warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockReceipt {
    /// The warehouse's id.
    pub warehouse_id: WarehouseId,
    /// The item's id.
    pub item_id: ItemId,
    /// How many units.
    pub quantity: Quantity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_stock_means_in_stock_at_or_below_the_threshold() {
        assert_eq!(
            Availability::new(0, 5),
            Availability {
                available: 0,
                in_stock: false,
                low_stock: false
            }
        );
        assert_eq!(
            Availability::new(5, 5),
            Availability {
                available: 5,
                in_stock: true,
                low_stock: true
            }
        );
        assert_eq!(
            Availability::new(6, 5),
            Availability {
                available: 6,
                in_stock: true,
                low_stock: false
            }
        );
    }
}

/// The most stock shards one item may have. Each shard is a partition of its own; 32 of them
/// take about 32 × 300 holds a second, far beyond one product's launch (see README, "Hot items").
pub const MAX_SHARDS: u16 = 32;

/// How an item's stock is sold when it is hot: how many counter rows (shards) its sellable
/// units are spread over, and whether begin-checkout queues shoppers in a waiting room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SaleSettings {
    /// Counter rows the units are spread over (1: the item's single `TOTAL` row).
    pub shards: u16,
    /// Whether begin-checkout admits shoppers through the waiting room.
    pub waiting_room: bool,
    /// Shoppers the waiting room admits a second (0: derived from `shards`, see
    /// [`SaleSettings::admission_rate`]).
    pub admit_per_second: u32,
}

impl Default for SaleSettings {
    fn default() -> Self {
        Self {
            shards: 1,
            waiting_room: false,
            admit_per_second: 0,
        }
    }
}

/// Holds a second one shard is planned for. DynamoDB gives one partition about 1,000 write
/// units a second; a hold costs 2 (a transactional write) on its shard and its release or
/// consumption may cost 2 more, so 300 leaves room for releases, receipts and repairs.
pub const HOLDS_PER_SHARD_PER_SECOND: u32 = 300;

impl SaleSettings {
    /// Settings as an operator or seller asks for them, checked: 1..=[`MAX_SHARDS`] shards.
    pub fn new(shards: u16, waiting_room: bool, admit_per_second: u32) -> Result<Self, String> {
        if !(1..=MAX_SHARDS).contains(&shards) {
            return Err(format!("shards must be 1 to {MAX_SHARDS}"));
        }
        if admit_per_second > u32::from(shards) * HOLDS_PER_SHARD_PER_SECOND {
            return Err(format!(
                "admitPerSecond may be at most {} for {shards} shards",
                u32::from(shards) * HOLDS_PER_SHARD_PER_SECOND
            ));
        }
        Ok(Self {
            shards,
            waiting_room,
            admit_per_second,
        })
    }

    /// Whether holds spread over more than one row.
    pub fn is_sharded(&self) -> bool {
        self.shards > 1
    }

    /// Shoppers admitted a second: what was set, or what the shards can take.
    pub fn admission_rate(&self) -> u32 {
        if self.admit_per_second > 0 {
            self.admit_per_second
        } else {
            u32::from(self.shards.max(1)) * HOLDS_PER_SHARD_PER_SECOND
        }
    }

    /// The shard a shopper's holds of `item` start from: a stable hash of the two, so one
    /// shopper's retries meet the same row and shoppers spread evenly over the shards.
    pub fn home_shard(&self, user: &super::UserId, item: ItemId) -> u16 {
        if self.shards <= 1 {
            return 0;
        }
        (fnv1a(&[user.as_str().as_bytes(), item.to_string().as_bytes()]) % u64::from(self.shards))
            as u16
    }

    /// The next shard count when contention is seen: double, up to [`MAX_SHARDS`].
    pub fn raised(&self) -> Option<Self> {
        (self.shards < MAX_SHARDS).then(|| Self {
            shards: (self.shards.max(1) * 2).min(MAX_SHARDS),
            ..*self
        })
    }
}

/// FNV-1a over some byte strings: a hash that is the same in every process and build (the
/// standard library's is not promised to be), cheap for short keys.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in *part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod sale_tests {
    use super::*;

    #[test]
    fn shoppers_spread_over_every_shard_and_keep_their_own() {
        let settings = SaleSettings::new(8, true, 0).unwrap();
        let item = ItemId::generate();
        let mut counts = [0u32; 8];
        for i in 0..8_000 {
            let user = super::super::UserId::try_from(format!("shopper-{i}")).unwrap();
            let shard = settings.home_shard(&user, item);
            assert_eq!(shard, settings.home_shard(&user, item));
            counts[usize::from(shard)] += 1;
        }
        // Each shard gets its share within 15 % (1,000 expected).
        assert!(
            counts.iter().all(|c| (850..=1150).contains(c)),
            "{counts:?}"
        );
    }

    #[test]
    fn settings_are_checked_and_raised_up_to_the_limit() {
        assert!(SaleSettings::new(0, false, 0).is_err());
        assert!(SaleSettings::new(MAX_SHARDS + 1, false, 0).is_err());
        assert!(SaleSettings::new(2, true, 601).is_err());
        let s = SaleSettings::new(4, true, 0).unwrap();
        assert_eq!(s.admission_rate(), 1_200);
        assert_eq!(s.raised().unwrap().shards, 8);
        assert_eq!(
            SaleSettings::new(20, false, 0)
                .unwrap()
                .raised()
                .unwrap()
                .shards,
            32
        );
        assert!(SaleSettings::new(32, false, 0).unwrap().raised().is_none());
        assert_eq!(
            SaleSettings::default().home_shard(&"u".try_into().unwrap(), ItemId::generate()),
            0
        );
    }
}

/// How long an admitted shopper may take to begin checkout before their ticket lapses and a
/// new arrival goes to the back of the line.
pub const ADMISSION_WINDOW_MS: i64 = 120_000;

/// A place in an item's waiting room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    /// The ticket's id (shown to the shopper; one per shopper and item at a time).
    pub ticket_id: String,
    /// The item it queues for.
    pub item_id: ItemId,
    /// When its holder may begin checkout.
    pub admit_at: super::Timestamp,
    /// When an unused admission lapses.
    pub expires_at: super::Timestamp,
    /// Shoppers a second the room admitted at when this ticket was issued.
    pub rate: u32,
}

/// A place in a waiting room as the shopper sees it (the 202 of begin-checkout, and the
/// `queue` pushes of the live API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    ticket_id: String,
    item_id: ItemId,
    /// `WAITING` or `ADMITTED` (a sold-out item answers 409 `OUT_OF_STOCK` instead).
    state: &'static str,
    /// About how many shoppers are ahead.
    position: u64,
    estimated_wait_seconds: u64,
    admit_at: super::Timestamp,
    expires_at: super::Timestamp,
}

impl TicketView {
    /// The ticket as of `now`.
    pub fn of(ticket: &Ticket, now: super::Timestamp) -> Self {
        Self {
            ticket_id: ticket.ticket_id.clone(),
            item_id: ticket.item_id,
            state: if ticket.admitted(now) {
                "ADMITTED"
            } else {
                "WAITING"
            },
            position: ticket.position(now),
            estimated_wait_seconds: (ticket.wait_millis(now) as u64).div_ceil(1000),
            admit_at: ticket.admit_at,
            expires_at: ticket.expires_at,
        }
    }

    /// Whole seconds until admission (0 once admitted).
    pub fn estimated_wait_seconds(&self) -> u64 {
        self.estimated_wait_seconds
    }
}

impl Ticket {
    /// Whether its holder may begin checkout at `now`.
    pub fn admitted(&self, now: super::Timestamp) -> bool {
        self.admit_at <= now && now < self.expires_at
    }

    /// Milliseconds until admission (0 once admitted).
    pub fn wait_millis(&self, now: super::Timestamp) -> i64 {
        (self.admit_at.unix_millis() - now.unix_millis()).max(0)
    }

    /// About how many shoppers are ahead: those admitted before this ticket's time comes.
    pub fn position(&self, now: super::Timestamp) -> u64 {
        (self.wait_millis(now) as u64 * u64::from(self.rate.max(1))).div_ceil(1000)
    }
}

/// One item whose aggregated stock disagrees with what warehouses, holds and orders imply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// The item's id.
    pub item_id: super::ItemId,
    /// What the aggregated row says.
    pub recorded: i64,
    /// Σ warehouse available − held − placed-but-unassigned.
    pub expected: i64,
    /// Whether this drift was corrected.
    pub repaired: bool,
}
