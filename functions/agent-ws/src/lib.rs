//! omnidesk-agent-ws: the agents' WebSocket function, transport-free. On AWS it backs the
//! API Gateway WebSocket routes `$connect` / `$disconnect` / `$default`; locally the
//! in-process hub calls the same functions. Pushes to agents go through the `Push` port
//! elsewhere; this crate only admits, forgets and answers connections.
//!
//! [`handle_websocket_event`] maps one API Gateway WebSocket route invocation onto those
//! functions; the Lambda binary and the AWS end-to-end tests both call it.
//!
//! Website visitors use the same WebSocket API: their `$connect` carries `?ticket=` (a
//! single-use ticket from the widget API) instead of `?token=`, and is handed to
//! `omnidesk_web_chat::connect_visitor` when [`WsDeps::web`] is set.
//!
//! Depends on `omnidesk-core` ports, `omnidesk-agent-api`'s token check, the widget API's
//! visitor functions and the Lambda event types (`aws_lambda_events`); no AWS SDK types.

use std::sync::Arc;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use omnidesk_agent_api::{Auth, AuthError};
use omnidesk_core::{
    AgentStore, ClientAction, Clock, Connection, ConnectionId, ConnectionStore, Queue, QueueName,
    ServerEvent, StoreError, TimerJob,
};
use omnidesk_domain::AgentId;
use omnidesk_web_chat::{TicketError, WebChatDeps};

/// What the WebSocket function needs.
#[derive(Clone)]
pub struct WsDeps {
    pub connections: Arc<dyn ConnectionStore>,
    pub agents: Arc<dyn AgentStore>,
    pub auth: Arc<Auth>,
    /// Single-use tokens: the agents' WebSocket tickets.
    pub tickets: Arc<dyn omnidesk_core::WebStore>,
    pub clock: Arc<dyn Clock>,
    /// The widget API's dependencies, for visitors' sockets (`?ticket=`); `None` refuses them.
    pub web: Option<WebChatDeps>,
    /// Presence follows the dashboard: a connect and a disconnect send timers
    /// ([`TimerJob::AgentBack`], [`TimerJob::AgentAway`]) that the router acts on. `None`:
    /// agents set their status by hand only.
    pub presence: Option<Presence>,
}

/// Where presence timers go, and how long after the last dashboard closes an agent goes
/// offline.
#[derive(Clone)]
pub struct Presence {
    pub queue: Arc<dyn Queue>,
    pub away_after: std::time::Duration,
}

impl Presence {
    /// The default of [`Presence::away_after`] (`OMNIDESK_AWAY_AFTER_SECS`): long enough for
    /// a reload or a network change, short enough that customers do not wait on someone gone.
    pub const AWAY_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

    /// Reads `OMNIDESK_AWAY_AFTER_SECS` (whole seconds; unset or blank: the default; at most
    /// 900, the timers queue's longest delay).
    pub fn away_after_from(value: Option<&str>) -> Result<std::time::Duration, String> {
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(Self::AWAY_AFTER);
        };
        let secs: u64 = v
            .parse()
            .map_err(|_| format!("OMNIDESK_AWAY_AFTER_SECS: expected whole seconds, got {v:?}"))?;
        if secs > 900 {
            return Err(format!(
                "OMNIDESK_AWAY_AFTER_SECS: at most 900 (the timers queue's longest delay), got {secs}"
            ));
        }
        Ok(std::time::Duration::from_secs(secs))
    }

    async fn send(&self, job: &TimerJob, delay: std::time::Duration) {
        let sent = self
            .queue
            .send(QueueName::Timers, job.to_queue_message(delay))
            .await;
        if let Err(error) = sent {
            tracing::warn!(?job, %error, "presence timer not sent");
        }
    }
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
    /// The session was ended (signed out, password or role changed, agent disabled).
    #[error("session ended")]
    SessionEnded,
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

