//! How the embedded index answers a query in time that barely grows with the catalogue.
//!
//! - **Matching is bitset arithmetic.** A query is a conjunction of a few *leaves* (a word's
//!   fuzzy expansion, a category, a brand, a warehouse, …). Each dictionary term's documents
//!   in a segment are kept as a bitset (one bit per document) in a bounded per-segment cache,
//!   as Lucene's query cache keeps the bitsets of frequent filters; a fuzzy word is the union
//!   of the bitsets of the terms its automaton accepts. A query then costs a handful of
//!   word-wide `AND`s (1,000,000 documents are 15,625 machine words).
//! - **Documents are stored in tie-break order** (the index is sorted by the item id's high
//!   64 bits), so among equal sort values the earlier document wins and no tie-break needs
//!   reading while ranking; a cursor becomes a document position found by binary search.
//! - **Ranking touches few documents when many match.** Price and date orders walk a
//!   per-segment permutation sorted by that value from the cursor (under a category filter,
//!   that category's part of it; under a price range, from the range's first entry) and stop
//!   after a page; "relevance" without words is document order. Relevance with words reads
//!   each match's field-length norms (one byte for all three fields: an index into the few
//!   distinct norm triples, see [`NormClasses`]) and its exact-word bits: BM25 per field as
//!   tantivy computes it (`Bm25Weight`: idf over the index, length norm; name ×3, brand ×2,
//!   all text ×1), with each word's term frequency taken as 1 (names and brands rarely
//!   repeat a word, and presence reads from the cached bitsets without walking postings).
//!   Blocks of 64 documents that cannot beat the page are skipped, and the walk stops once
//!   the page is full at the most any match can score.
//! - **What a broad word needs is worked out when its segment is written**, not at its
//!   first query: its bitset and its block norms and classes, in a file beside the segment
//!   that readers memory-map (see [`presets`]), as Lucene writes per-block impacts with its
//!   postings. Narrower words are read from their postings at first use, as before.
//! - **Counts are exact up to [`EXACT_COUNTS`] matches**; beyond, facet counts (and a
//!   price-filtered total) are estimated from a systematic sample of about that many matches
//!   and the answer says so, as OpenSearch reports a lower bound past its `track_total_hits`
//!   limit. An unfiltered total is always exact (a population count).

