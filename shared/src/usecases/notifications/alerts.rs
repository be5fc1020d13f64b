//! A shopper's "notify me" on sold-out items: asked for on an item page or the wishlist,
//! listed, cancelled. The alert ends when its restock is told ([`super::deliver`]).

use crate::domain::notification::MAX_RESTOCK_ALERTS;
use crate::domain::{ItemId, RestockAlert, Timestamp, UserId};
use crate::ports::{Catalog, Inventory, RestockAlerts, StoreError, Watched};

/// Why an alert was not started.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// No such item.
    #[error("item {0} not found")]
    UnknownItem(ItemId),
    /// It is on sale now: buy it, there is nothing to wait for.
    #[error("item {item} is in stock ({available} on sale): nothing to wait for")]
    InStock {
        /// The item.
        item: ItemId,
        /// Units on sale.
        available: u32,
    },
    /// The shopper waits on as many items as anyone may.
    #[error("you already wait on {MAX_RESTOCK_ALERTS} items; cancel one first")]
    TooMany,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a started (or repeated) alert answers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Watching {
    /// The alert.
    #[serde(flatten)]
    pub alert: RestockAlert,
    /// `false` when the shopper had asked before.
    pub created: bool,
}

/// Start the shopper's alert on a sold-out `item` (asking twice is one alert).
#[tracing::instrument(name = "watch_restock", skip_all, fields(user_id = %user, item_id = %item))]
pub async fn watch(
    alerts: &dyn RestockAlerts,
    catalog: &dyn Catalog,
    inventory: &dyn Inventory,
    user: &UserId,
    item: ItemId,
    now: Timestamp,
) -> Result<Watching, WatchError> {
    if catalog.get(item).await?.is_none() {
        return Err(WatchError::UnknownItem(item));
    }
    let available = inventory
        .available(&[item])
        .await?
        .get(&item)
        .copied()
        .unwrap_or(0);
    if available > 0 {
        return Err(WatchError::InStock { item, available });
    }
    match alerts.watch(user, item, now, MAX_RESTOCK_ALERTS).await? {
        Watched::TooMany => Err(WatchError::TooMany),
        Watched::New => Ok(Watching {
            alert: RestockAlert {
                item_id: item,
                since: now,
            },
            created: true,
        }),
        Watched::Already => {
            let alert = alerts
                .watching(user)
                .await?
                .into_iter()
                .find(|a| a.item_id == item)
                .unwrap_or(RestockAlert {
                    item_id: item,
                    since: now,
                });
            Ok(Watching {
                alert,
                created: false,
            })
        }
    }
}

/// The shopper's alerts, newest first.
pub async fn watching(
    alerts: &dyn RestockAlerts,
    user: &UserId,
) -> Result<Vec<RestockAlert>, StoreError> {
    alerts.watching(user).await
}

/// Cancel the shopper's alert on `item` (cancelling one that is not there is fine: the
/// outcome the shopper wants holds).
#[tracing::instrument(name = "unwatch_restock", skip_all, fields(user_id = %user, item_id = %item))]
pub async fn unwatch(
    alerts: &dyn RestockAlerts,
    user: &UserId,
    item: ItemId,
) -> Result<(), StoreError> {
    alerts.unwatch(user, item).await?;
    Ok(())
}

/// One-click unsubscribe (RFC 8058): the token's shopper gets no more optional mail.
/// `false` for a token nobody holds.
#[tracing::instrument(name = "unsubscribe", skip_all)]
pub async fn unsubscribe(
    unsubscribes: &dyn crate::ports::Unsubscribes,
    token: &str,
) -> Result<bool, StoreError> {
    let who = unsubscribes.unsubscribe(token).await?;
    if let Some(user) = &who {
        tracing::info!(user_id = %user, "optional mail turned off by one-click unsubscribe");
    }
    Ok(who.is_some())
}
