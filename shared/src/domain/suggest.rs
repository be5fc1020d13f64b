//! Suggestions as a shopper types (`GET /v1/items/suggest?q=`): completions of what was typed,
//! forgiving typos, from four sources (popular queries, brands, categories, item names).
//! Both search engines answer the last three; popular queries come from the signal counters.
//!
//! Typos are allowed as OpenSearch's `fuzziness: AUTO` allows them (0 edits up to 2
//! characters, 1 up to 5, then 2), counted on the prefix typed
//! (<https://docs.opensearch.org/latest/query-dsl/term/fuzzy/>).

use serde::Serialize;

use super::search::{fuzziness, words};

/// Longest text a suggestion request may carry.
pub const MAX_SUGGEST_CHARS: usize = 100;
/// Most suggestions one answer lists.
pub const MAX_SUGGESTIONS: usize = 10;

/// Where a suggestion comes from; the storefront acts on each differently (search for a
/// query or an item name, filter by a brand or a category).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SuggestionKind {
    /// A query other shoppers searched for (and found something).
    Query,
    /// A brand (`brand` filter).
    Brand,
    /// A category (`category` filter).
    Category,
    /// An item's name.
    Item,
}

/// One completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// The completed text (normalised: lower case, folded, single spaces; a category's id).
    pub text: String,
    /// Its source.
    pub kind: SuggestionKind,
    /// Edits between what was typed and the start of `text`.
    #[serde(skip)]
    pub typos: u8,
    /// How much weight it carries within its kind (shoppers, items).
    #[serde(skip)]
    pub weight: u64,
}

/// What was typed, normalised the way the index stores names and brands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typed {
    /// Words joined by one space; a trailing space is kept (the last word is complete).
    pub prefix: String,
}

impl Typed {
    /// Parse `q`: 1 to [`MAX_SUGGEST_CHARS`] characters with at least one letter or digit.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > MAX_SUGGEST_CHARS {
            return Err(format!("at most {MAX_SUGGEST_CHARS} characters"));
        }
        let mut prefix = words(raw).join(" ");
        if prefix.is_empty() {
            return Err("must hold a letter or a digit".to_owned());
        }
        if raw.ends_with(char::is_whitespace) {
            prefix.push(' ');
        }
        Ok(Self { prefix })
    }

    /// Edits allowed on this prefix (`AUTO`, as search allows them per word).
    pub fn typos(&self) -> u8 {
        fuzziness(&self.prefix)
    }
}

/// The fewest edits (insertions, deletions, substitutions, adjacent transpositions) that turn
/// `typed` into some prefix of `text`: how far `text` is from being a completion of `typed`.
pub fn prefix_distance(typed: &str, text: &str) -> usize {
    let a: Vec<char> = typed.chars().collect();
    let b: Vec<char> = text.chars().collect();
    // rows[i][j]: edits between a[..i] and b[..j] (optimal string alignment).
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()].iter().copied().min().unwrap_or(0)
}

/// Popular queries that complete `typed` within its typos, as suggestions.
pub fn matching_queries(typed: &Typed, queries: &[(String, u64)]) -> Vec<Suggestion> {
    let allowed = usize::from(typed.typos());
    queries
        .iter()
        .filter_map(|(query, shoppers)| {
            let typos = prefix_distance(&typed.prefix, query);
            (typos <= allowed).then(|| Suggestion {
                text: query.clone(),
                kind: SuggestionKind::Query,
                typos: typos as u8,
                weight: *shoppers,
            })
        })
        .collect()
}

/// One list from every source: exact completions before ones that needed edits, then popular
/// queries, brands, categories and item names in that order, each by weight; a text listed
/// once (its first kind wins); up to `limit`.
pub fn rank(mut all: Vec<Suggestion>, limit: usize) -> Vec<Suggestion> {
    all.sort_by(|a, b| {
        a.typos
            .cmp(&b.typos)
            .then(a.kind.cmp(&b.kind))
            .then(b.weight.cmp(&a.weight))
            .then_with(|| a.text.len().cmp(&b.text.len()))
            .then_with(|| a.text.cmp(&b.text))
    });
    let mut seen = std::collections::HashSet::new();
    all.retain(|s| seen.insert(s.text.clone()));
    all.truncate(limit);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_is_normalised_and_keeps_a_finished_last_word() {
        assert_eq!(Typed::parse("  Sämsung   TV").unwrap().prefix, "samsung tv");
        assert_eq!(Typed::parse("usb ").unwrap().prefix, "usb ");
        assert!(Typed::parse(" -- ").is_err());
        assert!(Typed::parse(&"a".repeat(101)).is_err());
        assert_eq!(Typed::parse("tv").unwrap().typos(), 0);
        assert_eq!(Typed::parse("sams").unwrap().typos(), 1);
        assert_eq!(Typed::parse("headpho").unwrap().typos(), 2);
    }

    #[test]
    fn the_distance_is_to_the_closest_prefix() {
        assert_eq!(prefix_distance("sams", "samsung tv"), 0);
        assert_eq!(prefix_distance("smas", "samsung tv"), 1);
        assert_eq!(prefix_distance("samz", "samsung tv"), 1);
        assert_eq!(prefix_distance("sony", "samsung tv"), 3);
        assert_eq!(prefix_distance("headpones", "headphones"), 1);
    }

    #[test]
    fn exact_completions_and_queries_come_first_and_each_text_once() {
        let typed = Typed::parse("sams").unwrap();
        let queries = vec![
            ("samsung tv".to_owned(), 7),
            ("sams club".to_owned(), 2),
            ("sony".to_owned(), 50),
        ];
        let mut all = matching_queries(&typed, &queries);
        assert_eq!(all.len(), 2);
        all.push(Suggestion {
            text: "samsung".into(),
            kind: SuggestionKind::Brand,
            typos: 0,
            weight: 900,
        });
        all.push(Suggestion {
            text: "samsung tv".into(),
            kind: SuggestionKind::Item,
            typos: 0,
            weight: 1,
        });
        all.push(Suggestion {
            text: "smart sams".into(),
            kind: SuggestionKind::Item,
            typos: 1,
            weight: 1,
        });
        let texts: Vec<(String, SuggestionKind)> = rank(all, 10)
            .into_iter()
            .map(|s| (s.text, s.kind))
            .collect();
        assert_eq!(
            texts,
            [
                ("samsung tv".to_owned(), SuggestionKind::Query),
                ("sams club".to_owned(), SuggestionKind::Query),
                ("samsung".to_owned(), SuggestionKind::Brand),
                ("smart sams".to_owned(), SuggestionKind::Item),
            ]
        );
    }
}
