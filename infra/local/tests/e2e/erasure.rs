//! Erasure end to end: a customer who wrote on the website (with a file), went on to Telegram
//! (a photo), wrote an e-mail (an attachment) and proved the address with `/bind` — one
//! contact over three channels. An admin exports them, then erases them: afterwards nothing of
//! them is returned by any API, kept in the blob store, found in any file of the data
//! directory (the SQLite databases and their logs included) or in the outbox; and when they
//! write again they are a new contact.

use std::time::Duration;

use omnidesk_core::{BlobStore, blob_key};
use serde_json::{Value, json};

use crate::email::{outbox, smtp_send, start_configured, wait_outbox};
use crate::harness::{Harness, SECRET, bot_id, files_holding};

const WAIT: Duration = Duration::from_secs(10);
const ORIGIN: &str = "https://shop.example.com";
const CHAT: i64 = 778_101;

/// What identifies Dora or what she wrote: none of it may be left anywhere after the erasure.
const MARKERS: &[&str] = &[
    "Dorothea",
    "Quistgaard",
    "dquist_77",
    "dora.quist@customer.org",
    "MARKER-WEB-TEXT",
    "MARKER-WEB-FILE",
    "MARKER-TG-TEXT",
    "MARKER-TG-PHOTO",
    "MARKER-MAIL-TEXT",
    "MARKER-MAIL-FILE",
    "MARKER-AGENT-REPLY",
    // In a message translated for the agents: its translation is cached.
    "MARKER-RU-TEXT",
];

fn dora(update_id: u64, body: &Value) -> String {
    let mut message = json!({
        "message_id": update_id,
        "date": 1_763_780_000,
        "chat": {"id": CHAT, "type": "private", "first_name": "Dorothea", "last_name": "Quistgaard", "username": "dquist_77"},
        "from": {"id": CHAT, "is_bot": false, "first_name": "Dorothea", "last_name": "Quistgaard", "username": "dquist_77", "language_code": "en"},
    });
    for (k, v) in body.as_object().unwrap() {
        message[k] = v.clone();
    }
    json!({"update_id": update_id, "message": message}).to_string()
}

async fn says(h: &Harness, update_id: u64, text: &str) {
    assert_eq!(
        h.webhook(&dora(update_id, &json!({"text": text})), Some(SECRET))
            .await,
        200
    );
}

fn dora_mail() -> String {
    "From: Dorothea Quistgaard <dora.quist@customer.org>\n\
     To: Example Support <support@example.com>\n\
     Subject: Invoice question\n\
     Message-ID: <dora-1@customer.org>\n\
     Date: Wed, 02 Dec 2026 09:00:00 +0000\n\
     MIME-Version: 1.0\n\
     Content-Type: multipart/mixed; boundary=\"b1\"\n\
     \n\
     --b1\n\
     Content-Type: text/plain; charset=utf-8\n\
     \n\
     Hello, MARKER-MAIL-TEXT: the invoice is wrong.\n\
     --b1\n\
     Content-Type: application/pdf; name=\"invoice.pdf\"\n\
     Content-Disposition: attachment; filename=\"invoice.pdf\"\n\
     \n\
     %PDF-1.4 MARKER-MAIL-FILE invoice of Dorothea\n\
     --b1--\n"
        .to_owned()
}

