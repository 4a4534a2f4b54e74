//! A local fake of the Telegram Bot API: a real HTTP server on `127.0.0.1:0` that speaks the
//! Bot API wire protocol (`POST /bot<token>/<method>`, JSON, form or query parameters,
//! `{"ok":…}` envelopes), for tests and `omnidesk bench`.
//!
//! It implements `sendMessage`, `getMe`, `getUpdates` (with `offset`, `limit` and long
//! polling), `setWebhook`, `deleteWebhook` and `getWebhookInfo`; records every accepted
//! `sendMessage`; and can be scripted to fail the next send to a chat the way Telegram does
//! (429 with `retry_after`, 403 blocked, 5xx, 400). Updates pushed with
//! [`FakeTelegram::push_update`] are served to every bot token.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;

/// The username `getMe` reports for every bot.
pub const FAKE_BOT_USERNAME: &str = "omnidesk_test_bot";

/// Longest long poll the fake honours, in seconds (Telegram allows 50).
const MAX_POLL_SECS: u64 = 50;

/// One `sendMessage` the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The bot token of the call.
    pub token: String,
    pub chat_id: i64,
    pub text: String,
    /// The `message_id` the fake returned.
    pub message_id: i32,
    /// When the fake received it.
    pub at: Instant,
}

/// How the next `sendMessage` to a chat fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeFailure {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after = N` (seconds).
    RetryAfter(u64),
    /// 403 `Forbidden: bot was blocked by the user`.
    Blocked,
    /// 500 `Internal Server Error`.
    ServerError,
    /// 400 with this description (e.g. `Bad Request: chat not found`).
    BadRequest(String),
}

/// What `setWebhook` set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeWebhook {
    pub url: String,
    pub secret_token: Option<String>,
    pub drop_pending_updates: bool,
}

#[derive(Default)]
struct Inner {
    next_message_id: i32,
    sent: Vec<SentMessage>,
    /// Scripted outcomes of the next sends per chat (`None` = succeed).
    script: HashMap<i64, VecDeque<Option<FakeFailure>>>,
    /// `(update_id, raw JSON)`, oldest first.
    updates: VecDeque<(i64, String)>,
    next_update_id: i64,
    webhook: Option<FakeWebhook>,
}

struct Shared {
    inner: Mutex<Inner>,
    updates_changed: Notify,
    sent_changed: Notify,
}

/// The fake Bot API server. It stops when dropped.
pub struct FakeTelegram {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeTelegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTelegram")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeTelegram {
    /// Starts the server on `127.0.0.1:0`.
    ///
    /// # Panics
    /// If no loopback port can be bound (use [`FakeTelegram::try_start`] to handle that).
    pub async fn start() -> Self {
        match Self::try_start().await {
            Ok(fake) => fake,
            Err(e) => panic!("cannot start the fake Telegram server: {e}"),
        }
    }

