//! [`FakeGoogle`]: Google Cloud Translation – Basic, `POST /language/translate/v2?key=…`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};

use super::{FakeControls, Server, fake_common, json, started, translate};

/// The key [`FakeGoogle::start`] accepts.
pub const FAKE_GOOGLE_KEY: &str = "fake-google-key";

/// Google's limit on segments (`q` items) per request.
const MAX_SEGMENTS: usize = 128;
/// Longest request content, in code points (see `GOOGLE_MAX_CHARS`).
const MAX_CHARS: usize = 30_000;

/// Google's codes this fake translates into (a subset of the real list).
const LANGUAGES: &[&str] = &[
    "ar", "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "he", "hi", "hu", "id", "it",
    "ja", "ko", "lt", "lv", "nl", "no", "pl", "pt", "pt-PT", "ro", "ru", "sk", "sl", "sv", "th",
    "tr", "uk", "vi", "zh", "zh-CN", "zh-TW",
];

struct Shared {
    key: String,
    controls: FakeControls,
}

/// A fake Cloud Translation v2: checks `?key=` (403 "missing a valid API key", 400 "API key
/// not valid"), a JSON body with `q` (a string or at most 128 strings) and `target` from its
/// language list, `format` `text` or `html`, at most 30,000 characters, and answers
/// `{"data":{"translations":[{"translatedText":…,"detectedSourceLanguage"?:…}]}}`
/// (`detectedSourceLanguage` only when no `source` was given, as Google does). Errors use
/// Google's `{"error":{"code","message","errors","status"}}` shape.
pub struct FakeGoogle {
    server: Server,
    controls: FakeControls,
}

fake_common!(FakeGoogle);

impl FakeGoogle {
    /// Starts a fake accepting [`FAKE_GOOGLE_KEY`].
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        Self::start_with_key(FAKE_GOOGLE_KEY).await
    }

    /// Starts a fake accepting `key`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start_with_key(key: &str) -> Self {
        started("Google", Self::try_start_with_key(key).await)
    }

    /// Starts a fake accepting `key`.
    pub async fn try_start_with_key(key: &str) -> std::io::Result<Self> {
        let controls = FakeControls::default();
        let shared = Arc::new(Shared {
            key: key.to_owned(),
            controls: controls.clone(),
        });
        let app = Router::new()
            .route("/language/translate/v2", post(handle))
            .with_state(shared);
        Ok(Self {
            server: Server::start("Google", app).await?,
            controls,
        })
    }
}

/// Google's error body.
fn error(status: StatusCode, message: &str, reason: &str) -> Response {
    let rpc_status = match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    };
    json(
        status,
        &json!({
            "error": {
                "code": status.as_u16(),
                "message": message,
                "errors": [{ "message": message, "domain": "global", "reason": reason }],
                "status": rpc_status,
            }
        }),
    )
}

fn scripted(status: StatusCode) -> Response {
    match status.as_u16() {
        403 => error(
            status,
            "Requests to this API translate method are blocked.",
            "forbidden",
        ),
        429 => error(
            status,
            "Quota exceeded for quota metric 'v2 and v3 general model characters' and limit \
             'v2 and v3 general model characters per minute per user'.",
            "rateLimitExceeded",
        ),
        503 => error(
            status,
            "The service is currently unavailable.",
            "backendError",
        ),
        s if s >= 500 => error(status, "Internal error encountered.", "backendError"),
        _ => error(status, "Invalid Value", "invalid"),
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    if let Some(status) = shared
        .controls
        .admit(parsed.clone().unwrap_or_default())
        .await
    {
        return scripted(status);
    }
    match query.get("key") {
        None => {
            return error(
                StatusCode::FORBIDDEN,
                "The request is missing a valid API key.",
                "forbidden",
            );
        }
        Some(key) if *key != shared.key => {
            return error(
                StatusCode::BAD_REQUEST,
                "API key not valid. Please pass a valid API key.",
                "badRequest",
            );
        }
        Some(_) => {}
    }
    let Some(body) = parsed else {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid JSON payload received.",
            "parseError",
        );
    };
    let segments: Vec<&str> = match body.get("q") {
        Some(Value::String(q)) => vec![q.as_str()],
        Some(Value::Array(items)) if !items.is_empty() => {
            match items.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
                Some(q) => q,
                None => return error(StatusCode::BAD_REQUEST, "Invalid Value", "invalid"),
            }
        }
        _ => return error(StatusCode::BAD_REQUEST, "Required Text", "required"),
    };
    if segments.len() > MAX_SEGMENTS {
        return error(StatusCode::BAD_REQUEST, "Too many text segments", "invalid");
    }
    if segments.iter().map(|q| q.chars().count()).sum::<usize>() > MAX_CHARS {
        return error(StatusCode::BAD_REQUEST, "Text too long", "invalid");
    }
    // `Err(())`: present but not a code this service knows.
    let language = |field: &str| -> Result<Option<String>, ()> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(code)) if LANGUAGES.contains(&code.as_str()) => {
                Ok(Some(code.clone()))
            }
            Some(_) => Err(()),
        }
    };
    let invalid = || error(StatusCode::BAD_REQUEST, "Invalid Value", "invalid");
    let target = match language("target") {
        Ok(Some(target)) => target,
        Ok(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "Missing required field target",
                "required",
            );
        }
        Err(()) => return invalid(),
    };
    let Ok(source) = language("source") else {
        return invalid();
    };
    if !matches!(
        body.get("format").and_then(Value::as_str),
        None | Some("text" | "html")
    ) {
        return invalid();
    }
    let translations: Vec<Value> = segments
        .iter()
        .map(|q| {
            let t = translate(q, source.as_deref(), &target);
            let text = shared.controls.finish(t.text);
            if source.is_some() {
                json!({ "translatedText": text })
            } else {
                let detected = if t.source == "zh" {
                    "zh-CN".to_owned()
                } else {
                    t.source
                };
                json!({ "translatedText": text, "detectedSourceLanguage": detected })
            }
        })
        .collect();
    json(
        StatusCode::OK,
        &json!({ "data": { "translations": translations } }),
    )
}
