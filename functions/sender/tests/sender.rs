//! The sender against the fake Bot API over real HTTP (through `TeloxideTelegram`), with the
//! in-memory store and push.

use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::testing::{ManualClock, MemoryPush, MemoryStore};
use omnidesk_core::{
    BotConfig, BotMode, BotStore, Clock, Connection, ConnectionId, ConnectionStore, ContactStore,
    ConversationStore, IdGen, JobError, JobOutcome, MessageStore, OutboundJob, PageRequest, Secret,
    UuidV7Ids,
};
use omnidesk_domain::{
    AgentId, Author, BotId, Channel, ChannelRef, Contact, Conversation, ConversationKey,
    DeliveryStatus, Identity, Message, SystemEvent, TELEGRAM_TEXT_LIMIT, TelegramChatId,
    TelegramUserId, Timestamp, split_for_telegram,
};
use omnidesk_sender::{RateLimiter, SenderDeps, handle};
use omnidesk_telegram::TeloxideTelegram;
use omnidesk_telegram::fake::{FakeFailure, FakeTelegram};

const TOKEN: &str = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const CHAT: i64 = 5_123_456_789;

struct World {
    fake: FakeTelegram,
    store: Arc<MemoryStore>,
    push: Arc<MemoryPush>,
    deps: SenderDeps,
    conversation: Conversation,
    contact: Contact,
    connection: ConnectionId,
}

impl World {
    async fn new(limiter: RateLimiter) -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_763_780_000_000)));
        let store = Arc::new(MemoryStore::new(clock.clone()));
        let push = Arc::new(MemoryPush::new());
        let fake = FakeTelegram::start().await;
        let ids: Arc<dyn IdGen> = Arc::new(UuidV7Ids);
        let now = clock.now();
        let bot_id = BotId::from_token(TOKEN).unwrap();

        store
            .put_bot(&BotConfig {
                id: bot_id,
                token: Secret::new(TOKEN),
                webhook_secret: Secret::new("secret"),
                username: Some("omnidesk_test_bot".into()),
                mode: BotMode::Webhook,
                poll_offset: None,
                created_at: now,
            })
            .await
            .unwrap();
        let contact = Contact::new(
            ids.contact_id(),
            "Ana".into(),
            Identity::Telegram {
                bot_id,
                user_id: TelegramUserId(CHAT as u64),
                username: None,
            },
            now,
        );
        store.create_contact(&contact).await.unwrap();
        let conversation = Conversation::new(
            ids.conversation_id(),
            ConversationKey::telegram_private(bot_id, TelegramChatId(CHAT)),
            contact.id,
            Channel::Telegram,
            now,
        );
        store.create_conversation(&conversation).await.unwrap();
        let connection = ConnectionId("agent-1".into());
        push.connect(&connection);
        store
            .add_connection(&Connection {
                id: connection.clone(),
                agent_id: ids.agent_id(),
                connected_at: now,
                viewer: None,
            })
            .await
            .unwrap();

        let deps = SenderDeps {
            messages: store.clone(),
            conversations: store.clone(),
            contacts: store.clone(),
            bots: store.clone(),
            connections: store.clone(),
            agents: store.clone(),
            visitors: Some(store.clone()),
            push: push.clone(),
            telegram: Arc::new(TeloxideTelegram::new(&fake.url()).unwrap()),
            blobs: Arc::new(omnidesk_core::testing::MemoryBlobStore::new()),
            clock,
            ids,
            limiter: Arc::new(limiter),
            email: None,
        };
        Self {
            fake,
            store,
            push,
            deps,
            conversation,
            contact,
            connection,
        }
    }

    /// A fast limiter: these tests are about the flow, not the spacing.
    async fn fast() -> Self {
        Self::new(RateLimiter::new(Duration::from_millis(10), 30)).await
    }

    async fn reply(&self, text: &str) -> OutboundJob {
        let message = Message::outbound(
            self.deps.ids.message_id(),
            self.conversation.id,
            Author::Agent {
                id: AgentId::from_uuid(self.deps.ids.uuid()),
            },
            Channel::Telegram,
            text.to_owned(),
            self.deps.clock.now(),
        );
        self.store.append_message(&message).await.unwrap();
        OutboundJob {
            conversation_id: self.conversation.id,
            message_id: message.id,
            link: None,
        }
    }

    async fn message(&self, job: &OutboundJob) -> Message {
        self.store
            .get_message(job.conversation_id, job.message_id)
            .await
            .unwrap()
            .unwrap()
    }

    /// `(type, frame)` of every pushed frame.
    fn frames(&self) -> Vec<(String, serde_json::Value)> {
        self.push
            .frames(&self.connection)
            .iter()
            .map(|f| {
                let v: serde_json::Value = serde_json::from_str(f).unwrap();
                (v["type"].as_str().unwrap_or_default().to_owned(), v)
            })
            .collect()
    }
}

