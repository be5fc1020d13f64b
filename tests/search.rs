//! Search: the contract every backend follows (run against the embedded index, and against
//! the OpenSearch request builder at the request level), checked against a brute-force
//! evaluation over the same generated catalogue; then the stream path end to end on
//! DynamoDB Local (indexer, in-stock flips, paging over HTTP).

use crate::helpers;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use aisle::adapters::search::{opensearch, EmbeddedIndex};
use aisle::api::{catalog, search, stock};
use aisle::domain::search::{fuzziness, price_band, words, Facets, PRICE_BANDS};
use aisle::domain::{Category, ItemId, SearchDoc, SearchQuery, SortOrder};
use aisle::ports::{Clock, IndexTarget, SearchIndex};
use helpers::{
    listed, listing, receive, seed_item, Call, Caller, Reply, Shop, WAREHOUSE_A, WAREHOUSE_B,
};
use serde_json::json;

/// The OpenSearch node this run searches with (`AISLE_SEARCH=opensearch`, the second pass of
/// `make test`), as the local environment names it.
fn opensearch_node() -> Option<String> {
    (std::env::var("AISLE_SEARCH").as_deref() == Ok("opensearch")).then(|| {
        let port = std::env::var("AISLE_OPENSEARCH_PORT").unwrap_or_else(|_| "9200".into());
        format!("http://127.0.0.1:{port}")
    })
}

/// A fresh, empty index on the engine this run searches with: with `AISLE_SEARCH=opensearch`
/// (the environment then names the node) an index of its own behind its own alias on the
/// node, as a deploy's first rebuild makes it; otherwise the embedded index in its own
/// temporary directory. The contract cases below run unchanged on either.
async fn fresh_index() -> Box<dyn SearchIndex> {
    let unique = uuid::Uuid::new_v4();
    match opensearch_node() {
        Some(endpoint) => {
            let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
            let alias = format!("contract-{unique}");
            let index = opensearch::OpenSearchIndex::new(&endpoint, &alias, &region, None).unwrap();
            let generation = index.create_generation().await.unwrap();
            index.publish_generation(&generation).await.unwrap();
            Box::new(index)
        }
        None => {
            let dir = std::env::temp_dir().join(format!("aisle-search-{unique}"));
            Box::new(EmbeddedIndex::open(dir).unwrap())
        }
    }
}

