//! Catalog items: what a seller lists and a shopper sees.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ItemId, Money, Text, Timestamp, UserId};

/// A browsable category slug such as `tvs` or `laptops`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Category(String);

impl Category {
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

/// An image location: an absolute https URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageUrl(String);

impl TryFrom<String> for ImageUrl {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        let host = raw.strip_prefix("https://").unwrap_or("");
        if raw.len() <= 2048
            && !host.is_empty()
            && !host.starts_with('/')
            && !raw.chars().any(char::is_whitespace)
        {
            Ok(Self(raw))
        } else {
            Err("image URLs must be https URLs of at most 2048 characters".into())
        }
    }
}

impl From<ImageUrl> for String {
    fn from(u: ImageUrl) -> String {
        u.0
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
    pub const MAX_ENTRIES: usize = 30;
    pub const MAX_KEY: usize = 40;
    pub const MAX_VALUE: usize = 200;

    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }

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

pub type ItemName = Text<200>;
pub type Brand = Text<100>;
pub type Description = Text<5000>;

/// The most images one item may carry.
pub const MAX_IMAGES: usize = 10;
/// The largest low-stock threshold a seller may set.
pub const MAX_LOW_STOCK_THRESHOLD: u32 = 100_000;

/// A listed product as stored and as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub item_id: ItemId,
    pub seller_id: UserId,
    pub name: ItemName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    pub category: Category,
    pub brand: Brand,
    pub price: Money,
    /// Left out when empty: DynamoDB Local renders an empty map in stream records as `{}`
    /// (no type), which the SDK cannot parse, and the items stream would stall locally.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    #[serde(default)]
    pub images: Vec<ImageUrl>,
    pub low_stock_threshold: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Bumped on every edit; lets readers (the search indexer) discard stale versions.
    pub version: u64,
}

/// A validated listing request, before it has an id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    pub name: ItemName,
    pub description: Option<Description>,
    pub category: Category,
    pub brand: Brand,
    pub price: Money,
    pub attributes: Attributes,
    pub images: Vec<ImageUrl>,
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
            images: self.images,
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
    pub name: Option<ItemName>,
    pub description: Option<Description>,
    pub category: Option<Category>,
    pub brand: Option<Brand>,
    pub price: Option<Money>,
    pub attributes: Option<Attributes>,
    pub images: Option<Vec<ImageUrl>>,
    pub low_stock_threshold: Option<u32>,
}

impl ItemPatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
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
            images,
            low_stock_threshold
        );
        if let Some(d) = &self.description {
            next.description = Some(d.clone());
        }
        next.updated_at = now;
        next.version = item.version + 1;
        next
    }
}