fn telegram_ids(message: &Message) -> Vec<i32> {
    match &message.channel_ref {
        Some(ChannelRef::Telegram {
            chat_id,
            message_ids,
            ..
        }) => {
            assert_eq!(*chat_id, TelegramChatId(CHAT));
            message_ids.clone()
        }
        other => panic!("expected a Telegram reference, got {other:?}"),
    }
}

fn long_text() -> String {
    (0..1000).map(|i| format!("w{:03} ", i % 1000)).collect()
}

#[tokio::test]
async fn a_reply_reaches_the_chat_and_becomes_sent_with_its_telegram_id() {
    let w = World::fast().await;
    let job = w.reply("Hello Ana, your order ships today.").await;

    assert_eq!(handle(&w.deps, &job, 1).await.unwrap(), JobOutcome::Done);

    let sent = w.fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].chat_id, CHAT);
    assert_eq!(sent[0].token, TOKEN);
    assert_eq!(sent[0].text, "Hello Ana, your order ships today.");
    let message = w.message(&job).await;
    assert_eq!(message.delivery.status, DeliveryStatus::Sent);
    assert_eq!(message.delivery.attempts, 1);
    assert_eq!(telegram_ids(&message), vec![sent[0].message_id]);
    let frames = w.frames();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].0, "message.updated");
    assert_eq!(frames[0].1["message"]["delivery"]["status"], "sent");
    assert_eq!(frames[0].1["message"]["id"], job.message_id.to_string());
}

#[tokio::test]
async fn a_redelivered_job_of_a_sent_message_sends_nothing() {
    let w = World::fast().await;
    let job = w.reply("once").await;
    handle(&w.deps, &job, 1).await.unwrap();
    assert_eq!(handle(&w.deps, &job, 2).await.unwrap(), JobOutcome::Done);
    assert_eq!(w.fake.sent().len(), 1);
}

#[tokio::test]
async fn a_long_text_arrives_as_two_messages_in_order_a_second_apart() {
    let w = World::new(RateLimiter::telegram()).await;
    let text = long_text();
    assert_eq!(text.chars().count(), 5000);
    let job = w.reply(&text).await;

    assert_eq!(handle(&w.deps, &job, 1).await.unwrap(), JobOutcome::Done);

    let sent = w.fake.sent();
    let parts = split_for_telegram(&text, TELEGRAM_TEXT_LIMIT);
    assert_eq!(parts.len(), 2);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].text, parts[0]);
    assert_eq!(sent[1].text, parts[1]);
    assert_eq!(format!("{}{}", sent[0].text, sent[1].text), text);
    assert!(
        sent[1].at.duration_since(sent[0].at) >= Duration::from_millis(990),
        "one message per second per chat"
    );
    let message = w.message(&job).await;
    assert_eq!(message.delivery.status, DeliveryStatus::Sent);
    assert_eq!(
        telegram_ids(&message),
        vec![sent[0].message_id, sent[1].message_id]
    );
}

