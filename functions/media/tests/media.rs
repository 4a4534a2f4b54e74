//! The media worker on the in-memory store, Telegram and blob store.

use std::sync::Arc;

use omnidesk_core::testing::{
    ManualClock, MemoryBlobStore, MemoryPush, MemoryStore, MemoryTelegram,
};
use omnidesk_core::{
    BlobStore, BotConfig, BotMode, BotStore, Clock, Connection, ConnectionId, ConnectionStore,
    ConversationStore, IdGen, JobError, JobOutcome, MediaJob, MessageStore, Secret, TelegramError,
    UuidV7Ids, blob_key,
};
use omnidesk_domain::{
    Attachment, AttachmentKind, Author, BotId, Channel, ChannelRef, Conversation, ConversationKey,
    Delivery, Direction, Message, TELEGRAM_DOWNLOAD_LIMIT, TelegramChatId, Timestamp,
};
use omnidesk_media::{MAX_ATTEMPTS, MediaDeps, handle, handle_body};

const TOKEN: &str = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
const CHAT: i64 = 5_123_456_789;
const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00 a small photo";

struct World {
    store: Arc<MemoryStore>,
    telegram: Arc<MemoryTelegram>,
    blobs: Arc<MemoryBlobStore>,
    push: Arc<MemoryPush>,
    deps: MediaDeps,
    conversation: Conversation,
    connection: ConnectionId,
    ids: Arc<dyn IdGen>,
    clock: Arc<ManualClock>,
}

impl World {
    async fn new() -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_763_780_000_000)));
        let store = Arc::new(MemoryStore::new(clock.clone()));
        let telegram = Arc::new(MemoryTelegram::new());
        let blobs = Arc::new(MemoryBlobStore::new());
        let push = Arc::new(MemoryPush::new());
        let ids: Arc<dyn IdGen> = Arc::new(UuidV7Ids);
        let now = clock.now();
        let bot_id = BotId::from_token(TOKEN).unwrap();
        store
            .put_bot(&BotConfig {
                id: bot_id,
                token: Secret::new(TOKEN),
                webhook_secret: Secret::new("secret"),
                username: None,
                mode: BotMode::Webhook,
                poll_offset: None,
                created_at: now,
            })
            .await
            .unwrap();
        let conversation = Conversation::new(
            ids.conversation_id(),
            ConversationKey::telegram_private(bot_id, TelegramChatId(CHAT)),
            ids.contact_id(),
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
        let deps = MediaDeps {
            messages: store.clone(),
            conversations: store.clone(),
            bots: store.clone(),
            connections: store.clone(),
            agents: store.clone(),
            visitors: Some(store.clone()),
            push: push.clone(),
            telegram: telegram.clone(),
            blobs: blobs.clone(),
        };
        Self {
            store,
            telegram,
            blobs,
            push,
            deps,
            conversation,
            connection,
            ids,
            clock,
        }
    }

    /// Stores an inbound Telegram message with `attachments`; returns its job.
    async fn inbound(&self, attachments: Vec<Attachment>) -> MediaJob {
        let now = self.clock.now();
        let mut message = Message::outbound(
            self.ids.message_id(),
            self.conversation.id,
            Author::Contact {
                id: self.conversation.contact_id,
            },
            Channel::Telegram,
            String::new(),
            now,
        );
        message.direction = Direction::Inbound;
        message.delivery = Delivery::received(now);
        message.attachments = attachments;
        message.channel_ref = Some(ChannelRef::Telegram {
            bot_id: BotId::from_token(TOKEN).unwrap(),
            chat_id: TelegramChatId(CHAT),
            message_ids: vec![7],
        });
        self.store.append_message(&message).await.unwrap();
        MediaJob {
            conversation_id: self.conversation.id,
            message_id: message.id,
        }
    }

    async fn message(&self, job: &MediaJob) -> Message {
        self.store
            .get_message(job.conversation_id, job.message_id)
            .await
            .unwrap()
            .unwrap()
    }

    fn updates_pushed(&self) -> usize {
        self.push
            .frames(&self.connection)
            .iter()
            .filter(|f| f.contains("\"message.updated\""))
            .count()
    }
}

