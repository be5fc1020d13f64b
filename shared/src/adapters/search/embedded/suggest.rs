//! Suggestions from the embedded index: completions of the typed prefix, within its typos,
//! read straight from the term dictionaries of the untokenised `name_key`, `brand_key` and
//! `category` fields (one term per distinct value, with how many items carry it). The
//! prefix automaton is a Levenshtein DFA, as tantivy's `FuzzyTermQuery` builds it, so only
//! the dictionary's matching branches are walked, not every term.

use std::collections::HashMap;
use std::sync::OnceLock;

use levenshtein_automata::{Distance, LevenshteinAutomatonBuilder, DFA, SINK_STATE};
use tantivy::schema::Field;
use tantivy::Searcher;

use crate::domain::suggest::{Suggestion, SuggestionKind, Typed};
use crate::ports::StoreError;

/// Item-name terms looked at per segment at most: a one-letter prefix matches a good part of
/// a million names, all of weight one, so the first ones (in dictionary order) serve as well
/// as any, and the walk stays bounded.
const NAMES_SCANNED: usize = 2_000;

/// The DFA builders, one per allowed edit count (building one costs milliseconds).
fn builder(typos: u8) -> &'static LevenshteinAutomatonBuilder {
    static BUILDERS: OnceLock<[LevenshteinAutomatonBuilder; 3]> = OnceLock::new();
    let all = BUILDERS.get_or_init(|| [0, 1, 2].map(|d| LevenshteinAutomatonBuilder::new(d, true)));
    &all[usize::from(typos.min(2))]
}

/// The DFA as tantivy's term dictionaries walk it.
struct Prefix<'a>(&'a DFA);

impl tantivy_fst::Automaton for Prefix<'_> {
    type State = u32;

    fn start(&self) -> u32 {
        self.0.initial_state()
    }

    fn is_match(&self, state: &u32) -> bool {
        matches!(self.0.distance(*state), Distance::Exact(_))
    }

    fn can_match(&self, state: &u32) -> bool {
        *state != SINK_STATE
    }

    fn accept(&self, state: &u32, byte: u8) -> u32 {
        self.0.transition(*state, byte)
    }
}

/// Completions of `typed` among the terms of `field`, as `kind`: each distinct term once,
/// weighted by the items carrying it.
fn complete(
    searcher: &Searcher,
    field: Field,
    dfa: &DFA,
    kind: SuggestionKind,
    scan_limit: usize,
) -> Result<Vec<Suggestion>, StoreError> {
    let mut found: HashMap<Vec<u8>, (u8, u64)> = HashMap::new();
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(field).map_err(super::failed)?;
        let mut stream = inverted
            .terms()
            .search(Prefix(dfa))
            .into_stream()
            .map_err(super::failed)?;
        let mut scanned = 0;
        while stream.advance() && scanned < scan_limit {
            scanned += 1;
            let typos = match dfa.eval(stream.key()) {
                Distance::Exact(d) => d,
                Distance::AtLeast(_) => continue,
            };
            let entry = found.entry(stream.key().to_vec()).or_insert((typos, 0));
            entry.1 += u64::from(stream.value().doc_freq);
        }
    }
    Ok(found
        .into_iter()
        .filter_map(|(key, (typos, weight))| {
            Some(Suggestion {
                text: String::from_utf8(key).ok()?,
                kind,
                typos,
                weight,
            })
        })
        .collect())
}

/// Brands, categories and item names completing `typed`.
pub(super) fn suggest(
    searcher: &Searcher,
    fields: &super::Fields,
    typed: &Typed,
) -> Result<Vec<Suggestion>, StoreError> {
    let dfa = builder(typed.typos()).build_prefix_dfa(&typed.prefix);
    let mut all = complete(
        searcher,
        fields.brand_key,
        &dfa,
        SuggestionKind::Brand,
        usize::MAX,
    )?;
    all.extend(complete(
        searcher,
        fields.category,
        &dfa,
        SuggestionKind::Category,
        usize::MAX,
    )?);
    all.extend(complete(
        searcher,
        fields.name_key,
        &dfa,
        SuggestionKind::Item,
        NAMES_SCANNED,
    )?);
    Ok(all)
}
