//! What the HTTP providers share: the client, the timeout, and how a failed exchange becomes a
//! [`ProviderError`].

use std::time::Duration;

use omnidesk_core::ProviderError;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

/// The default bound of one call, connection and answer included
/// (`OMNIDESK_TRANSLATE_TIMEOUT_SECS`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(8);

/// Longest a connection may take to open (a call's timeout still bounds the whole call).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How much of an error body goes into an error message.
const EXCERPT_CHARS: usize = 200;

/// One provider's HTTP client and call timeout.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    provider: &'static str,
    /// `Err` when the client could not be built (the TLS setup failed): every call then
    /// reports it instead of the constructor failing.
    client: Result<reqwest::Client, String>,
    timeout: Duration,
}

impl Http {
    pub(crate) fn new(provider: &'static str, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .build()
            .map_err(|e| chain(&e.without_url()));
        Self {
            provider,
            client,
            timeout,
        }
    }

    /// Sends `POST url` with a JSON `body` (already serialised) and `headers`, bounded by the
    /// timeout. Returns the status and the body; transport failures are `Transient`. The URL
    /// never appears in an error (Google's carries the key).
    pub(crate) async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(StatusCode, Vec<u8>), ProviderError> {
        self.post_json_within(url, headers, body, self.timeout)
            .await
    }

    /// [`Http::post_json`] bounded by `timeout` instead of the client's (what is left of a
    /// call's budget when it makes a second request).
    pub(crate) async fn post_json_within(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<(StatusCode, Vec<u8>), ProviderError> {
        let client = self.client.as_ref().map_err(|e| {
            ProviderError::Permanent(format!(
                "{}: the HTTP client cannot be built: {e}",
                self.provider
            ))
        })?;
        let mut request = client
            .post(url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport(e, timeout))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport(e, timeout))?;
        Ok((status, body.to_vec()))
    }

    /// A failed exchange: `Transient`, without the URL (Google's carries the key).
    #[allow(clippy::needless_pass_by_value)] // `without_url` consumes the error
    fn transport(&self, e: reqwest::Error, timeout: Duration) -> ProviderError {
        let provider = self.provider;
        let what = if e.is_timeout() {
            return ProviderError::Transient(format!("{provider}: no answer within {timeout:?}"));
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "the exchange failed"
        };
        ProviderError::Transient(format!("{provider}: {what}: {}", chain(&e.without_url())))
    }
}

/// An error and its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The start of a body, on one line, for an error message.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() > EXCERPT_CHARS {
            break;
        }
    }
    if out.chars().count() > EXCERPT_CHARS {
        out = out.chars().take(EXCERPT_CHARS).collect::<String>() + "…";
    }
    if out.is_empty() {
        "(empty body)".to_owned()
    } else {
        out
    }
}

/// What an error body says, for an error message: the `status`, `code` and `message` of
/// Google's and OpenAI's `{"error":{…}}` or DeepL's `{"message":…}`, else the body's start.
pub(crate) fn error_summary(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return excerpt(body);
    };
    let inner = value
        .get("error")
        .filter(|e| e.is_object())
        .unwrap_or(&value);
    let parts: Vec<&str> = ["status", "code", "type", "message"]
        .iter()
        .filter_map(|k| inner.get(*k).and_then(serde_json::Value::as_str))
        .collect();
    if parts.is_empty() {
        excerpt(body)
    } else {
        excerpt(parts.join(": ").as_bytes())
    }
}

/// The error of a non-2xx answer: 408, 429 and 5xx are `Transient`; 401 and 403 are
/// `Permanent` "credentials refused"; other statuses are `Permanent`. Providers handle their
/// own special statuses (DeepL's 456) before calling this.
pub(crate) fn status_error(provider: &str, status: StatusCode, body: &[u8]) -> ProviderError {
    let code = status.as_u16();
    let detail = format!("HTTP {code}: {}", error_summary(body));
    match code {
        408 | 429 => ProviderError::Transient(format!("{provider}: {detail}")),
        500..=599 => ProviderError::Transient(format!("{provider}: {detail}")),
        401 | 403 => {
            ProviderError::Permanent(format!("{provider}: credentials refused ({detail})"))
        }
        400..=499 => ProviderError::Permanent(format!("{provider}: request refused ({detail})")),
        _ => ProviderError::Transient(format!("{provider}: unexpected answer ({detail})")),
    }
}

