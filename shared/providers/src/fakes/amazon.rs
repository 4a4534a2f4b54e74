//! [`FakeAmazonTranslate`]: Amazon Translate `TranslateText`, in Smithy RPC v2 CBOR and in
//! AWS JSON 1.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::{
    FakeControls, Server, cbor_to_json, fake_common, json_to_cbor, sigv4_problem, started,
    translate,
};

/// The service's shape name: the `X-Amz-Target` prefix (AWS JSON 1.1) and the service in the
/// RPC v2 route.
pub const AMAZON_TARGET_PREFIX: &str = "AWSShineFrontendService_20170701";

/// Amazon Translate's limit on `Text`, in UTF-8 bytes.
const MAX_TEXT_BYTES: usize = 10_000;

/// The codes Amazon Translate accepts (source and target; `auto` only as source).
const LANGUAGES: &[&str] = &[
    "af", "sq", "am", "ar", "hy", "az", "bn", "bs", "bg", "ca", "zh", "zh-TW", "hr", "cs", "da",
    "fa-AF", "nl", "en", "et", "fa", "tl", "fi", "fr", "fr-CA", "ka", "de", "el", "gu", "ht", "ha",
    "he", "hi", "hu", "is", "id", "ga", "it", "ja", "kn", "kk", "ko", "lv", "lt", "mk", "ms", "ml",
    "mt", "mr", "mn", "no", "ps", "pl", "pt", "pt-PT", "pa", "ro", "ru", "sr", "si", "sk", "sl",
    "so", "es", "es-MX", "sw", "sv", "ta", "te", "th", "tr", "uk", "ur", "uz", "vi", "cy",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Cbor,
    Json,
}

struct Shared {
    controls: FakeControls,
    /// When set, the only access key id accepted.
    access_key_id: Mutex<Option<String>>,
    next_request_id: AtomicU64,
}

/// A fake Amazon Translate. It answers `TranslateText` in the two protocols the service
/// speaks:
///
/// - Smithy RPC v2 CBOR, what `aws-sdk-translate` sends by default:
///   `POST /service/AWSShineFrontendService_20170701/operation/TranslateText`,
///   `smithy-protocol: rpc-v2-cbor`, `Content-Type: application/cbor`, CBOR bodies, errors as
///   `{"__type":"com.amazonaws.translate#…","message":…}`;
/// - AWS JSON 1.1, what the CLI and older SDKs send: `POST /`,
///   `X-Amz-Target: AWSShineFrontendService_20170701.TranslateText`,
///   `Content-Type: application/x-amz-json-1.1`, errors as `{"__type":…,"message":…}`.
///
/// It requires a SigV4 `Authorization` header scoped to the `translate` service and an
/// `X-Amz-Date` (the signature itself is not verified); `Text`, `SourceLanguageCode` and
/// `TargetLanguageCode` (400 `ValidationException`); `Text` of at most 10,000 bytes (400
/// `TextSizeLimitExceededException`); known language codes (400
/// `UnsupportedLanguagePairException`). `SourceLanguageCode: auto` detects the language.
/// Answers `{"TranslatedText","SourceLanguageCode","TargetLanguageCode"}`.
///
/// Scripted failures: 429 `TooManyRequestsException`, 500 `InternalServerException`, 503
/// `ServiceUnavailableException`, 403 `AccessDeniedException`, other 4xx
/// `InvalidRequestException`.
pub struct FakeAmazonTranslate {
    server: Server,
    controls: FakeControls,
    shared: Arc<Shared>,
}

fake_common!(FakeAmazonTranslate);

impl FakeAmazonTranslate {
    /// Starts a fake accepting any access key.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        started("Amazon Translate", Self::try_start().await)
    }

    /// Starts a fake accepting any access key.
    pub async fn try_start() -> std::io::Result<Self> {
        let controls = FakeControls::default();
        let shared = Arc::new(Shared {
            controls: controls.clone(),
            access_key_id: Mutex::new(None),
            next_request_id: AtomicU64::new(1),
        });
        let app = Router::new()
            .route("/", post(json_protocol))
            .route(
                "/service/{service}/operation/{operation}",
                post(cbor_protocol),
            )
            .with_state(shared.clone());
        Ok(Self {
            server: Server::start("Amazon Translate", app).await?,
            controls,
            shared,
        })
    }

    /// Accepts only signatures by `access_key_id` from now on (`None`: any): others get
    /// 400 `UnrecognizedClientException`, as AWS answers an unknown key.
    pub fn require_access_key_id(&self, access_key_id: Option<&str>) {
        *self.shared.access_key_id.lock() = access_key_id.map(str::to_owned);
    }
}

