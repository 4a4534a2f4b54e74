//! JSON errors (`{"error":{"code","message"}}`) and extractors whose rejections use them.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use omnidesk_core::{QueueError, StoreError};
use omnidesk_domain::TransitionError;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth::AuthError;

/// An error answer. `message` is always safe to show (never the `Debug` of an internal error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// Any error answer.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    /// 400 for a bad field; the message names it.
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("{field}: {reason}"),
        )
    }
    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    /// 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    /// 500 without details (they go to the log).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }
    /// 401 with one message for every kind of bad credentials.
    pub fn bad_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "wrong e-mail or password",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %e, "store unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the store is temporarily unavailable; try again",
                )
            }
            StoreError::Conflict(_) => Self::conflict(
                "conflict",
                "the record was changed by someone else; reload and try again",
            ),
            StoreError::NotFound(_) => Self::not_found("record"),
            StoreError::Corrupt(_) => {
                tracing::error!(error = %e, "corrupt record");
                Self::internal()
            }
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        tracing::warn!(error = %e, "queue error");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_unavailable",
            "the queue is temporarily unavailable; try again",
        )
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        Self::conflict("invalid_transition", e.to_string())
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Expired => Self::new(
                StatusCode::UNAUTHORIZED,
                "token_expired",
                "the token has expired",
            ),
            AuthError::Missing => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing `Authorization: Bearer <token>` header",
            ),
            AuthError::Invalid => {
                Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "invalid token")
            }
            AuthError::Signing(_) => {
                tracing::error!(error = %e, "token signing failed");
                Self::internal()
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match r.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, "invalid_input", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", r.body_text())
    }
}

/// A JSON object body (`Content-Type: application/json`) read into `T`; every rejection is an
/// [`ApiError`]. Only an object: serde would also fill a struct from an array of its fields.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<Value>::from_request(req, state).await?;
        from_object(value).map(Body)
    }
}

/// `T` from a JSON object (400 for any other JSON value or a mismatching object).
pub(crate) fn from_object<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| ApiError::invalid("body", e))
}

/// `Query` whose rejection is an [`ApiError`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Params<T>(pub T);

/// `Path` whose rejection is an [`ApiError`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct PathParam<T>(pub T);
