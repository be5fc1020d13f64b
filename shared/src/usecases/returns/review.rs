//! A seller decides on returned units held for review.

use super::{refund_for, restock, Shop};
use crate::domain::returns::add_units;
use crate::domain::warehouse_update::ReturnCondition;
use crate::domain::{
    DueKind, MoneyDue, OrderId, Principal, ReturnReview, ReviewDecision, ReviewId, ReviewState,
    Role,
};
use crate::ports::{Applied, FulfilmentChange, StoreError};
use crate::retry::Policy;

/// Why a review decision was refused; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// Only sellers decide on returned units.
    #[error("only sellers decide on returned units")]
    NotASeller,
    /// No such review of the caller's items (another seller's is indistinguishable from none).
    #[error("review not found")]
    NotFound,
    /// It was decided the other way already.
    #[error("this review was already decided ({})", match .0 { ReviewState::Accepted => "ACCEPTED", ReviewState::Refused => "REFUSED", ReviewState::Pending => "PENDING" })]
    AlreadyDecided(ReviewState),
    /// Accepting would refund units the shopper was refunded or authorised for already.
    #[error("only {acceptable} unit(s) of this item can still be refunded on this order")]
    TooMany {
        /// Units that could be.
        acceptable: u32,
    },
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The seller of a held item accepts (refund, and restock if resellable) or refuses (no
/// refund; the units stay set aside) it. Deciding the same way again answers the review as
/// decided (a retry); the other way is refused. Accepting never refunds more units than the
/// shopper holds un-refunded and un-authorised, so a review that duplicates an authorised
/// receipt cannot pay twice.
#[tracing::instrument(name = "decide_review", skip_all, fields(user_id = %who.user_id, order_id = %order_id, review_id = %review_id))]
pub async fn decide(
    shop: Shop<'_>,
    who: &Principal,
    order_id: OrderId,
    review_id: ReviewId,
    decision: ReviewDecision,
) -> Result<ReturnReview, ReviewError> {
    if !who.has(Role::Seller) {
        return Err(ReviewError::NotASeller);
    }
    let wanted = match decision {
        ReviewDecision::Accept => ReviewState::Accepted,
        ReviewDecision::Refuse => ReviewState::Refused,
    };
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let order = shop
            .orders
            .get(order_id)
            .await?
            .ok_or(ReviewError::NotFound)?;
        let Some(at) = order
            .reviews
            .iter()
            .position(|r| r.review_id == review_id && r.seller_id.as_ref() == Some(&who.user_id))
        else {
            return Err(ReviewError::NotFound);
        };
        let review = &order.reviews[at];
        match review.state {
            ReviewState::Pending => {}
            s if s == wanted => return Ok(review.clone()),
            s => return Err(ReviewError::AlreadyDecided(s)),
        }
        let now = shop.clock.now();
        let (item, units) = (review.item_id, review.units.get());
        let mut next = order.clone();
        let mut stock = Vec::new();
        if decision == ReviewDecision::Accept {
            let acceptable = order.returnable_units(item);
            if units > acceptable {
                return Err(ReviewError::TooMany { acceptable });
            }
            let refund = refund_for(&order, item, units).amount;
            add_units(&mut next.returned, item, units);
            next.reviews[at].refund = refund;
            if refund > 0 {
                next.owe(MoneyDue {
                    key: format!("review-{review_id}"),
                    kind: DueKind::Refund,
                    amount: refund,
                });
            }
            if review.condition == ReturnCondition::Resellable {
                stock.extend(restock(&review.warehouse_id, item, units));
            }
            next = next.after_refunded_return(
                now,
                format!("{units} returned unit(s) of {item} accepted after review; refunded {refund} minor units"),
            );
        } else {
            next.updated_at = now;
        }
        next.reviews[at].state = wanted;
        next.reviews[at].decided_at = Some(now);
        next.reviews[at].decided_by = Some(who.user_id.clone());
        next.version = order.version + 1;
        let decided = next.reviews[at].clone();
        let change = FulfilmentChange {
            order: Some((&order, &next)),
            shipments: Vec::new(),
            stock,
            once: None,
        };
        match shop.fulfilment.apply(&change).await? {
            Applied::Done => {
                tracing::info!(decision = ?decision, "return review decided");
                if !next.money_due.is_empty() {
                    crate::usecases::payments::settle_dues(shop, next).await;
                }
                return Ok(decided);
            }
            Applied::AlreadyApplied | Applied::Stale | Applied::Short => continue,
        }
    }
    Err(StoreError::Contention(format!("order {order_id} kept changing; retry")).into())
}
