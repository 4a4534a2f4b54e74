//! Attachment files on the embedded runtime: the `/files` links of the data-directory store
//! over real HTTP (the blob conformance suite), and Telegram files fetched by the media worker.

use std::time::Duration;

use omnidesk_core::testing::blob_suite::{self, Fetched, LinkFetcher};
use omnidesk_core::{BlobStore, LinkRequest, OutgoingMessage, Queue, QueueName, blob_key};
use omnidesk_domain::Timestamp;
use serde_json::{Value, json};

use crate::harness::{Harness, SECRET};

const WAIT: Duration = Duration::from_secs(10);

/// GETs the server's relative `/files/…` links.
struct ServerLinks {
    base: String,
    http: reqwest::Client,
}

async fn fetched(response: reqwest::Response) -> Fetched {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Fetched {
        status: response.status().as_u16(),
        content_type: header("content-type"),
        content_disposition: header("content-disposition"),
        content_type_options: header("x-content-type-options"),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

#[async_trait::async_trait]
impl LinkFetcher for ServerLinks {
    async fn get(&self, url: &str) -> Fetched {
        assert!(url.starts_with("/files/"), "a relative link: {url}");
        fetched(
            self.http
                .get(format!("{}{url}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

fn now() -> Timestamp {
    Timestamp::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    )
}

#[tokio::test]
async fn the_data_directory_store_and_its_files_route_pass_the_blob_suite() {
    let h = Harness::start().await;
    let blobs = h.app.as_ref().unwrap().adapters.blobs.clone();
    let links = ServerLinks {
        base: h.base.clone(),
        http: h.http.clone(),
    };
    blob_suite::run(blobs.as_ref(), &links).await;
}

#[tokio::test]
async fn a_file_link_answers_head_sandboxed_and_refusals_are_json() {
    let h = Harness::start().await;
    let blobs = h.app.as_ref().unwrap().adapters.blobs.clone();
    let key = blobs
        .put("text/html", b"<script>alert(1)</script>".to_vec())
        .await
        .unwrap();
    let link = |key: String, at: Timestamp| {
        let blobs = blobs.clone();
        async move {
            blobs
                .signed_url(&LinkRequest {
                    key: &key,
                    file_name: Some("invoice.html"),
                    content_type: "text/html",
                    now: at,
                    ttl: Duration::from_secs(600),
                })
                .await
                .unwrap()
        }
    };
    let url = format!("{}{}", h.base, link(key.clone(), now()).await);

    let head = h.http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let header = |name: &str| head.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/html");
    assert!(header("content-disposition").starts_with("attachment; filename=\"invoice.html\""));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(
        header("content-security-policy"),
        "sandbox; default-src 'none'"
    );
    let max_age: u64 = header("cache-control")
        .strip_prefix("private, max-age=")
        .unwrap()
        .parse()
        .unwrap();
    assert!((595..=600).contains(&max_age), "{max_age}");
    assert_eq!(header("content-length"), "25");
    assert!(head.bytes().await.unwrap().is_empty(), "HEAD has no body");

    let refusal = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (status, body["error"]["code"].as_str().unwrap().to_owned())
    };
    let expired = format!(
        "{}{}",
        h.base,
        link(
            key.clone(),
            Timestamp::from_millis(now().millis() - 3_600_000)
        )
        .await
    );
    let (status, code) = refusal(h.http.get(&expired).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (403, "link_expired"));
    let retyped = url.replace("type=text%2Fhtml", "type=image%2Fpng");
    assert_ne!(retyped, url);
    let (status, code) = refusal(h.http.get(&retyped).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (403, "link_invalid"));
    let bare = url.split('?').next().unwrap().to_owned();
    let (status, code) = refusal(h.http.get(&bare).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (403, "link_malformed"));
    // A valid link to a file that is not (or no longer) there.
    let missing = format!("{}{}", h.base, link(blob_key(b"never stored"), now()).await);
    let (status, code) = refusal(h.http.get(&missing).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let (status, code) = refusal(
        h.http
            .get(format!("{}/files/..%2F..%2Fjwt-secret", h.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
}

fn photo_update(update_id: u64, chat: i64, file_id: &str, size: u64) -> String {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_763_780_000,
            "chat": {"id": chat, "type": "private", "first_name": "Ann"},
            "from": {"id": chat, "is_bot": false, "first_name": "Ann", "language_code": "en"},
            "photo": [
                {"file_id": format!("{file_id}_thumb"), "file_unique_id": "t1", "width": 90, "height": 67, "file_size": 1200},
                {"file_id": file_id, "file_unique_id": "p1", "width": 800, "height": 600, "file_size": size}
            ],
            "caption": "my receipt"
        }
    })
    .to_string()
}

fn document_update(update_id: u64, chat: i64, file_id: &str, size: u64) -> String {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_763_780_000,
            "chat": {"id": chat, "type": "private", "first_name": "Ann"},
            "from": {"id": chat, "is_bot": false, "first_name": "Ann", "language_code": "en"},
            "document": {"file_id": file_id, "file_unique_id": "d1", "file_name": "holiday.mp4",
                         "mime_type": "video/mp4", "file_size": size}
        }
    })
    .to_string()
}

/// Waits for the agent's `message.created` of an inbound message with an attachment; enqueues
/// its media job as the router does.
pub(crate) async fn stored_and_queued(h: &Harness, ws: &mut crate::harness::Ws) -> Value {
    let created = ws
        .wait_for(WAIT, |ev| {
            ev["type"] == "message.created" && ev["message"]["attachments"][0].is_object()
        })
        .await
        .expect("the agent sees the message with its attachment");
    let message = created["message"].clone();
    let job = json!({"conversation_id": message["conversation_id"], "message_id": message["id"]});
    h.app
        .as_ref()
        .unwrap()
        .adapters
        .queue
        .send(
            QueueName::Media,
            OutgoingMessage::delayed(job.to_string(), Duration::ZERO),
        )
        .await
        .unwrap();
    message
}

#[tokio::test]
async fn a_telegram_photo_is_fetched_by_the_media_worker_and_served_by_a_signed_link() {
    let h = Harness::start().await;
    let mut ws = h.connect_ws().await;
    let jpeg = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 receipt photo".to_vec();
    h.fake.put_file("AgACAgQAAxkBAAIC", jpeg.clone());
    assert_eq!(
        h.webhook(
            &photo_update(9301, 555_301, "AgACAgQAAxkBAAIC", jpeg.len() as u64),
            Some(SECRET)
        )
        .await,
        200
    );
    let message = stored_and_queued(&h, &mut ws).await;
    let id = message["id"].clone();
    let updated = ws
        .wait_for(WAIT, |ev| {
            ev["type"] == "message.updated" && ev["message"]["id"] == id
        })
        .await
        .expect("the agent sees the fetched file");
    let a = &updated["message"]["attachments"][0];
    assert_eq!(a["blob"], blob_key(&jpeg));
    assert_eq!(a["mime_type"], "image/jpeg");
    assert_eq!(a["size_bytes"], jpeg.len());
    assert_eq!(a["reference"], "tg-file:AgACAgQAAxkBAAIC");

    // In the data directory, served by a signed link.
    let blobs = h.app.as_ref().unwrap().adapters.blobs.clone();
    let url = blobs
        .signed_url(&LinkRequest {
            key: a["blob"].as_str().unwrap(),
            file_name: Some("photo.jpg"),
            content_type: "image/jpeg",
            now: now(),
            ttl: omnidesk_core::DEFAULT_LINK_TTL,
        })
        .await
        .unwrap();
    let got = ServerLinks {
        base: h.base.clone(),
        http: h.http.clone(),
    }
    .get(&url)
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, jpeg);
    assert!(got.content_disposition.unwrap().starts_with("inline;"));

    // A video over Telegram's 20 MB limit stays a reference, with a note.
    h.fake.put_large_file("BAACAgQAAxkBAAID");
    assert_eq!(
        h.webhook(
            &document_update(9302, 555_301, "BAACAgQAAxkBAAID", 26_214_400),
            Some(SECRET)
        )
        .await,
        200
    );
    // Telegram states its size, so the note is there from the start (nothing to fetch); a
    // media job for it anyway leaves it as it is.
    let message = stored_and_queued(&h, &mut ws).await;
    let a = &message["attachments"][0];
    assert_eq!(a.get("blob"), None);
    assert_eq!(
        a["note"],
        "Not downloaded: over Telegram's 20 MB limit for bots (25 MB). Open it in Telegram."
    );
}

/// Every folder and file under `dir`, with its permission bits.
#[cfg(unix)]
fn modes_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        found.push((
            d.clone(),
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o777,
        ));
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
                found.push((entry.path(), mode));
            }
        }
    }
    found
}

