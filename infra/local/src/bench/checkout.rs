//! `aisle-local bench checkout`: begin-checkout throughput under 50-way contention on one
//! item, and what one begin-checkout and one placed order cost in DynamoDB calls and consumed
//! capacity, measured against the running local stack (DynamoDB Local + moto).
//!
//! Capacity is measured, not estimated: an SDK interceptor asks DynamoDB for
//! `ReturnConsumedCapacity: TOTAL` on every call and sums what it reports.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aisle::domain::{Address, ItemId, Quantity, StockReceipt, UserId, WarehouseId};
use aisle::ports::{Inventory, Warehouses};
use aisle::usecases::{cart, checkout};
use aisle::{App, Config};
use anyhow::{Context, Result};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

use crate::template::Template;
use crate::{dynamo_client, endpoint, local_clients, local_sdk_config, resources};

/// Calls and capacity units per DynamoDB operation.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    pub calls: BTreeMap<String, u64>,
    pub capacity: f64,
    /// Sequential round trips: calls that started while no other call was in flight (calls
    /// sent together, overlapping in time, count once). Meaningful for one request at a time.
    pub rounds: u64,
    in_flight: u64,
}

/// Counts calls and sums consumed capacity.
#[derive(Debug, Clone, Default)]
pub struct CapacityMeter(Arc<Mutex<Usage>>);

impl CapacityMeter {
    pub fn take(&self) -> Usage {
        let mut usage = self.0.lock().unwrap();
        let in_flight = usage.in_flight;
        let mut taken = std::mem::take(&mut *usage);
        usage.in_flight = in_flight;
        taken.in_flight = 0;
        taken
    }
}

fn capacity_of(value: &serde_json::Value) -> f64 {
    match value.get("ConsumedCapacity") {
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|c| c["CapacityUnits"].as_f64())
            .sum(),
        Some(c) => c["CapacityUnits"].as_f64().unwrap_or(0.0),
        None => 0.0,
    }
}

impl Intercept for CapacityMeter {
    fn name(&self) -> &'static str {
        "CapacityMeter"
    }

    // DynamoDB Local does not check signatures, so the body may change after signing.
    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        {
            let mut usage = self.0.lock().unwrap();
            if usage.in_flight == 0 {
                usage.rounds += 1;
            }
            usage.in_flight += 1;
        }
        let request = context.request_mut();
        let Some(bytes) = request.body().bytes() else {
            return Ok(());
        };
        let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return Ok(());
        };
        if let Some(object) = json.as_object_mut() {
            object.insert("ReturnConsumedCapacity".into(), "TOTAL".into());
            let body = serde_json::to_vec(&json)?;
            request
                .headers_mut()
                .insert("content-length", body.len().to_string());
            *request.body_mut() = SdkBody::from(body);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        let units = context
            .response()
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .map(|json| capacity_of(&json))
            .unwrap_or(0.0);
        let mut usage = self.0.lock().unwrap();
        *usage.calls.entry(operation).or_default() += 1;
        usage.capacity += units;
        usage.in_flight = usage.in_flight.saturating_sub(1);
        Ok(())
    }
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn describe(label: &str, usage: &Usage, per: u64) {
    let calls: u64 = usage.calls.values().sum();
    let detail: Vec<String> = usage
        .calls
        .iter()
        .map(|(op, n)| format!("{op} {:.1}", *n as f64 / per as f64))
        .collect();
    // Round trips only mean something for one request at a time (not under contention).
    let rounds = if usage.rounds == 0 {
        String::new()
    } else {
        format!(
            ", {:.1} sequential round trips",
            usage.rounds as f64 / per as f64
        )
    };
    println!(
        "{label}: {:.1} DynamoDB calls ({}){rounds}, {:.1} capacity units",
        calls as f64 / per as f64,
        detail.join(", "),
        usage.capacity / per as f64
    );
}

