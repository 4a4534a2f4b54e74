//! The retention sweep (`OMNIDESK_RETENTION_DAYS`): a timer job deletes what is older than
//! the cutoff — whole conversations without activity since, old messages of the others —
//! with their files, except bytes another conversation still holds.

use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::testing::{ManualClock, MemoryBlobStore, MemoryPush, MemoryQueue, MemoryStore};
use omnidesk_core::{
    BlobStore, Clock, ContactStore, ConversationStore, JobOutcome, MessageStore, Queue, QueueName,
    TimerJob, UuidV7Ids,
};
use omnidesk_domain::{
    Attachment, AttachmentKind, Author, Channel, Contact, ContactId, Conversation, ConversationId,
    ConversationKey, Identity, Message, MessageId, Timestamp,
};
use omnidesk_router::{RetentionPorts, RouterDeps, RouterSettings, handle_timer};

const DAY_MS: i64 = 24 * 3_600_000;
const NOW: i64 = 1_790_000_000_000;

struct World {
    store: Arc<MemoryStore>,
    blobs: Arc<MemoryBlobStore>,
    queue: Arc<MemoryQueue>,
    deps: RouterDeps,
}

fn world(retention_days: Option<u64>) -> World {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(NOW)));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let blobs = Arc::new(MemoryBlobStore::new());
    let queue = Arc::new(MemoryQueue::with_clock(clock.clone()));
    let days = retention_days.map_or(String::new(), |d| d.to_string());
    let settings = RouterSettings::from_lookup(|name| {
        (name == "OMNIDESK_RETENTION_DAYS").then(|| days.clone())
    })
    .unwrap();
    let deps = RouterDeps {
        contacts: store.clone(),
        conversations: store.clone(),
        messages: store.clone(),
        agents: store.clone(),
        bots: store.clone(),
        connections: store.clone(),
        routing: store.clone(),
        web: None,
        visitors: None,
        push: Arc::new(MemoryPush::new()),
        queue: queue.clone(),
        clock: clock.clone() as Arc<dyn Clock>,
        ids: Arc::new(UuidV7Ids),
        settings,
        retention: Some(RetentionPorts {
            erasure: store.clone(),
            blobs: blobs.clone(),
        }),
    };
    World {
        store,
        blobs,
        queue,
        deps,
    }
}

fn at(days_ago: i64) -> Timestamp {
    Timestamp::from_millis(NOW - days_ago * DAY_MS)
}

impl World {
    /// A conversation created `created` days ago, last active `active` days ago.
    async fn conversation(&self, name: &str, created: i64, active: i64) -> Conversation {
        let contact = Contact::new(
            ContactId::from_uuid(uuid::Uuid::now_v7()),
            name.to_owned(),
            Identity::WebVisitor {
                visitor_id: name.to_owned(),
            },
            at(created),
        );
        self.store.create_contact(&contact).await.unwrap();
        let mut c = Conversation::new(
            ConversationId::from_uuid(uuid::Uuid::now_v7()),
            ConversationKey::parse(&format!("suite:{name}")).unwrap(),
            contact.id,
            Channel::Web,
            at(created),
        );
        c.last_activity_at = at(active);
        self.store.create_conversation(&c).await.unwrap();
        c
    }

    /// A message `days_ago` days old in `c`, with a file of `bytes` when given.
    async fn message(
        &self,
        c: &Conversation,
        days_ago: i64,
        text: &str,
        bytes: Option<&[u8]>,
    ) -> Message {
        let mut m = Message::outbound(
            MessageId::derived(at(days_ago), 0, text),
            c.id,
            Author::Contact { id: c.contact_id },
            Channel::Web,
            text.to_owned(),
            at(days_ago),
        );
        if let Some(bytes) = bytes {
            let key = self.blobs.put("image/png", bytes.to_vec()).await.unwrap();
            let mut file = Attachment::new(AttachmentKind::Image, format!("upload:{text}"));
            file.blob = Some(key);
            m.attachments.push(file);
        }
        self.store.append_message(&m).await.unwrap();
        m
    }

    async fn has(&self, m: &Message) -> bool {
        self.store
            .get_message(m.conversation_id, m.id)
            .await
            .unwrap()
            .is_some()
    }

    async fn has_file(&self, bytes: &[u8]) -> bool {
        self.blobs
            .get(&omnidesk_core::blob_key(bytes))
            .await
            .unwrap()
            .is_some()
    }
}

async fn sweep(w: &World) {
    let job = TimerJob::Retention {
        cutoff: None,
        cursor: None,
    };
    assert_eq!(handle_timer(&w.deps, &job).await.unwrap(), JobOutcome::Done);
}

#[tokio::test]
async fn the_sweep_deletes_what_is_older_than_the_retention_and_keeps_the_rest() {
    let w = world(Some(30));
    // Quiet for 35 days: gone whole, its file too.
    let quiet = w.conversation("quiet", 40, 35).await;
    let quiet_message = w
        .message(&quiet, 36, "old photo", Some(b"quiet photo"))
        .await;
    // Ongoing: its 40-day-old message goes, yesterday's stays; the old message's file is also
    // in a recent conversation, so its bytes stay.
    let ongoing = w.conversation("ongoing", 45, 1).await;
    let old = w
        .message(&ongoing, 40, "old message", Some(b"shared logo"))
        .await;
    let recent = w.message(&ongoing, 1, "recent message", None).await;
    let fresh = w.conversation("fresh", 2, 2).await;
    let holder = w
        .message(&fresh, 2, "the same logo", Some(b"shared logo"))
        .await;

    sweep(&w).await;

    assert!(w.store.get_conversation(quiet.id).await.unwrap().is_none());
    assert!(!w.has(&quiet_message).await);
    assert!(
        !w.has_file(b"quiet photo").await,
        "the quiet conversation's file is deleted"
    );
    assert!(!w.has(&old).await, "the old message is deleted");
    assert!(w.has(&recent).await, "a message inside the retention stays");
    assert!(
        w.store
            .get_conversation(ongoing.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(w.has(&holder).await);
    assert!(
        w.has_file(b"shared logo").await,
        "bytes another conversation holds stay"
    );
    assert!(
        w.store
            .get_contact(quiet.contact_id)
            .await
            .unwrap()
            .is_some(),
        "contacts stay: a profile is not a message"
    );
    // Nothing is left to continue, and a second sweep finds nothing.
    assert!(
        w.queue
            .receive(QueueName::Timers, 10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    sweep(&w).await;
    assert!(w.has(&recent).await);
}

#[tokio::test]
async fn without_a_retention_the_timer_deletes_nothing() {
    let w = world(None);
    let c = w.conversation("kept", 400, 400).await;
    let m = w
        .message(&c, 400, "kept for ever", Some(b"kept file"))
        .await;
    sweep(&w).await;
    assert!(w.has(&m).await);
    assert!(w.has_file(b"kept file").await);
}

#[test]
fn the_retention_is_whole_days_and_at_least_one() {
    let parse = |v: &str| {
        RouterSettings::from_lookup(|name| {
            (name == "OMNIDESK_RETENTION_DAYS").then(|| v.to_owned())
        })
    };
    assert_eq!(
        parse("30").unwrap().retention,
        Some(Duration::from_secs(30 * 86_400))
    );
    assert_eq!(parse("").unwrap().retention, None);
    assert!(parse("0").unwrap_err().contains("at least 1"));
    assert!(
        parse("a month")
            .unwrap_err()
            .contains("OMNIDESK_RETENTION_DAYS")
    );
}
