//! Files from the dashboard: the `multipart/form-data` form of a reply (read part by part,
//! each file into blob storage as soon as it is complete, so at most one file is in memory),
//! and the upload limits the dashboard shows before an upload.

use axum::Json;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use omnidesk_core::usecases::{
    MAX_FILES_PER_MESSAGE, human_size, upload_mime_type, uploaded_attachment,
};
use omnidesk_domain::{Attachment, Channel, TELEGRAM_PHOTO_LIMIT, clean_file_name};
use serde_json::{Value, json};

use crate::conversations::{MAX_CLIENT_ID_CHARS, MAX_REPLY_CHARS};
use crate::error::ApiError;
use crate::{ApiDeps, AppState, Me};

/// The largest JSON body of a reply (the multipart form has its own limits, per part).
pub const MAX_JSON_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Whether a request carries `multipart/form-data`.
pub(crate) fn is_multipart(request: &Request) -> bool {
    request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// A reply's form: text (may be empty when files come along), the idempotency key, and the
/// files, stored.
pub(crate) struct ReplyForm {
    pub text: String,
    pub client_id: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// Reads the form of a reply going out on `channel`: `text` (optional), `client_id`
/// (optional), one or more `file` parts. Each file must be non-empty (415 `empty_file`) and
/// within the deployment's and the channel's limit (413 `file_too_large`); at most
/// [`MAX_FILES_PER_MESSAGE`] (400 `too_many_files`).
pub(crate) async fn read_reply_form(
    deps: &ApiDeps,
    request: Request,
    channel: Channel,
) -> Result<ReplyForm, ApiError> {
    let mut form = Multipart::from_request(request, &()).await.map_err(|r| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_form",
            format!(
                "expected multipart/form-data with a boundary: {}",
                r.body_text()
            ),
        )
    })?;
    let limit = deps.files.upload_limit(channel);
    let mut text: Option<String> = None;
    let mut client_id: Option<String> = None;
    let mut attachments = Vec::new();
    while let Some(mut field) = form.next_field().await.map_err(|e| form_error(&e))? {
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "text" | "client_id" => {
                let max = if name == "text" {
                    MAX_REPLY_CHARS * 4
                } else {
                    MAX_CLIENT_ID_CHARS
                };
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|e| form_error(&e))? {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > max {
                        return Err(if name == "text" {
                            ApiError::invalid(
                                "text",
                                format!("must have at most {MAX_REPLY_CHARS} characters"),
                            )
                        } else {
                            ApiError::invalid(
                                "client_id",
                                format!(
                                    "must have 1 to {MAX_CLIENT_ID_CHARS} characters of A-Za-z0-9_-"
                                ),
                            )
                        });
                    }
                }
                let value = String::from_utf8(bytes)
                    .map_err(|_| ApiError::invalid(&name, "must be UTF-8 text"))?;
                let slot = if name == "text" {
                    &mut text
                } else {
                    &mut client_id
                };
                if slot.replace(value).is_some() {
                    return Err(ApiError::invalid("form", format!("`{name}` given twice")));
                }
            }
            "file" => {
                if attachments.len() == MAX_FILES_PER_MESSAGE {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "too_many_files",
                        format!("at most {MAX_FILES_PER_MESSAGE} files per message"),
                    ));
                }
                // A browser's file (a file input, a `Blob` in `FormData`) always has a name;
                // a part without one is a form field, not a file.
                let Some(given_name) = field.file_name() else {
                    return Err(ApiError::invalid(
                        "file",
                        "each `file` part must be a file (with a file name)",
                    ));
                };
                let file_name = clean_file_name(given_name);
                let declared = field.content_type().map(str::to_owned);
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|e| form_error(&e))? {
                    if (bytes.len() + chunk.len()) as u64 > limit {
                        return Err(too_large(&file_name, limit, channel));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                if bytes.is_empty() {
                    return Err(ApiError::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "empty_file",
                        format!("{file_name}: the file is empty"),
                    ));
                }
                let mime = upload_mime_type(declared.as_deref(), &file_name);
                let size = bytes.len() as u64;
                let key = deps.blobs.put(&mime, bytes).await.map_err(|e| {
                    tracing::warn!(error = %e, "cannot store an uploaded file");
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "storage_unavailable",
                        format!("{file_name} could not be stored; try again"),
                    )
                })?;
                attachments.push(uploaded_attachment(&file_name, &mime, size, key));
            }
            other => {
                return Err(ApiError::invalid(
                    "form",
                    format!("unknown part `{other}` (expected text, client_id or file)"),
                ));
            }
        }
    }
    Ok(ReplyForm {
        text: text.unwrap_or_default(),
        client_id,
        attachments,
    })
}

fn form_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            e.body_text(),
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("form: {}", e.body_text()),
        )
    }
}

/// 413 `file_too_large`, naming the file, the limit and the channel.
fn too_large(file_name: &str, limit: u64, channel: Channel) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!(
            "{file_name} is larger than {}, the limit for files sent on {}",
            human_size(limit),
            channel.label()
        ),
    )
}

/// `GET /api/v1/limits`: what the dashboard may upload, per channel, before it uploads.
pub(crate) async fn limits(State(deps): State<AppState>, _me: Me) -> Json<Value> {
    let files = deps.files;
    let channel = |c: Channel| {
        let mut v = json!({
            "max_file_bytes": files.upload_limit(c),
            "max_files": MAX_FILES_PER_MESSAGE,
        });
        if c == Channel::Telegram {
            v["photo_max_bytes"] = json!(TELEGRAM_PHOTO_LIMIT);
        }
        v
    };
    Json(json!({
        "max_file_bytes": files.max_upload_bytes,
        "max_files": MAX_FILES_PER_MESSAGE,
        "max_text_chars": MAX_REPLY_CHARS,
        "file_link_ttl_secs": files.link_ttl.as_secs(),
        "channels": {
            "telegram": channel(Channel::Telegram),
            "web": channel(Channel::Web),
            "email": channel(Channel::Email),
        }
    }))
}
