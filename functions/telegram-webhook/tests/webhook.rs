use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use omnidesk_core::testing::{ManualClock, MemoryQueue, MemoryStore};
use omnidesk_core::{
    BotConfig, BotMode, BotStore, Clock, DeadLetterStore, PageRequest, Queue, QueueError,
    QueueName, Secret, UuidV7Ids,
};
use omnidesk_domain::{BotId, InboundEvent, InboundSource, Timestamp};
use omnidesk_telegram_webhook::{IngestOutcome, WebhookDeps, ingest, router};
use tower::ServiceExt;

const TOKEN: &str = "123456:AAtestTokenForTheFakeBotApi_abcdefgh";

struct Setup {
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    deps: WebhookDeps,
}

async fn setup() -> Setup {
    let clock: Arc<dyn Clock> =
        Arc::new(ManualClock::new(Timestamp::from_millis(1_763_780_000_000)));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let queue = Arc::new(MemoryQueue::new());
    store
        .put_bot(&BotConfig {
            id: BotId::from_token(TOKEN).unwrap(),
            token: Secret::new(TOKEN),
            webhook_secret: Secret::new("s3cret"),
            username: None,
            mode: BotMode::Webhook,
            poll_offset: None,
            created_at: clock.now(),
        })
        .await
        .unwrap();
    let deps = WebhookDeps::new(
        store.clone(),
        queue.clone(),
        store.clone(),
        clock,
        Arc::new(UuidV7Ids),
    );
    Setup { store, queue, deps }
}

fn request(bot: &str, secret: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::post(format!("/telegram/{bot}/webhook"))
        .header("content-type", "application/json");
    if let Some(s) = secret {
        b = b.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

const TEXT_UPDATE: &str = r#"{"update_id":10,"message":{"message_id":1,"date":1763780000,
 "chat":{"id":55,"type":"private","first_name":"Ann"},
 "from":{"id":55,"is_bot":false,"first_name":"Ann"},"text":"hello"}}"#;

#[tokio::test]
async fn a_valid_update_is_enqueued_then_acked() {
    let s = setup().await;
    let res = router(s.deps.clone())
        .oneshot(request("123456", Some("s3cret"), TEXT_UPDATE))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let pending = s.queue.pending(QueueName::Inbound);
    assert_eq!(pending.len(), 1);
    let event: InboundEvent = serde_json::from_str(&pending[0]).unwrap();
    // What the router gets is channel-neutral: Telegram specifics end in the ingest.
    let InboundSource::Message(m) = event.source else {
        panic!("a neutral message, got {:?}", event.source)
    };
    assert_eq!(m.text, "hello");
    assert_eq!(
        m.source_key, "tg:123456:55:1",
        "keyed by the message: bot, chat, message id"
    );
    assert_eq!(m.key.as_str(), "tg:123456:55");
    assert_eq!(m.channel(), omnidesk_domain::Channel::Telegram);
}

#[tokio::test]
async fn an_update_with_nothing_to_route_is_acked_and_not_enqueued() {
    let s = setup().await;
    // A service message nobody needs to see (a group became a supergroup).
    let migrated = r#"{"update_id":11,"message":{"message_id":6,"date":1763780000,
     "chat":{"id":-4011223344,"type":"group","title":"VIP"},
     "from":{"id":55,"is_bot":false,"first_name":"Ann"},"migrate_to_chat_id":-1001122334455}}"#;
    let res = router(s.deps.clone())
        .oneshot(request("123456", Some("s3cret"), migrated))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(s.queue.pending(QueueName::Inbound).is_empty());
}

#[tokio::test]
async fn an_edit_is_enqueued_with_the_key_of_the_message_it_edits() {
    let s = setup().await;
    let edit = r#"{"update_id":11,"edited_message":{"message_id":1,"date":1763780000,
     "edit_date":1763780001,"chat":{"id":55,"type":"private","first_name":"Ann"},
     "from":{"id":55,"is_bot":false,"first_name":"Ann"},"text":"hello!"}}"#;
    let res = router(s.deps.clone())
        .oneshot(request("123456", Some("s3cret"), edit))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let pending = s.queue.pending(QueueName::Inbound);
    let event: InboundEvent = serde_json::from_str(&pending[0]).unwrap();
    let InboundSource::Message(m) = event.source else {
        panic!("a neutral message")
    };
    assert_eq!(m.text, "hello!");
    assert_eq!(m.message_key.as_deref(), Some("tg:123456:55:1"));
    assert_eq!(m.edited_at, Some(Timestamp::from_millis(1_763_780_001_000)));
}

