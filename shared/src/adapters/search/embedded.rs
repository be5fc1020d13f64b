//! The embedded search backend: a tantivy index in a local directory (the local default, and
//! enough for a small deployment).
//!
//! Layout under the configured root: one directory per generation (`g<millis>-<n>`) and a file
//! `ALIAS` naming the generation searches are served from. A rebuild fills a new generation
//! and then replaces `ALIAS` with an atomic rename, so a half-built index is never served.
//!
//! Readers and the writer may be different processes (the search Lambda and the indexer
//! Lambda under `cargo lambda watch`): readers notice a new commit by the generation's
//! `meta.json` modification time and reload, so a commit is visible on the next query.
//! The writer is opened per write batch (tantivy allows one per index, by a lock file);
//! a busy lock is retried for a few seconds.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tantivy::collector::{Collector, DocSetCollector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::directory::error::LockError;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, FuzzyTermQuery, Occur, Query,
    RangeQuery, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentOrdinal,
    SegmentReader, TantivyDocument, TantivyError, Term,
};

use crate::domain::search::{fuzziness, price_band, Facets, PRICE_BANDS};
use crate::domain::{ItemId, SearchDoc, SearchHit, SearchHits, SearchQuery, SortOrder};
use crate::ports::{IndexTarget, SearchIndex, StoreError};

/// The analyzer both the documents and the query words go through.
const ANALYZER: &str = "aisle";
const ALIAS: &str = "ALIAS";
/// Writer memory: tantivy's per-thread minimum is 15 MB; stream batches are small.
const WRITER_BUDGET: usize = 50_000_000;

/// The index fields, resolved once per opened index.
#[derive(Debug, Clone, Copy)]
struct Fields {
    item_id: Field,
    tie_high: Field,
    tie_low: Field,
    name: Field,
    brand: Field,
    all: Field,
    category: Field,
    brand_key: Field,
    attrs: Field,
    price: Field,
    created: Field,
    in_stock: Field,
    sites: Field,
    source: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        item_id: b.add_text_field("item_id", STRING),
        tie_high: b.add_u64_field("tie_high", FAST),
        tie_low: b.add_u64_field("tie_low", FAST),
        name: b.add_text_field("name", text.clone()),
        brand: b.add_text_field("brand", text.clone()),
        all: b.add_text_field("all", text),
        category: b.add_text_field("category", STRING | FAST),
        brand_key: b.add_text_field("brand_key", STRING | FAST),
        attrs: b.add_text_field("attrs", STRING),
        price: b.add_u64_field("price", INDEXED | FAST),
        created: b.add_i64_field("created", FAST),
        in_stock: b.add_u64_field("in_stock", INDEXED),
        sites: b.add_text_field("sites", STRING),
        source: b.add_bytes_field("source", STORED),
    };
    (b.build(), fields)
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(41))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Tie-break key: the id's 16 bytes, big-endian, so their order is the ids' text order
/// (stored as two u64 fast fields).
fn tiebreak(id: ItemId) -> u128 {
    u128::from_be_bytes(*id.as_bytes())
}

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("search index: {e}"))
}

/// An opened generation with its reader.
struct Opened {
    name: String,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    meta_modified: Option<SystemTime>,
}

