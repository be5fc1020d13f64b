//! [`WaitingRoom`] on the stock table (lane counters) and the shoppers table (tickets).
//!
//! An arrival takes the next number of one of the room's lanes (`ADD seq 1`, chosen by a hash
//! of the shopper; see [`lanes`]), and its admission time follows from it: each lane admits
//! `rate / lanes` shoppers a second from its base (`baseSeq` at `baseAt`), so the room as a
//! whole admits `rate` a second in arrival order (exactly within a lane; across lanes within
//! one lane's spacing). A lane that fell idle is re-based to now, so a quiet spell never
//! banks admissions for a burst. The shopper's ticket is one conditional put keyed by shopper
//! and item: a second arrival (a double click, a retry, another tab) gets the same ticket.
//! Each new ticket is also kept by its id in the live table (`TICKET#<ticketId>` / `TICKET`),
//! written before the shopper's ticket, so a WebSocket watcher naming a ticket it was given
//! always finds it and is pushed its place in line.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use aws_sdk_dynamodb::Client;

use super::keys::{room_lane_key, ticket_sk, user_key};
use super::{classify, conditional_put, counter, decode, encode, n, s};
use crate::domain::{ItemId, Ticket, Timestamp, UserId, ADMISSION_WINDOW_MS};
use crate::ports::{StoreError, WaitingRoom};

/// The most counters one room's arrivals are numbered on. Each takes one write per arrival,
/// so 16 lanes number 16,000 arrivals a second within DynamoDB's 1,000 writes per partition.
pub const LANES: u16 = 16;

/// Admissions a second per lane: a room gets one lane per 100 (1 to [`LANES`]), so a slow
/// room keeps exact arrival order on one counter and a fast one spreads its numbering.
pub const ADMISSIONS_PER_LANE: u32 = 100;

/// The lanes of a room admitting `rate` shoppers a second.
pub fn lanes(rate: u32) -> u16 {
    rate.div_ceil(ADMISSIONS_PER_LANE)
        .clamp(1, u32::from(LANES)) as u16
}

/// Waiting rooms in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoWaitingRoom {
    client: Client,
    stock: String,
    shoppers: String,
    live: String,
}

fn ticket_key(ticket_id: &str) -> super::Record {
    super::Record::from([
        ("pk".to_owned(), s(format!("TICKET#{ticket_id}"))),
        ("sk".to_owned(), s("TICKET")),
    ])
}

impl DynamoWaitingRoom {
    /// An adapter over `client` on the stock, shoppers and live tables.
    pub fn new(
        client: Client,
        stock: impl Into<String>,
        shoppers: impl Into<String>,
        live: impl Into<String>,
    ) -> Self {
        Self {
            client,
            stock: stock.into(),
            shoppers: shoppers.into(),
            live: live.into(),
        }
    }

    async fn read_ticket(&self, item: ItemId, user: &UserId) -> Result<Option<Ticket>, StoreError> {
        super::read_record(
            &self.client,
            &self.shoppers,
            user_key(user, &ticket_sk(item)),
        )
        .await?
        .map(decode::<Ticket>)
        .transpose()
    }

    /// The admission time of arrival `seq` on `lane`, re-basing an idle lane to `now`.
    async fn admission(
        &self,
        item: ItemId,
        lane: u16,
        rate: u32,
        now: Timestamp,
    ) -> Result<Timestamp, StoreError> {
        let key = room_lane_key(item, lane);
        let out = self
            .client
            .update_item()
            .table_name(&self.stock)
            .set_key(Some(key.clone()))
            .update_expression("ADD seq :one SET itemId = :i")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":i", s(item.to_string()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        let row = out.attributes.unwrap_or_default();
        let (seq, base_seq, base_at) = (
            counter(&row, "seq")?,
            counter(&row, "baseSeq")?,
            counter(&row, "baseAt")? as i64,
        );
        let spacing = f64::from(lanes(rate)) * 1000.0 / f64::from(rate.max(1));
        let at = base_at + (seq.saturating_sub(base_seq) as f64 * spacing) as i64;
        if at >= now.unix_millis() {
            return Ok(Timestamp::from_unix_millis(at));
        }
        // Idle lane: this arrival is admitted now and the lane counts from it. Losing the
        // race to another arrival's re-base is fine: both are admitted now.
        let rebase = self
            .client
            .update_item()
            .table_name(&self.stock)
            .set_key(Some(key))
            .update_expression("SET baseSeq = :seq, baseAt = :now")
            .condition_expression("attribute_not_exists(baseSeq) OR baseSeq = :old")
            .expression_attribute_values(":seq", n(seq))
            .expression_attribute_values(":now", n(now.unix_millis()))
            .expression_attribute_values(":old", n(base_seq))
            .send()
            .await;
        if let Err(e) = rebase {
            use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
            if !matches!(
                e.as_service_error(),
                Some(UpdateItemError::ConditionalCheckFailedException(_))
            ) {
                return Err(classify("UpdateItem", e));
            }
        }
        Ok(now)
    }
}

#[async_trait]
impl WaitingRoom for DynamoWaitingRoom {
    async fn arrive(
        &self,
        item: ItemId,
        user: &UserId,
        rate: u32,
        now: Timestamp,
    ) -> Result<Ticket, StoreError> {
        if let Some(ticket) = self.ticket(item, user, now).await? {
            return Ok(ticket);
        }
        let lane =
            (crate::domain::stock::fnv1a(&[user.as_str().as_bytes(), item.to_string().as_bytes()])
                % u64::from(lanes(rate))) as u16;
        let admit_at = self.admission(item, lane, rate, now).await?;
        let ticket = Ticket {
            ticket_id: uuid::Uuid::new_v4().to_string(),
            item_id: item,
            admit_at,
            expires_at: admit_at.plus_millis(ADMISSION_WINDOW_MS),
            rate,
        };
        let ttl = n(ticket.expires_at.unix_seconds() + 3600);
        let mut by_id = encode(&ticket)?;
        by_id.extend(ticket_key(&ticket.ticket_id));
        by_id.insert("ttl".into(), ttl.clone());
        self.client
            .put_item()
            .table_name(&self.live)
            .set_item(Some(by_id))
            .send()
            .await
            .map_err(|e| classify("PutItem", e))?;
        let mut record = encode(&ticket)?;
        record.extend(user_key(user, &ticket_sk(item)));
        record.insert("ttl".into(), ttl);
        let stored = conditional_put(
            self.client
                .put_item()
                .table_name(&self.shoppers)
                .set_item(Some(record))
                .condition_expression("attribute_not_exists(userId) OR expiresAt < :now")
                .expression_attribute_values(":now", s(now.to_string()))
                .send()
                .await,
        )?;
        if stored {
            return Ok(ticket);
        }
        // The same shopper arrived twice at once: both get the ticket that was stored.
        self.read_ticket(item, user)
            .await?
            .ok_or_else(|| StoreError::Contention("ticket kept changing".into()))
    }

    async fn by_id(
        &self,
        ticket_id: uuid::Uuid,
        now: Timestamp,
    ) -> Result<Option<Ticket>, StoreError> {
        let found =
            super::read_record(&self.client, &self.live, ticket_key(&ticket_id.to_string()))
                .await?;
        Ok(found
            .map(decode::<Ticket>)
            .transpose()?
            .filter(|t| now < t.expires_at))
    }

    async fn ticket(
        &self,
        item: ItemId,
        user: &UserId,
        now: Timestamp,
    ) -> Result<Option<Ticket>, StoreError> {
        Ok(self
            .read_ticket(item, user)
            .await?
            .filter(|t| now < t.expires_at))
    }
}
