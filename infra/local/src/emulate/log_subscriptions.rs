//! CloudWatch Logs subscription filters, played locally: the functions' log lines (what
//! `cargo lambda watch` prints to `$AISLE_STATE/lambda.log`, one log group as in AWS, where
//! every function logs to `FunctionLogs`) are tailed, the lines matching a `CloudWatchLogs`
//! event's `FilterPattern` are batched, gzipped and base64-encoded as CloudWatch Logs delivers
//! them (`{"awslogs": {"data": ...}}`,
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html#LambdaFunctionExample>),
//! and the subscribed function is invoked with them asynchronously: a failed batch is retried
//! twice, as Lambda retries an asynchronous invocation, then dropped with a log line (in AWS
//! it would go to the function's on-failure destination).
//!
//! Only the filter-pattern form the template uses is understood, a JSON property equal to a
//! string (`{ $.fields.message = "signal" }`,
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html>);
//! any other pattern fails the template's loading rather than matching wrongly.

use std::io::Write;

use anyhow::{bail, Result};
use serde_json::{json, Value};

/// A parsed `{ $.a.b = "value" }` filter pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter {
    path: Vec<String>,
    value: String,
}

impl LogFilter {
    /// Parse the one supported form.
    pub fn parse(pattern: &str) -> Result<Self> {
        let inner = pattern
            .trim()
            .strip_prefix('{')
            .and_then(|p| p.strip_suffix('}'))
            .map(str::trim);
        let Some((selector, value)) = inner.and_then(|i| i.split_once('=')) else {
            bail!("only {{ $.property = \"value\" }} patterns run locally, not {pattern:?}");
        };
        let path = selector
            .trim()
            .strip_prefix("$.")
            .filter(|p| !p.is_empty() && p.split('.').all(|part| !part.is_empty()))
            .map(|p| p.split('.').map(str::to_owned).collect::<Vec<_>>());
        let value = value
            .trim()
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .filter(|v| !v.contains('*') && !v.contains('"'));
        match (path, value) {
            (Some(path), Some(value)) => Ok(Self {
                path,
                value: value.to_owned(),
            }),
            _ => bail!("only {{ $.property = \"value\" }} patterns run locally, not {pattern:?}"),
        }
    }

    /// Whether a log line (the whole printed line) matches.
    pub fn matches(&self, line: &str) -> bool {
        let Ok(json) = serde_json::from_str::<Value>(line) else {
            return false;
        };
        let mut at = &json;
        for part in &self.path {
            match at.get(part) {
                Some(next) => at = next,
                None => return false,
            }
        }
        at.as_str() == Some(self.value.as_str())
    }
}

/// One log event as a subscription delivers it.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// Unique per event (CloudWatch gives a 56-digit number; any unique text serves).
    pub id: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The line as printed.
    pub message: String,
}

/// The invocation payload CloudWatch Logs sends a subscribed function for `lines`.
pub fn event(log_group: &str, filter_name: &str, lines: &[LogLine]) -> Result<Value> {
    use base64::Engine;
    let data = json!({
        "messageType": "DATA_MESSAGE",
        "owner": crate::template::MOTO_ACCOUNT,
        "logGroup": log_group,
        "logStream": "local",
        "subscriptionFilters": [filter_name],
        "logEvents": lines.iter().map(|l| json!({
            "id": l.id, "timestamp": l.timestamp, "message": l.message,
        })).collect::<Vec<_>>(),
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data.to_string().as_bytes())?;
    let zipped = gz.finish()?;
    Ok(json!({ "awslogs": { "data": base64::engine::general_purpose::STANDARD.encode(zipped) } }))
}

/// Reads the lines appended to a file since the last call (from its end at the start).
#[derive(Debug)]
pub struct Tail {
    path: std::path::PathBuf,
    offset: u64,
    partial: String,
}

impl Tail {
    /// Start at the file's current end: only what is logged from now on is delivered.
    pub fn from_end(path: impl Into<std::path::PathBuf>) -> Self {
        let path = path.into();
        let offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Self {
            path,
            offset,
            partial: String::new(),
        }
    }

    /// The complete lines appended since the last call.
    pub fn read(&mut self) -> Vec<String> {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Truncated (a new `make dev`): start over from its beginning.
            self.offset = 0;
            self.partial.clear();
        }
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(self.offset)).is_err() || file.read_to_end(&mut bytes).is_err()
        {
            return Vec::new();
        }
        self.offset += bytes.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&bytes));
        let mut lines: Vec<String> = self.partial.split('\n').map(str::to_owned).collect();
        self.partial = lines.pop().unwrap_or_default();
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_pattern_matches_signal_lines_only_and_others_are_refused() {
        let filter = LogFilter::parse(r#"{ $.fields.message = "signal" }"#).unwrap();
        assert!(filter.matches(r#"{"level":"INFO","fields":{"message":"signal","signal":"{}"}}"#));
        assert!(!filter.matches(r#"{"level":"INFO","fields":{"message":"indexed"}}"#));
        assert!(!filter.matches("Error: not json"));
        assert!(LogFilter::parse(r#"{ $.fields.message = "sig*" }"#).is_err());
        assert!(LogFilter::parse("ERROR").is_err());
    }

    #[test]
    fn a_batch_decodes_as_aws_lambda_events_reads_it() {
        let lines = [LogLine {
            id: "1".into(),
            timestamp: 1_700_000_000_000,
            message: "{\"a\":1}".into(),
        }];
        let payload = event("/aws/lambda/local", "signals", &lines).unwrap();
        let logs: aws_lambda_events::cloudwatch_logs::LogsEvent =
            serde_json::from_str(&payload.to_string()).unwrap();
        assert_eq!(logs.aws_logs.data.log_events[0].message, "{\"a\":1}");
        assert_eq!(logs.aws_logs.data.subscription_filters, ["signals"]);
    }
}
