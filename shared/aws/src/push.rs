//! [`ApiGatewayPush`]: the [`Push`] port on the API Gateway Management API
//! (`POST /@connections/{id}`).

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use omnidesk_core::{ConnectionId, Push, PushError, PushOutcome, check_push_size};

/// Pushes frames to API Gateway WebSocket connections.
///
/// `GoneException` (HTTP 410) is `Ok(Gone)`; throttling (`LimitExceededException`, 429), 5xx and
/// transport failures are `Transient`; oversized payloads (checked before sending, and
/// `PayloadTooLargeException`), `ForbiddenException` and other 4xx are `Permanent`.
#[derive(Debug, Clone)]
pub struct ApiGatewayPush {
    client: Client,
}

impl ApiGatewayPush {
    /// Over a client whose endpoint is the stage URL
    /// (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`).
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A client for the stage at `endpoint_url`, from shared SDK config.
    pub fn from_conf(sdk_config: &aws_config::SdkConfig, endpoint_url: &str) -> Self {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(sdk_config)
            .endpoint_url(endpoint_url)
            .build();
        Self::new(Client::from_conf(conf))
    }
}

#[async_trait]
impl Push for ApiGatewayPush {
    async fn post(
        &self,
        connection: &ConnectionId,
        payload: &str,
    ) -> Result<PushOutcome, PushError> {
        check_push_size(payload)?;
        let result = self
            .client
            .post_to_connection()
            .connection_id(&connection.0)
            .data(Blob::new(payload.as_bytes()))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(PushOutcome::Delivered),
            Err(err) => err,
        };
        let status = err.raw_response().map(|r| r.status().as_u16());
        let text = format!("PostToConnection: {}", DisplayErrorContext(&err));
        match err.as_service_error() {
            Some(PostToConnectionError::GoneException(_)) => Ok(PushOutcome::Gone),
            Some(PostToConnectionError::LimitExceededException(_)) => {
                Err(PushError::Transient(text))
            }
            Some(PostToConnectionError::PayloadTooLargeException(_)) => {
                Err(PushError::Permanent(text))
            }
            Some(e) if e.code() == Some("GoneException") => Ok(PushOutcome::Gone),
            _ => match status {
                Some(410) => Ok(PushOutcome::Gone),
                Some(429) => Err(PushError::Transient(text)),
                Some(code) if (400..500).contains(&code) => Err(PushError::Permanent(text)),
                // 5xx, timeouts, connection failures.
                _ => Err(PushError::Transient(text)),
            },
        }
    }
}
