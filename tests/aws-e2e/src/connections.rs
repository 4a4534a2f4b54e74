//! [`ConnectionsFake`]: a local API Gateway Management API (`POST /prod/@connections/{id}`) on
//! 127.0.0.1 that records every posted frame. Every connection is live unless marked gone, in
//! which case it answers 410 `GoneException` the way API Gateway does (moto cannot).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::Value;

#[derive(Debug, Default)]
struct Inner {
    frames: HashMap<String, Vec<String>>,
    gone: HashSet<String>,
}

type Shared = Arc<Mutex<Inner>>;

/// The fake `@connections` server; stops when dropped.
#[derive(Debug)]
pub struct ConnectionsFake {
    base: String,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ConnectionsFake {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn post_to_connection(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut s = state.lock();
    if s.gone.contains(&id) {
        return (
            StatusCode::GONE,
            [("x-amzn-ErrorType", "GoneException")],
            r#"{"message":null}"#,
        )
            .into_response();
    }
    s.frames
        .entry(id)
        .or_default()
        .push(String::from_utf8_lossy(&body).into_owned());
    (StatusCode::OK, "{}").into_response()
}

impl ConnectionsFake {
    /// Starts it on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<Self> {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/prod/@connections/{id}", post(post_to_connection))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "fake @connections server stopped");
            }
        });
        Ok(Self {
            base: format!("http://{addr}"),
            state,
            server,
        })
    }

    /// The stage URL to give the Management API client (`http://127.0.0.1:<port>/prod`).
    pub fn stage_url(&self) -> String {
        format!("{}/prod", self.base)
    }

    /// Frames posted to `connection`, in order.
    pub fn frames(&self, connection: &str) -> Vec<String> {
        self.state
            .lock()
            .frames
            .get(connection)
            .cloned()
            .unwrap_or_default()
    }

    /// The events of type `event_type` posted to `connection`, with `batch` frames unpacked.
    pub fn events(&self, connection: &str, event_type: &str) -> Vec<Value> {
        fn flatten(v: Value, out: &mut Vec<Value>) {
            if v["type"] == "batch" {
                if let Value::Array(events) = v["events"].clone() {
                    for e in events {
                        flatten(e, out);
                    }
                }
            } else {
                out.push(v);
            }
        }
        let mut all = Vec::new();
        for frame in self.frames(connection) {
            if let Ok(v) = serde_json::from_str::<Value>(&frame) {
                flatten(v, &mut all);
            }
        }
        all.retain(|v| v["type"] == event_type);
        all
    }

    /// Makes `connection` answer 410 Gone from now on.
    pub fn mark_gone(&self, connection: &str) {
        self.state.lock().gone.insert(connection.to_owned());
    }
}
