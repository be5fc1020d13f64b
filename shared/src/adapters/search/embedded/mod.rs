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
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tantivy::collector::DocSetCollector;
use tantivy::directory::error::LockError;
use tantivy::index::{IndexSettings, IndexSortByField, Order as IndexOrder};
use tantivy::query::TermQuery;
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentOrdinal,
    TantivyDocument, TantivyError, Term,
};

use crate::domain::search::{Facets, EXACT_COUNTS, PRICE_BANDS};
use crate::domain::{ItemId, SearchDoc, SearchHit, SearchHits, SearchQuery, SortOrder};
use crate::ports::{IndexTarget, SearchIndex, StoreError};

mod matching;
mod suggest;

use matching::{Fruit, Plan, Views};

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
    /// The name, normalised as suggestions are (`domain::suggest`), untokenised.
    name_key: Field,
    attrs: Field,
    price: Field,
    created: Field,
    in_stock: Field,
    sites: Field,
    source: Field,
}

impl Fields {
    /// The fields relevance scores, in the order of the boosts (name, brand, all text).
    fn scored(self) -> [Field; 3] {
        [self.name, self.brand, self.all]
    }

    /// The fields whose terms filter (intersected, not scored).
    fn filters(self) -> [Field; 5] {
        [
            self.category,
            self.brand_key,
            self.attrs,
            self.in_stock,
            self.sites,
        ]
    }
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
        name_key: b.add_text_field("name_key", STRING),
        attrs: b.add_text_field("attrs", STRING),
        price: b.add_u64_field("price", INDEXED | FAST),
        created: b.add_i64_field("created", FAST),
        in_stock: b.add_u64_field("in_stock", INDEXED),
        sites: b.add_text_field("sites", STRING),
        source: b.add_bytes_field("source", STORED),
    };
    (b.build(), fields)
}

/// Documents sorted by the tie-break (the item id's high 64 bits) in every segment, so equal
/// sort values rank in document order (see `matching`). Stored documents in 4 KB blocks, not
/// tantivy's 16 KB: a page's hits sit in blocks of their own among a million items, and each
/// hit decompresses its whole block (at 16 KB that was a fifth of a query's time).
fn settings() -> IndexSettings {
    IndexSettings {
        sort_by_field: Some(IndexSortByField {
            field: "tie_high".into(),
            order: IndexOrder::Asc,
        }),
        docstore_blocksize: 4_096,
        ..IndexSettings::default()
    }
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
    /// The generation's directory.
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    meta_modified: Option<SystemTime>,
    /// Segment columns and leaf bitsets, kept across searches.
    views: Mutex<Views>,
}

