//! Checkout: hold the cart's stock, pay, and let holds nobody completes expire on time.
//!
//! Expiry has three independent triggers that may race in any order with each other and
//! with cancel and submit: the timer message sent when the hold is taken ([`expire`]), the
//! sweeper that runs every minute ([`sweep`]), and DynamoDB's TTL deletion seen on the
//! holds stream ([`expired_by_ttl`]). All of them end in `Checkouts::release`, which moves
//! the stock back only if the hold is still held, so whichever comes first acts and the rest
//! do nothing. Reads treat a held checkout past `expiresAt` as expired regardless.
//!
//! Paying is exact under concurrency because the attempt is recorded on the hold *before*
//! the provider is called (`Checkouts::claim_payment`, one conditional write): a second
//! submit, a cancel or a replacing checkout sees the attempt and backs off, and only an
//! expiry may end a hold whose payment is in flight, after asking the provider what became
//! of it. So stock is taken again after the fact (a late success) only for a hold that
//! expired, never for one the shopper cancelled or replaced.

use crate::retry::Policy;
use std::time::Duration;

use serde::Serialize;

use super::Shop;
use serde::Deserialize;

use crate::domain::{
    Address, Checkout, CheckoutId, CheckoutStatus, DueKind, HoldLine, HoldState, ItemId, Money,
    MoneyDue, Order, OrderStatus, Payment, PaymentAttempt, PaymentState, ReleaseReason,
    SaleSettings, Timestamp, UserId,
};
use crate::ports::{
    ChargeOutcome, ChargeRef, ChargeStatus, HoldRefused, Opened, PaymentClaim, Receipt, Replacing,
    RequestClaim, StockEffect, StoreError, TimerMessage, Transition,
};

/// How long after an unanswered payment the provider is asked again.
pub const SETTLE_RETRY: Duration = Duration::from_secs(30);
/// How many times a pending payment is looked up before it is voided.
pub const MAX_SETTLE_CHECKS: u32 = 10;
/// The longest a submit's provider call may take (the provider adapter times out sooner).
/// An expiry leaves a younger payment attempt alone: the provider may not know of a charge
/// still on its way, and "no such charge" must not be read as "failed" while it might be.
pub const PAYMENT_GRACE: Duration = Duration::from_secs(30);

/// A checkout as the shopper sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutView {
    /// The checkout's id.
    pub checkout_id: CheckoutId,
    /// Where it stands now.
    pub status: CheckoutStatus,
    /// The lines, one per item.
    pub lines: Vec<HoldLine>,
    /// What it costs in all.
    pub total: Money,
    /// When the hold expires; reads after it treat it as expired.
    pub expires_at: Timestamp,
    /// The order's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<crate::domain::OrderId>,
}

impl CheckoutView {
    /// The checkout as its owner sees it at `now`.
    pub fn of(checkout: &Checkout, now: Timestamp) -> Self {
        Self {
            checkout_id: checkout.checkout_id,
            status: checkout.status(now),
            lines: checkout.lines.clone(),
            total: checkout.total,
            expires_at: checkout.expires_at,
            order_id: checkout.order_id,
        }
    }
}

/// A line that could not be held.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Shortfall {
    /// The item's id.
    pub item_id: ItemId,
    /// Units the cart wanted.
    pub requested: u32,
    /// Units on sale now.
    pub available: u32,
}

/// Why a `Begin` use case refused or failed; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum BeginError {
    /// The cart is empty.
    #[error("the cart is empty")]
    CartEmpty,
    /// Some items are out of stock.
    #[error("some items are out of stock")]
    OutOfStock(Vec<Shortfall>),
    /// A cart can be checked out in one currency only.
    #[error("a cart can be checked out in one currency only")]
    MixedCurrencies,
    /// The total is outside what one card payment in its currency may be (the provider's
    /// minimum and maximum charge amounts): refused before any stock is held.
    #[error("the total of {} {} is outside the payment limits for its currency ({min}..={max})", total.amount, total.currency)]
    NotChargeable {
        /// The cart's total.
        total: Money,
        /// The smallest chargeable amount, minor units.
        min: i64,
        /// The largest chargeable amount, minor units.
        max: i64,
    },
    /// Another checkout was started at the same time; retry.
    #[error("another checkout was started at the same time; retry")]
    Concurrent,
    /// The current checkout is being paid for; it cannot be replaced now.
    #[error("the current checkout is being paid for; it cannot be replaced now")]
    PaymentInProgress,
    /// A replay of a key whose checkout is gone (TTL deleted its expired hold).
    #[error("the checkout this key began has expired")]
    Expired,
    /// A hot item in the cart is sold through a waiting room and the shopper's turn has not
    /// come: their ticket says when it does.
    #[error("in the waiting room")]
    Waiting(crate::domain::Ticket),
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outcome of a begin: the checkout, and whether it was created by an earlier request
/// with the same idempotency key.
#[derive(Debug)]
pub struct Begun {
    /// The held checkout.
    pub checkout: Checkout,
    /// Whether this was a retry answered with the first begin's checkout.
    pub replayed: bool,
}

/// How long a begun checkout's lines cost, checked.
fn total_of(lines: &[HoldLine]) -> Result<Money, BeginError> {
    let currency = lines[0].unit_price.currency;
    if lines.iter().any(|l| l.unit_price.currency != currency) {
        return Err(BeginError::MixedCurrencies);
    }
    Ok(Money::sum(
        currency,
        lines
            .iter()
            .map(|l| l.unit_price.times(l.quantity.get()).amount),
    ))
}