    /// Starts the server on `127.0.0.1:0`.
    pub async fn try_start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                next_message_id: 1,
                next_update_id: 1,
                ..Inner::default()
            }),
            updates_changed: Notify::new(),
            sent_changed: Notify::new(),
        });
        let app = Router::new()
            .route("/{token}/{method}", any(handle))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "fake Telegram server stopped");
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// The base URL to give the client (`TELEGRAM_API_URL`), e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every `sendMessage` accepted so far, in arrival order.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.shared.inner.lock().sent.clone()
    }

    /// How many `sendMessage` calls were accepted so far.
    pub fn sent_count(&self) -> usize {
        self.shared.inner.lock().sent.len()
    }

    /// Returns and forgets the recorded sends (keeps memory flat in long benchmarks).
    pub fn take_sent(&self) -> Vec<SentMessage> {
        std::mem::take(&mut self.shared.inner.lock().sent)
    }

    /// Waits until at least `n` sends were accepted or `timeout` passed; returns every send
    /// recorded by then (check its length).
    pub async fn wait_for_sent(&self, n: usize, timeout: Duration) -> Vec<SentMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.sent_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let inner = self.shared.inner.lock();
                if inner.sent.len() >= n {
                    return inner.sent.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.sent();
            }
        }
    }

    /// Makes the next `sendMessage` to `chat_id` fail with `failure`. Scripted outcomes queue
    /// up per chat: `fail_next` twice fails the next two sends.
    pub fn fail_next(&self, chat_id: i64, failure: FakeFailure) {
        self.script(chat_id, Some(failure));
    }

    /// Queues a success in the chat's script, so that a later [`FakeFailure`] hits a later send
    /// (e.g. `succeed_next` then `fail_next` fails the second part of a split text).
    pub fn succeed_next(&self, chat_id: i64) {
        self.script(chat_id, None);
    }

    fn script(&self, chat_id: i64, outcome: Option<FakeFailure>) {
        self.shared
            .inner
            .lock()
            .script
            .entry(chat_id)
            .or_default()
            .push_back(outcome);
    }

    /// Queues a raw update for `getUpdates` and wakes long polls. Its `update_id` is read from
    /// the JSON (the next free id is used when it has none); returns that id.
    pub fn push_update(&self, raw_json: &str) -> i64 {
        let declared = serde_json::from_str::<Map<String, Value>>(raw_json)
            .ok()
            .and_then(|o| o.get("update_id").and_then(Value::as_i64));
        let id = {
            let mut inner = self.shared.inner.lock();
            let id = declared.unwrap_or(inner.next_update_id);
            inner.next_update_id = inner.next_update_id.max(id + 1);
            inner.updates.push_back((id, raw_json.to_owned()));
            id
        };
        self.shared.updates_changed.notify_waiters();
        id
    }

    /// What `setWebhook` set last (`None` before it or after `deleteWebhook`).
    pub fn webhook(&self) -> Option<FakeWebhook> {
        self.shared.inner.lock().webhook.clone()
    }
}

type Params = Map<String, Value>;

fn ok(result: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        format!(r#"{{"ok":true,"result":{result}}}"#),
    )
        .into_response()
}

fn error(code: u16, description: &str, parameters: Option<Value>) -> Response {
    let mut body = json!({ "ok": false, "error_code": code, "description": description });
    if let Some(p) = parameters {
        body["parameters"] = p;
    }
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Query-string, JSON and form parameters, merged (the body wins). `Err` is the description
/// of a 400.
fn params(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<Params, &'static str> {
    let mut params = Params::new();
    if let Some(q) = uri.query() {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(q).map_err(|_| "Bad Request: invalid query string")?;
        params.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if body.is_empty() {
        return Ok(params);
    }
    if content_type.starts_with("application/json") {
        let object: Params =
            serde_json::from_slice(body).map_err(|_| "Bad Request: can't parse JSON object")?;
        params.extend(object);
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| "Bad Request: can't parse form")?;
        params.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    } else {
        return Err("Bad Request: the fake accepts JSON, form or query parameters only");
    }
    Ok(params)
}

fn int_param(params: &Params, name: &str) -> Option<i64> {
    match params.get(name)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn str_param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).and_then(Value::as_str)
}

fn bool_param(params: &Params, name: &str) -> bool {
    match params.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true" || s == "1",
        _ => false,
    }
}

