//! The live-stock WebSocket API's routes (`$connect`, `$disconnect`, `watch`) and the stock
//! stream consumer that pushes to watchers. WebSocket routes answer API Gateway with a status
//! only; what the browser sees is pushed through the management API.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::dynamodb::Event as StreamEvent;
use aws_lambda_events::streams::DynamoDbEventResponse;
use lambda_runtime::{Error, LambdaEvent};
use serde_json::json;

use crate::ports::{ConnectionId, Push};
use crate::usecases::live;
use crate::App;

fn status(code: i64) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = code;
    response
}

fn connection(event: &ApiGatewayWebsocketProxyRequest) -> Option<ConnectionId> {
    ConnectionId::try_from(event.request_context.connection_id.as_deref()?).ok()
}

/// `live-connect` (`$connect`): anyone may watch public stock; nothing is stored until a
/// `watch` names items.
pub async fn live_connect(
    _app: &App,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    Ok(status(if connection(&event.payload).is_some() {
        200
    } else {
        400
    }))
}

/// `live-disconnect` (`$disconnect`): the connection's watches are removed (TTL removes
/// them anyway should this fail: API Gateway delivers `$disconnect` on a best-effort basis).
pub async fn live_disconnect(
    app: &App,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let Some(id) = connection(&event.payload) else {
        return Ok(status(400));
    };
    if let Err(e) = crate::ports::Watchers::forget(&app.watchers, &id).await {
        tracing::warn!(connection_id = %id, error = %e, "watches not removed; TTL will");
    }
    Ok(status(200))
}

/// `live-watch` (route `watch`): `{"action": "watch", "items": [...], "ticket"?: ticketId}`;
/// each item's stock (and the ticket's place in line) is pushed at once, and again on every
/// change. A bad message is answered with an error push.
pub async fn live_watch(
    app: &App,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let Some(id) = connection(&event.payload) else {
        return Ok(status(400));
    };
    match live::watch(
        app.live(),
        &id,
        event.payload.body.as_deref(),
        app.clock.now(),
    )
    .await
    {
        Ok(_) => Ok(status(200)),
        Err(e @ (live::WatchError::Invalid | live::WatchError::UnknownTicket)) => {
            let code = match e {
                live::WatchError::UnknownTicket => "UNKNOWN_TICKET",
                _ => "INVALID_MESSAGE",
            };
            let message = json!({ "type": "error", "error": {
                "code": code, "message": e.to_string() } });
            if let Err(e) = app.live_push.push(&id, &message).await {
                tracing::warn!(connection_id = %id, error = %e, "error not pushed");
            }
            Ok(status(400))
        }
        Err(live::WatchError::Store(e)) => {
            tracing::warn!(connection_id = %id, error = %e, "watch failed");
            Ok(status(503))
        }
    }
}

/// `push-live-stock`: from the stock stream (item totals and shards), tell each changed
/// item's watchers what is on sale now. Redelivery pushes the current figure again, which
/// is harmless: a push says what is, not what changed.
pub async fn push_live_stock(
    app: &App,
    event: LambdaEvent<StreamEvent>,
) -> Result<DynamoDbEventResponse, Error> {
    let records = &event.payload.records;
    Ok(
        super::streams::per_item(app, records, "live push", |items| async move {
            let delivered = live::push_stock(app.live(), &items, app.clock.now()).await?;
            tracing::info!(items = items.len(), delivered, "live stock pushed");
            Ok(())
        })
        .await,
    )
}
