//! A local fake of the Telegram Bot API: a real HTTP server on `127.0.0.1:0` that speaks the
//! Bot API wire protocol (`POST /bot<token>/<method>`, JSON, form or query parameters,
//! `{"ok":…}` envelopes), for tests and `omnidesk bench`.
//!
//! It implements `sendMessage` (with an inline keyboard in `reply_markup`), the multipart
//! uploads `sendPhoto`, `sendDocument`, `sendVoice`, `sendAudio`, `sendVideo` and
//! `sendMediaGroup`, `answerCallbackQuery`, `getFile` and the download path
//! `GET /file/bot<token>/<file_path>`, `getMe`, `getUpdates` (with `offset`, `limit` and long
//! polling), `setWebhook`, `deleteWebhook` and `getWebhookInfo`; records every accepted send,
//! upload and callback answer; and can be scripted to fail the next send to a chat the way
//! Telegram does (429 with `retry_after`, 403 blocked, 5xx, 400). Updates pushed with
//! [`FakeTelegram::push_update`] are served to every bot token; files registered with
//! [`FakeTelegram::put_file`] (and every uploaded file) are served to `getFile`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
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
    /// The inline keyboard of `reply_markup`: `(text, callback_data)` per button, row by row.
    pub buttons: Vec<(String, String)>,
}

/// One file the fake accepted by a multipart upload (`sendPhoto` … `sendMediaGroup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFile {
    pub token: String,
    /// `sendPhoto`, `sendDocument`, `sendVoice`, `sendAudio`, `sendVideo` or `sendMediaGroup`.
    pub method: String,
    pub chat_id: i64,
    pub caption: Option<String>,
    /// The multipart part's file name and type.
    pub file_name: Option<String>,
    pub mime_type: Option<String>,
    pub bytes: Vec<u8>,
    /// The `message_id` the fake returned for it.
    pub message_id: i32,
    /// The `file_id` it can be fetched back with (`getFile`).
    pub file_id: String,
    /// Set for the files of one `sendMediaGroup`.
    pub media_group_id: Option<String>,
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

/// A file `getFile` knows.
#[derive(Clone)]
enum FakeFile {
    Bytes(Vec<u8>),
    /// Over the 20 MB download limit: `getFile` answers `file is too big`.
    TooBig,
}

#[derive(Default)]
struct Inner {
    next_message_id: i32,
    sent: Vec<SentMessage>,
    files_sent: Vec<SentFile>,
    /// `file_id` → content.
    files: HashMap<String, FakeFile>,
    /// `file_path` → `file_id`.
    paths: HashMap<String, String>,
    /// Callback queries answered: (id, text).
    answered: Vec<(String, Option<String>)>,
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
            .route("/file/{token}/{*path}", get(download))
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

    /// Serves `bytes` as the file `file_id`: `getFile` returns a path under which
    /// `GET /file/bot<token>/<path>` downloads them.
    pub fn put_file(&self, file_id: impl Into<String>, bytes: Vec<u8>) {
        self.shared
            .inner
            .lock()
            .files
            .insert(file_id.into(), FakeFile::Bytes(bytes));
    }

    /// Registers `file_id` as a file over Telegram's 20 MB download limit for bots: `getFile`
    /// answers 400 `Bad Request: file is too big`, as Telegram does.
    pub fn put_large_file(&self, file_id: impl Into<String>) {
        self.shared
            .inner
            .lock()
            .files
            .insert(file_id.into(), FakeFile::TooBig);
    }

    /// Every uploaded file accepted so far, in arrival order.
    pub fn files_sent(&self) -> Vec<SentFile> {
        self.shared.inner.lock().files_sent.clone()
    }

