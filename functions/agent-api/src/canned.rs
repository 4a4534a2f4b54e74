//! Canned responses: texts agents insert by their `/shortcut` (placeholders such as
//! `{customer_name}` are stored raw; the dashboard fills them in when inserting).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use omnidesk_core::CannedResponse;
use serde::Deserialize;

use crate::error::{ApiError, Body, PathParam};
use crate::{AppState, Me};

/// Longest shortcut, in characters.
pub(crate) const MAX_SHORTCUT_CHARS: usize = 32;
/// Longest canned text, in characters.
pub(crate) const MAX_CANNED_CHARS: usize = 4_000;

/// A shortcut as stored: 1–32 of `a-z0-9_-`, upper-case letters taken as lower-case.
pub(crate) fn parse_shortcut(raw: &str) -> Result<String, ApiError> {
    let valid = !raw.is_empty()
        && raw.len() <= MAX_SHORTCUT_CHARS
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_shortcut",
            format!(
                "shortcut: 1 to {MAX_SHORTCUT_CHARS} letters a-z, digits, `-` or `_` (without the slash)"
            ),
        ));
    }
    Ok(raw.to_ascii_lowercase())
}

/// `GET /api/v1/canned`: every canned response, by shortcut.
pub(crate) async fn list(
    State(deps): State<AppState>,
    _me: Me,
) -> Result<Json<Vec<CannedResponse>>, ApiError> {
    Ok(Json(deps.routing.list_canned().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CannedBody {
    text: String,
}

/// `PUT /api/v1/canned/{shortcut}` `{"text"}`: creates or replaces one. The text is measured as
/// written and stored without the white space around it.
pub(crate) async fn put(
    State(deps): State<AppState>,
    me: Me,
    PathParam(shortcut): PathParam<String>,
    Body(body): Body<CannedBody>,
) -> Result<Json<CannedResponse>, ApiError> {
    let shortcut = parse_shortcut(&shortcut)?;
    let text = body.text.trim();
    if text.is_empty() || body.text.chars().count() > MAX_CANNED_CHARS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_text",
            format!("text: 1 to {MAX_CANNED_CHARS} characters, not only white space"),
        ));
    }
    let canned = CannedResponse {
        shortcut,
        text: text.to_owned(),
        updated_at: deps.clock.now(),
        updated_by: Some(me.0),
    };
    deps.routing.put_canned(&canned).await?;
    tracing::info!(shortcut = %canned.shortcut, agent_id = %me.0, "canned response saved");
    Ok(Json(canned))
}

/// `DELETE /api/v1/canned/{shortcut}`.
pub(crate) async fn delete(
    State(deps): State<AppState>,
    me: Me,
    PathParam(shortcut): PathParam<String>,
) -> Result<StatusCode, ApiError> {
    let shortcut = parse_shortcut(&shortcut)?;
    if !deps.routing.delete_canned(&shortcut).await? {
        return Err(ApiError::not_found("canned response"));
    }
    tracing::info!(%shortcut, agent_id = %me.0, "canned response deleted");
    Ok(StatusCode::NO_CONTENT)
}
