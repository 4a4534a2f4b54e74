//! Local fakes of the translation and LLM services, for tests (feature `fakes`): one axum
//! server per provider on `127.0.0.1:0`, speaking the provider's real wire protocol and
//! checking each request the way the service would (credentials, required fields, size
//! limits), with the service's own error bodies.
//!
//! - [`FakeDeepl`]: `POST /v2/translate`, `Authorization: DeepL-Auth-Key <key>`.
//! - [`FakeGoogle`]: `POST /language/translate/v2?key=<key>`.
//! - [`FakeAmazonTranslate`]: `TranslateText` in both protocols of Amazon Translate: Smithy
//!   RPC v2 CBOR (`POST /service/AWSShineFrontendService_20170701/operation/TranslateText`,
//!   what `aws-sdk-translate` 1.120 sends) and AWS JSON 1.1 (`POST /` with `X-Amz-Target`,
//!   what the CLI and older SDKs send); a SigV4 `Authorization` header is required.
//! - [`FakeOpenAi`]: `POST /chat/completions` and `/v1/chat/completions`.
//!
//! The translators "translate" with the same deterministic phrase dictionary
//! ([`translate`]) and keep `⟦n⟧` placeholders. The LLM fakes answer from a [`FakeScript`]
//! (queued replies, then a responder closure):
//!
//! - [`FakeChat`]: an OpenAI-compatible `POST /v1/chat/completions`;
//! - [`FakeBedrock`]: Bedrock Runtime `POST /model/{modelId}/converse` (REST-JSON, SigV4).
//!
//! All share the controls of [`FakeControls`] (each fake derefs to them): calls and
//! request bodies seen, scripted failures, dropped placeholders, a delay. A fake stops when
//! dropped.

mod amazon;
mod bedrock;
mod chat;
mod deepl;
mod dictionary;
mod google;
mod openai;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use parking_lot::Mutex;
use serde_json::Value;

pub use amazon::{AMAZON_TARGET_PREFIX, FakeAmazonTranslate};
pub use bedrock::FakeBedrock;
pub use chat::{DEFAULT_FAKE_REPLY, FAKE_CHAT_KEY, FakeChat, FakeScript};
pub use deepl::{FAKE_DEEPL_KEY, FakeDeepl};
pub use dictionary::{FakeTranslation, detect, translate};
pub use google::{FAKE_GOOGLE_KEY, FakeGoogle};
pub use openai::{FAKE_OPENAI_KEY, FakeOpenAi};

#[derive(Debug, Default)]
struct ControlState {
    calls: usize,
    requests: Vec<Value>,
    failures: VecDeque<StatusCode>,
    drop_placeholders: bool,
    delay: Duration,
}

/// The controls every fake shares; cloning gives another handle on the same fake.
#[derive(Debug, Clone, Default)]
pub struct FakeControls {
    state: Arc<Mutex<ControlState>>,
}

impl FakeControls {
    /// How many HTTP requests reached the fake (refused ones included).
    pub fn calls(&self) -> usize {
        self.state.lock().calls
    }

    /// The bodies received, in order, as JSON (Amazon's CBOR bodies converted; `null` for a
    /// body that did not parse).
    pub fn requests(&self) -> Vec<Value> {
        self.state.lock().requests.clone()
    }

    /// The last body received.
    pub fn last_request(&self) -> Option<Value> {
        self.state.lock().requests.last().cloned()
    }

    /// Answers the next `n` requests with `status` and the provider's own error body for it
    /// (before checking them). Calls queue up: `fail_next(1, 429)` then `fail_next(1, 503)`
    /// fails the next request with 429 and the one after with 503.
    ///
    /// # Panics
    /// If `status` is not an HTTP status code (100–999).
    pub fn fail_next(&self, n: usize, status: u16) {
        let status = StatusCode::from_u16(status)
            .unwrap_or_else(|_| panic!("fail_next: {status} is not an HTTP status"));
        self.state
            .lock()
            .failures
            .extend(std::iter::repeat_n(status, n));
    }

    /// Removes the `⟦n⟧` placeholders from the translations (a provider that mangles them).
    pub fn set_drop_placeholders(&self, drop: bool) {
        self.state.lock().drop_placeholders = drop;
    }