#[cfg(unix)]
#[tokio::test]
async fn a_fresh_data_directory_and_everything_in_it_is_readable_by_its_owner_only() {
    // Under the usual umask (022) files would be world-readable: the modes must not come
    // from it.
    let h = Harness::start_configured(omnidesk_core::BotMode::Webhook, |c| {
        c.data_dir = c.data_dir.join("fresh");
    })
    .await;
    let mut ws = h.connect_ws().await;
    let jpeg = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 private photo".to_vec();
    h.fake.put_file("AgACAgQAAxkBAAIP", jpeg.clone());
    assert_eq!(
        h.webhook(
            &photo_update(9401, 555_401, "AgACAgQAAxkBAAIP", jpeg.len() as u64),
            Some(SECRET)
        )
        .await,
        200
    );
    let message = stored_and_queued(&h, &mut ws).await;
    let id = message["id"].clone();
    ws.wait_for(WAIT, |ev| {
        ev["type"] == "message.updated"
            && ev["message"]["attachments"][0]["blob"].is_string()
            && ev["message"]["id"] == id
    })
    .await
    .expect("the photo is stored in the data directory");

    let found = modes_under(&h.config.data_dir);
    let names: Vec<String> = found
        .iter()
        .map(|(p, _)| {
            p.strip_prefix(&h.config.data_dir)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    // The database and queue files, the server secret and the photo with its type are there.
    for expected in ["omnidesk.sqlite3", "jwt-secret"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    assert!(
        names.iter().any(|n| n.ends_with(".sqlite3-wal")),
        "{names:?}"
    );
    assert!(
        names.iter().filter(|n| n.starts_with("files/")).count() >= 3,
        "{names:?}"
    );
    for (path, mode) in &found {
        let wanted = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(*mode, wanted, "{} is {mode:o}", path.display());
    }
}
