//! Begin checkout: hold every cart line, all or nothing, behind the waiting room where one runs.

use super::*;

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
pub(super) fn total_of(lines: &[HoldLine]) -> Result<Money, BeginError> {
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
pub(super) async fn hold(
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
pub(super) async fn admit(
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

pub(super) async fn replay(shop: Shop<'_>, id: CheckoutId) -> Result<Begun, BeginError> {
    // The record is gone if TTL deleted it: TTL deletes only expired holds.
    let checkout = shop.checkouts.get(id).await?.ok_or(BeginError::Expired)?;
    Ok(Begun {
        checkout,
        replayed: true,
    })
}