/// Begin checkout: hold every cart line for `shop.hold`, all or nothing.
///
/// One active checkout per user: beginning again **replaces** the previous checkout (its
/// hold is released in the same transaction), because the cart may have changed since; a
/// checkout whose payment is in flight is not replaced. A retry with the same
/// `Idempotency-Key` returns the checkout that key created.
///
/// Three sequential DynamoDB round trips: the key, cart and latest pointer read at once;
/// the items and the previous checkout read at once; the hold transaction.
#[tracing::instrument(name = "begin", skip_all, fields(user_id = %user))]
pub async fn begin(
    shop: Shop<'_>,
    user: &UserId,
    idempotency_key: &str,
) -> Result<Begun, BeginError> {
    let (earlier, cart, latest) = tokio::try_join!(
        shop.checkouts.begun_with(user, idempotency_key),
        shop.carts.cart(user),
        shop.checkouts.latest(user),
    )?;
    // A retry must not replace the very checkout it created: answer it before anything else.
    if let Some(id) = earlier {
        return replay(shop, id).await;
    }
    if cart.lines.is_empty() {
        return Err(BeginError::CartEmpty);
    }
    let ids: Vec<ItemId> = cart.lines.keys().copied().collect();
    let previous = async {
        match latest {
            Some(id) => shop.checkouts.get(id).await,
            None => Ok(None),
        }
    };
    let (items, previous, sales) = tokio::try_join!(
        shop.catalog.get_many(&ids),
        previous,
        shop.inventory.sales(&ids)
    )?;
    let delisted: Vec<Shortfall> = cart
        .lines
        .iter()
        .filter(|(id, _)| !items.contains_key(id))
        .map(|(id, q)| Shortfall {
            item_id: *id,
            requested: q.get(),
            available: 0,
        })
        .collect();
    if !delisted.is_empty() {
        return Err(BeginError::OutOfStock(delisted));
    }
    let lines: Vec<HoldLine> = cart
        .lines
        .iter()
        .map(|(id, q)| {
            let item = &items[id];
            HoldLine {
                item_id: *id,
                name: item.name.to_string(),
                quantity: *q,
                unit_price: item.price,
            }
        })
        .collect();
    let total = total_of(&lines)?;
    if let Err((min, max)) = total.chargeable() {
        return Err(BeginError::NotChargeable { total, min, max });
    }

    let now = shop.clock.now();
    admit(shop, user, &sales, now).await?;
    let held = previous.as_ref().filter(|old| old.state == HoldState::Held);
    if held.is_some_and(|old| old.paying.is_some()) {
        return Err(BeginError::PaymentInProgress);
    }
    let replacing = latest.map(|pointer| Replacing {
        pointer,
        held: held.map(|old| {
            let why = if old.expires_at <= now {
                ReleaseReason::Expired
            } else {
                ReleaseReason::Replaced
            };
            (old, why)
        }),
    });
    let checkout = Checkout {
        checkout_id: CheckoutId::generate(),
        user_id: user.clone(),
        lines,
        total,
        created_at: now,
        expires_at: now.plus_millis(shop.hold.as_millis() as i64),
        state: HoldState::Held,
        release_reason: None,
        order_id: None,
        declines: 0,
        last_decline: None,
        attempts: 0,
        paying: None,
        stock_shards: sales
            .iter()
            .filter(|(_, sale)| sale.is_sharded())
            .map(|(id, sale)| (*id, sale.home_shard(user, *id)))
            .collect(),
    };
    match hold(
        shop,
        &checkout,
        replacing,
        cart.version,
        idempotency_key,
        &sales,
    )
    .await
    {
        Ok(()) => {
            tracing::info!(checkout_id = %checkout.checkout_id, lines = checkout.lines.len(), "stock held");
            let timer = TimerMessage::Expire {
                v: 1,
                checkout_id: checkout.checkout_id,
            };
            if let Err(e) = shop.timer.schedule(&timer, shop.hold).await {
                // Not fatal: the sweeper and the TTL stream release it anyway.
                tracing::warn!(checkout_id = %checkout.checkout_id, error = %e, "expiry timer not scheduled");
            }
            Ok(Begun {
                checkout,
                replayed: false,
            })
        }
        Err(HoldRefused::Replay(id)) => replay(shop, id).await,
        Err(HoldRefused::Short(short)) => {
            let available = shop.inventory.available(&short).await?;
            let details = checkout
                .lines
                .iter()
                .filter(|l| short.contains(&l.item_id))
                .map(|l| Shortfall {
                    item_id: l.item_id,
                    requested: l.quantity.get(),
                    available: available.get(&l.item_id).copied().unwrap_or(0),
                })
                .collect();
            Err(BeginError::OutOfStock(details))
        }
        Err(HoldRefused::Concurrent) => Err(BeginError::Concurrent),
        Err(HoldRefused::Store(e)) => Err(e.into()),
    }
}

/// The hold, for sharded items with their fallbacks: a line whose home shard ran dry has
/// units moved there from the item's other shards and the hold tried again, so a shopper is
/// told "sold out" only when all shards together are short. Contention that outlasts the
/// retries raises the items' shard count for the next shoppers.
async fn hold(
    shop: Shop<'_>,
    checkout: &Checkout,
    replacing: Option<Replacing<'_>>,
    cart_version: u64,
    idempotency_key: &str,
    sales: &std::collections::HashMap<ItemId, SaleSettings>,
) -> Result<(), HoldRefused> {
    let mut moved_for = 0;
    loop {
        match shop
            .checkouts
            .hold(checkout, replacing, cart_version, idempotency_key)
            .await
        {
            Err(HoldRefused::Short(short)) if moved_for < 3 => {
                let mut genuinely_short = Vec::new();
                for item in short {
                    let units = checkout
                        .lines
                        .iter()
                        .filter(|l| l.item_id == item)
                        .map(|l| l.quantity.get())
                        .sum();
                    let sharded = sales.get(&item).is_some_and(SaleSettings::is_sharded);
                    if !sharded
                        || !shop
                            .inventory
                            .concentrate(item, checkout.shard_of(item), units)
                            .await?
                    {
                        genuinely_short.push(item);
                    }
                }
                if !genuinely_short.is_empty() {
                    return Err(HoldRefused::Short(genuinely_short));
                }
                moved_for += 1;
            }
            Err(HoldRefused::Short(_)) => {
                // Units were there each time, but other shoppers took them first.
                return Err(
                    StoreError::Contention("stock moved between shards while held".into()).into(),
                );
            }
            Err(HoldRefused::Store(StoreError::Contention(why))) => {
                for line in &checkout.lines {
                    let sale = sales.get(&line.item_id).copied().unwrap_or_default();
                    if let Some(raised) = sale.raised() {
                        match shop.inventory.configure_sale(line.item_id, raised).await {
                            Ok(_) => {
                                tracing::warn!(item_id = %line.item_id, shards = raised.shards, "contention seen: stock shards raised")
                            }
                            Err(e) => {
                                tracing::warn!(item_id = %line.item_id, error = %e, "raising stock shards failed")
                            }
                        }
                    }
                }
                return Err(StoreError::Contention(why).into());
            }
            other => return other,
        }
    }
}

