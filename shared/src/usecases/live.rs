//! Live stock: browsers watch items over a WebSocket and are told each change of what is on
//! sale, pushed from the stock stream. Stock counts are public (an item's page shows them),
//! so watching needs no sign-in. A push of `soldOut: true` is how everyone in a waiting room
//! hears at once that the item sold out. A watcher that names its waiting-room ticket is also
//! pushed its place in line (`queue`) with each push, and at once.

use futures_util::StreamExt;
use serde_json::json;

use crate::domain::{ItemId, Ticket, TicketView, Timestamp};
use crate::ports::{ConnectionId, Inventory, Push, StoreError, WaitingRoom, Watchers, MAX_WATCHED};

/// Why a watch request was refused.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The message is not `{"action": "watch", "items": [...], "ticket"?: ticketId}` with 1
    /// to 25 item ids.
    #[error(
        "send {{\"action\": \"watch\", \"items\": [itemId, ...], \"ticket\": ticketId (optional)}} with 1 to {MAX_WATCHED} item ids"
    )]
    Invalid,
    /// The named ticket does not exist or has lapsed.
    #[error("no valid waiting-room ticket has this id")]
    UnknownTicket,
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The message a watcher gets for one item.
pub fn stock_message(item: ItemId, available: u32) -> serde_json::Value {
    json!({
        "type": "stock",
        "itemId": item,
        "available": available,
        "inStock": available > 0,
        "soldOut": available == 0,
    })
}

/// The message a watcher following `ticket` gets: its place in line as of `now`, and whether
/// the item sold out (then the wait is over, with nothing to buy).
pub fn queue_message(ticket: &Ticket, now: Timestamp, sold_out: bool) -> serde_json::Value {
    let mut message = serde_json::to_value(TicketView::of(ticket, now)).unwrap_or_default();
    message["type"] = json!("queue");
    message["soldOut"] = json!(sold_out);
    message
}

/// What the live API needs to answer a watcher.
#[derive(Clone, Copy)]
pub struct Live<'a> {
    /// Who watches what.
    pub watchers: &'a dyn Watchers,
    /// Stock on sale.
    pub inventory: &'a dyn Inventory,
    /// Tickets, looked up by id.
    pub room: &'a dyn WaitingRoom,
    /// The channel to the connections.
    pub push: &'a dyn Push,
}

/// `connection` watches the items named in `body`; each is told its stock at once, and a named
/// ticket its place in line.
#[tracing::instrument(name = "watch", skip_all, fields(connection_id = %connection))]
pub async fn watch(
    live: Live<'_>,
    connection: &ConnectionId,
    body: Option<&str>,
    now: Timestamp,
) -> Result<usize, WatchError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        action: String,
        items: Vec<String>,
        ticket: Option<String>,
    }
    let parsed: Body = body
        .and_then(|b| serde_json::from_str(b).ok())
        .ok_or(WatchError::Invalid)?;
    if parsed.items.is_empty() || parsed.items.len() > MAX_WATCHED {
        return Err(WatchError::Invalid);
    }
    let items = parsed
        .items
        .iter()
        .map(|raw| ItemId::try_from(raw.as_str()).map_err(|_| WatchError::Invalid))
        .collect::<Result<Vec<_>, _>>()?;
    let ticket = match parsed.ticket.as_deref() {
        None => None,
        Some(raw) => {
            let id = uuid::Uuid::parse_str(raw).map_err(|_| WatchError::UnknownTicket)?;
            let ticket = live
                .room
                .by_id(id, now)
                .await?
                .ok_or(WatchError::UnknownTicket)?;
            if !items.contains(&ticket.item_id) {
                return Err(WatchError::Invalid);
            }
            Some(ticket)
        }
    };
    live.watchers
        .watch(connection, &items, ticket.as_ref())
        .await?;
    let available = live.inventory.available(&items).await?;
    for item in &items {
        let units = available.get(item).copied().unwrap_or(0);
        live.push
            .push(connection, &stock_message(*item, units))
            .await?;
        if let Some(t) = ticket.as_ref().filter(|t| t.item_id == *item) {
            live.push
                .push(connection, &queue_message(t, now, units == 0))
                .await?;
        }
    }
    Ok(items.len())
}

/// Tell every watcher of `items` what is on sale now (the sum over a sharded item's shards),
/// and each watcher following a ticket its place in line as of `now`; connections that are
/// gone are forgotten. The number of messages delivered.
#[tracing::instrument(name = "push_stock", skip_all, fields(items = items.len()))]
pub async fn push_stock(
    live: Live<'_>,
    items: &[ItemId],
    now: Timestamp,
) -> Result<usize, StoreError> {
    let mut items = items.to_vec();
    items.sort();
    items.dedup();
    let available = live.inventory.available(&items).await?;
    let mut delivered = 0;
    for item in items {
        let watching = live.watchers.watching(item).await?;
        if watching.is_empty() {
            continue;
        }
        let units = available.get(&item).copied().unwrap_or(0);
        let message = stock_message(item, units);
        // Each watcher is one HTTPS call to the management API: a few hundred watchers one
        // at a time would outlast the function, so they are sent PUSH_CONCURRENCY at once.
        let sent: Vec<Result<usize, StoreError>> =
            futures_util::stream::iter(watching.into_iter().map(|watch| {
                let mut messages = vec![message.clone()];
                if let Some(ticket) = watch.ticket.as_ref().filter(|t| now < t.expires_at) {
                    messages.push(queue_message(ticket, now, units == 0));
                }
                async move {
                    let mut sent = 0;
                    for m in &messages {
                        if !live.push.push(&watch.connection, m).await? {
                            live.watchers.forget(&watch.connection).await?;
                            break;
                        }
                        sent += 1;
                    }
                    Ok(sent)
                }
            }))
            .buffer_unordered(PUSH_CONCURRENCY)
            .collect()
            .await;
        for outcome in sent {
            delivered += outcome?;
        }
    }
    Ok(delivered)
}

/// Pushes in flight at once per item (each a call to the WebSocket management API).
pub const PUSH_CONCURRENCY: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_message_tells_the_place_in_line_as_of_now_and_whether_the_item_sold_out() {
        let now = Timestamp::from_unix_millis(1_000_000);
        let ticket = Ticket {
            ticket_id: "t".into(),
            item_id: ItemId::generate(),
            admit_at: now.plus_millis(4_000),
            expires_at: now.plus_millis(124_000),
            rate: 2,
        };
        let m = queue_message(&ticket, now, false);
        assert_eq!(m["type"], "queue");
        assert_eq!(m["state"], "WAITING");
        assert_eq!(m["position"], 8);
        assert_eq!(m["estimatedWaitSeconds"], 4);
        assert_eq!(m["soldOut"], false);
        let later = queue_message(&ticket, now.plus_millis(5_000), true);
        assert_eq!(
            (later["state"].clone(), later["position"].clone()),
            ("ADMITTED".into(), 0.into())
        );
        assert_eq!(later["soldOut"], true);
    }
}
