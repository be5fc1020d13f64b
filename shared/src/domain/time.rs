//! Timestamps: UTC, millisecond precision, RFC 3339 text that sorts as it reads.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A UTC instant, serialized as fixed-width RFC 3339 with milliseconds
/// (`2026-11-22T12:00:00.000Z`), so string order equals time order in sort keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The system time (use cases read a `Clock` instead).
    pub fn now() -> Self {
        Self::from_unix_millis(OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000)
    }

    /// From milliseconds since the Unix epoch.
    pub fn from_unix_millis(millis: i64) -> Self {
        let nanos = i128::from(millis) * 1_000_000;
        Self(OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH))
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Seconds since the Unix epoch (DynamoDB TTL's unit).
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The UTC calendar day.
    pub fn date(self) -> time::Date {
        self.0.date()
    }

    /// `millis` later (earlier if negative).
    pub fn plus_millis(self, millis: i64) -> Self {
        Self::from_unix_millis(self.unix_millis() + millis)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

impl TryFrom<String> for Timestamp {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        let parsed = OffsetDateTime::parse(&raw, &Rfc3339)
            .map_err(|_| "must be an RFC 3339 timestamp".to_owned())?;
        Ok(Self::from_unix_millis(
            (parsed.unix_timestamp_nanos() / 1_000_000) as i64,
        ))
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_sort_as_text() {
        let a = Timestamp::from_unix_millis(1_700_000_000_123);
        let b = a.plus_millis(1);
        assert_eq!(a.to_string(), "2023-11-14T22:13:20.123Z");
        assert_eq!(Timestamp::try_from(a.to_string()).unwrap(), a);
        assert!(a.to_string() < b.to_string());
        assert!(Timestamp::try_from("yesterday".to_owned()).is_err());
    }
}