/// Optimal-string-alignment distance: Levenshtein plus swaps of neighbours (one edit).
fn edits(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for j in 0..=b.len() {
        d[0][j] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The brute-force answer: does `doc` match `q` (words and filters)?
fn matches(q: &SearchQuery, doc: &SearchDoc) -> bool {
    let text = words(&doc.all_text());
    q.filters_accept(doc)
        && q.words.iter().all(|w| {
            let allowed = usize::from(fuzziness(w));
            text.iter().any(|t| edits(w, t) <= allowed)
        })
}

fn brute_facets(docs: &[&SearchDoc]) -> Facets {
    let (mut categories, mut brands) = (BTreeMap::new(), BTreeMap::new());
    let mut bands = [0; PRICE_BANDS.len()];
    for doc in docs {
        *categories
            .entry(doc.item.category.as_str().to_owned())
            .or_insert(0) += 1;
        *brands.entry(doc.brand_key()).or_insert(0) += 1;
        bands[price_band(doc.price())] += 1;
    }
    Facets::from_counts(categories, brands, bands)
}

/// Every hit of `q`, page by page (pages of `q.limit`), with the sort value of each.
async fn all_pages(index: &dyn SearchIndex, q: &SearchQuery) -> (Vec<(ItemId, f64)>, u64, Facets) {
    let mut q = q.clone();
    let mut seen = Vec::new();
    let first = index.search(&q).await.unwrap();
    let (total, facets) = (first.total, first.facets.clone());
    let mut page = first;
    loop {
        assert!(page.hits.len() <= q.limit as usize);
        seen.extend(page.hits.iter().map(|h| (h.doc.item.item_id, h.sort_value)));
        match page.next {
            Some(next) => q.after = Some(next),
            None => return (seen, total, facets),
        }
        page = index.search(&q).await.unwrap();
        assert!(seen.len() < 100_000, "paging must end");
    }
}

/// Hits in the sort's order (best first), ties by id.
fn assert_in_order(name: &str, sort: SortOrder, hits: &[(ItemId, f64)]) {
    for pair in hits.windows(2) {
        let ((a, va), (b, vb)) = (pair[0], pair[1]);
        let in_order = if sort.descending() {
            va > vb || (va == vb && a < b)
        } else {
            va < vb || (va == vb && a < b)
        };
        assert!(in_order, "{name}: {a} ({va}) before {b} ({vb})");
    }
}

fn query(words_text: &str) -> SearchQuery {
    let mut q = SearchQuery::all();
    q.words = words(words_text);
    if !q.words.is_empty() {
        q.sort = SortOrder::Relevance;
    }
    q
}

/// The contract cases: typos, filters of every kind, every sort, nothing found.
fn contract_cases() -> Vec<(&'static str, SearchQuery)> {
    let tvs = Category::try_from("tvs".to_owned()).unwrap();
    let phones = Category::try_from("phones".to_owned()).unwrap();
    let headphones = Category::try_from("headphones".to_owned()).unwrap();
    let mut cases = vec![
        ("a typo: iphnoe", query("iphnoe")),
        ("two typos' worth: samsnug tv", query("samsnug tv")),
        ("accents fold: cafe", query("cafe")),
        ("everything, newest first", query("")),
        ("nothing matches", query("zzqqxxyy")),
    ];
    let mut q = query("laptop");
    q.brand = Some("dell".into());
    q.in_stock_only = true;
    cases.push(("words, brand and in stock", q));
    let mut q = query("");
    q.category = Some(phones);
    q.min_price = Some(50_000);
    q.max_price = Some(100_000);
    q.sort = SortOrder::PriceAsc;
    cases.push(("category and a price range, cheapest first", q));
    let mut q = query("");
    q.category = Some(headphones);
    q.attributes = vec![("color".into(), "black".into())];
    q.sort = SortOrder::PriceDesc;
    cases.push(("an attribute filter, dearest first", q));
    let mut q = query("oled");
    q.category = Some(tvs);
    q.sort = SortOrder::Newest;
    cases.push(("a word in a category, newest first", q));
    let mut q = query("galaxy ultra");
    q.limit = 7;
    cases.push(("two words, odd page size", q));
    // The delivery filters: held at any of some warehouses, and at none of others.
    let site = |id: &str| aisle::domain::WarehouseId::try_from(id).unwrap();
    let mut q = query("");
    q.sites_any = Some(vec![site("wh-1004"), site("wh-1760"), site("wh-1148")]);
    cases.push(("held at one of three warehouses", q));
    let mut q = query("tv");
    q.sites_any = Some(vec![site("wh-1004"), site("wh-1760")]);
    q.sites_none = vec![site("wh-1004")];
    cases.push(("a word, held at one warehouse and not another", q));
    let mut q = query("");
    q.sites_none = aisle_local::seed::warehouse_sites()
        .unwrap()
        .into_iter()
        .map(|w| w.warehouse_id)
        .collect();
    cases.push(("held nowhere (every warehouse excluded)", q));
    let mut q = query("");
    q.sites_any = Some(vec![]);
    cases.push(("held at one of no warehouses: nothing", q));
    cases
}

#[tokio::test]
async fn every_contract_case_agrees_with_brute_force_hits_totals_facets_and_order() {
    let docs = aisle_local::products::generate(3_000, 7);
    let index = fresh_index().await;
    index.upsert(IndexTarget::Live, &docs).await.unwrap();
    for (name, q) in contract_cases() {
        assert_agrees_with_brute_force(&*index, &docs, name, &q).await;
    }
}

/// Leaves precomputed when a segment is written (by default for segments of 65,536 items
/// and more; here for every segment) change no answer: each contract case and relevance
/// queries of every kind give, page for page, the same hits, scores, totals and facets as
/// leaves worked out at query time, and still agree with brute force. A rebuilt generation
/// gets its file when published. A damaged file is ignored, with the same answers.
#[tokio::test]
async fn precomputed_leaves_change_no_answer_and_a_damaged_file_is_ignored() {
    let docs = aisle_local::products::generate(3_000, 7);
    let dir = |tag: &str| {
        std::env::temp_dir().join(format!("aisle-search-{tag}-{}", uuid::Uuid::new_v4()))
    };
    let plain = EmbeddedIndex::open(dir("plain")).unwrap();
    let precomputed = EmbeddedIndex::open(dir("precomputed"))
        .unwrap()
        .precomputing_from(1);
    // Two writes: a second segment, and a merge that leaves a file behind to remove.
    for index in [&plain, &precomputed] {
        index
            .upsert(IndexTarget::Live, &docs[..1_000])
            .await
            .unwrap();
        index
            .upsert(IndexTarget::Live, &docs[1_000..])
            .await
            .unwrap();
    }
    let leaves_files = |root: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(root)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .flat_map(|g| std::fs::read_dir(g.path()).unwrap().flatten())
            .map(|f| f.path())
            .filter(|f| f.extension().is_some_and(|e| e == "leaves"))
            .collect()
    };
    let files = leaves_files(precomputed.root());
    assert!(!files.is_empty(), "no precomputed leaves written");
    assert!(leaves_files(plain.root()).is_empty());

    let mut cases = contract_cases();
    let mut rng_words = docs
        .iter()
        .step_by(101)
        .map(|d| words(d.item.name.as_str()));
    for (i, name) in (0..24).zip(&mut rng_words) {
        let mut q = query("");
        q.sort = SortOrder::Relevance;
        q.words = match i % 4 {
            0 => name[..1].to_vec(),
            1 => name[..name.len().min(3)].to_vec(),
            2 => name[name.len().saturating_sub(2)..].to_vec(),
            // A typo: neighbours swapped in the longest word.
            _ => {
                let long = name.iter().max_by_key(|w| w.len()).unwrap();
                let mut chars: Vec<char> = long.chars().collect();
                if chars.len() >= 4 {
                    chars.swap(1, 2);
                }
                vec![chars.into_iter().collect()]
            }
        };
        q.limit = 7;
        cases.push(("a relevance query from a name", q));
    }
    for (name, q) in &cases {
        let expected = all_pages(&plain, q).await;
        assert_eq!(
            all_pages(&precomputed, q).await,
            expected,
            "{name}: {:?}",
            q.words
        );
        assert_agrees_with_brute_force(&precomputed, &docs, name, q).await;
    }

    // A generation being rebuilt gets its file once, when it is published.
    let rebuilt = EmbeddedIndex::open(dir("rebuilt"))
        .unwrap()
        .precomputing_from(1);
    let generation = rebuilt.create_generation().await.unwrap();
    for part in docs.chunks(1_000) {
        rebuilt
            .upsert(IndexTarget::Generation(&generation), part)
            .await
            .unwrap();
    }
    assert!(
        leaves_files(rebuilt.root()).is_empty(),
        "written before publishing"
    );
    rebuilt.publish_generation(&generation).await.unwrap();
    assert_eq!(
        leaves_files(rebuilt.root()).len(),
        1,
        "one merged segment, one file"
    );
    for (name, q) in cases.iter().take(8) {
        assert_eq!(
            all_pages(&rebuilt, q).await,
            all_pages(&plain, q).await,
            "{name} (rebuilt)"
        );
    }

    // Damage each file (cut it short) and open the index anew: the files are not used.
    // (The first index is dropped first: its mappings of the files go with it.)
    let root = precomputed.root().to_owned();
    drop(precomputed);
    for file in &files {
        let len = std::fs::metadata(file).unwrap().len();
        let cut = std::fs::OpenOptions::new().write(true).open(file).unwrap();
        cut.set_len(len / 2).unwrap();
    }
    let reopened = EmbeddedIndex::open(&root).unwrap();
    for (name, q) in cases.iter().take(8) {
        assert_eq!(
            all_pages(&reopened, q).await,
            all_pages(&plain, q).await,
            "{name} (damaged file)"
        );
    }
}

/// Every page of `q` against brute force over `docs`: each match once, nothing else, the
/// total, the facets, and the order (ties by id).
async fn assert_agrees_with_brute_force(
    index: &dyn SearchIndex,
    docs: &[SearchDoc],
    name: &str,
    q: &SearchQuery,
) {
    let expected: Vec<&SearchDoc> = docs.iter().filter(|d| matches(q, d)).collect();
    let (hits, total, facets) = all_pages(index, q).await;
    let ids: Vec<ItemId> = hits.iter().map(|(id, _)| *id).collect();
    let unique: HashSet<ItemId> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "{name}: a hit came twice");
    let wanted: HashSet<ItemId> = expected.iter().map(|d| d.item.item_id).collect();
    assert!(
        unique == wanted,
        "{name}: hits differ from brute force: {} found, {} expected; missing {:?}, extra {:?}",
        unique.len(),
        wanted.len(),
        wanted.difference(&unique).take(5).collect::<Vec<_>>(),
        unique.difference(&wanted).take(5).collect::<Vec<_>>()
    );
    assert_eq!(total, expected.len() as u64, "{name}: total");
    assert_eq!(facets, brute_facets(&expected), "{name}: facets");
    assert_in_order(name, q.sort, &hits);
}

