//! Product images: a seller asks to upload ([`upload`]), the browser posts the file straight
//! to S3, and the image worker checks it and publishes its renditions ([`process`], with
//! [`render`] deciding what an upload becomes). Deleting and reordering are item edits
//! (`PATCH /v1/seller/items/{itemId}` with `images`), which [`unpublish`] follows.

pub mod process;
pub mod render;
pub mod upload;

pub use render::*;

use crate::domain::{ItemId, ItemImage, UploadKey};
use crate::ports::{ImageStore, StoreError};

/// Why an item takes no more images, in words for the seller.
pub fn full(count: usize) -> String {
    format!("the item has {count} images already; delete one first")
}

/// Every published file of `image` (both encodings of each rendition).
pub fn rendition_keys(item_id: ItemId, image: &ItemImage) -> Vec<String> {
    let key = UploadKey {
        item_id,
        image_id: image.image_id,
    };
    image
        .renditions
        .iter()
        .flat_map(|r| {
            [Encoding::Jpeg, Encoding::Webp].map(|e| key.rendition_key(r.width, e.extension()))
        })
        .collect()
}

/// Remove a deleted image's files. The CDN may still answer from its cache until the files'
/// cache lifetime ends (a year); nothing links to them any more.
pub async fn unpublish(
    images: &impl ImageStore,
    item_id: ItemId,
    image: &ItemImage,
) -> Result<(), StoreError> {
    images.unpublish(&rendition_keys(item_id, image)).await
}