#[tokio::test]
async fn a_429_asks_to_retry_later_and_the_retry_sends_only_the_missing_part() {
    let w = World::fast().await;
    let text = long_text();
    let job = w.reply(&text).await;
    w.fake.succeed_next(CHAT);
    w.fake.fail_next(CHAT, FakeFailure::RetryAfter(1));

    assert_eq!(
        handle(&w.deps, &job, 1).await.unwrap(),
        JobOutcome::RetryAfter(Duration::from_secs(1))
    );
    let first = w.fake.sent();
    assert_eq!(first.len(), 1);
    let message = w.message(&job).await;
    assert_eq!(message.delivery.status, DeliveryStatus::Sending);
    assert_eq!(message.delivery.attempts, 1);
    assert_eq!(telegram_ids(&message), vec![first[0].message_id]);

    let retried_at = std::time::Instant::now();
    assert_eq!(handle(&w.deps, &job, 2).await.unwrap(), JobOutcome::Done);
    assert!(
        retried_at.elapsed() >= Duration::from_millis(900),
        "the bot is held for Telegram's retry_after"
    );
    let sent = w.fake.sent();
    let parts = split_for_telegram(&text, TELEGRAM_TEXT_LIMIT);
    assert_eq!(sent.len(), 2, "the first part is not sent twice");
    assert_eq!(sent[1].text, parts[1]);
    let message = w.message(&job).await;
    assert_eq!(message.delivery.status, DeliveryStatus::Sent);
    assert_eq!(message.delivery.attempts, 2);
    assert_eq!(
        telegram_ids(&message),
        vec![sent[0].message_id, sent[1].message_id]
    );
}

#[tokio::test]
async fn a_blocked_bot_fails_the_message_and_marks_the_contact_unreachable() {
    let w = World::fast().await;
    let job = w.reply("Are you there?").await;
    w.fake.fail_next(CHAT, FakeFailure::Blocked);

    assert_eq!(handle(&w.deps, &job, 1).await.unwrap(), JobOutcome::Done);

    let reason = "Forbidden: bot was blocked by the user";
    let message = w.message(&job).await;
    assert_eq!(message.delivery.status, DeliveryStatus::Failed);
    assert_eq!(message.delivery.reason.as_deref(), Some(reason));
    let contact = w.store.get_contact(w.contact.id).await.unwrap().unwrap();
    assert_eq!(
        contact
            .unreachable_on(Channel::Telegram)
            .map(|u| u.reason.as_str()),
        Some(reason)
    );
    let timeline = w
        .store
        .list_messages(w.conversation.id, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    let events: Vec<_> = timeline.iter().filter_map(|m| m.event.clone()).collect();
    assert_eq!(
        events,
        vec![SystemEvent::ContactUnreachable {
            channel: Channel::Telegram,
            reason: reason.to_owned()
        }]
    );

    let types: Vec<String> = w.frames().into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        types,
        vec!["message.created", "contact.updated", "message.updated"],
        "the timeline event carries the conversation: no conversation.updated"
    );
    let (_, created) = w.frames().into_iter().next().unwrap();
    assert_eq!(created["message"]["event"]["event"], "contact_unreachable");
    assert_eq!(
        created["conversation"]["id"],
        w.conversation.id.to_string(),
        "the conversation as it is after the event rides on the message.created"
    );
    let failed = w
        .frames()
        .into_iter()
        .find(|(t, _)| t == "message.updated")
        .unwrap()
        .1;
    assert_eq!(failed["message"]["delivery"]["status"], "failed");
    assert_eq!(failed["message"]["delivery"]["reason"], reason);

    // Never retried: a redelivery does nothing.
    assert_eq!(handle(&w.deps, &job, 2).await.unwrap(), JobOutcome::Done);
    assert!(w.fake.sent().is_empty());
}

#[tokio::test]
async fn a_server_error_is_retried_and_given_up_after_five_receives() {
    let w = World::fast().await;
    let job = w.reply("hello").await;
    w.fake.fail_next(CHAT, FakeFailure::ServerError);
    assert!(matches!(
        handle(&w.deps, &job, 1).await,
        Err(JobError::Transient(_))
    ));
    let message = w.message(&job).await;
    assert_eq!(message.delivery.status, DeliveryStatus::Sending);
    assert_eq!(message.delivery.attempts, 1);

    w.fake.fail_next(CHAT, FakeFailure::ServerError);
    assert_eq!(handle(&w.deps, &job, 5).await.unwrap(), JobOutcome::Done);
    let message = w.message(&job).await;
    assert_eq!(message.delivery.status, DeliveryStatus::Failed);
    assert!(
        message
            .delivery
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("gave up after 5 attempts")),
        "{:?}",
        message.delivery.reason
    );
    assert_eq!(w.frames().len(), 1);
}