impl Opened {
    fn open(root: &Path, name: &str) -> Result<Self, StoreError> {
        let dir = root.join(name);
        let (schema, fields) = schema();
        std::fs::create_dir_all(&dir).map_err(failed)?;
        let directory = tantivy::directory::MmapDirectory::open(&dir).map_err(failed)?;
        let index = match Index::open_or_create(directory, schema.clone()) {
            // An index written by an older version with other fields: it holds derived data
            // only, so start it empty (the streams and `search rebuild` fill it again).
            Err(TantivyError::SchemaError(reason)) => {
                tracing::warn!(%reason, dir = %dir.display(), "search index has an older schema; starting it empty");
                std::fs::remove_dir_all(&dir).map_err(failed)?;
                std::fs::create_dir_all(&dir).map_err(failed)?;
                let directory = tantivy::directory::MmapDirectory::open(&dir).map_err(failed)?;
                Index::open_or_create(directory, schema).map_err(failed)?
            }
            opened => opened.map_err(failed)?,
        };
        index.tokenizers().register(ANALYZER, analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(failed)?;
        Ok(Self {
            name: name.to_owned(),
            index,
            reader,
            fields,
            meta_modified: modified(&dir.join("meta.json")),
        })
    }

    /// Reload if another process committed since we last looked.
    fn refresh(&mut self, root: &Path) -> Result<(), StoreError> {
        let now = modified(&root.join(&self.name).join("meta.json"));
        if now != self.meta_modified {
            self.reader.reload().map_err(failed)?;
            self.meta_modified = now;
        }
        Ok(())
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The tantivy backend of [`SearchIndex`].
pub struct EmbeddedIndex {
    root: PathBuf,
    live: Mutex<Option<Opened>>,
}

impl std::fmt::Debug for EmbeddedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedIndex")
            .field("root", &self.root)
            .finish()
    }
}

impl EmbeddedIndex {
    /// Use (or start) the index under `root`. Creates an empty live generation if there is
    /// none yet, so a fresh checkout can search before anything was indexed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let index = Self {
            root: root.into(),
            live: Mutex::new(None),
        };
        std::fs::create_dir_all(&index.root).map_err(failed)?;
        if index.alias().is_none() {
            let name = index.new_generation_name();
            Opened::open(&index.root, &name)?;
            index.point_alias(&name)?;
        }
        Ok(index)
    }

    /// The directory the index generations live in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn alias(&self) -> Option<String> {
        std::fs::read_to_string(self.root.join(ALIAS))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    fn point_alias(&self, name: &str) -> Result<(), StoreError> {
        // Write then rename: readers see the old name or the new one, never a partial file.
        let tmp = self
            .root
            .join(format!("{ALIAS}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, name).map_err(failed)?;
        std::fs::rename(&tmp, self.root.join(ALIAS)).map_err(failed)
    }

    fn new_generation_name(&self) -> String {
        let millis = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        format!("g{millis}-{}", rand::random::<u32>())
    }

    /// Run `f` on the live generation, (re)opened if the alias moved or a commit landed.
    fn with_live<T>(
        &self,
        f: impl FnOnce(&Opened) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let name = self
            .alias()
            .ok_or_else(|| failed("no live generation (ALIAS missing)"))?;
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        match live.as_mut() {
            Some(opened) if opened.name == name => opened.refresh(&self.root)?,
            _ => *live = Some(Opened::open(&self.root, &name)?),
        }
        f(live.as_ref().expect("opened above"))
    }

    /// Open a writer on a generation, waiting out another process's lock for a while.
    fn writer(opened: &Opened) -> Result<IndexWriter<TantivyDocument>, StoreError> {
        // Synchronous (tantivy's writer is), so the shared policy's pauses are slept here.
        let policy = crate::retry::Policy {
            attempts: u32::MAX, // bounded by the deadline instead
            base: Duration::from_millis(20),
            cap: Duration::from_millis(80),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match opened.index.writer_with_num_threads(1, WRITER_BUDGET) {
                Ok(writer) => return Ok(writer),
                Err(TantivyError::LockFailure(LockError::LockBusy, _))
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(policy.pause(attempt));
                }
                Err(e) => return Err(failed(e)),
            }
        }
    }

    /// Merge and write `docs` into one generation, under its writer lock.
    fn write(
        opened: &Opened,
        docs: &[SearchDoc],
        removals: &[ItemId],
    ) -> Result<usize, StoreError> {
        let mut writer = Self::writer(opened)?;
        // Under the lock, the last commit is the newest state: read versions from it.
        opened.reader.reload().map_err(failed)?;
        let searcher = opened.reader.searcher();
        let f = opened.fields;
        let mut latest: HashMap<ItemId, SearchDoc> = HashMap::new();
        let mut changed = 0;
        for doc in docs {
            let id = doc.item.item_id;
            let current = match latest.get(&id) {
                Some(pending) => Some(pending.clone()),
                None => stored(&searcher, f, id)?,
            };
            if let Some(next) = SearchDoc::merge(current.as_ref(), doc) {
                latest.insert(id, next);
            }
        }
        for (id, doc) in &latest {
            writer.delete_term(Term::from_field_text(f.item_id, &id.to_string()));
            writer.add_document(to_document(f, doc)?).map_err(failed)?;
            changed += 1;
        }
        for id in removals {
            writer.delete_term(Term::from_field_text(f.item_id, &id.to_string()));
        }
        if changed > 0 || !removals.is_empty() {
            writer.commit().map_err(failed)?;
        }
        writer.wait_merging_threads().map_err(failed)?;
        Ok(changed)
    }

    fn generation_or_live(&self, target: IndexTarget<'_>) -> Result<String, StoreError> {
        match target {
            IndexTarget::Live => self
                .alias()
                .ok_or_else(|| failed("no live generation (ALIAS missing)")),
            IndexTarget::Generation(name) => {
                let valid = name.starts_with('g')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                if valid && self.root.join(name).is_dir() {
                    Ok(name.to_owned())
                } else {
                    Err(failed(format!("no generation {name:?}")))
                }
            }
        }
    }

    fn search_now(&self, query: &SearchQuery) -> Result<SearchHits, StoreError> {
        self.with_live(|opened| {
            let f = opened.fields;
            let mut analyzer = opened
                .index
                .tokenizers()
                .get(ANALYZER)
                .ok_or_else(|| failed("analyzer not registered"))?;
            let tantivy_query = build_query(f, &mut analyzer, query);
            let searcher = opened.reader.searcher();
            let collector = PageCollector {
                sort: query.sort,
                after: query
                    .after
                    .map(|c| (rank_value(query.sort, c.value), tiebreak(c.item_id))),
                want: query.limit as usize + 1,
            };
            let page = searcher
                .search(tantivy_query.as_ref(), &collector)
                .map_err(failed)?;
            let mut hits = Vec::with_capacity(page.top.len());
            for entry in &page.top {
                let doc: TantivyDocument = searcher.doc(entry.address).map_err(failed)?;
                let source = doc
                    .get_first(f.source)
                    .and_then(|v| v.as_bytes())
                    .ok_or_else(|| StoreError::Corrupt("indexed document without source".into()))?;
                let doc: SearchDoc = serde_json::from_slice(source)
                    .map_err(|e| StoreError::Corrupt(format!("indexed document: {e}")))?;
                let sort_value = match query.sort {
                    SortOrder::Relevance => f64::from(entry.score),
                    other => doc.sort_value(other),
                };
                hits.push(SearchHit { doc, sort_value });
            }
            let facets = Facets::from_counts(page.categories, page.brands, page.bands);
            Ok(SearchHits::page(query, hits, page.total, facets))
        })
    }
}