/// A category sorted by price or date, with enough matches that the embedded index walks the
/// category's own order rather than ranking each match: every page agrees with brute force,
/// from each cursor and within a price range that starts past the category's cheapest (or
/// ends before its dearest) items.
#[tokio::test]
async fn a_category_sorted_by_price_or_date_pages_exactly_within_its_price_range() {
    let docs = aisle_local::products::generate(12_000, 21);
    let index = fresh_index().await;
    index.upsert(IndexTarget::Live, &docs).await.unwrap();
    let mut sizes: BTreeMap<&Category, usize> = BTreeMap::new();
    for doc in &docs {
        *sizes.entry(&doc.item.category).or_default() += 1;
    }
    let (largest, _) = sizes.iter().max_by_key(|(_, n)| **n).unwrap();
    let category = (*largest).clone();
    let mut prices: Vec<u64> = docs
        .iter()
        .filter(|d| d.item.category == category)
        .map(|d| d.price())
        .collect();
    prices.sort_unstable();
    let mut cheapest = query("");
    cheapest.category = Some(category.clone());
    cheapest.min_price = Some(prices[prices.len() / 10]);
    cheapest.sort = SortOrder::PriceAsc;
    let mut dearest = query("");
    dearest.category = Some(category.clone());
    dearest.max_price = Some(prices[prices.len() * 9 / 10]);
    dearest.sort = SortOrder::PriceDesc;
    let mut newest = query("");
    newest.category = Some(category.clone());
    newest.in_stock_only = true;
    newest.sort = SortOrder::Newest;
    for (name, q) in [
        ("a category from a floor price, cheapest first", cheapest),
        ("a category up to a ceiling price, dearest first", dearest),
        ("a category in stock, newest first", newest),
    ] {
        // One match in 16 documents or more: the engine walks an order, not the matches.
        let matching = docs.iter().filter(|d| matches(&q, d)).count();
        assert!(
            matching * 16 >= docs.len(),
            "{name}: too few matches to walk"
        );
        assert_agrees_with_brute_force(&*index, &docs, name, &q).await;
    }
}

/// Past 10,000 matches the embedded index counts a sample (and says so); the hits, their
/// order and an unfiltered total stay exact. Three segments, as a growing index has.
#[tokio::test]
async fn past_ten_thousand_matches_the_hits_stay_exact_and_estimated_counts_are_close() {
    let docs = aisle_local::products::generate(45_000, 13);
    let index = fresh_index().await;
    for part in docs.chunks(15_000) {
        index.upsert(IndexTarget::Live, part).await.unwrap();
    }
    let mut newest = query("");
    newest.sort = SortOrder::Newest;
    let mut cheapest = query("");
    cheapest.max_price = Some(150_000);
    cheapest.sort = SortOrder::PriceAsc;
    let mut dearest = query("");
    dearest.in_stock_only = true;
    dearest.sort = SortOrder::PriceDesc;
    for (name, q) in [
        ("everything, newest first", newest),
        ("a price range, cheapest first", cheapest),
        ("in stock, dearest first", dearest),
        ("a broad word by relevance", query("and")),
        ("no words by relevance", {
            let mut q = query("");
            q.sort = SortOrder::Relevance;
            q
        }),
    ] {
        let expected: Vec<&SearchDoc> = docs.iter().filter(|d| matches(&q, d)).collect();
        assert!(
            expected.len() > 10_000,
            "{name}: the case must pass the limit"
        );
        let first = index.search(&q).await.unwrap();
        // A sample of about 10,000 matches: a value holding a tenth of them has a relative
        // standard error near 3%, so 10% is over three of them.
        let close = |got: u64, want: u64, what: &str| {
            let error = (got as f64 - want as f64).abs() / want as f64;
            assert!(error <= 0.10, "{name}: {what} {got} vs {want}");
        };
        let truth = brute_facets(&expected);
        let tenth = expected.len() as u64 / 10;
        let on_opensearch = opensearch_node().is_some();
        assert!(
            first.estimated || on_opensearch,
            "{name}: the embedded index samples past the limit"
        );
        if first.estimated {
            close(first.total, expected.len() as u64, "total");
            for want in truth.category.iter().filter(|c| c.count >= tenth) {
                let got = first.facets.category.iter().find(|c| c.value == want.value);
                close(
                    got.map_or(0, |c| c.count),
                    want.count,
                    &format!("category {}", want.value),
                );
            }
            for want in truth.price.iter().filter(|b| b.count >= tenth) {
                let got = first.facets.price.iter().find(|b| b.from == want.from);
                close(
                    got.map_or(0, |b| b.count),
                    want.count,
                    &format!("price band {}", want.from),
                );
            }
        } else {
            assert_eq!(first.facets, truth, "{name}: exact facets");
        }
        if q.min_price.is_none() && q.max_price.is_none() {
            assert_eq!(
                first.total,
                expected.len() as u64,
                "{name}: an unfiltered total is exact"
            );
        }
        // The first pages are exactly the best hits, in order; relevance is checked for
        // order only (its scores are the engine's).
        let mut seen = Vec::new();
        let mut page = first;
        let mut q = q.clone();
        for _ in 0..5 {
            seen.extend(page.hits.iter().map(|h| (h.doc.item.item_id, h.sort_value)));
            let Some(next) = page.next else { break };
            q.after = Some(next);
            page = index.search(&q).await.unwrap();
        }
        assert_in_order(name, q.sort, &seen);
        if q.sort == SortOrder::Relevance && !q.words.is_empty() {
            // Scores are the engine's own, so check the whole listing instead: every match
            // exactly once, in order (a block skipped wrongly would be missing or late).
            let mut q = q.clone();
            q.after = None;
            q.limit = 100;
            let (all, _, _) = all_pages(&*index, &q).await;
            let unique: HashSet<ItemId> = all.iter().map(|(id, _)| *id).collect();
            assert_eq!(unique.len(), all.len(), "{name}: a hit came twice");
            let wanted: HashSet<ItemId> = expected.iter().map(|d| d.item.item_id).collect();
            assert_eq!(unique, wanted, "{name}: every match, once");
            assert_in_order(name, q.sort, &all);
        } else {
            let mut best: Vec<(ItemId, f64)> = expected
                .iter()
                .map(|d| {
                    let value = if q.sort == SortOrder::Relevance {
                        1.0
                    } else {
                        d.sort_value(q.sort)
                    };
                    (d.item.item_id, value)
                })
                .collect();
            best.sort_by(|(a, va), (b, vb)| {
                let by_value = if q.sort.descending() {
                    vb.total_cmp(va)
                } else {
                    va.total_cmp(vb)
                };
                by_value.then(a.cmp(b))
            });
            best.truncate(seen.len());
            assert_eq!(seen, best, "{name}: the first pages are the best hits");
        }
    }
}

