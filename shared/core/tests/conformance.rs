//! The in-memory adapters against the conformance suites, the adapters' test helpers, and the
//! shared use cases on top of them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::assign::pick_agent_for;
use omnidesk_core::testing::{
    ManualClock, MemoryPush, MemoryQueue, MemoryStore, MemoryTelegram, SeqIds, push_suite,
    queue_suite, store_suite,
};
use omnidesk_core::usecases::push_to_agents;
use omnidesk_core::{
    AgentStore, Clock, Connection, ConnectionId, ConnectionStore, ConversationStore, IdGen,
    OutgoingMessage, Queue, QueueError, QueueName, Secret, ServerEvent, SystemClock, TelegramApi,
    TelegramError,
};
use omnidesk_domain::{
    Agent, AgentId, AgentStatus, BotId, Channel, ContactId, Conversation, ConversationId,
    ConversationKey, ConversationStatus, EmailAddress, PasswordHash, TelegramChatId, Timestamp,
};
use uuid::Uuid;

const TOKEN: &str = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

fn system_store() -> MemoryStore {
    MemoryStore::new(Arc::new(SystemClock))
}

// --- suites -----------------------------------------------------------------------------------

#[tokio::test]
async fn memory_store_passes_the_store_suite() {
    let store = system_store();
    store_suite::run_all(&store).await;
    store_suite::web(&store).await;
    store_suite::mail(&store).await;
    store_suite::visitor_connections(&store).await;
    store_suite::erasure(&store, &store, &store, &store).await;
}

#[tokio::test]
async fn memory_store_passes_the_translation_suite_on_an_empty_store_and_again() {
    let store = system_store();
    store_suite::translation_on_an_empty_store(&store).await;
    store_suite::translation(&store).await;
}

#[tokio::test]
async fn memory_store_passes_the_ai_store_suite_on_an_empty_store_and_again() {
    let store = system_store();
    store_suite::ai_store_on_an_empty_store(&store).await;
    store_suite::ai_store(&store).await;
}

#[tokio::test]
async fn memory_store_passes_the_routing_store_suite_on_an_empty_store_and_again() {
    let store = system_store();
    store_suite::routing_store_on_an_empty_store(&store).await;
    store_suite::routing_store(&store).await;
}

#[tokio::test]
async fn memory_store_passes_the_store_suite_twice_on_the_same_data() {
    let store = system_store();
    store_suite::run_all(&store).await;
    store_suite::run_all(&store).await;
}

#[tokio::test]
async fn memory_queue_passes_the_queue_suite() {
    let queue = MemoryQueue::new();
    queue_suite::run_all(&queue).await;
    for name in QueueName::ALL {
        assert!(
            queue.is_empty(name),
            "the suite drains what it sends ({name})"
        );
    }
}

#[tokio::test]
async fn memory_push_passes_the_push_suite() {
    let push = MemoryPush::new();
    let live = ConnectionId("live".to_owned());
    let gone = ConnectionId("gone".to_owned());
    push.connect(&live);
    push.connect(&gone);
    push.disconnect(&gone);
    push_suite::run_all(&push, &live, &gone, || push.frames(&live)).await;
}

// --- clock and ids ----------------------------------------------------------------------------

#[test]
fn manual_clock_moves_only_when_told() {
    let clock = ManualClock::new(Timestamp::from_millis(1_000));
    assert_eq!(clock.now(), Timestamp::from_millis(1_000));
    clock.advance(Duration::from_secs(2));
    assert_eq!(clock.now(), Timestamp::from_millis(3_000));
    clock.set(Timestamp::from_millis(10));
    assert_eq!(clock.now(), Timestamp::from_millis(10));
}

#[test]
fn seq_ids_count_up_and_sort_by_creation() {
    let ids = SeqIds::new();
    let a = ids.message_id();
    let b = ids.message_id();
    assert_eq!(a.as_uuid(), Uuid::from_u128(1));
    assert_eq!(b.as_uuid(), Uuid::from_u128(2));
    assert!(a < b);
}

