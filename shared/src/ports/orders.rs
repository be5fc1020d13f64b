//! Orders and their status transitions with stock effects.

use super::StoreError;
use crate::domain::{ItemId, Page, PageRequest, UserId};
use async_trait::async_trait;

/// What an order transition does to aggregated stock, in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockEffect {
    /// No stock moves.
    None,
    /// Put the order's units back on sale (cancel).
    Return,
    /// Put these units back on sale (a cancelled line).
    ReturnUnits(ItemId, u32),
    /// Take the order's units again, only if all are available (late payment).
    Take,
}

/// How an order transition ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Committed.
    Done,
    /// The order changed since it was read.
    Stale,
    /// `StockEffect::Take` found too few units; nothing changed.
    Short,
}

/// Orders.
#[async_trait]
pub trait Orders: Send + Sync {
    /// Read one by id, consistently; `None` if there is none.
    async fn get(
        &self,
        id: crate::domain::OrderId,
    ) -> Result<Option<crate::domain::Order>, StoreError>;
    /// A user's orders, newest first, optionally within `[from, to]`.
    async fn for_user(
        &self,
        user: &UserId,
        from: Option<crate::domain::Timestamp>,
        to: Option<crate::domain::Timestamp>,
        page: &PageRequest,
    ) -> Result<Page<crate::domain::Order>, StoreError>;
    /// Store a new order that owns no stock yet (a pending payment); `Ok(false)` if it exists.
    async fn create(&self, order: &crate::domain::Order) -> Result<bool, StoreError>;
    /// Ids of orders currently in `status` (operations: reconciliation, backorder retries).
    async fn with_status(
        &self,
        status: crate::domain::OrderStatus,
    ) -> Result<Vec<crate::domain::OrderId>, StoreError>;
    /// One page of the ids of orders in `status` created at or before `before`, oldest
    /// first (the archive's candidates: an order quiet since a time was created before it).
    async fn created_before(
        &self,
        status: crate::domain::OrderStatus,
        before: crate::domain::Timestamp,
        page: &PageRequest,
    ) -> Result<Page<crate::domain::OrderId>, StoreError>;
    /// Remove an archived order if it is still exactly `order` (same version); `Ok(false)`
    /// if it changed or is gone.
    async fn remove(&self, order: &crate::domain::Order) -> Result<bool, StoreError>;
    /// Orders that owe the provider a refund or void (the payment outbox), up to `limit`.
    async fn owing(&self, limit: u32) -> Result<Vec<crate::domain::OrderId>, StoreError>;
    /// Replace `current` by `next` if unchanged since read, applying `effect` atomically.
    async fn transition(
        &self,
        current: &crate::domain::Order,
        next: &crate::domain::Order,
        effect: StockEffect,
    ) -> Result<Transition, StoreError>;
}
