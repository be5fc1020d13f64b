//! What S3 does for browser uploads that moto does not, played in the IAM proxy in front of it:
//!
//! - a form POST (`POST /<bucket>` with `multipart/form-data`, no `Authorization`) is checked
//!   against its signed POST policy before moto sees it: the signature (SigV4 over the
//!   base64 policy, with the local secret), the expiration, every condition (`bucket`, `eq`,
//!   `starts-with`, `content-length-range`) and that every form field is named by one, as S3
//!   checks them (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html);
//!   refusals are S3's XML errors (403 `AccessDenied`, 400 `EntityTooLarge` / `EntityTooSmall`);
//! - every object created through the proxy (a POST form, `PutObject`, `CopyObject`,
//!   `CompleteMultipartUpload`) is announced to the queues the bucket's
//!   `NotificationConfiguration` names, in S3's event message structure
//!   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html),
//!   if the queue's own policy lets `s3.amazonaws.com` send to it. The local gateway's SQS
//!   poller then delivers them to the function the template maps to the queue.
//!
//! Not played: the signer's own IAM grants (a POST carries no user agent naming the function
//! that signed it; in AWS the upload is allowed only as far as that role may `s3:PutObject`).

use std::collections::BTreeMap;

use anyhow::Result;
use base64::Engine;
use hyper::body::Bytes;
use serde_json::{json, Value as Json};

use crate::iam::QueuePolicies;
use crate::template::{bucket_name, queue_url, Template, MOTO_ACCOUNT};

/// A browser's upload form: its fields, and the file (the last part, named `file`).
#[derive(Debug, Clone, Default)]
pub struct PostForm {
    /// Every field but the file, names lowercased as S3 matches them.
    pub fields: BTreeMap<String, String>,
    /// The file's bytes.
    pub file: Bytes,
}

/// Why S3 refuses a form: status, code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

fn refused(status: u16, code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        status,
        code,
        message: message.into(),
    }
}

impl Refused {
    /// S3's XML error document.
    pub fn answer(&self) -> crate::proxy::Answer {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code,
            self.message.replace('&', "&amp;").replace('<', "&lt;")
        );
        hyper::Response::builder()
            .status(self.status)
            .header("content-type", "application/xml")
            .body(http_body_util::Full::new(Bytes::from(xml)))
            .unwrap_or_else(|_| crate::proxy::plain(500, "response build"))
    }
}

/// Whether a request is a browser's form upload to a bucket.
pub fn is_post_form(
    method: &http::Method,
    path: &str,
    content_type: &str,
    authorization: &str,
) -> bool {
    method == http::Method::POST
        && authorization.is_empty()
        && content_type.starts_with("multipart/form-data")
        && !path.trim_matches('/').is_empty()
        && !path.trim_matches('/').contains('/')
}

/// Read a multipart form.
pub async fn parse_form(content_type: &str, body: Bytes) -> Result<PostForm, Refused> {
    let bad = |e: multer::Error| {
        refused(
            400,
            "MalformedPOSTRequest",
            format!("The body of your POST request is not well-formed multipart/form-data: {e}"),
        )
    };
    let boundary = multer::parse_boundary(content_type).map_err(bad)?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = PostForm::default();
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_ascii_lowercase();
        if name == "file" {
            form.file = field.bytes().await.map_err(bad)?;
            // S3 ignores anything after the file.
            break;
        }
        let value = field.text().await.map_err(bad)?;
        form.fields.insert(name, value);
    }
    Ok(form)
}

