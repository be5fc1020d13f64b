//! Catalog items: what a seller lists and a shopper sees.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ImageId, ItemId, ItemImage, Money, Text, Timestamp, UserId};

/// A browsable category slug such as `tvs` or `laptops`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

impl Category {
    /// The category as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Category {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        let ok = (1..=64).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !raw.starts_with('-');
        if ok {
            Ok(Self(raw))
        } else {
            Err("category must be a slug of 1-64 characters [a-z0-9-]".into())
        }
    }
}

impl From<Category> for String {
    fn from(c: Category) -> String {
        c.0
    }
}

/// Free-form product attributes (`size`, `colour`, `resolution`, ...), bounded in count and size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, String>",
    into = "BTreeMap<String, String>"
)]
pub struct Attributes(BTreeMap<String, String>);

impl Attributes {
    /// At most this many attributes.
    pub const MAX_ENTRIES: usize = 30;
    /// Longest attribute name, in characters.
    pub const MAX_KEY: usize = 40;
    /// Longest attribute value, in characters.
    pub const MAX_VALUE: usize = 200;

    /// Name and value of each attribute, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<BTreeMap<String, String>> for Attributes {
    type Error = String;
    fn try_from(map: BTreeMap<String, String>) -> Result<Self, String> {
        if map.len() > Self::MAX_ENTRIES {
            return Err(format!("at most {} attributes", Self::MAX_ENTRIES));
        }
        for (key, value) in &map {
            let key_ok = (1..=Self::MAX_KEY).contains(&key.len())
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !key_ok {
                return Err(format!(
                    "attribute names must be 1-{} characters [A-Za-z0-9_-]",
                    Self::MAX_KEY
                ));
            }
            if value.trim().is_empty()
                || value.chars().count() > Self::MAX_VALUE
                || value.chars().any(char::is_control)
            {
                return Err(format!(
                    "attribute '{key}' must be 1-{} printable characters",
                    Self::MAX_VALUE
                ));
            }
        }
        Ok(Self(map))
    }
}

impl From<Attributes> for BTreeMap<String, String> {
    fn from(a: Attributes) -> Self {
        a.0
    }
}

/// A product name: 1 to 200 characters.
pub type ItemName = Text<200>;
/// A brand: 1 to 100 characters.
pub type Brand = Text<100>;
/// A description: up to 5,000 characters.
pub type Description = Text<5000>;

/// The most images one item may carry.
pub const MAX_IMAGES: usize = 10;
/// The largest low-stock threshold a seller may set.
pub const MAX_LOW_STOCK_THRESHOLD: u32 = 100_000;

/// A listed product as stored and as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// The item's id.
    pub item_id: ItemId,
    /// The seller who listed it (their user id).
    pub seller_id: UserId,
    /// The product name, as listed.
    pub name: ItemName,
    /// The long description, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    /// The catalog category.
    pub category: Category,
    /// The brand, as listed.
    pub brand: Brand,
    /// The current unit price.
    pub price: Money,
    /// Left out when empty: DynamoDB Local renders an empty map in stream records as `{}`
    /// (no type), which the SDK cannot parse, and the items stream would stall locally.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    /// Uploaded images with their renditions, first is the main one (see
    /// [`super::image`]).
    #[serde(default, deserialize_with = "super::image::read_images")]
    pub images: Vec<ItemImage>,
    /// Available units at or below which the seller is told stock is low.
    pub low_stock_threshold: u32,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Bumped on every edit; lets readers (the search indexer) discard stale versions.
    pub version: u64,
}

/// A validated listing request, before it has an id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// The product name, as listed.
    pub name: ItemName,
    /// The long description, if any.
    pub description: Option<Description>,
    /// The catalog category.
    pub category: Category,
    /// The brand, as listed.
    pub brand: Brand,
    /// The current unit price.
    pub price: Money,
    /// Free-form attributes (colour, size, ...).
    pub attributes: Attributes,
    /// Available units at or below which the seller is told stock is low.
    pub low_stock_threshold: u32,
}

impl NewItem {
    /// The stored item for this listing.
    pub fn into_item(self, item_id: ItemId, seller_id: UserId, now: Timestamp) -> Item {
        Item {
            item_id,
            seller_id,
            name: self.name,
            description: self.description,
            category: self.category,
            brand: self.brand,
            price: self.price,
            attributes: self.attributes,
            images: Vec::new(),
            low_stock_threshold: self.low_stock_threshold,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

/// A validated partial edit: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemPatch {
    /// The product name, as listed.
    pub name: Option<ItemName>,
    /// The long description, if any.
    pub description: Option<Description>,
    /// The catalog category.
    pub category: Option<Category>,
    /// The brand, as listed.
    pub brand: Option<Brand>,
    /// The current unit price.
    pub price: Option<Money>,
    /// Free-form attributes (colour, size, ...).
    pub attributes: Option<Attributes>,
    /// The images to keep, in their new order (first is the main one); images left out are
    /// deleted. Every id must be one of the item's (checked by [`ItemPatch::images_known`]).
    pub images: Option<Vec<ImageId>>,
    /// Available units at or below which the seller is told stock is low.
    pub low_stock_threshold: Option<u32>,
}

impl ItemPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The first image id the patch names that `item` does not have (uploaded images only
    /// are listed; an id from elsewhere is a mistake to report, not to drop).
    pub fn images_known(&self, item: &Item) -> Result<(), ImageId> {
        match self
            .images
            .iter()
            .flatten()
            .find(|id| !item.images.iter().any(|i| i.image_id == **id))
        {
            Some(unknown) => Err(*unknown),
            None => Ok(()),
        }
    }

    /// The item after this edit (the pure part of an update; storage applies it atomically).
    pub fn apply(&self, item: &Item, now: Timestamp) -> Item {
        let mut next = item.clone();
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = &self.$field { next.$field = v.clone(); } )* };
        }
        set!(
            name,
            category,
            brand,
            price,
            attributes,
            low_stock_threshold
        );
        if let Some(order) = &self.images {
            next.images = order
                .iter()
                .filter_map(|id| item.images.iter().find(|i| i.image_id == *id).cloned())
                .collect();
        }
        if let Some(d) = &self.description {
            next.description = Some(d.clone());
        }
        next.updated_at = now;
        next.version = item.version + 1;
        next
    }
}