use std::collections::{BinaryHeap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use fixedbitset::FixedBitSet;
use tantivy::columnar::Column;
use tantivy::directory::OwnedBytes;
use tantivy::index::SegmentId;
use tantivy::postings::BlockSegmentPostings;
use tantivy::query::{Bm25Weight, DfaWrapper, FuzzyTermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocId, Opstamp, SegmentOrdinal, SegmentReader, Term};

use super::{lock, rank_value, tiebreak, Entry, Fields};
use crate::domain::search::{fuzziness, price_band, PRICE_BANDS};
use crate::domain::{SearchQuery, SortOrder};

mod presets;

use presets::Presets;
pub(super) use presets::{write_missing as write_presets, MIN_DOCS as PRECOMPUTE_FROM};

/// Leaf bitsets a segment keeps, in bytes: 64 MB, so about 450 terms of a 1,000,000-document
/// segment (each 125 kB plus its block norms) or many more of a small one; terms no document
/// holds cost nothing.
const LEAF_BUDGET_BYTES: usize = 64 << 20;
/// Field boosts for exact words, as the OpenSearch query states them.
const BOOSTS: [f32; 3] = [3.0, 2.0, 1.0];
/// The relevance value of every hit when a query has no words (all rank the same, so the
/// tie-break orders them).
const UNSCORED: f64 = 1.0;
/// A sort permutation is walked instead of the matches when at least one document in this
/// many matches (the walk then meets a page's worth within a few hundred steps).
const WALK_DENSITY: u64 = 16;

/// One condition whose matches are cached as a bitset: documents holding a term.
pub(super) type Leaf = Term;

/// One query word: it must match fuzzily in the whole text (the union of the dictionary
/// terms its Levenshtein automaton accepts, each a cached leaf, so a typo costs no postings
/// read once its corrections were seen); exact hits in name, brand and the whole text add
/// their BM25 share (a table by field-length norm id).
struct Word {
    fuzzy: Arc<DfaWrapper>,
    /// Per scored field: the exact term, the field's slot among the scored fields (name,
    /// brand, all text) and its score by norm id.
    exact: Vec<(Leaf, usize, Box<[f32; 256]>)>,
}

/// Levenshtein automata built for words seen before: building one for two edits costs more
/// than the rest of a query, and shoppers repeat words. Bounded; cleared when full.
fn automaton(field: Field, word: &str) -> tantivy::Result<Arc<DfaWrapper>> {
    const KEEP: usize = 4_096;
    static BUILT: OnceLock<Mutex<HashMap<String, Arc<DfaWrapper>>>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    if let Some(found) = lock(built).get(word) {
        return Ok(found.clone());
    }
    let automaton = Arc::new(
        FuzzyTermQuery::new(Term::from_field_text(field, word), fuzziness(word), true)
            .automaton()?,
    );
    let mut built = lock(built);
    if built.len() >= KEEP {
        built.clear();
    }
    built.insert(word.to_owned(), automaton.clone());
    Ok(automaton)
}

/// A search, resolved against one searcher: leaves to intersect and how to rank.
pub(super) struct Plan {
    words: Vec<Word>,
    /// The field words are matched in.
    text: Field,
    /// Its slot among the scored fields, when relevance scores words: the norm classes of
    /// the words' documents there then bound the classes of the matches (see
    /// [`Matched::classes`]).
    text_slot: Option<usize>,
    must: Vec<Leaf>,
    /// The category filter, if any: price and date orders then walk that category's own
    /// permutation.
    category: Option<String>,
    /// `Some(empty)` matches nothing: held at one of no warehouses.
    any_of: Option<Vec<Leaf>>,
    none_of: Vec<Leaf>,
    price: Option<(u64, u64)>,
    sort: SortOrder,
    after: Option<(f64, u128)>,
    want: usize,
}

impl Plan {
    /// Resolve `query` (its words already analyzed) with the searcher's statistics.
    pub(super) fn new(
        f: Fields,
        searcher: &tantivy::Searcher,
        query: &SearchQuery,
        words: &[String],
    ) -> tantivy::Result<Self> {
        let mut planned = Vec::with_capacity(words.len());
        for word in words {
            let mut exact = Vec::with_capacity(3);
            if query.sort == SortOrder::Relevance {
                for (slot, (field, boost)) in f.scored().into_iter().zip(BOOSTS).enumerate() {
                    let term = Term::from_field_text(field, word);
                    let weight = Bm25Weight::for_terms(searcher, std::slice::from_ref(&term))?
                        .boost_by(boost);
                    let mut table = Box::new([0f32; 256]);
                    for (id, score) in table.iter_mut().enumerate() {
                        *score = weight.score(id as u8, 1);
                    }
                    exact.push((term, slot, table));
                }
            }
            let automaton = automaton(f.all, word)?;
            planned.push(Word {
                fuzzy: automaton,
                exact,
            });
        }
        let text = |field: Field, value: &str| Term::from_field_text(field, value);
        let mut must = Vec::new();
        if let Some(category) = &query.category {
            must.push(text(f.category, category.as_str()));
        }
        if let Some(brand) = &query.brand {
            must.push(text(f.brand_key, brand));
        }
        for (name, value) in &query.attributes {
            must.push(text(f.attrs, &format!("{name}={value}")));
        }
        if query.in_stock_only {
            must.push(Term::from_field_u64(f.in_stock, 1));
        }
        let price = (query.min_price.is_some() || query.max_price.is_some()).then(|| {
            (
                query.min_price.unwrap_or(0),
                query.max_price.unwrap_or(u64::MAX),
            )
        });
        let ranks_words = query.sort == SortOrder::Relevance && !planned.is_empty();
        Ok(Self {
            words: planned,
            text: f.all,
            text_slot: f
                .scored()
                .iter()
                .position(|&field| field == f.all)
                .filter(|_| ranks_words),
            must,
            category: query.category.as_ref().map(|c| c.as_str().to_owned()),
            any_of: query
                .sites_any
                .as_ref()
                .map(|any| any.iter().map(|w| text(f.sites, w.as_str())).collect()),
            none_of: query
                .sites_none
                .iter()
                .map(|w| text(f.sites, w.as_str()))
                .collect(),
            price,
            sort: query.sort,
            after: query
                .after
                .map(|c| (rank_value(query.sort, c.value), tiebreak(c.item_id))),
            want: query.limit as usize + 1,
        })
    }

    fn price_ok(&self, price: u64) -> bool {
        self.price
            .is_none_or(|(min, max)| (min..=max).contains(&price))
    }
}

/// A word's documents: one cached leaf, or the union of several.
enum Expanded {
    One(Arc<LeafBits>),
    Union(FixedBitSet),
}

/// A segment's matches before counting: the bitset and how many it holds.
pub(super) struct Matched {
    bits: FixedBitSet,
    count: u64,
    /// The norm classes the matches can fall in, when relevance scores words (`None`: any):
    /// a match holds each word, so its class is among every word's documents' classes.
    /// Where a broad word's own classes include short texts that none of the matches have,
    /// this keeps the ranking's ceiling down to what the matches can score.
    classes: Option<[u64; 4]>,
}

impl Matched {
    /// Matches of the words and filters, before the price range.
    pub(super) fn count(&self) -> u64 {
        self.count
    }
}

/// What one segment contributes: its best entries, and its counts (exact, or scaled from a
/// sample).
pub(super) struct Fruit {
    pub top: Vec<Entry>,
    pub total: u64,
    pub categories: HashMap<String, u64>,
    pub brands: HashMap<String, u64>,
    pub bands: [u64; PRICE_BANDS.len()],
    pub estimated: bool,
}

/// A segment's dense columns, sort permutations and leaf cache, built on first use.
/// Segments never change (deletes aside, tracked by opstamp), so the view lives as long as
/// the segment does.
pub(super) struct SegmentView {
    max_doc: u32,
    price: Vec<u64>,
    created: Vec<i64>,
    /// Each document's price band, category and brand, packed in one word (see [`Packing`]):
    /// what counting a match reads.
    facet: Vec<u32>,
    /// Each document's scored-field length norms: what scoring a match reads.
    norms: NormClasses,
    packing: Packing,
    category_names: Vec<String>,
    brand_names: Vec<String>,
    tie_high: Column<u64>,
    tie_low: Column<u64>,
    /// Whether documents are in tie-break order (every segment the sorted index writes).
    sorted: bool,
    /// Price ascending, price descending, newest: see [`Self::order`].
    orders: [Order; 3],
    alive: Mutex<(Option<Opstamp>, Arc<FixedBitSet>)>,
    leaves: Mutex<LeafCache>,
    /// Leaves the writer worked out for this segment, if it did (see [`presets`]).
    presets: Option<Presets>,
}

/// A leaf's documents, and (for a scored word) the shortest length norm among them per
/// 64-document block: the most a block can score for it.
struct LeafBits {
    bits: Words,
    scoring: OnceLock<LeafScoring>,
}

/// A leaf's documents, one bit each in machine words (no words: no document holds it).
enum Words {
    /// Read from the postings into memory.
    Owned(FixedBitSet),
    /// Mapped from the segment's precomputed leaves (see [`presets`]): no copy, and the
    /// pages come from the file cache a few at a time, where a fresh allocation of the
    /// same size faults on each of its pages.
    Mapped(OwnedBytes),
}

impl Words {
    #[inline]
    fn as_slice(&self) -> &[usize] {
        match self {
            Self::Owned(bits) => bits.as_slice(),
            // Alignment and length were checked when the entry was mapped.
            Self::Mapped(bytes) => bytemuck::cast_slice(bytes.as_slice()),
        }
    }

    fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// Bytes of memory the words hold (mapped words are the file cache's).
    fn owned_bytes(&self) -> usize {
        match self {
            Self::Owned(bits) => bits.as_slice().len() * 8,
            Self::Mapped(_) => 0,
        }
    }

    /// A bitset of `docs` bits holding these words.
    fn to_bitset(&self, docs: usize) -> FixedBitSet {
        let mut bits = FixedBitSet::with_capacity(docs);
        let words = self.as_slice();
        let into = bits.as_mut_slice();
        let n = words.len().min(into.len());
        into[..n].copy_from_slice(&words[..n]);
        bits
    }
}

/// `into &= words` (missing words are unset).
fn intersect(into: &mut FixedBitSet, words: &[usize]) {
    let into = into.as_mut_slice();
    let n = words.len().min(into.len());
    for (a, b) in into[..n].iter_mut().zip(&words[..n]) {
        *a &= b;
    }
    into[n..].fill(0);
}

/// `into |= words`.
fn union(into: &mut FixedBitSet, words: &[usize]) {
    for (a, b) in into.as_mut_slice().iter_mut().zip(words) {
        *a |= b;
    }
}

/// `into &= !words`.
fn difference(into: &mut FixedBitSet, words: &[usize]) {
    for (a, b) in into.as_mut_slice().iter_mut().zip(words) {
        *a &= !b;
    }
}

/// What relevance reads of a scored leaf beyond its bits, gathered in one pass on first use.
struct LeafScoring {
    /// The shortest norm among the leaf's documents per 64-document block: the most a block
    /// can score for it (owned, or mapped from the segment's precomputed leaves).
    block_norms: OwnedBytes,
    /// The shortest norm among all its documents.
    shortest: u8,
    /// The norm classes its documents fall in (see [`NormClasses::class`]), when the segment
    /// has few enough to number.
    classes: Option<[u64; 4]>,
}

impl LeafBits {
    fn scoring(&self, norms: &NormClasses, slot: usize) -> &LeafScoring {
        self.scoring.get_or_init(|| {
            let words = self.bits.as_slice();
            let mut block_norms = vec![u8::MAX; words.len()];
            let mut classes = norms.numbered().then_some([0u64; 4]);
            for (block, &word) in words.iter().enumerate() {
                for doc in bits_of(word).map(|bit| block * 64 + bit) {
                    let shortest = &mut block_norms[block];
                    *shortest = (*shortest).min(norms.of(doc)[slot]);
                    if let (Some(classes), Some(class)) = (&mut classes, norms.class(doc)) {
                        classes[class / 64] |= 1 << (class % 64);
                    }
                }
            }
            LeafScoring {
                shortest: block_norms.iter().copied().min().unwrap_or(u8::MAX),
                block_norms: OwnedBytes::new(block_norms),
                classes,
            }
        })
    }
}

#[derive(Default)]
struct LeafCache {
    /// Each leaf with whether it was used since the last sweep.
    bitsets: HashMap<Leaf, (Arc<LeafBits>, bool)>,
    bytes: usize,
}

const NONE: u32 = u32::MAX;

/// The length norms of the scored fields (name, brand, all text, in [`BOOSTS`] order) of
/// every document, as an index into the few distinct triples a catalogue has (18 among a
/// million generated items: names and texts of similar lengths share norm ids). One byte
/// per document instead of three columns read per match, and the classes are what the
/// relevance ceiling is computed over (see [`SegmentView::class_ceiling`]).
enum NormClasses {
    Narrow {
        triples: Vec<[u8; 3]>,
        of_doc: Vec<u8>,
    },
    Wide {
        triples: Vec<[u8; 3]>,
        of_doc: Vec<u16>,
    },
    /// More distinct triples than two bytes index: the triples themselves.
    Plain(Vec<[u8; 3]>),
}

impl NormClasses {
    fn new(norms: impl Iterator<Item = [u8; 3]>) -> Self {
        let mut ids: HashMap<[u8; 3], usize> = HashMap::new();
        let mut triples = Vec::new();
        let mut of_doc = Vec::new();
        for triple in norms {
            let id = *ids.entry(triple).or_insert_with(|| {
                triples.push(triple);
                triples.len() - 1
            });
            of_doc.push(id);
        }
        if triples.len() <= 1 << 8 {
            Self::Narrow {
                triples,
                of_doc: of_doc.into_iter().map(|id| id as u8).collect(),
            }
        } else if triples.len() <= 1 << 16 {
            Self::Wide {
                triples,
                of_doc: of_doc.into_iter().map(|id| id as u16).collect(),
            }
        } else {
            Self::Plain(of_doc.into_iter().map(|id| triples[id]).collect())
        }
    }

    /// Whether classes are numbered in a byte (then [`Self::class`] answers).
    fn numbered(&self) -> bool {
        matches!(self, Self::Narrow { .. })
    }

    /// `doc`'s class, when classes are numbered in a byte.
    #[inline]
    fn class(&self, doc: usize) -> Option<usize> {
        match self {
            Self::Narrow { of_doc, .. } => Some(of_doc[doc] as usize),
            _ => None,
        }
    }

    /// The numbered classes' norm triples (none when classes are not numbered).
    fn triples(&self) -> &[[u8; 3]] {
        match self {
            Self::Narrow { triples, .. } => triples,
            _ => &[],
        }
    }

    /// The norm triple of a numbered class.
    fn triple(&self, class: usize) -> Option<[u8; 3]> {
        match self {
            Self::Narrow { triples, .. } => triples.get(class).copied(),
            _ => None,
        }
    }

    /// The norm ids of `doc`'s scored fields.
    #[inline]
    fn of(&self, doc: usize) -> [u8; 3] {
        match self {
            Self::Narrow { triples, of_doc } => triples[of_doc[doc] as usize],
            Self::Wide { triples, of_doc } => triples[of_doc[doc] as usize],
            Self::Plain(norms) => norms[doc],
        }
    }

    /// Bytes held (for the benchmark).
    fn bytes(&self) -> usize {
        match self {
            Self::Narrow { of_doc, .. } => of_doc.len(),
            Self::Wide { of_doc, .. } => of_doc.len() * 2,
            Self::Plain(norms) => norms.len() * 3,
        }
    }
}

impl SegmentView {
    /// Read a segment's columns into memory (tens of milliseconds per million documents, once);
    /// `scored` are the fields whose length norms relevance reads (name, brand, all text);
    /// `dir`, the index's directory with the segment's precomputed leaves, if they are to be
    /// used.
    pub(super) fn load(
        reader: &SegmentReader,
        scored: [Field; 3],
        dir: Option<&Path>,
    ) -> tantivy::Result<Self> {
        let fast = reader.fast_fields();
        let max_doc = reader.max_doc();
        let docs = 0..max_doc;
        let price_column = fast.u64("price")?;
        let price: Vec<u64> = docs
            .clone()
            .map(|d| price_column.first(d).unwrap_or(0))
            .collect();
        let created_column = fast.i64("created")?;
        let created = docs
            .clone()
            .map(|d| created_column.first(d).unwrap_or(0))
            .collect();
        let strings = |name: &str| -> tantivy::Result<(Vec<u32>, Vec<String>)> {
            let Some(column) = fast.str(name)? else {
                return Ok((vec![NONE; max_doc as usize], Vec::new()));
            };
            let ords = docs
                .clone()
                .map(|d| column.ords().first(d).map_or(NONE, |o| o as u32))
                .collect();
            let mut names = Vec::with_capacity(column.num_terms());
            for ord in 0..column.num_terms() as u64 {
                let mut name = String::new();
                column.ord_to_str(ord, &mut name)?;
                names.push(name);
            }
            Ok((ords, names))
        };
        let (category, category_names) = strings("category")?;
        let (brand, brand_names) = strings("brand_key")?;
        let packing = Packing::new(category_names.len(), brand_names.len());
        if packing.brand_bits == 0 && !brand_names.is_empty() {
            tracing::warn!(
                brands = brand_names.len(),
                "too many brands to pack: brand facet not counted"
            );
        }
        let [name_norms, brand_norms, all_norms] = [
            reader.get_fieldnorms_reader(scored[0])?,
            reader.get_fieldnorms_reader(scored[1])?,
            reader.get_fieldnorms_reader(scored[2])?,
        ];
        let facet = (0..max_doc as usize)
            .map(|d| packing.pack(price_band(price[d]), category[d], brand[d]))
            .collect();
        let norms = NormClasses::new((0..max_doc).map(|d| {
            [
                name_norms.fieldnorm_id(d),
                brand_norms.fieldnorm_id(d),
                all_norms.fieldnorm_id(d),
            ]
        }));
        let tie_high = fast.u64("tie_high")?;
        let tie_low = fast.u64("tie_low")?;
        let tie = |d: DocId| {
            (u128::from(tie_high.first(d).unwrap_or(0)) << 64)
                | u128::from(tie_low.first(d).unwrap_or(0))
        };
        let sorted = (1..max_doc).all(|d| tie(d - 1) < tie(d));
        if !sorted {
            tracing::warn!(
                segment = %reader.segment_id().uuid_string(),
                "search segment is not in tie-break order (an older index): ranking reads every tie"
            );
        }
        let presets = dir
            .and_then(|dir| Presets::open(dir, reader, norms.numbered().then(|| norms.triples())));
        Ok(Self {
            max_doc,
            price,
            created,
            facet,
            norms,
            packing,
            category_names,
            brand_names,
            tie_high,
            tie_low,
            sorted,
            orders: Default::default(),
            alive: Mutex::new((None, Arc::new(FixedBitSet::new()))),
            leaves: Mutex::default(),
            presets,
        })
    }

    /// Bytes held: columns, permutations built so far and cached leaves (for the benchmark).
    pub(super) fn bytes(&self) -> usize {
        let columns = self.max_doc as usize * (8 + 8 + 4) + self.norms.bytes();
        let perms: usize = self.orders.iter().map(Order::bytes).sum();
        columns + perms + lock(&self.leaves).bytes
    }

    fn tie(&self, doc: DocId) -> u128 {
        (u128::from(self.tie_high.first(doc).unwrap_or(0)) << 64)
            | u128::from(self.tie_low.first(doc).unwrap_or(0))
    }

    fn alive(&self, reader: &SegmentReader) -> Arc<FixedBitSet> {
        let mut alive = lock(&self.alive);
        let stamp = reader.delete_opstamp();
        if alive.1.len() != self.max_doc as usize || alive.0 != stamp {
            let mut bits = FixedBitSet::with_capacity(self.max_doc as usize);
            match reader.alive_bitset() {
                Some(set) => (0..self.max_doc)
                    .filter(|d| set.is_alive(*d))
                    .for_each(|d| bits.insert(d as usize)),
                None => bits.insert_range(..),
            }
            *alive = (stamp, Arc::new(bits));
        }
        alive.1.clone()
    }

    /// The leaf's bitset: from the cache, or read from the postings once.
    fn leaf(&self, leaf: &Leaf, reader: &SegmentReader) -> tantivy::Result<Arc<LeafBits>> {
        self.leaf_or_read(leaf, || {
            reader
                .inverted_index(leaf.field())?
                .read_block_postings(leaf, IndexRecordOption::Basic)
                .map_err(Into::into)
        })
    }

    /// The leaf's bitset from the cache, from the segment's precomputed leaves, or from the
    /// postings `read` opens (`None`: no document holds the term).
    fn leaf_or_read(
        &self,
        leaf: &Leaf,
        read: impl FnOnce() -> tantivy::Result<Option<BlockSegmentPostings>>,
    ) -> tantivy::Result<Arc<LeafBits>> {
        if let Some((bits, used)) = lock(&self.leaves).bitsets.get_mut(leaf) {
            *used = true;
            return Ok(bits.clone());
        }
        let preset = self.presets.as_ref().and_then(|p| p.get(leaf));
        let (bits, scoring) = match preset {
            Some(preset) => (preset.bits, preset.scoring),
            None => (None, None),
        };
        let bits = match bits {
            Some(bits) => Words::Mapped(bits),
            None => Words::Owned(read_bits(read()?, self.max_doc)),
        };
        let size = leaf_bytes(&bits);
        let bits = Arc::new(LeafBits {
            bits,
            scoring: scoring.map(OnceLock::from).unwrap_or_default(),
        });
        let mut cache = lock(&self.leaves);
        if cache.bytes + size > LEAF_BUDGET_BYTES {
            // Second chance: keep what was used since the last sweep, drop the rest (and all
            // of it if everything was); refilling costs one postings read each.
            cache.bitsets.retain(|_, (_, used)| std::mem::take(used));
            if cache
                .bitsets
                .values()
                .map(|(b, _)| leaf_bytes(&b.bits))
                .sum::<usize>()
                + size
                > LEAF_BUDGET_BYTES
            {
                cache.bitsets.clear();
            }
            cache.bytes = cache
                .bitsets
                .values()
                .map(|(b, _)| leaf_bytes(&b.bits))
                .sum();
        }
        cache.bytes += size;
        cache.bitsets.insert(leaf.clone(), (bits.clone(), false));
        Ok(bits)
    }

    /// The documents holding any term of `field` the automaton accepts: the cached leaf
    /// itself when it accepts one term (most words), else their union.
    ///
    /// With `slot` (the field's place among the scored ones), also the norm classes of
    /// those documents (`None` when classes are not numbered).
    fn expanded(
        &self,
        automaton: &DfaWrapper,
        field: Field,
        reader: &SegmentReader,
        slot: Option<usize>,
    ) -> tantivy::Result<(Expanded, Option<[u64; 4]>)> {
        let index = reader.inverted_index(field)?;
        let mut terms = index.terms().search(automaton).into_stream()?;
        let mut found = Expanded::Union(FixedBitSet::new());
        let mut classes = slot.map(|_| [0u64; 4]);
        while terms.advance() {
            let Ok(text) = std::str::from_utf8(terms.key()) else {
                continue;
            };
            // The stream holds the term's postings address: no second dictionary lookup.
            let info = terms.value();
            let leaf = self.leaf_or_read(&Term::from_field_text(field, text), || {
                Ok(Some(index.read_block_postings_from_terminfo(
                    info,
                    IndexRecordOption::Basic,
                )?))
            })?;
            if let Some(slot) = slot {
                classes = match (classes, leaf.scoring(&self.norms, slot).classes) {
                    (Some(all), Some(these)) => Some(std::array::from_fn(|i| all[i] | these[i])),
                    _ => None,
                };
            }
            found = match found {
                Expanded::Union(all) if all.is_empty() => Expanded::One(leaf),
                Expanded::One(first) => {
                    let mut all = first.bits.to_bitset(self.max_doc as usize);
                    union(&mut all, leaf.bits.as_slice());
                    Expanded::Union(all)
                }
                Expanded::Union(mut all) => {
                    union(&mut all, leaf.bits.as_slice());
                    Expanded::Union(all)
                }
            };
        }
        Ok((found, classes))
    }

    /// The documents matching the plan's words and filters (all but the price range).
    pub(super) fn matched(&self, reader: &SegmentReader, plan: &Plan) -> tantivy::Result<Matched> {
        // The first set is copied and the others intersected into it (each copy of a
        // 1,000,000-document set is 125 kB to allocate and write).
        let docs = self.max_doc as usize;
        let mut bits: Option<FixedBitSet> = None;
        let mut and = |set: &Words| match &mut bits {
            Some(bits) => intersect(bits, set.as_slice()),
            None => bits = Some(set.to_bitset(docs)),
        };
        let mut classes = plan.text_slot.map(|_| [u64::MAX; 4]);
        for word in &plan.words {
            let (found, held) = self.expanded(&word.fuzzy, plan.text, reader, plan.text_slot)?;
            match found {
                Expanded::One(leaf) => and(&leaf.bits),
                Expanded::Union(all) => and(&Words::Owned(all)),
            }
            classes = match (classes, held) {
                (Some(all), Some(these)) => Some(std::array::from_fn(|i| all[i] & these[i])),
                _ => None,
            };
        }
        for leaf in &plan.must {
            and(&self.leaf(leaf, reader)?.bits);
        }
        if let Some(any) = &plan.any_of {
            let mut held = FixedBitSet::with_capacity(docs);
            for leaf in any {
                union(&mut held, self.leaf(leaf, reader)?.bits.as_slice());
            }
            and(&Words::Owned(held));
        }
        let mut bits = bits.unwrap_or_else(|| {
            let mut all = FixedBitSet::with_capacity(docs);
            all.insert_range(..);
            all
        });
        if reader.has_deletes() {
            bits.intersect_with(&self.alive(reader));
        }
        for leaf in &plan.none_of {
            difference(&mut bits, self.leaf(leaf, reader)?.bits.as_slice());
        }
        let count = bits.count_ones(..) as u64;
        Ok(Matched {
            bits,
            count,
            classes,
        })
    }

    /// Count and rank one segment's matches. `sample` is `Some(stride)` when the query's
    /// matches are too many to count one by one: then only every `stride`-th 64-document
    /// block is counted and the counts are scaled.
    pub(super) fn run(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
        plan: &Plan,
        matched: &Matched,
        sample: Option<usize>,
    ) -> tantivy::Result<Fruit> {
        let m = &matched.bits;
        // Where the cursor falls among this segment's documents: those ranking at or before it
        // are skipped. With documents in tie order, "tie after the cursor's" is "at or after
        // this position".
        let cursor_position = match plan.after {
            Some((_, tie)) if self.sorted => partition_point(self.max_doc, |d| self.tie(d) <= tie),
            _ => 0,
        };
        let mut heap = Heap::new(plan.want, self.sorted, plan.after, cursor_position);
        // In a sorted segment equal values rank by document, so the heap orders by document
        // and an entry's real tie is read only once it is on the page (below); otherwise the
        // heap compares ties as it goes.
        let entry = |value: f64, raw: f64, doc: usize| Entry {
            value,
            tie: if self.sorted {
                doc as u128
            } else {
                self.tie(doc as DocId)
            },
            score: raw as f32,
            address: DocAddress::new(segment, doc as DocId),
        };

        let mut counts = Counts::new(self);
        let ranks_words = plan.sort == SortOrder::Relevance && !plan.words.is_empty();
        // Relevance with words scores the matches (see `rank_words`); the other orders walk a
        // permutation when matches are many or only sampled (in document order only when that
        // is tie order), and rank during the count otherwise.
        let dense = matched.count * WALK_DENSITY >= u64::from(self.max_doc);
        let walk = !ranks_words
            && (sample.is_some() || dense)
            && (self.sorted || plan.sort != SortOrder::Relevance);
        // The price column is read only under a price range (memory, not arithmetic, is what a
        // pass over many matches costs).
        let in_range = |doc: usize| plan.price.is_none() || plan.price_ok(self.price[doc]);
        // Counting: every match, or the sample's.
        match sample {
            // A sample is a run of consecutive blocks: its facet reads are sequential.
            Some(_) => {
                for block in sampled_blocks(m, sample) {
                    for doc in ones_in(m, block) {
                        if in_range(doc) {
                            counts.add(self.facet[doc]);
                        }
                    }
                }
            }
            // Every match (at most `EXACT_COUNTS`), spread over the segment: each read of the
            // facet column is a cache miss at a million documents. Their positions first,
            // then the reads in a loop of their own, whose loads are independent (the
            // processor keeps many misses in flight; interleaved with the counting's stores,
            // fewer), then the counting. Exactly counted phrases at 1,000,000 items: mean
            // count 0.075-0.085 ms in one pass, 0.060-0.063 ms so.
            None => {
                let docs: Vec<u32> = (0..m.as_slice().len())
                    .flat_map(|block| ones_in(m, block))
                    .map(|doc| doc as u32)
                    .collect();
                let facets: Vec<u32> = match plan.price {
                    None => docs.iter().map(|&d| self.facet[d as usize]).collect(),
                    Some(_) => docs
                        .iter()
                        .filter(|&&d| in_range(d as usize))
                        .map(|&d| self.facet[d as usize])
                        .collect(),
                };
                for facet in facets {
                    counts.add(facet);
                }
            }
        }
        if ranks_words {
            self.rank_words(plan, matched, &mut heap, &entry, reader)?;
        } else if walk {
            self.walk(plan, m, &mut heap, &entry);
        } else {
            for doc in m.ones().filter(|&d| in_range(d)) {
                let raw = match plan.sort {
                    SortOrder::Relevance => UNSCORED,
                    SortOrder::PriceAsc | SortOrder::PriceDesc => self.price[doc] as f64,
                    SortOrder::Newest => self.created[doc] as f64,
                };
                let value = rank_value(plan.sort, raw);
                if heap.admits(value, doc as DocId, || self.tie(doc as DocId)) {
                    heap.push(entry(value, raw, doc));
                }
            }
        }
        let mut top = heap.into_vec();
        if self.sorted {
            for found in &mut top {
                found.tie = self.tie(found.address.doc_id);
            }
        }
        Ok(counts.fruit(self, top, matched, sample))
    }

    /// The most any document can score, class by class: a class's documents share their
    /// norms, so a class scores at most each word-in-field found in it at that class's norm
    /// (summed in scoring order: a document holding all of them scores exactly this).
    /// Unbounded when classes are not numbered.
    /// Only `allowed` classes count, when given (see [`Matched::classes`]).
    fn class_ceiling(
        &self,
        scored: &[Scored<'_>],
        scorings: &[&LeafScoring],
        allowed: Option<[u64; 4]>,
    ) -> f64 {
        let mut masks = Vec::with_capacity(scorings.len());
        for scoring in scorings {
            match scoring.classes {
                Some(mask) => masks.push(mask),
                None => return f64::INFINITY,
            }
        }
        let any = masks.iter().fold([0u64; 4], |all, mask| {
            std::array::from_fn(|i| all[i] | mask[i])
        });
        let allowed = allowed.unwrap_or([u64::MAX; 4]);
        let any: [u64; 4] = std::array::from_fn(|i| any[i] & allowed[i]);
        let mut ceiling = 0f32;
        for class in (0..256).filter(|c| any[c / 64] >> (c % 64) & 1 != 0) {
            let Some(norms) = self.norms.triple(class) else {
                continue;
            };
            let mut score = 0f32;
            for (s, mask) in scored.iter().zip(&masks) {
                if mask[class / 64] >> (class % 64) & 1 != 0 {
                    score += s.table[norms[s.slot] as usize];
                }
            }
            ceiling = ceiling.max(score);
        }
        f64::from(ceiling)
    }

    /// Rank by relevance with words, block by block (64 documents). Scores are BM25 per
    /// field as the module docs say.
    ///
    /// Block-max pruning: the most a block's matches can score is what its words' shortest
    /// norms there give; a block that cannot beat the page's worst entry is not scored (ties
    /// lose to earlier documents in a sorted segment). Many equal top scores fill the page
    /// early, so a broad word scores few blocks.
    fn rank_words(
        &self,
        plan: &Plan,
        matched: &Matched,
        heap: &mut Heap,
        entry: &dyn Fn(f64, f64, usize) -> Entry,
        reader: &SegmentReader,
    ) -> tantivy::Result<()> {
        let mut leaves = Vec::new();
        for word in &plan.words {
            for (leaf, slot, table) in &word.exact {
                let leaf = self.leaf(leaf, reader)?;
                // A word no document holds in this field (a typo, a brand word in names)
                // adds nothing to any score: it is not read per block.
                if !leaf.bits.is_empty() {
                    leaves.push((leaf, *slot, &**table));
                }
            }
        }
        let scorings: Vec<&LeafScoring> = leaves
            .iter()
            .map(|(leaf, slot, _)| leaf.scoring(&self.norms, *slot))
            .collect();
        let scored: Vec<Scored<'_>> = leaves
            .iter()
            .zip(&scorings)
            .map(|((leaf, slot, table), scoring)| Scored {
                bits: leaf.bits.as_slice(),
                block_norms: &scoring.block_norms,
                shortest: scoring.shortest,
                slot: *slot,
                table,
            })
            .collect();
        // The most any match can score: the bound below over the whole segment (each word's
        // shortest norm anywhere). Once the page is full at that (ties lose to earlier
        // documents), no later block can enter it and the walk stops: a broad word or a
        // common phrase in a large catalogue fills its page early.
        let held: Vec<usize> = scored
            .iter()
            .map(|s| if s.shortest == u8::MAX { 0 } else { usize::MAX })
            .collect();
        let ceiling = shared_norm_bound(&scored, &held, |i| scored[i].shortest)
            .min(self.class_ceiling(&scored, &scorings, matched.classes));
        // Whether no match scoring at most `bound` can enter a page whose worst entry has
        // `floor`: the bounds sum in another order than a score, so they are given room for
        // an f32 rounding of that many terms; within it, a later document loses the tie.
        let outranked = |bound: f64, floor: f64| {
            let slack = floor.abs() * scored.len() as f64 * f64::from(f32::EPSILON);
            bound + slack < floor || (self.sorted && bound <= floor + slack)
        };
        // Each scored leaf's documents among the block's matches.
        let mut present = vec![0usize; scored.len()];
        // The page's worst entry, read again only when an entry enters (the walk passes
        // every block of the segment, most of them without a match).
        let mut floor = heap.floor();
        for (block, &word) in matched.bits.as_slice().iter().enumerate() {
            let base = block * usize::BITS as usize;
            let mut word = word;
            if plan.price.is_some() {
                for bit in bits_of(word) {
                    if !plan.price_ok(self.price[base + bit]) {
                        word &= !(1 << bit);
                    }
                }
            }
            if word == 0 {
                continue;
            }
            let mut best = 0f32;
            for (scored, present) in scored.iter().zip(&mut present) {
                *present = scored.bits.get(block).map_or(0, |b| b & word);
                if *present != 0 {
                    best += scored.table[scored.block_norms[block] as usize];
                }
            }
            // `best` sums the same terms as a score, each at least as large, so it bounds
            // every score of the block exactly. The shared-norm bound is not tried per block:
            // on the benchmark's mix it cost more than scoring the few matches it would skip
            // (fully warm p99 at 1,000,000 items 0.64 ms with it, 0.54 ms without).
            let hopeless = floor.is_some_and(|floor| {
                let best = f64::from(best);
                best < floor || (best == floor && self.sorted)
            });
            if hopeless {
                continue;
            }
            let mut entered = false;
            for bit in bits_of(word) {
                let doc = base + bit;
                let norms = self.norms.of(doc);
                let mut score = 0f32;
                for (scored, present) in scored.iter().zip(&present) {
                    if present >> bit & 1 != 0 {
                        score += scored.table[norms[scored.slot] as usize];
                    }
                }
                let raw = f64::from(score);
                let value = rank_value(plan.sort, raw);
                if heap.admits(value, doc as DocId, || self.tie(doc as DocId)) {
                    heap.push(entry(value, raw, doc));
                    entered = true;
                }
            }
            if entered {
                floor = heap.floor();
                if floor.is_some_and(|floor| outranked(ceiling, floor)) {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Rank by walking the sort's permutation from the cursor, keeping matches, until a page
    /// is full: for price and date orders, and for relevance without words (document order).
    fn walk(
        &self,
        plan: &Plan,
        m: &FixedBitSet,
        heap: &mut Heap,
        entry: &dyn Fn(f64, f64, usize) -> Entry,
    ) {
        if plan.sort == SortOrder::Relevance {
            let value = rank_value(plan.sort, UNSCORED);
            for doc in heap.start_doc()..self.max_doc {
                if heap.is_full() {
                    break;
                }
                let d = doc as usize;
                if m.contains(d)
                    && (plan.price.is_none() || plan.price_ok(self.price[d]))
                    && heap.admits(value, doc, || self.tie(doc))
                {
                    heap.push(entry(value, UNSCORED, d));
                }
            }
            return;
        }
        let order = match &plan.category {
            Some(category) => self.category_permutation(plan.sort, category),
            None => self.permutation(plan.sort),
        };
        // Skip what ranks at or before the cursor: a binary search on (value, tie).
        let after_cursor = match plan.after {
            Some((value, tie)) => {
                order.partition_point(|&(d, v)| v > value || (v == value && self.tie(d) <= tie))
            }
            None => 0,
        };
        // And what is cheaper than the range in a price-ascending order, dearer in a
        // descending one: a binary search too.
        let by_price = matches!(plan.sort, SortOrder::PriceAsc | SortOrder::PriceDesc);
        let in_range = match (plan.sort, plan.price) {
            (SortOrder::PriceAsc, Some((min, _))) => {
                let first = rank_value(plan.sort, min as f64);
                order.partition_point(|&(_, v)| v > first)
            }
            (SortOrder::PriceDesc, Some((_, max))) => {
                let first = rank_value(plan.sort, max as f64);
                order.partition_point(|&(_, v)| v > first)
            }
            _ => 0,
        };
        let start = after_cursor.max(in_range);
        for &(doc, value) in &order[start..] {
            if heap.is_full() {
                break;
            }
            let raw = rank_value(plan.sort, value);
            if let Some((min, max)) = plan.price {
                if by_price {
                    // Past the range in a price order: nothing further can match.
                    let price = raw as u64;
                    match plan.sort {
                        SortOrder::PriceAsc if price > max => break,
                        SortOrder::PriceDesc if price < min => break,
                        _ => {}
                    }
                    if !(min..=max).contains(&price) {
                        continue;
                    }
                }
            }
            let d = doc as usize;
            if !m.contains(d) || (!by_price && !plan.price_ok(self.price[d])) {
                continue;
            }
            if heap.admits(value, doc, || self.tie(doc)) {
                heap.push(entry(value, raw, d));
            }
        }
    }

    /// [`Self::permutation`] restricted to one category (empty when the segment has none).
    fn category_permutation(&self, sort: SortOrder, category: &str) -> &[(u32, f64)] {
        let Ok(ordinal) = self
            .category_names
            .binary_search_by(|name| name.as_str().cmp(category))
        else {
            return &[];
        };
        let split = || {
            let mut split = vec![Vec::new(); self.category_names.len() + 1];
            for &(doc, value) in self.permutation(sort) {
                let (_, category, _) = self.packing.unpack(self.facet[doc as usize]);
                split[category].push((doc, value));
            }
            split
        };
        &self.order(sort).by_category.get_or_init(split)[ordinal + 1]
    }

    /// Documents with their rank values in `sort` order, ties in document (= tie-break)
    /// order; built on first use (a sort of the segment, once).
    fn permutation(&self, sort: SortOrder) -> &[(u32, f64)] {
        let build = |raw: &dyn Fn(usize) -> f64| {
            let mut docs: Vec<(u32, f64)> = (0..self.max_doc)
                .map(|d| (d, rank_value(sort, raw(d as usize))))
                .collect();
            // Best first: larger rank values, then ties ascending.
            if self.sorted {
                docs.sort_by(|a, b| b.1.total_cmp(&a.1)); // stable: equal values keep tie order
            } else {
                docs.sort_by(|a, b| b.1.total_cmp(&a.1).then(self.tie(a.0).cmp(&self.tie(b.0))));
            }
            docs
        };
        self.order(sort).all.get_or_init(|| match sort {
            SortOrder::Newest => build(&|d| self.created[d] as f64),
            _ => build(&|d| self.price[d] as f64),
        })
    }

    /// The cached permutations of a sort (relevance, which never walks one, shares price
    /// ascending's).
    fn order(&self, sort: SortOrder) -> &Order {
        match sort {
            SortOrder::PriceDesc => &self.orders[1],
            SortOrder::Newest => &self.orders[2],
            SortOrder::PriceAsc | SortOrder::Relevance => &self.orders[0],
        }
    }
}

/// One sort's permutations of a segment, built on first use.
#[derive(Default)]
struct Order {
    /// Every document with its rank value, best first (see [`SegmentView::permutation`]).
    all: OnceLock<Vec<(u32, f64)>>,
    /// The same split by category (indexed by category ordinal plus one): a category's items
    /// sit together in price, so walking the whole order to reach them would pass most of
    /// the catalogue.
    by_category: OnceLock<Vec<Vec<(u32, f64)>>>,
}

impl Order {
    /// Bytes held (for the benchmark).
    fn bytes(&self) -> usize {
        let entries = self.all.get().map_or(0, Vec::len)
            + self
                .by_category
                .get()
                .map_or(0, |split| split.iter().map(Vec::len).sum());
        entries * 16
    }
}

/// A term's documents from its postings (`None`: no document of the segment holds it, so
/// it keeps no bits; bitset operations treat missing bits as unset). Postings are decoded a
/// block of 128 documents at a time, as tantivy's own automaton query does: several times
/// faster than a scorer's document-at-a-time iteration.
fn read_bits(postings: Option<BlockSegmentPostings>, max_doc: u32) -> FixedBitSet {
    let mut bits = FixedBitSet::new();
    if let Some(mut postings) = postings {
        bits.grow(max_doc as usize);
        let words = bits.as_mut_slice();
        loop {
            let docs = postings.docs();
            if docs.is_empty() {
                break;
            }
            for &doc in docs {
                words[doc as usize / 64] |= 1 << (doc % 64);
            }
            postings.advance();
        }
    }
    bits
}

/// What a cached leaf holds in memory: its bits (unless mapped) and, once scored, a byte per
/// 64 documents.
fn leaf_bytes(bits: &Words) -> usize {
    let words = bits.as_slice().len();
    bits.owned_bytes() + words + 64
}

/// The first document in `0..len` for which `before` is false (`before` holds for a prefix).
fn partition_point(len: u32, before: impl Fn(DocId) -> bool) -> DocId {
    let (mut low, mut high) = (0, len);
    while low < high {
        let mid = low + (high - low) / 2;
        if before(mid) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    low
}

/// One exact word in one field, as relevance scoring reads it in one segment.
struct Scored<'a> {
    bits: &'a [usize],
    /// The shortest norm among the word's documents, per block.
    block_norms: &'a [u8],
    /// The shortest norm among all the word's documents.
    shortest: u8,
    /// The field's place among the scored fields (name, brand, all text).
    slot: usize,
    table: &'a [f32; 256],
}

/// A tighter bound on the best score among some documents than each word's shortest norm
/// there: a document's field has one length, so a document holding several words of a
/// field has at least the longest of their shortest norms. Per field, the best over the
/// sets of words that some of the documents hold together (`present`: each word's
/// documents; a field of up to [`SUBSET_WORDS`] words; past that, each word's own best),
/// summed over fields. Where a short name holds one broad word and the matches hold all of
/// the query's, this keeps the walk's ceiling (see [`SegmentView::rank_words`]) under the
/// page's worst entry, so the walk stops.
fn shared_norm_bound(scored: &[Scored<'_>], present: &[usize], norm: impl Fn(usize) -> u8) -> f64 {
    let mut bound = 0f64;
    for slot in 0..3 {
        // The field's words some match of the block holds, as (index, documents).
        let mut field = [(0usize, 0usize); SUBSET_WORDS];
        let mut len = 0;
        let mut loose = 0f64;
        for (i, (s, &held)) in scored.iter().zip(present).enumerate() {
            if s.slot == slot && held != 0 {
                loose += f64::from(s.table[norm(i) as usize]);
                if len < SUBSET_WORDS {
                    field[len] = (i, held);
                }
                len += 1;
            }
        }
        if len > SUBSET_WORDS {
            bound += loose;
            continue;
        }
        let mut best = 0f64;
        for subset in 1usize..1 << len {
            let mut common = usize::MAX;
            let mut longest = 0u8;
            for (bit, &(i, held)) in field[..len].iter().enumerate() {
                if subset >> bit & 1 != 0 {
                    common &= held;
                    longest = longest.max(norm(i));
                }
            }
            if common == 0 {
                continue;
            }
            let mut sum = 0f64;
            for (bit, &(i, _)) in field[..len].iter().enumerate() {
                if subset >> bit & 1 != 0 {
                    sum += f64::from(scored[i].table[longest as usize]);
                }
            }
            best = best.max(sum);
        }
        bound += best;
    }
    bound
}

/// Words of one field past which [`shared_norm_bound`] stops enumerating their sets.
const SUBSET_WORDS: usize = 4;

/// The blocks (machine words of the bitset) to count when sampling one in `stride`: the
/// segment's first blocks, one `stride`-th of them. Documents are in item-id order and ids are
/// random, so a run of documents is a uniform sample, and reading it sequentially is what
/// memory does fastest.
fn sampled_blocks(m: &FixedBitSet, sample: Option<usize>) -> std::ops::Range<usize> {
    let blocks = m.as_slice().len();
    match sample {
        Some(stride) => 0..blocks.div_ceil(stride.max(1)),
        None => 0..0,
    }
}

/// The set documents of one block (a machine word: 64 documents).
fn ones_in(m: &FixedBitSet, block: usize) -> impl Iterator<Item = usize> + '_ {
    let start = block * usize::BITS as usize;
    bits_of(m.as_slice()[block]).map(move |bit| start + bit)
}

/// The positions of a word's set bits, lowest first.
fn bits_of(mut word: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (word != 0).then(|| {
            let bit = word.trailing_zeros() as usize;
            word &= word - 1;
            bit
        })
    })
}

/// How a document's price band, category and brand share one `u32`: the band in the low 3
/// bits, then the category ordinal plus one (0 for none), then the brand's; widths from the
/// segment's dictionaries. A segment with more brands than fit (over 2^22 with a few
/// categories) leaves the brand out of the word, and its brand facet uncounted.
#[derive(Debug, Clone, Copy)]
struct Packing {
    category_bits: u32,
    brand_bits: u32,
}

impl Packing {
    const BAND_BITS: u32 = 3;

    fn new(categories: usize, brands: usize) -> Self {
        let bits = |n: usize| usize::BITS - n.leading_zeros();
        let category_bits = bits(categories);
        let brand_bits = bits(brands);
        Self {
            category_bits,
            brand_bits: if Self::BAND_BITS + category_bits + brand_bits <= 32 {
                brand_bits
            } else {
                0
            },
        }
    }

    fn pack(self, band: usize, category: u32, brand: u32) -> u32 {
        let plus_one = |ord: u32| if ord == NONE { 0 } else { ord + 1 };
        let mut word = band as u32;
        word |= plus_one(category) << Self::BAND_BITS;
        if self.brand_bits > 0 {
            word |= plus_one(brand) << (Self::BAND_BITS + self.category_bits);
        }
        word
    }

    /// (band, category ordinal + 1, brand ordinal + 1).
    fn unpack(self, word: u32) -> (usize, usize, usize) {
        let mask = |bits: u32| (1u32 << bits) - 1;
        (
            (word & mask(Self::BAND_BITS)) as usize,
            ((word >> Self::BAND_BITS) & mask(self.category_bits)) as usize,
            if self.brand_bits == 0 {
                0
            } else {
                ((word >> (Self::BAND_BITS + self.category_bits)) & mask(self.brand_bits)) as usize
            },
        )
    }
}

/// Facet and total counters for one segment (slot 0 of each ordinal list counts "none").
struct Counts {
    packing: Packing,
    total: u64,
    bands: [u64; PRICE_BANDS.len()],
    categories: Vec<u64>,
    brands: Vec<u64>,
}

impl Counts {
    fn new(view: &SegmentView) -> Self {
        Self {
            packing: view.packing,
            total: 0,
            bands: [0; PRICE_BANDS.len()],
            categories: vec![0; view.category_names.len() + 1],
            brands: vec![0; view.brand_names.len() + 1],
        }
    }

    #[inline]
    fn add(&mut self, facet: u32) {
        let (band, category, brand) = self.packing.unpack(facet);
        self.total += 1;
        self.bands[band] += 1;
        self.categories[category] += 1;
        self.brands[brand] += 1;
    }

    /// Exact counts, or sample counts scaled to the segment's matches.
    fn fruit(
        self,
        view: &SegmentView,
        top: Vec<Entry>,
        matched: &Matched,
        sample: Option<usize>,
    ) -> Fruit {
        let seen: u64 = match sample {
            Some(_) => {
                let m = &matched.bits;
                sampled_blocks(m, sample)
                    .map(|b| u64::from(m.as_slice()[b].count_ones()))
                    .sum()
            }
            None => 0,
        };
        // Ratio estimate: what the sample saw, times matches per sampled match.
        let scale = |n: u64| -> u64 {
            match sample {
                Some(_) if seen > 0 => {
                    ((n as f64) * (matched.count as f64) / (seen as f64)).round() as u64
                }
                Some(_) => 0,
                None => n,
            }
        };
        let named = |names: &[String], counts: Vec<u64>| -> HashMap<String, u64> {
            counts
                .into_iter()
                .skip(1)
                .enumerate()
                .filter(|(_, n)| *n > 0)
                .map(|(ord, n)| (names[ord].clone(), scale(n)))
                .collect()
        };
        Fruit {
            top,
            total: scale(self.total),
            categories: named(&view.category_names, self.categories),
            brands: named(&view.brand_names, self.brands),
            bands: self.bands.map(scale),
            estimated: sample.is_some(),
        }
    }
}

/// The page's best entries within one segment, worst on top of a max-heap.
struct Heap {
    want: usize,
    entries: BinaryHeap<Entry>,
    /// Documents are in tie order: a later document never beats an equal earlier one.
    sorted: bool,
    after: Option<(f64, u128)>,
    cursor_position: DocId,
}

impl Heap {
    fn new(want: usize, sorted: bool, after: Option<(f64, u128)>, cursor_position: DocId) -> Self {
        Self {
            want,
            entries: BinaryHeap::with_capacity(want + 1),
            sorted,
            after,
            cursor_position,
        }
    }

    /// The value a match must beat once the page is full.
    fn floor(&self) -> Option<f64> {
        self.entries
            .peek()
            .filter(|_| self.is_full())
            .map(|worst| worst.value)
    }

    fn is_full(&self) -> bool {
        self.entries.len() >= self.want
    }

    /// Where a document-order walk starts: at the cursor's position when it is in this order.
    fn start_doc(&self) -> DocId {
        if self.sorted {
            self.cursor_position
        } else {
            0
        }
    }

    /// Whether a match with this (oriented) value belongs on the page so far. Documents
    /// arrive in document order; the tie is read only when the order needs it.
    fn admits(&self, value: f64, doc: DocId, tie: impl Fn() -> u128) -> bool {
        if let Some((after_value, after_tie)) = self.after {
            // search_after: only what ranks strictly after the cursor.
            if value > after_value {
                return false;
            }
            if value == after_value {
                let after = if self.sorted {
                    doc >= self.cursor_position
                } else {
                    tie() > after_tie
                };
                if !after {
                    return false;
                }
            }
        }
        match self.entries.peek() {
            Some(worst) if self.is_full() => {
                value > worst.value || (value == worst.value && !self.sorted && tie() < worst.tie)
            }
            _ => true,
        }
    }

    fn push(&mut self, entry: Entry) {
        if self.is_full() {
            self.entries.pop();
        }
        self.entries.push(entry);
    }

    fn into_vec(self) -> Vec<Entry> {
        self.entries.into_vec()
    }
}

/// The views of a searcher's segments, kept across queries and dropped with their segments.
#[derive(Default)]
pub(super) struct Views {
    by_segment: HashMap<SegmentId, Arc<SegmentView>>,
}

impl Views {
    /// The view of each segment of `searcher`, loading the new ones and forgetting the gone.
    pub(super) fn for_searcher(
        &mut self,
        searcher: &tantivy::Searcher,
        scored: [Field; 3],
        dir: &Path,
    ) -> tantivy::Result<Vec<Arc<SegmentView>>> {
        let mut views = Vec::with_capacity(searcher.segment_readers().len());
        let mut kept = HashMap::new();
        for reader in searcher.segment_readers() {
            let id = reader.segment_id();
            let view = match self.by_segment.remove(&id) {
                Some(view) => view,
                None => Arc::new(SegmentView::load(reader, scored, Some(dir))?),
            };
            kept.insert(id, view.clone());
            views.push(view);
        }
        self.by_segment = kept;
        Ok(views)
    }

    /// Bytes held by every view.
    pub(super) fn bytes(&self) -> usize {
        self.by_segment.values().map(|v| v.bytes()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// What `rank_words` scores for document `bit` of a block: each word-in-field it holds,
    /// at its own norm for that field.
    fn score(scored: &[Scored<'_>], norms: &[[u8; 3]], bit: usize) -> f32 {
        scored
            .iter()
            .filter(|s| s.bits[0] >> bit & 1 != 0)
            .map(|s| s.table[norms[bit][s.slot] as usize])
            .sum()
    }

    #[test]
    fn the_shared_norm_bound_is_never_below_a_score_in_its_block() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..2_000 {
            let words = rng.gen_range(1..=6);
            // Each document's norm per field; each word-in-field's documents and table.
            let norms: Vec<[u8; 3]> = (0..64)
                .map(|_| {
                    [
                        rng.gen_range(1..40),
                        rng.gen_range(1..4),
                        rng.gen_range(10..60),
                    ]
                })
                .collect();
            let mut held = Vec::new();
            let mut tables = Vec::new();
            for word in 0..words {
                for slot in 0..3 {
                    held.push((word, slot, [rng.gen::<usize>() & rng.gen::<usize>()]));
                    let mut table = [0f32; 256];
                    let weight = rng.gen_range(0.5..10.0f32);
                    for (norm, value) in table.iter_mut().enumerate() {
                        *value = weight / (1.0 + norm as f32 / 8.0);
                    }
                    tables.push(table);
                }
            }
            let block_norms: Vec<[u8; 1]> = held
                .iter()
                .map(|(_, slot, bits)| {
                    let shortest = (0..64)
                        .filter(|bit| bits[0] >> bit & 1 != 0)
                        .map(|bit| norms[bit][*slot])
                        .min();
                    [shortest.unwrap_or(u8::MAX)]
                })
                .collect();
            let scored: Vec<Scored<'_>> = held
                .iter()
                .zip(&tables)
                .zip(&block_norms)
                .map(|(((_, slot, bits), table), block_norms)| Scored {
                    bits,
                    block_norms,
                    shortest: block_norms[0],
                    slot: *slot,
                    table,
                })
                .collect();
            let present: Vec<usize> = held.iter().map(|(_, _, bits)| bits[0]).collect();
            let bound = shared_norm_bound(&scored, &present, |i| scored[i].block_norms[0]);
            let loose: f64 = scored
                .iter()
                .filter(|s| s.bits[0] != 0)
                .map(|s| f64::from(s.table[s.block_norms[0] as usize]))
                .sum();
            for bit in 0..64 {
                let score = f64::from(score(&scored, &norms, bit));
                assert!(bound >= score - 1e-4, "bound {bound} under score {score}");
            }
            assert!(bound <= loose + 1e-4, "bound {bound} looser than {loose}");
        }
    }
}
