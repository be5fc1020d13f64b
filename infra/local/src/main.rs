//! `aisle-local`: create the template's resources locally, print the functions' local
//! environment, seed demo data. Endpoints come from `infra/scripts/env.sh`.
//!
//! ```text
//! aisle-local create-resources [--prefix P]   tables, queues, bus from template.yaml
//! aisle-local env [--prefix P]                the functions' environment, KEY=VALUE lines
//! aisle-local seed [--prefix P]               warehouse sites, demo products with pictures
//! aisle-local report zero-results [--limit N] searches that found nothing (the operator's report)
//! aisle-local picture <file> [--category c] [--name n] [--bomb]
//!                                             a drawn product picture (JPEG), or a PNG bomb
//! aisle-local bench checkout                  holds/s under contention; DynamoDB cost per call
//! aisle-local bench search [--items N[,N...]] [--queries N]   (needs the local stack)
//!                                             embedded index build time and query latency
//! aisle-local search rebuild [--prefix P]     rebuild the local search index, switch to it
//! aisle-local warehouse <wh> orders|receive|adjust|ship|deliver|return ... [--queue-url U]
//!                                             act as a warehouse (see `simulator`)
//! aisle-local bench assign [--orders N]       orders assigned per second by one worker
//! aisle-local bench flash [--rate 5000] [--seconds 2] [--conflict-ppm 50000] [--instances 200]
//!                                             a flash sale, unsharded vs sharded + waiting room
//! aisle-local bench init BASELINE BIN... [--runs N]
//!                                             cold start: process start to first poll
//! aisle-local gateway [--port 3000] [--lambda-url http://127.0.0.1:9000]
//!                                             the template's HTTP API, authorizer and event
//!                                             sources, in front of `cargo lambda watch`
//! aisle-local storefront [--port 3001] [--api http://127.0.0.1:3000]
//!                                             the static storefront, with dev sign-in
//! aisle-local iam-proxy --port P --upstream URL [--audit]
//!                                             IAM per function in front of DynamoDB Local / moto
//! aisle-local iam-report                      per function: actions used vs granted
//! aisle-local stripe-proxy --port P --upstream URL
//!                                             Stripe's idempotent replays in front of localstripe
//! aisle-local token [--user U] [--groups sellers,warehouses] [--warehouse wh-1000] [--ttl s]
//!                                             a dev token the gateway accepts
//! ```

use aisle::{App, Config};
use aisle_local::template::Template;
use aisle_local::{
    dynamo_client, endpoint, events_client, local_clients, local_sdk_config, resources,
    secrets_client, seed, sqs_client, DEFAULT_PREFIX,
};
use anyhow::{bail, Context, Result};