    /// Every `answerCallbackQuery` so far: (callback query id, notification text).
    pub fn answered(&self) -> Vec<(String, Option<String>)> {
        self.shared.inner.lock().answered.clone()
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

/// Query-string parameters.
fn query_params(uri: &Uri) -> Result<Params, &'static str> {
    let mut params = Params::new();
    if let Some(q) = uri.query() {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(q).map_err(|_| "Bad Request: invalid query string")?;
        params.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    }
    Ok(params)
}

/// Query-string, JSON and form parameters, merged (the body wins). `Err` is the description
/// of a 400.
fn params(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<Params, &'static str> {
    let mut params = query_params(uri)?;
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

/// A file part of a multipart request.
struct Part {
    file_name: Option<String>,
    mime_type: Option<String>,
    bytes: Vec<u8>,
}

/// Text fields into `params`, file parts by field name.
async fn multipart(
    request: Request,
    params: &mut Params,
) -> Result<HashMap<String, Part>, &'static str> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|_| "Bad Request: can't parse multipart form")?;
    let mut parts = HashMap::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| "Bad Request: can't parse multipart form")?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let mime_type = field.content_type().map(str::to_owned);
        let bytes = field
            .bytes()
            .await
            .map_err(|_| "Bad Request: can't read a multipart field")?;
        if file_name.is_some() {
            parts.insert(
                name,
                Part {
                    file_name,
                    mime_type,
                    bytes: bytes.to_vec(),
                },
            );
        } else {
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| "Bad Request: a text field is not UTF-8")?;
            params.insert(name, Value::String(text));
        }
    }
    Ok(parts)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((token_segment, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    let Some(token) = token_segment.strip_prefix("bot") else {
        return error(404, "Not Found", None);
    };
    let Some(bot_id) = bot_of(token) else {
        return error(401, "Unauthorized", None);
    };
    let uri = request.uri().clone();
    let headers = request.headers().clone();
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    let (params, parts) = if is_multipart {
        let mut params = match query_params(&uri) {
            Ok(p) => p,
            Err(description) => return error(400, description, None),
        };
        match multipart(request, &mut params).await {
            Ok(parts) => (params, parts),
            Err(description) => return error(400, description, None),
        }
    } else {
        let body = match axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024).await {
            Ok(b) => b,
            Err(_) => return error(400, "Bad Request: can't read the body", None),
        };
        match params(&uri, &headers, &body) {
            Ok(p) => (p, HashMap::new()),
            Err(description) => return error(400, description, None),
        }
    };
    match method.to_ascii_lowercase().as_str() {
        "sendmessage" => send_message(&shared, token, bot_id, &params),
        "sendphoto" => send_file(&shared, token, bot_id, "sendPhoto", "photo", &params, parts),
        "senddocument" => send_file(
            &shared,
            token,
            bot_id,
            "sendDocument",
            "document",
            &params,
            parts,
        ),
        "sendvoice" => send_file(&shared, token, bot_id, "sendVoice", "voice", &params, parts),
        "sendaudio" => send_file(&shared, token, bot_id, "sendAudio", "audio", &params, parts),
        "sendvideo" => send_file(&shared, token, bot_id, "sendVideo", "video", &params, parts),
        "sendmediagroup" => send_media_group(&shared, token, bot_id, &params, parts),
        "answercallbackquery" => {
            let Some(id) = str_param(&params, "callback_query_id") else {
                return error(
                    400,
                    "Bad Request: query is too old and response timeout expired or query ID is invalid",
                    None,
                );
            };
            let text = str_param(&params, "text").map(str::to_owned);
            shared.inner.lock().answered.push((id.to_owned(), text));
            ok(&json!(true))
        }
        "getfile" => get_file(&shared, &params),
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

/// The bot id of a token `<id>:<secret>`.
fn bot_of(token: &str) -> Option<i64> {
    token
        .split_once(':')
        .and_then(|(id, secret)| (!secret.is_empty()).then_some(id))
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
}

/// `getFile`: a path for a known file, `file is too big` for one over the limit.
fn get_file(shared: &Shared, params: &Params) -> Response {
    let Some(file_id) = str_param(params, "file_id") else {
        return error(400, "Bad Request: file_id not specified", None);
    };
    let mut inner = shared.inner.lock();
    match inner.files.get(file_id).cloned() {
        None => error(400, "Bad Request: invalid file_id", None),
        Some(FakeFile::TooBig) => error(400, "Bad Request: file is too big", None),
        Some(FakeFile::Bytes(bytes)) => {
            let path = format!("documents/file_{}", inner.paths.len());
            inner.paths.insert(path.clone(), file_id.to_owned());
            ok(&json!({
                "file_id": file_id,
                "file_unique_id": format!("u{}", file_id.len()),
                "file_size": bytes.len(),
                "file_path": path,
            }))
        }
    }
}

/// `GET /file/bot<token>/<file_path>`: the bytes, as Telegram serves them (no JSON envelope).
async fn download(
    State(shared): State<Arc<Shared>>,
    Path((token_segment, path)): Path<(String, String)>,
) -> Response {
    if token_segment.strip_prefix("bot").and_then(bot_of).is_none() {
        return error(401, "Unauthorized", None);
    }
    let inner = shared.inner.lock();
    let bytes = inner
        .paths
        .get(&path)
        .and_then(|id| inner.files.get(id))
        .and_then(|f| match f {
            FakeFile::Bytes(b) => Some(b.clone()),
            FakeFile::TooBig => None,
        });
    match bytes {
        Some(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            Body::from(bytes),
        )
            .into_response(),
        None => error(404, "Not Found", None),
    }
}

/// The scripted outcome of the next send to `chat_id`, if any.
fn scripted(inner: &mut Inner, chat_id: i64) -> Option<FakeFailure> {
    inner
        .script
        .get_mut(&chat_id)
        .and_then(VecDeque::pop_front)
        .flatten()
}

fn failure_response(failure: FakeFailure) -> Response {
    match failure {
        FakeFailure::RetryAfter(secs) => error(
            429,
            &format!("Too Many Requests: retry after {secs}"),
            Some(json!({ "retry_after": secs })),
        ),
        FakeFailure::Blocked => error(403, "Forbidden: bot was blocked by the user", None),
        FakeFailure::ServerError => error(500, "Internal Server Error", None),
        FakeFailure::BadRequest(description) => error(400, &description, None),
    }
}

fn chat_of(chat_id: i64) -> Value {
    if chat_id > 0 {
        json!({ "id": chat_id, "type": "private", "first_name": "Customer" })
    } else {
        json!({ "id": chat_id, "type": "supergroup", "title": "Group" })
    }
}

/// The Message object's field for an uploaded file of `field` (`photo`, `document`, …).
fn file_object(field: &str, file_id: &str, part: &Part) -> Value {
    let size = part.bytes.len();
    let unique = format!("u{file_id}");
    match field {
        "photo" => json!([
            { "file_id": format!("{file_id}_s"), "file_unique_id": format!("{unique}_s"), "width": 90, "height": 90, "file_size": size.min(1024) },
            { "file_id": file_id, "file_unique_id": unique, "width": 800, "height": 600, "file_size": size },
        ]),
        "voice" => json!({ "file_id": file_id, "file_unique_id": unique, "duration": 1,
                           "mime_type": part.mime_type.as_deref().unwrap_or("audio/ogg"), "file_size": size }),
        "audio" | "video" => {
            let mut v = json!({ "file_id": file_id, "file_unique_id": unique, "duration": 1,
                                "file_name": part.file_name, "mime_type": part.mime_type, "file_size": size });
            if field == "video" {
                v["width"] = json!(640);
                v["height"] = json!(360);
            }
            v
        }
        _ => json!({ "file_id": file_id, "file_unique_id": unique, "file_name": part.file_name,
                     "mime_type": part.mime_type, "file_size": size }),
    }
}

/// Records one uploaded file and returns its Message object.
#[allow(clippy::too_many_arguments)]
fn accept_file(
    inner: &mut Inner,
    token: &str,
    bot_id: i64,
    method: &str,
    field: &str,
    chat_id: i64,
    caption: Option<String>,
    part: Part,
    media_group_id: Option<String>,
) -> Value {
    let message_id = inner.next_message_id;
    inner.next_message_id += 1;
    let file_id = format!("fake-upload-{message_id}");
    let mut message = json!({
        "message_id": message_id,
        "from": bot_user(bot_id),
        "chat": chat_of(chat_id),
        "date": unix_now(),
    });
    message[field] = file_object(field, &file_id, &part);
    if let Some(c) = &caption {
        message["caption"] = json!(c);
    }
    if let Some(g) = &media_group_id {
        message["media_group_id"] = json!(g);
    }
    inner
        .files
        .insert(file_id.clone(), FakeFile::Bytes(part.bytes.clone()));
    inner.files_sent.push(SentFile {
        token: token.to_owned(),
        method: method.to_owned(),
        chat_id,
        caption,
        file_name: part.file_name,
        mime_type: part.mime_type,
        bytes: part.bytes,
        message_id,
        file_id,
        media_group_id,
    });
    message
}

fn send_file(
    shared: &Shared,
    token: &str,
    bot_id: i64,
    method: &str,
    field: &str,
    params: &Params,
    mut parts: HashMap<String, Part>,
) -> Response {
    let Some(chat_id) = int_param(params, "chat_id") else {
        return error(400, "Bad Request: chat_id is empty", None);
    };
    let Some(part) = parts.remove(field) else {
        return error(
            400,
            &format!("Bad Request: there is no {field} in the request"),
            None,
        );
    };
    let caption = str_param(params, "caption").map(str::to_owned);
    if caption.as_deref().is_some_and(|c| c.chars().count() > 1024) {
        return error(400, "Bad Request: message caption is too long", None);
    }
    let result = {
        let mut inner = shared.inner.lock();
        match scripted(&mut inner, chat_id) {
            Some(failure) => Err(failure),
            None => Ok(accept_file(
                &mut inner, token, bot_id, method, field, chat_id, caption, part, None,
            )),
        }
    };
    match result {
        Ok(message) => {
            shared.sent_changed.notify_waiters();
            ok(&message)
        }
        Err(failure) => failure_response(failure),
    }
}

fn send_media_group(
    shared: &Shared,
    token: &str,
    bot_id: i64,
    params: &Params,
    mut parts: HashMap<String, Part>,
) -> Response {
    let Some(chat_id) = int_param(params, "chat_id") else {
        return error(400, "Bad Request: chat_id is empty", None);
    };
    let media: Vec<Value> = match params.get("media") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_default(),
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    if !(2..=10).contains(&media.len()) {
        return error(
            400,
            "Bad Request: media group must include 2-10 items",
            None,
        );
    }
    let mut items = Vec::new();
    for item in &media {
        let kind = item["type"].as_str().unwrap_or("");
        let field = match kind {
            "photo" | "video" | "audio" | "document" => kind,
            _ => return error(400, "Bad Request: unsupported media type", None),
        };
        let Some(part) = item["media"]
            .as_str()
            .and_then(|m| m.strip_prefix("attach://"))
            .and_then(|name| parts.remove(name))
        else {
            return error(
                400,
                "Bad Request: wrong file identifier/HTTP URL specified",
                None,
            );
        };
        items.push((field, item["caption"].as_str().map(str::to_owned), part));
    }
    let result = {
        let mut inner = shared.inner.lock();
        match scripted(&mut inner, chat_id) {
            Some(failure) => Err(failure),
            None => {
                let group = format!(
                    "{}",
                    13_000_000_000_000_000i64 + i64::from(inner.next_message_id)
                );
                Ok(items
                    .into_iter()
                    .map(|(field, caption, part)| {
                        accept_file(
                            &mut inner,
                            token,
                            bot_id,
                            "sendMediaGroup",
                            field,
                            chat_id,
                            caption,
                            part,
                            Some(group.clone()),
                        )
                    })
                    .collect::<Vec<_>>())
            }
        }
    };
    match result {
        Ok(messages) => {
            shared.sent_changed.notify_waiters();
            ok(&Value::Array(messages))
        }
        Err(failure) => failure_response(failure),
    }
}

/// `reply_markup.inline_keyboard` as `(text, callback_data)` pairs (a JSON object in a JSON
/// body, a JSON string in a form).
fn buttons_of(params: &Params) -> Vec<(String, String)> {
    let markup = match params.get("reply_markup") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => return Vec::new(),
    };
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .map(|b| {
            (
                b["text"].as_str().unwrap_or_default().to_owned(),
                b["callback_data"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
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
    let buttons = buttons_of(params);
    let result = {
        let mut inner = shared.inner.lock();
        match scripted(&mut inner, chat_id) {
            Some(failure) => Err(failure),
            None => {
                let message_id = inner.next_message_id;
                inner.next_message_id += 1;
                inner.sent.push(SentMessage {
                    token: token.to_owned(),
                    chat_id,
                    text: text.to_owned(),
                    message_id,
                    at: Instant::now(),
                    buttons: buttons.clone(),
                });
                Ok(message_id)
            }
        }
    };
    match result {
        Err(failure) => failure_response(failure),
        Ok(message_id) => {
            shared.sent_changed.notify_waiters();
            let mut message = json!({
                "message_id": message_id,
                "from": bot_user(bot_id),
                "chat": chat_of(chat_id),
                "date": unix_now(),
                "text": text,
            });
            if !buttons.is_empty() {
                let rows: Vec<Value> = buttons
                    .iter()
                    .map(|(t, d)| json!([{ "text": t, "callback_data": d }]))
                    .collect();
                message["reply_markup"] = json!({ "inline_keyboard": rows });
            }
            ok(&message)
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