#[tokio::test]
async fn typo_queries_find_the_intended_products() {
    let docs = aisle_local::products::generate(3_000, 11);
    let index = fresh_index().await;
    index.upsert(IndexTarget::Live, &docs).await.unwrap();
    for (typed, brand, word) in [
        ("iphnoe", "Apple", "iphone"),
        ("samsnug tv", "Samsung", "tv"),
    ] {
        let found = index.search(&query(typed)).await.unwrap();
        assert!(found.total > 0, "{typed}: nothing found");
        for hit in &found.hits {
            assert_eq!(hit.doc.item.brand.as_str(), brand, "{typed}");
            assert!(
                words(&hit.doc.all_text()).contains(&word.to_owned()),
                "{typed}: {}",
                hit.doc.item.name.as_str()
            );
        }
    }
}

#[tokio::test]
async fn exact_name_matches_rank_above_fuzzy_ones() {
    let docs = aisle_local::products::generate(2_000, 5);
    let index = fresh_index().await;
    index.upsert(IndexTarget::Live, &docs).await.unwrap();
    let top = index.search(&query("pixel")).await.unwrap();
    assert!(top.hits[0].doc.item.name.as_str().contains("Pixel"));
}

#[tokio::test]
async fn an_older_version_never_replaces_a_newer_one_half_by_half() {
    let index = fresh_index().await;
    let mut doc = aisle_local::products::generate(1, 3).remove(0);
    doc.item.version = 5;
    doc.stock_version = 9;
    doc.in_stock = true;
    assert_eq!(
        index
            .upsert(IndexTarget::Live, &[doc.clone()])
            .await
            .unwrap(),
        1
    );

    // A stale listing with a newer stock flag: only the stock half is taken.
    let mut stale = doc.clone();
    stale.item.version = 4;
    stale.item.name = "Stale name".to_owned().try_into().unwrap();
    stale.stock_version = 10;
    stale.in_stock = false;
    assert_eq!(
        index
            .upsert(IndexTarget::Live, &[stale.clone()])
            .await
            .unwrap(),
        1
    );
    // Replaying either is a no-op.
    assert_eq!(
        index
            .upsert(IndexTarget::Live, &[stale, doc.clone()])
            .await
            .unwrap(),
        0
    );

    let mut q = SearchQuery::all();
    q.limit = 5;
    let found = index.search(&q).await.unwrap();
    assert_eq!(found.hits.len(), 1);
    let indexed = &found.hits[0].doc;
    assert_eq!(indexed.item.name, doc.item.name, "listing from version 5");
    assert_eq!(
        (indexed.in_stock, indexed.stock_version),
        (false, 10),
        "stock from version 10"
    );
}

#[tokio::test]
async fn a_rebuild_serves_the_old_generation_until_the_new_one_is_complete() {
    let index = fresh_index().await;
    let docs = aisle_local::products::generate(50, 21);
    index.upsert(IndexTarget::Live, &docs[..10]).await.unwrap();
    let generation = index.create_generation().await.unwrap();
    index
        .upsert(IndexTarget::Generation(&generation), &docs)
        .await
        .unwrap();
    assert_eq!(
        index.search(&SearchQuery::all()).await.unwrap().total,
        10,
        "old one still served"
    );
    index.publish_generation(&generation).await.unwrap();
    assert_eq!(index.search(&SearchQuery::all()).await.unwrap().total, 50);
}

#[tokio::test]
async fn the_rebuild_function_indexes_every_listed_item_under_its_own_grants() {
    let shop = Shop::open().await;
    let item = seed_item(&shop, "Rebuilt lantern", 2).await;
    let rebuilder = shop.as_function("rebuild-search-index").await;
    let event = lambda_runtime::LambdaEvent::new(json!({}), helpers::lambda_context());
    let answer = aisle::workers::rebuild_search_index(&rebuilder, event)
        .await
        .unwrap();
    assert!(answer["indexed"].as_u64().unwrap() >= 1, "{answer}");
    let hits = shop
        .app
        .search
        .index()
        .unwrap()
        .search(&SearchQuery::all())
        .await
        .unwrap();
    assert!(
        hits.hits.iter().any(|h| h.doc.item.item_id == item),
        "{hits:?}"
    );
}