#[track_caller]
fn done(result: Result<JobOutcome, JobError>) {
    match result {
        Ok(JobOutcome::Done) => {}
        other => panic!("expected Done, got {other:?}"),
    }
}

fn photo(file_id: &str) -> Attachment {
    Attachment::new(AttachmentKind::Image, format!("tg-file:{file_id}"))
}

#[tokio::test]
async fn a_photo_is_stored_with_its_sniffed_type_and_size_and_pushed_to_agents() {
    let w = World::new().await;
    w.telegram.put_file("PHOTO1", JPEG.to_vec());
    let job = w.inbound(vec![photo("PHOTO1")]).await;

    done(handle(&w.deps, &job, 1).await);

    let m = w.message(&job).await;
    let a = &m.attachments[0];
    assert_eq!(a.blob.as_deref(), Some(blob_key(JPEG).as_str()));
    assert_eq!(a.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(a.size_bytes, Some(JPEG.len() as u64));
    assert_eq!(a.note, None);
    assert_eq!(m.revision, 1);
    let blob = w.blobs.get(&blob_key(JPEG)).await.unwrap().unwrap();
    assert_eq!(blob.bytes, JPEG);
    assert_eq!(blob.content_type, "image/jpeg");
    assert_eq!(w.updates_pushed(), 1);
}

#[tokio::test]
async fn a_redelivered_job_fetches_and_pushes_nothing_more() {
    let w = World::new().await;
    w.telegram.put_file("PHOTO1", JPEG.to_vec());
    let job = w.inbound(vec![photo("PHOTO1")]).await;
    let body = serde_json::to_string(&job).unwrap();
    done(handle_body(&w.deps, &body, 1).await);
    // Telegram would now fail: a redelivery must not even ask it.
    w.telegram
        .fail_next_call(TelegramError::Transient("down".into()));
    done(handle_body(&w.deps, &body, 2).await);
    assert_eq!(w.message(&job).await.revision, 1);
    assert_eq!(w.updates_pushed(), 1);
    assert_eq!(w.blobs.len(), 1);
}

#[tokio::test]
async fn a_file_over_telegrams_limit_is_kept_as_a_reference_with_a_note() {
    let w = World::new().await;
    let mut video = Attachment::new(AttachmentKind::Video, "tg-file:BIG");
    video.file_name = Some("holiday.mp4".into());
    video.size_bytes = Some(TELEGRAM_DOWNLOAD_LIMIT + 5 * 1024 * 1024);
    let job = w.inbound(vec![video]).await;

    done(handle(&w.deps, &job, 1).await);

    let a = &w.message(&job).await.attachments[0];
    assert_eq!(a.blob, None);
    assert_eq!(a.reference, "tg-file:BIG");
    assert_eq!(a.file_name.as_deref(), Some("holiday.mp4"));
    assert_eq!(
        a.note.as_deref(),
        Some("Not downloaded: over Telegram's 20 MB limit for bots (25 MB). Open it in Telegram.")
    );
    assert!(w.blobs.is_empty());
    assert_eq!(w.updates_pushed(), 1);
}

#[tokio::test]
async fn a_file_getfile_reports_over_the_limit_is_noted_without_a_download() {
    let w = World::new().await;
    // Telegram's size (no size in the update): getFile says 21 MB, so no download is tried.
    w.telegram.put_file(
        "DOC",
        vec![0u8; (TELEGRAM_DOWNLOAD_LIMIT + 1024 * 1024) as usize],
    );
    let job = w
        .inbound(vec![Attachment::new(AttachmentKind::File, "tg-file:DOC")])
        .await;
    done(handle(&w.deps, &job, 1).await);
    let a = &w.message(&job).await.attachments[0];
    assert!(
        a.note.as_deref().unwrap().contains("(21 MB)"),
        "{:?}",
        a.note
    );
    assert!(w.blobs.is_empty());
}

#[tokio::test]
async fn an_invalid_file_id_gets_a_note_and_the_job_is_done() {
    let w = World::new().await;
    let job = w.inbound(vec![photo("GONE")]).await;
    done(handle(&w.deps, &job, 1).await);
    let a = &w.message(&job).await.attachments[0];
    assert_eq!(
        a.note.as_deref(),
        Some("Could not download from Telegram: Bad Request: invalid file_id")
    );
    assert!(!a.needs_fetch());
}

#[tokio::test]
async fn telegram_being_down_is_retried_and_gives_up_with_a_note_after_the_last_attempt() {
    let w = World::new().await;
    w.telegram.put_file("PHOTO1", JPEG.to_vec());
    let job = w.inbound(vec![photo("PHOTO1")]).await;
    w.telegram
        .fail_next_call(TelegramError::Transient("HTTP 502".into()));
    assert!(matches!(
        handle(&w.deps, &job, 1).await,
        Err(JobError::Transient(_))
    ));
    assert!(w.message(&job).await.attachments[0].needs_fetch());
    assert_eq!(w.updates_pushed(), 0);

    w.telegram
        .fail_next_call(TelegramError::Transient("HTTP 502".into()));
    done(handle(&w.deps, &job, MAX_ATTEMPTS).await);
    let a = &w.message(&job).await.attachments[0];
    assert!(
        a.note
            .as_deref()
            .unwrap()
            .starts_with("Could not download from Telegram: Telegram unavailable"),
        "{:?}",
        a.note
    );
}

#[tokio::test]
async fn an_album_keeps_the_files_fetched_before_a_failure_and_fetches_the_rest_on_retry() {
    let w = World::new().await;
    let png = b"\x89PNG\r\n\x1a\nsecond".to_vec();
    w.telegram.put_file("P1", JPEG.to_vec());
    w.telegram.put_file("P2", png.clone());
    let mut doc = Attachment::new(AttachmentKind::File, "tg-file:P2");
    doc.mime_type = Some("image/png".into());
    doc.file_name = Some("shot.png".into());
    let job = w.inbound(vec![photo("P1"), doc]).await;
    // Storing the second file fails once (the blob store is briefly unavailable).
    let deps = MediaDeps {
        blobs: Arc::new(FlakyBlobs {
            inner: w.blobs.clone(),
            fail_once: parking_lot::Mutex::new(Some(png.clone())),
        }),
        ..w.deps.clone()
    };
    assert!(matches!(
        handle(&deps, &job, 1).await,
        Err(JobError::Transient(m)) if m.contains("blob store")
    ));
    let m = w.message(&job).await;
    assert_eq!(m.attachments[0].blob, Some(blob_key(JPEG)), "kept");
    assert!(m.attachments[1].needs_fetch());

    done(handle(&deps, &job, 2).await);
    let m = w.message(&job).await;
    assert_eq!(m.attachments[0].blob, Some(blob_key(JPEG)));
    assert_eq!(m.attachments[1].blob, Some(blob_key(&png)));
    assert_eq!(m.attachments[1].mime_type.as_deref(), Some("image/png"));
    assert_eq!(m.revision, 2);
    assert_eq!(w.blobs.len(), 2);
    assert_eq!(w.updates_pushed(), 2);
}

/// A blob store that fails storing these bytes once.
struct FlakyBlobs {
    inner: Arc<MemoryBlobStore>,
    fail_once: parking_lot::Mutex<Option<Vec<u8>>>,
}

#[async_trait::async_trait]
impl BlobStore for FlakyBlobs {
    async fn put(
        &self,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<String, omnidesk_core::ProviderError> {
        let fail = {
            let mut f = self.fail_once.lock();
            if f.as_ref() == Some(&bytes) {
                f.take();
                true
            } else {
                false
            }
        };
        if fail {
            return Err(omnidesk_core::ProviderError::Transient(
                "503 Slow Down".into(),
            ));
        }
        self.inner.put(content_type, bytes).await
    }
    async fn get(
        &self,
        key: &str,
    ) -> Result<Option<omnidesk_core::Blob>, omnidesk_core::ProviderError> {
        self.inner.get(key).await
    }
    async fn signed_url(
        &self,
        link: &omnidesk_core::LinkRequest<'_>,
    ) -> Result<String, omnidesk_core::ProviderError> {
        self.inner.signed_url(link).await
    }
    async fn delete(&self, key: &str) -> Result<(), omnidesk_core::ProviderError> {
        self.inner.delete(key).await
    }
}

#[tokio::test]
async fn a_concurrent_edit_is_kept_and_the_fetched_file_is_applied_on_top() {
    let w = World::new().await;
    w.telegram.put_file("PHOTO1", JPEG.to_vec());
    let job = w.inbound(vec![photo("PHOTO1")]).await;
    // The customer edits the caption while the worker downloads: simulate by editing first
    // through the store at revision 1, then running a worker that read revision 0.
    let stale = w.message(&job).await;
    let mut edit = stale.next_content();
    edit.text = "edited caption".into();
    w.store
        .update_content(job.conversation_id, job.message_id, &edit)
        .await
        .unwrap();
    // A worker step that starts now reads revision 1, so force the conflict path through a
    // store that still returns the stale message once.
    let deps = MediaDeps {
        messages: Arc::new(StaleOnce {
            inner: w.store.clone(),
            stale: parking_lot::Mutex::new(Some(stale)),
        }),
        ..w.deps.clone()
    };
    done(handle(&deps, &job, 1).await);
    let m = w.message(&job).await;
    assert_eq!(m.text, "edited caption");
    assert_eq!(m.attachments[0].blob, Some(blob_key(JPEG)));
    assert_eq!(m.revision, 2);
}

#[tokio::test]
async fn without_a_configured_bot_the_files_are_noted() {
    let w = World::new().await;
    let mut job = w.inbound(vec![photo("PHOTO1")]).await;
    let mut m = w.message(&job).await;
    m.channel_ref = Some(ChannelRef::Telegram {
        bot_id: BotId::from_token("7000000002:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").unwrap(),
        chat_id: TelegramChatId(CHAT),
        message_ids: vec![8],
    });
    m.id = w.ids.message_id();
    w.store.append_message(&m).await.unwrap();
    job.message_id = m.id;
    done(handle(&w.deps, &job, 1).await);
    let a = &w.message(&job).await.attachments[0];
    assert!(
        a.note
            .as_deref()
            .unwrap()
            .contains("is no longer configured"),
        "{:?}",
        a.note
    );
}

#[tokio::test]
async fn a_missing_message_or_a_garbage_body_is_permanent() {
    let w = World::new().await;
    let job = MediaJob {
        conversation_id: w.conversation.id,
        message_id: w.ids.message_id(),
    };
    assert!(matches!(
        handle(&w.deps, &job, 1).await,
        Err(JobError::Permanent(_))
    ));
    assert!(matches!(
        handle_body(&w.deps, "not json", 1).await,
        Err(JobError::Permanent(_))
    ));
}

/// A message store whose first `get_message` returns an old revision (a worker that read the
/// message just before someone else changed it).
struct StaleOnce {
    inner: Arc<MemoryStore>,
    stale: parking_lot::Mutex<Option<Message>>,
}

#[async_trait::async_trait]
impl MessageStore for StaleOnce {
    async fn append_message(
        &self,
        message: &Message,
    ) -> omnidesk_core::StoreResult<omnidesk_core::AppendOutcome> {
        self.inner.append_message(message).await
    }
    async fn get_message(
        &self,
        conversation: omnidesk_domain::ConversationId,
        id: omnidesk_domain::MessageId,
    ) -> omnidesk_core::StoreResult<Option<Message>> {
        if let Some(stale) = self.stale.lock().take() {
            return Ok(Some(stale));
        }
        self.inner.get_message(conversation, id).await
    }
    async fn update_delivery(
        &self,
        conversation: omnidesk_domain::ConversationId,
        id: omnidesk_domain::MessageId,
        delivery: &omnidesk_domain::Delivery,
        channel_ref: Option<&ChannelRef>,
    ) -> omnidesk_core::StoreResult<Message> {
        self.inner
            .update_delivery(conversation, id, delivery, channel_ref)
            .await
    }
    async fn update_content(
        &self,
        conversation: omnidesk_domain::ConversationId,
        id: omnidesk_domain::MessageId,
        content: &omnidesk_domain::MessageContent,
    ) -> omnidesk_core::StoreResult<Message> {
        self.inner.update_content(conversation, id, content).await
    }
    async fn list_messages(
        &self,
        conversation: omnidesk_domain::ConversationId,
        page: &omnidesk_core::PageRequest,
    ) -> omnidesk_core::StoreResult<omnidesk_core::Page<Message>> {
        self.inner.list_messages(conversation, page).await
    }
}
