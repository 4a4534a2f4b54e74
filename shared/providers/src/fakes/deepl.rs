//! [`FakeDeepl`]: DeepL API v2 `POST /v2/translate` (JSON bodies).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::{FakeControls, Server, fake_common, json, reason, started, translate};

/// The key [`FakeDeepl::start`] accepts (a Free key: it ends in `:fx`).
pub const FAKE_DEEPL_KEY: &str = "fake-deepl-key:fx";

/// DeepL's limit on a request body.
const MAX_BODY: usize = 128 * 1024;
/// DeepL's limit on texts per request.
const MAX_TEXTS: usize = 50;

const TARGETS: &[&str] = &[
    "AR", "BG", "CS", "DA", "DE", "EL", "EN-GB", "EN-US", "ES", "ET", "FI", "FR", "HU", "ID", "IT",
    "JA", "KO", "LT", "LV", "NB", "NL", "PL", "PT-BR", "PT-PT", "RO", "RU", "SK", "SL", "SV", "TR",
    "UK", "ZH", "ZH-HANS", "ZH-HANT",
];
const SOURCES: &[&str] = &[
    "AR", "BG", "CS", "DA", "DE", "EL", "EN", "ES", "ET", "FI", "FR", "HU", "ID", "IT", "JA", "KO",
    "LT", "LV", "NB", "NL", "PL", "PT", "RO", "RU", "SK", "SL", "SV", "TR", "UK", "ZH",
];

struct Shared {
    key: String,
    controls: FakeControls,
}

/// A fake DeepL API: checks `Authorization: DeepL-Auth-Key <key>` (403 otherwise; "Wrong
/// endpoint" when a Free key meets a Pro key or the reverse), the JSON content type, `text`
/// (a non-empty array of at most 50 strings), `target_lang` and `source_lang` against DeepL's
/// lists (the bare `EN`/`PT` targets are refused, as DeepL does), a body of at most 128 KiB
/// (413), and answers `{"translations":[{"detected_source_language":"EN","text":…}]}`.
/// Scripted failures answer `{"message":…}` (456 "Quota Exceeded").
pub struct FakeDeepl {
    server: Server,
    controls: FakeControls,
}

fake_common!(FakeDeepl);

impl FakeDeepl {
    /// Starts a fake accepting [`FAKE_DEEPL_KEY`].
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        Self::start_with_key(FAKE_DEEPL_KEY).await
    }

    /// Starts a fake accepting `key`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start_with_key(key: &str) -> Self {
        started("DeepL", Self::try_start_with_key(key).await)
    }

    /// Starts a fake accepting `key`.
    pub async fn try_start_with_key(key: &str) -> std::io::Result<Self> {
        let controls = FakeControls::default();
        let shared = Arc::new(Shared {
            key: key.to_owned(),
            controls: controls.clone(),
        });
        let app = Router::new()
            .route("/v2/translate", post(handle))
            .with_state(shared);
        Ok(Self {
            server: Server::start("DeepL", app).await?,
            controls,
        })
    }
}

fn message(status: StatusCode, message: &str) -> Response {
    json(status, &json!({ "message": message }))
}

fn scripted(status: StatusCode) -> Response {
    match status.as_u16() {
        403 => message(status, "Authorization failure, check auth_key"),
        429 => message(
            status,
            "Too many requests, please wait and resend your request.",
        ),
        456 => message(status, "Quota Exceeded"),
        s if s >= 500 => message(status, "Internal server error"),
        _ => message(status, reason(status)),
    }
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    if let Some(status) = shared
        .controls
        .admit(parsed.clone().unwrap_or_default())
        .await
    {
        return scripted(status);
    }
    if body.len() > MAX_BODY {
        return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("DeepL-Auth-Key "));
    match auth {
        Some(key) if key == shared.key => {}
        Some(key) if key.ends_with(":fx") != shared.key.ends_with(":fx") => {
            let endpoint = if key.ends_with(":fx") {
                "https://api-free.deepl.com"
            } else {
                "https://api.deepl.com"
            };
            return message(
                StatusCode::FORBIDDEN,
                &format!("Wrong endpoint. Use {endpoint}"),
            );
        }
        _ => {
            return message(
                StatusCode::FORBIDDEN,
                "Authorization failure, check auth_key",
            );
        }
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let Some(body) = parsed.filter(|_| is_json) else {
        return message(
            StatusCode::BAD_REQUEST,
            "Bad request. Reason: the body is not JSON with Content-Type application/json",
        );
    };
    let texts: Vec<&str> = match body.get("text") {
        Some(Value::Array(items)) if !items.is_empty() => {
            match items.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
                Some(texts) => texts,
                None => {
                    return message(StatusCode::BAD_REQUEST, "Value for 'text' not supported.");
                }
            }
        }
        Some(Value::Array(_)) | None => {
            return message(
                StatusCode::BAD_REQUEST,
                "Bad request. Reason: Parameter 'text' not specified.",
            );
        }
        Some(_) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Bad request. Reason: Parameter 'text' must be an array of strings.",
            );
        }
    };
    if texts.len() > MAX_TEXTS {
        return message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too many texts: at most 50 per request.",
        );
    }
    let Some(target) = body.get("target_lang").and_then(Value::as_str) else {
        return message(
            StatusCode::BAD_REQUEST,
            "Bad request. Reason: Parameter 'target_lang' not specified.",
        );
    };
    let target = target.to_ascii_uppercase();
    if !TARGETS.contains(&target.as_str()) {
        let detail = match target.as_str() {
            "EN" => ", 'EN' is deprecated, please use 'EN-GB' or 'EN-US' instead",
            "PT" => ", 'PT' is deprecated, please use 'PT-PT' or 'PT-BR' instead",
            _ => "",
        };
        return message(
            StatusCode::BAD_REQUEST,
            &format!("Value for 'target_lang' not supported{detail}."),
        );
    }
    let source = match body.get("source_lang") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if SOURCES.contains(&s.to_ascii_uppercase().as_str()) => {
            Some(s.to_ascii_lowercase())
        }
        Some(_) => {
            return message(
                StatusCode::BAD_REQUEST,
                "Value for 'source_lang' not supported.",
            );
        }
    };
    let translations: Vec<Value> = texts
        .iter()
        .map(|text| {
            let t = translate(text, source.as_deref(), &target);
            json!({
                "detected_source_language": t.source.to_ascii_uppercase(),
                "text": shared.controls.finish(t.text),
            })
        })
        .collect();
    json(StatusCode::OK, &json!({ "translations": translations }))
}