/// The waiting room: for each cart item sold through one, the shopper must hold an admitted
/// ticket. An item already sold out answers so at once (nobody queues for nothing).
async fn admit(
    shop: Shop<'_>,
    user: &UserId,
    sales: &std::collections::HashMap<ItemId, SaleSettings>,
    now: Timestamp,
) -> Result<(), BeginError> {
    // The gate answers "sold out" from a recent reading before any write: after a launch
    // sells out, the crowd must not keep writing its rows. (A sharded item without a waiting
    // room is told only by its hold: never a stale "sold out" there.)
    let hot: Vec<(ItemId, SaleSettings)> = sales
        .iter()
        .filter(|(_, s)| s.waiting_room)
        .map(|(id, s)| (*id, *s))
        .collect();
    if hot.is_empty() {
        return Ok(());
    }
    let ids: Vec<ItemId> = hot.iter().map(|(id, _)| *id).collect();
    // A reading at most a second old: every arrival asks, and a hot item's row must not be
    // read thousands of times a second. (Units a release puts back are seen within a second.)
    let available = shop.inventory.available_recently(&ids).await?;
    let sold_out: Vec<Shortfall> = ids
        .iter()
        .filter(|id| available.get(id).copied().unwrap_or(0) == 0)
        .map(|id| Shortfall {
            item_id: *id,
            requested: 1,
            available: 0,
        })
        .collect();
    if !sold_out.is_empty() {
        return Err(BeginError::OutOfStock(sold_out));
    }
    let mut latest: Option<crate::domain::Ticket> = None;
    for (item, sale) in hot {
        let ticket = shop
            .waiting_room
            .arrive(item, user, sale.admission_rate(), now)
            .await?;
        if !ticket.admitted(now) && latest.as_ref().is_none_or(|t| t.admit_at < ticket.admit_at) {
            latest = Some(ticket);
        }
    }
    match latest {
        Some(ticket) => Err(BeginError::Waiting(ticket)),
        None => Ok(()),
    }
}

async fn replay(shop: Shop<'_>, id: CheckoutId) -> Result<Begun, BeginError> {
    // The record is gone if TTL deleted it: TTL deletes only expired holds.
    let checkout = shop.checkouts.get(id).await?.ok_or(BeginError::Expired)?;
    Ok(Begun {
        checkout,
        replayed: true,
    })
}

/// Why a `Checkout` use case refused or failed; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// Checkout not found.
    #[error("checkout not found")]
    NotFound,
    /// This checkout is no longer active.
    #[error("this checkout is no longer active")]
    NotActive(CheckoutStatus),
    /// A cancel that lost to a payment: the checkout is being (or was) paid for.
    #[error("this checkout is paid for, or a payment for it is in progress: it can no longer be cancelled")]
    Closed,
    /// Another submit of this checkout is paying right now.
    #[error("a payment for this checkout is in progress; its outcome will be the order")]
    PaymentInProgress,
    /// Payment declined: `0`.
    #[error("payment declined: {0}")]
    Declined(String),
    /// The hold expired before payment arrived; the payment was refunded.
    #[error("the hold expired before payment arrived; the payment was refunded")]
    RejectedLate(Box<Order>),
    /// The first request with this `Idempotency-Key` is still running.
    #[error("a request with this Idempotency-Key is still in progress")]
    KeyInFlight,
    /// The `Idempotency-Key` was used for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    KeyReused,
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn own_checkout(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
) -> Result<Checkout, CheckoutError> {
    owned(shop, user, id, shop.checkouts.get(id).await?).await
}

/// `record` (the checkout as read) if it is the user's; absent and someone else's look alike.
async fn owned(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
    record: Option<Checkout>,
) -> Result<Checkout, CheckoutError> {
    match record {
        Some(c) if &c.user_id == user => Ok(c),
        // TTL deleted the record of an ended checkout; the user's pointer still names it, so
        // the shopper is told it expired rather than that it never existed.
        None if shop.checkouts.latest(user).await? == Some(id) => {
            Err(CheckoutError::NotActive(CheckoutStatus::Expired))
        }
        // Someone else's checkout is indistinguishable from none.
        _ => Err(CheckoutError::NotFound),
    }
}

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
                .release(&checkout, ReleaseReason::Cancelled)
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

/// How a submit ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// Paid: the order is placed (or this is a retry of a submit that already placed it).
    Placed(Order),
    /// The provider did not answer; the timer settles the order.
    Pending(Order),
    /// The shopper's client must act (3-D Secure) with `client_secret`; the order is
    /// pending until the provider tells the outcome. A replay of this submit answers
    /// [`Submitted::Pending`]: the secret is answered once, never stored.
    ActionRequired {
        /// The pending order.
        order: Order,
        /// What the client needs to act (not logged, not stored).
        client_secret: String,
    },
}

impl Submitted {
    /// The order the submit made or found, whatever its payment's state.
    pub fn order(&self) -> &Order {
        match self {
            Self::Placed(order) | Self::Pending(order) | Self::ActionRequired { order, .. } => {
                order
            }
        }
    }
}

/// A submit's request as the edge parsed it.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    /// The `Idempotency-Key` header.
    pub idempotency_key: String,
    /// A digest of the request (checkout id and body): the same key with another body is a
    /// different request.
    pub fingerprint: String,
    /// The payment method the client obtained from the provider (never card data).
    pub payment_token: String,
    /// Where it ships.
    pub shipping_address: Address,
}

/// What a submit answered, recorded under its idempotency key for replays.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
enum Answer {
    Placed { order: Box<Order> },
    Pending { order: Box<Order> },
    Declined { reason: String },
    NotFound,
    NotActive { status: CheckoutStatus },
    RejectedLate { order: Box<Order> },
}

impl Answer {
    /// The answer to record for `result`, if it is final (not a transient failure).
    fn of(result: &Result<Submitted, CheckoutError>) -> Option<Answer> {
        Some(match result {
            Ok(Submitted::Placed(o)) => Answer::Placed {
                order: Box::new(o.clone()),
            },
            Ok(Submitted::Pending(o) | Submitted::ActionRequired { order: o, .. }) => {
                Answer::Pending {
                    order: Box::new(o.clone()),
                }
            }
            Err(CheckoutError::Declined(reason)) => Answer::Declined {
                reason: reason.clone(),
            },
            Err(CheckoutError::NotFound) => Answer::NotFound,
            Err(CheckoutError::NotActive(status)) => Answer::NotActive { status: *status },
            Err(CheckoutError::RejectedLate(o)) => Answer::RejectedLate { order: o.clone() },
            Err(_) => return None,
        })
    }

    fn into_result(self) -> Result<Submitted, CheckoutError> {
        match self {
            Answer::Placed { order } => Ok(Submitted::Placed(*order)),
            Answer::Pending { order } => Ok(Submitted::Pending(*order)),
            Answer::Declined { reason } => Err(CheckoutError::Declined(reason)),
            Answer::NotFound => Err(CheckoutError::NotFound),
            Answer::NotActive { status } => Err(CheckoutError::NotActive(status)),
            Answer::RejectedLate { order } => Err(CheckoutError::RejectedLate(order)),
        }
    }
}

/// Records a submit's answer: in the effect's own transaction where there is one.
struct Answering<'a> {
    key: String,
    fingerprint: &'a str,
}

