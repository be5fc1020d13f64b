//! Catalog routes: sellers list and edit products; anyone browses them.

use std::collections::BTreeMap;

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use super::request::{if_match, json_body, page, path, principal_with, query};
use super::{finish, json, with_header, HttpResult};
use crate::domain::item::{MAX_IMAGES, MAX_LOW_STOCK_THRESHOLD};
use crate::domain::{
    Attributes, Category, ImageId, ItemId, ItemPatch, Money, NewItem, Role, Text, ValidationErrors,
};
use crate::usecases::catalog::{self, ItemView};
use crate::App;

/// The JSON a seller sends to create (all of `REQUIRED`) or edit (any subset) an item.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ItemBody {
    name: Option<String>,
    description: Option<String>,
    category: Option<String>,
    brand: Option<String>,
    price: Option<PriceBody>,
    attributes: Option<BTreeMap<String, String>>,
    /// Create: refused (images are uploaded). Edit: the item's image ids in their new order.
    images: Option<Vec<String>>,
    low_stock_threshold: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceBody {
    amount: i64,
    currency: String,
}

/// A bounded text field, if present.
fn field<const MAX: usize>(
    errors: &mut ValidationErrors,
    name: &str,
    raw: Option<String>,
) -> Option<Text<MAX>> {
    raw.and_then(|v| errors.check(name, Text::try_from(v)))
}

impl ItemBody {
    /// Validate every field present, collecting all problems at once.
    fn parse(self, errors: &mut ValidationErrors) -> ItemPatch {
        ItemPatch {
            name: field(errors, "name", self.name),
            description: field(errors, "description", self.description),
            brand: field(errors, "brand", self.brand),
            category: self
                .category
                .and_then(|v| errors.check("category", Category::try_from(v))),
            price: self
                .price
                .and_then(|p| errors.check("price", Money::price(p.amount, &p.currency))),
            attributes: self
                .attributes
                .and_then(|a| errors.check("attributes", Attributes::try_from(a))),
            // A new order of the item's uploaded images (ids); one left out is deleted.
            images: self.images.and_then(|ids| {
                let parsed: Result<Vec<ImageId>, String> = if ids.len() > MAX_IMAGES {
                    Err(format!("at most {MAX_IMAGES} images"))
                } else {
                    ids.into_iter()
                        .map(ImageId::try_from)
                        .collect::<Result<Vec<_>, _>>()
                        .and_then(|ids| {
                            let unique: std::collections::BTreeSet<_> = ids.iter().collect();
                            (unique.len() == ids.len())
                                .then_some(ids)
                                .ok_or_else(|| "an image may be listed once".to_owned())
                        })
                };
                errors.check("images", parsed)
            }),
            low_stock_threshold: self.low_stock_threshold.and_then(|t| {
                let parsed = u32::try_from(t)
                    .ok()
                    .filter(|t| *t <= MAX_LOW_STOCK_THRESHOLD)
                    .ok_or_else(|| format!("must be 0..={MAX_LOW_STOCK_THRESHOLD}"));
                errors.check("lowStockThreshold", parsed)
            }),
        }
    }

    fn into_new_item(mut self) -> Result<NewItem, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let required = [
            ("name", self.name.is_none()),
            ("category", self.category.is_none()),
            ("brand", self.brand.is_none()),
            ("price", self.price.is_none()),
        ];
        if self.images.take().is_some() {
            // Images are uploaded once the item exists (POST /v1/seller/items/{itemId}/images).
            errors.0.push(crate::domain::FieldError::new(
                "images",
                "images are uploaded after the item is listed: POST /v1/seller/items/{itemId}/images",
            ));
        }
        for (name, missing) in required {
            if missing {
                errors
                    .0
                    .push(crate::domain::FieldError::new(name, "is required"));
            }
        }
        let patch = self.parse(&mut errors);
        errors.finish(|| {
            Some(NewItem {
                name: patch.name?,
                description: patch.description,
                category: patch.category?,
                brand: patch.brand?,
                price: patch.price?,
                attributes: patch.attributes.unwrap_or_default(),
                low_stock_threshold: patch.low_stock_threshold.unwrap_or(5),
            })
        })
    }

    fn into_patch(self) -> Result<ItemPatch, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let patch = self.parse(&mut errors);
        if errors.0.is_empty() && patch.is_empty() {
            errors.0.push(crate::domain::FieldError::new(
                "",
                "send at least one field to change",
            ));
        }
        errors.finish(|| Some(patch))
    }
}

/// An item response, with its version as the ETag for conditional edits.
fn item_response(status: StatusCode, view: &ItemView) -> Response<Body> {
    let response = json(status, view);
    let response = with_header(response, header::ETAG, format!("\"{}\"", view.item.version));
    with_header(
        response,
        header::LOCATION,
        format!("/v1/items/{}", view.item.item_id),
    )
}

/// `POST /v1/seller/items`
pub async fn create_item(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = principal_with(&req, Role::Seller)?;
            let new = json_body::<ItemBody>(&req)?.into_new_item()?;
            let view = catalog::create_item(&app.catalog, &who, new, app.clock.now()).await?;
            Ok(item_response(StatusCode::CREATED, &view))
        }
        .await,
    )
}

