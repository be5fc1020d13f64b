//! Product images, against moto's S3 behind the IAM proxy (which checks POST policies and
//! sends the bucket's notifications, as S3 does) and DynamoDB Local: a seller asks for an
//! upload form, the "browser" posts the file to S3, S3's notification reaches the image worker
//! through its queue, and the item lists renditions the CDN path serves. Bad uploads are
//! refused with reasons and publish nothing; only an item's seller uploads to it; concurrent
//! uploads are all listed; reordering and deleting are item edits.

use aisle::domain::ItemId;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::helpers::{self, Call, Caller, Reply, Shop};

fn begin(who: &Caller, item: ItemId) -> Call {
    Call::new(
        "POST /v1/seller/items/{itemId}/images",
        &[("itemId", &item.to_string())],
    )
    .by(who)
}

fn get_item(item: ItemId) -> Call {
    Call::new("GET /v1/items/{itemId}", &[("itemId", &item.to_string())])
}

/// Post `file` with the offer's form, as a browser posts it: every field, a `Content-Type`,
/// the file last. S3's status and body.
async fn post(offer: &Value, content_type: &str, file: &[u8]) -> (u16, String) {
    let boundary = "aisleboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    let mut field = |name: &str, value: &str| {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    };
    for (name, value) in offer["upload"]["fields"].as_object().unwrap() {
        field(name, value.as_str().unwrap());
    }
    field("Content-Type", content_type);
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = hyper::Request::post(offer["upload"]["url"].as_str().unwrap())
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
        .unwrap();
    let response = aisle_local::proxy::forwarder()
        .request(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&text).into_owned())
}

