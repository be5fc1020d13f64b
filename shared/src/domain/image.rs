//! Product images as an item lists them, and where their files live.
//!
//! A seller uploads to `uploads/<itemId>/<imageId>` in the uploads bucket (a presigned POST
//! that allows that key only); the image worker reads it there and publishes renditions to
//! `images/<itemId>/<imageId>-<width>.<ext>` in the images bucket, which the CDN serves under
//! the same path. Every upload has a fresh [`ImageId`], so a replaced picture is a new name and
//! a cached one is never stale: the CDN may keep each name for a year.

use serde::{Deserialize, Serialize};

use super::{ImageId, ItemId};

/// One size of an image, in both encodings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRendition {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The JPEG's URL.
    pub jpeg: String,
    /// The WebP's URL (smaller; every current browser).
    pub webp: String,
}

/// An image an item lists: its id (for reordering and deleting), its proportions (so a page
/// reserves its box before it loads) and its renditions, narrowest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemImage {
    /// The image's id (the upload's).
    pub image_id: ImageId,
    /// The upright image's width, in pixels (as uploaded).
    pub width: u32,
    /// The upright image's height, in pixels (as uploaded).
    pub height: u32,
    /// Every rendition, narrowest first.
    pub renditions: Vec<ImageRendition>,
}

/// The key of one upload in the uploads bucket: `uploads/<itemId>/<imageId>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadKey {
    /// The item the image is for.
    pub item_id: ItemId,
    /// The image's id.
    pub image_id: ImageId,
}

impl UploadKey {
    /// The prefix every upload's key starts with (the bucket's notification filter).
    pub const PREFIX: &'static str = "uploads/";

    /// The object key.
    pub fn key(&self) -> String {
        format!("{}{}/{}", Self::PREFIX, self.item_id, self.image_id)
    }

    /// Read a key back; anything else under the bucket is not an upload.
    pub fn parse(key: &str) -> Result<Self, String> {
        let rest = key
            .strip_prefix(Self::PREFIX)
            .ok_or_else(|| format!("{key:?} is not under {}", Self::PREFIX))?;
        let (item, image) = rest
            .split_once('/')
            .ok_or_else(|| format!("{key:?} is not uploads/<itemId>/<imageId>"))?;
        Ok(Self {
            item_id: ItemId::try_from(item)?,
            image_id: ImageId::try_from(image)?,
        })
    }

    /// Where a rendition of this upload is published: `images/<itemId>/<imageId>-<w>.<ext>`
    /// (the CDN serves the images bucket under `/images/`).
    pub fn rendition_key(&self, width: u32, extension: &str) -> String {
        format!(
            "images/{}/{}-{width}.{extension}",
            self.item_id, self.image_id
        )
    }
}

/// Reads an item's `images` written before uploads existed (a list of URLs a seller typed,
/// never fetched nor shown) as no images, so those items still read; anything else is an
/// [`ItemImage`].
pub(crate) fn read_images<'de, D>(deserializer: D) -> Result<Vec<ItemImage>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Image(ItemImage),
        TypedUrl(#[allow(dead_code)] String),
    }
    let stored: Vec<Stored> = Vec::deserialize(deserializer)?;
    Ok(stored
        .into_iter()
        .filter_map(|s| match s {
            Stored::Image(image) => Some(image),
            Stored::TypedUrl(_) => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_key_reads_back_and_names_its_renditions() {
        let key = UploadKey {
            item_id: ItemId::generate(),
            image_id: ImageId::generate(),
        };
        assert_eq!(UploadKey::parse(&key.key()), Ok(key));
        assert_eq!(
            key.rendition_key(400, "webp"),
            format!("images/{}/{}-400.webp", key.item_id, key.image_id)
        );
        assert!(UploadKey::parse("images/x/y").is_err());
        assert!(UploadKey::parse(&format!("uploads/{}/../x", key.item_id)).is_err());
    }
}
