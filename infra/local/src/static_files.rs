//! Serves the built dashboard (static files) at `/`, with `index.html` for unknown paths so
//! client-side routes work. Without a built dashboard, `/` explains how to build it. Also the
//! attachment files behind signed links (`/files/<key>?exp=&type=&name=&sig=`).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use omnidesk_core::{BlobStore, Clock, content_disposition, is_blob_key};
use omnidesk_local::{FolderBlobStore, LinkError, SignedLink};

/// The fallback service for everything the API does not route.
pub fn service(dir: &Path) -> MethodRouter {
    let dir = dir.to_path_buf();
    get(move |req: Request<Body>| {
        let dir = dir.clone();
        async move { serve(&dir, req.uri().path()).await }
    })
}

/// The website widget: `/widget.js` (the loader) and `/widget/<file>` (the panel and its
/// assets), from the widget's build directory, for any origin (host pages embed them), with
/// a short cache lifetime so a new build reaches visitors within minutes.
pub fn widget_routes(dir: &Path) -> axum::Router {
    let loader = dir.join("widget.js");
    let assets = dir.join("widget");
    axum::Router::new()
        .route(
            "/widget.js",
            get(move || {
                let loader = loader.clone();
                async move { widget_file(&loader).await }
            }),
        )
        .route(
            "/widget/{*file}",
            get(
                move |axum::extract::Path(file): axum::extract::Path<String>| {
                    let assets = assets.clone();
                    async move {
                        match safe_relative(&file) {
                            Some(rel) if !rel.as_os_str().is_empty() => {
                                widget_file(&assets.join(rel)).await
                            }
                            _ => StatusCode::NOT_FOUND.into_response(),
                        }
                    }
                },
            ),
        )
}

async fn widget_file(file: &Path) -> Response {
    match tokio::fs::read(file).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(file)),
                (header::CACHE_CONTROL, "public, max-age=300"),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "the website widget is not built: run `npm ci && npm run build` in web/widget\n",
        )
            .into_response(),
    }
}

/// `GET`/`HEAD /files/{key}`: the bytes of a blob behind a link signed by
/// [`FolderBlobStore`] — checked (signature in constant time, then expiry) before anything is
/// read. Served with the type the link names, `Content-Disposition` (`inline` only for plain
/// images, audio and video; HTML, SVG and the rest download), `nosniff`, a sandboxing CSP (a
/// file opened anyway runs no script in our origin), and a private cache lifetime that ends
/// with the link. Refusals are JSON: 403 for an expired, altered or malformed link, 404 for a
/// file that is not there.
pub fn files_routes(blobs: Arc<FolderBlobStore>, clock: Arc<dyn Clock>) -> axum::Router {
    axum::Router::new()
        .route("/files/{key}", get(file))
        .with_state(FilesState { blobs, clock })
}

#[derive(Clone)]
struct FilesState {
    blobs: Arc<FolderBlobStore>,
    clock: Arc<dyn Clock>,
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    (status, axum::Json(body)).into_response()
}

async fn file(
    State(state): State<FilesState>,
    UrlPath(key): UrlPath<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !is_blob_key(&key) {
        return json_error(StatusCode::NOT_FOUND, "not_found", "no such file");
    }
    let field = |name: &str| query.get(name).cloned();
    let link = match (
        field("exp").and_then(|e| e.parse::<i64>().ok()),
        field("type"),
        field("name"),
        field("sig"),
    ) {
        (Some(expires_at_secs), Some(content_type), Some(file_name), Some(signature)) => {
            SignedLink {
                key,
                expires_at_secs,
                content_type,
                file_name,
                signature,
            }
        }
        _ => {
            return json_error(
                StatusCode::FORBIDDEN,
                "link_malformed",
                "the link is incomplete: open the file again from the conversation",
            );
        }
    };
    let now_secs = state.clock.now().millis() / 1000;
    match state.blobs.verify(&link, now_secs) {
        Ok(()) => {}
        Err(LinkError::Expired) => {
            return json_error(
                StatusCode::FORBIDDEN,
                "link_expired",
                "the link has expired: open the file again from the conversation for a new one",
            );
        }
        Err(LinkError::BadSignature | LinkError::Malformed) => {
            return json_error(
                StatusCode::FORBIDDEN,
                "link_invalid",
                "the link is not valid (altered or signed by another server)",
            );
        }
    }
    let blob = match state.blobs.get(&link.key).await {
        Ok(Some(blob)) => blob,
        Ok(None) => return json_error(StatusCode::NOT_FOUND, "not_found", "no such file"),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a stored file");
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the file cannot be read right now",
            );
        }
    };
    let header = |value: String| {
        HeaderValue::from_str(&value)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
    };
    let remaining = (link.expires_at_secs - now_secs).max(0);
    let disposition = content_disposition(Some(&link.file_name), &link.content_type);
    (
        [
            (header::CONTENT_TYPE, header(link.content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox; default-src 'none'"),
            ),
            (
                header::CACHE_CONTROL,
                header(format!("private, max-age={remaining}")),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        blob.bytes,
    )
        .into_response()
}

async fn serve(dir: &Path, path: &str) -> Response {
    if path.starts_with("/api/")
        || path.starts_with("/telegram/")
        || path.starts_with("/web/")
        || path.starts_with("/files/")
    {
        let body = serde_json::json!({"error": {"code": "not_found", "message": "no such route"}});
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    let Some(rel) = safe_relative(path) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut file = dir.join(&rel);
    if rel.as_os_str().is_empty()
        || tokio::fs::metadata(&file)
            .await
            .map(|m| m.is_dir())
            .unwrap_or(false)
    {
        file = dir.join("index.html");
    }
    match tokio::fs::read(&file).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type(&file))], bytes).into_response(),
        Err(_) => match tokio::fs::read(dir.join("index.html")).await {
            Ok(bytes) if rel.extension().is_none_or(|e| e == "html") => {
                ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], bytes).into_response()
            }
            // The dashboard's runtime configuration, when the build has none: served from
            // here, the API and the WebSocket are on this origin (an empty object says so,
            // and the browser logs no failed request).
            Ok(_) if rel == Path::new("config.json") => (
                [(header::CONTENT_TYPE, "application/json")],
                "{}",
            )
                .into_response(),
            Ok(_) => StatusCode::NOT_FOUND.into_response(),
            Err(_) => (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "omnidesk is running. The dashboard is not built: run `npm ci && npm run build` in web/dashboard.\n",
            )
                .into_response(),
        },
    }
}

/// The request path as a relative path inside the directory; `None` for `..` tricks.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for comp in Path::new(path.trim_start_matches('/')).components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

fn content_type(file: &Path) -> &'static str {
    match file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "mp3" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_escape_the_directory() {
        assert_eq!(
            safe_relative("/assets/app.js"),
            Some(PathBuf::from("assets/app.js"))
        );
        assert_eq!(safe_relative("/"), Some(PathBuf::new()));
        assert_eq!(safe_relative("/../etc/passwd"), None);
        assert_eq!(safe_relative("/a/../../b"), None);
    }
}
