//! Shopper signals: what shoppers search for, look at, put in their cart or wishlist and buy,
//! the raw material of recommendations and search suggestions (issue 28).
//!
//! Searches, views and cart and wishlist adds are written by the function that served them as
//! one structured log line ([`SignalLine::emit`]): a write to stdout, so the request never
//! waits on it. The functions' shared log group has a subscription filter that hands those
//! lines to `record-signals` in batches (CloudWatch Logs subscription filters,
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html>).
//! Purchases come from the `OrderPlaced` domain event, which is already at-least-once.
//!
//! Counting ([`Tally`]) is of distinct shoppers per window bucket, so one shopper (or a bot
//! signed in as one) refreshing a page a thousand times counts once. Anonymous signals carry
//! no identity at all (no IP address, no cookie), so they cannot be told apart from a bot's:
//! they only feed the zero-result report, never popularity.

use serde::{Deserialize, Serialize};

use super::event::Version;
use super::{Category, ItemId, Timestamp, UserId};

/// The log message every signal line carries; the subscription filter matches on it.
pub const SIGNAL_MESSAGE: &str = "signal";

/// One thing a shopper did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Signal {
    /// A search with words (browsing without words is not a search).
    Searched {
        /// The signed-in shopper, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shopper: Option<UserId>,
        /// The query's words, normalised (lower case, folded), joined by one space.
        query: String,
        /// How many items matched.
        results: u64,
    },
    /// A signed-in shopper opened an item's page.
    Viewed {
        /// Who.
        shopper: UserId,
        /// The item.
        item: ItemId,
    },
    /// A signed-in shopper put an item in their cart.
    Carted {
        /// Who.
        shopper: UserId,
        /// The item.
        item: ItemId,
    },
    /// A signed-in shopper put an item on their wishlist.
    Wishlisted {
        /// Who.
        shopper: UserId,
        /// The item.
        item: ItemId,
    },
    /// A shopper's order was placed (from `OrderPlaced`).
    Bought {
        /// Who.
        shopper: UserId,
        /// What, once each.
        items: Vec<ItemId>,
    },
}

/// A signal as a log line carries it: versioned and stamped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignalLine {
    /// Always [`super::event::DETAIL_VERSION`]; another version is refused.
    pub version: Version,
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub signal: Signal,
}

impl SignalLine {
    /// Stamp `signal` with `at`.
    pub fn new(signal: Signal, at: Timestamp) -> Self {
        Self {
            version: Version,
            at,
            signal,
        }
    }

    /// Write the line as a structured log event (`{"fields": {"message": "signal", "signal":
    /// "<this as JSON>"}}`): the subscription filter `{ $.fields.message = "signal" }` picks it
    /// up. Nothing in it is personal beyond the shopper id.
    pub fn emit(&self) {
        match serde_json::to_string(self) {
            Ok(json) => tracing::info!(signal = %json, "{SIGNAL_MESSAGE}"),
            Err(e) => tracing::warn!(error = %e, "signal not written"),
        }
    }

    /// Read the signal out of one log event's message (the whole JSON line a function
    /// printed). `Ok(None)` for a line that is not a signal (a filter wider than ours).
    pub fn from_log_message(message: &str) -> Result<Option<Self>, String> {
        let line: serde_json::Value =
            serde_json::from_str(message).map_err(|e| format!("log line is not JSON: {e}"))?;
        let fields = line.get("fields");
        if fields
            .and_then(|f| f.get("message"))
            .and_then(|m| m.as_str())
            != Some(SIGNAL_MESSAGE)
        {
            return Ok(None);
        }
        let raw = fields
            .and_then(|f| f.get("signal"))
            .and_then(|s| s.as_str())
            .ok_or("signal line without a signal field")?;
        serde_json::from_str(raw)
            .map(Some)
            .map_err(|e| format!("not a signal: {e}"))
    }
}

/// How far back a ranking looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Window {
    /// The current clock hour and the one before it (60 to 120 minutes).
    Hour,
    /// The current UTC day and the one before it.
    Day,
}

