//! `aisle-local bench search`: build the embedded index from a generated catalogue and time a
//! query mix against it (single words, phrases, typos, filters, sorts, deep pages), printing
//! the build time and per-query latency percentiles; then the search handler's whole path
//! (index, live stock read from DynamoDB Local, delivery promise) without and with `zip`,
//! and with `sort=delivery`, at each catalogue size asked for.
//!
//! Needs the local stack (DynamoDB Local: `make bench-search` starts it). Build with
//! optimisations: `make bench-search` uses cargo's `bench` profile.

use std::time::{Duration, Instant};

use aisle::adapters::search::EmbeddedIndex;
use aisle::domain::search::words;
use aisle::domain::{DeliveryPromise, SearchDoc, SearchQuery, SortOrder, Zip};
use aisle::ports::{IndexTarget, SearchIndex};
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

/// For each catalogue size: index that many generated items and run `queries` queries, the
/// index alone and then the handler's path; print the figures.
pub async fn search(sizes: &[usize], queries: usize) -> Result<()> {
    let (app, _meter) = crate::bench::metered_app().await?;
    crate::seed::seed_warehouses(&app.warehouses).await?;
    let delivery = app.delivery.get(&app.warehouses).await?;
    let mut summary = Vec::new();
    for &items in sizes {
        let row = one_size(&app, &delivery, items, queries).await?;
        summary.push((items, row));
    }
    println!("\nsearch handler path (index + stock read + delivery promise), ms:");
    println!(
        "{:>10} | {:>20} | {:>20} | {:>20} | {:>9}",
        "items", "no zip p50/p95/p99", "zip p50/p95/p99", "sort=delivery", "promise p99"
    );
    for (items, r) in summary {
        let f = |p: [f64; 3]| format!("{:.2}/{:.2}/{:.2}", p[0], p[1], p[2]);
        println!(
            "{items:>10} | {:>20} | {:>20} | {:>20} | {:>9.3}",
            f(r.plain),
            f(r.zip),
            f(r.sorted),
            r.promise_p99
        );
    }
    Ok(())
}

/// The handler-path percentiles (p50, p95, p99) of one catalogue size.
struct PathFigures {
    plain: [f64; 3],
    zip: [f64; 3],
    sorted: [f64; 3],
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

async fn one_size(
    app: &aisle::App,
    delivery: &aisle::domain::DeliveryMap,
    items: usize,
    queries: usize,
) -> Result<PathFigures> {
    println!("\n== {items} items ==");
    let dir =
        std::env::temp_dir().join(format!("aisle-search-bench-{}-{items}", std::process::id()));
    let index = EmbeddedIndex::open(&dir)?;
    let generated = Instant::now();
    let docs = crate::products::generate(items, 42);
    println!(
        "generated {items} items in {:.2} s",
        generated.elapsed().as_secs_f64()
    );

    let built = Instant::now();
    for chunk in docs.chunks(10_000) {
        index.upsert(IndexTarget::Live, chunk).await?;
    }
    let build = built.elapsed();
    println!(
        "index build: {:.2} s ({:.0} items/s), {} MB on disk",
        build.as_secs_f64(),
        items as f64 / build.as_secs_f64(),
        dir_size(&dir) / 1_000_000
    );

    let probes = mix(&docs, queries, 7);
    // Warm the page cache and the reader (a warm Lambda's state), then measure.
    for probe in probes.iter().take(50) {
        index.search(&probe.query).await?;
    }
    let mut all = Vec::new();
    let mut by_kind: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
    let mut hits = 0u64;
    for probe in &probes {
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
    all.sort();
    println!(
        "{} searches ({} probes, deep pages followed): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {hits} hits returned",
        all.len(),
        probes.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.95),
        percentile(&all, 0.99),
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

    // The handler's path. Stock rows for the in-stock items among the first 20,000 (a
    // batch read costs the same per key whether the row exists or not).
    let started = Instant::now();
    let rows: Vec<(aisle::domain::ItemId, u32)> = docs
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
    // No page cache: every search goes to the index, as a cold query would.
    let cache = QueryCache::new(Duration::ZERO, 1);
    let zips = shopper_zips();
    let mut rng = StdRng::seed_from_u64(9);
    let now = aisle::domain::Timestamp::now();
    let context = SearchContext { delivery, now };
    let (mut plain, mut zip, mut sorted, mut promise) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
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
        let variants: [(Option<&DeliveryAsk>, usize); 3] = if i % 2 == 0 {
            [(None, 0), (Some(&ask), 1), (Some(&sorted_ask), 2)]
        } else {
            [(Some(&sorted_ask), 2), (Some(&ask), 1), (None, 0)]
        };
        for (asked, slot) in variants {
            let started = Instant::now();
            let page = usecase::search(
                &index,
                &app.inventory,
                &cache,
                context,
                &probe.query,
                false,
                asked,
            )
            .await?;
            let took = started.elapsed();
            match slot {
                0 => plain.push(took),
                1 => zip.push(took),
                _ => sorted.push(took),
            }
            if slot == 1 {
                // The promise alone, for this page's hits, as the handler computes it.
                let hits = index.search(&probe.query).await?;
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
    let figures = PathFigures {
        plain: pcts(&mut plain),
        zip: pcts(&mut zip),
        sorted: pcts(&mut sorted),
        promise_p99: {
            promise.sort();
            percentile(&promise, 0.99)
        },
    };
    println!(
        "handler path, {} first pages each: no zip p99 {:.2} ms, zip p99 {:.2} ms (+{:.2}), sort=delivery p99 {:.2} ms; promise computation p99 {:.3} ms per page",
        path_probes.len(),
        figures.plain[2],
        figures.zip[2],
        figures.zip[2] - figures.plain[2],
        figures.sorted[2],
        figures.promise_p99
    );
    drop(index);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(figures)
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
