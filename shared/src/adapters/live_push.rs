//! [`Push`] through API Gateway's management API for WebSocket APIs (`PostToConnection` on
//! `LIVE_ENDPOINT`); locally the gateway serves the same API (`aisle-local gateway`).

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::Client;

use crate::ports::{ConnectionId, Push, StoreError};

/// Pushes to WebSocket connections.
#[derive(Debug, Clone)]
pub struct ApiGatewayPush {
    client: Client,
}

impl ApiGatewayPush {
    /// A client of the management API at `endpoint`.
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: Client::from_conf(config),
        }
    }
}

#[async_trait]
impl Push for ApiGatewayPush {
    async fn push(
        &self,
        connection: &ConnectionId,
        message: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let sent = self
            .client
            .post_to_connection()
            .connection_id(connection.as_str())
            .data(Blob::new(message.to_string()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PostToConnectionError::GoneException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(super::classify("PostToConnection", e)),
        }
    }
}
