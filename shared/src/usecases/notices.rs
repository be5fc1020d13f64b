//! Sellers' notices: kept from the seller-notifications queue, listed by their seller.

use crate::domain::{Page, PageRequest, Principal, SellerNotice};
use crate::ports::{SellerNotices, StoreError};
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

/// Keep the notice a queued EventBridge envelope carries, once.
#[tracing::instrument(name = "keep_notice", skip_all)]
pub async fn keep(notices: &dyn SellerNotices, body: &str) -> Result<Kept, StoreError> {
    let notice = match SellerNotice::from_envelope(body) {
        Ok(n) => n,
        Err(reason) => return Ok(Kept::Refused(reason)),
    };
    Ok(if notices.keep(&notice).await? {
        tracing::info!(notice_id = %notice.notice_id, seller_id = %notice.seller_id, kind = ?notice.kind, "seller notice kept");
        Kept::New
    } else {
        Kept::Again
    })
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
