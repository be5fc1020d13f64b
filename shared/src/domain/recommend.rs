//! Recommendations computed from what shoppers did, as pure counting (fed by
//! `usecases::recommend` from the stored counters, and by `make bench-recommendations`): who bought what together ("customers who bought this also
//! bought"), what most shoppers bought (popularity, the baseline), and "for you" from a
//! shopper's own purchases. Counts are of distinct shoppers, so one shopper (or a bot) buying
//! the same pair a hundred times counts once. `make bench-recommendations` measures their
//! hit rate on a generated history against the popularity baseline.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::Hash;

/// Co-purchase counts: for each item, how many distinct shoppers also bought each other item
/// (in any of their orders).
#[derive(Debug, Clone, Default)]
pub struct CoPurchases<T: Copy + Eq + Hash + Ord> {
    pairs: HashMap<T, HashMap<T, u32>>,
    popularity: HashMap<T, u32>,
}

impl<T: Copy + Eq + Hash + Ord> CoPurchases<T> {
    /// Count from each shopper's purchases (every item they bought, in any order).
    pub fn from_shoppers<'a>(shoppers: impl IntoIterator<Item = &'a BTreeSet<T>>) -> Self
    where
        T: 'a,
    {
        let mut counts = Self {
            pairs: HashMap::new(),
            popularity: HashMap::new(),
        };
        for bought in shoppers {
            for &a in bought {
                *counts.popularity.entry(a).or_default() += 1;
                let row = counts.pairs.entry(a).or_default();
                for &b in bought {
                    if a != b {
                        *row.entry(b).or_default() += 1;
                    }
                }
            }
        }
        counts
    }

    /// Up to `k` items most bought by the shoppers who bought `item`, best first (ties by
    /// id), only those `eligible` (in stock and listed).
    pub fn also_bought(&self, item: T, k: usize, eligible: impl Fn(T) -> bool) -> Vec<T> {
        let Some(row) = self.pairs.get(&item) else {
            return Vec::new();
        };
        top(row.iter().map(|(i, c)| (*i, *c)), k, eligible)
    }

    /// Up to `k` items most shoppers bought, best first, only those `eligible`.
    pub fn popular(&self, k: usize, eligible: impl Fn(T) -> bool) -> Vec<T> {
        top(self.popularity.iter().map(|(i, c)| (*i, *c)), k, eligible)
    }

    /// "For you": up to `k` items bought together with what `bought` holds, summed over
    /// those items, never one already bought; filled up from the popular ones.
    pub fn for_you(&self, bought: &BTreeSet<T>, k: usize, eligible: impl Fn(T) -> bool) -> Vec<T> {
        let rows: Vec<Vec<(T, u32)>> = bought
            .iter()
            .map(|item| {
                self.pairs
                    .get(item)
                    .into_iter()
                    .flatten()
                    .map(|(other, count)| (*other, *count))
                    .collect()
            })
            .collect();
        let popular = self.popular(k + bought.len(), |_| true);
        for_you(&rows, &[], &popular, bought, k, eligible)
    }
}

/// "For you" from what a shopper's purchases were each bought with (`rows`: one list of
/// `(item, shoppers)` per purchase), the items their recent searches found (`searched`, best
/// first) and the popular ones (`popular`, best first): co-purchases summed first, then
/// searched, then popular; never what is in `bought`, nothing twice, only `eligible`, up to `k`.
/// The same blend serves the benchmark's in-memory counts and the stored counters.
pub fn for_you<T: Copy + Eq + Hash + Ord>(
    rows: &[Vec<(T, u32)>],
    searched: &[T],
    popular: &[T],
    bought: &BTreeSet<T>,
    k: usize,
    eligible: impl Fn(T) -> bool,
) -> Vec<T> {
    let mut scores: HashMap<T, u32> = HashMap::new();
    for (other, count) in rows.iter().flatten() {
        if !bought.contains(other) {
            let score = scores.entry(*other).or_default();
            *score = score.saturating_add(*count);
        }
    }
    let mut picked = top(scores.into_iter(), k, &eligible);
    let mut chosen: HashSet<T> = picked.iter().copied().collect();
    for &item in searched.iter().chain(popular) {
        if picked.len() >= k {
            break;
        }
        if !bought.contains(&item) && eligible(item) && chosen.insert(item) {
            picked.push(item);
        }
    }
    picked
}