/// An AWS error: status, `__type` (without namespace) and message.
type AwsError = (StatusCode, &'static str, String);

fn respond(shared: &Shared, protocol: Protocol, result: Result<Value, AwsError>) -> Response {
    let request_id = format!(
        "fake-{:08}",
        shared.next_request_id.fetch_add(1, Ordering::Relaxed)
    );
    let (status, body) = match result {
        Ok(body) => (StatusCode::OK, body),
        Err((status, kind, message)) => {
            let kind = match protocol {
                Protocol::Cbor => format!("com.amazonaws.translate#{kind}"),
                Protocol::Json => kind.to_owned(),
            };
            (status, json!({ "__type": kind, "message": message }))
        }
    };
    let (content_type, bytes) = match protocol {
        Protocol::Cbor => ("application/cbor", json_to_cbor(&body)),
        Protocol::Json => ("application/x-amz-json-1.1", body.to_string().into_bytes()),
    };
    let mut response = (status, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if protocol == Protocol::Cbor {
        headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    }
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn cbor_protocol(
    State(shared): State<Arc<Shared>>,
    Path((service, operation)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = cbor_to_json(&body);
    let result = async {
        if let Some(status) = shared
            .controls
            .admit(parsed.clone().unwrap_or_default())
            .await
        {
            return Err(scripted(status));
        }
        if service != AMAZON_TARGET_PREFIX || operation != "TranslateText" {
            return Err((
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                format!("no operation {service}.{operation}"),
            ));
        }
        if header_str(&headers, "smithy-protocol") != Some("rpc-v2-cbor") {
            return Err((
                StatusCode::BAD_REQUEST,
                "SerializationException",
                "the smithy-protocol header must be rpc-v2-cbor".to_owned(),
            ));
        }
        if header_str(&headers, "content-type") != Some("application/cbor") {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "SerializationException",
                "Content-Type must be application/cbor".to_owned(),
            ));
        }
        let body = parsed.map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                "SerializationException",
                format!("the body is not CBOR: {e}"),
            )
        })?;
        translate_text(&shared, &headers, &body)
    }
    .await;
    respond(&shared, Protocol::Cbor, result)
}

async fn json_protocol(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let result = async {
        if let Some(status) = shared
            .controls
            .admit(parsed.clone().unwrap_or_default())
            .await
        {
            return Err(scripted(status));
        }
        let target = header_str(&headers, "x-amz-target").unwrap_or_default();
        if target != format!("{AMAZON_TARGET_PREFIX}.TranslateText") {
            return Err((
                StatusCode::BAD_REQUEST,
                "UnknownOperationException",
                format!("unknown X-Amz-Target `{target}`"),
            ));
        }
        if header_str(&headers, "content-type") != Some("application/x-amz-json-1.1") {
            return Err((
                StatusCode::BAD_REQUEST,
                "SerializationException",
                "Content-Type must be application/x-amz-json-1.1".to_owned(),
            ));
        }
        let body = parsed.ok_or((
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "the body is not JSON".to_owned(),
        ))?;
        translate_text(&shared, &headers, &body)
    }
    .await;
    respond(&shared, Protocol::Json, result)
}

fn scripted(status: StatusCode) -> AwsError {
    let (kind, message) = match status.as_u16() {
        429 => ("TooManyRequestsException", "Rate exceeded"),
        403 => (
            "AccessDeniedException",
            "User is not authorized to perform: translate:TranslateText",
        ),
        503 => (
            "ServiceUnavailableException",
            "The service is temporarily unavailable.",
        ),
        s if s >= 500 => ("InternalServerException", "An internal error occurred."),
        _ => ("InvalidRequestException", "The request is not valid."),
    };
    (status, kind, message.to_owned())
}

/// Checks the SigV4 header the way AWS's front end does before anything else.
fn check_signature(shared: &Shared, headers: &HeaderMap) -> Result<(), AwsError> {
    match sigv4_problem(headers, "translate", shared.access_key_id.lock().as_deref()) {
        Some((kind, message)) => Err((StatusCode::BAD_REQUEST, kind, message)),
        None => Ok(()),
    }
}

fn translate_text(shared: &Shared, headers: &HeaderMap, body: &Value) -> Result<Value, AwsError> {
    check_signature(shared, headers)?;
    let field = |name: &str, path: &str| {
        body.get(name).and_then(Value::as_str).ok_or_else(|| {
            (
                StatusCode::BAD_REQUEST,
                "ValidationException",
                format!(
                    "1 validation error detected: Value null at '{path}' failed to satisfy \
                     constraint: Member must not be null"
                ),
            )
        })
    };
    let text = field("Text", "text")?;
    let source = field("SourceLanguageCode", "sourceLanguageCode")?;
    let target = field("TargetLanguageCode", "targetLanguageCode")?;
    if text.len() > MAX_TEXT_BYTES {
        return Err((
            StatusCode::BAD_REQUEST,
            "TextSizeLimitExceededException",
            format!(
                "Input text size exceeds limit. Max length of request text allowed is \
                 {MAX_TEXT_BYTES} bytes while in this request the text size is {} bytes",
                text.len()
            ),
        ));
    }
    let known = |code: &str| LANGUAGES.contains(&code);
    if !(known(target) && (source == "auto" || known(source))) {
        return Err((
            StatusCode::BAD_REQUEST,
            "UnsupportedLanguagePairException",
            format!("Unsupported language pair: {source} to {target}"),
        ));
    }
    let given = (source != "auto").then_some(source);
    let t = translate(text, given, target);
    Ok(json!({
        "TranslatedText": shared.controls.finish(t.text),
        "SourceLanguageCode": given.map_or(t.source, str::to_owned),
        "TargetLanguageCode": target,
    }))
}
