//! A count of units, bounded so that sums over a cart or a delivery cannot overflow.

use serde::{Deserialize, Serialize};

/// A positive number of units in one operation (a receipt, a cart line, a hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    /// Largest quantity one request may move: a pallet-scale delivery, far below any overflow.
    pub const MAX: u32 = 100_000;

    /// The count (at least 1).
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Quantity {
    type Error = String;
    fn try_from(raw: i64) -> Result<Self, String> {
        if (1..=i64::from(Self::MAX)).contains(&raw) {
            Ok(Self(raw as u32))
        } else {
            Err(format!("quantity must be 1..={}", Self::MAX))
        }
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> u32 {
        q.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_accepts_one_to_max_only() {
        assert_eq!(Quantity::try_from(7).unwrap().get(), 7);
        assert!(Quantity::try_from(0).is_err());
        assert!(Quantity::try_from(-1).is_err());
        assert!(Quantity::try_from(i64::from(Quantity::MAX) + 1).is_err());
    }
}
