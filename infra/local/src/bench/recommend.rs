//! Recommendation quality on a generated purchase history with known structure
//! (`aisle::domain::recommend`): 2,000 products in 100 families of 20 (a console and its
//! games, a camera and its lenses); each shopper has a family they buy in (80 % of their
//! purchases, skewed to the family's first items) and otherwise buys across the catalogue
//! (skewed to the best sellers). Each shopper's last purchase is held out; the rest trains.
//! Hit rate at 10: how often the held-out item is among the 10 recommended, for "also bought"
//! (asked about the shopper's previous purchase) and "for you" (from everything they bought
//! before), against the popularity baseline, in the same run.

use std::collections::BTreeSet;

use aisle::domain::recommend::CoPurchases;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FAMILIES: u32 = 100;
const FAMILY_SIZE: u32 = 20;

/// A skewed pick in `0..n` (rank r with weight 1/(r+1)).
fn skewed(rng: &mut StdRng, n: u32) -> u32 {
    let total: f64 = (1..=n).map(|r| 1.0 / f64::from(r)).sum();
    let mut x = rng.gen::<f64>() * total;
    for r in 0..n {
        x -= 1.0 / f64::from(r + 1);
        if x <= 0.0 {
            return r;
        }
    }
    n - 1
}

/// Print the hit-rate table for `shoppers` generated shoppers.
pub fn recommendations(shoppers: usize) {
    let mut rng = StdRng::seed_from_u64(28);
    let items = FAMILIES * FAMILY_SIZE;
    let mut histories: Vec<Vec<u32>> = Vec::with_capacity(shoppers);
    for _ in 0..shoppers {
        let family = rng.gen_range(0..FAMILIES);
        let count = rng.gen_range(3..=8);
        let mut bought: Vec<u32> = Vec::new();
        while bought.len() < count {
            let item = if rng.gen_bool(0.8) {
                family * FAMILY_SIZE + skewed(&mut rng, FAMILY_SIZE)
            } else {
                // Best sellers across the catalogue: a random permutation of ranks.
                (skewed(&mut rng, items) * 7919) % items
            };
            if !bought.contains(&item) {
                bought.push(item);
            }
        }
        histories.push(bought);
    }
    let train: Vec<BTreeSet<u32>> = histories
        .iter()
        .map(|h| h[..h.len() - 1].iter().copied().collect())
        .collect();
    let co = CoPurchases::from_shoppers(&train);
    let mut hits = [0u32; 4];
    for (history, bought) in histories.iter().zip(&train) {
        let held_out = history[history.len() - 1];
        let previous = history[history.len() - 2];
        let not_bought = |i: u32| !bought.contains(&i);
        let also = co.also_bought(previous, 10, not_bought);
        let popular_for_previous = co.popular(10, |i| i != previous && not_bought(i));
        let for_you = co.for_you(bought, 10, |_| true);
        let popular = co.popular(10, not_bought);
        for (slot, list) in [&also, &popular_for_previous, &for_you, &popular]
            .iter()
            .enumerate()
        {
            if list.contains(&held_out) {
                hits[slot] += 1;
            }
        }
    }
    let rate = |h: u32| 100.0 * f64::from(h) / shoppers as f64;
    println!(
        "{shoppers} shoppers, {items} products in {FAMILIES} families; each shopper's last purchase held out"
    );
    println!("| recommender | hit rate at 10 | popularity baseline at 10 |");
    println!("|---|---|---|");
    println!(
        "| also bought (the previous purchase) | {:.1} % | {:.1} % |",
        rate(hits[0]),
        rate(hits[1])
    );
    println!(
        "| for you (all earlier purchases) | {:.1} % | {:.1} % |",
        rate(hits[2]),
        rate(hits[3])
    );
}