/// Run the checkout benchmark: `shoppers` concurrent shoppers, `rounds` begins each.
/// A fresh set of the template's tables (prefix `bench…-`) and an app whose DynamoDB client
/// counts calls and consumed capacity.
pub(crate) async fn metered_app() -> Result<(Arc<App>, CapacityMeter)> {
    let template = Template::load_repo()?;
    let prefix = format!("bench{}-", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let sdk = local_sdk_config().await;
    let meter = CapacityMeter::default();
    let mut clients = local_clients(&sdk);
    let ddb_endpoint = endpoint("AWS_ENDPOINT_URL_DYNAMODB", 8000);
    let plain = dynamo_client(&sdk, &ddb_endpoint);
    resources::create_tables(&plain, &prefix, &template)
        .await
        .context("is the local stack up? (make stack-up)")?;
    resources::create_queues(&clients.sqs, &prefix, &template).await?;
    clients.dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&ddb_endpoint)
            .interceptor(meter.clone())
            .build(),
    );
    let env = template.local_env(&prefix)?;
    let config = Config::from_lookup(|k| env.get(k).cloned())?;
    Ok((Arc::new(App::new(&config, clients)), meter))
}

/// List a benchmark product: `name` at `price` minor units (USD), sold by `seller`.
pub(crate) async fn list_bench_item(
    app: &App,
    seller: &str,
    name: String,
    price: i64,
) -> Result<aisle::domain::Item> {
    let new = aisle::domain::NewItem {
        name: name.try_into().map_err(anyhow::Error::msg)?,
        description: None,
        category: "bench".to_owned().try_into().unwrap(),
        brand: "Aisle".to_owned().try_into().unwrap(),
        price: aisle::domain::Money::price(price, "USD").map_err(anyhow::Error::msg)?,
        attributes: Default::default(),
        low_stock_threshold: 5,
    };
    let seller: UserId = seller.try_into().map_err(anyhow::Error::msg)?;
    let item = new.into_item(ItemId::generate(), seller, aisle::domain::Timestamp::now());
    aisle::ports::Catalog::insert(&app.catalog, &item).await?;
    Ok(item)
}