    /// Waits this long before answering each request (a slow provider).
    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().delay = delay;
    }

    /// Forgets the calls, bodies and scripted failures and clears the switches.
    pub fn reset(&self) {
        *self.state.lock() = ControlState::default();
    }

    /// Counts a request and records its body, waits the delay, and returns the scripted
    /// failure to answer with, if any.
    async fn admit(&self, body: Value) -> Option<StatusCode> {
        let delay = {
            let mut state = self.state.lock();
            state.calls += 1;
            state.requests.push(body);
            state.delay
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.state.lock().failures.pop_front()
    }

    /// A translation as the fake returns it (placeholders dropped when asked).
    fn finish(&self, text: String) -> String {
        if self.state.lock().drop_placeholders {
            drop_placeholders(&text)
        } else {
            text
        }
    }
}

/// `text` without its `⟦n⟧` placeholders (and the space before each).
fn drop_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('⟦') {
        let after = &rest[start + '⟦'.len_utf8()..];
        match after.find('⟧') {
            Some(end) if end > 0 && after[..end].chars().all(|c| c.is_ascii_digit()) => {
                out.push_str(rest[..start].strip_suffix(' ').unwrap_or(&rest[..start]));
                rest = &after[end + '⟧'.len_utf8()..];
            }
            _ => {
                out.push_str(&rest[..start + '⟦'.len_utf8()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A running fake: the listening address and the server task, aborted on drop.
struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(name: &'static str, app: Router) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, fake = name, "fake server stopped");
            }
        });
        Ok(Self { addr, task })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `Debug`, `Deref<Target = FakeControls>`, `url()` and `controls()` of a fake with `server`
/// and `controls` fields.
macro_rules! fake_common {
    ($fake:ident) => {
        $crate::fakes::fake_common!($fake, "");
    };
    ($fake:ident, $suffix:literal) => {
        impl $fake {
            #[doc = concat!("The base URL to give the client, e.g. `http://127.0.0.1:40123", $suffix, "`.")]
            pub fn url(&self) -> String {
                format!("{}{}", self.server.url(), $suffix)
            }

            /// Another handle on this fake's controls.
            pub fn controls(&self) -> $crate::fakes::FakeControls {
                self.controls.clone()
            }
        }

        impl std::ops::Deref for $fake {
            type Target = $crate::fakes::FakeControls;
            fn deref(&self) -> &Self::Target {
                &self.controls
            }
        }

        impl std::fmt::Debug for $fake {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($fake))
                    .field("url", &self.server.url())
                    .finish_non_exhaustive()
            }
        }
    };
}
use fake_common;

/// Starts a fake or panics saying which one could not bind.
fn started<T>(name: &str, result: std::io::Result<T>) -> T {
    match result {
        Ok(fake) => fake,
        Err(e) => panic!("cannot start the fake {name} server: {e}"),
    }
}

/// What is wrong with a request's SigV4 `Authorization` header for `service`, checked the
/// way AWS's front end does before anything else (the signature itself is not verified):
/// the error code and message AWS answers, or `None` when it is acceptable. `access_key_id`,
/// when given, is the only key accepted.
fn sigv4_problem(
    headers: &axum::http::HeaderMap,
    service: &str,
    access_key_id: Option<&str>,
) -> Option<(&'static str, String)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let missing = || {
        Some((
            "MissingAuthenticationTokenException",
            "Missing Authentication Token".to_owned(),
        ))
    };
    let Some(auth) = header("authorization") else {
        return missing();
    };
    let Some(credential) = auth.strip_prefix("AWS4-HMAC-SHA256 Credential=") else {
        return missing();
    };
    if !auth.contains("SignedHeaders=")
        || !auth.contains("Signature=")
        || header("x-amz-date").is_none()
    {
        return Some((
            "IncompleteSignatureException",
            "Authorization header requires Credential, SignedHeaders and Signature, and the \
             request an X-Amz-Date"
                .to_owned(),
        ));
    }
    // <key id>/<date>/<region>/<service>/aws4_request
    let scope: Vec<&str> = credential
        .split(',')
        .next()
        .unwrap_or_default()
        .split('/')
        .collect();
    if scope.len() != 5 || scope[4] != "aws4_request" {
        return Some((
            "IncompleteSignatureException",
            format!("malformed credential scope `{}`", scope.join("/")),
        ));
    }
    if scope[3] != service {
        return Some((
            "InvalidSignatureException",
            format!(
                "Credential should be scoped to correct service: '{service}', not '{}'.",
                scope[3]
            ),
        ));
    }
    if access_key_id.is_some_and(|wanted| scope[0] != wanted) {
        return Some((
            "UnrecognizedClientException",
            "The security token included in the request is invalid.".to_owned(),
        ));
    }
    None
}