#[tokio::test]
async fn a_button_press_is_answered_in_the_webhook_reply_and_routed_as_the_choice() {
    let s = setup().await;
    let press =
        include_str!("../../../shared/telegram/tests/fixtures/telegram/callback_query_human.json");
    let res = router(s.deps.clone())
        .oneshot(request("123456", Some("s3cret"), press))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/json"
    );
    let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
    let call: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        call,
        serde_json::json!({
            "method": "answerCallbackQuery",
            "callback_query_id": "4382bfdwdsb323b2e0",
        })
    );
    let pending = s.queue.pending(QueueName::Inbound);
    assert_eq!(pending.len(), 1);
    let event: InboundEvent = serde_json::from_str(&pending[0]).unwrap();
    let InboundSource::Message(m) = event.source else {
        panic!("a neutral message")
    };
    assert_eq!(m.text, "Talk to a person");
    assert_eq!(m.choice.as_deref(), Some("human"));

    // Every other update keeps the plain answer.
    let res = router(s.deps.clone())
        .oneshot(request("123456", Some("s3cret"), TEXT_UPDATE))
        .await
        .unwrap();
    let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
    assert_eq!(&body[..], br#"{"ok":true}"#);
}

#[tokio::test]
async fn a_redelivered_update_is_acked_and_dropped() {
    let s = setup().await;
    for _ in 0..3 {
        let res = router(s.deps.clone())
            .oneshot(request("123456", Some("s3cret"), TEXT_UPDATE))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_eq!(s.queue.len(QueueName::Inbound), 1);
    let again = ingest(
        &s.deps,
        BotId::parse("123456").unwrap(),
        TEXT_UPDATE.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(again, IngestOutcome::Duplicate);
}

#[tokio::test]
async fn a_wrong_or_missing_secret_is_401_and_stores_nothing() {
    let s = setup().await;
    for secret in [Some("wrong"), Some(""), Some("s3cret "), None] {
        let res = router(s.deps.clone())
            .oneshot(request("123456", secret, TEXT_UPDATE))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{secret:?}");
    }
    assert!(s.queue.is_empty(QueueName::Inbound));
    assert!(
        s.store
            .list_dead_letters(&PageRequest::first(10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn an_unknown_or_malformed_bot_id_is_404() {
    let s = setup().await;
    for bot in ["999", "abc", "-1"] {
        let res = router(s.deps.clone())
            .oneshot(request(bot, Some("s3cret"), TEXT_UPDATE))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{bot}");
    }
}

#[tokio::test]
async fn a_poison_body_is_acked_and_kept_for_an_operator() {
    let s = setup().await;
    let res = router(s.deps.clone())
        .oneshot(request("123456", Some("s3cret"), "{not json"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(s.queue.is_empty(QueueName::Inbound));
    let dead = s
        .store
        .list_dead_letters(&PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "{not json");
    assert_eq!(dead[0].source, "telegram:123456");
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let s = setup().await;
    let big = format!(
        "{{\"update_id\":1,\"x\":\"{}\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let res = router(s.deps.clone())
        .oneshot(request("123456", Some("s3cret"), &big))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(s.queue.is_empty(QueueName::Inbound));
}

/// A queue that is down.
struct DownQueue;

#[async_trait::async_trait]
impl Queue for DownQueue {
    async fn send(
        &self,
        _: QueueName,
        _: omnidesk_core::OutgoingMessage,
    ) -> Result<omnidesk_core::SendOutcome, QueueError> {
        Err(QueueError::Unavailable("down for the test".to_owned()))
    }
    async fn receive(
        &self,
        _: QueueName,
        _: usize,
        _: std::time::Duration,
    ) -> Result<Vec<omnidesk_core::Received>, QueueError> {
        Ok(Vec::new())
    }
    async fn ack(&self, _: QueueName, _: &str) -> Result<(), QueueError> {
        Ok(())
    }
    async fn retry_later(
        &self,
        _: QueueName,
        _: &str,
        _: std::time::Duration,
    ) -> Result<(), QueueError> {
        Ok(())
    }
    async fn dead_letter(&self, _: QueueName, _: &str, _: &str) -> Result<(), QueueError> {
        Ok(())
    }
    async fn dead_letters(
        &self,
        _: QueueName,
        _: usize,
    ) -> Result<Vec<omnidesk_core::DeadLettered>, QueueError> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn a_failed_enqueue_is_503_so_telegram_retries() {
    let s = setup().await;
    let deps = WebhookDeps::new(
        s.store.clone(),
        Arc::new(DownQueue),
        s.store.clone(),
        Arc::new(omnidesk_core::SystemClock),
        Arc::new(UuidV7Ids),
    );
    let res = router(deps)
        .oneshot(request("123456", Some("s3cret"), TEXT_UPDATE))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}