impl Answering<'_> {
    fn receipt(&self, answer: &Answer) -> Receipt {
        Receipt {
            key: self.key.clone(),
            fingerprint: self.fingerprint.to_owned(),
            outcome: serde_json::to_value(answer).unwrap_or_default(),
        }
    }
}

/// Submit the order for a checkout: charge the payment and turn the hold into an order.
///
/// Honours the `Idempotency-Key`: the same key and request answer the first answer again
/// (status included), another request under the key is `KeyReused`, and a first request
/// still running is `KeyInFlight`. Three sequential DynamoDB round trips on the way to a
/// placed order: the key's claim, the payment claim, the commit (which records the answer).
#[tracing::instrument(name = "submit", skip_all, fields(user_id = %user, checkout_id = %id))]
pub async fn submit(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
    request: PaymentRequest,
) -> Result<Submitted, CheckoutError> {
    let answering = Answering {
        key: format!("submit#{user}#{}", request.idempotency_key),
        fingerprint: &request.fingerprint,
    };
    match shop
        .requests
        .claim(&answering.key, answering.fingerprint, shop.clock.now())
        .await?
    {
        RequestClaim::Fresh => {}
        RequestClaim::Replay(outcome) => {
            let answer: Answer = serde_json::from_value(outcome)
                .map_err(|e| StoreError::Corrupt(format!("submit answer: {e}")))?;
            return answer.into_result();
        }
        RequestClaim::InFlight => return Err(CheckoutError::KeyInFlight),
        RequestClaim::Reused => return Err(CheckoutError::KeyReused),
    }
    let (result, recorded) = pay(shop, user, id, &request, &answering).await;
    if !recorded {
        let outcome = match Answer::of(&result) {
            Some(answer) => shop.requests.finish(&answering.receipt(&answer)).await,
            // No final answer (unavailable, another attempt paying): a retry runs again.
            None => {
                shop.requests
                    .abandon(&answering.key, answering.fingerprint)
                    .await
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(checkout_id = %id, error = %e, "idempotency record not updated");
        }
    }
    result
}

/// The order `checkout` becomes under `attempt` (through the one constructor, [`Order::new`]).
fn order_for(
    checkout: &Checkout,
    attempt: &PaymentAttempt,
    status: OrderStatus,
    payment: Payment,
    now: Timestamp,
) -> Order {
    Order::new(
        crate::domain::NewOrder {
            checkout_id: checkout.checkout_id,
            user_id: checkout.user_id.clone(),
            lines: checkout.lines.clone(),
            total: checkout.total,
            shipping_address: attempt.shipping_address.clone(),
            status,
            payment,
        },
        now,
    )
}

/// The order of an attempt whose outcome is not known yet.
fn pending_order(checkout: &Checkout, attempt: &PaymentAttempt, now: Timestamp) -> Order {
    let payment = payment_of(checkout, attempt, PaymentState::Pending);
    order_for(checkout, attempt, OrderStatus::PaymentPending, payment, now)
}

fn payment_of(checkout: &Checkout, attempt: &PaymentAttempt, state: PaymentState) -> Payment {
    Payment {
        state,
        method: attempt.method.clone(),
        reference: attempt.reference.clone(),
        checks: 0,
        key: Some(checkout.payment_key()),
        captured: 0,
        refunded: 0,
    }
}

/// Claim, charge, commit. Returns the result and whether its answer was recorded already.
async fn pay(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
    request: &PaymentRequest,
    answering: &Answering<'_>,
) -> (Result<Submitted, CheckoutError>, bool) {
    let now = shop.clock.now();
    let attempt = PaymentAttempt {
        method: request.payment_token.clone(),
        shipping_address: request.shipping_address.clone(),
        started_at: now,
        reference: None,
    };
    let checkout = match shop.checkouts.claim_payment(id, user, &attempt, now).await {
        Ok(PaymentClaim::Claimed(checkout)) => checkout,
        Ok(PaymentClaim::Refused(current)) => {
            return (refused(shop, user, id, current, now).await, false)
        }
        Err(e) => return (Err(e.into()), false),
    };
    let span = tracing::info_span!("payment", checkout_id = %id, attempt = checkout.attempts);
    let _entered = span.enter();
    let (outcome, checkout, attempt) = match charge(shop, checkout, attempt).await {
        Ok(charged) => charged,
        Err(e) => return (Err(e), false),
    };
    match outcome {
        ChargeOutcome::Approved { reference } => {
            let mut payment = payment_of(&checkout, &attempt, PaymentState::Captured);
            payment.reference = Some(reference);
            payment.captured = checkout.total.amount;
            let order = order_for(&checkout, &attempt, OrderStatus::Placed, payment, now);
            let answer = Answer::Placed {
                order: Box::new(order.clone()),
            };
            let receipt = answering.receipt(&answer);
            match commit_placed(shop, &checkout, &order, &receipt).await {
                Ok(Some(recorded)) => {
                    tracing::info!(order_id = %order.order_id, "order placed");
                    (Ok(Submitted::Placed(order)), recorded)
                }
                // The hold ended between claim and commit: only an expiry can end a hold
                // with a payment in flight, so this is a late success.
                Ok(None) => (
                    late_success(shop, order).await.map(Submitted::Placed),
                    false,
                ),
                Err(e) => (Err(e.into()), false),
            }
        }
        ChargeOutcome::Declined { reason } => {
            let answer = Answer::Declined {
                reason: reason.clone(),
            };
            let receipt = answering.receipt(&answer);
            tracing::info!(%reason, "payment declined; hold kept");
            match shop
                .checkouts
                .record_decline(&checkout, &reason, Some(&receipt))
                .await
            {
                Ok(recorded) => (Err(CheckoutError::Declined(reason)), recorded),
                Err(e) => (Err(e.into()), false),
            }
        }
        // The shopper's client must act (3-D Secure) before the provider decides: like an
        // unanswered charge, the order waits, pending, with the stock still held, and the
        // provider's webhook (or the timer asking at the hold's expiry) settles it.
        ChargeOutcome::NoResponse | ChargeOutcome::ActionRequired { .. } => {
            let action = match outcome {
                ChargeOutcome::ActionRequired { client_secret, .. } => Some(client_secret),
                _ => None,
            };
            let order = pending_order(&checkout, &attempt, now);
            let answer = Answer::Pending {
                order: Box::new(order.clone()),
            };
            let receipt = answering.receipt(&answer);
            let parked = match shop.checkouts.park(&checkout, &order, Some(&receipt)).await {
                Ok(parked) => parked,
                Err(e) => return (Err(e.into()), false),
            };
            if !parked {
                // The hold expired meanwhile: keep the order pending and let settlement decide.
                if let Err(e) = shop.orders.create(&order).await {
                    return (Err(e.into()), false);
                }
                schedule_settle(shop, &order).await;
            }
            match action {
                Some(client_secret) => {
                    tracing::info!(order_id = %order.order_id, "payment needs the shopper's action; order pending");
                    (
                        Ok(Submitted::ActionRequired {
                            order,
                            client_secret,
                        }),
                        parked,
                    )
                }
                None => {
                    tracing::info!(order_id = %order.order_id, "payment outcome unknown; order pending");
                    (Ok(Submitted::Pending(order)), parked)
                }
            }
        }
    }
}

/// Open the attempt's charge, record the provider's id for it on the hold, then confirm it:
/// from then on status, void and refund act on that id, and nothing but this first call
/// ever creates a charge for the attempt. A provider call that failed outright is as
/// unknown as one that timed out: the charge may exist, so the attempt stays recorded and
/// is settled by asking (found by its key if its id never got recorded). Returns the
/// outcome with the checkout and attempt as recorded.
async fn charge(
    shop: Shop<'_>,
    mut checkout: Checkout,
    mut attempt: PaymentAttempt,
) -> Result<(ChargeOutcome, Checkout, PaymentAttempt), CheckoutError> {
    let mut charge = ChargeRef::of_attempt(&checkout, &attempt.method);
    let opened = shop.payments.open(&charge).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "payment provider call failed; outcome unknown");
        Opened::NoResponse
    });
    let reference = match opened {
        Opened::Ready { reference } => reference,
        Opened::Declined { reason } => {
            return Ok((ChargeOutcome::Declined { reason }, checkout, attempt))
        }
        Opened::NoResponse => return Ok((ChargeOutcome::NoResponse, checkout, attempt)),
    };
    // Recorded before any money moves: if this write fails, the charge is never confirmed
    // (the settlement finds it unconfirmed and cancels it).
    charge.reference = Some(reference.clone());
    if !shop
        .checkouts
        .record_reference(&checkout, &reference)
        .await?
    {
        // The attempt ended meanwhile: only an expiry ends a hold with a payment in flight
        // (after the grace, finding no charge, it released the hold). Never take money for
        // it; cancel the intent made (best effort: unconfirmed, it holds nothing).
        if let Err(e) = shop.payments.void(&charge).await {
            tracing::warn!(error = %e, "unconfirmed intent of an ended attempt not cancelled");
        }
        return Err(CheckoutError::NotActive(CheckoutStatus::Expired));
    }
    attempt.reference = Some(reference);
    checkout.paying = Some(attempt.clone());
    let outcome = shop.payments.confirm(&charge).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "payment provider call failed; outcome unknown");
        ChargeOutcome::NoResponse
    });
    Ok((outcome, checkout, attempt))
}