/// The OpenSearch query builder, checked on the same cases at the request level: each filter
/// of the case appears as the matching exact clause, the words as one fuzzy AND match, the
/// sort with the id tie-break, one extra hit to know whether there is a next page.
#[test]
fn the_opensearch_request_states_every_contract_case() {
    for (name, q) in contract_cases() {
        let body = opensearch::search_body(&q);
        let filters = body["query"]["bool"]["filter"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let has = |clause: serde_json::Value| filters.contains(&clause);
        if let Some(c) = &q.category {
            assert!(has(json!({ "term": { "category": c.as_str() } })), "{name}");
        }
        if let Some(b) = &q.brand {
            assert!(has(json!({ "term": { "brandKey": b } })), "{name}");
        }
        if q.in_stock_only {
            assert!(has(json!({ "term": { "inStock": true } })), "{name}");
        }
        for (k, v) in &q.attributes {
            assert!(
                has(json!({ "term": { "attrs": format!("{k}={v}") } })),
                "{name}"
            );
        }
        if q.min_price.is_some() || q.max_price.is_some() {
            let range = &filters
                .iter()
                .find(|f| f.get("range").is_some())
                .expect(name)["range"]["price"];
            assert_eq!(range["gte"].as_u64(), q.min_price, "{name}");
            assert_eq!(range["lte"].as_u64(), q.max_price, "{name}");
        }
        if let Some(any) = &q.sites_any {
            assert!(has(json!({ "terms": { "sites": any } })), "{name}");
        }
        if !q.sites_none.is_empty() {
            assert!(
                has(json!({ "bool": { "must_not": [{ "terms": { "sites": q.sites_none } }] } })),
                "{name}"
            );
        }
        let filter_count = usize::from(q.category.is_some())
            + usize::from(q.brand.is_some())
            + usize::from(q.in_stock_only)
            + usize::from(q.sites_any.is_some())
            + usize::from(!q.sites_none.is_empty())
            + q.attributes.len()
            + usize::from(q.min_price.is_some() || q.max_price.is_some());
        assert_eq!(filters.len(), filter_count, "{name}: no other filters");
        let must = &body["query"]["bool"]["must"][0];
        if q.words.is_empty() {
            assert_eq!(must, &json!({ "match_all": {} }), "{name}");
        } else {
            let m = &must["match"]["all"];
            assert_eq!(m["query"], json!(q.words.join(" ")), "{name}");
            assert_eq!(
                (m["operator"].as_str(), m["fuzziness"].as_str()),
                (Some("and"), Some("AUTO")),
                "{name}"
            );
        }
        assert_eq!(body["size"], json!(q.limit + 1), "{name}");
        assert_eq!(body["sort"][1], json!({ "itemId": "asc" }), "{name}");
    }
}

// ------------------------------------------------------------------ the stream path, on DynamoDB Local

async fn in_stock_ids(shop: &Shop, words_text: &str) -> Vec<ItemId> {
    let mut q = query(words_text);
    q.in_stock_only = true;
    let index = shop.app.search.index().unwrap();
    let found = index.search(&q).await.unwrap();
    found.hits.iter().map(|h| h.doc.item.item_id).collect()
}

#[tokio::test]
async fn an_item_that_sells_out_leaves_in_stock_results_within_a_second_and_returns_after_a_restock(
) {
    let shop = Shop::open().await;
    let item = seed_item(&shop, "Lumen desk lamp", 1).await;
    shop.pump_index().await;
    assert_eq!(in_stock_ids(&shop, "lumen").await, vec![item]);

    // The last unit goes into a checkout hold: aggregated stock reaches 0.
    let sold = Instant::now();
    helpers::hold(&shop, &[(item, 1)]).await;
    // Poll the stream every 250 ms, as the local gateway does.
    let gone = helpers::eventually(Duration::from_secs(1), || async {
        shop.pump_index().await;
        in_stock_ids(&shop, "lumen").await.is_empty()
    })
    .await;
    let took = sold.elapsed();
    assert!(gone, "still listed as in stock after {took:?}");
    println!(
        "sold out -> gone from in-stock results in {} ms",
        took.as_millis()
    );

    let receipt = Call::new(
        "POST /v1/warehouses/{warehouseId}/stock",
        &[("warehouseId", WAREHOUSE_A)],
    )
    .by(&Caller::warehouse(WAREHOUSE_A))
    .json(json!({ "itemId": item.to_string(), "quantity": 4 }));
    assert_eq!(send!(stock::receive_stock, shop, receipt).status, 200);
    let back = helpers::eventually(Duration::from_secs(1), || async {
        shop.pump_index().await;
        in_stock_ids(&shop, "lumen").await == vec![item]
    })
    .await;
    assert!(back, "restocked item did not come back");
}

#[tokio::test]
async fn paging_over_http_in_pages_of_20_returns_each_of_250_hits_exactly_once_with_live_stock() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..250 {
        let (app, call) = (
            shop.app.clone(),
            Call::new("POST /v1/seller/items", &[])
                .by(&seller)
                .json(listing(&format!("Laptop {i}"), "laptops")),
        );
        tasks.spawn(async move {
            Reply::from(catalog::create_item(&app, call.request()).await.unwrap())
        });
    }
    let mut listed = HashSet::new();
    while let Some(reply) = tasks.join_next().await {
        listed.insert(reply.unwrap().body["itemId"].as_str().unwrap().to_owned());
    }
    seed_item(&shop, "Not a laptop", 2).await; // another category stays out
    shop.pump_index().await;

    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let q = match &cursor {
            Some(c) => format!("category=laptops&limit=20&cursor={c}"),
            None => "category=laptops&limit=20".to_owned(),
        };
        let page = send!(
            search::search_items,
            shop,
            Call::new("GET /v1/items", &[]).query(&q)
        );
        assert_eq!(page.status, 200, "{:?}", page.body);
        assert_eq!(page.body["total"], 250);
        assert_eq!(
            page.body["facets"]["category"],
            json!([{ "value": "laptops", "count": 250 }])
        );
        for item in page.body["items"].as_array().unwrap() {
            assert_eq!(
                item["availability"]["available"], 0,
                "live stock: none received"
            );
            seen.push(item["itemId"].as_str().unwrap().to_owned());
        }
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(seen.len() <= 250, "paging must end");
    }
    assert_eq!(seen.len(), 250, "no hit twice");
    assert_eq!(
        seen.into_iter().collect::<HashSet<_>>(),
        listed,
        "every hit once"
    );
}

#[tokio::test]
async fn search_results_carry_live_availability_and_a_replayed_batch_changes_nothing() {
    let shop = Shop::open().await;
    let item = seed_item(&shop, "Aurora kettle", 7).await;
    shop.pump_index().await;
    let page = send!(
        search::search_items,
        shop,
        Call::new("GET /v1/items", &[]).query("q=aurora+ketle&inStock=true")
    );
    assert_eq!(page.body["items"][0]["itemId"], json!(item.to_string()));
    assert_eq!(page.body["items"][0]["availability"]["available"], 7);

    // Re-delivering the same stream records changes nothing.
    let ids = vec![item, item];
    let index = shop.app.search.index().unwrap();
    let again = aisle::usecases::search::index_items(
        &shop.app.catalog,
        &shop.app.inventory,
        &*shop.app.clock,
        index,
        IndexTarget::Live,
        &ids,
    )
    .await
    .unwrap();
    assert_eq!(again.changed, 0);
}

