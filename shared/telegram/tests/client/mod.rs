//! `TeloxideTelegram` over real HTTP against `FakeTelegram`.

use std::time::Duration;

use omnidesk_core::{Secret, TelegramApi, TelegramError};
use omnidesk_domain::{BotId, TelegramChatId};
use omnidesk_telegram::TeloxideTelegram;
use omnidesk_telegram::fake::{FAKE_BOT_USERNAME, FakeFailure, FakeTelegram, FakeWebhook};

const TOKEN: &str = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

async fn setup() -> (FakeTelegram, TeloxideTelegram, Secret) {
    let fake = FakeTelegram::start().await;
    let client = TeloxideTelegram::new(&fake.url()).unwrap();
    (fake, client, Secret::new(TOKEN))
}

#[tokio::test]
async fn a_sent_message_reaches_the_fake_and_returns_its_message_id() {
    let (fake, client, token) = setup().await;
    let first = client
        .send_message(&token, TelegramChatId(42), "hello")
        .await
        .unwrap();
    let second = client
        .send_message(&token, TelegramChatId(-1005), "group")
        .await
        .unwrap();
    assert_eq!(second, first + 1);
    let sent = fake.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].token, TOKEN);
    assert_eq!(sent[0].chat_id, 42);
    assert_eq!(sent[0].text, "hello");
    assert_eq!(sent[0].message_id, first);
    assert_eq!(sent[1].chat_id, -1005);
}

#[tokio::test]
async fn a_429_becomes_retry_after_with_telegrams_delay() {
    let (fake, client, token) = setup().await;
    fake.fail_next(42, FakeFailure::RetryAfter(7));
    let err = client
        .send_message(&token, TelegramChatId(42), "hi")
        .await
        .unwrap_err();
    assert_eq!(err, TelegramError::RetryAfter(Duration::from_secs(7)));
    assert!(err.is_transient());
    assert!(fake.sent().is_empty());
    // Only the next send failed.
    client
        .send_message(&token, TelegramChatId(42), "hi")
        .await
        .unwrap();
    assert_eq!(fake.sent().len(), 1);
}

