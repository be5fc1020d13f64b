//! Money in integer minor units with an ISO 4217 currency: no floats anywhere near prices.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The currencies Aisle prices in. A closed list: an unknown code is rejected at the edge
/// rather than stored and mis-rendered later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Currency {
    /// US dollar (cents).
    Usd,
    /// Canadian dollar (cents).
    Cad,
    /// Euro (cents).
    Eur,
    /// Pound sterling (pence).
    Gbp,
    /// Japanese yen (no minor unit).
    Jpy,
    /// Mexican peso (centavos).
    Mxn,
}

impl Currency {
    /// Every currency accepted.
    pub const ALL: [Currency; 6] = [
        Self::Usd,
        Self::Cad,
        Self::Eur,
        Self::Gbp,
        Self::Jpy,
        Self::Mxn,
    ];

    /// The smallest and largest amount one charge may have, minor units, as Stripe's
    /// "Minimum and maximum charge amounts" (docs.stripe.com/currencies#minimum-and-maximum-charge-amounts)
    /// lists them: a card payment below the minimum or above eight digits is refused.
    pub fn charge_limits(self) -> (i64, i64) {
        let minimum = match self {
            Self::Usd | Self::Cad | Self::Eur => 50,
            Self::Gbp => 30,
            Self::Jpy => 50,
            Self::Mxn => 1_000,
        };
        (minimum, 99_999_999)
    }

    /// The ISO 4217 alphabetic code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Usd => "USD",
            Self::Cad => "CAD",
            Self::Eur => "EUR",
            Self::Gbp => "GBP",
            Self::Jpy => "JPY",
            Self::Mxn => "MXN",
        }
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(code: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|c| c.code()).collect();
                format!("currency must be one of {}", known.join(", "))
            })
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(code: String) -> Result<Self, String> {
        code.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A price: a positive amount of minor units (cents for USD) in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Minor units (cents for USD).
    pub amount: i64,
    /// ISO 4217 currency code.
    pub currency: Currency,
}

impl Money {
    /// The largest single price accepted: the largest amount any one charge may have
    /// ([`Currency::charge_limits`]), since a dearer item could never be paid for.
    pub const MAX_AMOUNT: i64 = 99_999_999;

    /// Whether one charge of this amount is within the provider's limits for its currency
    /// (`Err` names the limits, minor units).
    pub fn chargeable(self) -> Result<(), (i64, i64)> {
        let (min, max) = self.currency.charge_limits();
        if (min..=max).contains(&self.amount) {
            Ok(())
        } else {
            Err((min, max))
        }
    }

    /// A price from raw parts, as sent by a client.
    pub fn price(amount: i64, currency: &str) -> Result<Self, String> {
        let currency = currency.parse()?;
        if !(1..=Self::MAX_AMOUNT).contains(&amount) {
            return Err(format!(
                "amount must be 1..={} minor units",
                Self::MAX_AMOUNT
            ));
        }
        Ok(Self { amount, currency })
    }

    /// `units` of this price. Prices are at most [`Self::MAX_AMOUNT`] and lines at most a
    /// few units, so this cannot overflow in practice; checked anyway, never wrapping.
    pub fn times(self, units: u32) -> Money {
        Money {
            amount: self
                .amount
                .checked_mul(i64::from(units))
                .expect("price × quantity fits in i64 (both are bounded)"),
            currency: self.currency,
        }
    }

    /// The sum of `amounts` in `currency` (checked, see [`Money::times`]).
    pub fn sum(currency: Currency, amounts: impl IntoIterator<Item = i64>) -> Money {
        let amount = amounts
            .into_iter()
            .try_fold(0i64, i64::checked_add)
            .expect("a sum of bounded line totals fits in i64");
        Money { amount, currency }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_rejects_unknown_currencies_and_non_positive_or_huge_amounts() {
        assert!(Money::price(1999, "USD").is_ok());
        assert!(Money::price(1999, "usd").is_err());
        assert!(Money::price(1999, "XYZ").is_err());
        assert!(Money::price(0, "USD").is_err());
        assert!(Money::price(-5, "USD").is_err());
        assert!(Money::price(Money::MAX_AMOUNT + 1, "USD").is_err());
    }

    #[test]
    fn a_charge_is_within_stripes_limits_for_its_currency() {
        let usd = |amount| Money {
            amount,
            currency: Currency::Usd,
        };
        assert_eq!(usd(49).chargeable(), Err((50, 99_999_999)));
        assert_eq!(usd(50).chargeable(), Ok(()));
        assert_eq!(usd(99_999_999).chargeable(), Ok(()));
        assert!(usd(100_000_000).chargeable().is_err());
        let gbp = Money {
            amount: 30,
            currency: Currency::Gbp,
        };
        assert_eq!(gbp.chargeable(), Ok(()));
        let mxn = Money {
            amount: 999,
            currency: Currency::Mxn,
        };
        assert_eq!(mxn.chargeable(), Err((1_000, 99_999_999)));
        // Every price a seller can set is chargeable on its own or a few at a time.
        assert!(Money::MAX_AMOUNT <= Currency::Usd.charge_limits().1);
    }
}