impl Window {
    /// Both windows, each counted separately (a shopper counts once per bucket of each).
    pub const ALL: [Window; 2] = [Window::Hour, Window::Day];

    /// Parse a query parameter.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            _ => Err("must be hour or day".to_owned()),
        }
    }

    /// The bucket `at` falls in (`h2026120713`, `d20261207`).
    pub fn bucket(self, at: Timestamp) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp(at.unix_seconds())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let (y, m, d) = (t.year(), u8::from(t.month()), t.day());
        match self {
            Self::Hour => format!("h{y:04}{m:02}{d:02}{:02}", t.hour()),
            Self::Day => format!("d{y:04}{m:02}{d:02}"),
        }
    }

    /// The buckets a ranking at `now` reads: the current one and the one before.
    pub fn buckets(self, now: Timestamp) -> [String; 2] {
        let step = match self {
            Self::Hour => 3_600_000,
            Self::Day => 86_400_000,
        };
        [self.bucket(now), self.bucket(now.plus_millis(-step))]
    }

    /// How long a bucket's counters and markers are kept after it starts (TTL): long
    /// enough to be read as "the one before".
    pub fn keep_millis(self) -> i64 {
        match self {
            Self::Hour => 3 * 3_600_000,
            Self::Day => 3 * 86_400_000,
        }
    }
}

/// What a counter ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Measure {
    /// Shoppers who viewed, carted, wishlisted or bought an item ("popular now").
    Interest,
    /// Shoppers who wishlisted an item.
    Wishlisted,
    /// Shoppers who searched for a query that found something (suggestions).
    Queries,
    /// Searches that found nothing (the operator's report); anonymous ones included.
    ZeroResults,
}

impl Measure {
    fn code(self) -> &'static str {
        match self {
            Self::Interest => "interest",
            Self::Wishlisted => "wishlisted",
            Self::Queries => "queries",
            Self::ZeroResults => "zero",
        }
    }
}

/// A counter's key: one ranking, one bucket, one scope.
pub fn counter_key(measure: Measure, bucket: &str, category: Option<&Category>) -> String {
    match category {
        Some(c) => format!("{}#{bucket}#c:{}", measure.code(), c.as_str()),
        None => format!("{}#{bucket}#all", measure.code()),
    }
}

/// Count `subject` once per `once_per` in each of `counters` (same bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// The counters to add one to (overall and per category), all of one bucket.
    pub counters: Vec<String>,
    /// What is counted: an item id or a query.
    pub subject: String,
    /// What repeats are told by: the shopper (each counts once per bucket) or, for an
    /// anonymous signal, the delivery's own id (counted every time, yet once per delivery,
    /// so a redelivered batch adds nothing).
    pub once_per: String,
    /// When the counters and the marker may go (TTL).
    pub expires: Timestamp,
}