/// The stored document for an id in the searcher's view, if any.
fn stored(
    searcher: &tantivy::Searcher,
    f: Fields,
    id: ItemId,
) -> Result<Option<SearchDoc>, StoreError> {
    let query = TermQuery::new(
        Term::from_field_text(f.item_id, &id.to_string()),
        IndexRecordOption::Basic,
    );
    let found = searcher.search(&query, &DocSetCollector).map_err(failed)?;
    let Some(address) = found.into_iter().next() else {
        return Ok(None);
    };
    let doc: TantivyDocument = searcher.doc(address).map_err(failed)?;
    let source = doc.get_first(f.source).and_then(|v| v.as_bytes());
    source
        .map(|bytes| {
            serde_json::from_slice(bytes)
                .map_err(|e| StoreError::Corrupt(format!("indexed document {id}: {e}")))
        })
        .transpose()
}

fn to_document(f: Fields, doc: &SearchDoc) -> Result<TantivyDocument, StoreError> {
    let item = &doc.item;
    let mut d = TantivyDocument::default();
    d.add_text(f.item_id, item.item_id.to_string());
    let tie = tiebreak(item.item_id);
    d.add_u64(f.tie_high, (tie >> 64) as u64);
    d.add_u64(f.tie_low, tie as u64);
    d.add_text(f.name, item.name.as_str());
    d.add_text(f.brand, item.brand.as_str());
    d.add_text(f.all, doc.all_text());
    d.add_text(f.category, item.category.as_str());
    d.add_text(f.brand_key, doc.brand_key());
    for term in doc.attribute_terms() {
        d.add_text(f.attrs, term);
    }
    d.add_u64(f.price, doc.price());
    d.add_i64(f.created, item.created_at.unix_millis());
    d.add_u64(f.in_stock, u64::from(doc.in_stock));
    for site in &doc.sites {
        d.add_text(f.sites, site.as_str());
    }
    let source = serde_json::to_vec(doc).map_err(|e| failed(format!("encode: {e}")))?;
    d.add_bytes(f.source, &source);
    Ok(d)
}

