//! Security headers of every answer of the embedded server (CloudFront's response headers
//! policy sets the same on AWS, see `template.yaml`):
//!
//! - every answer: `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` (a
//!   route that sets its own keeps it);
//! - HTML pages (the dashboard): the [`DASHBOARD_CSP`], and `X-Frame-Options: DENY` for
//!   browsers that predate `frame-ancestors`;
//! - behind a proxy that terminates HTTPS (`X-Forwarded-Proto: https`): HSTS.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The dashboard's Content-Security-Policy: scripts only from this origin (no inline script,
/// no `eval`), never framed, no plugins, no `<base>` tricks, forms post only here. Styles may be
/// inline: the formatted e-mail view is a sandboxed `srcdoc` frame, which inherits this policy,
/// and a mail's styles are inline (they cannot run script).
pub const DASHBOARD_CSP: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; \
     font-src 'self'; connect-src 'self'; frame-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// HSTS for two years, subdomains included (sent only over HTTPS).
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// The middleware (`axum::middleware::from_fn`).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let https = request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let mut response = next.run(request).await;
    add(response.headers_mut(), https);
    response
}

fn add(headers: &mut HeaderMap, https: bool) {
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    let defaults: [(header::HeaderName, &'static str, bool); 5] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff", true),
        (header::REFERRER_POLICY, "no-referrer", true),
        (header::CONTENT_SECURITY_POLICY, DASHBOARD_CSP, html),
        (header::X_FRAME_OPTIONS, "DENY", html),
        (header::STRICT_TRANSPORT_SECURITY, HSTS, https),
    ];
    for (name, value, wanted) in defaults {
        if wanted && !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_gets_the_policy_every_answer_nosniff_and_https_hsts() {
        let mut page = HeaderMap::new();
        page.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        add(&mut page, false);
        assert_eq!(page[header::CONTENT_SECURITY_POLICY], DASHBOARD_CSP);
        assert_eq!(page[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(page[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(!page.contains_key(header::STRICT_TRANSPORT_SECURITY));

        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // A route's own policy (a file link's sandbox) is kept.
        json.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        add(&mut json, true);
        assert!(!json.contains_key(header::CONTENT_SECURITY_POLICY));
        assert_eq!(json[header::REFERRER_POLICY], "same-origin");
        assert_eq!(json[header::STRICT_TRANSPORT_SECURITY], HSTS);
    }

    #[test]
    fn the_policy_allows_no_inline_script_and_no_framing() {
        let script = DASHBOARD_CSP
            .split(';')
            .map(str::trim)
            .find(|d| d.starts_with("script-src"))
            .unwrap();
        assert_eq!(script, "script-src 'self'");
        assert!(DASHBOARD_CSP.contains("frame-ancestors 'none'"));
        assert!(!DASHBOARD_CSP.contains("unsafe-eval"));
    }
}
