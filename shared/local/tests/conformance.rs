//! The core conformance suites against the SQLite store, the SQLite queue and the hub, plus
//! durability and concurrency checks of this crate, the e-mail adapters (`mail`), the
//! translation store (`translation`), the AI store (`ai`) and the routing store (`routing`).

mod ai;
mod mail;
mod routing;
mod translation;

use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::testing::{ManualClock, push_suite, queue_suite, store_suite};
use omnidesk_core::{
    AgentStore, AppendOutcome, Clock, ConnectionId, ContactStore, ConversationStore,
    MAX_PUSH_BYTES, MessageStore, OutgoingMessage, PageRequest, Push, PushError, PushOutcome,
    Queue, QueueName, SendOutcome, SystemClock,
};
use omnidesk_domain::{
    Author, Channel, Contact, ContactId, Conversation, ConversationId, ConversationKey, Delivery,
    Direction, Identity, Message, MessageId, Timestamp,
};
use omnidesk_local::{HUB_BUFFER, Hub, QueueOptions, SqliteQueue, SqliteStore};
use parking_lot::Mutex;
use uuid::Uuid;

fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_millis(1_700_000_000_000)))
}

fn message(conversation: ConversationId, text: &str) -> Message {
    let at = SystemClock.now();
    Message {
        id: MessageId::from_uuid(Uuid::now_v7()),
        conversation_id: conversation,
        direction: Direction::Inbound,
        author: Author::Bot,
        channel: Channel::Web,
        text: text.to_owned(),
        language: None,
        translations: Vec::new(),
        translation: None,
        attachments: Vec::new(),
        channel_ref: None,
        delivery: Delivery::received(at),
        event: None,
        source_key: None,
        created_at: at,
        edited_at: None,
        edit_history: Vec::new(),
        reply_to: None,
        forwarded_from: None,
        album: None,
        buttons: Vec::new(),
        revision: 0,
        internal: false,
    }
}

fn fifo(group: &str, n: u32) -> OutgoingMessage {
    OutgoingMessage::fifo(group, Uuid::now_v7().to_string(), format!("{{\"n\":{n}}}"))
}

// ---------------------------------------------------------------------------------------------
// conformance suites

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_store_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("omnidesk.db"), system_clock()).unwrap();
    store_suite::run_all(&store).await;
    store_suite::web(&store).await;
    store_suite::mail(&store).await;
    store_suite::erasure(&store, &store, &store, &store).await;
    // Twice on the same file: the suite must not depend on an empty database.
    store_suite::run_all(&store).await;
    store_suite::web(&store).await;
    store_suite::mail(&store).await;
    store_suite::erasure(&store, &store, &store, &store).await;
}

#[tokio::test]
async fn in_memory_sqlite_store_passes_the_store_conformance_suite() {
    let store = SqliteStore::open_in_memory(system_clock()).unwrap();
    store_suite::run_all(&store).await;
}

#[tokio::test]
async fn the_hub_passes_the_visitor_connection_suite() {
    let hub = omnidesk_local::Hub::new();
    store_suite::visitor_connections(&hub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_queue_passes_the_queue_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("omnidesk.db"), system_clock()).unwrap();
    let queue = SqliteQueue::new(&store, QueueOptions::default());
    queue_suite::run_all(&queue).await;
}

#[tokio::test]
async fn hub_passes_the_push_conformance_suite() {
    let hub = Hub::new();
    let live = ConnectionId("live".to_owned());
    let gone = ConnectionId("gone".to_owned());
    let rx = Mutex::new((hub.register(live.clone()), Vec::new()));
    let closed = hub.register(gone.clone());
    drop(closed);
    let read_live = || {
        let mut guard = rx.lock();
        let (rx, seen) = &mut *guard;
        while let Ok(frame) = rx.try_recv() {
            seen.push(frame);
        }
        seen.clone()
    };
    push_suite::run_all(&hub, &live, &gone, read_live).await;
}

// ---------------------------------------------------------------------------------------------
// durability