/// The tantivy query for a search: every word fuzzily in `all` (must), exact words in name,
/// brand and `all` for ranking (should), filters scoring nothing.
fn build_query(f: Fields, analyzer: &mut TextAnalyzer, q: &SearchQuery) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut words = Vec::new();
    for word in &q.words {
        let mut stream = analyzer.token_stream(word);
        while stream.advance() {
            words.push(stream.token().text.clone());
        }
    }
    for word in &words {
        let fuzzy = FuzzyTermQuery::new(Term::from_field_text(f.all, word), fuzziness(word), true);
        clauses.push((Occur::Must, Box::new(fuzzy)));
        for (field, boost) in [(f.name, 3.0), (f.brand, 2.0), (f.all, 1.0)] {
            let exact = TermQuery::new(
                Term::from_field_text(field, word),
                IndexRecordOption::WithFreqs,
            );
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(exact), boost)),
            ));
        }
    }
    let mut filter = |query: Box<dyn Query>| {
        clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(query, 0.0))));
    };
    let raw = |field: Field, value: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, value),
            IndexRecordOption::Basic,
        ))
    };
    if let Some(category) = &q.category {
        filter(raw(f.category, category.as_str()));
    }
    if let Some(brand) = &q.brand {
        filter(raw(f.brand_key, brand));
    }
    for (name, value) in &q.attributes {
        filter(raw(f.attrs, &format!("{name}={value}")));
    }
    if q.in_stock_only {
        filter(Box::new(TermQuery::new(
            Term::from_field_u64(f.in_stock, 1),
            IndexRecordOption::Basic,
        )));
    }
    if let Some(any) = &q.sites_any {
        let held: Vec<(Occur, Box<dyn Query>)> = any
            .iter()
            .map(|w| (Occur::Should, raw(f.sites, w.as_str())))
            .collect();
        // An empty set matches nothing: a must-clause that no document has.
        filter(if held.is_empty() {
            Box::new(EmptyQuery)
        } else {
            Box::new(BooleanQuery::new(held))
        });
    }
    if !q.sites_none.is_empty() {
        let mut none: Vec<(Occur, Box<dyn Query>)> = q
            .sites_none
            .iter()
            .map(|w| (Occur::MustNot, raw(f.sites, w.as_str())))
            .collect();
        none.push((Occur::Must, Box::new(AllQuery)));
        filter(Box::new(BooleanQuery::new(none)));
    }
    if q.min_price.is_some() || q.max_price.is_some() {
        let bound = |v: Option<u64>| match v {
            Some(v) => Bound::Included(Term::from_field_u64(f.price, v)),
            None => Bound::Unbounded,
        };
        filter(Box::new(RangeQuery::new(
            bound(q.min_price),
            bound(q.max_price),
        )));
    }
    if clauses.is_empty() {
        return Box::new(AllQuery);
    }
    if words.is_empty() {
        // Filters only: keep a scoring clause so every document scores the same.
        clauses.push((
            Occur::Must,
            Box::new(ConstScoreQuery::new(Box::new(AllQuery), 1.0)),
        ));
    }
    Box::new(BooleanQuery::new(clauses))
}

