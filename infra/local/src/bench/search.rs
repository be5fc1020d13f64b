//! `aisle-local bench search`: for each catalogue size and each engine (the embedded tantivy
//! index, and OpenSearch when a node answers on `AISLE_OPENSEARCH_PORT`), index a generated
//! catalogue and time a query mix against it (single words, phrases, typos, filters, sorts,
//! deep pages), printing the build time, memory and per-query latency percentiles; then the
//! search handler's whole path (index, live stock read from DynamoDB Local, delivery promise)
//! without and with `zip`, and with `sort=delivery`, with the live-stock read timed on its own;
//! and at the end one table with both engines side by side.
//!
//! Needs the local stack (DynamoDB Local, and the OpenSearch node for its column:
//! `make bench-search` starts both). Build with optimisations: `make bench-search` uses
//! cargo's `bench` profile.

use std::time::{Duration, Instant};

use aisle::adapters::search::{EmbeddedIndex, OpenSearchIndex};
use aisle::domain::search::words;
use aisle::domain::ItemId;
use aisle::domain::{DeliveryPromise, SearchDoc, SearchQuery, SortOrder, Zip};
use aisle::ports::{IndexTarget, Inventory, SearchIndex};
use aisle::usecases::search::{self as usecase, DeliveryAsk, QueryCache, SearchContext};
use anyhow::Result;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::bench::percentile;

/// One query of the mix, with its kind for the per-kind breakdown.
struct Probe {
    kind: &'static str,
    query: SearchQuery,
    /// Follow the cursor this many pages further (deep paging).
    pages: usize,
}

/// Swap two neighbouring letters: the commonest typo.
fn typo(word: &str, rng: &mut StdRng) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() >= 4 {
        let i = rng.gen_range(1..chars.len() - 1);
        chars.swap(i, i + 1);
    }
    chars.into_iter().collect()
}

fn mix(docs: &[SearchDoc], count: usize, seed: u64) -> Vec<Probe> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let doc = docs.choose(&mut rng).expect("docs");
            let name = words(doc.item.name.as_str());
            let mut query = SearchQuery::all();
            query.sort = SortOrder::Relevance;
            let mut pages = 0;
            let kind = match i % 6 {
                0 => {
                    query.words = vec![name.choose(&mut rng).expect("words").clone()];
                    "single word"
                }
                1 => {
                    let start = rng.gen_range(0..name.len().saturating_sub(1).max(1));
                    query.words = name[start..(start + 3).min(name.len())].to_vec();
                    "phrase"
                }
                2 => {
                    let long: Vec<&String> = name.iter().filter(|w| w.len() >= 5).collect();
                    let word = long
                        .choose(&mut rng)
                        .map_or(name[0].clone(), |w| typo(w, &mut rng));
                    query.words = vec![word, doc.item.category.as_str().replace('-', " ")];
                    "typo"
                }
                3 => {
                    query.category = Some(doc.item.category.clone());
                    query.in_stock_only = true;
                    query.max_price = Some(doc.price() * 2);
                    if let Some((k, v)) = doc.item.attributes.iter().next() {
                        query.attributes = vec![(k.to_lowercase(), v.to_lowercase())];
                    }
                    query.sort = SortOrder::PriceAsc;
                    "filters"
                }
                4 => {
                    query.brand = Some(doc.brand_key());
                    query.sort = SortOrder::Newest;
                    "brand, newest"
                }
                _ => {
                    query.words = vec![doc.item.category.as_str().replace('-', " ")];
                    pages = rng.gen_range(5..=10);
                    "deep page"
                }
            };
            Probe { kind, query, pages }
        })
        .collect()
}

/// Every probe's searches (deep pages followed): each one's time, the times by kind, and how
/// many hits came back.
async fn run_probes<'p>(
    index: &dyn SearchIndex,
    probes: &'p [Probe],
) -> Result<(
    Vec<Duration>,
    std::collections::BTreeMap<&'p str, Vec<Duration>>,
    u64,
)> {
    let mut all = Vec::new();
    let mut by_kind: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
    let mut hits = 0u64;
    for probe in probes {
        let mut query = probe.query.clone();
        for page in 0..=probe.pages {
            let started = Instant::now();
            let found = index.search(&query).await?;
            let took = started.elapsed();
            all.push(took);
            by_kind.entry(probe.kind).or_default().push(took);
            hits += found.hits.len() as u64;
            match found.next {
                Some(next) if page < probe.pages => query.after = Some(next),
                _ => break,
            }
        }
    }
    Ok((all, by_kind, hits))
}

