//! `aisle-local bench flash`: a flash sale on DynamoDB Local. One item with 1,000 units and
//! an open-loop demand of `rate` begin-checkout attempts a second for `seconds` (each from a
//! different shopper with the item in their cart), run twice in the same process on the same
//! tables: unsharded (today's single `TOTAL` row, no waiting room) and sharded with the
//! waiting room.
//!
//! Write units per partition key are computed from the requests the code sends: an SDK
//! interceptor reads every write's keys from the request body before it goes out, and counts
//! DynamoDB's price for it (a transactional item 2 units per KB, a plain write 1; all these
//! items are under 1 KB), per key per wall-clock second. A share of transaction tries is
//! failed with `TransactionConflict` (DynamoDB Local never raises it) to measure the retries.
//!
//! In front of the function stands the route's throttle as the template sets it for
//! `POST /v1/checkout` (API Gateway's token bucket, [`crate::limits::Bucket`]), so the
//! figures count the 429s a shopper would get. Shoppers behave as a storefront makes them:
//! a 429 is tried again after 1, 2 then 4 s (then the shopper gives up); a waiting-room
//! ticket (202) is followed by a new begin-checkout after its `Retry-After`; a hold (201) or
//! sold out (409) ends the visit. `AISLE_THROTTLES=off` removes the throttle.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aisle::domain::{Quantity, SaleSettings, StockReceipt, UserId};
use aisle::ports::{Inventory, Warehouses};
use aisle::usecases::{cart, checkout};
use aisle::{App, Config};
use anyhow::{Context, Result};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::bench::percentile;
use crate::template::Template;
use crate::{dynamo_client, endpoint, local_clients, local_sdk_config, resources};

/// Write units per (partition key, second since the meter started).
#[derive(Debug, Clone)]
struct WriteMeter {
    started: Instant,
    units: Arc<Mutex<HashMap<(String, u64), f64>>>,
}

/// The partition key value of a DynamoDB JSON key or item (every table here has one string
/// or number hash key, named one of these).
fn partition(table: &str, key: &serde_json::Value) -> Option<String> {
    for name in [
        "pk",
        "checkoutId",
        "orderId",
        "userId",
        "key",
        "itemId",
        "warehouseId",
    ] {
        if let Some(v) = key.get(name) {
            let value = v.get("S").or_else(|| v.get("N"))?.as_str()?;
            let table = table.rsplit('-').next().unwrap_or(table);
            return Some(format!("{table}/{value}"));
        }
    }
    None
}

impl WriteMeter {
    fn record(&self, key: Option<String>, units: f64) {
        if let Some(key) = key {
            let second = self.started.elapsed().as_secs();
            *self.units.lock().unwrap().entry((key, second)).or_default() += units;
        }
    }

    fn reset(&self) {
        self.units.lock().unwrap().clear();
    }

    /// The busiest key over the whole run: (key, units).
    fn busiest(&self) -> (String, f64) {
        let mut totals: HashMap<String, f64> = HashMap::new();
        for ((k, _), u) in self.units.lock().unwrap().iter() {
            *totals.entry(k.clone()).or_default() += *u;
        }
        totals
            .into_iter()
            .fold((String::new(), 0.0), |a, b| if b.1 > a.1 { b } else { a })
    }

    /// The busiest key's busiest second: (key, units).
    fn peak(&self) -> (String, f64) {
        self.units
            .lock()
            .unwrap()
            .iter()
            .map(|((k, _), u)| (k.clone(), *u))
            .fold((String::new(), 0.0), |a, b| if b.1 > a.1 { b } else { a })
    }
}

