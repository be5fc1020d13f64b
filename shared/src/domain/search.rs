//! Product search: what a shopper asks for (text, filters, sort, page) and what the index
//! answers (hits, total, facet counts). Both backends (embedded tantivy, OpenSearch) implement
//! the same semantics, stated here once:
//!
//! - the text is split into words (letters and digits, lowercased, accents folded); every word
//!   must match somewhere in the item's name, brand, category, description or attribute values,
//!   allowing typos by word length: 0 edits up to 2 characters, 1 up to 5, 2 beyond (a swap of
//!   two neighbouring letters is one edit), which is OpenSearch's `fuzziness: AUTO`;
//! - exact words in the name and brand rank higher;
//! - filters are exact: category slug, brand (case-insensitive), price range in minor units
//!   (inclusive), in stock, attribute `name=value` pairs (case-insensitive);
//! - facets count every match of the query and filters (not only the page);
//! - ties in every sort are broken by item id, so the order is total and a cursor
//!   (`search_after`) resumes exactly after the last hit shown.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{Category, Item, ItemId, WarehouseId};

/// The most words a query may have (each becomes a fuzzy clause).
pub const MAX_QUERY_WORDS: usize = 10;
/// The longest query text accepted.
pub const MAX_QUERY_CHARS: usize = 200;
/// Matches a backend must count one by one; past this it may estimate facet counts from a
/// sample and say so ([`SearchHits::estimated`]). OpenSearch's default `track_total_hits`.
pub const EXACT_COUNTS: u64 = 10_000;
/// How many values the category and brand facets list.
pub const FACET_SIZE: usize = 20;

/// Price bands for the price facet, in minor units: `[from, to)`, the last open-ended.
pub const PRICE_BANDS: [(u64, Option<u64>); 6] = [
    (0, Some(2_500)),
    (2_500, Some(10_000)),
    (10_000, Some(25_000)),
    (25_000, Some(50_000)),
    (50_000, Some(100_000)),
    (100_000, None),
];

/// The band index a price falls in.
pub fn price_band(amount: u64) -> usize {
    PRICE_BANDS
        .iter()
        .position(|(from, to)| amount >= *from && to.is_none_or(|to| amount < to))
        .unwrap_or(PRICE_BANDS.len() - 1)
}

/// How many edits a query word may be away from an indexed word (OpenSearch `AUTO`).
pub fn fuzziness(word: &str) -> u8 {
    match word.chars().count() {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

/// The words of a text as both backends analyse it: runs of letters and digits, lowercased,
/// with common accents folded (`Café` → `cafe`). Words longer than 40 characters are dropped.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.chars()
                .flat_map(char::to_lowercase)
                .map(fold)
                .collect::<String>()
        })
        .filter(|w: &String| w.chars().count() <= 40)
        .collect()
}

fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

/// Result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Best match first.
    Relevance,
    /// Cheapest first.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
    /// Most recently listed first.
    Newest,
}

impl SortOrder {
    /// The `sort` parameter's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relevance => "relevance",
            Self::PriceAsc => "price_asc",
            Self::PriceDesc => "price_desc",
            Self::Newest => "newest",
        }
    }

    /// Whether larger sort values come first.
    pub fn descending(self) -> bool {
        !matches!(self, Self::PriceAsc)
    }
}

impl TryFrom<&str> for SortOrder {
    type Error = String;
    fn try_from(raw: &str) -> Result<Self, String> {
        [
            Self::Relevance,
            Self::PriceAsc,
            Self::PriceDesc,
            Self::Newest,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
        .ok_or_else(|| "sort must be relevance, price_asc, price_desc or newest".into())
    }
}

/// Where the previous page ended: the last hit's sort value and id (`search_after`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SearchCursor {
    /// The result order.
    #[serde(rename = "s")]
    pub sort: SortOrder,
    /// The last hit's sort value: score, price in minor units, or creation time in ms.
    #[serde(rename = "v")]
    pub value: f64,
    /// The item's id.
    #[serde(rename = "i")]
    pub item_id: ItemId,
}

impl SearchCursor {
    /// The opaque cursor text clients pass back.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Read a cursor back; it must have been issued for the same sort order.
    pub fn decode(raw: &str, sort: SortOrder) -> Result<Self, String> {
        let bad = || "cursor is not one this search issued".to_owned();
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let cursor: Self = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if cursor.sort != sort || !cursor.value.is_finite() {
            return Err(bad());
        }
        Ok(cursor)
    }
}