/// The value after `name` in the arguments, if given.
fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Where the IAM proxies append their decisions (`AISLE_IAM_LOG`, default `.local/iam.jsonl`).
fn iam_log() -> std::path::PathBuf {
    std::env::var("AISLE_IAM_LOG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| aisle_local::template::repo_root().join(".local/iam.jsonl"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let prefix = match args.iter().position(|a| a == "--prefix") {
        Some(i) => args.get(i + 1).cloned().unwrap_or_default(),
        None => std::env::var("AISLE_TABLE_PREFIX").unwrap_or_else(|_| DEFAULT_PREFIX.into()),
    };
    let template = Template::load_repo()?;
    let sdk = local_sdk_config().await;
    let dynamo = dynamo_client(&sdk, &endpoint("AWS_ENDPOINT_URL_DYNAMODB", 8000));
    match args.first().map(String::as_str) {
        Some("create-resources") => {
            let tables = resources::create_tables(&dynamo, &prefix, &template).await?;
            let moto = endpoint("AWS_ENDPOINT_URL_SQS", 5000);
            let queues =
                resources::create_queues(&sqs_client(&sdk, &moto), &prefix, &template).await?;
            let events = events_client(&sdk, &endpoint("AWS_ENDPOINT_URL_EVENTBRIDGE", 5000));
            resources::create_buses(&events, &prefix, &template).await?;
            resources::create_rules(&events, &prefix, &template).await?;
            let secrets = secrets_client(&sdk, &endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER", 5000));
            resources::create_stripe_secret(&secrets, &template).await?;
            let ses = aws_sdk_sesv2::Client::from_conf(
                aws_sdk_sesv2::config::Builder::from(&sdk)
                    .endpoint_url(endpoint("AWS_ENDPOINT_URL_SESV2", 5000))
                    .build(),
            );
            resources::create_mail_identity(&ses, &template).await?;
            let s3 = aisle::app::s3_client(&sdk, Some(&endpoint("AWS_ENDPOINT_URL_S3", 5000)));
            resources::create_buckets(&s3, &prefix, &template).await?;
            resources::create_mail_configuration_sets(&ses, &prefix, &template).await?;
            eprintln!(
                "[aisle-local] {} tables, {} queues, {} event buses, {} rules ready (prefix {prefix:?})",
                tables.len(),
                queues.len(),
                template.buses.len(),
                template.rules.len()
            );
        }
        Some("env") => {
            print!("{}", aisle_local::template::env_file(&template.local_env(&prefix)?)?);
        }
        Some("picture") => {
            // A drawn product picture (or, with --bomb, a PNG header declaring 30,000 x 30,000
            // pixels) written to a file: what the browser test uploads.
            let out = args.get(1).context("usage: aisle-local picture <file.jpg> [--category c] [--name n] [--bomb]")?;
            let bytes = if args.iter().any(|a| a == "--bomb") {
                aisle_local::pictures::png_header(30_000, 30_000)
            } else {
                let category = flag(&args, "--category").unwrap_or_else(|| "kitchen".into());
                let name = flag(&args, "--name").unwrap_or_else(|| "Aisle product".into());
                aisle_local::pictures::jpeg(&aisle_local::pictures::product(&category, &name, 1200, 900))
            };
            std::fs::write(out, bytes)?;
        }
        Some("seed") => {
            let env = template.local_env(&prefix)?;
            let config = Config::from_lookup(|k| env.get(k).cloned())?;
            let app = App::new(&config, local_clients(&sdk));
            let sites = seed::seed_warehouses(&app.warehouses).await?;
            let products = seed::seed_products(&app).await?;
            eprintln!("[aisle-local] seeded {sites} warehouse sites and {products} demo products with pictures (seller {})", seed::DEMO_SELLER);
        }
        Some("report") if args.get(1).map(String::as_str) == Some("zero-results") => {
            // The operator's report of searches that found nothing (today and yesterday).
            let env = template.local_env(&prefix)?;
            let config = Config::from_lookup(|k| env.get(k).cloned())?;
            let app = App::new(&config, local_clients(&sdk));
            let limit = flag(&args, "--limit").and_then(|n| n.parse().ok()).unwrap_or(20);
            let now = aisle::domain::Timestamp::now();
            let report = aisle::usecases::recommend::rank::zero_results(&app.signals, limit, now).await?;
            println!("{:>8}  query (searches that found nothing, today and yesterday)", "count");
            for (query, count) in report {
                println!("{count:>8}  {query}");
            }
        }
        Some("onboard-warehouse") => {
            // The local counterpart of infra/scripts/onboard-warehouse.sh.
            let warehouse = args.get(1).context("usage: aisle-local onboard-warehouse <warehouseId>")?;
            let env = template.local_env(&prefix)?;
            let config = Config::from_lookup(|k| env.get(k).cloned())?;
            let app = App::new(&config, local_clients(&sdk));
            let (client, role) = seed::onboard_warehouse(&app, warehouse).await?;
            println!("{}", serde_json::json!({ "warehouseId": warehouse, "clientId": client, "roleId": role }));
            eprintln!("[aisle-local] {warehouse}: app client {client} and IAM role {role} bound; a token: aisle-local token --warehouse {warehouse}; updates: aisle-local warehouse {warehouse} ...");
        }
        Some("storefront") => {
            let port: u16 = flag(&args, "--port").map(|p| p.parse()).transpose()?.unwrap_or(3001);
            let api = flag(&args, "--api").unwrap_or_else(|| "http://127.0.0.1:3000".into());
            let stripe = format!("http://127.0.0.1:{}", std::env::var("AISLE_LOCALSTRIPE_PORT").unwrap_or_else(|_| "8420".into()));
            let root = aisle_local::template::repo_root().join("storefront");
            let images = Some((aisle::app::s3_client(&sdk, Some(&endpoint("AWS_ENDPOINT_URL_S3", 5000))), aisle_local::template::bucket_name(&prefix, "ImagesBucket")));
            aisle_local::storefront::Storefront { root, api, stripe, images }.serve(port).await?;
        }
        Some("gateway") => {
            let port: u16 = flag(&args, "--port").map(|p| p.parse()).transpose()?.unwrap_or(3000);
            let lambda = flag(&args, "--lambda-url").unwrap_or_else(|| "http://127.0.0.1:9000".into());
            let gateway = std::sync::Arc::new(aisle_local::gateway::Gateway::new(template.clone(), &prefix, &lambda));
            for route in &template.routes {
                let auth = if route.public { "public" } else { "jwt" };
                println!("{}", serde_json::json!({ "gateway": "route", "route": format!("{} {}", route.method, route.path), "function": route.binary, "auth": auth }));
            }
            let missing = gateway.clone().start_sources().await?;
            let manage = aisle_local::live::ManageCheck::from_env(&template, &prefix, Some(iam_log()))?;
            if let Some(live) = aisle_local::live::Live::new(gateway.clone(), &template, manage) {
                let live_port: u16 = std::env::var("AISLE_LIVE_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3002);
                tokio::spawn(async move {
                    if let Err(e) = live.serve(live_port).await {
                        println!("{}", serde_json::json!({ "live": "failed", "error": e.to_string() }));
                    }
                });
            }
            println!("{}", serde_json::json!({ "gateway": "not emulated", "entries": missing }));
            println!("{}", serde_json::json!({ "gateway": "ready", "url": format!("http://127.0.0.1:{port}") }));
            gateway.serve(port).await?;
        }
        Some("iam-proxy") => {
            // IAM enforced in front of DynamoDB Local or moto (see `iam`): `--audit` logs
            // denials without refusing them.
            let port: u16 = flag(&args, "--port").context("--port")?.parse()?;
            let upstream = flag(&args, "--upstream").context("--upstream")?;
            let policies = std::sync::Arc::new(aisle_local::iam::Policies::from_template(&template, &prefix)?);
            let log = aisle_local::iam::DecisionLog::open(Some(iam_log()))?;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            let enforce = !args.iter().any(|a| a == "--audit");
            println!("{}", serde_json::json!({ "iam": "ready", "port": port, "upstream": upstream, "enforce": enforce }));
            let feedback = std::sync::Arc::new(aisle_local::ses_events::MailFeedback::from_template(&template));
            // S3's notifications of new objects, sent to moto's queues (the upstream is moto).
            let notifications = std::sync::Arc::new(aisle_local::s3_uploads::Buckets::from_template(&template, &prefix, sqs_client(&sdk, &upstream))?);
            aisle_local::iam::serve(listener, upstream, policies, log, enforce, feedback, notifications).await;
        }
        Some("stripe-proxy") => {
            let port: u16 = flag(&args, "--port").context("--port")?.parse()?;
            let upstream = flag(&args, "--upstream").context("--upstream")?;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            println!("{}", serde_json::json!({ "stripe": "ready", "port": port, "upstream": upstream }));
            aisle_local::stripe_proxy::serve(listener, upstream).await;
        }
        Some("iam-report") => {
            let policies = aisle_local::iam::Policies::from_template(&template, &prefix)?;
            let log = std::fs::read_to_string(iam_log()).unwrap_or_default();
            print!("{}", aisle_local::iam::report(&policies, &log));
        }
        Some("token") => {
            // People: `--user NAME [--groups sellers] [--kind id|access]` (access by default).
            // Warehouse systems: `--warehouse wh-1000`, the client-credentials access token of
            // the app client onboarding made for it (`--kind client --user CLIENT --groups SCOPES`
            // for any other client).
            use aisle_local::token::{mint, warehouse_client, Kind};
            let ttl = flag(&args, "--ttl").map(|t| t.parse()).transpose()?.unwrap_or(12 * 3600);
            let list = |name: &str| -> Vec<String> { flag(&args, name).map(|g| g.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default() };
            let token = match flag(&args, "--warehouse") {
                Some(warehouse) => mint(Kind::Client, &warehouse_client(&warehouse), &[aisle::domain::principal::WAREHOUSE_SCOPE.to_owned()], ttl),
                None => {
                    let kind = flag(&args, "--kind").map(|k| Kind::parse(&k).with_context(|| format!("--kind must be id, access or client, not {k:?}"))).transpose()?.unwrap_or(Kind::Access);
                    let user = flag(&args, "--user").unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                    mint(kind, &user, &list("--groups"), ttl)
                }
            };
            println!("{token}");
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("checkout") => {
            aisle_local::bench::checkout(50, 10).await?;
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("recommendations") => {
            let shoppers = flag(&args, "--shoppers").map(|n| n.parse()).transpose()?.unwrap_or(20_000);
            aisle_local::bench::recommend::recommendations(shoppers);
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("images") => {
            let runs = flag(&args, "--runs").map(|n| n.parse()).transpose()?.unwrap_or(5);
            aisle_local::bench::images::images(runs)?;
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("search") => {
            let sizes: Vec<usize> = flag(&args, "--items")
                .unwrap_or_else(|| "100000".into())
                .split(',')
                .map(|n| n.parse())
                .collect::<Result<_, _>>()?;
            let queries = flag(&args, "--queries").map(|n| n.parse()).transpose()?.unwrap_or(2_000);
            aisle_local::search_bench::search(&sizes, queries).await?;
        }
        Some("warehouse") => {
            let env = template.local_env(&prefix)?;
            let config = Config::from_lookup(|k| env.get(k).cloned())?;
            let clients = local_clients(&sdk);
            let app = App::new(&config, clients);
            // As the warehouse's own IAM role would: its credentials (named by its role id)
            // through the IAM proxy in front of moto, which records the sender as SQS does.
            let warehouse_id = args.get(1).cloned().unwrap_or_default();
            let as_role = aisle_local::warehouse_sdk(&warehouse_id);
            let proxy = format!("http://127.0.0.1:{}", std::env::var("AISLE_IAM_MOTO_PORT").unwrap_or_else(|_| "5001".into()));
            let sqs = sqs_client(&as_role, &proxy);
            let queue = flag(&args, "--queue-url")
                .unwrap_or_else(|| aisle_local::template::queue_url(&prefix, "WarehouseUpdatesQueue"));
            let warehouse = args.get(1).cloned().unwrap_or_default();
            let rest: Vec<String> = args.iter().skip(2).take_while(|a| !a.starts_with("--")).cloned().collect();
            aisle_local::simulator::run(&app, &sqs, &queue, &warehouse, &rest).await?;
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("init") => {
            let runs = flag(&args, "--runs").map(|n| n.parse()).transpose()?.unwrap_or(30);
            let mut binaries = Vec::new();
            let mut rest = args[2..].iter();
            while let Some(arg) = rest.next() {
                match arg.as_str() {
                    "--runs" | "--prefix" => {
                        rest.next();
                    }
                    path => binaries.push(std::path::PathBuf::from(path)),
                }
            }
            let env = template.local_env(&prefix)?;
            aisle_local::init_bench::init(&binaries, runs, &env).await?;
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("flash") => {
            let rate = flag(&args, "--rate").map_or(Ok(5_000), |v| v.parse())?;
            let seconds = flag(&args, "--seconds").map_or(Ok(2), |v| v.parse())?;
            let ppm = flag(&args, "--conflict-ppm").map_or(Ok(50_000), |v| v.parse())?;
            let instances = flag(&args, "--instances").map_or(Ok(200), |v| v.parse())?;
            aisle_local::flash_bench::flash(rate, seconds, ppm, instances).await?;
        }
        Some("bench") if args.get(1).map(String::as_str) == Some("assign") => {
            let orders = flag(&args, "--orders").map(|n| n.parse()).transpose()?.unwrap_or(200);
            aisle_local::bench::assign(orders).await?;
        }
        Some("search") if args.get(1).map(String::as_str) == Some("rebuild") => {
            let env = template.local_env(&prefix)?;
            let config = Config::from_lookup(|k| env.get(k).cloned())?;
            let app = App::new(&config, local_clients(&sdk));
            let report = aisle::usecases::search::rebuild(&app.catalog, &app.inventory, &*app.clock, app.search.index()?).await?;
            eprintln!("[aisle-local] search index rebuilt: generation {}, {} indexed, {} caught up", report.generation, report.indexed, report.caught_up);
        }
        _ => bail!("usage: aisle-local create-resources|env|seed|gateway|storefront|token|warehouse|bench checkout|bench search|bench assign|bench flash|bench init|iam-proxy|iam-report|search rebuild [--prefix P] (see the module docs)"),
    }
    Ok(())
}
