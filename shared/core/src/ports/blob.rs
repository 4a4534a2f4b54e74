//! Attachment bytes: S3 on AWS, a folder under the data directory locally.

use std::time::Duration;

use async_trait::async_trait;
use omnidesk_domain::{Timestamp, clean_file_name, safe_inline};
use sha2::{Digest, Sha256};

use crate::ProviderError;

/// Stored bytes and their type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// How long a download link stays valid unless configured otherwise.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(30 * 60);

/// A download link to ask for: which blob, what the browser is told it is, for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRequest<'a> {
    pub key: &'a str,
    /// The name the browser saves it under.
    pub file_name: Option<&'a str>,
    /// The type the browser is told (`Content-Type` of the response).
    pub content_type: &'a str,
    /// Valid from `now` for `ttl`.
    pub now: Timestamp,
    pub ttl: Duration,
}

impl LinkRequest<'_> {
    /// When the link stops working, in Unix seconds.
    pub fn expires_at_secs(&self) -> i64 {
        self.now.millis() / 1000 + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2)
    }

    /// The `Content-Disposition` the response carries: `inline` only for plain images, audio
    /// and video; everything else (HTML, SVG, scripts, PDFs, unknown) downloads.
    pub fn disposition(&self) -> String {
        content_disposition(self.file_name, self.content_type)
    }
}

/// `inline` or `attachment`, with the cleaned file name (RFC 6266: an ASCII fallback and the
/// UTF-8 `filename*`).
pub fn content_disposition(file_name: Option<&str>, content_type: &str) -> String {
    let kind = if safe_inline(content_type) {
        "inline"
    } else {
        "attachment"
    };
    let name = clean_file_name(file_name.unwrap_or("file"));
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '\\' && c != '%' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encode(&name);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `value` with every byte but RFC 3986's unreserved characters (`A-Za-z0-9-._~`)
/// percent-encoded: safe in a URL's query or path and in RFC 5987's `filename*`.
pub fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The key of `bytes`: their SHA-256 in hex. Content-addressed (the same file stored twice is
/// one object) and opaque (it cannot be guessed without the bytes).
pub fn blob_key(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `key` has the shape [`blob_key`] gives (so nothing else reaches a store's paths).
pub fn is_blob_key(key: &str) -> bool {
    key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Attachment bytes. Keys are opaque and content-addressed ([`blob_key`]).
///
/// Guarantees: `put` of the same bytes twice stores them once and returns the same key;
/// `get` of an unknown key is `None`; nothing is reachable without a link from
/// `signed_url`, which expires after its `ttl`, cannot be altered to reach another key, and
/// makes the browser download (not render) anything that is not a plain image, audio or video,
/// with `X-Content-Type-Options: nosniff` where the store serves the bytes itself.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `bytes`; returns their key.
    async fn put(&self, content_type: &str, bytes: Vec<u8>) -> Result<String, ProviderError>;
    /// The bytes of `key`, or `None`.
    async fn get(&self, key: &str) -> Result<Option<Blob>, ProviderError>;
    /// A short-lived download link.
    async fn signed_url(&self, link: &LinkRequest<'_>) -> Result<String, ProviderError>;
    /// Deletes the bytes of `key` for good (an erasure, retention); deleting what is not
    /// there is no error.
    async fn delete(&self, key: &str) -> Result<(), ProviderError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_content_addressed_hex() {
        let k = blob_key(b"hello");
        assert_eq!(k, blob_key(b"hello"));
        assert_ne!(k, blob_key(b"hello!"));
        assert!(is_blob_key(&k));
        assert!(!is_blob_key("../etc/passwd"));
        assert!(!is_blob_key(&k.to_uppercase()));
    }

    #[test]
    fn html_and_svg_download_images_show() {
        assert!(content_disposition(Some("a.png"), "image/png").starts_with("inline;"));
        assert!(content_disposition(Some("x.html"), "text/html").starts_with("attachment;"));
        assert!(content_disposition(Some("x.svg"), "image/svg+xml").starts_with("attachment;"));
        let d = content_disposition(Some("счёт \"1\".pdf"), "application/pdf");
        assert!(d.contains("filename*=UTF-8''%D1%81"), "{d}");
        assert!(!d.contains("\"1\""), "{d}");
    }
}