/// Commit a placed order for the attempt on `checkout`: `Some(recorded)` if it committed
/// (with the answer recorded, or without it if the key's record was taken over), `None`
/// if the hold is no longer held by this attempt.
async fn commit_placed(
    shop: Shop<'_>,
    checkout: &Checkout,
    order: &Order,
    receipt: &Receipt,
) -> Result<Option<bool>, StoreError> {
    if shop
        .checkouts
        .complete(checkout, order, None, Some(receipt))
        .await?
    {
        return Ok(Some(true));
    }
    let still_ours = shop
        .checkouts
        .get(checkout.checkout_id)
        .await?
        .is_some_and(|c| {
            c.state == HoldState::Held && c.attempts == checkout.attempts && c.paying.is_some()
        });
    if still_ours && shop.checkouts.complete(checkout, order, None, None).await? {
        return Ok(Some(false));
    }
    Ok(None)
}

/// A payment claim that was refused: say why, or answer the order the checkout became.
async fn refused(
    shop: Shop<'_>,
    user: &UserId,
    id: CheckoutId,
    current: Option<Checkout>,
    now: Timestamp,
) -> Result<Submitted, CheckoutError> {
    let checkout = owned(shop, user, id, current).await?;
    // A double click or a retry with another key: the order the first submit made.
    if let Some(order_id) = checkout.order_id {
        if let Some(order) = shop.orders.get(order_id).await? {
            return Ok(match order.status {
                OrderStatus::PaymentPending => Submitted::Pending(order),
                _ => Submitted::Placed(order),
            });
        }
    }
    if checkout.state == HoldState::Held && checkout.paying.is_some() {
        return Err(CheckoutError::PaymentInProgress);
    }
    Err(CheckoutError::NotActive(checkout.status(now)))
}

/// A payment that succeeded after its hold expired: take the stock again if it is still
/// there, otherwise refund and reject the order.
async fn late_success(shop: Shop<'_>, placed: Order) -> Result<Order, CheckoutError> {
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let current = match shop.orders.get(placed.order_id).await? {
            Some(order) => order,
            None => {
                let mut pending = placed.clone();
                pending.status = OrderStatus::PaymentPending;
                pending.payment.state = PaymentState::Pending;
                pending.payment.captured = 0;
                pending.timeline[0].status = OrderStatus::PaymentPending;
                shop.orders.create(&pending).await?;
                continue;
            }
        };
        if current.status != OrderStatus::PaymentPending {
            // Settled meanwhile (by the settle timer): its outcome is the answer.
            return match current.status {
                OrderStatus::Rejected => Err(CheckoutError::RejectedLate(Box::new(current))),
                _ => Ok(current),
            };
        }
        match settle_captured(shop, &current, placed.payment.reference.clone()).await {
            Err(CheckoutError::Store(StoreError::Contention(_))) => continue,
            other => return other,
        }
    }
    Err(StoreError::Contention(format!("order {} kept changing", placed.order_id)).into())
}