/// Check `form`, posted to `bucket` at `now_millis`, against its policy, signed with `secret`.
pub fn check_policy(
    bucket: &str,
    form: &PostForm,
    secret: &str,
    now_millis: i64,
) -> Result<(), Refused> {
    let field = |name: &str| form.fields.get(name).map(String::as_str);
    let denied = |message: &str| refused(403, "AccessDenied", message);
    let encoded = field("policy")
        .ok_or_else(|| denied("Bucket POST must contain a field named 'policy'."))?;
    let signature = field("x-amz-signature").unwrap_or_default();
    let credential = field("x-amz-credential").unwrap_or_default();
    let scope: Vec<&str> = credential.split('/').collect();
    if field("x-amz-algorithm") != Some("AWS4-HMAC-SHA256") || scope.len() != 5 {
        return Err(denied("Invalid according to Policy: Policy Condition failed: x-amz-algorithm/x-amz-credential"));
    }
    let day = time::Date::parse(
        scope[1],
        time::macros::format_description!("[year][month][day]"),
    )
    .map_err(|_| denied("Invalid credential date"))?;
    let at = std::time::SystemTime::UNIX_EPOCH
        + std::time::Duration::from_secs(day.midnight().assume_utc().unix_timestamp().max(0) as u64);
    let key = aws_sigv4::sign::v4::generate_signing_key(secret, at, scope[2], scope[3]);
    if aws_sigv4::sign::v4::calculate_signature(key, encoded.as_bytes()) != signature {
        return Err(refused(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."));
    }
    let policy: Json = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            refused(
                400,
                "InvalidPolicyDocument",
                "Invalid Policy: Invalid JSON.",
            )
        })?;
    let expiration = policy["expiration"]
        .as_str()
        .and_then(|e| {
            time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok()
        })
        .ok_or_else(|| {
            refused(
                400,
                "InvalidPolicyDocument",
                "Invalid Policy: Invalid 'expiration' value.",
            )
        })?;
    if (expiration.unix_timestamp_nanos() / 1_000_000) as i64 <= now_millis {
        return Err(denied("Invalid according to Policy: Policy expired."));
    }
    let mut covered: Vec<String> = vec![
        "policy".into(),
        "x-amz-signature".into(),
        "file".into(),
        "bucket".into(),
    ];
    let failed = |c: &Json| {
        denied(&format!(
            "Invalid according to Policy: Policy Condition failed: {c}"
        ))
    };
    for condition in policy["conditions"].as_array().cloned().unwrap_or_default() {
        match &condition {
            Json::Object(exact) => {
                for (name, want) in exact {
                    let name = name.to_ascii_lowercase();
                    let have = if name == "bucket" {
                        Some(bucket)
                    } else {
                        field(&name)
                    };
                    if have != want.as_str() {
                        return Err(failed(&condition));
                    }
                    covered.push(name);
                }
            }
            Json::Array(parts) => match parts.first().and_then(Json::as_str) {
                Some("content-length-range") => {
                    let (min, max) = (
                        parts.get(1).and_then(Json::as_u64).unwrap_or(0),
                        parts.get(2).and_then(Json::as_u64).unwrap_or(u64::MAX),
                    );
                    let size = form.file.len() as u64;
                    if size > max {
                        return Err(refused(400, "EntityTooLarge", format!("Your proposed upload exceeds the maximum allowed size (ProposedSize {size}, MaxSizeAllowed {max})")));
                    }
                    if size < min {
                        return Err(refused(400, "EntityTooSmall", format!("Your proposed upload is smaller than the minimum allowed size (ProposedSize {size}, MinSizeAllowed {min})")));
                    }
                }
                Some(op @ ("eq" | "starts-with")) => {
                    let name = parts
                        .get(1)
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                        .trim_start_matches('$')
                        .to_ascii_lowercase();
                    let want = parts.get(2).and_then(Json::as_str).unwrap_or_default();
                    let have = if name == "bucket" {
                        Some(bucket)
                    } else {
                        field(&name)
                    };
                    let ok = match (op, have) {
                        ("eq", Some(h)) => h == want,
                        (_, Some(h)) => h.starts_with(want),
                        _ => false,
                    };
                    if !ok {
                        return Err(failed(&condition));
                    }
                    covered.push(name);
                }
                _ => {
                    return Err(refused(
                        400,
                        "InvalidPolicyDocument",
                        format!("Invalid Policy: Invalid Condition: {condition}"),
                    ))
                }
            },
            _ => {
                return Err(refused(
                    400,
                    "InvalidPolicyDocument",
                    format!("Invalid Policy: Invalid Condition: {condition}"),
                ))
            }
        }
    }
    if let Some(extra) = form
        .fields
        .keys()
        .find(|k| !k.starts_with("x-ignore-") && !covered.contains(k))
    {
        return Err(denied(&format!(
            "Invalid according to Policy: Extra input fields: {extra}"
        )));
    }
    Ok(())
}

