//! US shipping addresses, validated at the edge.

use serde::{Deserialize, Serialize};

/// The 50 states, DC and the inhabited territories (USPS codes).
const STATES: [&str; 56] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC", "PR", "GU", "VI", "AS", "MP",
];

/// A deliverable US address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Address {
    /// The product name, as listed.
    pub name: String,
    /// Street address.
    pub line1: String,
    /// Apartment, suite, etc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// The city.
    pub city: String,
    /// Its state.
    pub state: String,
    /// Five digits, or ZIP+4 (`12345-6789`).
    pub zip: String,
    /// ISO 3166 country code.
    pub country: String,
}

impl Address {
    /// The five-digit ZIP.
    pub fn zip5(&self) -> &str {
        &self.zip[..5]
    }

    /// Check every field, naming each one that is wrong (paths under `shippingAddress.`).
    pub fn validate(self) -> Result<Self, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let mut text = |field: &str, value: &str, max: usize| {
            if value.trim().is_empty()
                || value.chars().count() > max
                || value.chars().any(char::is_control)
            {
                errors.push((
                    field.to_owned(),
                    format!("required, at most {max} printable characters"),
                ));
            }
        };
        text("name", &self.name, 100);
        text("line1", &self.line1, 200);
        if let Some(line2) = &self.line2 {
            text("line2", line2, 200);
        }
        text("city", &self.city, 100);
        if !STATES.contains(&self.state.as_str()) {
            errors.push((
                "state".into(),
                "must be a two-letter USPS state code".into(),
            ));
        }
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let zip_ok = match self.zip.split_once('-') {
            None => self.zip.len() == 5 && digits(&self.zip),
            Some((five, four)) => {
                five.len() == 5 && four.len() == 4 && digits(five) && digits(four)
            }
        };
        if !zip_ok {
            errors.push((
                "zip".into(),
                "must be a US ZIP code (12345 or 12345-6789)".into(),
            ));
        }
        if self.country != "US" {
            errors.push((
                "country".into(),
                "Aisle ships to the US only (\"US\")".into(),
            ));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> Address {
        Address {
            name: "Ada Lovelace".into(),
            line1: "340 W Market".into(),
            line2: None,
            city: "Bloomington".into(),
            state: "MN".into(),
            zip: "55425".into(),
            country: "US".into(),
        }
    }

    #[test]
    fn a_us_address_validates_and_bad_fields_are_each_named() {
        assert!(address().validate().is_ok());
        assert!(Address {
            zip: "55425-1234".into(),
            ..address()
        }
        .validate()
        .is_ok());
        let bad = Address {
            zip: "5542".into(),
            state: "XX".into(),
            name: " ".into(),
            ..address()
        };
        let fields: Vec<String> = bad
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(fields, ["name", "state", "zip"]);
    }
}