pub async fn checkout(shoppers: usize, rounds: usize) -> Result<()> {
    let (app, meter) = metered_app().await?;

    // One item with plenty of stock; every shopper wants one unit of it.
    let item = list_bench_item(&app, "bench-seller", "Bench console".into(), 29_999).await?;
    let site = crate::seed::warehouse_sites()?.remove(0);
    app.warehouses.put(&site).await?;
    let warehouse: WarehouseId = site.warehouse_id.clone();
    let receipt = StockReceipt {
        warehouse_id: warehouse,
        item_id: item.item_id,
        quantity: Quantity::try_from(100_000).unwrap(),
    };
    app.inventory
        .receive(&receipt, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let users: Vec<UserId> = (0..shoppers)
        .map(|i| format!("bench-shopper-{i}").try_into().unwrap())
        .collect();
    for user in &users {
        cart::set_line(app.shop(), user, item.item_id, 1, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    meter.take();

    // Phase 1: contention. Each begin after the first also releases that shopper's previous hold.
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for user in users.clone() {
        let app = app.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(rounds);
            for round in 0..rounds {
                let t = Instant::now();
                checkout::begin(app.shop(), &user, &format!("bench-{round}"))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let holds = latencies.len();
    println!(
        "begin-checkout under {shoppers}-way contention on one item: {holds} holds in {:.2} s = {:.0} holds/s; latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        elapsed.as_secs_f64(),
        holds as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99)
    );
    let contended = meter.take();
    describe(
        "  per contended begin (includes releasing the previous hold)",
        &contended,
        holds as u64,
    );

    // Phase 2: cost of one fresh begin and one placed order, averaged over 20 shoppers.
    let address: Address = serde_json::from_value(serde_json::json!({
        "name": "Bench", "line1": "1 Main St", "city": "Bloomington", "state": "MN", "zip": "55425", "country": "US"
    }))?;
    let (mut begin_usage, mut order_usage) = (Usage::default(), Usage::default());
    let runs = 20u64;
    for i in 0..runs {
        let user: UserId = format!("bench-buyer-{i}").try_into().unwrap();
        cart::set_line(app.shop(), &user, item.item_id, 1, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        meter.take();
        let begun = checkout::begin(app.shop(), &user, "once")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        merge(&mut begin_usage, meter.take());
        let request = checkout::PaymentRequest {
            idempotency_key: format!("pay-{i}"),
            fingerprint: format!("bench-{i}"),
            payment_token: "tok_success".into(),
            shipping_address: address.clone(),
        };
        checkout::submit(app.shop(), &user, begun.checkout.checkout_id, request)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        merge(&mut order_usage, meter.take());
    }
    describe(
        "per begin-checkout (first of a shopper)",
        &begin_usage,
        runs,
    );
    describe(
        "per placed order (submit, payment approved)",
        &order_usage,
        runs,
    );
    println!(
        "(tables under prefix {}; DynamoDB Local reports capacity as DynamoDB would bill it)",
        app.config.tables.items.trim_end_matches("ItemsTable")
    );
    Ok(())
}

fn merge(into: &mut Usage, from: Usage) {
    for (op, n) in from.calls {
        *into.calls.entry(op).or_default() += n;
    }
    into.capacity += from.capacity;
    into.rounds += from.rounds;
}

/// `aisle-local bench assign`: orders assigned per second by one worker (sequential, as one
/// Lambda instance works through its batches), against the 52 seeded sites, with items
/// stocked in a few warehouses each so that some orders ship whole and some split.
pub async fn assign(orders: usize) -> Result<()> {
    use aisle::domain::{Address, HoldLine, Order, OrderStatus, Payment, PaymentState, Timestamp};
    use aisle::ports::Orders;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    let (app, meter) = metered_app().await?;
    let sites = crate::seed::warehouse_sites()?;
    for site in &sites {
        app.warehouses.put(site).await?;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let mut items: Vec<ItemId> = Vec::new();
    for i in 0..20 {
        let item = list_bench_item(&app, "bench-seller", format!("Bench part {i}"), 1_000).await?;
        items.push(item.item_id);
    }
    for item in &items {
        for site in sites.choose_multiple(&mut rng, 6) {
            let receipt = StockReceipt {
                warehouse_id: site.warehouse_id.clone(),
                item_id: *item,
                quantity: Quantity::try_from(10_000).unwrap(),
            };
            app.inventory
                .receive(&receipt, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let address: Address = serde_json::from_value(serde_json::json!({
        "name": "Ada Lovelace", "line1": "340 W Market", "city": "Bloomington", "state": "MN", "zip": "55425", "country": "US"
    }))?;
    let mut ids = Vec::with_capacity(orders);
    for i in 0..orders {
        let now = Timestamp::now();
        let count = rng.gen_range(1..=3);
        let lines: Vec<HoldLine> = items
            .choose_multiple(&mut rng, count)
            .map(|item| HoldLine {
                item_id: *item,
                name: "Bench part".into(),
                quantity: Quantity::try_from(rng.gen_range(1..=2)).unwrap(),
                unit_price: aisle::domain::Money::price(1_000, "USD").unwrap(),
            })
            .collect();
        let total = aisle::domain::Money::sum(
            aisle::domain::Currency::Usd,
            lines
                .iter()
                .map(|l| l.unit_price.times(l.quantity.get()).amount),
        );
        let order = Order::new(
            aisle::domain::NewOrder {
                checkout_id: aisle::domain::CheckoutId::generate(),
                user_id: format!("bench-shopper-{i}").try_into().unwrap(),
                lines,
                total,
                shipping_address: address.clone(),
                status: OrderStatus::Placed,
                payment: Payment {
                    state: PaymentState::Captured,
                    method: "tok_success".into(),
                    reference: None,
                    checks: 0,
                    key: None,
                    captured: total.amount,
                    refunded: 0,
                },
            },
            now,
        );
        app.orders.create(&order).await?;
        ids.push(order.order_id);
    }
    let warehouses = aisle::ports::Warehouses::list(&app.warehouses).await?;
    meter.take();
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(orders);
    let mut shipments = 0;
    for id in &ids {
        let t = Instant::now();
        match aisle::usecases::fulfilment::assign(app.shop(), &warehouses, *id, Timestamp::now())
            .await
        {
            Ok(aisle::usecases::fulfilment::Assignment::Assigned(sites)) => {
                shipments += sites.len()
            }
            Ok(other) => anyhow::bail!("order {id}: {other:?}"),
            Err(e) => anyhow::bail!("order {id}: {e}"),
        }
        latencies.push(t.elapsed());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "assign: {orders} orders in {:.2} s = {:.1} orders/s by one worker ({shipments} warehouse orders, {:.2} per order); latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        elapsed.as_secs_f64(),
        orders as f64 / elapsed.as_secs_f64(),
        shipments as f64 / orders as f64,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99)
    );
    describe("per assigned order", &meter.take(), orders as u64);
    Ok(())
}
