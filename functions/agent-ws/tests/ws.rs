//! The WebSocket function against the in-memory adapters: the transport-free functions, and
//! the API Gateway WebSocket events through `handle_websocket_event` (what the Lambda runs).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use omnidesk_agent_api::{ApiDeps, Auth, create_agent};
use omnidesk_agent_ws::{
    ConnectError, Credential, WsDeps, connect, disconnect, handle_websocket_event, hello, on_frame,
    websocket_reply,
};
use omnidesk_core::testing::{ManualClock, MemoryPush, MemoryQueue, MemoryStore, SeqIds};
use omnidesk_core::{ConnectionId, ConnectionStore, IdGen, ServerEvent, UuidV7Ids};
use omnidesk_domain::{AgentId, Timestamp};

struct World {
    ws: WsDeps,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    agent: AgentId,
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_704_067_200_000)));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let auth = Arc::new(Auth::with_clock(
        b"ws-test-secret",
        Duration::from_secs(3600),
        clock.clone(),
    ));
    let api = ApiDeps {
        contacts: store.clone(),
        conversations: store.clone(),
        messages: store.clone(),
        agents: store.clone(),
        connections: store.clone(),
        push: Arc::new(MemoryPush::new()),
        queue: Arc::new(MemoryQueue::with_clock(clock.clone())),
        clock: clock.clone(),
        ids: Arc::new(SeqIds::new()),
        auth: auth.clone(),
        blobs: Arc::new(omnidesk_core::testing::MemoryBlobStore::new()),
        files: omnidesk_agent_api::FileSettings::default(),
        translation: None,
        ai: None,
        routing: store.clone(),
        bots: store.clone(),
        tickets: store.clone(),
        erasure: store.clone(),
        mailer: None,
        audit: omnidesk_agent_api::AuditLog {
            store: store.clone(),
            keep: omnidesk_agent_api::DEFAULT_AUDIT_RETENTION,
        },
        on_routing_change: None,
    };
    let agent = create_agent(&api, "ann@example.com", "Ann", "zebra-lantern-42")
        .await
        .unwrap()
        .id;
    World {
        ws: WsDeps {
            connections: store.clone(),
            agents: store.clone(),
            tickets: store.clone(),
            auth,
            clock: clock.clone(),
            presence: None,
            web: None,
        },
        store,
        clock,
        agent,
    }
}

fn conn(id: &str) -> ConnectionId {
    ConnectionId(id.to_owned())
}

#[tokio::test]
async fn connect_with_a_valid_token_registers_the_connection() {
    let w = world().await;
    let token = w.ws.auth.issue(w.agent).unwrap().token;
    let agent = connect(&w.ws, &conn("c1"), Credential::Token(Some(&token)))
        .await
        .unwrap();
    assert_eq!(agent, w.agent);
    let conns = w.store.list_connections().await.unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].id, conn("c1"));
    assert_eq!(conns[0].agent_id, w.agent);
    assert_eq!(
        conns[0].connected_at,
        Timestamp::from_millis(1_704_067_200_000)
    );
}

#[tokio::test]
async fn connect_without_or_with_a_bad_or_expired_token_is_refused_and_not_stored() {
    let w = world().await;
    let missing = connect(&w.ws, &conn("c1"), Credential::Token(None))
        .await
        .unwrap_err();
    assert!(matches!(missing, ConnectError::MissingToken));
    assert!(missing.is_unauthorized());

    let forged = connect(&w.ws, &conn("c2"), Credential::Token(Some("abc.def.ghi")))
        .await
        .unwrap_err();
    assert!(matches!(forged, ConnectError::InvalidToken));

    let token = w.ws.auth.issue(w.agent).unwrap().token;
    w.clock.advance(Duration::from_secs(3601));
    let expired = connect(&w.ws, &conn("c3"), Credential::Token(Some(&token)))
        .await
        .unwrap_err();
    assert!(matches!(expired, ConnectError::TokenExpired));
    assert_eq!(expired.to_string(), "token expired");

    assert!(w.store.list_connections().await.unwrap().is_empty());
}

#[tokio::test]
async fn connect_for_an_agent_that_does_not_exist_is_refused() {
    let w = world().await;
    let ghost = UuidV7Ids.agent_id();
    assert_ne!(ghost, w.agent);
    let token = w.ws.auth.issue(ghost).unwrap().token;
    let err = connect(&w.ws, &conn("c1"), Credential::Token(Some(&token)))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::UnknownAgent));
    assert!(w.store.list_connections().await.unwrap().is_empty());
}