/// A search engine under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Embedded,
    OpenSearch,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Embedded => "embedded",
            Engine::OpenSearch => "opensearch",
        }
    }
}

/// The local OpenSearch node, if one answers (`AISLE_SEARCH=opensearch stack.sh up`).
async fn opensearch_node() -> Option<String> {
    let port = std::env::var("AISLE_OPENSEARCH_PORT").unwrap_or_else(|_| "9200".into());
    let endpoint = format!("http://127.0.0.1:{port}");
    let probe = OpenSearchIndex::new(&endpoint, "bench-probe", "us-east-1", None).ok()?;
    match probe.call("GET", "/", None).await {
        Ok(answer) if answer.status == 200 => Some(endpoint),
        _ => None,
    }
}

/// One engine at one size: what the summary table prints.
struct Row {
    engine: Engine,
    items: usize,
    build_s: f64,
    memory_mb: f64,
    disk_mb: f64,
    index: [f64; 3],
    /// The engine's percentiles in steady state (after as many other queries first).
    warm: [f64; 3],
    path: PathFigures,
    /// The suggestion handler's percentiles.
    suggest: [f64; 3],
}

/// For each catalogue size: index that many generated items in each engine, run `queries`
/// queries, the engine alone and then the handler's path; print the figures and a summary.
pub async fn search(sizes: &[usize], queries: usize) -> Result<()> {
    let (app, _meter) = crate::bench::metered_app().await?;
    crate::seed::seed_warehouses(&app.warehouses).await?;
    let delivery = app.delivery.get(&app.warehouses).await?;
    let node = opensearch_node().await;
    let mut engines = vec![Engine::Embedded];
    match &node {
        Some(endpoint) => {
            engines.push(Engine::OpenSearch);
            println!("OpenSearch node at {endpoint}: both engines");
        }
        None => println!(
            "no OpenSearch node answered (AISLE_SEARCH=opensearch infra/scripts/stack.sh up): embedded only"
        ),
    }
    let mut rows = Vec::new();
    for &items in sizes {
        let generated = Instant::now();
        let docs = crate::products::generate(items, 42);
        println!(
            "\n== {items} items == generated in {:.2} s",
            generated.elapsed().as_secs_f64()
        );
        write_stock_rows(&app, &docs).await?;
        for &engine in &engines {
            rows.push(one_size(&app, &delivery, engine, node.as_deref(), &docs, queries).await?);
        }
    }
    println!("\nsearch, both engines side by side (ms; memory is what the engine holds beyond the OS page cache):");
    println!(
        "{:<10} {:>9} | {:>8} {:>8} {:>8} | {:>18} | {:>18} | {:>18} | {:>18} | {:>18} | {:>8} | {:>8} | {:>18}",
        "engine",
        "items",
        "build s",
        "mem MB",
        "disk MB",
        "engine p50/p95/p99",
        "steady p50/p95/p99",
        "handler no zip",
        "+ signal line",
        "handler zip",
        "stock p99",
        "promise",
        "suggest p50/p95/p99"
    );
    for r in &rows {
        let f = |p: [f64; 3]| format!("{:.2}/{:.2}/{:.2}", p[0], p[1], p[2]);
        println!(
            "{:<10} {:>9} | {:>8.1} {:>8.0} {:>8.0} | {:>18} | {:>18} | {:>18} | {:>18} | {:>18} | {:>8.2} | {:>8.3} | {:>18}",
            r.engine.name(),
            r.items,
            r.build_s,
            r.memory_mb,
            r.disk_mb,
            f(r.index),
            f(r.warm),
            f(r.path.plain),
            f(r.path.signalled),
            f(r.path.zip),
            r.path.stock_p99,
            r.path.promise_p99,
            f(r.suggest)
        );
    }
    for engine in &engines {
        let of = |items: usize| {
            rows.iter()
                .find(|r| r.engine == *engine && r.items == items)
        };
        if let (Some(small), Some(large)) = (of(100_000), of(1_000_000)) {
            println!(
                "{}: engine p99 at 1,000,000 is {:.2}x its 100,000-item figure ({:.2}x in steady state)",
                engine.name(),
                large.index[2] / small.index[2],
                large.warm[2] / small.warm[2]
            );
        }
    }
    Ok(())
}