impl Opened {
    fn open(root: &Path, name: &str) -> Result<Self, StoreError> {
        let dir = root.join(name);
        let (schema, fields) = schema();
        std::fs::create_dir_all(&dir).map_err(failed)?;
        let create = || -> Result<Index, StoreError> {
            let directory = tantivy::directory::MmapDirectory::open(&dir).map_err(failed)?;
            Index::builder()
                .schema(schema.clone())
                .settings(settings())
                .open_or_create(directory)
                .map_err(failed)
        };
        let directory = tantivy::directory::MmapDirectory::open(&dir).map_err(failed)?;
        let opened = Index::builder()
            .schema(schema.clone())
            .settings(settings())
            .open_or_create(directory);
        let index = match opened {
            // An index written by an older version (other fields, or documents not in tie
            // order): it holds derived data only, so start it empty (the streams and
            // `search rebuild` fill it again).
            Err(TantivyError::SchemaError(reason)) => {
                tracing::warn!(%reason, dir = %dir.display(), "search index has an older schema; starting it empty");
                std::fs::remove_dir_all(&dir).map_err(failed)?;
                std::fs::create_dir_all(&dir).map_err(failed)?;
                create()?
            }
            Ok(index) if index.settings().sort_by_field != settings().sort_by_field => {
                tracing::warn!(dir = %dir.display(), "search index is not sorted by tie-break; starting it empty");
                drop(index);
                std::fs::remove_dir_all(&dir).map_err(failed)?;
                std::fs::create_dir_all(&dir).map_err(failed)?;
                create()?
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
            meta_modified: modified(&dir.join("meta.json")),
            dir,
            index,
            reader,
            fields,
            views: Mutex::default(),
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The tantivy backend of [`SearchIndex`].
pub struct EmbeddedIndex {
    root: PathBuf,
    live: Mutex<Option<Opened>>,
    /// Segments of at least this many documents get their leaves precomputed when written
    /// (see `matching::presets`).
    precompute_from: u32,
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
            precompute_from: matching::PRECOMPUTE_FROM,
        };
        std::fs::create_dir_all(&index.root).map_err(failed)?;
        if index.alias().is_none() {
            let name = index.new_generation_name();
            Opened::open(&index.root, &name)?;
            index.point_alias(&name)?;
        }
        Ok(index)
    }

    /// Precompute the leaves of segments from `docs` documents on, instead of the default
    /// 65,536 (smaller segments gain little): tests set 1 so that small catalogues take the
    /// precomputed path too.
    pub fn precomputing_from(mut self, docs: u32) -> Self {
        self.precompute_from = docs;
        self
    }

    /// Memory the search side holds beyond the memory-mapped files: the live generation's
    /// in-memory columns and cached leaf bitsets (what the benchmark reports).
    pub fn resident_bytes(&self) -> usize {
        lock(&self.live)
            .as_ref()
            .map_or(0, |opened| lock(&opened.views).bytes())
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
        let mut live = lock(&self.live);
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
        precompute_from: Option<u32>,
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
        if let Some(from) = precompute_from {
            Self::write_presets(opened, from)?;
        }
        Ok(changed)
    }

    /// Work out the leaves of new large segments once, for every reader (see
    /// `matching::presets`), after a commit or merge, still under the writer's lock. The
    /// files only save time, so a failure to write one (a full disk, say) is logged and the
    /// write it follows still succeeds: readers work those leaves out at first use.
    fn write_presets(opened: &Opened, from: u32) -> Result<(), StoreError> {
        opened.reader.reload().map_err(failed)?;
        let f = opened.fields;
        if let Err(error) = matching::write_presets(
            &opened.dir,
            &opened.reader.searcher(),
            f.scored(),
            &f.filters(),
            from,
        ) {
            tracing::warn!(%error, generation = %opened.name, "precomputed leaves not written");
        }
        Ok(())
    }

    /// Merge a filled generation into one segment before it goes live: it is read-only until
    /// the streams write to it, and one segment answers with the least per-segment work (as a
    /// force merge serves a read-only OpenSearch index). Later writes add small segments that
    /// the merge policy folds in.
    fn merge_all(opened: &Opened, precompute_from: u32) -> Result<(), StoreError> {
        let segments = opened.index.searchable_segment_ids().map_err(failed)?;
        let writer = if segments.len() > 1 {
            let mut writer = Self::writer(opened)?;
            writer.merge(&segments).wait().map_err(failed)?;
            Some(writer)
        } else {
            None
        };
        // Under the writer's lock when there is one; a lone segment's file is written by
        // whoever publishes it (a second writer of the same file renames the same bytes).
        Self::write_presets(opened, precompute_from)?;
        match writer {
            Some(writer) => writer.wait_merging_threads().map_err(failed),
            None => Ok(()),
        }
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
            let started = std::time::Instant::now();
            let words = analyzed(&mut analyzer, query);
            let searcher = opened.reader.searcher();
            let plan = Plan::new(f, &searcher, query, &words).map_err(failed)?;
            let views = lock(&opened.views)
                .for_searcher(&searcher, f.scored(), &opened.dir)
                .map_err(failed)?;
            let readers = searcher.segment_readers();
            let mut matched = Vec::with_capacity(readers.len());
            for (reader, view) in readers.iter().zip(&views) {
                matched.push(view.matched(reader, &plan).map_err(failed)?);
            }
            // Too many matches to count one by one: count a systematic sample of about
            // EXACT_COUNTS of them instead, in every segment alike.
            let all: u64 = matched.iter().map(|m| m.count()).sum();
            let sample = (all > EXACT_COUNTS).then(|| all.div_ceil(EXACT_COUNTS) as usize);
            let mut page = Fruit {
                top: Vec::new(),
                total: 0,
                categories: HashMap::new(),
                brands: HashMap::new(),
                bands: [0; PRICE_BANDS.len()],
                estimated: false,
            };
            for (ordinal, ((reader, view), matched)) in
                readers.iter().zip(&views).zip(&matched).enumerate()
            {
                let fruit = view
                    .run(ordinal as SegmentOrdinal, reader, &plan, matched, sample)
                    .map_err(failed)?;
                page.top.extend(fruit.top);
                page.total += fruit.total;
                page.estimated |= fruit.estimated;
                for (k, v) in fruit.categories {
                    *page.categories.entry(k).or_default() += v;
                }
                for (k, v) in fruit.brands {
                    *page.brands.entry(k).or_default() += v;
                }
                for (band, n) in fruit.bands.iter().enumerate() {
                    page.bands[band] += n;
                }
            }
            page.top.sort_by(Entry::rank);
            page.top.truncate(query.limit as usize + 1);
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
            // How much work the query was: what the benchmark's tail is made of.
            tracing::debug!(
                segments = readers.len(),
                matches = all,
                sampled = sample.is_some(),
                total = page.total,
                took_us = started.elapsed().as_micros() as u64,
                "embedded search"
            );
            let mut hits = SearchHits::page(query, hits, page.total, facets);
            hits.estimated = page.estimated;
            Ok(hits)
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
    d.add_text(f.name_key, doc.name_key());
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

/// The query's words through the index's analyzer (the same one the documents went through).
fn analyzed(analyzer: &mut TextAnalyzer, q: &SearchQuery) -> Vec<String> {
    let mut words = Vec::new();
    for word in &q.words {
        let mut stream = analyzer.token_stream(word);
        while stream.advance() {
            words.push(stream.token().text.clone());
        }
    }
    words
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

#[async_trait]
impl SearchIndex for EmbeddedIndex {
    async fn search(&self, query: &SearchQuery) -> Result<SearchHits, StoreError> {
        // Milliseconds of CPU: not worth a blocking-pool hop.
        self.search_now(query)
    }

    async fn suggest(
        &self,
        typed: &crate::domain::suggest::Typed,
    ) -> Result<Vec<crate::domain::suggest::Suggestion>, StoreError> {
        self.with_live(|opened| suggest::suggest(&opened.reader.searcher(), &opened.fields, typed))
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
        // A generation being filled is merged and precomputed when it is published: the
        // segments its batches make on the way are merged away.
        let precompute = match target {
            IndexTarget::Live => Some(self.precompute_from),
            IndexTarget::Generation(_) => None,
        };
        Self::write(&opened, docs, &[], precompute)
    }

    async fn remove(&self, ids: &[ItemId]) -> Result<(), StoreError> {
        let name = self.generation_or_live(IndexTarget::Live)?;
        let opened = Opened::open(&self.root, &name)?;
        Self::write(&opened, &[], ids, Some(self.precompute_from)).map(|_| ())
    }

    async fn create_generation(&self) -> Result<String, StoreError> {
        let name = self.new_generation_name();
        Opened::open(&self.root, &name)?;
        Ok(name)
    }

    async fn publish_generation(&self, name: &str) -> Result<(), StoreError> {
        let name = self.generation_or_live(IndexTarget::Generation(name))?;
        Self::merge_all(&Opened::open(&self.root, &name)?, self.precompute_from)?;
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
