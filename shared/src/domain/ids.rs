//! Typed identifiers. Each wraps its raw form and can only be built from valid input, so a
//! `WarehouseId` can never be passed where an `ItemId` is meant.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares a UUID-backed id: server-generated, parsed from its hyphenated text form.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random id.
            pub fn generate() -> Self {
                Self(Uuid::new_v4())
            }

            /// The same id every time for the same `name` (UUID v5), for ids that must
            /// not multiply when an operation is retried.
            pub fn derived_from(name: &str) -> Self {
                Self(Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("aisle:{}:{name}", stringify!($name)).as_bytes()))
            }

            /// The UUID's 16 bytes, big-endian (their order is the text form's order).
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl TryFrom<&str> for $name {
            type Error = String;
            fn try_from(raw: &str) -> Result<Self, String> {
                // Hyphenated form only; it is stored lowercase, so every spelling hits the same key.
                match Uuid::try_parse(raw) {
                    Ok(uuid) if raw.len() == 36 && uuid.hyphenated().to_string() == raw.to_ascii_lowercase() => {
                        Ok(Self(uuid))
                    }
                    _ => Err(format!("{} must be a UUID", $what)),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(raw: String) -> Result<Self, String> {
                Self::try_from(raw.as_str())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}
uuid_id!(
    /// A catalog item (one sellable product).
    ItemId,
    "item id"
);

uuid_id!(
    /// One product image: a seller's upload and, once accepted, its renditions (it names
    /// both the upload's key and every rendition's, so a new upload is always a new URL).
    ImageId,
    "image id"
);

uuid_id!(
    /// A checkout: the stock held for one shopper while they pay.
    CheckoutId,
    "checkout id"
);

uuid_id!(
    /// A placed order.
    OrderId,
    "order id"
);

uuid_id!(
    /// A return authorisation: what a shopper may send back, and the label the warehouse
    /// scans when it arrives.
    ReturnId,
    "return id"
);

uuid_id!(
    /// Returned units held for a person to decide on (beyond what was authorised, or sent
    /// without an authorisation).
    ReviewId,
    "review id"
);

/// Declares a slug-like id supplied by an identity provider or an operator.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(raw: String) -> Result<Self, String> {
                let allowed: fn(char) -> bool = $allowed;
                if raw.is_empty() || raw.len() > $max || !raw.chars().all(allowed) {
                    return Err(format!("{} must be 1-{} characters of [{}]", $what, $max, stringify!($allowed)));
                }
                Ok(Self(raw))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = String;
            fn try_from(raw: &str) -> Result<Self, String> {
                Self::try_from(raw.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// The authenticated principal: the JWT `sub` claim (a Cognito user's UUID).
    UserId,
    "user id",
    128,
    |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '@')
);

text_id!(
    /// A warehouse (fulfilment site), e.g. `wh-1000` for the Best Buy store 1000 site.
    WarehouseId,
    "warehouse id",
    40,
    |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_id_accepts_only_the_canonical_uuid_form() {
        let id = ItemId::generate().to_string();
        assert_eq!(ItemId::try_from(id.as_str()).unwrap().to_string(), id);
        assert!(ItemId::try_from(id.to_uppercase().as_str()).is_ok());
        assert!(ItemId::try_from(id.replace('-', "").as_str()).is_err());
        assert!(ItemId::try_from("not-a-uuid").is_err());
        assert!(ItemId::try_from("").is_err());
    }

    #[test]
    fn warehouse_id_rejects_uppercase_spaces_and_overlong_values() {
        assert!(WarehouseId::try_from("wh-1000").is_ok());
        assert!(WarehouseId::try_from("WH-1000").is_err());
        assert!(WarehouseId::try_from("wh 1000").is_err());
        assert!(WarehouseId::try_from("w".repeat(41)).is_err());
    }
}