/// The tallies one signal makes, given the id its delivery carries (the log event's id) and
/// the categories of the items it names. A signal about an item whose category is unknown
/// (deleted since) still counts overall.
pub fn tallies(
    line: &SignalLine,
    delivery_id: &str,
    category_of: impl Fn(ItemId) -> Option<Category>,
) -> Vec<Tally> {
    let at = line.at;
    let mut out = Vec::new();
    let per_item = |measure: Measure, shopper: &UserId, item: ItemId, out: &mut Vec<Tally>| {
        let category = category_of(item);
        for window in Window::ALL {
            let bucket = window.bucket(at);
            let mut counters = vec![counter_key(measure, &bucket, None)];
            if let Some(c) = &category {
                counters.push(counter_key(measure, &bucket, Some(c)));
            }
            out.push(Tally {
                counters,
                subject: item.to_string(),
                once_per: shopper.to_string(),
                expires: at.plus_millis(window.keep_millis()),
            });
        }
    };
    match &line.signal {
        Signal::Searched {
            shopper,
            query,
            results,
        } => {
            if query.is_empty() {
                return out;
            }
            let bucket = Window::Day.bucket(at);
            let expires = at.plus_millis(Window::Day.keep_millis());
            if *results == 0 {
                out.push(Tally {
                    counters: vec![counter_key(Measure::ZeroResults, &bucket, None)],
                    subject: query.clone(),
                    once_per: match shopper {
                        Some(shopper) => shopper.to_string(),
                        None => format!("event:{delivery_id}"),
                    },
                    expires,
                });
            } else if let Some(shopper) = shopper {
                out.push(Tally {
                    counters: vec![counter_key(Measure::Queries, &bucket, None)],
                    subject: query.clone(),
                    once_per: shopper.to_string(),
                    expires,
                });
            }
        }
        Signal::Viewed { shopper, item } | Signal::Carted { shopper, item } => {
            per_item(Measure::Interest, shopper, *item, &mut out)
        }
        Signal::Wishlisted { shopper, item } => {
            per_item(Measure::Interest, shopper, *item, &mut out);
            per_item(Measure::Wishlisted, shopper, *item, &mut out);
        }
        Signal::Bought { shopper, items } => {
            for item in items {
                per_item(Measure::Interest, shopper, *item, &mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_unix_millis(millis)
    }

    #[test]
    fn a_signal_survives_the_log_line_it_is_written_as() {
        let line = SignalLine::new(
            Signal::Searched {
                shopper: None,
                query: "usb c cable".into(),
                results: 0,
            },
            at(1_796_000_000_000),
        );
        let json = serde_json::to_string(&line).unwrap();
        let printed = serde_json::json!({
            "level": "INFO",
            "fields": { "message": "signal", "signal": json },
            "spans": []
        })
        .to_string();
        assert_eq!(SignalLine::from_log_message(&printed), Ok(Some(line)));
        let other = r#"{"level":"INFO","fields":{"message":"indexed"}}"#;
        assert_eq!(SignalLine::from_log_message(other), Ok(None));
        assert!(SignalLine::from_log_message("not json").is_err());
        let wrong_version = printed.replace(r#"\"version\":1"#, r#"\"version\":2"#);
        assert!(SignalLine::from_log_message(&wrong_version).is_err());
    }

    #[test]
    fn buckets_are_the_current_and_the_previous_hour_or_day() {
        // 2026-12-07T00:30:00Z
        let now = at(1_796_603_400_000);
        assert_eq!(Window::Hour.buckets(now), ["h2026120700", "h2026120623"]);
        assert_eq!(Window::Day.buckets(now), ["d20261207", "d20261206"]);
    }

    #[test]
    fn a_wishlist_add_counts_as_interest_and_as_a_wish_in_both_windows_and_its_category() {
        let shopper = UserId::try_from("s1".to_owned()).unwrap();
        let item = ItemId::generate();
        let line = SignalLine::new(
            Signal::Wishlisted {
                shopper: shopper.clone(),
                item,
            },
            at(1_796_603_400_000),
        );
        let tvs = Category::try_from("tvs".to_owned()).unwrap();
        let made = tallies(&line, "e1", |_| Some(tvs.clone()));
        assert_eq!(made.len(), 4);
        assert!(made.iter().all(|t| t.once_per == "s1"));
        assert_eq!(
            made[0].counters,
            ["interest#h2026120700#all", "interest#h2026120700#c:tvs"]
        );
        assert_eq!(made[3].counters[0], "wishlisted#d20261207#all");
    }

    #[test]
    fn anonymous_searches_count_only_when_they_found_nothing() {
        let search = |results| {
            SignalLine::new(
                Signal::Searched {
                    shopper: None,
                    query: "flux capacitor".into(),
                    results,
                },
                at(1_796_603_400_000),
            )
        };
        assert!(tallies(&search(3), "e1", |_| None).is_empty());
        let zero = tallies(&search(0), "e1", |_| None);
        assert_eq!(zero.len(), 1);
        assert_eq!(zero[0].counters, ["zero#d20261207#all"]);
        assert_eq!(zero[0].once_per, "event:e1");
    }
}
