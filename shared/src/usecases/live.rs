//! Live stock: browsers watch items over a WebSocket and are told each change of what is on
//! sale, pushed from the stock stream. Stock counts are public (an item's page shows them),
//! so watching needs no sign-in. A push of `soldOut: true` is how everyone in a waiting room
//! hears at once that the item sold out.

use serde_json::json;

use crate::domain::ItemId;
use crate::ports::{ConnectionId, Inventory, Push, StoreError, Watchers, MAX_WATCHED};

/// Why a watch request was refused.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The message is not `{"action": "watch", "items": [...]}` with 1 to 25 item ids.
    #[error(
        "send {{\"action\": \"watch\", \"items\": [itemId, ...]}} with 1 to {MAX_WATCHED} item ids"
    )]
    Invalid,
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

/// `connection` watches the items named in `body`; each is told its stock at once.
#[tracing::instrument(name = "watch", skip_all, fields(connection_id = %connection))]
pub async fn watch(
    watchers: &dyn Watchers,
    inventory: &dyn Inventory,
    push: &dyn Push,
    connection: &ConnectionId,
    body: Option<&str>,
) -> Result<usize, WatchError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        action: String,
        items: Vec<String>,
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
    watchers.watch(connection, &items).await?;
    let available = inventory.available(&items).await?;
    for item in &items {
        let units = available.get(item).copied().unwrap_or(0);
        push.push(connection, &stock_message(*item, units)).await?;
    }
    Ok(items.len())
}

/// Tell every watcher of `items` what is on sale now (the sum over a sharded item's shards);
/// connections that are gone are forgotten. The number of messages delivered.
pub async fn push_stock(
    watchers: &dyn Watchers,
    inventory: &dyn Inventory,
    push: &dyn Push,
    items: &[ItemId],
) -> Result<usize, StoreError> {
    let mut items = items.to_vec();
    items.sort();
    items.dedup();
    let available = inventory.available(&items).await?;
    let mut delivered = 0;
    for item in items {
        let watching = watchers.watching(item).await?;
        if watching.is_empty() {
            continue;
        }
        let message = stock_message(item, available.get(&item).copied().unwrap_or(0));
        for connection in watching {
            if push.push(&connection, &message).await? {
                delivered += 1;
            } else {
                watchers.forget(&connection).await?;
            }
        }
    }
    Ok(delivered)
}
