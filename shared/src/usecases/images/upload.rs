//! A seller asks to upload an image for one of their items: the answer is a form the browser
//! posts straight to S3 (the file never passes through a function).

use crate::domain::{ImageId, ItemId, Principal, Role, Timestamp, UploadKey};
use crate::ports::{Catalog, ImageStore, StoreError, UploadForm};

use super::MAX_UPLOAD_BYTES;

/// How long an upload form may be used.
pub const FORM_LIFETIME_MS: i64 = 15 * 60 * 1000;

/// Why an upload was not offered; each maps to one HTTP answer in `api::error`.
#[derive(Debug, thiserror::Error)]
pub enum BeginUploadError {
    /// Only sellers upload images.
    #[error("only sellers may upload images")]
    NotASeller,
    /// Item not found.
    #[error("item not found")]
    NotFound,
    /// The item is another seller's.
    #[error("this item belongs to another seller")]
    NotOwner,
    /// The item lists the most images it may.
    #[error("{}", super::full(*.0))]
    Full(usize),
    /// The store failed (see [`StoreError`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The image id the upload will become and the form to post it with.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadOffer {
    /// The image's id once it is accepted (the item lists it under this id).
    pub image_id: ImageId,
    /// The item.
    pub item_id: ItemId,
    /// The form to post.
    pub upload: UploadForm,
    /// Content types the worker accepts (any `image/*` may be posted; the bytes decide).
    pub accepts: [&'static str; 3],
}

/// Offer a seller an upload for their own item (see the module docs).
#[tracing::instrument(name = "begin_image_upload", skip_all, fields(user_id = %who.user_id, item_id = %item_id))]
pub async fn begin_upload(
    catalog: &impl Catalog,
    images: &impl ImageStore,
    who: &Principal,
    item_id: ItemId,
    now: Timestamp,
) -> Result<UploadOffer, BeginUploadError> {
    if !who.has(Role::Seller) {
        return Err(BeginUploadError::NotASeller);
    }
    let item = catalog
        .get(item_id)
        .await?
        .ok_or(BeginUploadError::NotFound)?;
    if item.seller_id != who.user_id {
        return Err(BeginUploadError::NotOwner);
    }
    if item.images.len() >= crate::domain::item::MAX_IMAGES {
        return Err(BeginUploadError::Full(item.images.len()));
    }
    let key = UploadKey {
        item_id,
        image_id: ImageId::generate(),
    };
    let upload = images
        .upload_form(
            &key.key(),
            MAX_UPLOAD_BYTES,
            now,
            now.plus_millis(FORM_LIFETIME_MS),
        )
        .await?;
    tracing::info!(image_id = %key.image_id, "image upload offered");
    Ok(UploadOffer {
        image_id: key.image_id,
        item_id,
        upload,
        accepts: ["image/jpeg", "image/png", "image/webp"],
    })
}
