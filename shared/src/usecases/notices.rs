//! Sellers' notices: kept from the seller-notifications queue, listed by their seller.

use crate::domain::event::{Envelope, Event, EventKind};
use crate::domain::{Page, PageRequest, Principal, SellerNotice};
use crate::ports::{Catalog, SellerNotices, StoreError};
use crate::usecases::catalog::SellerItemsError;

/// What keeping one queued message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// A new notice.
    New,
    /// Kept before: a redelivery, nothing written.
    Again,
    /// Not a seller notice; the reason goes with it to the dead-letter queue.
    Refused(String),
}

/// Keep the notice(s) a queued EventBridge envelope carries, once: a stock alert or review
/// is one notice; a new order is one per seller of its items, with their lines only.
#[tracing::instrument(name = "keep_notice", skip_all)]
pub async fn keep(
    notices: &dyn SellerNotices,
    catalog: &dyn Catalog,
    body: &str,
) -> Result<Kept, StoreError> {
    let kept = match Envelope::parse_only(body, &[EventKind::OrderPlaced], "a new order") {
        Ok(Envelope {
            event_id,
            time,
            event: Event::OrderPlaced(order),
        }) => {
            let ids: Vec<_> = order.lines.iter().map(|l| l.item_id).collect();
            let items = catalog.get_many(&ids).await?;
            SellerNotice::new_orders(&event_id, time, &order, |id| {
                items.get(&id).map(|item| item.seller_id.clone())
            })
        }
        _ => match SellerNotice::from_envelope(body) {
            Ok(n) => vec![n],
            Err(reason) => return Ok(Kept::Refused(reason)),
        },
    };
    let mut any_new = false;
    for notice in &kept {
        if notices.keep(notice).await? {
            tracing::info!(notice_id = %notice.notice_id, seller_id = %notice.seller_id, kind = ?notice.kind, "seller notice kept");
            any_new = true;
        }
    }
    Ok(if any_new { Kept::New } else { Kept::Again })
}

/// The signed-in seller's own notices, newest first (sellers only: the same refusals as
/// their item listing).
#[tracing::instrument(name = "list_notices", skip_all, fields(user_id = %who.user_id))]
pub async fn list(
    notices: &dyn SellerNotices,
    who: &Principal,
    page: &PageRequest,
) -> Result<Page<SellerNotice>, SellerItemsError> {
    crate::usecases::catalog::seller_only(who)?;
    Ok(notices.list(&who.user_id, page).await?)
}