/// `message` without `secret` nor the masked forms of a key that error bodies echo
/// (OpenAI's 401 says `Incorrect API key provided: sk-ab*********wxyz.`): the key, and every
/// word with a `*` in it (a masked key, maybe cut short by the excerpt), become `[redacted]`.
pub(crate) fn redact(message: &str, secret: Option<&str>) -> String {
    let message = match secret.filter(|s| !s.is_empty()) {
        Some(secret) => message.replace(secret, "[redacted]"),
        None => message.to_owned(),
    };
    message
        .split(' ')
        .map(|word| {
            if word.contains('*') {
                let tail = word.trim_end_matches(['.', ',', ';', ')']);
                format!("[redacted]{}", &word[tail.len()..])
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a 2xx body; a body that is not what the provider documents is `Transient` (a proxy's
/// error page, a truncated answer) and says what was wrong.
pub(crate) fn parse_body<T: DeserializeOwned>(
    provider: &str,
    body: &[u8],
) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|e| {
        ProviderError::Transient(format!(
            "{provider}: unexpected answer ({e}): {}",
            excerpt(body)
        ))
    })
}

/// Checks an `http(s)://host…` base URL; the error says what is wrong.
pub(crate) fn check_base_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("`{url}` is not an http(s) URL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(
            excerpt(b"  {\"message\":\n  \"Too many\"}  "),
            "{\"message\": \"Too many\"}"
        );
        let long = "x ".repeat(500);
        let e = excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt(b""), "(empty body)");
    }

    #[test]
    fn error_summaries_pick_the_documented_fields() {
        assert_eq!(
            error_summary(br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}"#),
            "RESOURCE_EXHAUSTED: Quota exceeded"
        );
        assert_eq!(
            error_summary(br#"{"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"}}"#),
            "rate_limit_exceeded: requests: Rate limit"
        );
        assert_eq!(
            error_summary(br#"{"message":"Quota Exceeded"}"#),
            "Quota Exceeded"
        );
        assert_eq!(error_summary(b"<html>oops</html>"), "<html>oops</html>");
        assert_eq!(error_summary(br#"{"x":1}"#), "{\"x\":1}");
    }

    #[test]
    fn statuses_map_to_retryable_or_not() {
        let t = |s: u16| status_error("p", StatusCode::from_u16(s).unwrap(), b"{}");
        assert!(matches!(t(429), ProviderError::Transient(_)));
        assert!(matches!(t(503), ProviderError::Transient(_)));
        assert!(matches!(t(500), ProviderError::Transient(_)));
        assert!(matches!(t(400), ProviderError::Permanent(_)));
        assert!(matches!(t(404), ProviderError::Permanent(_)));
        let ProviderError::Permanent(m) = t(403) else {
            panic!("403 is permanent")
        };
        assert!(m.contains("credentials refused"), "{m}");
    }

    #[test]
    fn redaction_removes_the_key_and_its_masked_echo() {
        assert_eq!(
            redact(
                "HTTP 401: Incorrect API key provided: sk-wr****-key. See sk-wrong-key",
                Some("sk-wrong-key")
            ),
            "HTTP 401: Incorrect API key provided: [redacted]. See [redacted]"
        );
        assert_eq!(redact("a b  c", None), "a b  c");
    }

    #[test]
    fn base_urls_must_be_http_or_https() {
        assert!(check_base_url("https://api.deepl.com").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080/v1").is_ok());
        assert!(check_base_url("ftp://example.com").is_err());
        assert!(check_base_url("api.deepl.com").is_err());
        assert!(check_base_url("").is_err());
    }
}
