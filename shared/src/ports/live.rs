//! Live stock pushed to browsers: who watches which item, and the channel to them.

use super::StoreError;
use crate::domain::{ItemId, Ticket};
use async_trait::async_trait;

/// A WebSocket connection's id as API Gateway names it (`connectionId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(String);

impl TryFrom<&str> for ConnectionId {
    type Error = String;
    fn try_from(raw: &str) -> Result<Self, String> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"=_-+/".contains(&b));
        ok.then(|| Self(raw.to_owned()))
            .ok_or_else(|| "not a connection id".to_owned())
    }
}

impl ConnectionId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The most items one connection watches (a page of results at most).
pub const MAX_WATCHED: usize = 25;

/// One connection watching one item, and the waiting-room ticket it follows for that item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// Who is told.
    pub connection: ConnectionId,
    /// The place in line this connection is told about with each push, if it named one.
    pub ticket: Option<Ticket>,
}

/// Which connections watch which items.
#[async_trait]
pub trait Watchers: Send + Sync {
    /// `connection` watches `items` too (at most [`MAX_WATCHED`] in all), following `ticket`'s
    /// place in line on the ticket's item.
    async fn watch(
        &self,
        connection: &ConnectionId,
        items: &[ItemId],
        ticket: Option<&Ticket>,
    ) -> Result<(), StoreError>;
    /// The connection closed: it watches nothing any more.
    async fn forget(&self, connection: &ConnectionId) -> Result<(), StoreError>;
    /// The connections watching `item`.
    async fn watching(&self, item: ItemId) -> Result<Vec<Watch>, StoreError>;
}

/// The channel to open connections.
#[async_trait]
pub trait Push: Send + Sync {
    /// Send `message` to `connection`: `Ok(false)` when it is gone.
    async fn push(
        &self,
        connection: &ConnectionId,
        message: &serde_json::Value,
    ) -> Result<bool, StoreError>;
}