/// Settle a captured payment for a pending order whose hold is gone: take the stock again
/// (and empty the cart) if the hold *expired* and the stock is there; otherwise refund
/// through the outbox and reject.
async fn settle_captured(
    shop: Shop<'_>,
    order: &Order,
    reference: Option<String>,
) -> Result<Order, CheckoutError> {
    let now = shop.clock.now();
    let hold = shop.checkouts.get(order.checkout_id).await?;
    // TTL deletes only expired holds, so a missing record expired too.
    let expired = hold.as_ref().is_none_or(|c| {
        c.state == HoldState::Released && c.release_reason == Some(ReleaseReason::Expired)
    });
    if expired {
        let mut placed = order.moved_to(
            OrderStatus::Placed,
            now,
            Some("payment confirmed after the hold expired; stock re-held".into()),
        );
        placed.payment.state = PaymentState::Captured;
        placed.payment.reference = reference.clone();
        placed.payment.captured = order.total.amount;
        for attempt in 0..2 {
            match shop.checkouts.place_late(order, &placed).await? {
                Transition::Done => return Ok(placed),
                Transition::Stale => {
                    return Err(StoreError::Contention(format!(
                        "order {} changed during settlement",
                        order.order_id
                    ))
                    .into())
                }
                // A sharded item's units may sit in its other shards: gather them into
                // shard 0 (what a late placement takes from) and try once more.
                Transition::Short if attempt == 0 && gather(shop, order).await? => continue,
                Transition::Short => break,
            }
        }
    }
    let mut rejected = order.moved_to(
        OrderStatus::Rejected,
        now,
        Some(if expired {
            "stock sold out before payment arrived; refunded".into()
        } else {
            "the checkout was closed before payment arrived; refunded".into()
        }),
    );
    rejected.payment.reference = reference;
    rejected.payment.captured = order.total.amount;
    rejected.owe(MoneyDue {
        key: format!("{}-refund", order.charge_key()),
        kind: DueKind::Refund,
        amount: order.total.amount,
    });
    match shop
        .orders
        .transition(order, &rejected, StockEffect::None)
        .await?
    {
        Transition::Done => {
            let settled = super::payments::settle_dues(shop, rejected).await;
            Err(CheckoutError::RejectedLate(Box::new(settled)))
        }
        _ => Err(StoreError::Contention(format!(
            "order {} changed during rejection",
            order.order_id
        ))
        .into()),
    }
}

async fn schedule_settle(shop: Shop<'_>, order: &Order) {
    let message = TimerMessage::Settle {
        v: 1,
        order_id: order.order_id,
    };
    if let Err(e) = shop.timer.schedule(&message, SETTLE_RETRY).await {
        tracing::error!(order_id = %order.order_id, error = %e, "could not schedule payment settlement");
    }
}

/// What the timer did with a checkout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Nothing to do: gone, already over, or released by another mechanism first.
    Nothing,
    /// Not yet due; ask again after this long.
    NotDue(Duration),
    /// This call put the stock back on sale.
    Released,
    /// A payment in flight was settled as captured; the hold became the order.
    Completed,
}

/// Release a checkout's hold if its time is up (timer and sweeper). A hold with a payment
/// attempt in flight is settled first: captured → placed; failed → voided and released;
/// unknown → released, the order kept pending and asked about again later (a success
/// then is a late success).
#[tracing::instrument(name = "expire", skip_all, fields(checkout_id = %id))]
pub async fn expire(shop: Shop<'_>, id: CheckoutId, now: Timestamp) -> Result<Expiry, StoreError> {
    let Some(checkout) = shop.checkouts.get(id).await? else {
        return Ok(Expiry::Nothing);
    };
    if checkout.state != HoldState::Held {
        return Ok(Expiry::Nothing);
    }
    if checkout.expires_at > now {
        return Ok(Expiry::NotDue(Duration::from_millis(
            (checkout.expires_at.unix_millis() - now.unix_millis()) as u64,
        )));
    }
    // A submit still running has recorded its attempt but neither finished nor parked an
    // order: until the grace is over, the provider's "no such charge" proves nothing.
    if let Some(attempt) = checkout
        .paying
        .as_ref()
        .filter(|_| checkout.order_id.is_none())
    {
        let settles_at = attempt
            .started_at
            .plus_millis(PAYMENT_GRACE.as_millis() as i64);
        if settles_at > now {
            return Ok(Expiry::NotDue(Duration::from_millis(
                (settles_at.unix_millis() - now.unix_millis()) as u64,
            )));
        }
    }
    let Some(attempt) = checkout.paying.clone() else {
        let released = shop
            .checkouts
            .release(&checkout, ReleaseReason::Expired)
            .await?;
        if released {
            tracing::info!(checkout_id = %id, "hold expired; stock released");
        }
        return Ok(if released {
            Expiry::Released
        } else {
            Expiry::Nothing
        });
    };
    settle_attempt(shop, &checkout, attempt, now, true).await
}

/// Settle a held checkout's payment attempt with what the provider says now: captured →
/// the order is placed; failed → voided and the hold released; unknown → at expiry
/// (`expired`), the hold is released and the order kept pending for the settle timer,
/// before it, nothing changes.
async fn settle_attempt(
    shop: Shop<'_>,
    checkout: &Checkout,
    attempt: crate::domain::PaymentAttempt,
    now: Timestamp,
    expired: bool,
) -> Result<Expiry, StoreError> {
    let pending = match checkout.order_id {
        Some(order_id) => shop
            .orders
            .get(order_id)
            .await?
            .filter(|o| o.status == OrderStatus::PaymentPending),
        None => None,
    };
    let checks = pending.as_ref().map_or(0, |o| o.payment.checks);
    let charge = ChargeRef::of_attempt(checkout, &attempt.method);
    match shop.payments.status(&charge, checks).await? {
        ChargeStatus::Captured { reference } => {
            let mut placed = match &pending {
                Some(order) => {
                    order.moved_to(OrderStatus::Placed, now, Some("payment confirmed".into()))
                }
                None => {
                    // The request that charged died before committing: its record settles it.
                    let payment = payment_of(&checkout, &attempt, PaymentState::Captured);
                    order_for(&checkout, &attempt, OrderStatus::Placed, payment, now)
                }
            };
            placed.payment.state = PaymentState::Captured;
            placed.payment.reference = Some(reference);
            placed.payment.captured = checkout.total.amount;
            placed.payment.checks = checks + 1;
            let version = pending.as_ref().map(|o| o.version);
            Ok(
                if shop
                    .checkouts
                    .complete(&checkout, &placed, version, None)
                    .await?
                {
                    tracing::info!(order_id = %placed.order_id, "payment confirmed at expiry; order placed");
                    Expiry::Completed
                } else {
                    Expiry::Nothing
                },
            )
        }
        ChargeStatus::Failed { reason } => {
            // Voided before the hold is released: if the void fails, the hold stays and the
            // next sweep tries again.
            shop.payments.void(&charge).await?;
            let released = shop
                .checkouts
                .release(&checkout, ReleaseReason::PaymentFailed)
                .await?;
            if let Some(order) = pending {
                let mut failed = order.moved_to(OrderStatus::PaymentFailed, now, Some(reason));
                failed.payment.state = PaymentState::Voided;
                failed.payment.checks += 1;
                shop.orders
                    .transition(&order, &failed, StockEffect::None)
                    .await?;
            }
            Ok(if released {
                Expiry::Released
            } else {
                Expiry::Nothing
            })
        }
        // Not expired (the provider's webhook asked): the hold runs on; its expiry asks again.
        ChargeStatus::Unknown if !expired => Ok(Expiry::Nothing),
        ChargeStatus::Unknown => {
            let order = match pending {
                Some(order) => order,
                None => {
                    let order = pending_order(checkout, &attempt, now);
                    shop.orders.create(&order).await?;
                    order
                }
            };
            let released = shop
                .checkouts
                .release(&checkout, ReleaseReason::Expired)
                .await?;
            let mut asked = order.clone();
            asked.payment.checks += 1;
            asked.version += 1;
            asked.updated_at = now;
            shop.orders
                .transition(&order, &asked, StockEffect::None)
                .await?;
            schedule_settle(shop, &asked).await;
            Ok(if released {
                Expiry::Released
            } else {
                Expiry::Nothing
            })
        }
    }
}