#[tokio::test]
async fn a_rejected_message_fails_with_telegrams_reason() {
    let w = World::fast().await;
    let job = w.reply("hello").await;
    w.fake.fail_next(
        CHAT,
        FakeFailure::BadRequest("Bad Request: chat not found".into()),
    );
    assert_eq!(handle(&w.deps, &job, 1).await.unwrap(), JobOutcome::Done);
    let message = w.message(&job).await;
    assert_eq!(message.delivery.status, DeliveryStatus::Failed);
    assert_eq!(
        message.delivery.reason.as_deref(),
        Some("Bad Request: chat not found")
    );
    let contact = w.store.get_contact(w.contact.id).await.unwrap().unwrap();
    assert!(contact.unreachable_on(Channel::Telegram).is_none());
}

#[tokio::test]
async fn a_job_for_a_missing_message_is_permanent() {
    let w = World::fast().await;
    let job = OutboundJob {
        conversation_id: w.conversation.id,
        message_id: w.deps.ids.message_id(),
        link: None,
    };
    assert!(matches!(
        handle(&w.deps, &job, 1).await,
        Err(JobError::Permanent(_))
    ));
}

/// Files: the sender on the in-memory Bot API and blob storage.
mod files {
    use std::sync::atomic::{AtomicU32, Ordering};

    use async_trait::async_trait;
    use omnidesk_core::testing::{MemoryBlobStore, MemoryTelegram};
    use omnidesk_core::{Blob, BlobStore, LinkRequest, ProviderError, TelegramError};
    use omnidesk_domain::{Attachment, AttachmentKind, Button, TELEGRAM_PHOTO_LIMIT};

    use super::*;

    struct Files {
        w: World,
        tg: Arc<MemoryTelegram>,
        blobs: Arc<MemoryBlobStore>,
    }

    async fn files() -> Files {
        let mut w = World::fast().await;
        let tg = Arc::new(MemoryTelegram::new());
        let blobs = Arc::new(MemoryBlobStore::new());
        w.deps.telegram = tg.clone();
        w.deps.blobs = blobs.clone();
        Files { w, tg, blobs }
    }

    impl Files {
        /// An attachment as the agent API makes it, its bytes stored.
        async fn file(&self, name: &str, mime: &str, bytes: Vec<u8>) -> Attachment {
            let size = bytes.len() as u64;
            let key = self.blobs.put(mime, bytes).await.unwrap();
            omnidesk_core::usecases::uploaded_attachment(name, mime, size, key)
        }

        async fn send(&self, text: &str, attachments: Vec<Attachment>) -> OutboundJob {
            let job = self.w.reply(text).await;
            let mut m = self.w.message(&job).await;
            // A new message with the attachments (the store has no attachment update).
            m.id = self.w.deps.ids.message_id();
            m.attachments = attachments;
            self.w.store.append_message(&m).await.unwrap();
            OutboundJob {
                conversation_id: m.conversation_id,
                message_id: m.id,
                link: None,
            }
        }