/// The handler-path percentiles (p50, p95, p99) of one catalogue size.
struct PathFigures {
    plain: [f64; 3],
    /// No zip, and the search's signal written as the handler writes it (a JSON log line).
    signalled: [f64; 3],
    zip: [f64; 3],
    sorted: [f64; 3],
    stock_p99: f64,
    promise_p99: f64,
}

/// ZIP codes of the shoppers in the mix: every warehouse's own and some large cities'.
fn shopper_zips() -> Vec<Zip> {
    let mut zips: Vec<Zip> = crate::seed::warehouse_sites()
        .unwrap_or_default()
        .iter()
        .filter_map(|w| Zip::try_from(w.zip.as_str()).ok())
        .collect();
    for z in [
        "10001", "94103", "60601", "33131", "98101", "02108", "75201", "80202", "30303", "55425",
    ] {
        zips.extend(Zip::try_from(z).ok());
    }
    zips
}

/// Stock rows for the in-stock items among the first 20,000 (a batch read costs the same per
/// key whether the row exists or not).
async fn write_stock_rows(app: &aisle::App, docs: &[SearchDoc]) -> Result<()> {
    let started = Instant::now();
    let rows: Vec<(ItemId, u32)> = docs
        .iter()
        .take(20_000)
        .filter(|d| d.in_stock)
        .map(|d| (d.item.item_id, 10))
        .collect();
    let mut loads = tokio::task::JoinSet::new();
    for chunk in rows.chunks(rows.len().div_ceil(8).max(1)) {
        let (inventory, chunk) = (app.inventory.clone(), chunk.to_vec());
        loads.spawn(async move { inventory.load_totals(&chunk).await });
    }
    while let Some(done) = loads.join_next().await {
        done??;
    }
    println!(
        "stock rows: {} written to DynamoDB Local in {:.1} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// An engine filled with `docs`, and how to read its size and clean it up.
enum Built {
    Embedded(EmbeddedIndex, std::path::PathBuf),
    OpenSearch(OpenSearchIndex, String),
}

impl Built {
    fn index(&self) -> &dyn SearchIndex {
        match self {
            Built::Embedded(index, _) => index,
            Built::OpenSearch(index, _) => index,
        }
    }

    /// (memory MB, disk MB): the embedded engine's in-memory columns and cached bitsets and
    /// its files; the OpenSearch node's JVM heap in use and the index's store.
    async fn sizes(&self) -> Result<(f64, f64)> {
        match self {
            Built::Embedded(index, dir) => Ok((
                index.resident_bytes() as f64 / 1e6,
                dir_size(dir) as f64 / 1e6,
            )),
            Built::OpenSearch(index, generation) => {
                let stats = index.call("GET", "/_nodes/_local/stats/jvm", None).await?;
                let stats: serde_json::Value = serde_json::from_slice(&stats.body)?;
                let heap = stats["nodes"]
                    .as_object()
                    .and_then(|nodes| nodes.values().next())
                    .and_then(|node| node["jvm"]["mem"]["heap_used_in_bytes"].as_f64())
                    .unwrap_or(0.0);
                let store = index
                    .call("GET", &format!("/{generation}/_stats/store"), None)
                    .await?;
                let store: serde_json::Value = serde_json::from_slice(&store.body)?;
                let disk = store["_all"]["primaries"]["store"]["size_in_bytes"]
                    .as_f64()
                    .unwrap_or(0.0);
                Ok((heap / 1e6, disk / 1e6))
            }
        }
    }

    async fn remove(self) {
        match self {
            Built::Embedded(index, dir) => {
                drop(index);
                let _ = std::fs::remove_dir_all(&dir);
            }
            Built::OpenSearch(index, generation) => {
                let _ = index.call("DELETE", &format!("/{generation}"), None).await;
            }
        }
    }
}

/// Index `docs` into a fresh index of `engine` as a rebuild does: batches into a new
/// generation, which then goes live (each engine merges it to one segment on the way).
async fn build(engine: Engine, node: Option<&str>, docs: &[SearchDoc]) -> Result<Built> {
    let tag = format!("{}-{}", std::process::id(), docs.len());
    match engine {
        Engine::Embedded => {
            let dir = std::env::temp_dir().join(format!("aisle-search-bench-{tag}"));
            let index = EmbeddedIndex::open(&dir)?;
            let generation = index.create_generation().await?;
            for chunk in docs.chunks(10_000) {
                index
                    .upsert(IndexTarget::Generation(&generation), chunk)
                    .await?;
            }
            index.publish_generation(&generation).await?;
            Ok(Built::Embedded(index, dir))
        }
        Engine::OpenSearch => {
            let endpoint = node.expect("a node for the OpenSearch engine");
            let index = OpenSearchIndex::new(endpoint, &format!("bench-{tag}"), "us-east-1", None)?;
            let generation = index.create_generation().await?;
            // Two bulk requests in flight, 2,000 documents each (a few MB, as AWS advises).
            let index = std::sync::Arc::new(index);
            let mut chunks = docs.chunks(2_000);
            let mut flight = tokio::task::JoinSet::new();
            loop {
                while flight.len() < 2 {
                    let Some(chunk) = chunks.next() else { break };
                    let (index, chunk, generation) =
                        (index.clone(), chunk.to_vec(), generation.clone());
                    flight.spawn(async move {
                        index
                            .upsert(IndexTarget::Generation(&generation), &chunk)
                            .await
                    });
                }
                match flight.join_next().await {
                    Some(done) => {
                        done??;
                    }
                    None => break,
                }
            }
            index.publish_generation(&generation).await?;
            // Merge to one segment as a rebuilt, read-only generation may be.
            index
                .call(
                    "POST",
                    &format!("/{generation}/_forcemerge?max_num_segments=1"),
                    None,
                )
                .await?;
            let index = std::sync::Arc::try_unwrap(index)
                .map_err(|_| anyhow::anyhow!("bulk tasks still hold the index"))?;
            Ok(Built::OpenSearch(index, generation))
        }
    }
}

async fn one_size(
    app: &aisle::App,
    delivery: &aisle::domain::DeliveryMap,
    engine: Engine,
    node: Option<&str>,
    docs: &[SearchDoc],
    queries: usize,
) -> Result<Row> {
    let items = docs.len();
    let built_at = Instant::now();
    let built = build(engine, node, docs).await?;
    let build = built_at.elapsed();
    let index = built.index();
    println!(
        "[{}] index build: {:.2} s ({:.0} items/s)",
        engine.name(),
        build.as_secs_f64(),
        items as f64 / build.as_secs_f64(),
    );

    let probes = mix(docs, queries, 7);
    // Warm the page cache and the reader (a warm Lambda's state), then measure.
    for probe in probes.iter().take(50) {
        index.search(&probe.query).await?;
    }
    let (mut all, by_kind, hits) = run_probes(index, &probes).await?;
    // AISLE_BENCH_LOOP_SECONDS: keep querying (unmeasured) for that long, for a profiler to
    // attach to (`perf record -p`) after this line.
    if let Some(seconds) = std::env::var("AISLE_BENCH_LOOP_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        println!(
            "[{}] looping queries for {seconds} s (pid {})",
            engine.name(),
            std::process::id()
        );
        let until = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < until {
            for probe in &probes {
                index.search(&probe.query).await?;
            }
        }
    }
    all.sort();
    let index_figures = [
        percentile(&all, 0.5),
        percentile(&all, 0.95),
        percentile(&all, 0.99),
    ];
    println!(
        "[{}] {} searches ({} probes, deep pages followed): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {hits} hits returned",
        engine.name(),
        all.len(),
        probes.len(),
        index_figures[0],
        index_figures[1],
        index_figures[2],
        all.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
    for (kind, mut times) in by_kind {
        times.sort();
        println!(
            "  {kind:<14} n={:<5} p50 {:.2} ms  p99 {:.2} ms",
            times.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
    // Steady state: after as many other queries of the same mix (an instance that has served
    // traffic for a while), a fresh set of probes, none of them seen before.
    run_probes(index, &mix(docs, queries, 8)).await?;
    let (mut warm, _, _) = run_probes(index, &mix(docs, queries, 9)).await?;
    warm.sort();
    let warm_figures = [
        percentile(&warm, 0.5),
        percentile(&warm, 0.95),
        percentile(&warm, 0.99),
    ];
    println!(
        "[{}] steady state ({} other searches first, then {} fresh ones): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
        engine.name(),
        all.len(),
        warm.len(),
        warm_figures[0],
        warm_figures[1],
        warm_figures[2],
    );
    let (memory_mb, disk_mb) = built.sizes().await?;
    println!(
        "[{}] memory {memory_mb:.0} MB, disk {disk_mb:.0} MB",
        engine.name()
    );

    // No page cache: every search goes to the index, as a cold query would.
    let cache = QueryCache::new(Duration::ZERO, 1);
    let zips = shopper_zips();
    let mut rng = StdRng::seed_from_u64(9);
    let now = aisle::domain::Timestamp::now();
    let context = SearchContext { delivery, now };
    let (mut plain, mut zip, mut sorted, mut promise, mut stock, mut signalled) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    // The functions' own JSON log subscriber, writing where a function's stdout goes
    // (here /dev/null: Lambda's log capture is outside the function's time).
    let signal_log = tracing::Dispatch::new(aisle::telemetry::subscriber(
        aisle::telemetry::EnvFilter::new("info"),
        || {
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .expect("/dev/null")
        },
    ));
    let path_probes: Vec<&Probe> = probes.iter().take(queries.min(1_000)).collect();
    for (i, probe) in path_probes.iter().enumerate() {
        let ask = DeliveryAsk {
            zip: zips.choose(&mut rng).expect("zips").clone(),
            by: None,
            sorted: false,
            after: None,
        };
        let sorted_ask = DeliveryAsk {
            sorted: true,
            ..ask.clone()
        };
        // Alternate which runs first, so neither always meets a warmer cache.
        let variants: [(Option<&DeliveryAsk>, usize); 4] = if i % 2 == 0 {
            [
                (None, 0),
                (None, 3),
                (Some(&ask), 1),
                (Some(&sorted_ask), 2),
            ]
        } else {
            [
                (Some(&sorted_ask), 2),
                (Some(&ask), 1),
                (None, 3),
                (None, 0),
            ]
        };
        for (asked, slot) in variants {
            let started = Instant::now();
            let page = usecase::search(
                index,
                &app.inventory,
                &cache,
                context,
                &probe.query,
                false,
                asked,
            )
            .await?;
            if slot == 3 {
                let line = aisle::domain::signal::SignalLine::new(
                    aisle::domain::signal::Signal::Searched {
                        shopper: None,
                        query: probe.query.words.join(" "),
                        results: page.total,
                    },
                    now,
                );
                tracing::dispatcher::with_default(&signal_log, || line.emit());
            }
            let took = started.elapsed();
            match slot {
                0 => plain.push(took),
                1 => zip.push(took),
                3 => signalled.push(took),
                _ => sorted.push(took),
            }
            if slot == 1 {
                // The live-stock batch read and the promise alone, for this page's hits, as
                // the handler does them.
                let hits = index.search(&probe.query).await?;
                let ids: Vec<ItemId> = hits.hits.iter().map(|h| h.doc.item.item_id).collect();
                let started = Instant::now();
                std::hint::black_box(app.inventory.available(&ids).await?);
                stock.push(started.elapsed());
                let started = Instant::now();
                let area = delivery.area(&ask.zip);
                for hit in &hits.hits {
                    std::hint::black_box(DeliveryPromise::of(&area, &hit.doc.sites, now));
                }
                promise.push(started.elapsed());
                std::hint::black_box(page);
            }
        }
    }
    let pcts = |v: &mut Vec<Duration>| {
        v.sort();
        [percentile(v, 0.5), percentile(v, 0.95), percentile(v, 0.99)]
    };
    let path = PathFigures {
        plain: pcts(&mut plain),
        signalled: pcts(&mut signalled),
        zip: pcts(&mut zip),
        sorted: pcts(&mut sorted),
        stock_p99: pcts(&mut stock)[2],
        promise_p99: pcts(&mut promise)[2],
    };
    println!(
        "[{}] handler path, {} first pages each: no zip p99 {:.2} ms, zip p99 {:.2} ms (+{:.2}), sort=delivery p99 {:.2} ms; live-stock read p99 {:.2} ms; promise p99 {:.3} ms per page",
        engine.name(),
        path_probes.len(),
        path.plain[2],
        path.zip[2],
        path.zip[2] - path.plain[2],
        path.sorted[2],
        path.stock_p99,
        path.promise_p99
    );
    println!(
        "[{}] search handler without signals p50/p99 {:.2}/{:.2} ms, with its signal line {:.2}/{:.2} ms",
        engine.name(),
        path.plain[0],
        path.plain[2],
        path.signalled[0],
        path.signalled[2],
    );
    let suggest = suggestions(app, index, docs, queries.min(2_000)).await?;
    println!(
        "[{}] suggest handler (q parsed, engine completions, popular queries, ranking, JSON): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
        engine.name(),
        suggest[0],
        suggest[1],
        suggest[2],
    );
    built.remove().await;
    Ok(Row {
        suggest,
        engine,
        items,
        build_s: build.as_secs_f64(),
        memory_mb,
        disk_mb,
        index: index_figures,
        warm: warm_figures,
        path,
    })
}

/// What shoppers type into the search box, drawn from the catalogue's names: a prefix of the
/// first word (2 to 8 letters), or the first word and a prefix of the second; every third one
/// with two neighbouring letters swapped.
fn typing_mix(docs: &[SearchDoc], count: usize, seed: u64) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|i| {
            let name = words(docs[rng.gen_range(0..docs.len())].item.name.as_str());
            let cut = |w: &str, n: usize| w.chars().take(n).collect::<String>();
            let mut typed = match name.as_slice() {
                [first, second, ..] if i % 2 == 1 => {
                    format!("{first} {}", cut(second, rng.gen_range(1..=4)))
                }
                [first, ..] => cut(first, rng.gen_range(2..=8)),
                [] => "a".to_owned(),
            };
            if i % 3 == 0 && typed.len() >= 4 && typed.is_ascii() {
                let at = rng.gen_range(1..typed.len() - 1);
                // ASCII only, so each byte is a letter.
                let mut bytes = typed.into_bytes();
                bytes.swap(at, at + 1);
                typed = String::from_utf8(bytes).unwrap_or_default();
            }
            typed
        })
        .collect()
}

/// The suggestion handler's path for each typed text: parse, the engine's completions and the
/// popular queries (DynamoDB Local, read once a minute), ranking, the JSON answer.
async fn suggestions(
    app: &aisle::App,
    index: &dyn SearchIndex,
    docs: &[SearchDoc],
    count: usize,
) -> Result<[f64; 3]> {
    use aisle::domain::suggest::Typed;
    use aisle::usecases::recommend::suggest::suggest;
    let typed = typing_mix(docs, count, 11);
    let now = aisle::domain::Timestamp::now();
    // Warm: the reader, the page cache, the popular queries.
    for text in typed.iter().take(50) {
        if let Ok(t) = Typed::parse(text) {
            suggest(index, &app.signals, &app.popular_queries, &t, 8, now).await?;
        }
    }
    let mut times = Vec::with_capacity(typed.len());
    let (mut listed, mut answered) = (0usize, 0usize);
    for text in &typed {
        let started = Instant::now();
        if let Ok(t) = Typed::parse(text) {
            let found = suggest(index, &app.signals, &app.popular_queries, &t, 8, now).await?;
            std::hint::black_box(serde_json::to_vec(&found)?);
            listed += found.len();
            answered += usize::from(!found.is_empty());
        }
        times.push(started.elapsed());
    }
    println!(
        "  suggestions: {} typed texts (a third with two letters swapped), {answered} answered with at least one, {:.1} per answer on average; e.g. {:?}",
        typed.len(),
        listed as f64 / answered.max(1) as f64,
        &typed[..3.min(typed.len())]
    );
    times.sort();
    Ok([
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        percentile(&times, 0.99),
    ])
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