impl From<omnidesk_agent_api::SessionError> for ConnectError {
    fn from(e: omnidesk_agent_api::SessionError) -> Self {
        use omnidesk_agent_api::SessionError;
        match e {
            SessionError::Token(e) => e.into(),
            SessionError::UnknownAgent => Self::UnknownAgent,
            SessionError::Ended => Self::SessionEnded,
            SessionError::Store(e) => Self::Store(e),
        }
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

/// How an agent's dashboard proves who it is at connect.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// The agent's token (`?token=`; `None`: absent). Kept for API clients; the dashboard
    /// uses a ticket.
    Token(Option<&'a str>),
    /// A single-use ticket from `POST /api/v1/auth/ws-ticket` (`?agent_ticket=`).
    Ticket(&'a str),
}

impl<'a> Credential<'a> {
    /// The credential of a connect's query parameters: a ticket when one is given.
    pub fn from_query(agent_ticket: Option<&'a str>, token: Option<&'a str>) -> Self {
        match agent_ticket {
            Some(ticket) => Self::Ticket(ticket),
            None => Self::Token(token),
        }
    }
}

/// `$connect`: checks the credential (from the connect query string) and registers the
/// connection for pushes. Returns the agent it belongs to.
#[tracing::instrument(skip_all, fields(connection_id = %connection_id))]
pub async fn connect(
    deps: &WsDeps,
    connection_id: &ConnectionId,
    credential: Credential<'_>,
) -> Result<AgentId, ConnectError> {
    let agent = match credential {
        Credential::Token(token) => {
            omnidesk_agent_api::current_agent(&deps.auth, deps.agents.as_ref(), token).await?
        }
        Credential::Ticket(ticket) => {
            omnidesk_agent_api::agent_of_ticket(
                deps.tickets.as_ref(),
                deps.agents.as_ref(),
                ticket,
                deps.clock.now(),
            )
            .await?
        }
    };
    let agent_id = agent.id;
    deps.connections
        .add_connection(&Connection {
            id: connection_id.clone(),
            agent_id,
            connected_at: deps.clock.now(),
            // Pushes tell it only about the conversations the agent may read.
            viewer: Some(omnidesk_core::Viewer::of(&agent)),
        })
        .await?;
    tracing::info!(agent_id = %agent_id, "agent connected");
    if let Some(presence) = &deps.presence {
        presence
            .send(&TimerJob::AgentBack { agent_id }, std::time::Duration::ZERO)
            .await;
    }
    Ok(agent_id)
}

/// `$disconnect`: forgets the connection (unknown ids are fine).
#[tracing::instrument(skip_all, fields(connection_id = %connection_id))]
pub async fn disconnect(deps: &WsDeps, connection_id: &ConnectionId) -> Result<(), StoreError> {
    let agent = match &deps.presence {
        Some(_) => deps
            .connections
            .list_connections()
            .await?
            .into_iter()
            .find(|c| &c.id == connection_id)
            .map(|c| c.agent_id),
        None => None,
    };
    deps.connections.remove_connection(connection_id).await?;
    tracing::debug!("agent disconnected");
    // The router checks, when the timer is due, that no other dashboard of theirs is open.
    if let (Some(presence), Some(agent_id)) = (&deps.presence, agent) {
        let job = TimerJob::AgentAway {
            agent_id,
            disconnected_at: deps.clock.now(),
        };
        presence.send(&job, presence.away_after).await;
    }
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
/// - `$connect`: an agent's token (`?token=`) or a visitor's single-use ticket (`?ticket=`,
///   redeemed once; needs [`WsDeps::web`]); 401 with the reason when it is refused (no
///   connection is made), 500 when the store fails;
/// - `$disconnect`: forgets the connection, a visitor's or an agent's (200 even when the store
///   fails: the row expires by TTL);
/// - `$default`: the answer (`pong`, `hello`, `error`) as the route response body, which API
///   Gateway sends back on the socket: [`on_frame`] for agents, `visitor_frame` for visitors
///   (`{"action":"hello"}` answers the visitor's `hello`). A ping is answered `pong` without
///   a lookup: the frame is the same for both.
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
            if let Some(ticket) = request.query_string_parameters.first("ticket") {
                return connect_visitor(deps, &id, ticket).await;
            }
            let credential = Credential::from_query(
                request.query_string_parameters.first("agent_ticket"),
                request.query_string_parameters.first("token"),
            );
            match connect(deps, &id, credential).await {
                Ok(_) => websocket_reply(200, None),
                Err(e) if e.is_unauthorized() => websocket_reply(401, Some(e.to_string())),
                Err(e) => {
                    tracing::error!(error = %e, "connect failed");
                    websocket_reply(500, None)
                }
            }
        }
        "$disconnect" => {
            // A read (the visitor pointer) is a fifth of a write: cheaper than deleting both.
            let result = match visitor_of(deps, &id).await {
                Ok(Some((web, _))) => omnidesk_web_chat::disconnect_visitor(web, &id).await,
                Ok(None) => disconnect(deps, &id).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not forget the connection");
            }
            websocket_reply(200, None)
        }
        _ => {
            let frame = request.body.as_deref().unwrap_or_default();
            if !is_ping(frame) {
                match visitor_of(deps, &id).await {
                    Ok(Some((_, visitor))) => {
                        return websocket_reply(200, Some(visitor_answer(visitor, frame)));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(connection_id = %id, error = %e, "visitor lookup failed");
                        return websocket_reply(
                            200,
                            Some(error("try again later".to_owned()).to_json()),
                        );
                    }
                }
            }
            let event = on_frame(deps, &id, frame).await;
            websocket_reply(200, event.map(|e| e.to_json()))
        }
    }
}

/// `$connect` of a visitor: redeems the ticket and registers the connection.
async fn connect_visitor(
    deps: &WsDeps,
    id: &ConnectionId,
    ticket: &str,
) -> ApiGatewayProxyResponse {
    let Some(web) = &deps.web else {
        return websocket_reply(401, Some("visitor sockets are not enabled".to_owned()));
    };
    match omnidesk_web_chat::connect_visitor(web, id, ticket).await {
        Ok(visitor) => {
            tracing::info!(connection_id = %id, visitor_id = %visitor, "visitor connected");
            websocket_reply(200, None)
        }
        Err(TicketError::Invalid) => websocket_reply(401, Some(TicketError::Invalid.to_string())),
        Err(e) => {
            tracing::error!(error = %e, "visitor connect failed");
            websocket_reply(500, None)
        }
    }
}

/// The visitor of connection `id`, when it is a visitor's (and visitors are enabled).
async fn visitor_of<'a>(
    deps: &'a WsDeps,
    id: &ConnectionId,
) -> Result<Option<(&'a WebChatDeps, omnidesk_domain::VisitorId)>, StoreError> {
    let Some(web) = &deps.web else {
        return Ok(None);
    };
    Ok(web
        .visitors
        .visitor_connection(id)
        .await?
        .map(|c| (web, c.visitor_id)))
}

fn is_ping(frame: &str) -> bool {
    matches!(
        serde_json::from_str::<ClientAction>(frame),
        Ok(ClientAction::Ping)
    )
}

/// A visitor socket's answer ([`omnidesk_web_chat::visitor_frame`]).
fn visitor_answer(visitor: omnidesk_domain::VisitorId, frame: &str) -> String {
    omnidesk_web_chat::visitor_frame(visitor, frame).to_json()
}

/// A route response with `status` and an optional text body.
pub fn websocket_reply(status: i64, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = body.map(Body::Text);
    response
}
