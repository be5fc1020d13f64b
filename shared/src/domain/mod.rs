//! Domain types: parsed once at the edge, valid by construction afterwards ("parse, don't
//! validate"). Nothing here knows about HTTP, DynamoDB or any AWS service.

pub mod address;
pub mod archive;
pub mod cart;
pub mod checkout;
pub mod delivery;
pub mod event;
pub mod fulfilment;
pub mod ids;
pub mod image;
pub mod item;
pub mod mail;
pub mod money;
pub mod notice;
pub mod notification;
pub mod order;
pub mod page;
pub mod parking;
pub mod principal;
pub mod quantity;
pub mod recommend;
pub mod returns;
pub mod search;
pub mod signal;
pub mod stock;
pub mod suggest;
pub mod text;
pub mod time;
pub mod warehouse;
pub mod warehouse_update;

pub use address::Address;
pub use archive::{HistoryPosition, Keep, RETURN_WINDOW};
pub use cart::{Cart, CartRule, Wishlist};
pub use checkout::{Checkout, CheckoutStatus, HoldLine, HoldState, PaymentAttempt, ReleaseReason};
pub use delivery::{DeliveryMap, DeliveryPromise, Zip};
pub use fulfilment::{ShipmentLine, ShipmentState, WarehouseOrder};
pub use ids::{CheckoutId, ImageId, ItemId, OrderId, ReturnId, ReviewId, UserId, WarehouseId};
pub use image::{ImageRendition, ItemImage, UploadKey};
pub use item::{Attributes, Category, Item, ItemPatch, NewItem};
pub use money::{Currency, Money};
pub use notice::{NoticeKind, SellerNotice};
pub use notification::{
    EmailAddress, FanOut, Mail, MessageKind, Notice, NoticeMessage, NotificationSettings, Plan,
    RestockAlert, RestockNotice,
};
pub use order::{
    CancelledLine, DueKind, MoneyDue, NewOrder, Order, OrderStatus, Payment, PaymentState,
    StatusChange,
};
pub use page::{Cursor, Page, PageRequest};
pub use parking::Failures;
pub use principal::{MachineIdentity, Principal, Role};
pub use quantity::Quantity;
pub use returns::{
    ReturnAuthorisation, ReturnLabel, ReturnLine, ReturnReview, ReturnState, ReviewCause,
    ReviewDecision, ReviewState,
};
pub use search::{Facets, SearchCursor, SearchDoc, SearchHit, SearchHits, SearchQuery, SortOrder};
pub use stock::{
    Availability, SaleSettings, StockReceipt, Ticket, TicketView, ADMISSION_WINDOW_MS, MAX_SHARDS,
};
pub use text::Text;
pub use time::Timestamp;
pub use warehouse::Warehouse;

/// One rejected input field, reported to the caller as a `details` entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// JSON path of the offending field, e.g. `price.currency`.
    pub field: String,
    /// What is wrong, phrased for the API consumer.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`, in words.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every field error found in one input; empty means the input is valid.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s)", .0.len())]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Record the outcome of parsing one field, keeping the value when it parsed.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(message) => {
                self.0.push(FieldError::new(field, message));
                None
            }
        }
    }

    /// `Ok(value)` when no field failed; the collected errors otherwise.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ValidationErrors> {
        match (self.0.is_empty(), build()) {
            (true, Some(value)) => Ok(value),
            _ => Err(self),
        }
    }
}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        Self(vec![error])
    }
}
