//! Returns as records. A shopper's request becomes a return authorisation: its id, the units
//! of each item they may send back and the label the warehouse scans. A warehouse reports
//! what arrived against it; those units are refunded once, however often the report is
//! repeated. Units beyond an authorisation, or sent without one, are never refunded on the
//! warehouse's word: they are held for review, and a person (the item's seller) accepts or
//! refuses them.

use serde::{Deserialize, Serialize};

use super::warehouse_update::ReturnCondition;
use super::{ItemId, OrderId, Quantity, ReturnId, ReviewId, Timestamp, UserId, WarehouseId};

/// Units of one item the shopper sends back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnLine {
    /// The item's id.
    pub item_id: ItemId,
    /// How many units.
    pub quantity: Quantity,
}

/// Units of `item` over `lines`.
pub fn units_of(lines: &[ReturnLine], item: ItemId) -> u32 {
    lines
        .iter()
        .filter(|l| l.item_id == item)
        .map(|l| l.quantity.get())
        .sum()
}

/// Add `units` of `item` to `lines` (one entry per item).
pub fn add_units(lines: &mut Vec<ReturnLine>, item: ItemId, units: u32) {
    let Ok(more) = Quantity::try_from(i64::from(units)) else {
        return;
    };
    match lines.iter_mut().find(|l| l.item_id == item) {
        Some(line) => {
            line.quantity = Quantity::try_from(i64::from(line.quantity.get()) + i64::from(units))
                .unwrap_or(line.quantity);
        }
        None => lines.push(ReturnLine {
            item_id: item,
            quantity: more,
        }),
    }
}

/// What the shopper prints and sticks on the parcel; the warehouse scans `barcode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnLabel {
    /// The code on the label (the return id, so a scan names the authorisation).
    pub barcode: String,
    /// The order it belongs to.
    pub order_id: OrderId,
    /// The warehouse the parcel goes back to (the one that shipped the units).
    pub return_to: WarehouseId,
}

/// Where an authorisation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReturnState {
    /// Nothing has arrived yet.
    Authorised,
    /// Some of the authorised units arrived (and were refunded).
    PartlyReceived,
    /// Every authorised unit arrived (and was refunded).
    Received,
}

/// A return authorisation: what one request lets the shopper send back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnAuthorisation {
    /// Its id (the label's barcode).
    pub return_id: ReturnId,
    /// The units authorised, one line per item.
    pub lines: Vec<ReturnLine>,
    /// The units received against it and refunded, one line per item.
    #[serde(default)]
    pub received: Vec<ReturnLine>,
    /// Why, as the shopper gave it.
    pub reason: String,
    /// The label.
    pub label: ReturnLabel,
    /// Where it stands.
    pub state: ReturnState,
    /// When it was authorised.
    pub authorised_at: Timestamp,
}

impl ReturnAuthorisation {
    /// The authorisation numbered `n` (1-based) of `order`: the same id every time, so two
    /// requests racing for one order's next number can only write one of them.
    pub fn id_for(order: OrderId, n: usize) -> ReturnId {
        ReturnId::derived_from(&format!("{order}/{n}"))
    }

    /// Units of `item` authorised and not arrived yet.
    pub fn outstanding(&self, item: ItemId) -> u32 {
        units_of(&self.lines, item).saturating_sub(units_of(&self.received, item))
    }

    /// Take up to `units` of `item` as arrived against this authorisation; answers how many
    /// it covered (the rest is beyond it).
    pub fn receive(&mut self, item: ItemId, units: u32) -> u32 {
        let covered = units.min(self.outstanding(item));
        if covered > 0 {
            add_units(&mut self.received, item, covered);
        }
        let open = self.lines.iter().any(|l| self.outstanding(l.item_id) > 0);
        self.state = match (open, self.received.is_empty()) {
            (_, true) => ReturnState::Authorised,
            (true, false) => ReturnState::PartlyReceived,
            (false, false) => ReturnState::Received,
        };
        covered
    }
}

