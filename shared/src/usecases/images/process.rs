//! The image worker's use case: one upload checked, rendered, published and listed on its
//! item, or refused with a reason the seller reads among their notices.
//!
//! Safe to repeat (S3 notifies at least once, SQS delivers at least once): renditions are
//! written under names only this upload has (the same bytes again), and the item lists an
//! image id once. The upload is removed last, so a failure before that leaves it for the retry.

use crate::domain::{
    ImageId, ImageRendition, Item, ItemImage, NoticeKind, SellerNotice, Timestamp, UploadKey,
};
use crate::ports::{Catalog, ImageStore, SellerNotices, StoreError, Upload};
use crate::retry::Policy;

use super::{render, Encoding, Refusal, MAX_UPLOAD_BYTES};

/// What became of one upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Published; the item lists it.
    Listed(ImageId),
    /// Listed before (a repeated notification).
    AlreadyListed,
    /// No upload there (handled before and removed) or no item for it (deleted): nothing to do.
    Gone,
    /// Refused, with the seller's reason; nothing was published.
    Refused(String),
}

/// Check, render and publish the upload at `key`; list it on its item (see the module docs).
/// `base_url` is where the CDN serves the images bucket (`https://<distribution>`).
#[tracing::instrument(name = "process_image", skip_all, fields(item_id = %key.item_id, image_id = %key.image_id))]
pub async fn process_upload(
    catalog: &impl Catalog,
    images: &impl ImageStore,
    notices: &impl SellerNotices,
    base_url: &str,
    key: UploadKey,
    now: Timestamp,
) -> Result<Processed, StoreError> {
    let Some(item) = catalog.get(key.item_id).await? else {
        images.discard_upload(&key.key()).await?;
        return Ok(Processed::Gone);
    };
    if lists(&item, key.image_id) {
        images.discard_upload(&key.key()).await?;
        return Ok(Processed::AlreadyListed);
    }
    let bytes = match images.read_upload(&key.key(), MAX_UPLOAD_BYTES).await? {
        Upload::Missing => return Ok(Processed::Gone),
        Upload::TooLarge(bytes) => {
            let reason = Refusal::TooLarge {
                bytes: bytes as usize,
                max: MAX_UPLOAD_BYTES,
            };
            return refuse(images, notices, &item, key, reason.to_string(), now).await;
        }
        Upload::Bytes(bytes) => bytes,
    };
    // Decoding and encoding are CPU work: off the async threads.
    let rendered = tokio::task::spawn_blocking(move || render(&bytes))
        .await
        .map_err(|e| StoreError::Bug(format!("rendering stopped: {e}")))?;
    let rendered = match rendered {
        Ok(rendered) => rendered,
        Err(refusal) => return refuse(images, notices, &item, key, refusal.to_string(), now).await,
    };
    let image = publish(images, base_url, key, &rendered).await?;
    let mut tries = Policy::OPTIMISTIC.tries();
    while tries.next().await {
        let Some(current) = catalog.get(key.item_id).await? else {
            super::unpublish(images, key.item_id, &image).await?;
            images.discard_upload(&key.key()).await?;
            return Ok(Processed::Gone);
        };
        if lists(&current, key.image_id) {
            // Listed by an earlier delivery of the same notification.
            images.discard_upload(&key.key()).await?;
            return Ok(Processed::AlreadyListed);
        }
        if current.images.len() >= crate::domain::item::MAX_IMAGES {
            super::unpublish(images, key.item_id, &image).await?;
            let reason = super::full(current.images.len());
            return refuse(images, notices, &current, key, reason, now).await;
        }
        let mut next = current.clone();
        next.images.push(image.clone());
        next.updated_at = now;
        next.version = current.version + 1;
        if catalog.replace(&current, &next).await? {
            tracing::info!(version = next.version, "image listed");
            images.discard_upload(&key.key()).await?;
            return Ok(Processed::Listed(key.image_id));
        }
    }
    Err(StoreError::Contention(format!(
        "item {} kept changing while its image was listed",
        key.item_id
    )))
}

/// Publish every rendition of an accepted upload under its versioned name; the image as an
/// item lists it (renditions narrowest first, URLs under `base_url`).
pub async fn publish(
    images: &impl ImageStore,
    base_url: &str,
    key: UploadKey,
    rendered: &super::Rendered,
) -> Result<ItemImage, StoreError> {
    let base = base_url.trim_end_matches('/');
    let mut renditions: Vec<ImageRendition> = Vec::new();
    for r in &rendered.renditions {
        let url = format!(
            "{base}/{}",
            key.rendition_key(r.width, r.encoding.extension())
        );
        match renditions.iter_mut().find(|x| x.width == r.width) {
            Some(x) => set_url(x, r.encoding, url),
            None => {
                let mut x = ImageRendition {
                    width: r.width,
                    height: r.height,
                    jpeg: String::new(),
                    webp: String::new(),
                };
                set_url(&mut x, r.encoding, url);
                renditions.push(x);
            }
        }
    }
    let publishing = rendered.renditions.iter().map(|r| {
        images.publish(
            key.rendition_key(r.width, r.encoding.extension()),
            r.bytes.clone(),
            r.encoding.content_type(),
        )
    });
    for outcome in futures_util::future::join_all(publishing).await {
        outcome?;
    }
    renditions.sort_by_key(|r| r.width);
    Ok(ItemImage {
        image_id: key.image_id,
        width: rendered.width,
        height: rendered.height,
        renditions,
    })
}

fn lists(item: &Item, image: ImageId) -> bool {
    item.images.iter().any(|i| i.image_id == image)
}

fn set_url(rendition: &mut ImageRendition, encoding: Encoding, url: String) {
    match encoding {
        Encoding::Jpeg => rendition.jpeg = url,
        Encoding::Webp => rendition.webp = url,
    }
}

/// Tell the seller why, then drop the upload: nothing is published.
async fn refuse(
    images: &impl ImageStore,
    notices: &impl SellerNotices,
    item: &Item,
    key: UploadKey,
    reason: String,
    now: Timestamp,
) -> Result<Processed, StoreError> {
    tracing::info!(%reason, "image refused");
    let notice = SellerNotice {
        notice_id: format!("image#{}", key.image_id),
        kind: NoticeKind::ImageRefused,
        image_id: Some(key.image_id),
        reason: Some(reason.clone()),
        ..SellerNotice::about(item.seller_id.clone(), item.item_id, now)
    };
    notices.keep(&notice).await?;
    images.discard_upload(&key.key()).await?;
    Ok(Processed::Refused(reason))
}
