//! `record-signals`: one signal counted ([`record`]), whatever brought it (a log line or an
//! `OrderPlaced` event). Every step is idempotent, so a redelivered batch changes nothing.

use std::collections::HashMap;

use crate::domain::signal::{tallies, Signal, SignalLine};
use crate::domain::ItemId;
use crate::ports::{Catalog, SignalCounts, StoreError};

/// What one signal changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Counters that went up (already-counted repeats are not).
    pub counted: usize,
    /// Tallies that were repeats of a shopper already counted in that bucket.
    pub repeats: usize,
    /// Purchases newly recorded (with their co-purchase pairs).
    pub purchases: usize,
}

/// Count `line`, delivered under `delivery_id` (the log event's or the message's id).
#[tracing::instrument(name = "record_signal", skip_all, fields(delivery_id))]
pub async fn record(
    counts: &impl SignalCounts,
    catalog: &impl Catalog,
    line: &SignalLine,
    delivery_id: &str,
) -> Result<Recorded, StoreError> {
    let items: Vec<ItemId> = match &line.signal {
        Signal::Viewed { item, .. }
        | Signal::Carted { item, .. }
        | Signal::Wishlisted { item, .. } => vec![*item],
        Signal::Bought { items, .. } => items.clone(),
        Signal::Searched { .. } => Vec::new(),
    };
    let categories: HashMap<ItemId, crate::domain::Category> = if items.is_empty() {
        HashMap::new()
    } else {
        catalog
            .get_many(&items)
            .await?
            .into_iter()
            .map(|(id, item)| (id, item.category))
            .collect()
    };
    let mut done = Recorded::default();
    // Purchases first: a failure leaves the counters for the retry, which finds the
    // purchases already recorded and goes on.
    if let Signal::Bought { shopper, items } = &line.signal {
        for item in items {
            if counts.record_purchase(shopper, *item, line.at).await? {
                done.purchases += 1;
            }
        }
    }
    if let Signal::Searched {
        shopper: Some(shopper),
        query,
        results,
    } = &line.signal
    {
        if *results > 0 && !query.is_empty() {
            counts.remember_search(shopper, query, line.at).await?;
        }
    }
    for tally in tallies(line, delivery_id, |id| categories.get(&id).cloned()) {
        if counts.tally(&tally).await? {
            done.counted += tally.counters.len();
        } else {
            done.repeats += 1;
        }
    }
    Ok(done)
}