#[tokio::test]
async fn disconnect_forgets_the_connection_and_tolerates_unknown_ids() {
    let w = world().await;
    let token = w.ws.auth.issue(w.agent).unwrap().token;
    connect(&w.ws, &conn("c1"), Credential::Token(Some(&token)))
        .await
        .unwrap();
    connect(&w.ws, &conn("c2"), Credential::Token(Some(&token)))
        .await
        .unwrap();
    disconnect(&w.ws, &conn("c1")).await.unwrap();
    let ids: Vec<_> = w
        .store
        .list_connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, vec![conn("c2")]);
    disconnect(&w.ws, &conn("never-seen")).await.unwrap();
}

#[tokio::test]
async fn ping_frame_is_answered_with_pong() {
    let w = world().await;
    let answer = on_frame(&w.ws, &conn("c1"), r#"{"action":"ping"}"#).await;
    assert_eq!(answer, Some(ServerEvent::Pong));
    assert_eq!(answer.unwrap().to_json(), r#"{"type":"pong"}"#);
}

#[tokio::test]
async fn unparseable_or_unknown_frames_get_an_error_naming_the_problem() {
    let w = world().await;
    let message = |e: Option<ServerEvent>| match e {
        Some(ServerEvent::Error { message }) => message,
        other => panic!("expected an error event, got {other:?}"),
    };
    let not_json = message(on_frame(&w.ws, &conn("c1"), "ping please").await);
    assert!(not_json.contains("not valid JSON"), "{not_json}");
    let no_action = message(on_frame(&w.ws, &conn("c1"), r#"{"hello":1}"#).await);
    assert!(no_action.contains("no \"action\""), "{no_action}");
    let unknown = message(on_frame(&w.ws, &conn("c1"), r#"{"action":"dance"}"#).await);
    assert!(unknown.contains("unknown action \"dance\""), "{unknown}");
}

#[tokio::test]
async fn hello_names_the_agent_and_the_connection() {
    let w = world().await;
    let event = hello(w.agent, &conn("abc"));
    let json: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap();
    assert_eq!(json["type"], "hello");
    assert_eq!(json["agent_id"], w.agent.to_string());
    assert_eq!(json["connection_id"], "abc");
}

#[tokio::test]
async fn hello_is_answered_for_a_registered_connection_only() {
    let w = world().await;
    let token = w.ws.auth.issue(w.agent).unwrap().token;
    connect(&w.ws, &conn("c1"), Credential::Token(Some(&token)))
        .await
        .unwrap();
    let answer = on_frame(&w.ws, &conn("c1"), r#"{"action":"hello"}"#).await;
    match answer {
        Some(ServerEvent::Hello {
            agent_id,
            connection_id,
        }) => {
            assert_eq!(agent_id, w.agent);
            assert_eq!(connection_id, "c1");
        }
        other => panic!("expected hello, got {other:?}"),
    }
    let stranger = on_frame(&w.ws, &conn("nobody"), r#"{"action":"hello"}"#).await;
    assert!(
        matches!(stranger, Some(ServerEvent::Error { .. })),
        "{stranger:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// API Gateway WebSocket events (the Lambda's handler)

/// The `aws_lambda_events` WebSocket fixture, re-routed to `route` on connection `c-1`.
fn request(route: &str, token: &str, body: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
    let mut json: serde_json::Value =
        serde_json::from_str(include_str!("data/apigw_websocket_request.json")).unwrap();
    json["requestContext"]["routeKey"] = route.into();
    json["requestContext"]["connectionId"] = "c-1".into();
    json["queryStringParameters"] = if token.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::json!({ "token": token })
    };
    json["multiValueQueryStringParameters"] = serde_json::Value::Null;
    json["body"] = body.into();
    serde_json::from_value(json).unwrap()
}

fn body_json(response: &ApiGatewayProxyResponse) -> serde_json::Value {
    let Some(Body::Text(text)) = &response.body else {
        panic!("text body expected, got {:?}", response.body)
    };
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn a_connect_event_with_a_valid_token_registers_and_a_disconnect_event_forgets() {
    let w = world().await;
    let token = w.ws.auth.issue(w.agent).unwrap().token;
    let r = handle_websocket_event(&w.ws, request("$connect", &token, None)).await;
    assert_eq!(r.status_code, 200);
    let conns = w.store.list_connections().await.unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].id, conn("c-1"));
    let r = handle_websocket_event(&w.ws, request("$disconnect", "", None)).await;
    assert_eq!(r.status_code, 200);
    assert!(w.store.list_connections().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_connect_event_without_or_with_a_forged_token_is_refused_with_401() {
    let w = world().await;
    let missing = handle_websocket_event(&w.ws, request("$connect", "", None)).await;
    assert_eq!(missing.status_code, 401);
    assert_eq!(missing.body, Some(Body::Text("missing token".to_owned())));
    let forged = handle_websocket_event(&w.ws, request("$connect", "forged", None)).await;
    assert_eq!(forged.status_code, 401);
    assert!(w.store.list_connections().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_hello_frame_is_answered_with_the_hello_event_in_the_route_response() {
    let w = world().await;
    let token = w.ws.auth.issue(w.agent).unwrap().token;
    let r = handle_websocket_event(&w.ws, request("$connect", &token, None)).await;
    assert_eq!(r.status_code, 200);
    let r = handle_websocket_event(
        &w.ws,
        request("$default", "", Some(r#"{"action":"hello"}"#)),
    )
    .await;
    assert_eq!(r.status_code, 200);
    let v = body_json(&r);
    assert_eq!(v["type"], "hello");
    assert_eq!(v["connection_id"], "c-1");
    assert_eq!(v["agent_id"], w.agent.to_string());
}

#[tokio::test]
async fn a_ping_frame_is_answered_with_pong_and_garbage_with_an_error_event() {
    let w = world().await;
    let r =
        handle_websocket_event(&w.ws, request("$default", "", Some(r#"{"action":"ping"}"#))).await;
    assert_eq!(r.status_code, 200);
    assert_eq!(body_json(&r)["type"], "pong");
    let r = handle_websocket_event(&w.ws, request("$default", "", Some("nonsense"))).await;
    assert_eq!(r.status_code, 200);
    assert_eq!(body_json(&r)["type"], "error");
}

#[tokio::test]
async fn an_event_without_a_connection_id_is_answered_400() {
    let w = world().await;
    let mut event = request("$connect", "", None);
    event.request_context.connection_id = None;
    let r = handle_websocket_event(&w.ws, event).await;
    assert_eq!(r.status_code, 400);
}

#[test]
fn a_websocket_reply_carries_its_status_and_text_body() {
    let r = websocket_reply(503, Some("service unavailable".to_owned()));
    assert_eq!(r.status_code, 503);
    assert_eq!(r.body, Some(Body::Text("service unavailable".to_owned())));
    assert_eq!(websocket_reply(200, None).body, None);
}

#[tokio::test]
async fn a_ticket_connects_once_within_a_minute_and_only_while_the_session_lasts() {
    use omnidesk_core::Clock as _;
    let w = world().await;
    let session = omnidesk_agent_api::Session {
        agent: w.agent,
        version: 0,
    };
    let now = w.clock.now();
    let (ticket, expires_at) = omnidesk_agent_api::issue_ticket(w.store.as_ref(), session, now)
        .await
        .unwrap();
    assert_eq!(expires_at.millis() - now.millis(), 60_000);
    let agent = connect(&w.ws, &conn("c1"), Credential::Ticket(&ticket))
        .await
        .unwrap();
    assert_eq!(agent, w.agent);
    // Used up: a second connect with it (a replayed URL) is refused.
    let replay = connect(&w.ws, &conn("c2"), Credential::Ticket(&ticket))
        .await
        .unwrap_err();
    assert!(matches!(replay, ConnectError::InvalidToken), "{replay:?}");
    assert!(replay.is_unauthorized());

    // An unused ticket expires after a minute.
    let (late, _) = omnidesk_agent_api::issue_ticket(w.store.as_ref(), session, w.clock.now())
        .await
        .unwrap();
    w.clock.advance(Duration::from_secs(61));
    assert!(matches!(
        connect(&w.ws, &conn("c3"), Credential::Ticket(&late)).await,
        Err(ConnectError::InvalidToken)
    ));

    // A ticket of a session that ended since (sign-out) opens nothing.
    let (ticket, _) = omnidesk_agent_api::issue_ticket(w.store.as_ref(), session, w.clock.now())
        .await
        .unwrap();
    omnidesk_agent_api::end_sessions(w.store.as_ref(), w.agent)
        .await
        .unwrap();
    assert!(matches!(
        connect(&w.ws, &conn("c4"), Credential::Ticket(&ticket)).await,
        Err(ConnectError::SessionEnded)
    ));
    let listed: Vec<ConnectionId> = w
        .store
        .list_connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, vec![conn("c1")]);
}
