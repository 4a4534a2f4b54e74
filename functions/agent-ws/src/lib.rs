//! omnidesk-agent-ws: the agents' WebSocket function, transport-free. On AWS it backs the
//! API Gateway WebSocket routes `$connect` / `$disconnect` / `$default`; locally the
//! in-process hub calls the same functions. Pushes to agents go through the `Push` port
//! elsewhere; this crate only admits, forgets and answers connections.
//!
//! [`handle_websocket_event`] maps one API Gateway WebSocket route invocation onto those
//! functions; the Lambda binary and the AWS end-to-end tests both call it.
//!
//! Depends on `omnidesk-core` ports, `omnidesk-agent-api`'s token check and the Lambda event
//! types (`aws_lambda_events`); no AWS SDK types.

use std::sync::Arc;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use omnidesk_agent_api::{Auth, AuthError, authenticate};
use omnidesk_core::{
    AgentStore, ClientAction, Clock, Connection, ConnectionId, ConnectionStore, ServerEvent,
    StoreError,
};
use omnidesk_domain::AgentId;

/// What the WebSocket function needs.
#[derive(Clone)]
pub struct WsDeps {
    pub connections: Arc<dyn ConnectionStore>,
    pub agents: Arc<dyn AgentStore>,
    pub auth: Arc<Auth>,
    pub clock: Arc<dyn Clock>,
}

/// Why a connection was refused. The `Display` text of the token variants is safe to return
/// to the client; `Store` is for the log (answer it with a plain 5xx).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No `token` in the connect query string.
    #[error("missing token")]
    MissingToken,
    /// The token is malformed or forged.
    #[error("invalid token")]
    InvalidToken,
    /// The token's lifetime is over; log in again.
    #[error("token expired")]
    TokenExpired,
    /// The token names an agent who no longer exists.
    #[error("unknown agent")]
    UnknownAgent,
    /// The store failed; retrying can help when it is transient.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
}

impl ConnectError {
    /// Whether the client should be told 401 (bad credentials) rather than 5xx.
    pub fn is_unauthorized(&self) -> bool {
        !matches!(self, Self::Store(_))
    }
}

impl From<AuthError> for ConnectError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => Self::MissingToken,
            AuthError::Expired => Self::TokenExpired,
            AuthError::Invalid | AuthError::Signing(_) => Self::InvalidToken,
        }
    }
}

/// `$connect`: checks the token (from the connect query string) and registers the connection
/// for pushes. Returns the agent it belongs to.
#[tracing::instrument(skip_all, fields(connection_id = %connection_id))]
pub async fn connect(
    deps: &WsDeps,
    connection_id: &ConnectionId,
    token: Option<&str>,
) -> Result<AgentId, ConnectError> {
    let agent_id = authenticate(&deps.auth, token)?;
    if deps.agents.get_agent(agent_id).await?.is_none() {
        return Err(ConnectError::UnknownAgent);
    }
    deps.connections
        .add_connection(&Connection {
            id: connection_id.clone(),
            agent_id,
            connected_at: deps.clock.now(),
        })
        .await?;
    tracing::info!(agent_id = %agent_id, "agent connected");
    Ok(agent_id)
}

/// `$disconnect`: forgets the connection (unknown ids are fine).
#[tracing::instrument(skip_all, fields(connection_id = %connection_id))]
pub async fn disconnect(deps: &WsDeps, connection_id: &ConnectionId) -> Result<(), StoreError> {
    deps.connections.remove_connection(connection_id).await?;
    tracing::debug!("agent disconnected");
    Ok(())
}

/// `$default`: answers one client frame. `{"action":"ping"}` gets `pong`; anything else gets
/// an `error` event naming the problem (the connection stays open).
pub async fn on_frame(
    deps: &WsDeps,
    connection_id: &ConnectionId,
    text: &str,
) -> Option<ServerEvent> {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(connection_id = %connection_id, "unparseable frame");
            return Some(error(format!("frame is not valid JSON: {e}")));
        }
    };
    let Some(action) = value
        .get("action")
        .and_then(|a| a.as_str())
        .map(str::to_owned)
    else {
        return Some(error(
            "frame has no \"action\" (expected e.g. {\"action\":\"ping\"})".to_owned(),
        ));
    };
    match serde_json::from_value::<ClientAction>(value) {
        Ok(ClientAction::Ping) => Some(ServerEvent::Pong),
        Ok(ClientAction::Hello) => match deps.connections.list_connections().await {
            Ok(conns) => match conns.into_iter().find(|c| &c.id == connection_id) {
                Some(c) => Some(hello(c.agent_id, connection_id)),
                None => Some(error("this connection is not registered".to_owned())),
            },
            Err(e) => {
                tracing::warn!(connection_id = %connection_id, error = %e, "hello lookup failed");
                Some(error("try again later".to_owned()))
            }
        },
        Err(_) => Some(error(format!("unknown action {action:?}"))),
    }
}

fn error(message: String) -> ServerEvent {
    ServerEvent::Error { message }
}

/// The first frame a new connection receives.
pub fn hello(agent: AgentId, connection_id: &ConnectionId) -> ServerEvent {
    ServerEvent::Hello {
        agent_id: agent,
        connection_id: connection_id.0.clone(),
    }
}

/// Answers one API Gateway WebSocket route invocation (route selection
/// `$request.body.action`):
/// - `$connect`: the token from the query string (`?token=`); 401 with the reason when it is
///   refused (no connection is made), 500 when the store fails;
/// - `$disconnect`: forgets the connection (200 even when the store fails: the row expires by
///   TTL);
/// - `$default`: [`on_frame`]'s answer (`pong`, `hello`, `error`) as the route response body,
///   which API Gateway sends back on the socket.
///
/// No `hello` is pushed at connect: API Gateway refuses posts to a connection before `$connect`
/// has returned. A client that wants it sends `{"action":"hello"}` once the socket is open.
pub async fn handle_websocket_event(
    deps: &WsDeps,
    request: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let context = &request.request_context;
    let Some(id) = context.connection_id.clone().map(ConnectionId) else {
        return websocket_reply(400, Some("no connection id".to_owned()));
    };
    match context.route_key.as_deref().unwrap_or("$default") {
        "$connect" => {
            let token = request.query_string_parameters.first("token");
            match connect(deps, &id, token).await {
                Ok(_) => websocket_reply(200, None),
                Err(e) if e.is_unauthorized() => websocket_reply(401, Some(e.to_string())),
                Err(e) => {
                    tracing::error!(error = %e, "connect failed");
                    websocket_reply(500, None)
                }
            }
        }
        "$disconnect" => {
            if let Err(e) = disconnect(deps, &id).await {
                tracing::warn!(error = %e, "could not forget the connection");
            }
            websocket_reply(200, None)
        }
        _ => {
            let frame = request.body.as_deref().unwrap_or_default();
            let event = on_frame(deps, &id, frame).await;
            websocket_reply(200, event.map(|e| e.to_json()))
        }
    }
}

/// A route response with `status` and an optional text body.
pub fn websocket_reply(status: i64, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = body.map(Body::Text);
    response
}
