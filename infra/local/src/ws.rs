//! `GET /ws?token=<jwt>` (agents) and `GET /ws?ticket=<ticket>` (website visitors): the local
//! WebSocket endpoint. It does locally what API Gateway does on AWS — authenticate at connect,
//! hand frames to the agent-ws function (or answer a visitor's), deliver pushes — with the
//! same JSON protocol, plus a protocol-level heartbeat.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as WsMessage, WebSocket};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use omnidesk_agent_ws::WsDeps;
use omnidesk_core::{ConnectionId, IdGen};
use omnidesk_local::Hub;
use serde::Deserialize;

/// What the WebSocket endpoint needs.
#[derive(Clone)]
pub struct WsState {
    pub deps: WsDeps,
    /// The widget API (visitor tickets and connections).
    pub web: omnidesk_web_chat::WebChatDeps,
    pub hub: Hub,
    pub ids: Arc<dyn IdGen>,
    pub ping: Duration,
}

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    token: Option<String>,
    /// An agent's single-use ticket (`POST /api/v1/auth/ws-ticket`).
    agent_ticket: Option<String>,
    /// A website visitor's ticket.
    ticket: Option<String>,
}

/// Who is at the other end of a socket.
#[derive(Clone, Copy)]
enum Peer {
    Agent,
    Visitor(omnidesk_domain::VisitorId),
}

/// Authenticates before upgrading: a missing, invalid or expired token gets 401 and no socket.
pub async fn upgrade(
    State(state): State<WsState>,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let conn = ConnectionId(format!("local-{}", state.ids.uuid().simple()));
    if let Some(ticket) = q.ticket.as_deref() {
        return upgrade_visitor(state, conn, ticket, ws).await;
    }
    let credential =
        omnidesk_agent_ws::Credential::from_query(q.agent_ticket.as_deref(), q.token.as_deref());
    let agent = match omnidesk_agent_ws::connect(&state.deps, &conn, credential).await {
        Ok(agent) => agent,
        Err(e) => {
            let body =
                serde_json::json!({"error": {"code": "unauthorized", "message": e.to_string()}});
            return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        }
    };
    // Register before the upgrade completes so no push between connect and socket is lost.
    let outbox = state.hub.register(conn.clone());
    ws.on_upgrade(move |socket| async move {
        let hello = omnidesk_agent_ws::hello(agent, &conn).to_json();
        serve_socket(&state, socket, &conn, outbox, hello, Peer::Agent).await;
        state.hub.unregister(&conn);
        if let Err(e) = omnidesk_agent_ws::disconnect(&state.deps, &conn).await {
            tracing::warn!(connection = %conn, error = %e, "could not forget the connection");
        }
    })
}

/// A visitor's socket: the single-use ticket (from `POST /web/v1/ws-ticket`) is redeemed
/// before the upgrade; a missing, used or expired one gets 401 and no socket.
async fn upgrade_visitor(
    state: WsState,
    conn: ConnectionId,
    ticket: &str,
    ws: WebSocketUpgrade,
) -> Response {
    // Register before redeeming so no push between connect and socket is lost.
    let outbox = state.hub.register(conn.clone());
    let visitor = match omnidesk_web_chat::connect_visitor(&state.web, &conn, ticket).await {
        Ok(v) => v,
        Err(e) => {
            state.hub.unregister(&conn);
            let (status, code) = match e {
                omnidesk_web_chat::TicketError::Invalid => {
                    (StatusCode::UNAUTHORIZED, "invalid_ticket")
                }
                omnidesk_web_chat::TicketError::Store(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
                }
            };
            let body = serde_json::json!({"error": {"code": code, "message": e.to_string()}});
            return (status, axum::Json(body)).into_response();
        }
    };
    ws.on_upgrade(move |socket| async move {
        let hello = omnidesk_web_chat::visitor_hello(visitor).to_json();
        serve_socket(&state, socket, &conn, outbox, hello, Peer::Visitor(visitor)).await;
        state.hub.unregister(&conn);
        if let Err(e) = omnidesk_web_chat::disconnect_visitor(&state.web, &conn).await {
            tracing::warn!(connection = %conn, error = %e, "could not forget the visitor");
        }
    })
}

async fn serve_socket(
    state: &WsState,
    socket: WebSocket,
    conn: &ConnectionId,
    mut outbox: tokio::sync::mpsc::Receiver<String>,
    hello: String,
    peer: Peer,
) {
    let (mut tx, mut rx) = socket.split();
    if tx.send(WsMessage::Text(hello.into())).await.is_err() {
        return;
    }
    let mut ticker = tokio::time::interval(state.ping);
    ticker.tick().await;
    let mut last_seen = Instant::now();
    loop {
        tokio::select! {
            frame = outbox.recv() => {
                let Some(frame) = frame else { break };
                if tx.send(WsMessage::Text(frame.into())).await.is_err() {
                    break;
                }
            }
            incoming = rx.next() => {
                let Some(Ok(msg)) = incoming else { break };
                last_seen = Instant::now();
                match msg {
                    WsMessage::Text(text) => {
                        let reply = match peer {
                            Peer::Agent => omnidesk_agent_ws::on_frame(&state.deps, conn, text.as_str())
                                .await
                                .map(|r| r.to_json()),
                            Peer::Visitor(visitor) => Some(
                                omnidesk_web_chat::visitor_frame(visitor, text.as_str()).to_json(),
                            ),
                        };
                        if let Some(reply) = reply
                            && tx.send(WsMessage::Text(reply.into())).await.is_err()
                        {
                            break;
                        }
                    }
                    WsMessage::Close(_) => break,
                    _ => {}
                }
            }
            _ = ticker.tick() => {
                if last_seen.elapsed() > state.ping * 3 {
                    tracing::debug!(connection = %conn, "heartbeat lost; closing");
                    break;
                }
                if tx.send(WsMessage::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = tx.send(WsMessage::Close(None)).await;
}