impl Intercept for WriteMeter {
    fn name(&self) -> &'static str {
        "WriteMeter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let Some(body) = request.body().bytes() else {
            return Ok(());
        };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
            return Ok(());
        };
        let table = json["TableName"].as_str().unwrap_or_default();
        match target.as_str() {
            "TransactWriteItems" => {
                for item in json["TransactItems"].as_array().into_iter().flatten() {
                    for kind in ["Update", "Delete", "ConditionCheck", "Put"] {
                        let part = &item[kind];
                        if part.is_null() {
                            continue;
                        }
                        let t = part["TableName"].as_str().unwrap_or_default();
                        let key = if kind == "Put" {
                            &part["Item"]
                        } else {
                            &part["Key"]
                        };
                        self.record(partition(t, key), 2.0);
                    }
                }
            }
            "UpdateItem" | "DeleteItem" => self.record(partition(table, &json["Key"]), 1.0),
            "PutItem" => self.record(partition(table, &json["Item"]), 1.0),
            "BatchWriteItem" => {
                if let Some(tables) = json["RequestItems"].as_object() {
                    for (t, requests) in tables {
                        for r in requests.as_array().into_iter().flatten() {
                            let key = if r["PutRequest"].is_null() {
                                &r["DeleteRequest"]["Key"]
                            } else {
                                &r["PutRequest"]["Item"]
                            };
                            self.record(partition(t, key), 1.0);
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// One mode's figures.
struct Run {
    /// Begin-checkout requests sent (arrivals, retries after a 429, returns with a ticket).
    requests: usize,
    /// Requests API Gateway's throttle refused (429).
    throttled: usize,
    /// Shoppers who gave up after their last 429.
    gave_up: usize,
    /// Why the errors failed, with counts.
    error_kinds: std::collections::BTreeMap<String, usize>,
    /// p50 / p99 of the time spent in the function (without waiting for a free instance).
    service: (f64, f64),
    /// Write units per attempt on the busiest key, over the whole run.
    per_attempt: (String, f64),
    label: &'static str,
    attempts: usize,
    holds: usize,
    tickets: usize,
    sold_out: usize,
    errors: usize,
    holds_per_second: f64,
    p50: f64,
    p99: f64,
    peak: (String, f64),
    retries_per_hold: f64,
    left: u32,
}

/// One shopper's visit: every request until a hold, sold out, an error or giving up.
#[derive(Default)]
struct Visit {
    requests: usize,
    throttled: usize,
    tickets: usize,
    gave_up: bool,
    latencies: Vec<Duration>,
    service: Vec<Duration>,
    /// When and how it ended (none: gave up).
    ended: Option<(Instant, Result<(), checkout::BeginError>)>,
}

/// Run the flash-sale benchmark at `rate` attempts a second for `seconds`, `conflict_ppm`
/// of transaction tries failed with `TransactionConflict`.
pub async fn flash(rate: usize, seconds: usize, conflict_ppm: u32, instances: usize) -> Result<()> {
    let template = Template::load_repo()?;
    let prefix = format!("flash{}-", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    let sdk = local_sdk_config().await;
    let mut clients = local_clients(&sdk);
    let ddb_endpoint = endpoint("AWS_ENDPOINT_URL_DYNAMODB", 8000);
    let plain = dynamo_client(&sdk, &ddb_endpoint);
    resources::create_tables(&plain, &prefix, &template)
        .await
        .context("is the local stack up? (make stack-up)")?;
    resources::create_queues(&clients.sqs, &prefix, &template).await?;
    let meter = WriteMeter {
        started: Instant::now(),
        units: Default::default(),
    };
    clients.dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&ddb_endpoint)
            .interceptor(meter.clone())
            .build(),
    );
    let env = template.local_env(&prefix)?;
    let config = Config::from_lookup(|k| env.get(k).cloned())?;
    let app = Arc::new(App::new(&config, clients));
    let site = crate::seed::warehouse_sites()?.remove(0);
    app.warehouses.put(&site).await?;

    let attempts = rate * seconds;
    let throttle = template
        .throttles()
        .of("POST /v1/checkout")
        .filter(|_| crate::limits::throttles_on());
    match throttle {
        Some(t) => println!(
            "POST /v1/checkout is throttled as the template sets it: {} requests/s, burst {} (429 beyond; AISLE_THROTTLES=off removes it)",
            t.rate, t.burst
        ),
        None => println!("POST /v1/checkout is not throttled"),
    }
    println!(
        "flash sale on DynamoDB Local: 1,000 units, {attempts} shoppers arriving at {rate}/s for {seconds} s, \
         served by at most {instances} function instances at once (each serves one request at a time, \
         as Lambda does), {:.1} % of transaction tries conflicted (injected)",
        f64::from(conflict_ppm) / 10_000.0
    );
    let mut runs = Vec::new();
    for (label, sale) in [
        ("unsharded, no waiting room", SaleSettings::default()),
        (
            "8 shards, no waiting room",
            SaleSettings::new(8, false, 0).expect("valid"),
        ),
        (
            "8 shards + waiting room",
            SaleSettings::new(8, true, 0).expect("valid"),
        ),
    ] {
        runs.push(
            run(
                &app,
                &meter,
                &site.warehouse_id,
                label,
                sale,
                rate,
                attempts,
                conflict_ppm,
                instances,
                throttle,
            )
            .await?,
        );
    }
    println!();
    println!("| mode | shoppers | requests | throttled (429) | gave up | holds | tickets (202) | sold out (409) | errors | holds/s | answer p50 / p99 (from arrival) | in the function p50 / p99 | peak write units in one second on one key, measured | write units per attempt on the busiest key | the same at {rate} attempts/s | conflict retries per hold | units left |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &runs {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.0} / {:.0} ms | {:.1} / {:.1} ms | {:.0} | {:.3} | {:.0} | {:.2} | {} |",
            r.label, r.attempts, r.requests, r.throttled, r.gave_up, r.holds, r.tickets, r.sold_out, r.errors, r.holds_per_second,
            r.p50, r.p99, r.service.0, r.service.1, r.peak.1, r.per_attempt.1, r.per_attempt.1 * rate as f64,
            r.retries_per_hold, r.left
        );
    }
    for r in &runs {
        println!(
            "{}: busiest key {} ; peak second on {}",
            r.label, r.per_attempt.0, r.peak.0
        );
        if !r.error_kinds.is_empty() {
            println!("  errors: {:?}", r.error_kinds);
        }
    }
    for r in &runs {
        let answered = r.holds + r.sold_out + r.errors + r.gave_up;
        println!(
            "{}: {} units sold, {} oversold, {answered} of {} shoppers answered",
            r.label,
            r.holds,
            r.holds.saturating_sub(1000),
            r.attempts
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn run(
    app: &Arc<App>,
    meter: &WriteMeter,
    warehouse: &aisle::domain::WarehouseId,
    label: &'static str,
    sale: SaleSettings,
    rate: usize,
    attempts: usize,
    conflict_ppm: u32,
    instances: usize,
    throttle: Option<crate::template::Throttle>,
) -> Result<Run> {
    let item =
        crate::bench::list_bench_item(app, "flash-seller", "Flash console".into(), 49_999).await?;
    let receipt = StockReceipt {
        warehouse_id: warehouse.clone(),
        item_id: item.item_id,
        quantity: Quantity::try_from(1_000).unwrap(),
    };
    app.inventory
        .receive(&receipt, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if sale != SaleSettings::default() {
        app.inventory.configure_sale(item.item_id, sale).await?;
    }
    // Carts first (not measured), 64 at a time.
    // Shoppers of this run only (a shopper of an earlier run still has its item in the cart).
    let run_id = item.item_id.to_string()[..8].to_owned();
    let users: Vec<UserId> = (0..attempts)
        .map(|i| format!("flash-{run_id}-{i}").try_into().unwrap())
        .collect();
    let mut setup = tokio::task::JoinSet::new();
    for chunk in users.chunks(attempts.div_ceil(64).max(1)) {
        let (app, chunk, id) = (app.clone(), chunk.to_vec(), item.item_id);
        setup.spawn(async move {
            for user in chunk {
                cart::set_line(app.shop(), &user, id, 1, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = setup.join_next().await {
        done??;
    }

    meter.reset();
    app.faults.conflicts_injected.store(0, Ordering::SeqCst);
    app.faults.conflict_rate(conflict_ppm);
    let started = Instant::now();
    let pool = Arc::new(tokio::sync::Semaphore::new(instances));
    let door = throttle.map(|t| Arc::new(Mutex::new(crate::limits::Bucket::new(t, started))));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, user) in users.into_iter().enumerate() {
        let (app, pool, door) = (app.clone(), pool.clone(), door.clone());
        let arrival = started + Duration::from_secs_f64(i as f64 / rate as f64);
        tasks.spawn(async move {
            let mut visit = Visit::default();
            let mut due = arrival;
            let mut refusals = 0u32;
            loop {
                tokio::time::sleep_until(due.into()).await;
                visit.requests += 1;
                let admitted = door
                    .as_ref()
                    .is_none_or(|b| b.lock().unwrap().take(Instant::now()));
                if !admitted {
                    visit.throttled += 1;
                    if refusals == 3 {
                        visit.gave_up = true;
                        return visit;
                    }
                    due = Instant::now() + Duration::from_secs(1 << refusals);
                    refusals += 1;
                    continue;
                }
                // A request waits for a free instance; its latency counts from when it was sent.
                let _instance = pool.acquire().await.expect("open semaphore");
                let served = Instant::now();
                let outcome = checkout::begin(app.shop(), &user, "flash").await;
                visit.latencies.push(due.elapsed());
                visit.service.push(served.elapsed());
                match outcome {
                    Err(checkout::BeginError::Waiting(ticket)) => {
                        visit.tickets += 1;
                        let wait = aisle::domain::TicketView::of(&ticket, app.clock.now())
                            .estimated_wait_seconds()
                            .max(1);
                        due = Instant::now() + Duration::from_secs(wait);
                    }
                    other => {
                        visit.ended = Some((Instant::now(), other.map(|_| ())));
                        return visit;
                    }
                }
            }
        });
    }
    let (mut holds, mut tickets, mut sold_out, mut errors) = (0, 0, 0, 0);
    let (mut requests, mut throttled, mut gave_up) = (0, 0, 0);
    let mut error_kinds: std::collections::BTreeMap<String, usize> = Default::default();
    let mut latencies = Vec::with_capacity(attempts);
    let mut service = Vec::with_capacity(attempts);
    let mut last_hold = started;
    while let Some(done) = tasks.join_next().await {
        let visit = done?;
        latencies.extend(visit.latencies);
        service.extend(visit.service);
        requests += visit.requests;
        throttled += visit.throttled;
        tickets += visit.tickets;
        gave_up += usize::from(visit.gave_up);
        match visit.ended {
            Some((at, Ok(()))) => {
                holds += 1;
                last_hold = last_hold.max(at);
            }
            Some((_, Err(checkout::BeginError::OutOfStock(_)))) => sold_out += 1,
            Some((_, Err(e))) => {
                errors += 1;
                let kind: String = e.to_string().chars().take(60).collect();
                *error_kinds.entry(kind).or_default() += 1;
            }
            None => {}
        }
    }
    app.faults.conflict_rate(0);
    latencies.sort();
    service.sort();
    let conflicts = app.faults.conflicts_injected.load(Ordering::SeqCst);
    let left = app
        .inventory
        .available(&[item.item_id])
        .await?
        .get(&item.item_id)
        .copied()
        .unwrap_or(0);
    let busiest = meter.busiest();
    Ok(Run {
        requests,
        throttled,
        gave_up,
        error_kinds,
        per_attempt: (busiest.0, busiest.1 / attempts.max(1) as f64),
        label,
        attempts,
        holds,
        tickets,
        sold_out,
        errors,
        holds_per_second: holds as f64 / last_hold.duration_since(started).as_secs_f64().max(1e-3),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        service: (percentile(&service, 0.50), percentile(&service, 0.99)),
        peak: meter.peak(),
        retries_per_hold: f64::from(conflicts) / holds.max(1) as f64,
        left,
    })
}
