//! [`ImageStore`] on two S3 buckets: sellers' uploads (private, each key writable once through
//! a presigned POST, kept a day) and published renditions (read by CloudFront only).
//!
//! The POST policy is signed here with SigV4, as the AWS SDKs' `createPresignedPost` does
//! (the Rust SDK presigns GET and PUT only): the policy's base64 form signed with the day's
//! signing key (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-post-example.html,
//! https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use base64::Engine;
use serde_json::json;

use super::classify;
use crate::domain::Timestamp;
use crate::ports::{ImageStore, StoreError, Upload, UploadForm};

/// Renditions never change under their name: browsers and the CDN keep them a year.
pub const RENDITION_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The two buckets.
#[derive(Debug, Clone)]
pub struct S3Images {
    client: Client,
    uploads: String,
    images: String,
    region: String,
    credentials: Option<SharedCredentialsProvider>,
}

impl S3Images {
    /// Uploads in `uploads`, renditions in `images`; POST policies signed for `region` with
    /// `credentials` (the function's role).
    pub fn new(
        client: Client,
        uploads: impl Into<String>,
        images: impl Into<String>,
        region: impl Into<String>,
        credentials: Option<SharedCredentialsProvider>,
    ) -> Self {
        Self {
            client,
            uploads: uploads.into(),
            images: images.into(),
            region: region.into(),
            credentials,
        }
    }

    /// Where a browser posts: the bucket's address as this client resolves it (the regional
    /// virtual-hosted address in AWS; path-style on a local stand-in), read from a presigned
    /// URL so it follows the client's own endpoint rules. Presigning makes no request.
    async fn post_url(&self) -> Result<String, StoreError> {
        let presigned = self
            .client
            .get_object()
            .bucket(&self.uploads)
            .key("_")
            .presigned(
                aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(60))
                    .map_err(|e| StoreError::Bug(e.to_string()))?,
            )
            .await
            .map_err(|e| StoreError::Bug(format!("bucket address: {e}")))?;
        let uri = presigned.uri();
        let without_query = uri.split('?').next().unwrap_or(uri);
        Ok(without_query
            .strip_suffix("_")
            .unwrap_or(without_query)
            .to_owned())
    }
}

/// `20261207T101500Z` and `20261207` for SigV4.
fn amz_dates(at: Timestamp) -> (String, String) {
    let text = at.to_string(); // 2026-12-07T10:15:00.000Z
    let compact: String = text[..19]
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    (format!("{compact}Z"), compact[..8].to_owned())
}

fn to_system_time(at: Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(at.unix_millis().max(0) as u64)
}

/// The form fields of a signed POST policy (see the module docs); pure, so it is tested.
#[allow(clippy::too_many_arguments)]
pub fn sign_post_policy(
    bucket: &str,
    key: &str,
    max_bytes: usize,
    now: Timestamp,
    expires_at: Timestamp,
    region: &str,
    access_key: &str,
    secret: &str,
    session_token: Option<&str>,
) -> BTreeMap<String, String> {
    let (amz_date, day) = amz_dates(now);
    let credential = format!("{access_key}/{day}/{region}/s3/aws4_request");
    let mut conditions = vec![
        json!({ "bucket": bucket }),
        json!(["eq", "$key", key]),
        json!(["content-length-range", 1, max_bytes]),
        json!(["starts-with", "$Content-Type", "image/"]),
        json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }),
        json!({ "x-amz-credential": credential }),
        json!({ "x-amz-date": amz_date }),
    ];
    if let Some(token) = session_token {
        conditions.push(json!({ "x-amz-security-token": token }));
    }
    let policy = json!({ "expiration": expires_at.to_string(), "conditions": conditions });
    let encoded = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    let signing_key =
        aws_sigv4::sign::v4::generate_signing_key(secret, to_system_time(now), region, "s3");
    let signature = aws_sigv4::sign::v4::calculate_signature(signing_key, encoded.as_bytes());
    let mut fields = BTreeMap::from([
        ("key".to_owned(), key.to_owned()),
        ("x-amz-algorithm".to_owned(), "AWS4-HMAC-SHA256".to_owned()),
        ("x-amz-credential".to_owned(), credential),
        ("x-amz-date".to_owned(), amz_date),
        ("policy".to_owned(), encoded),
        ("x-amz-signature".to_owned(), signature),
    ]);
    if let Some(token) = session_token {
        fields.insert("x-amz-security-token".into(), token.to_owned());
    }
    fields
}