/// A seller's upload offer for `item` (asserting it was offered).
async fn offer(shop: &Shop, seller: &Caller, item: ItemId) -> Value {
    let reply = send!(
        aisle::api::catalog::begin_image_upload,
        shop,
        begin(seller, item)
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

async fn item(shop: &Shop, item: ItemId) -> Value {
    let reply: Reply = send!(aisle::api::catalog::get_item, shop, get_item(item));
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

fn image_ids(item: &Value) -> Vec<String> {
    item["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["imageId"].as_str().unwrap().to_owned())
        .collect()
}

async fn s3() -> aws_sdk_s3::Client {
    aisle::app::s3_client(
        &aisle_local::local_sdk_config().await,
        Some(&aisle_local::endpoint("AWS_ENDPOINT_URL_S3", 5000)),
    )
}

/// Every key under `prefix` of a bucket.
async fn keys(bucket: &str, prefix: &str) -> Vec<String> {
    let out = s3()
        .await
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

fn photo() -> Vec<u8> {
    aisle_local::pictures::jpeg(&aisle_local::pictures::product("tvs", "Test TV", 1200, 900))
}

#[tokio::test]
async fn a_sellers_upload_is_rendered_listed_on_the_item_and_served_under_its_versioned_names() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let id = helpers::listed_by(&shop, &seller, "Test TV", "tvs").await;
    let offer = offer(&shop, &seller, id).await;
    let image_id = offer["imageId"].as_str().unwrap().to_owned();
    assert_eq!(offer["upload"]["maxBytes"], 10 * 1024 * 1024);

    let (status, body) = post(&offer, "image/jpeg", &photo()).await;
    assert_eq!(status, 204, "{body}");
    // S3 told the queue; the worker handles it.
    assert_eq!(shop.pump_queue("ImageUploadsQueue").await, 1);

    let listed = item(&shop, id).await;
    assert_eq!(image_ids(&listed), vec![image_id.clone()]);
    let image = &listed["images"][0];
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(1200), Some(900))
    );
    let widths: Vec<u64> = image["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["width"].as_u64().unwrap())
        .collect();
    assert_eq!(widths, vec![160, 400, 800]);
    let images_bucket = &shop.config.images.images_bucket;
    for rendition in image["renditions"].as_array().unwrap() {
        for (encoding, format) in [
            ("jpeg", image::ImageFormat::Jpeg),
            ("webp", image::ImageFormat::WebP),
        ] {
            let url = rendition[encoding].as_str().unwrap();
            // Served by the storefront's distribution under /images/, named by the upload.
            let key = url
                .split_once("/images/")
                .map(|(_, k)| format!("images/{k}"))
                .unwrap();
            assert!(key.contains(&image_id), "{url}");
            assert!(url.starts_with(&shop.config.images.base_url), "{url}");
            let object = s3()
                .await
                .get_object()
                .bucket(images_bucket)
                .key(&key)
                .send()
                .await
                .unwrap();
            assert_eq!(
                object.cache_control(),
                Some("public, max-age=31536000, immutable")
            );
            let bytes = object.body.collect().await.unwrap().into_bytes();
            let decoded = image::load_from_memory_with_format(&bytes, format).unwrap();
            assert_eq!(
                u64::from(decoded.width()),
                rendition["width"].as_u64().unwrap()
            );
        }
    }
    // The upload is gone once handled.
    assert!(keys(&shop.config.images.uploads_bucket, "uploads/")
        .await
        .is_empty());

    // The same notification again (S3 and SQS deliver at least once): listed once.
    let notification = serde_json::json!({ "Records": [{ "eventName": "ObjectCreated:Post", "s3": {
        "bucket": { "name": shop.config.images.uploads_bucket },
        "object": { "key": format!("uploads/{id}/{image_id}"), "size": 1 } } }] });
    shop.enqueue("ImageUploadsQueue", &notification.to_string())
        .await;
    assert_eq!(shop.pump_queue("ImageUploadsQueue").await, 1);
    assert_eq!(image_ids(&item(&shop, id).await), vec![image_id]);
    assert!(
        shop.drain("ImageUploadsDeadLetters").await.is_empty(),
        "a redelivery is handled, not parked"
    );
}

#[tokio::test]
async fn bad_uploads_are_refused_with_reasons_and_publish_nothing() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let id = helpers::listed_by(&shop, &seller, "Kettle", "kitchen").await;

    // A text file named .jpg, declared as a JPEG: S3 takes it (the policy allows image/*),
    // the worker reads its bytes and refuses it.
    let text = offer(&shop, &seller, id).await;
    assert_eq!(
        post(&text, "image/jpeg", b"name,price\nkettle,25.00\n")
            .await
            .0,
        204
    );
    // A 65-byte PNG declaring 30,000 x 30,000 pixels.
    let bomb = offer(&shop, &seller, id).await;
    assert_eq!(
        post(
            &bomb,
            "image/png",
            &aisle_local::pictures::png_header(30_000, 30_000)
        )
        .await
        .0,
        204
    );
    // Over 10 MB: S3 itself refuses it by the policy's content-length-range.
    let big = offer(&shop, &seller, id).await;
    let (status, body) = post(&big, "image/jpeg", &vec![0xFF; 10 * 1024 * 1024 + 1]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("EntityTooLarge"), "{body}");
    // Not an image type at all: the policy's Content-Type condition.
    let typed = offer(&shop, &seller, id).await;
    let (status, body) = post(&typed, "text/csv", b"a,b").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Content-Type"), "{body}");

    assert_eq!(shop.pump_queue("ImageUploadsQueue").await, 2);
    assert!(image_ids(&item(&shop, id).await).is_empty());
    assert!(
        keys(&shop.config.images.images_bucket, "images/")
            .await
            .is_empty(),
        "nothing published"
    );
    assert!(keys(&shop.config.images.uploads_bucket, "uploads/")
        .await
        .is_empty());

    let notices = send!(
        aisle::api::catalog::list_seller_notifications,
        shop,
        Call::new("GET /v1/seller/notifications", &[]).by(&seller)
    );
    let reasons: Vec<(String, String)> = notices.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "IMAGE_REFUSED")
        .map(|n| {
            (
                n["imageId"].as_str().unwrap().to_owned(),
                n["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    let reason_of = |offer: &Value| {
        reasons
            .iter()
            .find(|(i, _)| i == offer["imageId"].as_str().unwrap())
            .map(|(_, r)| r.clone())
            .unwrap()
    };
    assert!(
        reason_of(&text).contains("not a JPEG, PNG or WebP"),
        "{reasons:?}"
    );
    assert!(reason_of(&bomb).contains("30000 x 30000"), "{reasons:?}");
}

#[tokio::test]
async fn only_the_items_seller_gets_an_upload_form_and_a_form_writes_only_its_own_key() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let id = helpers::listed_by(&shop, &seller, "Laptop", "laptops").await;
    for (who, status) in [(Caller::seller(), 403), (Caller::shopper(), 403)] {
        let reply = send!(
            aisle::api::catalog::begin_image_upload,
            shop,
            begin(&who, id)
        );
        assert_eq!(reply.status, status, "{:?}", reply.body);
    }
    let missing = send!(
        aisle::api::catalog::begin_image_upload,
        shop,
        begin(&seller, ItemId::generate())
    );
    assert_eq!(missing.status, 404);

    // Another item's key with this form: the policy's exact key condition refuses it.
    let mut form = offer(&shop, &seller, id).await;
    let other = format!("uploads/{}/{}", ItemId::generate(), uuid::Uuid::new_v4());
    form["upload"]["fields"]["key"] = Value::String(other);
    let (status, body) = post(&form, "image/jpeg", &photo()).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("$key"), "{body}");
    // A form whose signature was not made with the shop's credentials.
    let mut forged = offer(&shop, &seller, id).await;
    forged["upload"]["fields"]["x-amz-signature"] = Value::String("0".repeat(64));
    assert_eq!(post(&forged, "image/jpeg", &photo()).await.0, 403);
    assert_eq!(shop.pump_queue("ImageUploadsQueue").await, 0);
}

#[tokio::test]
async fn uploads_handled_at_the_same_time_are_all_listed() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let id = helpers::listed_by(&shop, &seller, "Phone", "phones").await;
    let mut offers = Vec::new();
    for _ in 0..4 {
        let o = offer(&shop, &seller, id).await;
        assert_eq!(post(&o, "image/jpeg", &photo()).await.0, 204);
        offers.push(o["imageId"].as_str().unwrap().to_owned());
    }
    // Four workers at once, one notification each, racing on the item's version.
    let url = shop.queue_url("ImageUploadsQueue");
    let mut events = Vec::new();
    while events.len() < 4 {
        if let Some((event, handles)) = aisle_local::queues::receive(&shop.sqs, &url, 1, 1)
            .await
            .unwrap()
        {
            events.push((event, handles));
        }
    }
    let app = shop.as_function("process-images").await;
    let runs: Vec<_> = events
        .iter()
        .map(|(event, _)| {
            let app = app.clone();
            let event = lambda_runtime::LambdaEvent::new(event.clone(), helpers::lambda_context());
            tokio::spawn(async move { aisle::workers::process_images(&app, event).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for run in runs {
        outcomes.push(run.await.unwrap());
    }
    assert!(
        outcomes.iter().all(|r| r.batch_item_failures.is_empty()),
        "{outcomes:?}"
    );
    let mut listed = image_ids(&item(&shop, id).await);
    listed.sort();
    offers.sort();
    assert_eq!(listed, offers);
}

#[tokio::test]
async fn a_seller_reorders_and_deletes_images_and_a_deleted_images_files_are_removed() {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let id = helpers::listed_by(&shop, &seller, "Headphones", "headphones").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let o = offer(&shop, &seller, id).await;
        assert_eq!(post(&o, "image/jpeg", &photo()).await.0, 204);
        assert_eq!(shop.pump_queue("ImageUploadsQueue").await, 1);
        ids.push(o["imageId"].as_str().unwrap().to_owned());
    }
    assert_eq!(image_ids(&item(&shop, id).await), ids);
    let patch = |images: Value| {
        Call::new(
            "PATCH /v1/seller/items/{itemId}",
            &[("itemId", &id.to_string())],
        )
        .by(&seller)
        .json(serde_json::json!({ "images": images }))
    };
    let reordered = send!(
        aisle::api::catalog::update_item,
        shop,
        patch(serde_json::json!([ids[1], ids[0]]))
    );
    assert_eq!(reordered.status, 200, "{:?}", reordered.body);
    assert_eq!(
        image_ids(&reordered.body),
        vec![ids[1].clone(), ids[0].clone()]
    );

    let unknown = send!(
        aisle::api::catalog::update_item,
        shop,
        patch(serde_json::json!([uuid::Uuid::new_v4().to_string()]))
    );
    assert_eq!(unknown.status, 422, "{:?}", unknown.body);
    let other_seller = send!(
        aisle::api::catalog::update_item,
        shop,
        Call::new(
            "PATCH /v1/seller/items/{itemId}",
            &[("itemId", &id.to_string())]
        )
        .by(&Caller::seller())
        .json(serde_json::json!({ "images": [] }))
    );
    assert_eq!(other_seller.status, 403);

    let deleted = send!(
        aisle::api::catalog::update_item,
        shop,
        patch(serde_json::json!([ids[1]]))
    );
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(image_ids(&deleted.body), vec![ids[1].clone()]);
    let files = keys(&shop.config.images.images_bucket, &format!("images/{id}/")).await;
    assert_eq!(files.len(), 6, "{files:?}");
    assert!(files.iter().all(|k| k.contains(&ids[1])), "{files:?}");
}

#[tokio::test]
async fn a_notification_that_names_no_upload_is_parked_with_its_reason_and_the_rest_of_the_batch_goes_on(
) {
    let shop = Shop::open().await;
    let seller = Caller::seller();
    let id = helpers::listed_by(&shop, &seller, "Camera", "cameras").await;
    let good = offer(&shop, &seller, id).await;
    // S3's own test message (sent when a notification is configured): dropped.
    shop.enqueue(
        "ImageUploadsQueue",
        r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#,
    )
    .await;
    // Not an S3 notification, and one for a key outside uploads/<itemId>/<imageId>.
    shop.enqueue("ImageUploadsQueue", "not json").await;
    let stray = serde_json::json!({ "Records": [{ "eventName": "ObjectCreated:Put", "s3": {
        "bucket": { "name": shop.config.images.uploads_bucket },
        "object": { "key": "uploads/elsewhere.txt", "size": 3 } } }] });
    shop.enqueue("ImageUploadsQueue", &stray.to_string()).await;
    assert_eq!(post(&good, "image/jpeg", &photo()).await.0, 204);

    assert_eq!(shop.pump_queue("ImageUploadsQueue").await, 4);
    assert_eq!(
        image_ids(&item(&shop, id).await),
        vec![good["imageId"].as_str().unwrap().to_owned()]
    );
    let parked = shop.drain("ImageUploadsDeadLetters").await;
    let reasons: Vec<String> = parked.iter().filter_map(|(_, r)| r.clone()).collect();
    assert_eq!(parked.len(), 2, "{parked:?}");
    assert!(
        reasons.iter().any(|r| r.contains("not JSON")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("uploads/elsewhere.txt")),
        "{reasons:?}"
    );
}