#[tokio::test]
async fn an_item_without_attributes_or_images_is_indexed_from_the_stream() {
    let shop = Shop::open().await;
    shop.pump_index().await;
    let created = send!(
        catalog::create_item,
        shop,
        Call::new("POST /v1/seller/items", &[])
            .by(&Caller::seller())
            .json(json!({ "name": "Plain spatula", "category": "kitchen", "brand": "Acme", "price": { "amount": 499, "currency": "USD" } }))
    );
    assert_eq!(created.status, 201);
    let indexed = helpers::eventually(Duration::from_secs(5), || async {
        shop.pump_index().await;
        let index = shop.app.search.index().unwrap();
        index.search(&query("spatula")).await.unwrap().total == 1
    })
    .await;
    assert!(indexed, "the record never reached the indexer");
}

/// The ids of a search page's hits, in order.
fn hit_ids(page: &Reply) -> Vec<String> {
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["itemId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn search_with_a_zip_promises_a_date_from_the_nearest_warehouse_holding_the_item() {
    let shop = Shop::open().await;
    // Warehouse A is in Bloomington MN (2 days to 55425), B in Tempe AZ (about 2,050 km: 4).
    let near = listed(&shop, "Harbor kettle near").await;
    receive(&shop, WAREHOUSE_A, near, 2).await;
    let far = listed(&shop, "Harbor kettle far").await;
    receive(&shop, WAREHOUSE_B, far, 2).await;
    let none = listed(&shop, "Harbor kettle none").await;
    shop.pump_index().await;
    let search = |q: String| {
        let shop = &shop;
        async move {
            let page = send!(
                search::search_items,
                shop,
                Call::new("GET /v1/items", &[]).query(&q)
            );
            assert_eq!(page.status, 200, "{q}: {:?}", page.body);
            page
        }
    };
    let today = shop.clock.now().date();
    let in_days = |d: i64| (today + time::Duration::days(d)).to_string();

    let page = search("q=harbor+kettle&zip=55425".into()).await;
    let promise = |id: ItemId| {
        page.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["itemId"] == json!(id.to_string()))
            .map(|i| i["delivery"].clone())
            .unwrap()
    };
    assert_eq!(
        promise(near),
        json!({ "deliverable": true, "days": 2, "estimatedDate": in_days(2), "shipsFrom": WAREHOUSE_A })
    );
    assert_eq!(promise(far)["days"], 4);
    assert_eq!(promise(far)["shipsFrom"], WAREHOUSE_B);
    assert_eq!(promise(none), json!({ "deliverable": false }));

    // Without a zip, no promise.
    let plain = search("q=harbor+kettle".into()).await;
    assert!(plain.body["items"][0].get("delivery").is_none());

    // Earliest first, the undeliverable last, one hit per page across the rings.
    let sorted = search("q=harbor+kettle&zip=55425&sort=delivery".into()).await;
    let expected = vec![near.to_string(), far.to_string(), none.to_string()];
    assert_eq!(hit_ids(&sorted), expected);
    assert_eq!(sorted.body["total"], 3);
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..6 {
        let mut q = "q=harbor+kettle&zip=55425&sort=delivery&limit=1".to_owned();
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let page = search(q).await;
        paged.extend(hit_ids(&page));
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        paged, expected,
        "paging walks the rings in order, each hit once"
    );

    // By a date: only what arrives by then. Deliverable: what any warehouse can ship.
    let by_two = search(format!(
        "q=harbor+kettle&zip=55425&deliverableBy={}",
        in_days(2)
    ))
    .await;
    assert_eq!(hit_ids(&by_two), vec![near.to_string()]);
    assert_eq!(by_two.body["total"], 1, "an index filter: the total agrees");
    let by_yesterday = search(format!(
        "q=harbor+kettle&zip=55425&deliverableBy={}",
        in_days(-1)
    ))
    .await;
    assert_eq!(hit_ids(&by_yesterday), Vec::<String>::new());
    let deliverable = search("q=harbor+kettle&deliverable=true".into()).await;
    let mut found = hit_ids(&deliverable);
    found.sort();
    let mut both = vec![near.to_string(), far.to_string()];
    both.sort();
    assert_eq!(found, both);

    // Stock arriving near moves the far item's date forward (the stock stream re-indexes it).
    receive(&shop, WAREHOUSE_A, far, 1).await;
    shop.pump_index().await;
    let page = search("q=harbor+kettle+far&zip=55425".into()).await;
    assert_eq!(page.body["items"][0]["delivery"]["days"], 2);
    assert_eq!(page.body["items"][0]["delivery"]["shipsFrom"], WAREHOUSE_A);

    // A zip no warehouse serves, or a delivery sort without one: 400, every problem listed.
    let bad = send!(
        search::search_items,
        shop,
        Call::new("GET /v1/items", &[]).query("zip=00000&deliverableBy=2026-02-30")
    );
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    assert_eq!(
        bad.body["error"]["details"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn a_signed_in_search_dates_deliveries_to_the_shoppers_saved_address() {
    let shop = Shop::open().await;
    let item = listed(&shop, "Quay lantern saved").await;
    receive(&shop, WAREHOUSE_B, item, 2).await; // Tempe AZ
    shop.pump_index().await;
    let shopper = Caller::shopper();
    let mine = |q: &str| {
        let call = Call::new("GET /v1/me/items", &[]).by(&shopper).query(q);
        let shop = &shop;
        async move { send!(search::search_items, shop, call) }
    };
    // Nothing saved yet: no dates.
    let before = mine("q=quay+lantern").await;
    assert_eq!(before.status, 200, "{:?}", before.body);
    assert!(before.body["items"][0].get("delivery").is_none());
    assert!(before.body.get("deliveryZip").is_none());
    assert_eq!(
        before.headers.get("cache-control").unwrap(),
        "private, no-store",
        "a signed-in answer is never shared"
    );

    let bad = send!(
        aisle::api::shopping::put_default_address,
        shop,
        Call::new("PUT /v1/me/address", &[])
            .by(&shopper)
            .json(json!({ "name": "A", "line1": "1 Main", "city": "X", "state": "ZZ", "zip": "1", "country": "US" }))
    );
    assert_eq!(bad.status, 422, "{:?}", bad.body);
    let mut address = serde_json::to_value(helpers::address()).unwrap();
    address["zip"] = json!("85281"); // Tempe: the warehouse is local
    let saved = send!(
        aisle::api::shopping::put_default_address,
        shop,
        Call::new("PUT /v1/me/address", &[])
            .by(&shopper)
            .json(address)
    );
    assert_eq!(saved.status, 200, "{:?}", saved.body);

    let after = mine("q=quay+lantern").await;
    assert_eq!(after.body["deliveryZip"], "85281");
    assert_eq!(after.body["items"][0]["delivery"]["days"], 2);
    // A zip given wins over the saved one; another shopper's search knows nothing of it.
    let given = mine("q=quay+lantern&zip=55425").await;
    assert_eq!(given.body["deliveryZip"], "55425");
    assert_eq!(given.body["items"][0]["delivery"]["days"], 4);
    let other = send!(
        search::search_items,
        shop,
        Call::new("GET /v1/me/items", &[])
            .by(&Caller::shopper())
            .query("q=quay+lantern")
    );
    assert!(other.body.get("deliveryZip").is_none());
    // The signed-in route needs a token (API Gateway answers 401 before the function; the
    // function refuses too).
    let anonymous = send!(
        search::search_items,
        shop,
        Call::new("GET /v1/me/items", &[]).query("q=quay+lantern")
    );
    assert_eq!(anonymous.status, 401);
}

/// On OpenSearch (`AISLE_SEARCH=opensearch`, the second pass of `make test`), each function
/// reaches the node through the local IAM check for `es`: the public search may search but
/// not write, the indexer may write. On the embedded index there is no `es` to check.
#[tokio::test]
async fn on_opensearch_the_search_function_may_search_but_not_write() {
    let shop = helpers::Shop::open().await;
    let aisle::config::SearchBackend::OpenSearch { .. } = &shop.config.search.backend else {
        eprintln!("embedded index: no es calls to check");
        return;
    };
    let item = seed_item(&shop, "Guarded lantern", 2).await;
    let indexer = shop.as_function("index-items").await;
    let reader = shop.as_function("search-items").await;
    let doc = shop
        .app
        .search
        .index()
        .unwrap()
        .search(&SearchQuery::all())
        .await
        .unwrap()
        .hits
        .into_iter()
        .map(|h| h.doc)
        .next();
    let doc = match doc {
        Some(doc) => doc,
        None => {
            // Not indexed yet: index it as the indexer does.
            shop.pump_index().await;
            shop.app
                .search
                .index()
                .unwrap()
                .search(&SearchQuery::all())
                .await
                .unwrap()
                .hits
                .remove(0)
                .doc
        }
    };
    assert_eq!(doc.item.item_id, item);
    let refused = reader
        .search
        .index()
        .unwrap()
        .upsert(IndexTarget::Live, std::slice::from_ref(&doc))
        .await;
    let error = refused
        .expect_err("the search role cannot write")
        .to_string();
    assert!(
        error.contains("403") && error.contains("not authorized to perform: es:ESHttpPost"),
        "{error}"
    );
    let found = reader
        .search
        .index()
        .unwrap()
        .search(&SearchQuery::all())
        .await
        .unwrap();
    assert_eq!(found.total, 1, "the search role searches");
    indexer
        .search
        .index()
        .unwrap()
        .upsert(IndexTarget::Live, &[doc])
        .await
        .expect("the indexer writes");
}

/// The OpenSearch adapter's unit tests replay answers recorded from a real node
/// (`shared/src/adapters/search/recorded/`, listed with their sources in its README). On the
/// OpenSearch pass this asks the node the same questions and checks that each answer still
/// reads the same as its recording: hits, cursor, facets, bulk counts, aliases, errors.
/// `AISLE_RECORD=1` rewrites the recordings from the node instead (names and timings
/// normalised), to be reviewed in the diff. Faults a healthy single node cannot produce
/// (throttling, a failed shard, a rejected bulk item) stay hand-written.
#[tokio::test]
async fn the_adapters_recorded_answers_are_what_a_real_node_answers() {
    let endpoint = match opensearch_node() {
        Some(endpoint) => endpoint,
        None => {
            eprintln!("embedded index: no node to record from");
            return;
        }
    };
    const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/shared/src/adapters/search/recorded"
    );
    let unique = uuid::Uuid::new_v4();
    let alias = format!("recorded-{unique}");
    let index = opensearch::OpenSearchIndex::new(&endpoint, &alias, "us-east-1", None).unwrap();
    let generation = index.create_generation().await.unwrap();
    index.publish_generation(&generation).await.unwrap();
    // What the recordings say instead of this run's names.
    let normalise = |body: &[u8]| -> String {
        let text = String::from_utf8_lossy(body)
            .replace(&generation, "aisle-items-g1795300000000")
            .replace(&alias, "aisle-items")
            .replace(&format!("missing-{unique}"), "aisle-items");
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        if let Some(took) = value.get_mut("took") {
            *took = json!(5);
        }
        serde_json::to_string_pretty(&value).unwrap() + "\n"
    };
    let recording = |name: &str, live: &str| -> Vec<u8> {
        let path = format!("{DIR}/{name}");
        if std::env::var("AISLE_RECORD").as_deref() == Ok("1") {
            std::fs::write(&path, live).unwrap();
        }
        std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let id = |n: u8| {
        ItemId::try_from(format!("5f0c6a52-4c1e-4c57-9d51-0b8f1f1c2a{n:02}").as_str()).unwrap()
    };
    let tv = |n: u8, name: &str, amount: u64, created: &str, stock_version: u64| -> SearchDoc {
        SearchDoc {
            item: serde_json::from_value(json!({
                "itemId": id(n), "sellerId": "seller-1", "name": name, "category": "tvs",
                "brand": "Samsung", "price": { "amount": amount, "currency": "USD" },
                "attributes": { "size": "65 in" }, "images": [], "lowStockThreshold": 5,
                "createdAt": created, "updatedAt": created, "version": 3
            }))
            .unwrap(),
            in_stock: true,
            stock_version,
            sites: vec![aisle::domain::WarehouseId::try_from("wh-1004").unwrap()],
            stock_read_at: 1,
        }
    };
    let docs = [
        tv(
            1,
            "Samsung Neo QLED QN90D 65 in Smart TV",
            149_999,
            "2026-11-01T10:00:00.000Z",
            12,
        ),
        tv(
            2,
            "Samsung Crystal UHD DU7200 65 in Smart TV",
            49_999,
            "2026-10-01T10:00:00.000Z",
            4,
        ),
        tv(
            3,
            "Samsung The Frame LS03D 65 in Smart TV with a matte display",
            129_999,
            "2026-09-01T10:00:00.000Z",
            7,
        ),
    ];
    index.upsert(IndexTarget::Live, &docs).await.unwrap();

    // A search with words, every filter and facets.
    let mut q = SearchQuery::all();
    q.words = vec!["samsnug".into(), "tv".into()];
    q.category = Some(Category::try_from("tvs".to_owned()).unwrap());
    q.brand = Some("samsung".into());
    q.min_price = Some(10_000);
    q.max_price = Some(200_000);
    q.in_stock_only = true;
    q.attributes = vec![("size".into(), "65 in".into())];
    q.sort = SortOrder::Relevance;
    let live = index
        .call(
            "POST",
            &format!("/{alias}/_search"),
            Some(opensearch::search_body(&q).to_string()),
        )
        .await
        .unwrap();
    let recorded = recording("search-hits.json", &normalise(&live.body));
    for limit in [1, 20] {
        q.limit = limit;
        let read = |body: &[u8]| opensearch::parse_search(&q, 200, body).unwrap();
        assert_eq!(
            read(&live.body),
            read(&recorded),
            "search-hits.json, limit {limit}"
        );
    }

    // A search on an index that is not there.
    let missing = index
        .call(
            "POST",
            &format!("/missing-{unique}/_search"),
            Some("{}".into()),
        )
        .await
        .unwrap();
    assert_eq!(missing.status, 404);
    let recorded = recording("search-error-index-missing.json", &normalise(&missing.body));
    let classify = |body: &[u8]| format!("{:?}", opensearch::parse_search(&q, 404, body));
    assert_eq!(
        classify(&missing.body).replace(&format!("missing-{unique}"), "aisle-items"),
        classify(&recorded)
    );

    // Which index the alias points at.
    let aliases = index
        .call("GET", &format!("/_alias/{alias}"), None)
        .await
        .unwrap();
    let recorded = recording("alias.json", &normalise(&aliases.body));
    assert_eq!(
        opensearch::parse_alias(200, &aliases.body).unwrap(),
        [generation.clone()]
    );
    assert_eq!(
        opensearch::parse_alias(200, &recorded).unwrap(),
        ["aisle-items-g1795300000000"]
    );

    // A bulk write that creates one document, updates one and leaves one unchanged.
    let mut newer = docs[0].clone();
    newer.stock_version += 1;
    newer.in_stock = false;
    let created = tv(
        4,
        "Samsung OLED S90D 65 in Smart TV",
        179_999,
        "2026-11-02T10:00:00.000Z",
        1,
    );
    let body = opensearch::bulk_upsert_body(&alias, true, &[created, newer, docs[1].clone()]);
    let bulk = index
        .call("POST", "/_bulk?refresh=wait_for", Some(body))
        .await
        .unwrap();
    let recorded = recording("bulk-mixed.json", &normalise(&bulk.body));
    assert_eq!(opensearch::parse_bulk(200, &bulk.body).unwrap(), 2);
    assert_eq!(opensearch::parse_bulk(200, &recorded).unwrap(), 2);
    let _ = index.call("DELETE", &format!("/{generation}"), None).await;
}

/// `text` with its second and third letters swapped (a typo of one edit).
fn swapped(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    if chars.len() >= 4 {
        chars.swap(1, 2);
    }
    chars.into_iter().collect()
}

/// Suggestions on this engine (the embedded term dictionaries, or OpenSearch's completion
/// suggesters) against brute force over the same catalogue: every brand and category that
/// completes the typed text within its typos is offered (OpenSearch lists 10 per kind at
/// most), nothing offered needs more edits than allowed, and a name is offered whenever one
/// completes the text.
#[tokio::test]
async fn suggestions_agree_with_brute_force_on_brands_categories_and_names() {
    use aisle::domain::suggest::{prefix_distance, SuggestionKind, Typed};
    use std::collections::BTreeSet;
    let docs = aisle_local::products::generate(3_000, 21);
    let index = fresh_index().await;
    index.upsert(IndexTarget::Live, &docs).await.unwrap();
    let brands: BTreeSet<String> = docs.iter().map(|d| d.brand_key()).collect();
    let categories: BTreeSet<String> = docs
        .iter()
        .map(|d| d.item.category.as_str().to_owned())
        .collect();
    let names: Vec<String> = docs.iter().map(|d| d.name_key()).collect();
    let mut typed_texts: Vec<String> = docs
        .iter()
        .step_by(97)
        .take(30)
        .enumerate()
        .map(|(i, doc)| {
            let cut: String = doc.name_key().chars().take(2 + i % 9).collect();
            if i % 3 == 0 {
                swapped(&cut)
            } else {
                cut
            }
        })
        .collect();
    typed_texts.extend(
        categories
            .iter()
            .map(|c| swapped(&c.chars().take(5).collect::<String>())),
    );
    let mut offered_somewhere = 0;
    for text in &typed_texts {
        let typed = Typed::parse(text).unwrap();
        let allowed = usize::from(typed.typos());
        let offered = index.suggest(&typed).await.unwrap();
        let within = |candidate: &str| prefix_distance(&typed.prefix, candidate) <= allowed;
        for s in &offered {
            assert!(
                within(&s.text),
                "{text:?}: {s:?} needs more than {allowed} edits"
            );
        }
        for (kind, all) in [
            (SuggestionKind::Brand, &brands),
            (SuggestionKind::Category, &categories),
        ] {
            let wanted: BTreeSet<&String> = all.iter().filter(|b| within(b)).collect();
            let got: BTreeSet<&String> = offered
                .iter()
                .filter(|s| s.kind == kind)
                .map(|s| &s.text)
                .collect();
            if wanted.len() <= 10 {
                assert_eq!(got, wanted, "{text:?}: {kind:?}");
            } else {
                assert!(
                    got.len() == 10 && got.is_subset(&wanted),
                    "{text:?}: {kind:?}"
                );
            }
        }
        if names.iter().any(|n| within(n)) {
            assert!(
                offered.iter().any(|s| s.kind == SuggestionKind::Item),
                "{text:?}: a name completes it, none offered"
            );
        }
        offered_somewhere += usize::from(!offered.is_empty());
    }
    assert!(
        offered_somewhere >= 30,
        "{offered_somewhere} of {}",
        typed_texts.len()
    );
}