#[async_trait]
impl ImageStore for S3Images {
    async fn upload_form(
        &self,
        key: &str,
        max_bytes: usize,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<UploadForm, StoreError> {
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| StoreError::Bug("no credentials to sign an upload with".into()))?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| StoreError::Unavailable(format!("credentials: {e}")))?;
        let fields = sign_post_policy(
            &self.uploads,
            key,
            max_bytes,
            now,
            expires_at,
            &self.region,
            credentials.access_key_id(),
            credentials.secret_access_key(),
            credentials.session_token(),
        );
        Ok(UploadForm {
            url: self.post_url().await?,
            fields,
            expires_at,
            max_bytes,
        })
    }

    async fn read_upload(&self, key: &str, max_bytes: usize) -> Result<Upload, StoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.uploads)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if super::s3_archive::missing(&e) => return Ok(Upload::Missing),
            Err(e) => return Err(classify("GetObject", e)),
        };
        let length = out.content_length().unwrap_or(0).max(0) as u64;
        if length > max_bytes as u64 {
            return Ok(Upload::TooLarge(length));
        }
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(format!("GetObject body: {e}")))?;
        Ok(Upload::Bytes(bytes.to_vec()))
    }

    async fn discard_upload(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.uploads)
            .key(key)
            .send()
            .await
            .map_err(|e| classify("DeleteObject", e))?;
        Ok(())
    }

    async fn publish(
        &self,
        key: String,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.images)
            .key(key)
            .content_type(content_type)
            .cache_control(RENDITION_CACHE_CONTROL)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| classify("PutObject", e))?;
        Ok(())
    }

    async fn unpublish(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let objects = keys
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Bug(e.to_string()))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| StoreError::Bug(e.to_string()))?;
        let out = self
            .client
            .delete_objects()
            .bucket(&self.images)
            .delete(delete)
            .send()
            .await
            .map_err(|e| classify("DeleteObjects", e))?;
        match out.errors().first() {
            Some(e) => Err(StoreError::Unavailable(format!(
                "DeleteObjects: {} {}",
                e.code().unwrap_or_default(),
                e.message().unwrap_or_default()
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_names_the_exact_key_the_size_range_and_image_types() {
        let now = Timestamp::from_unix_millis(1_796_640_000_000);
        let fields = sign_post_policy(
            "uploads",
            "uploads/a/b",
            1000,
            now,
            now.plus_millis(900_000),
            "us-east-1",
            "AKID",
            "secret",
            Some("token"),
        );
        let policy: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(&fields["policy"])
                .unwrap(),
        )
        .unwrap();
        let conditions = policy["conditions"].to_string();
        assert!(
            conditions.contains(r#"["eq","$key","uploads/a/b"]"#),
            "{conditions}"
        );
        assert!(conditions.contains(r#"["content-length-range",1,1000]"#));
        assert!(conditions.contains(r#"["starts-with","$Content-Type","image/"]"#));
        assert!(conditions.contains(r#"{"x-amz-security-token":"token"}"#));
        assert_eq!(
            fields["x-amz-credential"],
            format!(
                "AKID/{}/us-east-1/s3/aws4_request",
                &fields["x-amz-date"][..8]
            )
        );
        assert_eq!(fields["x-amz-signature"].len(), 64);
    }
}
