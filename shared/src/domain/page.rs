//! Pagination: a bounded page size and an opaque continuation cursor.

use serde::Serialize;

/// An opaque continuation token handed out with one page and given back for the next.
/// Only the adapter that issued it can read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub String);

/// Which page a caller wants.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// At most this many.
    pub limit: u32,
    /// Where the next page starts, if there is one.
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    /// Page size when none is asked for.
    pub const DEFAULT_LIMIT: u32 = 20;
    /// Largest page size allowed.
    pub const MAX_LIMIT: u32 = 100;

    /// Parse the raw `limit` and `cursor` query values.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self, String> {
        let limit = match limit {
            None => Self::DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=Self::MAX_LIMIT).contains(&n) => n,
                _ => return Err(format!("limit must be 1..={}", Self::MAX_LIMIT)),
            },
        };
        let cursor = match cursor {
            None => None,
            Some(raw) if !raw.is_empty() && raw.len() <= 2048 => Some(Cursor(raw.to_owned())),
            Some(_) => return Err("cursor is not one this API issued".into()),
        };
        Ok(Self { limit, cursor })
    }
}

/// One page of results and the cursor for the next, absent on the last page.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The entries.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<String>,
}