#[tokio::test]
async fn a_403_becomes_unreachable_with_telegrams_description() {
    let (fake, client, token) = setup().await;
    fake.fail_next(42, FakeFailure::Blocked);
    let err = client
        .send_message(&token, TelegramChatId(42), "hi")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TelegramError::Unreachable("Forbidden: bot was blocked by the user".to_owned())
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn server_errors_bad_requests_and_bad_tokens_are_classified() {
    let (fake, client, token) = setup().await;
    fake.fail_next(1, FakeFailure::ServerError);
    fake.fail_next(
        1,
        FakeFailure::BadRequest("Bad Request: chat not found".to_owned()),
    );
    let started = std::time::Instant::now();
    assert!(matches!(
        client.send_message(&token, TelegramChatId(1), "x").await,
        Err(TelegramError::Transient(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a 5xx is reported at once"
    );
    assert_eq!(
        client.send_message(&token, TelegramChatId(1), "x").await,
        Err(TelegramError::Rejected(
            "Bad Request: chat not found".to_owned()
        ))
    );
    let too_long = "x".repeat(4097);
    assert_eq!(
        client
            .send_message(&token, TelegramChatId(1), &too_long)
            .await,
        Err(TelegramError::Rejected(
            "Bad Request: message is too long".to_owned()
        ))
    );
    assert!(matches!(
        client
            .send_message(&Secret::new("not-a-token"), TelegramChatId(1), "x")
            .await,
        Err(TelegramError::BadToken(_))
    ));
}

#[tokio::test]
async fn an_unreachable_server_is_transient_and_the_error_hides_the_token() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = TeloxideTelegram::new(&url).unwrap();
    let err = client
        .send_message(&Secret::new(TOKEN), TelegramChatId(1), "x")
        .await
        .unwrap_err();
    assert!(matches!(err, TelegramError::Transient(_)), "{err:?}");
    assert!(!err.to_string().contains("AAHdq"), "{err}");
}

#[tokio::test]
async fn get_me_reports_the_bot() {
    let (_fake, client, token) = setup().await;
    let me = client.get_me(&token).await.unwrap();
    assert_eq!(me.id, BotId::parse("7000000001").unwrap());
    assert_eq!(me.username.as_deref(), Some(FAKE_BOT_USERNAME));
}

#[tokio::test]
async fn get_updates_returns_raw_json_and_honours_the_offset() {
    let (fake, client, token) = setup().await;
    // The raw text is kept byte for byte (minus the file's trailing newline).
    let raw1 = include_str!("../fixtures/telegram/private_text.json").trim_end();
    let raw2 = include_str!("../fixtures/telegram/document.json").trim_end();
    fake.push_update(raw1);
    fake.push_update(raw2);
    let updates = client
        .get_updates(&token, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(updates, vec![raw1.to_owned(), raw2.to_owned()]);
    let next = client
        .get_updates(&token, Some(912_345_679), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(next, vec![raw2.to_owned()]);
    let none = client
        .get_updates(&token, Some(912_345_683), Duration::ZERO)
        .await
        .unwrap();
    assert!(none.is_empty());
    let parsed = omnidesk_telegram::parse_update(
        BotId::parse("7000000001").unwrap(),
        next[0].as_bytes(),
        omnidesk_domain::Timestamp::from_millis(0),
    )
    .unwrap();
    assert_eq!(parsed.update_id.0, 912_345_682);
}

#[tokio::test]
async fn a_long_poll_wakes_up_when_an_update_is_pushed() {
    let (fake, client, token) = setup().await;
    let poll = tokio::spawn(async move {
        client
            .get_updates(&token, None, Duration::from_secs(20))
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    fake.push_update(r#"{"update_id":3,"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},"text":"hi"}}"#);
    let updates = poll.await.unwrap().unwrap();
    assert_eq!(updates.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn set_webhook_and_webhook_info_round_trip() {
    let (fake, client, token) = setup().await;
    client
        .set_webhook(
            &token,
            "https://example.com/telegram/7000000001/webhook",
            &Secret::new("s3cr3t_token-1"),
            true,
        )
        .await
        .unwrap();
    assert_eq!(
        fake.webhook(),
        Some(FakeWebhook {
            url: "https://example.com/telegram/7000000001/webhook".to_owned(),
            secret_token: Some("s3cr3t_token-1".to_owned()),
            drop_pending_updates: true,
        })
    );
    fake.push_update(r#"{"update_id":1}"#);
    let info = client.webhook_info(&token).await.unwrap();
    assert_eq!(info.url, "https://example.com/telegram/7000000001/webhook");
    assert_eq!(info.pending_update_count, 1);
    // getUpdates is refused while a webhook is set, as on Telegram.
    assert!(matches!(
        client.get_updates(&token, None, Duration::ZERO).await,
        Err(TelegramError::Rejected(d)) if d.starts_with("Conflict")
    ));
    client.delete_webhook(&token).await.unwrap();
    assert_eq!(fake.webhook(), None);
    assert_eq!(client.webhook_info(&token).await.unwrap().url, "");
}

#[tokio::test]
async fn the_fake_accepts_form_encoded_calls_like_curl_sends_them() {
    let (fake, client, _token) = setup().await;
    drop(client);
    let url = format!("{}/bot{TOKEN}/sendMessage", fake.url());
    let response = reqwest::Client::new()
        .post(url)
        .form(&[("chat_id", "42"), ("text", "from a form")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(body["result"]["chat"]["id"], 42);
    assert_eq!(body["result"]["text"], "from a form");
    let sent = fake.wait_for_sent(1, Duration::from_secs(1)).await;
    assert_eq!(sent[0].text, "from a form");
}

mod files;