        fn methods(&self) -> Vec<&'static str> {
            self.tg.sent().iter().map(|s| s.method).collect()
        }
    }

    fn png(n: u8) -> Vec<u8> {
        vec![0x89, b'P', b'N', b'G', n]
    }

    #[tokio::test]
    async fn a_photo_is_uploaded_with_sendphoto_and_the_text_as_caption() {
        let f = files().await;
        let photo = f.file("photo.png", "image/png", png(1)).await;
        let job = f.send("Here is the label", vec![photo]).await;

        assert_eq!(handle(&f.w.deps, &job, 1).await.unwrap(), JobOutcome::Done);

        let sent = f.tg.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].method, "sendPhoto");
        assert_eq!(sent[0].text, "Here is the label");
        let file = sent[0].file.as_ref().unwrap();
        assert_eq!(file.bytes, png(1));
        assert_eq!(file.file_name, "photo.png");
        let m = f.w.message(&job).await;
        assert_eq!(m.delivery.status, DeliveryStatus::Sent);
        assert_eq!(telegram_ids(&m), vec![sent[0].message_id]);
    }

    #[tokio::test]
    async fn three_photos_are_one_album_with_the_caption_on_the_first() {
        let f = files().await;
        let mut all = Vec::new();
        for n in 0..3 {
            all.push(f.file(&format!("p{n}.png"), "image/png", png(n)).await);
        }
        let job = f.send("Three angles", all).await;
        handle(&f.w.deps, &job, 1).await.unwrap();

        let sent = f.tg.sent();
        assert_eq!(f.methods(), vec!["sendMediaGroup"; 3]);
        assert_eq!(sent[0].text, "Three angles");
        assert_eq!(sent[1].text, "");
        let m = f.w.message(&job).await;
        assert_eq!(m.delivery.status, DeliveryStatus::Sent);
        assert_eq!(telegram_ids(&m).len(), 3);
    }

    #[tokio::test]
    async fn a_voice_note_goes_as_a_voice_message() {
        let f = files().await;
        let voice = f
            .file("note.ogg", "audio/ogg", b"OggS-voice".to_vec())
            .await;
        assert_eq!(voice.kind, AttachmentKind::Voice);
        let job = f.send("", vec![voice]).await;
        handle(&f.w.deps, &job, 1).await.unwrap();
        assert_eq!(f.methods(), vec!["sendVoice"]);
        assert_eq!(f.tg.sent()[0].text, "");
    }

    #[tokio::test]
    async fn a_12_mb_png_goes_as_a_document() {
        let f = files().await;
        let big = vec![7u8; (12 * 1024 * 1024) as usize];
        assert!(big.len() as u64 > TELEGRAM_PHOTO_LIMIT);
        let photo = f.file("scan.png", "image/png", big).await;
        let job = f.send("The scan", vec![photo]).await;
        handle(&f.w.deps, &job, 1).await.unwrap();
        assert_eq!(f.methods(), vec!["sendDocument"]);
        assert_eq!(f.tg.sent()[0].text, "The scan");
    }

    #[tokio::test]
    async fn a_text_too_long_for_a_caption_goes_first_then_the_file_without_one() {
        let f = files().await;
        let text = "x".repeat(1500);
        let photo = f.file("photo.png", "image/png", png(1)).await;
        let job = f.send(&text, vec![photo]).await;
        handle(&f.w.deps, &job, 1).await.unwrap();
        let sent = f.tg.sent();
        assert_eq!(f.methods(), vec!["sendMessage", "sendPhoto"]);
        assert_eq!(sent[0].text, text);
        assert_eq!(sent[1].text, "");
        assert_eq!(telegram_ids(&f.w.message(&job).await).len(), 2);
    }

    #[tokio::test]
    async fn mixed_files_are_grouped_where_telegram_allows_and_sent_alone_otherwise() {
        let f = files().await;
        let a = f.file("a.png", "image/png", png(1)).await;
        let pdf = f
            .file("invoice.pdf", "application/pdf", b"%PDF".to_vec())
            .await;
        let b = f.file("b.mp4", "video/mp4", b"mp4".to_vec()).await;
        let voice = f.file("v.ogg", "audio/ogg", b"OggS".to_vec()).await;
        let job = f.send("All of it", vec![a, pdf, b, voice]).await;
        handle(&f.w.deps, &job, 1).await.unwrap();
        assert_eq!(
            f.methods(),
            vec![
                "sendMediaGroup",
                "sendMediaGroup",
                "sendDocument",
                "sendVoice"
            ]
        );
        let sent = f.tg.sent();
        assert_eq!(sent[0].text, "All of it");
        assert_eq!(sent[2].text, "");
        assert_eq!(telegram_ids(&f.w.message(&job).await).len(), 4);
    }

    #[tokio::test]
    async fn a_file_gone_from_storage_fails_the_message_with_a_reason() {
        let f = files().await;
        let mut photo = f.file("photo.png", "image/png", png(1)).await;
        photo.blob = Some(omnidesk_core::blob_key(b"never stored"));
        let job = f.send("see", vec![photo]).await;
        assert_eq!(handle(&f.w.deps, &job, 1).await.unwrap(), JobOutcome::Done);
        assert!(f.tg.sent().is_empty());
        let m = f.w.message(&job).await;
        assert_eq!(m.delivery.status, DeliveryStatus::Failed);
        assert_eq!(
            m.delivery.reason.as_deref(),
            Some("cannot send photo.png: the file is no longer stored")
        );
    }

    #[tokio::test]
    async fn a_file_telegram_refuses_fails_with_its_name_in_the_reason() {
        let f = files().await;
        let photo = f.file("photo.png", "image/png", png(1)).await;
        let job = f.send("see", vec![photo]).await;
        f.tg.fail_next(
            TelegramChatId(CHAT),
            TelegramError::Rejected("Bad Request: PHOTO_INVALID_DIMENSIONS".to_owned()),
        );
        handle(&f.w.deps, &job, 1).await.unwrap();
        let m = f.w.message(&job).await;
        assert_eq!(m.delivery.status, DeliveryStatus::Failed);
        assert_eq!(
            m.delivery.reason.as_deref(),
            Some("Telegram refused photo.png: Bad Request: PHOTO_INVALID_DIMENSIONS")
        );
    }

    /// Blob storage that is unavailable for the first `fail` reads of one key.
    struct Flaky {
        inner: Arc<MemoryBlobStore>,
        key: String,
        fail: AtomicU32,
    }

    #[async_trait]
    impl BlobStore for Flaky {
        async fn put(&self, t: &str, b: Vec<u8>) -> Result<String, ProviderError> {
            self.inner.put(t, b).await
        }
        async fn get(&self, key: &str) -> Result<Option<Blob>, ProviderError> {
            if key == self.key
                && self
                    .fail
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            {
                return Err(ProviderError::Transient("s3 timeout".to_owned()));
            }
            self.inner.get(key).await
        }
        async fn signed_url(&self, l: &LinkRequest<'_>) -> Result<String, ProviderError> {
            self.inner.signed_url(l).await
        }
        async fn delete(&self, key: &str) -> Result<(), ProviderError> {
            self.inner.delete(key).await
        }
    }

    #[tokio::test]
    async fn a_retry_after_a_partial_send_sends_nothing_twice() {
        let mut f = files().await;
        let text = "y".repeat(2000);
        let photo = f.file("photo.png", "image/png", png(1)).await;
        let pdf = f
            .file("invoice.pdf", "application/pdf", b"%PDF".to_vec())
            .await;
        f.w.deps.blobs = Arc::new(Flaky {
            inner: f.blobs.clone(),
            key: pdf.blob.clone().unwrap(),
            fail: AtomicU32::new(1),
        });
        let job = f.send(&text, vec![photo, pdf]).await;

        let first = handle(&f.w.deps, &job, 1).await;
        assert!(matches!(first, Err(JobError::Transient(_))), "{first:?}");
        assert_eq!(f.methods(), vec!["sendMessage", "sendPhoto"]);
        let m = f.w.message(&job).await;
        assert_eq!(m.delivery.status, DeliveryStatus::Sending);
        assert_eq!(telegram_ids(&m).len(), 2);

        assert_eq!(handle(&f.w.deps, &job, 2).await.unwrap(), JobOutcome::Done);
        assert_eq!(
            f.methods(),
            vec!["sendMessage", "sendPhoto", "sendDocument"]
        );
        let m = f.w.message(&job).await;
        assert_eq!(m.delivery.status, DeliveryStatus::Sent);
        let ids: Vec<i32> = f.tg.sent().iter().map(|s| s.message_id).collect();
        assert_eq!(telegram_ids(&m), ids);
    }

    #[tokio::test]
    async fn a_message_with_buttons_is_sent_with_its_keyboard() {
        let f = files().await;
        let job = f.w.reply("How can we help?").await;
        let mut m = f.w.message(&job).await;
        m.id = f.w.deps.ids.message_id();
        m.buttons = vec![Button {
            text: "Talk to a person".to_owned(),
            data: "human".to_owned(),
        }];
        f.w.store.append_message(&m).await.unwrap();
        let job = OutboundJob {
            conversation_id: m.conversation_id,
            message_id: m.id,
            link: None,
        };
        handle(&f.w.deps, &job, 1).await.unwrap();
        let sent = f.tg.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].method, "sendMessage");
        assert_eq!(sent[0].buttons, m.buttons);
    }
}