/// The provider says something changed about a charge (its webhook): settle now, through
/// the same steps as the timer and the sweeper, so an outcome that arrives by webhook and
/// one found by asking end the same way. A checkout still held with a parked payment is
/// settled without waiting for its expiry; otherwise a pending order is settled as by the
/// settle timer. A submit still running (no order parked yet) finishes on its own.
#[tracing::instrument(name = "provider_news", skip_all, fields(checkout_id = %id))]
pub async fn provider_news(
    shop: Shop<'_>,
    id: CheckoutId,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(checkout) = shop.checkouts.get(id).await? else {
        return Ok(());
    };
    match (&checkout.state, checkout.paying.clone(), checkout.order_id) {
        (HoldState::Held, Some(attempt), Some(_)) => {
            settle_attempt(shop, &checkout, attempt, now, false)
                .await
                .map(|_| ())
        }
        (HoldState::Held, _, _) => Ok(()),
        (_, _, Some(order_id)) => settle(shop, order_id, now).await,
        _ => Ok(()),
    }
}

/// Ask the provider again about a pending order whose hold is gone (timer `Settle`). An
/// order that changed while it was settled (a cancel at the same moment) is read again and
/// settled as it now is.
#[tracing::instrument(name = "settle", skip_all, fields(order_id = %order_id))]
pub async fn settle(
    shop: Shop<'_>,
    order_id: crate::domain::OrderId,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        match settle_once(shop, order_id, now).await {
            Err(StoreError::Contention(_)) => continue,
            other => return other,
        }
    }
    Err(StoreError::Contention(format!(
        "order {order_id} kept changing during settlement"
    )))
}

async fn settle_once(
    shop: Shop<'_>,
    order_id: crate::domain::OrderId,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(order) = shop.orders.get(order_id).await? else {
        return Ok(());
    };
    if order.status != OrderStatus::PaymentPending {
        return Ok(());
    }
    if let Some(checkout) = shop.checkouts.get(order.checkout_id).await? {
        if checkout.state == HoldState::Held {
            // Still held: the expiry of the hold settles it.
            return expire(shop, checkout.checkout_id, now).await.map(|_| ());
        }
    }
    let charge = ChargeRef::of_order(&order);
    let key = charge.key.clone();
    match shop.payments.status(&charge, order.payment.checks).await? {
        ChargeStatus::Captured { reference } => {
            match settle_captured(shop, &order, Some(reference)).await {
                Ok(_) | Err(CheckoutError::RejectedLate(_)) => Ok(()),
                Err(CheckoutError::Store(e)) => Err(e),
                Err(other) => Err(StoreError::Unavailable(other.to_string())),
            }
        }
        ChargeStatus::Unknown if order.payment.checks + 1 < MAX_SETTLE_CHECKS => {
            let mut asked = order.clone();
            asked.payment.checks += 1;
            asked.version += 1;
            asked.updated_at = now;
            if shop
                .orders
                .transition(&order, &asked, StockEffect::None)
                .await?
                == Transition::Done
            {
                schedule_settle(shop, &asked).await;
            }
            Ok(())
        }
        ChargeStatus::Failed { .. } | ChargeStatus::Unknown => {
            let mut failed = order.moved_to(
                OrderStatus::PaymentFailed,
                now,
                Some("payment never confirmed; voided".into()),
            );
            failed.payment.state = PaymentState::Voided;
            failed.owe(MoneyDue {
                key: format!("{key}-void"),
                kind: DueKind::Void,
                amount: 0,
            });
            if shop
                .orders
                .transition(&order, &failed, StockEffect::None)
                .await?
                == Transition::Done
            {
                super::payments::settle_dues(shop, failed).await;
            }
            Ok(())
        }
    }
}

/// How many records the sweeper works on at once (each may call the payment provider).
pub const SWEEP_CONCURRENCY: usize = 4;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Holds released or completed.
    pub released: usize,
    /// Overdue pending orders asked about.
    pub settled: usize,
    /// Orders whose owed refunds and voids were all paid out.
    pub paid_out: usize,
    /// Records whose try failed this run (tried again after a wait).
    pub failed: usize,
    /// Records given up on this run: parked in the timer's dead-letter queue.
    pub parked: usize,
    /// Records skipped this run: waiting after a failure, or parked before.
    pub waiting: usize,
    /// Records the run had no time left for (the next run takes them).
    pub left: usize,
}

/// One record the sweeper works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sweepable {
    /// A held checkout whose time is up.
    Hold(CheckoutId),
    /// A pending order whose settle timer may be lost.
    Pending(crate::domain::OrderId),
    /// An order the payment outbox owes a refund or void.
    Dues(crate::domain::OrderId),
}

impl Sweepable {
    /// Its failure record's key.
    fn key(self) -> String {
        match self {
            Self::Hold(id) => format!("sweep#hold#{id}"),
            Self::Pending(id) => format!("sweep#pending#{id}"),
            Self::Dues(id) => format!("sweep#dues#{id}"),
        }
    }

    /// What an operator re-drives it with once the cause is fixed: a timer message (the
    /// dead-letter queue redrives into the timer queue).
    fn message(self) -> String {
        let message = match self {
            Self::Hold(checkout_id) => TimerMessage::Expire { v: 1, checkout_id },
            Self::Pending(order_id) | Self::Dues(order_id) => {
                TimerMessage::Settle { v: 1, order_id }
            }
        };
        serde_json::to_string(&message).unwrap_or_default()
    }
}

/// What handling one record did, for the report.
enum Swept {
    Released,
    Settled,
    PaidOut,
    Nothing,
}