#[tokio::test]
async fn unacked_message_is_redelivered_after_a_reopen_and_acked_ones_never_return() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnidesk.db");
    let clock = manual_clock();
    let (acked_id, unacked_id) = {
        let store = SqliteStore::open(&path, clock.clone()).unwrap();
        let queue = SqliteQueue::new(&store, QueueOptions::default());
        assert_eq!(
            queue.send(QueueName::Inbound, fifo("a", 1)).await.unwrap(),
            SendOutcome::Enqueued
        );
        queue.send(QueueName::Inbound, fifo("b", 2)).await.unwrap();
        let got = queue
            .receive(QueueName::Inbound, 10, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(got.len(), 2);
        let acked = got
            .iter()
            .find(|r| r.group.as_deref() == Some("a"))
            .unwrap();
        let unacked = got
            .iter()
            .find(|r| r.group.as_deref() == Some("b"))
            .unwrap();
        queue.ack(QueueName::Inbound, &acked.receipt).await.unwrap();
        (acked.id.clone(), unacked.id.clone())
        // Everything is dropped here, like a killed process.
    };

    let store = SqliteStore::open(&path, clock.clone()).unwrap();
    let queue = SqliteQueue::new(&store, QueueOptions::default());
    let early = queue
        .receive(QueueName::Inbound, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        early.is_empty(),
        "still invisible before its visibility deadline: {early:?}"
    );

    clock.advance(Duration::from_secs(31));
    let again = queue
        .receive(QueueName::Inbound, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        again.len(),
        1,
        "only the unacked message comes back: {again:?}"
    );
    assert_eq!(again[0].id, unacked_id);
    assert_ne!(again[0].id, acked_id);
    assert_eq!(again[0].receive_count, 2);
    assert_eq!(again[0].body, "{\"n\":2}");
    queue
        .ack(QueueName::Inbound, &again[0].receipt)
        .await
        .unwrap();

    clock.advance(Duration::from_secs(60));
    let none = queue
        .receive(QueueName::Inbound, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(none.is_empty(), "acked messages never return: {none:?}");
}

#[tokio::test]
async fn deduplication_ids_survive_a_reopen_and_expire_after_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnidesk.db");
    let clock = manual_clock();
    let options = QueueOptions {
        dedupe_window: Duration::from_secs(600),
        ..QueueOptions::default()
    };
    {
        let queue = SqliteQueue::open(&path, clock.clone(), options.clone()).unwrap();
        let m = OutgoingMessage::fifo("g", "update-1", "{}".to_owned());
        assert_eq!(
            queue.send(QueueName::Inbound, m).await.unwrap(),
            SendOutcome::Enqueued
        );
    }
    let queue = SqliteQueue::open(&path, clock.clone(), options).unwrap();
    let m = OutgoingMessage::fifo("g", "update-1", "{}".to_owned());
    assert_eq!(
        queue.send(QueueName::Inbound, m.clone()).await.unwrap(),
        SendOutcome::Duplicate
    );
    assert_eq!(
        queue.send(QueueName::Outbound, m.clone()).await.unwrap(),
        SendOutcome::Enqueued,
        "dedupe ids are per queue"
    );
    clock.advance(Duration::from_secs(601));
    assert_eq!(
        queue.send(QueueName::Inbound, m).await.unwrap(),
        SendOutcome::Enqueued
    );
}

#[tokio::test]
async fn store_data_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnidesk.db");
    let clock = system_clock();
    let now = clock.now();
    let identity = Identity::WebVisitor {
        visitor_id: "v-1".to_owned(),
    };
    let contact = Contact::new(
        ContactId::from_uuid(Uuid::now_v7()),
        "Ann".to_owned(),
        identity.clone(),
        now,
    );
    let conv = Conversation::new(
        ConversationId::from_uuid(Uuid::now_v7()),
        ConversationKey::parse("web:v-1").unwrap(),
        contact.id,
        Channel::Web,
        now,
    );
    let m = message(conv.id, "hello");
    {
        let store = SqliteStore::open(&path, clock.clone()).unwrap();
        store.create_contact(&contact).await.unwrap();
        store.create_conversation(&conv).await.unwrap();
        store.append_message(&m).await.unwrap();
        assert_eq!(store.next_counter("tickets").await.unwrap(), 1);
        assert_eq!(store.database_path(), Some(path.as_path()));
    }
    let store = SqliteStore::open(&path, clock).unwrap();
    assert_eq!(
        store.get_contact(contact.id).await.unwrap(),
        Some(contact.clone())
    );
    assert_eq!(
        store.contact_id_by_identity(&identity.key()).await.unwrap(),
        Some(contact.id)
    );
    assert_eq!(
        store.conversation_by_key(&conv.key).await.unwrap(),
        Some(conv.clone())
    );
    assert_eq!(store.get_message(conv.id, m.id).await.unwrap(), Some(m));
    assert_eq!(store.next_counter("tickets").await.unwrap(), 2);
}

