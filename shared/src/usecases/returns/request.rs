//! A shopper asks to return units they hold and is given an authorisation.

use super::{ReturnError, Shop};
use crate::domain::returns::add_units;
use crate::domain::{
    OrderId, OrderStatus, ReturnAuthorisation, ReturnId, ReturnLabel, ReturnLine, ReturnState,
    ShipmentState, UserId,
};
use crate::ports::{StockEffect, StoreError, Transition};
use crate::retry::Policy;

/// What a request gave.
#[derive(Debug, Clone)]
pub struct Requested {
    /// The authorisation.
    pub authorisation: ReturnAuthorisation,
    /// `false` when a retried request found the authorisation it made before.
    pub created: bool,
}

/// Authorise the return of `lines` (units the shopper holds: delivered, not back and not
/// already authorised). The order moves to `RETURN_REQUESTED` and gains the authorisation in
/// one write conditioned on the order's version, so of two requests racing on one order one
/// is written and the other is judged again on what it left.
///
/// Retries: with an `Idempotency-Key` (`key`) the authorisation's id derives from it, and a
/// retry answers the authorisation it made. Without one, a retry whose units are no longer
/// there to authorise answers the latest authorisation if it is the same request (same lines
/// and reason, nothing arrived yet).
#[tracing::instrument(name = "request_return", skip_all, fields(user_id = %user, order_id = %id))]
pub async fn request(
    shop: Shop<'_>,
    user: &UserId,
    id: OrderId,
    lines: Vec<ReturnLine>,
    reason: String,
    key: Option<&str>,
) -> Result<Requested, ReturnError> {
    if lines.is_empty() {
        return Err(ReturnError::Invalid(
            "name at least one line to return".into(),
        ));
    }
    let mut wanted: Vec<ReturnLine> = Vec::new();
    for line in &lines {
        add_units(&mut wanted, line.item_id, line.quantity.get());
    }
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let order = match crate::usecases::archive::find(shop, id).await? {
            Some(order) if &order.user_id == user => order,
            _ => return Err(ReturnError::NotFound),
        };
        let return_id = match key {
            Some(key) => ReturnId::derived_from(&format!("{id}/key/{key}")),
            None => ReturnAuthorisation::id_for(id, order.returns.len() + 1),
        };
        let replay = |a: &ReturnAuthorisation| Requested {
            authorisation: a.clone(),
            created: false,
        };
        if let Some(made) = key.and_then(|_| order.return_auth(return_id)) {
            if made.lines != wanted || made.reason != reason {
                return Err(ReturnError::KeyReused);
            }
            return Ok(replay(made));
        }
        if !order.status.returnable() {
            return Err(ReturnError::NotReturnable(order.status));
        }
        if !order.return_window_open(shop.clock.now()) {
            let closed = order.return_window_closes().unwrap_or(order.updated_at);
            return Err(ReturnError::WindowClosed(closed));
        }
        let short = wanted
            .iter()
            .map(|l| {
                (
                    l.item_id,
                    l.quantity.get(),
                    order.returnable_units(l.item_id),
                )
            })
            .find(|(_, asked, left)| asked > left);
        if let Some((item, _, left)) = short {
            if let Some(last) = order.returns.last().filter(|last| {
                key.is_none()
                    && last.lines == wanted
                    && last.reason == reason
                    && last.state == ReturnState::Authorised
            }) {
                return Ok(replay(last));
            }
            return Err(ReturnError::Invalid(format!(
                "item {item}: {left} unit(s) can still be returned"
            )));
        }
        // The parcel goes back to the warehouse that shipped the first item.
        let shipments = shop.fulfilment.shipments(id).await?;
        let first = wanted[0].item_id;
        let return_to = shipments
            .iter()
            .filter(|s| s.state != ShipmentState::Cancelled)
            .max_by_key(|s| s.units_of(first))
            .map(|s| s.warehouse_id.clone())
            .ok_or_else(|| {
                ReturnError::Invalid(format!("order {id} has no shipment to return to"))
            })?;
        let now = shop.clock.now();
        let authorisation = ReturnAuthorisation {
            return_id,
            lines: wanted.clone(),
            received: Vec::new(),
            reason: reason.clone(),
            label: ReturnLabel {
                barcode: return_id.to_string(),
                order_id: id,
                return_to,
            },
            state: ReturnState::Authorised,
            authorised_at: now,
        };
        let mut next = order.moved_to(
            OrderStatus::ReturnRequested,
            now,
            Some(format!("return {return_id} authorised: {reason}")),
        );
        next.returns.push(authorisation.clone());
        match shop
            .orders
            .transition(&order, &next, StockEffect::None)
            .await?
        {
            Transition::Done => {
                tracing::info!(return_id = %return_id, "return authorised");
                return Ok(Requested {
                    authorisation,
                    created: true,
                });
            }
            // Something moved (a report, another request): judge again on what it left.
            _ => continue,
        }
    }
    Err(StoreError::Contention(format!("order {id} kept changing; retry")).into())
}