/// A validated search request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// The words to match (already split and normalised); empty matches everything.
    pub words: Vec<String>,
    /// The catalog category.
    pub category: Option<Category>,
    /// Lowercased brand.
    pub brand: Option<String>,
    /// Inclusive bounds in minor units.
    pub min_price: Option<u64>,
    /// Only items at or below this price (minor units).
    pub max_price: Option<u64>,
    /// Only items with units on sale.
    pub in_stock_only: bool,
    /// Only items held at one of these warehouses (the delivery filters).
    pub sites_any: Option<Vec<WarehouseId>>,
    /// Only items held at none of these warehouses (the rings of `sort=delivery`).
    pub sites_none: Vec<WarehouseId>,
    /// Lowercased `(name, value)` pairs, sorted.
    pub attributes: Vec<(String, String)>,
    /// The result order.
    pub sort: SortOrder,
    /// At most this many.
    pub limit: u32,
    /// Continue after this hit (the next page).
    pub after: Option<SearchCursor>,
}

impl SearchQuery {
    /// A query that matches everything, newest first (tests and tools build on it).
    pub fn all() -> Self {
        Self {
            words: Vec::new(),
            category: None,
            brand: None,
            min_price: None,
            max_price: None,
            in_stock_only: false,
            sites_any: None,
            sites_none: Vec::new(),
            attributes: Vec::new(),
            sort: SortOrder::Newest,
            limit: 20,
            after: None,
        }
    }

    /// A canonical text of everything but the cursor: the popular-query cache key.
    pub fn cache_key(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{}|{}",
            self.words,
            self.category.as_ref().map(Category::as_str),
            self.brand,
            self.min_price,
            self.max_price,
            self.in_stock_only,
            self.sites_any,
            self.sites_none,
            self.attributes,
            self.sort.as_str(),
            self.limit
        )
    }

    /// Whether a document passes the filters (not the text): the reference the contract
    /// tests and the brute-force checks use.
    pub fn filters_accept(&self, doc: &SearchDoc) -> bool {
        let item = &doc.item;
        self.category.as_ref().is_none_or(|c| *c == item.category)
            && self.brand.as_ref().is_none_or(|b| *b == doc.brand_key())
            && self.min_price.is_none_or(|min| doc.price() >= min)
            && self.max_price.is_none_or(|max| doc.price() <= max)
            && (!self.in_stock_only || doc.in_stock)
            && self
                .sites_any
                .as_ref()
                .is_none_or(|any| any.iter().any(|w| doc.sites.contains(w)))
            && !self.sites_none.iter().any(|w| doc.sites.contains(w))
            && self.attributes.iter().all(|pair| {
                doc.attribute_terms()
                    .contains(&format!("{}={}", pair.0, pair.1))
            })
    }
}

/// What the index holds for one item: the listing plus its in-stock flag, each half
/// versioned so that an older write never replaces a newer one (see [`SearchDoc::merge`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchDoc {
    /// The item as listed.
    pub item: Item,
    /// Whether any unit is on sale.
    pub in_stock: bool,
    /// The aggregated stock row's `stockVersion` when `in_stock` was read.
    pub stock_version: u64,
    /// The warehouses holding sellable units (available, not lost), sorted: what the
    /// delivery promise picks the nearest of. Read with `in_stock`, in the same query.
    #[serde(default)]
    pub sites: Vec<WarehouseId>,
    /// When the stock half was read (Unix ms). Warehouse rows change without the aggregated
    /// row's version (an assignment), so the stock half is versioned by
    /// `(stock_version, stock_read_at)`: a later consistent read sees at least as much.
    #[serde(default)]
    pub stock_read_at: i64,
}

impl SearchDoc {
    /// The item's version (index writes older than the stored one are ignored).
    pub fn item_version(&self) -> u64 {
        self.item.version
    }

    /// The price in minor units (always positive: [`super::Money`] refuses anything else).
    pub fn price(&self) -> u64 {
        self.item.price.amount.max(0) as u64
    }

    /// The brand as faceted: lowercased, trimmed.
    pub fn brand_key(&self) -> String {
        self.item.brand.as_str().to_lowercase()
    }