/// One queue a bucket announces new objects to.
#[derive(Debug, Clone)]
struct Target {
    queue_url: String,
    queue_arn: String,
    prefix: String,
    suffix: String,
}

/// What the template says of its buckets that S3 acts on and moto does not: their
/// notifications (sent to moto's SQS) and their CORS origins (for the answers the proxy makes).
#[derive(Debug, Clone, Default)]
pub struct Buckets {
    sqs: Option<aws_sdk_sqs::Client>,
    by_bucket: BTreeMap<String, Vec<Target>>,
    origins: BTreeMap<String, Vec<String>>,
    policies: QueuePolicies,
}

impl Buckets {
    /// Whether `bucket`'s CORS rules allow `origin` (S3 puts the allow-origin header on its
    /// refusals too, so a page can read why).
    pub fn allows_origin(&self, bucket: &str, origin: &str) -> bool {
        self.origins
            .get(bucket)
            .is_some_and(|o| o.iter().any(|a| a == "*" || a == origin))
    }

    /// The notifications of `template`'s buckets (named with `prefix`), sent through `sqs`.
    pub fn from_template(
        template: &Template,
        prefix: &str,
        sqs: aws_sdk_sqs::Client,
    ) -> Result<Self> {
        let policies = QueuePolicies::from_template(template, prefix)?;
        let mut by_bucket = BTreeMap::new();
        let mut origins = BTreeMap::new();
        for bucket in &template.buckets {
            origins.insert(
                bucket_name(prefix, &bucket.logical_id),
                bucket.cors.iter().flat_map(|(o, _)| o.clone()).collect(),
            );
            let targets: Vec<Target> = bucket
                .notifications
                .iter()
                .filter(|n| n.event.starts_with("s3:ObjectCreated:"))
                .map(|n| Target {
                    queue_url: queue_url(prefix, &n.queue),
                    queue_arn: policies.arn("sqs", &crate::template::local_name(prefix, &n.queue)),
                    prefix: n.prefix.clone(),
                    suffix: n.suffix.clone(),
                })
                .collect();
            if !targets.is_empty() {
                by_bucket.insert(bucket_name(prefix, &bucket.logical_id), targets);
            }
        }
        Ok(Self {
            sqs: Some(sqs),
            by_bucket,
            origins,
            policies,
        })
    }