/// JSON response with `status`.
fn json(status: StatusCode, body: &Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    (status, axum::Json(body.clone())).into_response()
}

/// The status's reason phrase (`Too Many Requests`).
fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

/// Decodes one CBOR data item into JSON (maps with text keys, arrays, text, numbers, booleans,
/// null; byte strings become their length, tags are skipped).
fn cbor_to_json(bytes: &[u8]) -> Result<Value, String> {
    let mut d = minicbor::Decoder::new(bytes);
    let value = cbor_item(&mut d, 0).map_err(|e| e.to_string())?;
    if d.position() != bytes.len() {
        return Err("trailing bytes after the CBOR item".to_owned());
    }
    Ok(value)
}

fn cbor_item(
    d: &mut minicbor::Decoder<'_>,
    depth: usize,
) -> Result<Value, minicbor::decode::Error> {
    use minicbor::data::Type;
    if depth > 32 {
        return Err(minicbor::decode::Error::message("CBOR nested too deeply"));
    }
    Ok(match d.datatype()? {
        Type::Bool => Value::Bool(d.bool()?),
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::from(d.u64()?),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 => Value::from(d.i64()?),
        Type::F32 | Type::F64 => Value::from(d.f64()?),
        Type::String | Type::StringIndef => {
            let mut s = String::new();
            for part in d.str_iter()? {
                s.push_str(part?);
            }
            Value::String(s)
        }
        Type::Bytes | Type::BytesIndef => {
            let mut n = 0;
            for part in d.bytes_iter()? {
                n += part?.len();
            }
            Value::from(n)
        }
        Type::Array | Type::ArrayIndef => {
            let len = d.array()?;
            let mut items = Vec::new();
            loop {
                match len {
                    Some(n) if items.len() as u64 == n => break,
                    None if d.datatype()? == Type::Break => {
                        d.skip()?;
                        break;
                    }
                    _ => items.push(cbor_item(d, depth + 1)?),
                }
            }
            Value::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let len = d.map()?;
            let mut map = serde_json::Map::new();
            let mut read = 0;
            loop {
                match len {
                    Some(n) if read == n => break,
                    None if d.datatype()? == Type::Break => {
                        d.skip()?;
                        break;
                    }
                    _ => {
                        let key = d.str()?.to_owned();
                        let value = cbor_item(d, depth + 1)?;
                        map.insert(key, value);
                        read += 1;
                    }
                }
            }
            Value::Object(map)
        }
        Type::Tag => {
            d.tag()?;
            cbor_item(d, depth + 1)?
        }
        _ => {
            d.skip()?;
            Value::Null
        }
    })
}

/// Encodes JSON as CBOR (definite lengths, as AWS services answer).
fn json_to_cbor(value: &Value) -> Vec<u8> {
    fn item(e: &mut minicbor::Encoder<Vec<u8>>, value: &Value) {
        // Writing to a `Vec` cannot fail.
        let _ = match value {
            Value::Null => e.null().map(|_| ()),
            Value::Bool(b) => e.bool(*b).map(|_| ()),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => e.u64(u).map(|_| ()),
                (None, Some(i)) => e.i64(i).map(|_| ()),
                _ => e.f64(n.as_f64().unwrap_or_default()).map(|_| ()),
            },
            Value::String(s) => e.str(s).map(|_| ()),
            Value::Array(items) => {
                let _ = e.array(items.len() as u64);
                for i in items {
                    item(e, i);
                }
                Ok(())
            }
            Value::Object(map) => {
                let _ = e.map(map.len() as u64);
                for (k, v) in map {
                    let _ = e.str(k);
                    item(e, v);
                }
                Ok(())
            }
        };
    }
    let mut e = minicbor::Encoder::new(Vec::new());
    item(&mut e, value);
    e.into_writer()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dropping_placeholders_removes_them_and_the_space_before() {
        assert_eq!(
            drop_placeholders("Ваш заказ ⟦1⟧ отправлен ⟦2⟧"),
            "Ваш заказ отправлен"
        );
        assert_eq!(drop_placeholders("⟦x⟧ and ⟦⟧ stay"), "⟦x⟧ and ⟦⟧ stay");
    }

    #[test]
    fn cbor_round_trips_json() {
        let v = json!({"Text": "Где ⟦1⟧", "n": 3, "neg": -2, "list": [true, null, 1.5]});
        assert_eq!(cbor_to_json(&json_to_cbor(&v)).unwrap(), v);
        assert!(cbor_to_json(&[0xa1]).is_err());
    }
}
