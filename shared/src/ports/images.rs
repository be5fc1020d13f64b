//! Where product images are uploaded and published.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::StoreError;
use crate::domain::Timestamp;

/// A browser upload S3 will take without credentials of the browser's own: a form POST to
/// `url` with `fields` first and the file last (`file`), allowed by a signed POST policy
/// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadForm {
    /// Where the form is posted.
    pub url: String,
    /// The form fields to send before the file, as given.
    pub fields: BTreeMap<String, String>,
    /// When the policy stops being accepted.
    pub expires_at: Timestamp,
    /// The largest file the policy allows, in bytes.
    pub max_bytes: usize,
}

/// What the uploads bucket holds under one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upload {
    /// Nothing (already handled and removed, or never uploaded).
    Missing,
    /// More than the reader's limit, in bytes (not read).
    TooLarge(u64),
    /// The uploaded bytes.
    Bytes(Vec<u8>),
}

/// The uploads bucket (sellers' originals, private) and the images bucket (renditions, served
/// by the CDN).
#[async_trait]
pub trait ImageStore: Send + Sync {
    /// A form that lets a browser upload one file of at most `max_bytes` with an `image/*`
    /// content type to `key` of the uploads bucket, until `expires_at` (signed at `now`).
    async fn upload_form(
        &self,
        key: &str,
        max_bytes: usize,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<UploadForm, StoreError>;
    /// The upload at `key`, read only if it is at most `max_bytes`.
    async fn read_upload(&self, key: &str, max_bytes: usize) -> Result<Upload, StoreError>;
    /// Remove the upload at `key` (done with it; absent is fine).
    async fn discard_upload(&self, key: &str) -> Result<(), StoreError>;
    /// Publish a rendition at `key` of the images bucket, cacheable for a year (its name is
    /// never reused for other bytes).
    async fn publish(
        &self,
        key: String,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> Result<(), StoreError>;
    /// Remove published renditions (absent ones are fine).
    async fn unpublish(&self, keys: &[String]) -> Result<(), StoreError>;
}
