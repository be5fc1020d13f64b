//! Opaque page cursors over DynamoDB's `LastEvaluatedKey`.
//!
//! A cursor is the key encoded as base64url JSON. Decoding checks that it names exactly the
//! key attributes of the listing it is used with and the same partition (so a cursor from one
//! category or seller cannot be replayed against another), and that every value is a string.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{s, Record};
use crate::domain::Cursor;
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;

/// Encode the last evaluated key of a page, if any.
pub(crate) fn encode(last_key: Option<&Record>) -> Option<String> {
    let key = last_key?;
    let flat: BTreeMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.as_str(), v.as_str())))
        .collect();
    Some(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&flat).ok()?))
}

/// Decode a cursor for a listing keyed by `attributes`, whose partition attribute
/// `partition.0` must equal `partition.1`.
pub(crate) fn decode(
    cursor: &Cursor,
    attributes: &[&str],
    partition: (&str, &str),
) -> Result<Record, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.0.as_bytes())
        .map_err(|_| StoreError::BadCursor)?;
    let flat: BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    let names_match =
        flat.len() == attributes.len() && attributes.iter().all(|a| flat.contains_key(*a));
    if !names_match || flat.get(partition.0).map(String::as_str) != Some(partition.1) {
        return Err(StoreError::BadCursor);
    }
    if flat.values().any(|v| v.is_empty() || v.len() > 512) {
        return Err(StoreError::BadCursor);
    }
    Ok(flat
        .into_iter()
        .map(|(k, v)| (k, s(v)))
        .collect::<std::collections::HashMap<String, AttributeValue>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Record {
        [
            ("itemId", "i-1"),
            ("category", "tvs"),
            ("createdAt", "2026-01-01T00:00:00.000Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), s(v)))
        .collect()
    }

    const ATTRS: [&str; 3] = ["itemId", "category", "createdAt"];

    #[test]
    fn a_cursor_round_trips_for_its_own_partition() {
        let cursor = Cursor(encode(Some(&key())).unwrap());
        assert_eq!(decode(&cursor, &ATTRS, ("category", "tvs")).unwrap(), key());
    }

    #[test]
    fn a_cursor_is_refused_for_another_partition_or_when_tampered() {
        let cursor = Cursor(encode(Some(&key())).unwrap());
        assert!(matches!(
            decode(&cursor, &ATTRS, ("category", "laptops")),
            Err(StoreError::BadCursor)
        ));
        assert!(matches!(
            decode(&Cursor("!!".into()), &ATTRS, ("category", "tvs")),
            Err(StoreError::BadCursor)
        ));
        let other = Cursor(URL_SAFE_NO_PAD.encode(br#"{"itemId":"x","category":"tvs"}"#));
        assert!(matches!(
            decode(&other, &ATTRS, ("category", "tvs")),
            Err(StoreError::BadCursor)
        ));
    }
}