    /// The name as suggestions complete it: its words, normalised, joined by one space.
    pub fn name_key(&self) -> String {
        words(self.item.name.as_str()).join(" ")
    }

    /// Attribute filters match `name=value`, lowercased.
    pub fn attribute_terms(&self) -> Vec<String> {
        self.item
            .attributes
            .iter()
            .map(|(k, v)| format!("{}={}", k.to_lowercase(), v.trim().to_lowercase()))
            .collect()
    }

    /// Everything full-text search looks at, as one text.
    pub fn all_text(&self) -> String {
        let item = &self.item;
        let mut text = format!(
            "{} {} {} {}",
            item.name.as_str(),
            item.brand.as_str(),
            item.category.as_str().replace('-', " "),
            item.description.as_ref().map(|d| d.as_str()).unwrap_or("")
        );
        for (_, value) in item.attributes.iter() {
            text.push(' ');
            text.push_str(value);
        }
        text
    }

    /// Combine what is indexed (`current`) with a newly read version, half by half: the
    /// listing from whichever has the higher item version, the stock flag from whichever has
    /// the higher stock version. `None` when `incoming` adds nothing newer (stale or replayed).
    pub fn merge(current: Option<&SearchDoc>, incoming: &SearchDoc) -> Option<SearchDoc> {
        let Some(current) = current else {
            return Some(incoming.clone());
        };
        let newer_item = incoming.item_version() > current.item_version();
        // A later read of the same stock version only matters if it says something else.
        let newer_stock = incoming.stock_version > current.stock_version
            || (incoming.stock_version == current.stock_version
                && incoming.stock_read_at > current.stock_read_at
                && (incoming.in_stock != current.in_stock || incoming.sites != current.sites));
        if !newer_item && !newer_stock {
            return None;
        }
        let item = if newer_item {
            &incoming.item
        } else {
            &current.item
        };
        let stock = if newer_stock { incoming } else { current };
        Some(SearchDoc {
            item: item.clone(),
            in_stock: stock.in_stock,
            stock_version: stock.stock_version,
            sites: stock.sites.clone(),
            stock_read_at: stock.stock_read_at,
        })
    }

    /// The value this document sorts by under `sort` (scores come from the engine).
    pub fn sort_value(&self, sort: SortOrder) -> f64 {
        match sort {
            SortOrder::Relevance => 0.0,
            SortOrder::PriceAsc | SortOrder::PriceDesc => self.price() as f64,
            SortOrder::Newest => self.item.created_at.unix_millis() as f64,
        }
    }
}

/// One matching item.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The matching document.
    pub doc: SearchDoc,
    /// What the hit sorted by (its cursor value).
    pub sort_value: f64,
}

/// One facet value and how many matches carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FacetCount {
    /// The facet value.
    pub value: String,
    /// Hits with that value.
    pub count: u64,
}

/// One price band and how many matches fall in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceBandCount {
    /// Lowest price in the band (minor units, inclusive).
    pub from: u64,
    /// Highest price (exclusive); `None` for the top band.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<u64>,
    /// Hits in the band.
    pub count: u64,
}

/// Facet counts over every match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Facets {
    /// The catalog category.
    pub category: Vec<FacetCount>,
    /// The brand, as listed.
    pub brand: Vec<FacetCount>,
    /// The current unit price.
    pub price: Vec<PriceBandCount>,
}

impl Facets {
    /// Build from raw counts: the top [`FACET_SIZE`] values by count (ties by value), and
    /// every non-empty price band in band order.
    pub fn from_counts(
        category: impl IntoIterator<Item = (String, u64)>,
        brand: impl IntoIterator<Item = (String, u64)>,
        bands: [u64; PRICE_BANDS.len()],
    ) -> Self {
        fn top(counts: impl IntoIterator<Item = (String, u64)>) -> Vec<FacetCount> {
            let mut all: Vec<FacetCount> = counts
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(value, count)| FacetCount { value, count })
                .collect();
            all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            all.truncate(FACET_SIZE);
            all
        }
        Self {
            category: top(category),
            brand: top(brand),
            price: PRICE_BANDS
                .iter()
                .zip(bands)
                .filter(|(_, n)| *n > 0)
                .map(|((from, to), count)| PriceBandCount {
                    from: *from,
                    to: *to,
                    count,
                })
                .collect(),
        }
    }
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHits {
    /// This page of hits, in the order asked for.
    pub hits: Vec<SearchHit>,
    /// Every match, not just this page.
    pub total: u64,
    /// Counts over every hit, not just this page.
    pub facets: Facets,
    /// Where the next page starts; absent on the last page.
    pub next: Option<SearchCursor>,
    /// Whether the facet counts (and a price-filtered total) are estimates from a sample, as
    /// the embedded index gives them past [`EXACT_COUNTS`] matches; the hits never are.
    pub estimated: bool,
}