// ---------------------------------------------------------------------------------------------
// concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_tasks_appending_two_hundred_messages_each_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("omnidesk.db"), system_clock()).unwrap();
    let conversations: Vec<ConversationId> = (0..4)
        .map(|_| ConversationId::from_uuid(Uuid::now_v7()))
        .collect();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        let conv = conversations[t % 4];
        tasks.push(tokio::spawn(async move {
            for i in 0..200 {
                let mut m = message(conv, &format!("task {t} message {i}"));
                m.source_key = Some(format!("src:{t}:{i}"));
                assert_eq!(
                    store.append_message(&m).await.unwrap(),
                    AppendOutcome::Inserted
                );
                // Interleave reads with the writes.
                if i % 50 == 0 {
                    store.get_message(conv, m.id).await.unwrap().unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut total = 0;
    for conv in conversations {
        let mut cursor = None;
        let mut ids = Vec::new();
        loop {
            let page = store
                .list_messages(conv, &PageRequest { limit: 100, cursor })
                .await
                .unwrap();
            ids.extend(page.items.iter().map(|m| m.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(ids.len(), 400, "two tasks x 200 messages per conversation");
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
        total += ids.len();
    }
    assert_eq!(total, 1600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_see_each_message_once_and_in_group_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("omnidesk.db"), system_clock()).unwrap();
    let queue = SqliteQueue::new(&store, QueueOptions::default());
    let groups = 20u32;
    let per_group = 25u32;
    for n in 0..per_group {
        for g in 0..groups {
            queue
                .send(QueueName::Inbound, fifo(&format!("g{g}"), n))
                .await
                .unwrap();
        }
    }
    let seen = Arc::new(Mutex::new(Vec::<(String, u32)>::new()));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let queue = queue.clone();
        let seen = seen.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let batch = queue
                    .receive(QueueName::Inbound, 8, Duration::from_secs(30))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    if seen.lock().len() == (groups * per_group) as usize {
                        return;
                    }
                    queue
                        .wait_for_work(QueueName::Inbound, Duration::from_millis(20))
                        .await;
                    continue;
                }
                for r in batch {
                    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
                    let n = u32::try_from(v["n"].as_u64().unwrap()).unwrap();
                    seen.lock().push((r.group.clone().unwrap(), n));
                    queue.ack(QueueName::Inbound, &r.receipt).await.unwrap();
                }
            }
        }));
    }
    for w in workers {
        tokio::time::timeout(Duration::from_secs(30), w)
            .await
            .expect("workers drained the queue")
            .unwrap();
    }
    let seen = seen.lock();
    assert_eq!(seen.len(), (groups * per_group) as usize);
    for g in 0..groups {
        let ns: Vec<u32> = seen
            .iter()
            .filter(|(grp, _)| *grp == format!("g{g}"))
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(
            ns,
            (0..per_group).collect::<Vec<_>>(),
            "group g{g} in send order"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// queue details

#[tokio::test]
async fn a_message_over_max_receives_is_dead_lettered_with_its_reason() {
    let clock = manual_clock();
    let queue = SqliteQueue::open_in_memory(
        clock.clone(),
        QueueOptions {
            max_receives: 2,
            ..QueueOptions::default()
        },
    )
    .unwrap();
    queue.send(QueueName::Outbound, fifo("c", 0)).await.unwrap();
    queue.send(QueueName::Outbound, fifo("c", 1)).await.unwrap();
    for count in 1..=2 {
        let got = queue
            .receive(QueueName::Outbound, 10, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "one message of the group at a time");
        assert_eq!(got[0].receive_count, count);
        clock.advance(Duration::from_secs(6));
    }
    let got = queue
        .receive(QueueName::Outbound, 10, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].body, "{\"n\":1}",
        "the head was dead-lettered, the group goes on"
    );
    let dead = queue.dead_letters(QueueName::Outbound, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "max receives exceeded");
    assert_eq!(dead[0].receive_count, 2);
    assert_eq!(dead[0].body, "{\"n\":0}");
    assert!(
        queue
            .dead_letters(QueueName::Inbound, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn stale_receipts_and_oversized_messages_are_refused() {
    let clock = manual_clock();
    let queue = SqliteQueue::open_in_memory(clock.clone(), QueueOptions::default()).unwrap();
    queue.send(QueueName::Inbound, fifo("s", 0)).await.unwrap();
    let first = queue
        .receive(QueueName::Inbound, 1, Duration::from_secs(1))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(2));
    let second = queue
        .receive(QueueName::Inbound, 1, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(second[0].id, first[0].id);
    assert!(matches!(
        queue.ack(QueueName::Inbound, &first[0].receipt).await,
        Err(omnidesk_core::QueueError::StaleReceipt(_))
    ));
    assert!(matches!(
        queue.ack(QueueName::Inbound, "garbage").await,
        Err(omnidesk_core::QueueError::StaleReceipt(_))
    ));
    queue
        .ack(QueueName::Inbound, &second[0].receipt)
        .await
        .unwrap();
    let huge = OutgoingMessage::delayed("x".repeat(256 * 1024 + 1), Duration::ZERO);
    assert!(matches!(
        queue.send(QueueName::Timers, huge).await,
        Err(omnidesk_core::QueueError::Refused(_))
    ));
}

#[tokio::test]
async fn delays_are_clamped_to_fifteen_minutes_and_reported_by_next_visible_in() {
    let clock = manual_clock();
    let queue = SqliteQueue::open_in_memory(clock.clone(), QueueOptions::default()).unwrap();
    assert_eq!(
        queue.next_visible_in(QueueName::Timers).await.unwrap(),
        None
    );
    queue
        .send(
            QueueName::Timers,
            OutgoingMessage::delayed("{}".to_owned(), Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    assert_eq!(
        queue.next_visible_in(QueueName::Timers).await.unwrap(),
        Some(Duration::from_secs(15 * 60))
    );
    clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(
        queue
            .receive(QueueName::Timers, 10, Duration::from_secs(30))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn wait_for_work_wakes_up_on_send() {
    let queue = SqliteQueue::open_in_memory(system_clock(), QueueOptions::default()).unwrap();
    let waiter = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            queue
                .wait_for_work(QueueName::Outbound, Duration::from_secs(20))
                .await;
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    queue.send(QueueName::Outbound, fifo("w", 0)).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the waiter woke up")
        .unwrap();
    assert!(waited < Duration::from_secs(5));
}

// ---------------------------------------------------------------------------------------------
// hub details

#[tokio::test]
async fn hub_delivers_in_order_and_drops_a_client_whose_buffer_is_full() {
    let hub = Hub::new();
    let id = ConnectionId("c1".to_owned());
    let mut rx = hub.register(id.clone());
    for i in 0..HUB_BUFFER {
        assert_eq!(
            hub.post(&id, &format!("{i}")).await.unwrap(),
            PushOutcome::Delivered
        );
    }
    assert_eq!(hub.post(&id, "overflow").await.unwrap(), PushOutcome::Gone);
    assert!(!hub.is_connected(&id));
    assert_eq!(hub.post(&id, "later").await.unwrap(), PushOutcome::Gone);
    // What was buffered still arrives, in order, then the stream ends.
    for i in 0..HUB_BUFFER {
        assert_eq!(rx.recv().await.unwrap(), format!("{i}"));
    }
    assert_eq!(rx.recv().await, None);
}

#[tokio::test]
async fn hub_refuses_oversized_frames_and_forgets_unregistered_connections() {
    let hub = Hub::new();
    let id = ConnectionId("c2".to_owned());
    let _rx = hub.register(id.clone());
    assert!(matches!(
        hub.post(&id, &"x".repeat(MAX_PUSH_BYTES + 1)).await,
        Err(PushError::Permanent(_))
    ));
    assert_eq!(hub.post(&id, "ok").await.unwrap(), PushOutcome::Delivered);
    hub.unregister(&id);
    assert_eq!(hub.post(&id, "gone").await.unwrap(), PushOutcome::Gone);
    assert_eq!(
        hub.post(&ConnectionId("never".to_owned()), "x")
            .await
            .unwrap(),
        PushOutcome::Gone
    );
    assert!(hub.is_empty());
}

// ---------------------------------------------------------------------------------------------
// kill -9

const KILL_CHILD_ENV: &str = "OMNIDESK_LOCAL_KILL_CHILD_DB";

/// The child half of `sent_and_received_messages_survive_kill_9`: does nothing unless that
/// test started this binary with the database path in the environment.
#[tokio::test]
async fn child_process_of_the_kill_test_writes_then_waits_to_be_killed() {
    let Some(path) = std::env::var_os(KILL_CHILD_ENV) else {
        return;
    };
    let store = SqliteStore::open(std::path::Path::new(&path), system_clock()).unwrap();
    let queue = SqliteQueue::new(&store, QueueOptions::default());
    for n in 0..50 {
        queue
            .send(QueueName::Inbound, fifo(&format!("k{n}"), n))
            .await
            .unwrap();
    }
    let taken = queue
        .receive(QueueName::Inbound, 1, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    let contact = Contact::new(
        ContactId::from_uuid(Uuid::now_v7()),
        "Killed".to_owned(),
        Identity::WebVisitor {
            visitor_id: "kill-test".to_owned(),
        },
        SystemClock.now(),
    );
    store.create_contact(&contact).await.unwrap();
    println!("WRITTEN {}", taken[0].id);
    use std::io::Write as _;
    std::io::stdout().flush().unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_and_received_messages_survive_kill_9() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnidesk.db");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_of_the_kill_test_writes_then_waits_to_be_killed",
            "--nocapture",
        ])
        .env(KILL_CHILD_ENV, &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let taken_id = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("WRITTEN ").map(str::to_owned))
        .expect("the child reported its writes");
    child.kill().unwrap(); // SIGKILL: no destructor, no checkpoint, no close.
    child.wait().unwrap();

    let store = SqliteStore::open(&path, system_clock()).unwrap();
    let survivor = Identity::WebVisitor {
        visitor_id: "kill-test".to_owned(),
    };
    assert!(
        store
            .contact_id_by_identity(&survivor.key())
            .await
            .unwrap()
            .is_some(),
        "a committed store write survives kill -9"
    );
    let queue = SqliteQueue::new(&store, QueueOptions::default());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut seen = Vec::new();
    loop {
        let batch = queue
            .receive(QueueName::Inbound, 100, Duration::from_secs(30))
            .await
            .unwrap();
        if batch.is_empty() {
            break;
        }
        seen.extend(batch);
    }
    assert_eq!(seen.len(), 50, "every sent message survives kill -9");
    let taken = seen.iter().find(|r| r.id == taken_id).unwrap();
    assert_eq!(
        taken.receive_count, 2,
        "the unacked one comes back after its visibility"
    );
    assert!(
        seen.iter()
            .filter(|r| r.id != taken_id)
            .all(|r| r.receive_count == 1)
    );
}

#[tokio::test]
async fn folder_blob_store_passes_the_blob_suite_without_links() {
    // Its links are served by the omnidesk server: the whole suite, links included, runs over
    // HTTP in infra/local's end-to-end tests.
    let dir = tempfile::tempdir().unwrap();
    let store = omnidesk_local::FolderBlobStore::open(dir.path().join("files"), b"secret").unwrap();
    omnidesk_core::testing::blob_suite::run_without_links(&store).await;
}

#[tokio::test]
async fn secrets_stored_plain_before_sealing_are_sealed_once() {
    use omnidesk_core::sealing::Sealing;
    use omnidesk_core::{BotConfig, BotMode, BotStore, Secret};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnidesk.db");
    let bot = BotConfig {
        id: omnidesk_domain::BotId::parse("4242").unwrap(),
        token: Secret::new("4242:AAplainBeforeSealing_xyz"),
        webhook_secret: Secret::new("plain-webhook-secret"),
        username: None,
        mode: BotMode::Webhook,
        poll_offset: None,
        created_at: Timestamp::from_millis(1_790_000_000_000),
    };
    // An older build: no sealing.
    SqliteStore::open(&path, system_clock())
        .unwrap()
        .put_bot(&bot)
        .await
        .unwrap();
    let key = b"a secrets key of at least thirty-two bytes";
    let store = SqliteStore::open(&path, system_clock())
        .unwrap()
        .with_sealing(Arc::new(Sealing::with_key(key)));
    assert_eq!(
        store.get_bot(bot.id).await.unwrap(),
        Some(bot.clone()),
        "a plain secret reads as it is"
    );
    assert_eq!(store.seal_plain_secrets().await.unwrap(), 1);
    assert_eq!(
        store.seal_plain_secrets().await.unwrap(),
        0,
        "nothing left to seal: no write"
    );
    assert_eq!(store.get_bot(bot.id).await.unwrap(), Some(bot.clone()));
    // Nothing of the plain values is left in the database file or its log.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for plain in ["AAplainBeforeSealing", "plain-webhook-secret"] {
            assert!(
                !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
                "{plain} is still on disk"
            );
        }
    }
    // Sealed in the row itself.
    let plain_store = SqliteStore::open(&path, system_clock()).unwrap();
    let e = plain_store.get_bot(bot.id).await.unwrap_err();
    assert!(e.to_string().contains("no secrets key"), "{e}");
}
