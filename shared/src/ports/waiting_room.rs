//! The waiting room in front of a hot item's checkout: tickets in arrival order.

use super::StoreError;
use crate::domain::{ItemId, Ticket, Timestamp, UserId};
use async_trait::async_trait;

/// Places in line for items sold through a waiting room.
#[async_trait]
pub trait WaitingRoom: Send + Sync {
    /// The shopper's ticket for `item`: the one they already hold while it is valid (a
    /// double click or a retry never queues twice), else a new one at the back of the line,
    /// its admission time spaced so that `rate` shoppers a second are admitted in all.
    async fn arrive(
        &self,
        item: ItemId,
        user: &UserId,
        rate: u32,
        now: Timestamp,
    ) -> Result<Ticket, StoreError>;
    /// The valid ticket with this id, whoever holds it: what a live-stock watcher names to be
    /// told its place in line (the id is a random UUID handed only to its holder).
    async fn by_id(
        &self,
        ticket_id: uuid::Uuid,
        now: Timestamp,
    ) -> Result<Option<Ticket>, StoreError>;
    /// The shopper's ticket for `item`, if they hold a valid one (no new place is taken).
    async fn ticket(
        &self,
        item: ItemId,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Option<Ticket>, StoreError>;
}