/// The value ranked on, oriented so that larger is always better.
fn rank_value(sort: SortOrder, value: f64) -> f64 {
    if sort.descending() {
        value
    } else {
        -value
    }
}

/// One candidate for the page: ranked by `(value desc, tie asc)`.
#[derive(Debug, Clone, Copy)]
struct Entry {
    value: f64,
    tie: u128,
    score: Score,
    address: DocAddress,
}

impl Entry {
    /// `Less` when `self` ranks before `other`.
    fn rank(&self, other: &Self) -> Ordering {
        other
            .value
            .total_cmp(&self.value)
            .then(self.tie.cmp(&other.tie))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.rank(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// The heap keeps the worst-ranked entry on top, to be evicted first.
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank(other)
    }
}

/// One pass over the matches: the page after the cursor (top `want`), the total, and facets.
struct PageCollector {
    sort: SortOrder,
    after: Option<(f64, u128)>,
    want: usize,
}

struct PageFruit {
    top: Vec<Entry>,
    total: u64,
    categories: HashMap<String, u64>,
    brands: HashMap<String, u64>,
    bands: [u64; PRICE_BANDS.len()],
}

struct PageSegment {
    segment: SegmentOrdinal,
    sort: SortOrder,
    after: Option<(f64, u128)>,
    want: usize,
    heap: BinaryHeap<Entry>,
    total: u64,
    tie_high: Column<u64>,
    tie_low: Column<u64>,
    price: Column<u64>,
    created: Column<i64>,
    category: Option<StrColumn>,
    brand: Option<StrColumn>,
    category_counts: Vec<u64>,
    brand_counts: Vec<u64>,
    bands: [u64; PRICE_BANDS.len()],
}

impl Collector for PageCollector {
    type Fruit = PageFruit;
    type Child = PageSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<PageSegment> {
        let fast = reader.fast_fields();
        let category = fast.str("category")?;
        let brand = fast.str("brand_key")?;
        Ok(PageSegment {
            segment,
            sort: self.sort,
            after: self.after,
            want: self.want,
            heap: BinaryHeap::with_capacity(self.want + 1),
            total: 0,
            tie_high: fast.u64("tie_high")?,
            tie_low: fast.u64("tie_low")?,
            price: fast.u64("price")?,
            created: fast.i64("created")?,
            category_counts: vec![0; category.as_ref().map_or(0, |c| c.num_terms())],
            brand_counts: vec![0; brand.as_ref().map_or(0, |c| c.num_terms())],
            category,
            brand,
            bands: [0; PRICE_BANDS.len()],
        })
    }

    fn requires_scoring(&self) -> bool {
        self.sort == SortOrder::Relevance
    }