    /// Announce a new object (`how`: `Put`, `Post`, `Copy`, `CompleteMultipartUpload`).
    pub async fn object_created(&self, bucket: &str, key: &str, size: u64, how: &str) {
        let (Some(sqs), Some(targets)) = (&self.sqs, self.by_bucket.get(bucket)) else {
            return;
        };
        let bucket_arn = format!("arn:aws:s3:::{bucket}");
        let now = time::OffsetDateTime::now_utc();
        let encoded_key: String = form_urlencoded::byte_serialize(key.as_bytes())
            .collect::<String>()
            .replace("%2F", "/");
        for target in targets
            .iter()
            .filter(|t| key.starts_with(&t.prefix) && key.ends_with(&t.suffix))
        {
            if !self.policies.allows(
                "s3.amazonaws.com",
                "sqs:SendMessage",
                &target.queue_url,
                &target.queue_arn,
                &bucket_arn,
            ) {
                tracing::warn!(queue = %target.queue_url, "the queue's policy does not let S3 send to it: notification dropped, as S3 would refuse the configuration");
                continue;
            }
            let body = json!({ "Records": [{
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                "eventTime": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "eventName": format!("ObjectCreated:{how}"),
                "userIdentity": { "principalId": "AWS:local" },
                "requestParameters": { "sourceIPAddress": "127.0.0.1" },
                "responseElements": { "x-amz-request-id": uuid::Uuid::new_v4().simple().to_string(), "x-amz-id-2": "local" },
                "s3": {
                    "s3SchemaVersion": "1.0", "configurationId": "local",
                    "bucket": { "name": bucket, "ownerIdentity": { "principalId": MOTO_ACCOUNT }, "arn": bucket_arn },
                    "object": { "key": encoded_key, "size": size, "sequencer": format!("{:016X}", now.unix_timestamp_nanos() as u64) }
                }
            }]});
            if let Err(e) = sqs
                .send_message()
                .queue_url(&target.queue_url)
                .message_body(body.to_string())
                .send()
                .await
            {
                tracing::warn!(queue = %target.queue_url, error = %e, "S3 notification not sent");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(bucket: &str, key: &str, size: usize, expires_in_ms: i64) -> PostForm {
        let now = aisle::domain::Timestamp::from_unix_millis(1_796_640_000_000);
        let fields = aisle::adapters::s3_images::sign_post_policy(
            bucket,
            key,
            100,
            now,
            now.plus_millis(expires_in_ms),
            "us-east-1",
            "local",
            "local",
            None,
        );
        let mut fields: BTreeMap<String, String> = fields
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        fields.insert("content-type".into(), "image/png".into());
        PostForm {
            fields,
            file: Bytes::from(vec![0u8; size]),
        }
    }

    const NOW: i64 = 1_796_640_000_000;

    #[test]
    fn a_form_the_shop_signed_is_taken_and_one_changed_anywhere_is_refused() {
        assert_eq!(
            check_policy("up", &form("up", "uploads/a", 10, 60_000), "local", NOW),
            Ok(())
        );
        assert_eq!(
            check_policy("up", &form("up", "uploads/a", 10, 60_000), "other", NOW)
                .unwrap_err()
                .code,
            "SignatureDoesNotMatch"
        );
        assert_eq!(
            check_policy("other", &form("up", "uploads/a", 10, 60_000), "local", NOW)
                .unwrap_err()
                .code,
            "AccessDenied"
        );
        let mut moved = form("up", "uploads/a", 10, 60_000);
        moved.fields.insert("key".into(), "uploads/b".into());
        assert!(check_policy("up", &moved, "local", NOW)
            .unwrap_err()
            .message
            .contains("$key"));
        let mut typed = form("up", "uploads/a", 10, 60_000);
        typed
            .fields
            .insert("content-type".into(), "text/plain".into());
        assert_eq!(
            check_policy("up", &typed, "local", NOW).unwrap_err().code,
            "AccessDenied"
        );
        let mut extra = form("up", "uploads/a", 10, 60_000);
        extra.fields.insert("acl".into(), "public-read".into());
        assert!(check_policy("up", &extra, "local", NOW)
            .unwrap_err()
            .message
            .contains("Extra input fields: acl"));
    }

    #[test]
    fn size_and_time_are_held_to_the_policy() {
        assert_eq!(
            check_policy("up", &form("up", "k", 101, 60_000), "local", NOW)
                .unwrap_err()
                .code,
            "EntityTooLarge"
        );
        assert_eq!(
            check_policy("up", &form("up", "k", 0, 60_000), "local", NOW)
                .unwrap_err()
                .code,
            "EntityTooSmall"
        );
        assert!(check_policy("up", &form("up", "k", 10, -1), "local", NOW)
            .unwrap_err()
            .message
            .contains("expired"));
    }
}