// --- memory store specifics -------------------------------------------------------------------

#[tokio::test]
async fn memory_store_stops_listing_connections_after_two_hours_on_its_clock() {
    let start = Timestamp::from_millis(1_700_000_000_000);
    let clock = Arc::new(ManualClock::new(start));
    let store = MemoryStore::new(clock.clone());
    let conn = Connection {
        id: ConnectionId("c1".to_owned()),
        agent_id: AgentId::from_uuid(Uuid::now_v7()),
        connected_at: start,
        viewer: None,
    };
    store.add_connection(&conn).await.unwrap();
    clock.advance(Duration::from_secs(2 * 3600 - 1));
    assert_eq!(store.list_connections().await.unwrap(), vec![conn]);
    clock.advance(Duration::from_secs(1));
    assert!(store.list_connections().await.unwrap().is_empty());
}

// --- memory queue specifics -------------------------------------------------------------------

#[tokio::test]
async fn memory_queue_follows_a_manual_clock_for_delays_and_visibility() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(0)));
    let queue = MemoryQueue::with_clock(clock.clone());
    queue
        .send(
            QueueName::Timers,
            OutgoingMessage::delayed("timer".to_owned(), Duration::from_secs(60)),
        )
        .await
        .unwrap();
    let vis = Duration::from_secs(30);
    assert!(
        queue
            .receive(QueueName::Timers, 10, vis)
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(Duration::from_secs(60));
    let got = queue.receive(QueueName::Timers, 10, vis).await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(
        queue
            .receive(QueueName::Timers, 10, vis)
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(vis);
    let again = queue.receive(QueueName::Timers, 10, vis).await.unwrap();
    assert_eq!(again[0].receive_count, 2);
    assert_eq!(queue.pending(QueueName::Timers), vec!["timer".to_owned()]);
    queue
        .ack(QueueName::Timers, &again[0].receipt)
        .await
        .unwrap();
    assert!(queue.is_empty(QueueName::Timers));
}

#[tokio::test]
async fn memory_queue_with_max_receives_two_dead_letters_on_the_third_receive() {
    let queue = MemoryQueue::new().with_max_receives(2);
    let q = QueueName::Outbound;
    queue
        .send(q, OutgoingMessage::fifo("g", "d1", "m".to_owned()))
        .await
        .unwrap();
    for count in 1..=2 {
        let got = queue.receive(q, 1, Duration::from_secs(30)).await.unwrap();
        assert_eq!(got[0].receive_count, count);
        queue
            .retry_later(q, &got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    assert!(
        queue
            .receive(q, 1, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    let dead = queue.dead_letters(q, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "max receives exceeded");
    assert_eq!(dead[0].receive_count, 2);
}

#[tokio::test]
async fn memory_queue_refuses_fifo_messages_without_group_and_stale_receipts() {
    let queue = MemoryQueue::new();
    let refused = queue
        .send(
            QueueName::Inbound,
            OutgoingMessage::delayed("x".to_owned(), Duration::ZERO),
        )
        .await;
    assert!(matches!(refused, Err(QueueError::Refused(_))));
    queue
        .send(
            QueueName::Inbound,
            OutgoingMessage::fifo("g", "d", "x".to_owned()),
        )
        .await
        .unwrap();
    let got = queue
        .receive(QueueName::Inbound, 1, Duration::from_secs(30))
        .await
        .unwrap();
    queue
        .ack(QueueName::Inbound, &got[0].receipt)
        .await
        .unwrap();
    let stale = queue.ack(QueueName::Inbound, &got[0].receipt).await;
    assert!(matches!(stale, Err(QueueError::StaleReceipt(_))));
}

// --- memory telegram --------------------------------------------------------------------------

#[tokio::test]
async fn memory_telegram_records_sends_and_plays_scripted_failures_per_chat() {
    let tg = MemoryTelegram::new();
    let token = Secret::new(TOKEN);
    let chat = TelegramChatId(7);
    let other = TelegramChatId(8);
    assert_eq!(tg.send_message(&token, chat, "one").await, Ok(1));
    tg.fail_next(chat, TelegramError::RetryAfter(Duration::from_secs(3)));
    assert_eq!(
        tg.send_message(&token, chat, "two").await,
        Err(TelegramError::RetryAfter(Duration::from_secs(3)))
    );
    assert_eq!(tg.send_message(&token, other, "elsewhere").await, Ok(1));
    assert_eq!(tg.send_message(&token, chat, "two").await, Ok(2));
    assert_eq!(tg.sent_to(chat), vec!["one".to_owned(), "two".to_owned()]);
    assert_eq!(tg.sent().len(), 3);
    assert_eq!(tg.sent()[0].token, TOKEN);
    assert!(matches!(
        tg.send_message(&token, chat, &"x".repeat(4097)).await,
        Err(TelegramError::Rejected(_))
    ));
    assert!(matches!(
        tg.send_message(&Secret::new("nonsense"), chat, "hi").await,
        Err(TelegramError::BadToken(_))
    ));
}

#[tokio::test]
async fn memory_telegram_get_updates_honours_the_offset_and_wakes_long_polls() {
    let tg = Arc::new(MemoryTelegram::new());
    let token = Secret::new(TOKEN);
    tg.push_update(TOKEN, r#"{"update_id":10,"message":{}}"#);
    tg.push_update(TOKEN, r#"{"update_id":11,"message":{}}"#);
    let all = tg.get_updates(&token, None, Duration::ZERO).await.unwrap();
    assert_eq!(all.len(), 2);
    let rest = tg
        .get_updates(&token, Some(11), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(rest, vec![r#"{"update_id":11,"message":{}}"#.to_owned()]);
    let none = tg
        .get_updates(&token, Some(12), Duration::ZERO)
        .await
        .unwrap();
    assert!(none.is_empty());

    let pusher = tg.clone();
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        pusher.push_update(TOKEN, r#"{"update_id":12}"#);
    });
    let started = std::time::Instant::now();
    let woke = tg
        .get_updates(&token, Some(12), Duration::from_secs(10))
        .await
        .unwrap();
    later.await.unwrap();
    assert_eq!(woke, vec![r#"{"update_id":12}"#.to_owned()]);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn memory_telegram_keeps_webhook_state_and_reports_the_bot() {
    let tg = MemoryTelegram::new();
    let token = Secret::new(TOKEN);
    let secret = Secret::new("s3cret");
    tg.set_webhook(
        &token,
        "https://example.com/telegram/123456/webhook",
        &secret,
        true,
    )
    .await
    .unwrap();
    let state = tg.webhook(TOKEN).unwrap();
    assert_eq!(state.secret, secret);
    assert!(state.drop_pending);
    let info = tg.webhook_info(&token).await.unwrap();
    assert_eq!(info.url, "https://example.com/telegram/123456/webhook");
    assert!(matches!(
        tg.get_updates(&token, None, Duration::ZERO).await,
        Err(TelegramError::Rejected(_))
    ));
    tg.delete_webhook(&token).await.unwrap();
    assert!(tg.webhook(TOKEN).is_none());
    assert_eq!(tg.webhook_info(&token).await.unwrap().url, "");

    let me = tg.get_me(&token).await.unwrap();
    assert_eq!(me.id, BotId::parse("123456").unwrap());
    tg.fail_next_call(TelegramError::Transient("down".to_owned()));
    assert!(tg.get_me(&token).await.is_err());
    assert!(tg.get_me(&token).await.is_ok());
}

// --- use cases --------------------------------------------------------------------------------

fn agent(status: AgentStatus, capacity: u32) -> Agent {
    Agent {
        id: AgentId::from_uuid(Uuid::now_v7()),
        email: EmailAddress::parse(&format!("{}@example.com", Uuid::now_v7().simple())).unwrap(),
        name: "Agent".to_owned(),
        password_hash: PasswordHash::from_phc("$argon2id$x".to_owned()),
        teams: BTreeSet::new(),
        skills: BTreeSet::new(),
        languages: BTreeSet::new(),
        language: None,
        status,
        chosen_status: None,
        capacity,
        role: omnidesk_domain::Role::Agent,
        disabled: false,
        totp: false,
        totp_secret: None,
        created_at: Timestamp::from_millis(0),
    }
}

fn waiting(team: Option<&str>, skill: Option<&str>, language: Option<&str>) -> Conversation {
    let mut c = Conversation::new(
        ConversationId::from_uuid(Uuid::now_v7()),
        ConversationKey::parse(&format!("test:{}", Uuid::now_v7().simple())).unwrap(),
        ContactId::from_uuid(Uuid::now_v7()),
        Channel::Web,
        Timestamp::from_millis(0),
    );
    c.team = team.map(str::to_owned);
    c.skill = skill.map(str::to_owned);
    c.language = language.map(|l| omnidesk_domain::LanguageTag::parse(l).unwrap());
    c
}

/// Gives `agent` one more open conversation, last active at `at` ms.
async fn assign_one_at(store: &MemoryStore, agent: AgentId, at: i64) {
    let mut c = waiting(None, None, None);
    c.last_activity_at = Timestamp::from_millis(at);
    store.create_conversation(&c).await.unwrap();
    c.status = ConversationStatus::Assigned;
    c.assignee_id = Some(agent);
    store.update_conversation(&c).await.unwrap();
}

async fn assign_one(store: &MemoryStore, agent: AgentId) {
    assign_one_at(store, agent, 0).await;
}

async fn pick(store: &MemoryStore, c: &Conversation) -> Option<AgentId> {
    pick_agent_for(store, store, c, &[]).await.unwrap()
}

#[tokio::test]
async fn the_agent_with_the_fewest_open_conversations_is_picked_and_ties_go_to_the_longest_idle() {
    let store = system_store();
    let (a, b, c) = (
        agent(AgentStatus::Online, 5),
        agent(AgentStatus::Online, 5),
        agent(AgentStatus::Online, 5),
    );
    for x in [&a, &b, &c] {
        store.create_agent(x).await.unwrap();
    }
    assign_one_at(&store, a.id, 5_000).await;
    assign_one_at(&store, b.id, 1_000).await;
    assign_one_at(&store, c.id, 9_000).await;
    assign_one_at(&store, c.id, 9_500).await;
    // a and b hold one each, c two: b was idle longest.
    assert_eq!(pick(&store, &waiting(None, None, None)).await, Some(b.id));
    assign_one_at(&store, b.id, 10_000).await;
    assert_eq!(pick(&store, &waiting(None, None, None)).await, Some(a.id));
    // Someone who never had a conversation has been idle longest of all.
    let fresh = agent(AgentStatus::Online, 5);
    store.create_agent(&fresh).await.unwrap();
    assert_eq!(
        pick(&store, &waiting(None, None, None)).await,
        Some(fresh.id)
    );
    assert_eq!(
        pick_agent_for(&store, &store, &waiting(None, None, None), &[fresh.id])
            .await
            .unwrap(),
        Some(a.id)
    );
}

#[tokio::test]
async fn picking_skips_offline_and_busy_agents() {
    let store = system_store();
    let online = agent(AgentStatus::Online, 5);
    for a in [
        agent(AgentStatus::Offline, 5),
        online.clone(),
        agent(AgentStatus::Busy, 5),
    ] {
        store.create_agent(&a).await.unwrap();
    }
    for _ in 0..3 {
        assert_eq!(
            pick(&store, &waiting(None, None, None)).await,
            Some(online.id)
        );
    }
}

#[tokio::test]
async fn picking_respects_capacity_and_finds_nobody_when_everyone_is_full() {
    let store = system_store();
    let full = agent(AgentStatus::Online, 1);
    let free = agent(AgentStatus::Online, 2);
    store.create_agent(&full).await.unwrap();
    store.create_agent(&free).await.unwrap();
    assign_one(&store, full.id).await;
    assert_eq!(
        pick(&store, &waiting(None, None, None)).await,
        Some(free.id)
    );
    assign_one(&store, free.id).await;
    assign_one(&store, free.id).await;
    assert_eq!(pick(&store, &waiting(None, None, None)).await, None);
}

#[tokio::test]
async fn picking_finds_nobody_without_online_agents() {
    let store = system_store();
    store
        .create_agent(&agent(AgentStatus::Offline, 5))
        .await
        .unwrap();
    assert_eq!(pick(&store, &waiting(None, None, None)).await, None);
}

#[tokio::test]
async fn a_russian_vip_conversation_goes_to_the_least_busy_russian_reader_of_the_vip_team() {
    let store = system_store();
    let member = |teams: &[&str], langs: &[&str]| {
        let mut a = agent(AgentStatus::Online, 5);
        a.teams = teams.iter().map(|t| t.to_string()).collect();
        a.languages = langs
            .iter()
            .map(|l| omnidesk_domain::LanguageTag::parse(l).unwrap())
            .collect();
        a
    };
    let support_ru = member(&["support"], &["ru"]);
    let vip_en = member(&["vip"], &["en"]);
    let vip_ru_busy = member(&["vip"], &["ru", "en"]);
    let vip_ru = member(&["vip"], &["en", "ru"]);
    for a in [&support_ru, &vip_en, &vip_ru_busy, &vip_ru] {
        store.create_agent(a).await.unwrap();
    }
    assign_one(&store, vip_ru_busy.id).await;
    assign_one(&store, vip_ru_busy.id).await;
    assign_one(&store, vip_ru.id).await;
    let c = waiting(Some("vip"), None, Some("ru"));
    assert_eq!(pick(&store, &c).await, Some(vip_ru.id));
    // Nobody of the team reads it and has room: a member who does not read it (translated).
    let c = waiting(Some("vip"), None, Some("ja"));
    assert_eq!(pick(&store, &c).await, Some(vip_en.id));
    // A needed skill nobody has: it waits.
    let c = waiting(Some("vip"), Some("billing"), Some("ru"));
    assert_eq!(pick(&store, &c).await, None);
}

#[tokio::test]
async fn push_to_agents_delivers_to_live_connections_and_removes_gone_ones() {
    let store = system_store();
    let push = MemoryPush::new();
    let now = SystemClock.now();
    let live = ConnectionId("live".to_owned());
    let gone = ConnectionId("gone".to_owned());
    let failing = ConnectionId("failing".to_owned());
    push.connect(&live);
    push.connect(&failing);
    push.set_failing(&failing, true);
    for id in [&live, &gone, &failing] {
        store
            .add_connection(&Connection {
                id: id.clone(),
                agent_id: AgentId::from_uuid(Uuid::now_v7()),
                connected_at: now,
                viewer: None,
            })
            .await
            .unwrap();
    }
    let event = ServerEvent::Pong;
    let delivered = push_to_agents(&store, &store, &push, &event).await.unwrap();
    assert_eq!(delivered, 1);
    assert_eq!(push.frames(&live), vec![event.to_json()]);
    let left: Vec<ConnectionId> = store
        .list_connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(!left.contains(&gone), "the gone connection is removed");
    assert!(left.contains(&live));
    assert!(
        left.contains(&failing),
        "a transient failure does not remove the connection"
    );
}

#[tokio::test]
async fn memory_blob_store_passes_the_blob_suite_without_links() {
    let store = omnidesk_core::testing::MemoryBlobStore::new();
    omnidesk_core::testing::blob_suite::run_without_links(&store).await;
    // Content-addressed: six puts of five distinct files (one of them twice), one deleted.
    assert_eq!(store.len(), 4);
}