impl SearchHits {
    /// Close a page: backends fetch `limit + 1` hits, and the extra one only says that there
    /// is a next page, which starts after the last hit kept.
    pub fn page(query: &SearchQuery, mut hits: Vec<SearchHit>, total: u64, facets: Facets) -> Self {
        let limit = query.limit as usize;
        let more = hits.len() > limit;
        hits.truncate(limit);
        let next = hits.last().filter(|_| more).map(|last| SearchCursor {
            sort: query.sort,
            value: last.sort_value,
            item_id: last.doc.item.item_id,
        });
        Self {
            hits,
            total,
            facets,
            next,
            estimated: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercased_folded_and_split_on_punctuation() {
        assert_eq!(words("Café  4K-TV, OLED!"), ["cafe", "4k", "tv", "oled"]);
    }

    #[test]
    fn fuzziness_follows_opensearch_auto() {
        assert_eq!(
            ["tv", "ipad", "iphone", "iphnoe"].map(fuzziness),
            [0, 1, 2, 2]
        );
    }

    #[test]
    fn price_bands_cover_every_amount_once() {
        assert_eq!(price_band(0), 0);
        assert_eq!(price_band(2_499), 0);
        assert_eq!(price_band(2_500), 1);
        assert_eq!(price_band(99_999), 4);
        assert_eq!(price_band(10_000_000), 5);
    }

    #[test]
    fn a_cursor_round_trips_and_is_refused_for_another_sort() {
        let cursor = SearchCursor {
            sort: SortOrder::PriceAsc,
            value: 1999.0,
            item_id: ItemId::generate(),
        };
        let raw = cursor.encode();
        assert_eq!(SearchCursor::decode(&raw, SortOrder::PriceAsc), Ok(cursor));
        assert!(SearchCursor::decode(&raw, SortOrder::Newest).is_err());
        assert!(SearchCursor::decode("not-a-cursor", SortOrder::Newest).is_err());
    }

    fn doc(stock_read_at: i64, sites: &[&str]) -> SearchDoc {
        let item: Item = serde_json::from_value(serde_json::json!({
            "itemId": "5f0c6a52-4c1e-4c57-9d51-0b8f1f1c2a01", "sellerId": "seller-1",
            "name": "Lamp", "category": "kitchen", "brand": "Acme",
            "price": { "amount": 2999, "currency": "USD" }, "attributes": {}, "images": [],
            "lowStockThreshold": 3, "createdAt": "2026-11-01T10:00:00.000Z",
            "updatedAt": "2026-11-01T10:00:00.000Z", "version": 1
        }))
        .unwrap();
        SearchDoc {
            item,
            in_stock: true,
            stock_version: 4,
            sites: sites
                .iter()
                .map(|w| WarehouseId::try_from(*w).unwrap())
                .collect(),
            stock_read_at,
        }
    }

    #[test]
    fn of_two_indexers_racing_on_one_stock_version_the_later_read_wins_in_either_order() {
        // An assignment emptied wh-a without touching the aggregate's version: the indexer
        // that read before it (t=1) and the one that read after (t=2) race to write.
        let (early, late) = (doc(1, &["wh-a", "wh-b"]), doc(2, &["wh-b"]));
        let stored = SearchDoc::merge(None, &late).unwrap();
        assert_eq!(
            SearchDoc::merge(Some(&stored), &early),
            None,
            "the older read is refused"
        );
        let stored = SearchDoc::merge(None, &early).unwrap();
        let merged = SearchDoc::merge(Some(&stored), &late).unwrap();
        assert_eq!(merged.sites, late.sites);
        assert_eq!(
            SearchDoc::merge(Some(&merged), &doc(3, &["wh-b"])),
            None,
            "a later read that says the same writes nothing"
        );
    }
}