/// Sum the counts of `lists` (one subject's counts from several buckets) and rank them,
/// highest first, ties by subject.
pub fn merged_ranking<T: Clone + Eq + Hash + Ord>(lists: &[Vec<(T, u64)>]) -> Vec<(T, u64)> {
    let mut sums: HashMap<T, u64> = HashMap::new();
    for (subject, count) in lists.iter().flatten() {
        let sum = sums.entry(subject.clone()).or_default();
        *sum = sum.saturating_add(*count);
    }
    let mut ranked: Vec<(T, u64)> = sums.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked
}

/// The `k` best of `(item, count)`, highest count first, ties by item.
fn top<T: Copy + Ord>(
    scored: impl Iterator<Item = (T, u32)>,
    k: usize,
    keep: impl Fn(T) -> bool,
) -> Vec<T> {
    let mut all: Vec<(u32, T)> = scored
        .filter(|(i, _)| keep(*i))
        .map(|(i, c)| (c, i))
        .collect();
    all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    all.into_iter().take(k).map(|(_, i)| i).collect()
}

/// Each shopper's distinct purchases from `(shopper, item)` lines (repeats count once).
pub fn by_shopper<S: Ord, T: Copy + Ord>(
    lines: impl IntoIterator<Item = (S, T)>,
) -> BTreeMap<S, BTreeSet<T>> {
    let mut out: BTreeMap<S, BTreeSet<T>> = BTreeMap::new();
    for (shopper, item) in lines {
        out.entry(shopper).or_default().insert(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shoppers(lists: &[&[u32]]) -> Vec<BTreeSet<u32>> {
        lists.iter().map(|l| l.iter().copied().collect()).collect()
    }

    #[test]
    fn items_bought_together_by_more_shoppers_come_first_and_ineligible_ones_never() {
        let history = shoppers(&[&[1, 2, 3], &[1, 2], &[1, 4], &[2, 3]]);
        let co = CoPurchases::from_shoppers(&history);
        assert_eq!(co.also_bought(1, 10, |_| true), vec![2, 3, 4]);
        assert_eq!(co.also_bought(1, 1, |_| true), vec![2]);
        // Sold out or unlisted: left out.
        assert_eq!(co.also_bought(1, 10, |i| i != 2), vec![3, 4]);
        assert!(co.also_bought(9, 10, |_| true).is_empty());
    }

    #[test]
    fn one_shopper_buying_a_pair_again_and_again_counts_once() {
        let lines = [
            ("bot", 7),
            ("bot", 8),
            ("bot", 7),
            ("bot", 8),
            ("ann", 7),
            ("ann", 9),
            ("bob", 7),
            ("bob", 9),
        ];
        let history = by_shopper(lines);
        let co = CoPurchases::from_shoppers(history.values());
        assert_eq!(co.also_bought(7, 1, |_| true), vec![9]);
    }

    #[test]
    fn for_you_leaves_out_what_the_shopper_bought_and_fills_up_from_the_popular() {
        let history = shoppers(&[&[1, 2], &[1, 2], &[1, 3], &[5], &[5], &[5]]);
        let co = CoPurchases::from_shoppers(&history);
        let mine: BTreeSet<u32> = [1].into();
        assert_eq!(co.for_you(&mine, 3, |_| true), vec![2, 3, 5]);
        let mine: BTreeSet<u32> = [1, 2].into();
        assert_eq!(co.for_you(&mine, 2, |_| true), vec![3, 5]);
        assert_eq!(co.popular(2, |_| true), vec![1, 5]);
    }

    #[test]
    fn for_you_from_stored_counts_puts_searches_between_co_purchases_and_popular() {
        let bought: BTreeSet<u32> = [1].into();
        let rows = vec![vec![(2, 5), (1, 9)], vec![(3, 1)]];
        let picked = for_you(&rows, &[7, 2], &[1, 8, 9], &bought, 5, |i| i != 9);
        assert_eq!(picked, vec![2, 3, 7, 8]);
    }

    #[test]
    fn rankings_over_two_buckets_add_up_per_subject() {
        let ranked = merged_ranking(&[vec![("a", 2), ("b", 3)], vec![("a", 2), ("c", 1)]]);
        assert_eq!(ranked, vec![("a", 4), ("b", 3), ("c", 1)]);
    }
}