/// `PATCH /v1/seller/items/{itemId}` (optional `If-Match: "<version>"`)
pub async fn update_item(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = principal_with(&req, Role::Seller)?;
            let id: ItemId = path(&req, "itemId")?;
            let expected = if_match(&req)?;
            let patch = json_body::<ItemBody>(&req)?.into_patch()?;
            let view = catalog::update_item(
                &app.catalog,
                &app.inventory,
                &app.images,
                &who,
                id,
                &patch,
                expected,
                app.clock.now(),
            )
            .await?;
            Ok(item_response(StatusCode::OK, &view))
        }
        .await,
    )
}

/// `POST /v1/seller/items/{itemId}/images` (sellers, their own items; no body): a form to
/// post one image file straight to S3. The image worker then checks it; the item lists it
/// under `imageId` once accepted, or the seller's notices say why it was refused.
pub async fn begin_image_upload(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = principal_with(&req, Role::Seller)?;
            let id: ItemId = path(&req, "itemId")?;
            let offer = crate::usecases::images::upload::begin_upload(
                &app.catalog,
                &app.images,
                &who,
                id,
                app.clock.now(),
            )
            .await?;
            Ok(json(StatusCode::CREATED, &offer))
        }
        .await,
    )
}

/// `GET /v1/seller/items?limit=&cursor=`
pub async fn list_seller_items(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = principal_with(&req, Role::Seller)?;
            let page = page(&query(&req, &["limit", "cursor"])?)?;
            let listing = catalog::seller_items(&app.catalog, &app.inventory, &who, &page).await?;
            Ok(json(StatusCode::OK, &listing))
        }
        .await,
    )
}

/// `GET /v1/seller/notifications` (sellers): the caller's stock notices, newest first.
pub async fn list_seller_notifications(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = principal_with(&req, Role::Seller)?;
            let page = page(&query(&req, &["limit", "cursor"])?)?;
            let notices = crate::usecases::notices::list(&app.notices, &who, &page).await?;
            Ok(json(StatusCode::OK, &notices))
        }
        .await,
    )
}

/// The route a signed-in storefront reads an item by: the same answer, private, and the view
/// counted for recommendations (the public route cannot tell who looks, and is cached).
pub const SIGNED_IN_ITEM_ROUTE: &str = "GET /v1/me/items/{itemId}";

/// `GET /v1/items/{itemId}` (public) and `GET /v1/me/items/{itemId}` (signed in).
pub async fn get_item(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let viewer = if super::request::route_key(&req).as_deref() == Some(SIGNED_IN_ITEM_ROUTE)
            {
                Some(super::request::person(&req)?)
            } else {
                None
            };
            let id: ItemId = path(&req, "itemId")?;
            let view = catalog::get_item(&app.catalog, &app.inventory, id).await?;
            let response = item_response(StatusCode::OK, &view);
            Ok(match viewer {
                Some(who) => {
                    super::signal(
                        app,
                        crate::domain::signal::Signal::Viewed {
                            shopper: who.user_id,
                            item: id,
                        },
                    );
                    response
                }
                None => super::public(&req, response, app.config.cache_max_age),
            })
        }
        .await,
    )
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SaleBody {
    shards: i64,
    #[serde(default)]
    waiting_room: bool,
    #[serde(default)]
    admit_per_second: i64,
}

/// `PUT /v1/seller/items/{itemId}/sale` (sellers, their own items): how the item is sold,
/// `{"shards", "waitingRoom", "admitPerSecond"}`; answers the settings now in force.
pub async fn configure_sale(app: &App, req: Request) -> HttpResult {
    finish(
        async {
            let who = principal_with(&req, Role::Seller)?;
            let id: ItemId = path(&req, "itemId")?;
            let body: SaleBody = json_body(&req)?;
            let mut errors = crate::domain::ValidationErrors::default();
            let max = crate::domain::MAX_SHARDS;
            let shards = errors.check(
                "shards",
                u16::try_from(body.shards)
                    .ok()
                    .filter(|s| (1..=max).contains(s))
                    .ok_or_else(|| format!("shards must be 1 to {max}")),
            );
            let rate = errors.check(
                "admitPerSecond",
                u32::try_from(body.admit_per_second)
                    .map_err(|_| {
                        "admitPerSecond must be 0 (as fast as the shards take) or more".to_owned()
                    })
                    .and_then(|rate| {
                        let cap = u32::from(shards.unwrap_or(1))
                            * crate::domain::stock::HOLDS_PER_SHARD_PER_SECOND;
                        (rate <= cap).then_some(rate).ok_or_else(|| {
                            format!("admitPerSecond may be at most {cap} for these shards")
                        })
                    }),
            );
            let settings = errors.finish(|| {
                crate::domain::SaleSettings::new(shards?, body.waiting_room, rate?).ok()
            })?;
            let now =
                catalog::configure_sale(&app.catalog, &app.inventory, &who, id, settings).await?;
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({ "itemId": id, "sale": now }),
            ))
        }
        .await,
    )
}