    fn merge_fruits(&self, fruits: Vec<PageFruit>) -> tantivy::Result<PageFruit> {
        let mut merged = PageFruit {
            top: Vec::new(),
            total: 0,
            categories: HashMap::new(),
            brands: HashMap::new(),
            bands: [0; PRICE_BANDS.len()],
        };
        for fruit in fruits {
            merged.top.extend(fruit.top);
            merged.total += fruit.total;
            for (k, v) in fruit.categories {
                *merged.categories.entry(k).or_default() += v;
            }
            for (k, v) in fruit.brands {
                *merged.brands.entry(k).or_default() += v;
            }
            for (band, n) in fruit.bands.iter().enumerate() {
                merged.bands[band] += n;
            }
        }
        merged.top.sort_by(Entry::rank);
        merged.top.truncate(self.want);
        Ok(merged)
    }
}

impl SegmentCollector for PageSegment {
    type Fruit = PageFruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.total += 1;
        let price = self.price.first(doc).unwrap_or(0);
        self.bands[price_band(price)] += 1;
        if let Some(ord) = self.category.as_ref().and_then(|c| c.ords().first(doc)) {
            self.category_counts[ord as usize] += 1;
        }
        if let Some(ord) = self.brand.as_ref().and_then(|c| c.ords().first(doc)) {
            self.brand_counts[ord as usize] += 1;
        }
        let raw = match self.sort {
            SortOrder::Relevance => f64::from(score),
            SortOrder::PriceAsc | SortOrder::PriceDesc => price as f64,
            SortOrder::Newest => self.created.first(doc).unwrap_or(0) as f64,
        };
        let entry = Entry {
            value: rank_value(self.sort, raw),
            tie: (u128::from(self.tie_high.first(doc).unwrap_or(0)) << 64)
                | u128::from(self.tie_low.first(doc).unwrap_or(0)),
            score,
            address: DocAddress::new(self.segment, doc),
        };
        if let Some((value, tie)) = self.after {
            // search_after: only what ranks strictly after the cursor.
            let cursor = Entry {
                value,
                tie,
                ..entry
            };
            if entry.rank(&cursor) != Ordering::Greater {
                return;
            }
        }
        self.heap.push(entry);
        if self.heap.len() > self.want {
            self.heap.pop();
        }
    }

    fn harvest(self) -> PageFruit {
        let names = |column: &Option<StrColumn>, counts: Vec<u64>| {
            let mut out = HashMap::new();
            if let Some(column) = column {
                for (ord, count) in counts.into_iter().enumerate().filter(|(_, n)| *n > 0) {
                    let mut name = String::new();
                    if column.ord_to_str(ord as u64, &mut name).unwrap_or(false) {
                        out.insert(name, count);
                    }
                }
            }
            out
        };
        PageFruit {
            categories: names(&self.category, self.category_counts),
            brands: names(&self.brand, self.brand_counts),
            top: self.heap.into_vec(),
            total: self.total,
            bands: self.bands,
        }
    }
}

#[async_trait]
impl SearchIndex for EmbeddedIndex {
    async fn search(&self, query: &SearchQuery) -> Result<SearchHits, StoreError> {
        // Milliseconds of CPU: not worth a blocking-pool hop.
        self.search_now(query)
    }

    async fn generation(&self) -> Option<u64> {
        self.with_live(|opened| Ok(opened.reader.searcher().generation().generation_id()))
            .ok()
    }

    async fn upsert(
        &self,
        target: IndexTarget<'_>,
        docs: &[SearchDoc],
    ) -> Result<usize, StoreError> {
        let name = self.generation_or_live(target)?;
        let opened = Opened::open(&self.root, &name)?;
        Self::write(&opened, docs, &[])
    }

    async fn remove(&self, ids: &[ItemId]) -> Result<(), StoreError> {
        let name = self.generation_or_live(IndexTarget::Live)?;
        let opened = Opened::open(&self.root, &name)?;
        Self::write(&opened, &[], ids).map(|_| ())
    }

    async fn create_generation(&self) -> Result<String, StoreError> {
        let name = self.new_generation_name();
        Opened::open(&self.root, &name)?;
        Ok(name)
    }

    async fn publish_generation(&self, name: &str) -> Result<(), StoreError> {
        let name = self.generation_or_live(IndexTarget::Generation(name))?;
        let previous = self.alias();
        self.point_alias(&name)?;
        // Older generations go once nobody is pointed at them; a reader still holding one
        // keeps its memory-mapped files until it reopens (unlinking is safe on Unix).
        let keep: HashSet<String> = [Some(name), previous].into_iter().flatten().collect();
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                if file.starts_with('g') && entry.path().is_dir() && !keep.contains(&file) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        Ok(())
    }
}
