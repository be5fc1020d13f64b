//! [`Watchers`] in the live table: `pk = ITEM#<itemId>`, `sk = <connectionId>` per watch (one
//! `Query` lists an item's watchers), and `pk = CONN#<connectionId>`, `sk = CONN` listing the
//! items a connection watches (so a disconnect can remove its rows). Every row expires by TTL
//! after [`KEEP_HOURS`] (API Gateway closes a WebSocket after 2 hours anyway). A watch that
//! follows a waiting-room ticket carries the ticket's fields on its item row.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, PutRequest, ReturnValue, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use super::inventory::build;
use super::keys::{connection_key, item_pk, watch_key};
use super::{classify, decode, encode, n, s, Record};
use crate::domain::{ItemId, Ticket};
use crate::ports::{ConnectionId, StoreError, Watch, Watchers, MAX_WATCHED};

/// How long a watch is kept without its connection saying goodbye.
pub const KEEP_HOURS: i64 = 3;

/// Watches in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoWatchers {
    client: Client,
    table: String,
    clock: std::sync::Arc<dyn crate::ports::Clock>,
}

impl DynamoWatchers {
    /// An adapter over `client` on the named table, reading the time from `clock`.
    pub fn new(
        client: Client,
        table: impl Into<String>,
        clock: std::sync::Arc<dyn crate::ports::Clock>,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    async fn write(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        super::batch_write(&self.client, &self.table, requests).await
    }
}

#[async_trait]
impl Watchers for DynamoWatchers {
    async fn watch(
        &self,
        connection: &ConnectionId,
        items: &[ItemId],
        ticket: Option<&Ticket>,
    ) -> Result<(), StoreError> {
        let items: Vec<ItemId> = items.iter().copied().take(MAX_WATCHED).collect();
        if items.is_empty() {
            return Ok(());
        }
        let ttl = self.clock.now().unix_seconds() + KEEP_HOURS * 3600;
        let names: Vec<String> = items.iter().map(ItemId::to_string).collect();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(connection)))
            .update_expression("ADD #items :items SET #ttl = :ttl")
            .expression_attribute_names("#items", "items")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":items", AttributeValue::Ss(names))
            .expression_attribute_values(":ttl", n(ttl))
            .return_values(ReturnValue::None)
            .send()
            .await
            .map_err(|e| classify("UpdateItem", e))?;
        let mut puts = Vec::with_capacity(items.len());
        for item in &items {
            let mut row = match ticket.filter(|t| t.item_id == *item) {
                Some(t) => encode(t)?,
                None => Record::new(),
            };
            row.extend(watch_key(*item, connection));
            row.insert("ttl".into(), n(ttl));
            puts.push(
                WriteRequest::builder()
                    .put_request(build(PutRequest::builder().set_item(Some(row)).build())?)
                    .build(),
            );
        }
        self.write(puts).await
    }

    async fn forget(&self, connection: &ConnectionId) -> Result<(), StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(connection)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let items: Vec<String> = out
            .item
            .and_then(|mut r| r.remove("items"))
            .and_then(|v| v.as_ss().ok().cloned())
            .unwrap_or_default();
        let mut deletes = Vec::with_capacity(items.len() + 1);
        // The list holds what `watch` wrote; a name that no longer parses as an item id
        // cannot have a watch row under it, so it is skipped rather than guessed at.
        for item in items
            .iter()
            .filter_map(|raw| ItemId::try_from(raw.as_str()).ok())
        {
            deletes.push(watch_key(item, connection));
        }
        deletes.push(connection_key(connection));
        let requests = deletes
            .into_iter()
            .map(|k| {
                Ok(WriteRequest::builder()
                    .delete_request(build(DeleteRequest::builder().set_key(Some(k)).build())?)
                    .build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write(requests).await
    }

    async fn watching(&self, item: ItemId) -> Result<Vec<Watch>, StoreError> {
        let rows = super::every_page(
            self.client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(item_pk(item))),
        )
        .await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(Ok(connection)) = row
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .map(|raw| ConnectionId::try_from(raw.as_str()))
            else {
                continue;
            };
            let ticket = if row.contains_key("ticketId") {
                Some(decode::<Ticket>(row)?)
            } else {
                None
            };
            found.push(Watch { connection, ticket });
        }
        Ok(found)
    }
}