async fn api(h: &Harness, method: reqwest::Method, path: &str) -> (u16, Value) {
    let res = h
        .http
        .request(method, format!("{}{path}", h.base))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn telegram_contact_id(h: &Harness) -> Option<String> {
    let list = h.get("/api/v1/conversations?status=all").await;
    list["items"].as_array()?.iter().find_map(|c| {
        let telegram = c["channels"]
            .as_array()
            .is_some_and(|ch| ch.iter().any(|x| x == "telegram"));
        telegram.then(|| c["contact"]["id"].as_str().unwrap().to_owned())
    })
}

#[tokio::test]
async fn an_erased_customer_of_three_channels_is_gone_from_every_api_file_and_database() {
    let deepl = omnidesk_providers::fakes::FakeDeepl::start().await;
    let (h, smtp, outbox_dir) =
        start_configured(crate::translation::translating(&deepl, None, &[])).await;
    let data_dir = h.config.data_dir.clone();
    let mut ws = h.connect_ws().await;

    // 1. The website, with a file.
    let visitor = h.web_visitor(ORIGIN, Some(&bot_id().to_string())).await;
    let web_file = b"%PDF-1.4 MARKER-WEB-FILE passport of Dorothea".to_vec();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(web_file.clone())
            .file_name("passport.pdf")
            .mime_str("application/pdf")
            .unwrap(),
    );
    let uploaded: Value = h
        .http
        .post(format!("{}/web/v1/files", h.base))
        .header("origin", ORIGIN)
        .bearer_auth(&visitor)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = h
        .http
        .post(format!("{}/web/v1/messages", h.base))
        .header("origin", ORIGIN)
        .bearer_auth(&visitor)
        .json(&json!({
            "text": "Hi, I am Dorothea Quistgaard, MARKER-WEB-TEXT",
            "client_id": "c1",
            "attachments": [uploaded["file"]["id"]],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);

    // 2. On to Telegram with the widget's link, and a photo.
    let link: Value = h
        .http
        .post(format!("{}/web/v1/channels/telegram", h.base))
        .header("origin", ORIGIN)
        .bearer_auth(&visitor)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = link["url"]
        .as_str()
        .unwrap()
        .split("start=")
        .nth(1)
        .unwrap();
    says(&h, 1, &format!("/start {token}")).await;
    says(&h, 2, "MARKER-TG-TEXT here now").await;
    // A body cut short, not a Telegram update (kept as a dead letter for an operator), names
    // her.
    let whole = dora(8, &json!({"text": "MARKER-TG-TEXT cut short"}));
    let broken = &whole[..whole.len() - 2];
    assert_eq!(h.webhook(broken, Some(SECRET)).await, 200);
    assert!(
        !files_holding(&data_dir, &["cut short"]).is_empty(),
        "the rejected body is kept"
    );
    // In Russian: the agents read English, so it is translated (and the translation cached).
    says(&h, 9, "Здравствуйте, где мой заказ MARKER-RU-TEXT? Спасибо").await;
    ws.wait_for(WAIT, |ev| {
        ev["type"] == "message.updated"
            && ev["message"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("MARKER-RU-TEXT"))
            && ev["message"]["translations"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("MARKER-RU-TEXT"))
    })
    .await
    .expect("the Russian message is translated for the agents");
    let photo = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 MARKER-TG-PHOTO of Dorothea".to_vec();
    h.fake.put_file("AgACAgQAAxkBAAIDORA", photo.clone());
    let update = dora(
        3,
        &json!({"photo": [{"file_id": "AgACAgQAAxkBAAIDORA", "file_unique_id": "d1", "width": 800, "height": 600, "file_size": photo.len()}]}),
    );
    assert_eq!(h.webhook(&update, Some(SECRET)).await, 200);
    crate::files::stored_and_queued(&h, &mut ws).await;
    ws.wait_for(WAIT, |ev| {
        ev["type"] == "message.updated" && ev["message"]["attachments"][0]["blob"].is_string()
    })
    .await
    .expect("the photo is fetched");

    // 3. An e-mail with an attachment, then /bind proves the address: one contact.
    let done = smtp_send(
        smtp,
        "dora.quist@customer.org",
        "support@example.com",
        &dora_mail(),
    )
    .await;
    assert!(done.starts_with("250"), "{done}");
    wait_outbox(outbox_dir.path(), 1).await;
    says(&h, 4, "/bind dora.quist@customer.org").await;
    let files = wait_outbox(outbox_dir.path(), 2).await;
    let code_mail = files
        .iter()
        .map(|(_, m)| m)
        .find(|m| crate::email::header(m, "Auto-Submitted").as_deref() == Some("auto-generated"))
        .expect("the code mail");
    let code: String = omnidesk_email::parse(code_mail.as_bytes())
        .unwrap()
        .subject
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    says(&h, 5, &format!("/bind {code}")).await;
    let contact_id = {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let id = telegram_contact_id(&h).await.expect("a Telegram contact");
            let contact = h.get(&format!("/api/v1/contacts/{id}")).await;
            if contact["conversations"].as_array().unwrap().len() == 2 {
                break id;
            }
            assert!(std::time::Instant::now() < deadline, "{contact}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let contact = h.get(&format!("/api/v1/contacts/{contact_id}")).await;
    let conversations: Vec<String> = contact["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let mail_conversation = contact["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "email")
        .expect("the e-mail conversation joined")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = h
        .post(
            &format!("/api/v1/conversations/{mail_conversation}/messages"),
            json!({"text": "MARKER-AGENT-REPLY: we fix the invoice."}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let before = outbox(outbox_dir.path()).len();
    wait_outbox(outbox_dir.path(), before + 1).await;

    // 4. The archive: everything, files inside.
    let (status, archive) = api(
        &h,
        reqwest::Method::GET,
        &format!("/api/v1/contacts/{contact_id}/export"),
    )
    .await;
    assert_eq!(status, 200, "{archive}");
    let text = archive.to_string();
    for marker in [
        "MARKER-WEB-TEXT",
        "MARKER-TG-TEXT",
        "MARKER-MAIL-TEXT",
        "MARKER-AGENT-REPLY",
    ] {
        assert!(text.contains(marker), "the archive has {marker}");
    }
    let inside: Vec<Vec<u8>> = archive["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["content_base64"].as_str())
        .map(|b| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(b).unwrap()
        })
        .collect();
    assert!(
        inside.contains(&web_file) && inside.contains(&photo),
        "{} files",
        inside.len()
    );
    let keys: Vec<String> = archive["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        keys.len() >= 4,
        "web file, photo, mail attachment and raw mail: {keys:?}"
    );
    assert!(
        !files_holding(&data_dir, MARKERS).is_empty(),
        "the markers are found before the erasure"
    );

    // 5. The erasure.
    let (status, erased) = api(
        &h,
        reqwest::Method::DELETE,
        &format!("/api/v1/contacts/{contact_id}"),
    )
    .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["erased"]["conversations"], 2);
    assert_eq!(
        erased["erased"]["merged_contacts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    ws.wait_for(WAIT, |ev| ev["type"] == "contact.erased")
        .await
        .expect("agents are told");

    // Nothing through the agent API...
    for path in [
        format!("/api/v1/contacts/{contact_id}"),
        format!("/api/v1/contacts/{contact_id}/export"),
        format!(
            "/api/v1/contacts/{}",
            erased["erased"]["merged_contacts"][0].as_str().unwrap()
        ),
    ] {
        assert_eq!(api(&h, reqwest::Method::GET, &path).await.0, 404, "{path}");
    }
    for id in &conversations {
        for path in [
            format!("/api/v1/conversations/{id}"),
            format!("/api/v1/conversations/{id}/messages"),
        ] {
            assert_eq!(api(&h, reqwest::Method::GET, &path).await.0, 404, "{path}");
        }
    }
    let list = h.get("/api/v1/conversations?status=all").await;
    assert!(
        !list.to_string().contains("Dorothea"),
        "no conversation lists her: {list}"
    );
    // ... nor the widget's (her visitor token names a session with nothing left) ...
    let res = h
        .http
        .get(format!("{}/web/v1/messages", h.base))
        .header("origin", ORIGIN)
        .bearer_auth(&visitor)
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(!body.contains("MARKER"), "{body}");
    // ... nor the blob store ...
    let blobs = h.app.as_ref().unwrap().adapters.blobs.clone();
    for key in &keys {
        assert!(blobs.get(key).await.unwrap().is_none(), "blob {key}");
    }
    assert!(blobs.get(&blob_key(&web_file)).await.unwrap().is_none());
    // ... nor any file of the data directory or the outbox.
    assert_eq!(
        files_holding(&data_dir, MARKERS),
        Vec::<String>::new(),
        "in the data directory"
    );
    assert_eq!(
        files_holding(outbox_dir.path(), MARKERS),
        Vec::<String>::new(),
        "in the outbox"
    );

    // The audit log keeps that it happened, nothing of her.
    let audit = h.get("/api/v1/audit").await;
    assert!(audit.to_string().contains("contact_erased"));
    assert!(!audit.to_string().contains("Dorothea"));

    // She writes again: a new contact, a new conversation.
    says(&h, 6, "MARKER-TG-TEXT again").await;
    let again = h
        .eventually("/api/v1/conversations?status=all", WAIT, |v| {
            v.to_string().contains("Dorothea")
        })
        .await;
    let new_contact = telegram_contact_id(&h).await.expect("a new contact");
    assert_ne!(new_contact, contact_id, "{again}");
}