/// Handle one record.
async fn sweep_one(shop: Shop<'_>, work: Sweepable, now: Timestamp) -> Result<Swept, StoreError> {
    match work {
        Sweepable::Hold(id) => Ok(match expire(shop, id, now).await? {
            Expiry::Released | Expiry::Completed => Swept::Released,
            _ => Swept::Nothing,
        }),
        Sweepable::Pending(id) => {
            let overdue = SETTLE_RETRY.as_millis() as i64 * 2;
            match shop.orders.get(id).await? {
                Some(order) if order.updated_at.plus_millis(overdue) <= now => {
                    settle(shop, id, now).await?;
                    Ok(Swept::Settled)
                }
                _ => Ok(Swept::Nothing),
            }
        }
        Sweepable::Dues(id) => {
            let Some(order) = shop.orders.get(id).await? else {
                return Ok(Swept::Nothing);
            };
            let after = super::payments::settle_dues(shop, order).await;
            if after.money_due.is_empty() {
                Ok(Swept::PaidOut)
            } else {
                let keys: Vec<&str> = after.money_due.iter().map(|d| d.key.as_str()).collect();
                Err(StoreError::Unavailable(format!(
                    "still owed after paying out: {}",
                    keys.join(", ")
                )))
            }
        }
    }
}

/// Work on `records` until `deadline`, each on its own: a failure is counted on the record
/// (tried again after a growing wait) and after [`crate::domain::parking::MAX_TRIES`] the
/// record is parked for an operator; the others go on either way.
async fn sweep_each(
    shop: Shop<'_>,
    records: Vec<Sweepable>,
    now: Timestamp,
    deadline: tokio::time::Instant,
    report: &mut SweepReport,
) -> Result<(), StoreError> {
    let keys: Vec<String> = records.iter().map(|r| r.key()).collect();
    let failures = shop.parking.failures(&keys).await?;
    let (due, waiting): (Vec<Sweepable>, Vec<Sweepable>) = records
        .into_iter()
        .partition(|r| failures.get(&r.key()).is_none_or(|f| f.due(now)));
    report.waiting += waiting.len();
    let failures = &failures;
    let handled = crate::batch::each(due, SWEEP_CONCURRENCY, deadline, |work| async move {
        let outcome = sweep_one(shop, work, now).await;
        let key = work.key();
        match &outcome {
            Ok(_) if failures.contains_key(&key) => {
                if let Err(e) = shop.parking.cleared(&key).await {
                    tracing::warn!(%key, error = %e, "failure record not cleared; it expires");
                }
            }
            Ok(_) => {}
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(%key, %reason, "sweep record failed; tried again later");
                let counted = shop.parking.failed(&key, &reason, now).await?;
                if counted.exhausted() {
                    shop.parking.park(&key, &work.message(), &reason).await?;
                    tracing::error!(%key, %reason, tries = counted.tries, "sweep record parked for an operator");
                    return Ok(Err(true));
                }
            }
        }
        Ok::<_, StoreError>(outcome.map_err(|_| false))
    })
    .await;
    for (work, outcome) in handled {
        match outcome {
            crate::batch::Handled::Done(Ok(Swept::Released)) => report.released += 1,
            crate::batch::Handled::Done(Ok(Swept::Settled)) => report.settled += 1,
            crate::batch::Handled::Done(Ok(Swept::PaidOut)) => report.paid_out += 1,
            crate::batch::Handled::Done(Ok(Swept::Nothing)) => {}
            crate::batch::Handled::Done(Err(parked)) => {
                report.failed += 1;
                report.parked += usize::from(parked);
            }
            crate::batch::Handled::Failed(e) => {
                // Not even its failure could be recorded: the next run tries it again.
                tracing::warn!(key = %work.key(), error = %e, "sweep failure not recorded");
                report.failed += 1;
            }
            crate::batch::Handled::OutOfTime => report.left += 1,
        }
    }
    Ok(())
}

/// Release every held checkout whose time is up (the scheduled sweeper), settle pending
/// payments whose settle timer is overdue (a lost timer message must not leave an order
/// pending forever), and pay out what the payment outbox still owes, until `deadline`.
///
/// Each record is handled on its own, [`SWEEP_CONCURRENCY`] at a time: one that fails is
/// tried again by later runs after a growing wait and parked for an operator after a bounded
/// number of tries, and never holds up the others; what the deadline cuts off is left for
/// the next run. Only failing to list what is due fails the run.
#[tracing::instrument(name = "sweep_holds", skip_all)]
pub async fn sweep(
    shop: Shop<'_>,
    now: Timestamp,
    deadline: tokio::time::Instant,
) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    let holds = shop.checkouts.due(now, 200).await?;
    let holds = holds.into_iter().map(Sweepable::Hold).collect();
    sweep_each(shop, holds, now, deadline, &mut report).await?;
    let pending = shop.orders.with_status(OrderStatus::PaymentPending).await?;
    let pending = pending.into_iter().map(Sweepable::Pending).collect();
    sweep_each(shop, pending, now, deadline, &mut report).await?;
    let owing = shop.orders.owing(200).await?;
    let owing = owing.into_iter().map(Sweepable::Dues).collect();
    sweep_each(shop, owing, now, deadline, &mut report).await?;
    tracing::info!(?report, "sweep done");
    Ok(report)
}

/// DynamoDB's TTL deleted a hold record: if it was still held, release its stock (once),
/// and leave a payment that was in flight to settlement.
#[tracing::instrument(name = "expired_by_ttl", skip_all, fields(checkout_id = %last_image.checkout_id))]
pub async fn expired_by_ttl(shop: Shop<'_>, last_image: &Checkout) -> Result<bool, StoreError> {
    if last_image.state != HoldState::Held {
        return Ok(false);
    }
    let released = shop.checkouts.release_deleted(last_image).await?;
    if let Some(attempt) = &last_image.paying {
        let order_id = Order::id_for(last_image.checkout_id);
        let order = match shop.orders.get(order_id).await? {
            Some(order) => Some(order),
            None => {
                let order = pending_order(last_image, attempt, shop.clock.now());
                shop.orders.create(&order).await?;
                Some(order)
            }
        };
        if let Some(order) = order.filter(|o| o.status == OrderStatus::PaymentPending) {
            schedule_settle(shop, &order).await;
        }
    }
    if released {
        tracing::info!(checkout_id = %last_image.checkout_id, "hold released by TTL deletion");
    }
    Ok(released)
}

/// Move each of `order`'s units into its item's shard 0, for a placement that takes from
/// there; `false` when some item has too few units in all its shards together.
async fn gather(shop: Shop<'_>, order: &Order) -> Result<bool, StoreError> {
    let mut demand: std::collections::BTreeMap<ItemId, u32> = Default::default();
    for line in &order.lines {
        *demand.entry(line.item_id).or_default() += line.quantity.get();
    }
    for (item, units) in demand {
        if !shop.inventory.concentrate(item, 0, units).await? {
            return Ok(false);
        }
    }
    Ok(true)
}