/// Why returned units wait for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReviewCause {
    /// More units arrived than the authorisation named (or a repeated report of units
    /// already received: the shop cannot tell the two apart, so neither is refunded).
    BeyondAuthorisation,
    /// The parcel named no authorisation of this order.
    NoAuthorisation,
}

/// Where a review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReviewState {
    /// Waiting for a decision; nothing refunded, nothing restocked.
    Pending,
    /// Accepted: refunded, and restocked if resellable.
    Accepted,
    /// Refused: no refund; the units stay set aside at the warehouse.
    Refused,
}

/// What a reviewer decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReviewDecision {
    /// Refund the units (and restock them if resellable).
    Accept,
    /// No refund.
    Refuse,
}

/// Returned units of one item held for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnReview {
    /// Its id (derived from the warehouse's report, so a redelivery holds nothing twice).
    pub review_id: ReviewId,
    /// The authorisation the parcel named, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_id: Option<ReturnId>,
    /// The item.
    pub item_id: ItemId,
    /// The item's seller, who decides (absent if the listing is gone: an operator decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_id: Option<UserId>,
    /// Where the units are.
    pub warehouse_id: WarehouseId,
    /// How many.
    pub units: Quantity,
    /// As the warehouse found them.
    pub condition: ReturnCondition,
    /// Why they wait.
    pub cause: ReviewCause,
    /// Where it stands.
    pub state: ReviewState,
    /// When the units were held.
    pub held_at: Timestamp,
    /// When it was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Timestamp>,
    /// Who decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<UserId>,
    /// What was refunded for it, minor units of the order's currency (accepted ones).
    #[serde(default)]
    pub refund: i64,
}

impl ReturnReview {
    /// The review of `item` held from the warehouse report keyed `report`.
    pub fn id_for(report: &str, item: ItemId) -> ReviewId {
        ReviewId::derived_from(&format!("{report}/{item}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u8) -> ItemId {
        ItemId::derived_from(&format!("item-{n}"))
    }

    fn authorisation(units: u32) -> ReturnAuthorisation {
        let order = OrderId::derived_from("o");
        ReturnAuthorisation {
            return_id: ReturnAuthorisation::id_for(order, 1),
            lines: vec![ReturnLine {
                item_id: item(1),
                quantity: Quantity::try_from(i64::from(units)).unwrap(),
            }],
            received: vec![],
            reason: "too small".into(),
            label: ReturnLabel {
                barcode: "x".into(),
                order_id: order,
                return_to: WarehouseId::try_from("wh-1").unwrap(),
            },
            state: ReturnState::Authorised,
            authorised_at: Timestamp::from_unix_millis(0),
        }
    }

    #[test]
    fn units_received_against_an_authorisation_are_covered_only_up_to_what_it_named() {
        let mut rma = authorisation(2);
        assert_eq!(rma.receive(item(1), 1), 1);
        assert_eq!(rma.state, ReturnState::PartlyReceived);
        assert_eq!(rma.receive(item(1), 3), 1);
        assert_eq!(rma.state, ReturnState::Received);
        // A repeat of a report already covered covers nothing.
        assert_eq!(rma.receive(item(1), 1), 0);
        assert_eq!(units_of(&rma.received, item(1)), 2);
    }

    #[test]
    fn an_item_the_authorisation_does_not_name_is_not_covered() {
        let mut rma = authorisation(1);
        assert_eq!(rma.receive(item(2), 1), 0);
        assert_eq!(rma.state, ReturnState::Authorised);
    }

    #[test]
    fn ids_are_the_same_for_the_same_order_and_number_and_differ_otherwise() {
        let order = OrderId::derived_from("o");
        assert_eq!(
            ReturnAuthorisation::id_for(order, 1),
            ReturnAuthorisation::id_for(order, 1)
        );
        assert_ne!(
            ReturnAuthorisation::id_for(order, 1),
            ReturnAuthorisation::id_for(order, 2)
        );
    }
}
