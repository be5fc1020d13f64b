//! `aisle-local bench search`: build the embedded index from a generated catalogue and time a
//! query mix against it (single words, phrases, typos, filters, sorts, deep pages), printing
//! the build time and per-query latency percentiles.
//!
//! It measures the index alone (the search Lambda adds one DynamoDB batch read of stock per
//! page). Build with optimisations: `make bench-search` uses cargo's `bench` profile.

use std::time::{Duration, Instant};

use aisle::adapters::search::EmbeddedIndex;
use aisle::domain::search::words;
use aisle::domain::{SearchDoc, SearchQuery, SortOrder};
use aisle::ports::{IndexTarget, SearchIndex};
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

/// Index `items` generated items and run `queries` queries; print the figures.
pub async fn search(items: usize, queries: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("aisle-search-bench-{}", std::process::id()));
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
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
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
