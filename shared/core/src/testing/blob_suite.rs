//! Conformance suite of [`BlobStore`]: content addressing, not-found, round trip, and the
//! signed links fetched over HTTP the way a browser does (through a [`LinkFetcher`], since the
//! local store's links are served by the omnidesk server and S3's by S3).
//!
//! Every run stores fresh random bytes, so it can run repeatedly against one shared bucket.

use std::time::Duration;

use async_trait::async_trait;

use crate::{BlobStore, LinkRequest, blob_key};
use omnidesk_domain::Timestamp;

/// One HTTP response to a link, as the suite checks it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
    /// `X-Content-Type-Options`.
    pub content_type_options: Option<String>,
    pub body: Vec<u8>,
}

/// Fetches a link returned by `signed_url` (absolute, or a path on the server serving the
/// store's links) with a plain `GET`.
#[async_trait]
pub trait LinkFetcher: Send + Sync {
    async fn get(&self, url: &str) -> Fetched;

    /// Whether the server refuses expired and altered links. S3 does; moto does not check
    /// presigned signatures or expiry, so against it the suite skips those two checks.
    fn verifies_links(&self) -> bool {
        true
    }

    /// Whether responses carry `X-Content-Type-Options: nosniff` (the local server's do; an S3
    /// presigned response cannot).
    fn sends_nosniff(&self) -> bool {
        true
    }
}

/// Unique bytes of this run, starting with `prefix`.
fn fresh(prefix: &[u8]) -> Vec<u8> {
    let mut bytes = prefix.to_vec();
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes
}

fn now() -> Timestamp {
    Timestamp::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_default(),
    )
}

/// The same bytes stored twice give one key (their SHA-256) and come back once; other bytes
/// give another key.
pub async fn same_bytes_are_one_blob(store: &dyn BlobStore) {
    let bytes = fresh(b"same bytes ");
    let first = store.put("image/png", bytes.clone()).await.expect("put");
    let second = store
        .put("image/png", bytes.clone())
        .await
        .expect("put again");
    assert_eq!(first, second, "the same bytes must get the same key");
    assert_eq!(first, blob_key(&bytes), "keys are the SHA-256 of the bytes");
    let other = store
        .put("image/png", fresh(b"other bytes "))
        .await
        .expect("put other");
    assert_ne!(first, other, "other bytes must get another key");
}

/// `get` of a key never stored, and of something that is not a key, is `None`.
pub async fn unknown_keys_are_none(store: &dyn BlobStore) {
    let never = blob_key(&fresh(b"never stored "));
    assert_eq!(store.get(&never).await.expect("get unknown"), None);
    assert_eq!(
        store.get("../../etc/passwd").await.expect("get garbage"),
        None
    );
}

/// Bytes and content type come back as stored.
pub async fn bytes_and_type_round_trip(store: &dyn BlobStore) {
    let bytes = fresh(b"%PDF-1.7 round trip ");
    let key = store
        .put("application/pdf", bytes.clone())
        .await
        .expect("put");
    let blob = store.get(&key).await.expect("get").expect("stored");
    assert_eq!(blob.bytes, bytes);
    assert_eq!(blob.content_type, "application/pdf");
}

async fn link(store: &dyn BlobStore, key: &str, name: &str, ty: &str, at: Timestamp) -> String {
    store
        .signed_url(&LinkRequest {
            key,
            file_name: Some(name),
            content_type: ty,
            now: at,
            ttl: Duration::from_secs(600),
        })
        .await
        .expect("signed_url")
}

/// Links serve the bytes with the type they name; plain images show inline, HTML and SVG
/// download (`attachment`); with `nosniff` where the server can send it. Expired links and a
/// link altered to reach another blob are refused.
pub async fn links_serve_bytes_safely(store: &dyn BlobStore, fetch: &dyn LinkFetcher) {
    let png = fresh(b"\x89PNG\r\n\x1a\n");
    let png_key = store.put("image/png", png.clone()).await.expect("put png");
    let html = fresh(b"<script>alert(document.cookie)</script>");
    let html_key = store
        .put("text/html", html.clone())
        .await
        .expect("put html");
    let svg = fresh(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>");
    let svg_key = store
        .put("image/svg+xml", svg.clone())
        .await
        .expect("put svg");

    for (key, bytes, name, ty, inline) in [
        (&png_key, &png, "photo 1.png", "image/png", true),
        (&html_key, &html, "page.html", "text/html", false),
        (&svg_key, &svg, "logo.svg", "image/svg+xml", false),
    ] {
        let url = link(store, key, name, ty, now()).await;
        let got = fetch.get(&url).await;
        assert_eq!(got.status, 200, "GET {url}");
        assert_eq!(&got.body, bytes, "{name}: the bytes");
        assert_eq!(
            got.content_type.as_deref(),
            Some(ty),
            "{name}: Content-Type"
        );
        let disposition = got.content_disposition.unwrap_or_default();
        let expected = if inline { "inline;" } else { "attachment;" };
        assert!(
            disposition.starts_with(expected),
            "{name}: Content-Disposition {disposition:?} should start with {expected}"
        );
        assert!(
            disposition.contains(name),
            "{name}: the file name is in {disposition:?}"
        );
        if fetch.sends_nosniff() {
            assert_eq!(
                got.content_type_options.as_deref(),
                Some("nosniff"),
                "{name}: X-Content-Type-Options"
            );
        }
    }

    if fetch.verifies_links() {
        let hour_ago = Timestamp::from_millis(now().millis() - 3_600_000);
        let expired = link(store, &png_key, "photo.png", "image/png", hour_ago).await;
        let got = fetch.get(&expired).await;
        assert!(
            (400..500).contains(&got.status) && got.body != png,
            "an expired link is refused, got {}",
            got.status
        );
        let valid = link(store, &png_key, "photo.png", "image/png", now()).await;
        let altered = valid.replace(&png_key, &html_key);
        assert_ne!(altered, valid);
        let got = fetch.get(&altered).await;
        assert!(
            (400..500).contains(&got.status) && got.body != html,
            "a link altered to reach another file is refused, got {}",
            got.status
        );
    }
}

/// `delete` removes the bytes for good; deleting again, or a key never stored, or something
/// that is not a key, is no error; other blobs stay.
pub async fn delete_is_for_good(store: &dyn BlobStore) {
    let gone = store
        .put("application/pdf", fresh(b"%PDF-1.7 erased "))
        .await
        .expect("put");
    let kept = store.put("image/png", fresh(b"kept ")).await.expect("put");
    store.delete(&gone).await.expect("delete");
    assert_eq!(
        store.get(&gone).await.expect("get deleted"),
        None,
        "deleted bytes are gone"
    );
    store.delete(&gone).await.expect("delete again is no error");
    store
        .delete(&blob_key(&fresh(b"never stored ")))
        .await
        .expect("deleting a key never stored is no error");
    store
        .delete("../../etc/passwd")
        .await
        .expect("deleting a non-key is no error");
    assert!(
        store.get(&kept).await.expect("get kept").is_some(),
        "another blob stays"
    );
}

/// Every check that needs no HTTP server (the in-memory store's links are served by nothing).
pub async fn run_without_links(store: &dyn BlobStore) {
    same_bytes_are_one_blob(store).await;
    unknown_keys_are_none(store).await;
    bytes_and_type_round_trip(store).await;
    delete_is_for_good(store).await;
}

/// The whole suite.
pub async fn run(store: &dyn BlobStore, fetch: &dyn LinkFetcher) {
    run_without_links(store).await;
    links_serve_bytes_safely(store, fetch).await;
}
