//! Cancel a checkout: the shopper releases the hold (idempotent).

use super::*;

/// Release a checkout's hold at the shopper's request (idempotent). A checkout being paid
/// for (or paid) is closed: `Closed`, and the payment decides.
#[tracing::instrument(name = "cancel", skip_all, fields(user_id = %user, checkout_id = %id))]
pub async fn cancel(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
) -> Result<CheckoutView, CheckoutError> {
    let mut checkout = own_checkout(shop, user, id).await?;
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        if checkout.order_id.is_some()
            || checkout.state == HoldState::Consumed
            || (checkout.state == HoldState::Held && checkout.paying.is_some())
        {
            return Err(CheckoutError::Closed);
        }
        if checkout.state != HoldState::Held
            || shop
                .checkouts
                .release(&checkout, ReleaseReason::Cancelled, shop.clock.now())
                .await?
        {
            break;
        }
        // The release's condition failed: a submit claimed it, or something else ended it.
        checkout = own_checkout(shop, user, id).await?;
    }
    let now = shop.clock.now();
    let current = shop.checkouts.get(id).await?.unwrap_or(checkout);
    Ok(CheckoutView::of(&current, now))
}