fn bot_user(bot_id: i64) -> Value {
    json!({ "id": bot_id, "is_bot": true, "first_name": "Fake bot", "username": FAKE_BOT_USERNAME })
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((token_segment, method)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(token) = token_segment.strip_prefix("bot") else {
        return error(404, "Not Found", None);
    };
    let Some(bot_id) = token
        .split_once(':')
        .and_then(|(id, secret)| (!secret.is_empty()).then_some(id))
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
    else {
        return error(401, "Unauthorized", None);
    };
    let params = match params(&uri, &headers, &body) {
        Ok(p) => p,
        Err(description) => return error(400, description, None),
    };
    match method.to_ascii_lowercase().as_str() {
        "sendmessage" => send_message(&shared, token, bot_id, &params),
        "getme" => ok(&json!({
            "id": bot_id, "is_bot": true, "first_name": "Fake bot",
            "username": FAKE_BOT_USERNAME, "can_join_groups": true,
            "can_read_all_group_messages": false, "supports_inline_queries": false,
        })),
        "getupdates" => get_updates(&shared, &params).await,
        "setwebhook" => {
            let url = str_param(&params, "url").unwrap_or("").to_owned();
            let drop_pending = bool_param(&params, "drop_pending_updates");
            let mut inner = shared.inner.lock();
            if drop_pending {
                inner.updates.clear();
            }
            inner.webhook = (!url.is_empty()).then(|| FakeWebhook {
                url,
                secret_token: str_param(&params, "secret_token").map(str::to_owned),
                drop_pending_updates: drop_pending,
            });
            ok(&json!(true))
        }
        "deletewebhook" => {
            let mut inner = shared.inner.lock();
            if bool_param(&params, "drop_pending_updates") {
                inner.updates.clear();
            }
            inner.webhook = None;
            ok(&json!(true))
        }
        "getwebhookinfo" => {
            let inner = shared.inner.lock();
            ok(&json!({
                "url": inner.webhook.as_ref().map(|w| w.url.as_str()).unwrap_or(""),
                "has_custom_certificate": false,
                "pending_update_count": inner.updates.len(),
            }))
        }
        _ => error(404, "Not Found", None),
    }
}

fn send_message(shared: &Shared, token: &str, bot_id: i64, params: &Params) -> Response {
    let Some(chat_id) = int_param(params, "chat_id") else {
        return error(400, "Bad Request: chat_id is empty", None);
    };
    let text = str_param(params, "text").unwrap_or("");
    if text.trim().is_empty() {
        return error(400, "Bad Request: message text is empty", None);
    }
    if text.encode_utf16().count() > 4096 {
        return error(400, "Bad Request: message is too long", None);
    }
    let (message_id, failure) = {
        let mut inner = shared.inner.lock();
        let scripted = inner
            .script
            .get_mut(&chat_id)
            .and_then(VecDeque::pop_front)
            .flatten();
        if let Some(failure) = scripted {
            (0, Some(failure))
        } else {
            let message_id = inner.next_message_id;
            inner.next_message_id += 1;
            inner.sent.push(SentMessage {
                token: token.to_owned(),
                chat_id,
                text: text.to_owned(),
                message_id,
                at: Instant::now(),
            });
            (message_id, None)
        }
    };
    match failure {
        Some(FakeFailure::RetryAfter(secs)) => error(
            429,
            &format!("Too Many Requests: retry after {secs}"),
            Some(json!({ "retry_after": secs })),
        ),
        Some(FakeFailure::Blocked) => error(403, "Forbidden: bot was blocked by the user", None),
        Some(FakeFailure::ServerError) => error(500, "Internal Server Error", None),
        Some(FakeFailure::BadRequest(description)) => error(400, &description, None),
        None => {
            shared.sent_changed.notify_waiters();
            let chat = if chat_id > 0 {
                json!({ "id": chat_id, "type": "private", "first_name": "Customer" })
            } else {
                json!({ "id": chat_id, "type": "supergroup", "title": "Group" })
            };
            ok(&json!({
                "message_id": message_id,
                "from": bot_user(bot_id),
                "chat": chat,
                "date": unix_now(),
                "text": text,
            }))
        }
    }
}

async fn get_updates(shared: &Shared, params: &Params) -> Response {
    let offset = int_param(params, "offset");
    let limit = int_param(params, "limit")
        .and_then(|l| usize::try_from(l).ok())
        .filter(|l| (1..=100).contains(l))
        .unwrap_or(100);
    let wait = int_param(params, "timeout")
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(0)
        .min(MAX_POLL_SECS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let notified = shared.updates_changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let batch: Vec<String> = {
            let mut inner = shared.inner.lock();
            if inner.webhook.is_some() {
                return error(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                    None,
                );
            }
            match offset {
                Some(o) if o < 0 => {
                    let n = usize::try_from(o.unsigned_abs()).unwrap_or(usize::MAX);
                    let skip = inner.updates.len().saturating_sub(n);
                    inner
                        .updates
                        .iter()
                        .skip(skip)
                        .take(limit)
                        .map(|(_, raw)| raw.clone())
                        .collect()
                }
                _ => {
                    if let Some(o) = offset {
                        // Confirms every update below the offset.
                        while inner.updates.front().is_some_and(|(id, _)| *id < o) {
                            inner.updates.pop_front();
                        }
                    }
                    inner
                        .updates
                        .iter()
                        .take(limit)
                        .map(|(_, raw)| raw.clone())
                        .collect()
                }
            }
        };
        if !batch.is_empty() {
            let body = format!(r#"{{"ok":true,"result":[{}]}}"#, batch.join(","));
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return ok(&json!([]));
        }
    }
}
