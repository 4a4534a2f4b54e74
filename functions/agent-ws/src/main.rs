//! AWS Lambda entry point of the agents' WebSocket API (API Gateway WebSocket routes, route
//! selection `$request.body.action`):
//! - `$connect`: the token from the query string (`?token=`); 401 when it is refused (no
//!   connection is made), 500 when the store fails;
//! - `$disconnect`: forgets the connection;
//! - `$default`: answers the frame (e.g. `{"action":"ping"}` → `{"type":"pong"}`) as the route
//!   response, which API Gateway sends back on the socket (the route has a `$default` route
//!   response in `template.yaml`, so no `PostToConnection` is needed).
//!
//! Unlike the local hub, no `hello` frame is pushed at connect: API Gateway refuses posts to a
//! connection before `$connect` has returned. A client that waits for `hello` sends
//! `{"action":"hello"}` once the socket is open and gets it as the route response.

use std::sync::Arc;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use omnidesk_agent_api::Auth;
use omnidesk_agent_ws::{WsDeps, connect, disconnect, hello, on_frame};
use omnidesk_core::{ConnectionId, ServerEvent};
use omnidesk_lambda::lambda_runtime::{self, Error, LambdaEvent, service_fn};
use omnidesk_lambda::{Config, adapters, init_tracing, load_jwt_secret};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let aws = adapters(&config).await;
    let secret = load_jwt_secret(&aws.sdk, &config).await?;
    let auth = Auth::with_clock(
        secret.expose().as_bytes(),
        config.token_ttl,
        aws.clock.clone(),
    );
    let deps = Arc::new(WsDeps {
        connections: aws.store.clone(),
        agents: aws.store.clone(),
        auth: Arc::new(auth),
        clock: aws.clock.clone(),
    });
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let deps = deps.clone();
            async move { Ok::<_, Error>(handle(&deps, event.payload).await) }
        },
    ))
    .await
}

/// Answers one WebSocket route invocation.
async fn handle(
    deps: &WsDeps,
    request: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let context = &request.request_context;
    let Some(id) = context.connection_id.clone().map(ConnectionId) else {
        return reply(400, Some("no connection id".to_owned()));
    };
    match context.route_key.as_deref().unwrap_or("$default") {
        "$connect" => {
            let token = request.query_string_parameters.first("token");
            match connect(deps, &id, token).await {
                Ok(_) => reply(200, None),
                Err(e) if e.is_unauthorized() => reply(401, Some(e.to_string())),
                Err(e) => {
                    tracing::error!(error = %e, "connect failed");
                    reply(500, None)
                }
            }
        }
        "$disconnect" => {
            if let Err(e) = disconnect(deps, &id).await {
                // The row expires by TTL anyway.
                tracing::warn!(error = %e, "could not forget the connection");
            }
            reply(200, None)
        }
        _ => {
            let frame = request.body.as_deref().unwrap_or_default();
            if is_hello_request(frame) {
                return match hello_for(deps, &id).await {
                    Some(event) => reply(200, serde_json::to_string(&event).ok()),
                    None => reply(200, None),
                };
            }
            let event = on_frame(deps, &id, frame).await;
            reply(200, event.and_then(|e| serde_json::to_string(&e).ok()))
        }
    }
}

/// Whether the frame is `{"action":"hello"}`.
fn is_hello_request(frame: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(frame)
        .is_ok_and(|v| v.get("action").and_then(|a| a.as_str()) == Some("hello"))
}

/// The `hello` event of a registered connection (`None` if it is unknown or the store fails).
async fn hello_for(deps: &WsDeps, id: &ConnectionId) -> Option<ServerEvent> {
    match deps.connections.list_connections().await {
        Ok(all) => all
            .into_iter()
            .find(|c| c.id == *id)
            .map(|c| hello(c.agent_id, id)),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the connection for hello");
            None
        }
    }
}

fn reply(status: i64, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = body.map(Body::Text);
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use omnidesk_agent_api::{ApiDeps, create_agent};
    use omnidesk_core::ConnectionStore;
    use omnidesk_core::testing::{ManualClock, MemoryPush, MemoryQueue, MemoryStore, SeqIds};
    use omnidesk_domain::Timestamp;

    use super::*;

    async fn world() -> (WsDeps, Arc<MemoryStore>, String) {
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
        };
        let agent = create_agent(&api, "ann@example.com", "Ann", "password123")
            .await
            .expect("agent")
            .id;
        let token = auth.issue(agent).expect("token").token;
        let deps = WsDeps {
            connections: store.clone(),
            agents: store.clone(),
            auth,
            clock,
        };
        (deps, store, token)
    }

    /// The `aws_lambda_events` WebSocket fixture, re-routed.
    fn request(route: &str, token: &str, body: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
        let mut json: serde_json::Value =
            serde_json::from_str(include_str!("../tests/data/apigw_websocket_request.json"))
                .expect("fixture");
        json["requestContext"]["routeKey"] = route.into();
        json["requestContext"]["connectionId"] = "c-1".into();
        json["queryStringParameters"] = if token.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::json!({ "token": token })
        };
        json["multiValueQueryStringParameters"] = serde_json::Value::Null;
        json["body"] = body.into();
        serde_json::from_value(json).expect("websocket event")
    }

    #[tokio::test]
    async fn connect_with_a_valid_token_registers_the_connection_and_disconnect_forgets_it() {
        let (deps, store, token) = world().await;
        let r = handle(&deps, request("$connect", &token, None)).await;
        assert_eq!(r.status_code, 200);
        assert_eq!(store.list_connections().await.expect("list").len(), 1);
        let r = handle(&deps, request("$disconnect", "", None)).await;
        assert_eq!(r.status_code, 200);
        assert!(store.list_connections().await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn connect_without_or_with_a_forged_token_is_refused_with_401() {
        let (deps, store, _) = world().await;
        assert_eq!(
            handle(&deps, request("$connect", "", None))
                .await
                .status_code,
            401
        );
        assert_eq!(
            handle(&deps, request("$connect", "forged", None))
                .await
                .status_code,
            401
        );
        assert!(store.list_connections().await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn a_hello_request_is_answered_with_the_hello_event_of_the_connection() {
        let (deps, _, token) = world().await;
        assert_eq!(
            handle(&deps, request("$connect", &token, None))
                .await
                .status_code,
            200
        );
        let r = handle(
            &deps,
            request("$default", "", Some(r#"{"action":"hello"}"#)),
        )
        .await;
        let Some(Body::Text(text)) = r.body else {
            panic!("text body expected")
        };
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["type"], "hello");
        assert_eq!(v["connection_id"], "c-1");
    }

    #[tokio::test]
    async fn a_ping_frame_is_answered_with_pong_in_the_route_response() {
        let (deps, _, _) = world().await;
        let r = handle(&deps, request("$default", "", Some(r#"{"action":"ping"}"#))).await;
        assert_eq!(r.status_code, 200);
        let Some(Body::Text(text)) = r.body else {
            panic!("text body expected")
        };
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["type"], "pong");
    }
}
