use std::sync::Arc;

use omnidesk_core::testing::{ManualClock, MemoryPush, MemoryQueue, MemoryStore};
use omnidesk_core::{
    AgentStore, BotConfig, BotMode, BotStore, Clock, Connection, ConnectionId, ConnectionStore,
    ConversationFilter, ConversationStore, JobOutcome, MessageStore, PageRequest, QueueName,
    Secret, UuidV7Ids,
};
use omnidesk_core::{ContactStore, Queue, TimerJob};
use omnidesk_domain::{
    Agent, AgentStatus, BotId, ChannelRef, ChatKind, ConversationStatus, EmailAddress, Identity,
    InboundEvent, InboundSource, PasswordHash, TelegramChatId, TelegramInbound, TelegramSender,
    TelegramUserId, Timestamp, UpdateId,
};
use omnidesk_router::{RouterDeps, RouterSettings, handle, handle_timer, handle_timer_body};

mod teams;
mod telegram;

struct Setup {
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    push: Arc<MemoryPush>,
    deps: RouterDeps,
    clock: Arc<ManualClock>,
}

fn bot() -> BotId {
    BotId::parse("4242").unwrap()
}

async fn setup() -> Setup {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_763_780_000_000)));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    // The queue runs on the test's clock: a timer's delay passes when the test says so.
    let queue = Arc::new(MemoryQueue::with_clock(clock.clone()));
    let push = Arc::new(MemoryPush::new());
    store
        .put_bot(&BotConfig {
            id: bot(),
            token: Secret::new("4242:AAtestTokenForTheFakeBotApi_abcdefgh"),
            webhook_secret: Secret::new("s"),
            username: Some("shop_bot".to_owned()),
            mode: BotMode::Webhook,
            poll_offset: None,
            created_at: clock.now(),
        })
        .await
        .unwrap();
    let conn = ConnectionId("c1".to_owned());
    push.connect(&conn);
    let deps = RouterDeps {
        contacts: store.clone(),
        conversations: store.clone(),
        messages: store.clone(),
        agents: store.clone(),
        bots: store.clone(),
        connections: store.clone(),
        routing: store.clone(),
        web: Some(store.clone()),
        visitors: Some(store.clone()),
        push: push.clone(),
        queue: queue.clone(),
        clock: clock.clone(),
        ids: Arc::new(UuidV7Ids),
        settings: RouterSettings::default(),
        retention: None,
    };
    Setup {
        store,
        queue,
        push,
        deps,
        clock,
    }
}

async fn add_agent(s: &Setup, email: &str, status: AgentStatus) -> Agent {
    let agent = Agent {
        id: omnidesk_core::IdGen::agent_id(&UuidV7Ids),
        email: EmailAddress::parse(email).unwrap(),
        name: email.to_owned(),
        password_hash: PasswordHash::from_phc("x".to_owned()),
        teams: Default::default(),
        skills: Default::default(),
        languages: Default::default(),
        language: None,
        status,
        chosen_status: None,
        capacity: 10,
        role: omnidesk_domain::Role::Agent,
        disabled: false,
        totp: false,
        totp_secret: None,
        created_at: s.clock.now(),
    };
    s.store.create_agent(&agent).await.unwrap();
    s.store
        .add_connection(&Connection {
            id: ConnectionId("c1".to_owned()),
            agent_id: agent.id,
            connected_at: s.clock.now(),
            viewer: None,
        })
        .await
        .unwrap();
    agent
}

fn message(update: u32, chat: i64, kind: ChatKind, user: u64, text: &str) -> InboundEvent {
    InboundEvent {
        source: InboundSource::Telegram(TelegramInbound {
            chat_id: Some(TelegramChatId(chat)),
            chat_kind: Some(kind),
            chat_title: None,
            from: Some(TelegramSender {
                user_id: TelegramUserId(user),
                is_bot: false,
                first_name: "Ann".to_owned(),
                last_name: None,
                username: None,
                language_code: Some("de".to_owned()),
            }),
            message_id: Some(update as i32),
            text: Some(text.to_owned()),
            attachments: vec![],
            mentions: vec![],
            reply_to_user: None,
            // Telegram's `date`: whole seconds, before the webhook received it.
            sent_at: Some(Timestamp::from_millis(
                1_763_779_999_000 + 1000 * i64::from(update),
            )),
            ..TelegramInbound::new(bot(), UpdateId(update), "message")
        }),
        received_at: Timestamp::from_millis(1_763_780_000_000 + 1000 * i64::from(update)),
    }
}

/// A conversation's messages (timeline events included), newest first: the first 50.
async fn timeline(s: &Setup, id: omnidesk_domain::ConversationId) -> Vec<omnidesk_domain::Message> {
    s.store
        .list_messages(id, &PageRequest::first(50))
        .await
        .unwrap()
        .items
}

async fn all_conversations(s: &Setup) -> Vec<omnidesk_domain::Conversation> {
    s.store
        .list_conversations(&ConversationFilter::default(), &PageRequest::first(100))
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn a_first_message_creates_contact_and_conversation_and_assigns_an_online_agent() {
    let s = setup().await;
    let agent = add_agent(&s, "a@example.com", AgentStatus::Online).await;
    assert_eq!(
        handle(&s.deps, &message(1, 77, ChatKind::Private, 77, "hi there"))
            .await
            .unwrap(),
        JobOutcome::Done
    );
    let convs = all_conversations(&s).await;
    assert_eq!(convs.len(), 1);
    assert_eq!(convs[0].status, ConversationStatus::Assigned);
    assert_eq!(convs[0].assignee_id, Some(agent.id));
    assert_eq!(convs[0].unread_count, 1);
    assert_eq!(convs[0].language.as_ref().map(|l| l.as_str()), Some("de"));
    let msgs = timeline(&s, convs[0].id).await;
    assert!(msgs.iter().any(|m| m.text == "hi there"));
    assert!(
        msgs.iter().any(|m| m.text == "Assigned"),
        "the timeline records the assignment"
    );
    let frames: Vec<serde_json::Value> = s
        .push
        .frames(&ConnectionId("c1".to_owned()))
        .iter()
        .map(|f| serde_json::from_str(f).unwrap())
        .collect();
    let types: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        vec!["message.created", "message.created"],
        "the inbound message, then the assignment carrying the conversation: no conversation.updated"
    );
    assert_eq!(frames[0]["message"]["text"], "hi there");
    assert!(frames[0].get("conversation").is_none());
    assert_eq!(frames[1]["message"]["event"]["event"], "assigned");
    assert_eq!(frames[1]["conversation"]["status"], "assigned");
    assert_eq!(frames[1]["conversation"]["unread_count"], 1);
    assert_eq!(frames[1]["conversation"]["id"], convs[0].id.to_string());
}

#[tokio::test]
async fn one_person_writing_to_two_bots_is_one_contact_and_each_message_names_its_bot() {
    let s = setup().await;
    add_agent(&s, "a@example.com", AgentStatus::Online).await;
    let after_sales = BotId::parse("5151").unwrap();
    s.store
        .put_bot(&BotConfig {
            id: after_sales,
            token: Secret::new("5151:AAtestTokenForTheOtherFakeBot_abcdefgh"),
            webhook_secret: Secret::new("t"),
            username: Some("shop_care_bot".to_owned()),
            mode: BotMode::Webhook,
            poll_offset: None,
            created_at: s.clock.now(),
        })
        .await
        .unwrap();
    let via = |bot: BotId, update: u32, user: u64, text: &str| {
        let mut e = message(update, user as i64, ChatKind::Private, user, text);
        if let InboundSource::Telegram(t) = &mut e.source {
            t.bot_id = bot;
        }
        e
    };
    handle(&s.deps, &via(bot(), 1, 77, "where is my order"))
        .await
        .unwrap();
    handle(&s.deps, &via(after_sales, 1, 77, "and the invoice?"))
        .await
        .unwrap();
    // Another person on the second bot stays another contact.
    handle(&s.deps, &via(after_sales, 2, 78, "hello"))
        .await
        .unwrap();

    let convs = all_conversations(&s).await;
    assert_eq!(convs.len(), 3, "one conversation per bot chat");
    let mut per_contact = std::collections::BTreeMap::new();
    for c in &convs {
        *per_contact.entry(c.contact_id).or_insert(0) += 1;
    }
    let counts: Vec<i32> = {
        let mut v: Vec<i32> = per_contact.values().copied().collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        counts,
        vec![1, 2],
        "the same Telegram user id through two bots is one contact; the other user is another"
    );
    let ann: Vec<_> = per_contact
        .iter()
        .filter(|(_, n)| **n == 2)
        .map(|(id, _)| *id)
        .collect();
    let contact = s.store.get_contact(ann[0]).await.unwrap().unwrap();
    let bots: Vec<BotId> = contact
        .identities
        .iter()
        .filter_map(|i| match i {
            Identity::Telegram { bot_id, .. } => Some(*bot_id),
            _ => None,
        })
        .collect();
    assert_eq!(
        bots.len(),
        2,
        "both bots' identities on the contact: {bots:?}"
    );
    assert!(bots.contains(&bot()) && bots.contains(&after_sales));

    // Each message says which bot it came through.
    for c in convs.iter().filter(|c| c.contact_id == ann[0]) {
        let customer: Vec<_> = timeline(&s, c.id)
            .await
            .into_iter()
            .filter(|m| m.direction == omnidesk_domain::Direction::Inbound)
            .collect();
        assert_eq!(customer.len(), 1);
        let Some(ChannelRef::Telegram { bot_id, .. }) = &customer[0].channel_ref else {
            panic!("no Telegram reference on {:?}", customer[0]);
        };
        let expected = if customer[0].text == "where is my order" {
            bot()
        } else {
            after_sales
        };
        assert_eq!(*bot_id, expected);
    }
}

#[tokio::test]
async fn without_an_online_agent_the_conversation_waits_in_the_queue() {
    let s = setup().await;
    add_agent(&s, "busy@example.com", AgentStatus::Busy).await;
    handle(&s.deps, &message(1, 77, ChatKind::Private, 77, "anyone?"))
        .await
        .unwrap();
    let convs = all_conversations(&s).await;
    assert_eq!(convs[0].status, ConversationStatus::Queued);
    assert_eq!(convs[0].assignee_id, None);
}

#[tokio::test]
async fn assignment_is_round_robin_across_online_agents() {
    let s = setup().await;
    let a = add_agent(&s, "a@example.com", AgentStatus::Online).await;
    let b = add_agent(&s, "b@example.com", AgentStatus::Online).await;
    for chat in 1..=4 {
        handle(
            &s.deps,
            &message(chat as u32, chat, ChatKind::Private, chat as u64, "q"),
        )
        .await
        .unwrap();
    }
    let convs = all_conversations(&s).await;
    let to_a = convs.iter().filter(|c| c.assignee_id == Some(a.id)).count();
    let to_b = convs.iter().filter(|c| c.assignee_id == Some(b.id)).count();
    assert_eq!((to_a, to_b), (2, 2));
}

#[tokio::test]
async fn a_redelivered_event_is_stored_once() {
    let s = setup().await;
    let ev = message(5, 77, ChatKind::Private, 77, "once");
    handle(&s.deps, &ev).await.unwrap();
    handle(&s.deps, &ev).await.unwrap();
    let convs = all_conversations(&s).await;
    assert_eq!(convs[0].unread_count, 1);
    let msgs = timeline(&s, convs[0].id).await;
    assert_eq!(msgs.iter().filter(|m| m.text == "once").count(), 1);
}

#[tokio::test]
async fn an_update_telegram_delivers_again_much_later_maps_to_the_same_message_id() {
    let s = setup().await;
    let first = message(6, 78, ChatKind::Private, 78, "twice delivered");
    // The webhook's answer was lost and Telegram retried after the queue's dedupe window:
    // a new queue message with a later receive time.
    let mut again = first.clone();
    again.received_at = first.received_at.plus_millis(10 * 60 * 1000);
    handle(&s.deps, &first).await.unwrap();
    handle(&s.deps, &again).await.unwrap();
    let convs = all_conversations(&s).await;
    let msgs = timeline(&s, convs[0].id).await;
    let stored: Vec<_> = msgs
        .iter()
        .filter(|m| m.text == "twice delivered")
        .collect();
    assert_eq!(stored.len(), 1);
    let InboundSource::Telegram(t) = &first.source else {
        panic!("a Telegram event")
    };
    // The message's own key on Telegram (the same for its edits), not the update's.
    let key = t.message_key().unwrap();
    assert_eq!(key, "tg:4242:78:6");
    assert_eq!(
        stored[0].id,
        omnidesk_domain::MessageId::derived(t.sent_at.unwrap(), 6, &key),
        "the id comes from the message (date, message id, message key), not the receive time"
    );
    assert!(stored[0].id.derived_from(&key));
    // The message is its own idempotency key, so the id alone drops a redelivery.
    assert_eq!(stored[0].source_key, Some(key));
    assert_eq!(convs[0].unread_count, 1);
}

#[tokio::test]
async fn start_is_answered_by_the_bot_and_needs_no_human() {
    let s = setup().await;
    add_agent(&s, "a@example.com", AgentStatus::Online).await;
    handle(&s.deps, &message(1, 77, ChatKind::Private, 77, "/start"))
        .await
        .unwrap();
    let convs = all_conversations(&s).await;
    assert_eq!(convs[0].status, ConversationStatus::Bot);
    let jobs = s.queue.pending(QueueName::Outbound);
    assert_eq!(jobs.len(), 1, "the greeting goes to the sender");
    let msgs = timeline(&s, convs[0].id).await;
    assert!(
        msgs.iter()
            .any(|m| m.author.kind() == "bot" && m.text.starts_with("Hi!"))
    );
    // A real question then goes to a human.
    handle(
        &s.deps,
        &message(2, 77, ChatKind::Private, 77, "my parcel is lost"),
    )
    .await
    .unwrap();
    assert_eq!(
        all_conversations(&s).await[0].status,
        ConversationStatus::Assigned
    );
}

#[tokio::test]
async fn group_messages_are_routed_only_when_they_address_the_bot_and_per_user() {
    let s = setup().await;
    handle(
        &s.deps,
        &message(1, -100, ChatKind::Supergroup, 5, "chatting among ourselves"),
    )
    .await
    .unwrap();
    assert!(all_conversations(&s).await.is_empty());
    let mut ev = message(2, -100, ChatKind::Supergroup, 5, "@shop_bot help me");
    let InboundSource::Telegram(t) = &mut ev.source else {
        panic!("a Telegram event")
    };
    t.mentions = vec!["shop_bot".to_owned()];
    handle(&s.deps, &ev).await.unwrap();
    let mut ev = message(3, -100, ChatKind::Supergroup, 6, "@shop_bot me too");
    let InboundSource::Telegram(t) = &mut ev.source else {
        panic!("a Telegram event")
    };
    t.mentions = vec!["shop_bot".to_owned()];
    handle(&s.deps, &ev).await.unwrap();
    let convs = all_conversations(&s).await;
    assert_eq!(convs.len(), 2, "one conversation per group member");
    let mut keys: Vec<_> = convs.iter().map(|c| c.key.as_str().to_owned()).collect();
    keys.sort();
    assert_eq!(keys, vec!["tg:4242:-100:5", "tg:4242:-100:6"]);
}

#[tokio::test]
async fn a_resolved_conversation_reopens_on_a_new_message() {
    let s = setup().await;
    add_agent(&s, "a@example.com", AgentStatus::Online).await;
    handle(&s.deps, &message(1, 77, ChatKind::Private, 77, "first"))
        .await
        .unwrap();
    let mut c = all_conversations(&s).await.remove(0);
    c.resolve(None).unwrap();
    s.store.update_conversation(&c).await.unwrap();
    handle(&s.deps, &message(2, 77, ChatKind::Private, 77, "again"))
        .await
        .unwrap();
    let c = all_conversations(&s).await.remove(0);
    assert_eq!(c.status, ConversationStatus::Assigned);
    let msgs = timeline(&s, c.id).await;
    assert!(msgs.iter().any(|m| m.text == "Reopened"));
}

#[tokio::test]
async fn unsupported_update_kinds_and_bodies_are_handled_without_failing() {
    let s = setup().await;
    let mut ev = message(1, 77, ChatKind::Private, 77, "");
    let InboundSource::Telegram(t) = &mut ev.source else {
        panic!("a Telegram event")
    };
    t.kind = "edited_message".to_owned();
    assert_eq!(handle(&s.deps, &ev).await.unwrap(), JobOutcome::Done);
    assert!(all_conversations(&s).await.is_empty());
    let err = omnidesk_router::handle_body(&s.deps, "not json")
        .await
        .unwrap_err();
    assert!(matches!(err, omnidesk_core::JobError::Permanent(_)));
}

/// The reassignment timers waiting on the timers queue (delayed or not).
fn timers(s: &Setup) -> Vec<TimerJob> {
    s.queue
        .pending(QueueName::Timers)
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect()
}

/// Receives the timers that are due now (as the timers worker would).
async fn due_timers(s: &Setup) -> Vec<omnidesk_core::Received> {
    s.queue
        .receive(QueueName::Timers, 10, std::time::Duration::from_secs(30))
        .await
        .unwrap()
}

/// Lets the reassignment delay pass and runs every timer that is now due, as the timers
/// worker would.
async fn fire_due_timers(s: &Setup) -> usize {
    s.clock.advance(RouterSettings::REASSIGN_AFTER);
    let due = due_timers(s).await;
    for m in &due {
        assert_eq!(
            handle_timer_body(&s.deps, &m.body).await.unwrap(),
            JobOutcome::Done
        );
        s.queue.ack(QueueName::Timers, &m.receipt).await.unwrap();
    }
    due.len()
}

/// The timeline events (system messages) of a conversation, newest first.
async fn timeline_events(
    s: &Setup,
    id: omnidesk_domain::ConversationId,
) -> Vec<omnidesk_domain::SystemEvent> {
    timeline(s, id)
        .await
        .into_iter()
        .filter_map(|m| m.event)
        .collect()
}

/// Two online agents, and a first message that assigned its conversation to one of them.
async fn two_agents_and_a_first_message() -> Setup {
    let s = setup().await;
    add_agent(&s, "a@example.com", AgentStatus::Online).await;
    add_agent(&s, "b@example.com", AgentStatus::Online).await;
    handle(&s.deps, &message(1, 77, ChatKind::Private, 77, "hi"))
        .await
        .unwrap();
    s
}

async fn the_conversation(s: &Setup) -> omnidesk_domain::Conversation {
    let convs = all_conversations(s).await;
    assert_eq!(convs.len(), 1);
    convs.into_iter().next().unwrap()
}

#[tokio::test]
async fn an_automatic_assignment_schedules_a_reassignment_check_that_waits_for_its_delay() {
    let s = setup().await;
    let agent = add_agent(&s, "a@example.com", AgentStatus::Online).await;
    handle(&s.deps, &message(1, 77, ChatKind::Private, 77, "hi"))
        .await
        .unwrap();
    let c = the_conversation(&s).await;
    assert_eq!(
        timers(&s),
        vec![TimerJob::ReassignIfUnanswered {
            conversation_id: c.id,
            agent_id: agent.id,
            assigned_at: s.clock.now(),
            hops: 0,
        }]
    );
    // A second message of the assigned conversation schedules nothing more.
    handle(&s.deps, &message(2, 77, ChatKind::Private, 77, "hello?"))
        .await
        .unwrap();
    assert_eq!(timers(&s).len(), 1);
    let early = due_timers(&s).await;
    assert!(early.is_empty(), "not due before the delay");
    s.clock.advance(RouterSettings::REASSIGN_AFTER);
    let due = due_timers(&s).await;
    assert_eq!(due.len(), 1, "due once the delay has passed");
}

#[tokio::test]
async fn an_unanswered_conversation_goes_to_another_online_agent_when_its_timer_fires() {
    let s = setup().await;
    let a = add_agent(&s, "a@example.com", AgentStatus::Online).await;
    let b = add_agent(&s, "b@example.com", AgentStatus::Online).await;
    handle(&s.deps, &message(1, 77, ChatKind::Private, 77, "hi"))
        .await
        .unwrap();
    let first = the_conversation(&s).await.assignee_id.unwrap();
    let other = if first == a.id { b.id } else { a.id };
    let frames_before = s.push.frames(&ConnectionId("c1".to_owned())).len();

    assert_eq!(fire_due_timers(&s).await, 1);

    let c = the_conversation(&s).await;
    assert_eq!(c.status, ConversationStatus::Assigned);
    assert_eq!(
        c.assignee_id,
        Some(other),
        "given to the other online agent"
    );
    let transferred: Vec<_> = timeline_events(&s, c.id)
        .await
        .into_iter()
        .filter(|e| matches!(e, omnidesk_domain::SystemEvent::Transferred { .. }))
        .collect();
    assert_eq!(
        transferred,
        vec![omnidesk_domain::SystemEvent::Transferred {
            from: first,
            to: other,
            by: None
        }]
    );
    // Agents see it move: the timeline event, carrying the conversation as it now is.
    let frames: Vec<serde_json::Value> = s.push.frames(&ConnectionId("c1".to_owned()))
        [frames_before..]
        .iter()
        .map(|f| serde_json::from_str(f).unwrap())
        .collect();
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["message"]["event"]["event"], "transferred");
    assert_eq!(frames[0]["conversation"]["assignee_id"], other.to_string());
    // The new agent gets a timer of their own.
    assert_eq!(
        timers(&s),
        vec![TimerJob::ReassignIfUnanswered {
            conversation_id: c.id,
            agent_id: other,
            assigned_at: s.clock.now(),
            hops: 1,
        }]
    );
}

#[tokio::test]
async fn a_reply_before_the_timer_fires_keeps_the_conversation_with_its_agent() {
    let s = two_agents_and_a_first_message().await;
    let mut c = the_conversation(&s).await;
    let agent = c.assignee_id.unwrap();
    s.clock.advance(std::time::Duration::from_secs(60));
    let reply = omnidesk_domain::Message::outbound(
        omnidesk_core::IdGen::message_id(&UuidV7Ids),
        c.id,
        omnidesk_domain::Author::Agent { id: agent },
        omnidesk_domain::Channel::Telegram,
        "On it!".to_owned(),
        s.clock.now(),
    );
    c.record_message(&reply);
    s.store.update_conversation(&c).await.unwrap();

    assert_eq!(fire_due_timers(&s).await, 1);
    let after = the_conversation(&s).await;
    assert_eq!(after.assignee_id, Some(agent));
    assert!(timers(&s).is_empty(), "nothing more to check");
}

#[tokio::test]
async fn with_nobody_else_an_online_agent_keeps_it_and_an_offline_one_loses_it_to_the_queue() {
    let s = setup().await;
    let mut agent = add_agent(&s, "a@example.com", AgentStatus::Online).await;
    handle(&s.deps, &message(1, 77, ChatKind::Private, 77, "hi"))
        .await
        .unwrap();
    let job = timers(&s).remove(0);

    assert_eq!(handle_timer(&s.deps, &job).await.unwrap(), JobOutcome::Done);
    let c = the_conversation(&s).await;
    assert_eq!(
        (c.status, c.assignee_id),
        (ConversationStatus::Assigned, Some(agent.id)),
        "the only agent online keeps it"
    );

    agent.status = AgentStatus::Offline;
    s.store.update_agent(&agent).await.unwrap();
    assert_eq!(handle_timer(&s.deps, &job).await.unwrap(), JobOutcome::Done);
    let c = the_conversation(&s).await;
    assert_eq!(
        (c.status, c.assignee_id),
        (ConversationStatus::Queued, None),
        "an offline agent's unanswered conversation goes back to the queue"
    );
    assert!(
        timeline_events(&s, c.id)
            .await
            .contains(&omnidesk_domain::SystemEvent::Unassigned {
                agent: agent.id,
                by: None
            })
    );
    // Firing again (a redelivered timer) changes nothing: the agent no longer has it.
    let version = c.version;
    assert_eq!(handle_timer(&s.deps, &job).await.unwrap(), JobOutcome::Done);
    assert_eq!(the_conversation(&s).await.version, version);
}

#[tokio::test]
async fn an_unanswered_conversation_is_passed_on_at_most_three_times() {
    let s = two_agents_and_a_first_message().await;
    let mut fired = 0;
    while fire_due_timers(&s).await > 0 {
        fired += 1;
        assert!(fired <= 10, "timers never stop");
    }
    assert_eq!(fired, RouterSettings::MAX_REASSIGNMENTS as usize);
    let c = the_conversation(&s).await;
    let transfers = timeline_events(&s, c.id)
        .await
        .iter()
        .filter(|e| matches!(e, omnidesk_domain::SystemEvent::Transferred { .. }))
        .count();
    assert_eq!(transfers, 3);
    assert_eq!(
        c.status,
        ConversationStatus::Assigned,
        "it stays with the last one"
    );
}

#[tokio::test]
async fn reassignment_can_be_turned_off_and_a_malformed_timer_is_a_permanent_failure() {
    let mut s = setup().await;
    s.deps.settings.reassign_after = None;
    add_agent(&s, "a@example.com", AgentStatus::Online).await;
    handle(&s.deps, &message(1, 77, ChatKind::Private, 77, "hi"))
        .await
        .unwrap();
    assert_eq!(
        the_conversation(&s).await.status,
        ConversationStatus::Assigned
    );
    assert!(timers(&s).is_empty());
    let err = handle_timer_body(&s.deps, r#"{"timer":"nap"}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(err, omnidesk_core::JobError::Permanent(ref m) if m.contains("not a timer job")),
        "{err:?}"
    );
}

#[test]
fn reassignment_delay_is_read_from_the_environment_and_checked() {
    let read = |v: Option<&str>| {
        RouterSettings::from_lookup(|name| {
            (name == "OMNIDESK_REASSIGN_AFTER_SECS")
                .then(|| v.map(str::to_owned))
                .flatten()
        })
    };
    let secs = |n| Some(std::time::Duration::from_secs(n));
    assert_eq!(read(None).unwrap().reassign_after, secs(60));
    assert_eq!(read(Some(" ")).unwrap().reassign_after, secs(60));
    assert_eq!(read(Some("120")).unwrap().reassign_after, secs(120));
    assert_eq!(read(Some("900")).unwrap().reassign_after, secs(900));
    assert_eq!(read(Some("0")).unwrap().reassign_after, None);
    for bad in ["901", "5m", "-1"] {
        let err = read(Some(bad)).unwrap_err();
        assert!(err.contains("OMNIDESK_REASSIGN_AFTER_SECS"), "{bad}: {err}");
    }
    let custom = RouterSettings::from_lookup(|name| match name {
        "OMNIDESK_BOT_GREETING" => Some("Moin!".to_owned()),
        _ => None,
    })
    .unwrap();
    assert_eq!(custom.greeting, "Moin!");
    assert_eq!(custom.help, RouterSettings::default().help);
}

// ---------------------------------------------------------------------------------------------
// The website channel and "Continue on Telegram": one router path for every channel.

struct WebVisitor {
    website: omnidesk_domain::WebsiteId,
    visitor: omnidesk_domain::VisitorId,
}

impl WebVisitor {
    fn new() -> Self {
        Self {
            website: omnidesk_domain::WebsiteId::from_uuid(uuid_v7()),
            visitor: omnidesk_domain::VisitorId::from_uuid(uuid_v7()),
        }
    }
    fn key(&self) -> omnidesk_domain::ConversationKey {
        omnidesk_domain::ConversationKey::web(self.website, self.visitor)
    }
    fn identity(&self) -> omnidesk_domain::Identity {
        omnidesk_domain::Identity::WebVisitor {
            visitor_id: self.visitor.to_string(),
        }
    }
    fn says(&self, n: u32, text: &str) -> InboundEvent {
        let at = Timestamp::from_millis(1_763_780_000_000 + 1000 * i64::from(n));
        InboundEvent::message(
            omnidesk_domain::ChannelMessage {
                sent_at: Some(at),
                ..omnidesk_domain::ChannelMessage::new(
                    self.key(),
                    self.identity(),
                    "Website visitor",
                    text,
                    format!("webmsg:{}:c{n}", self.visitor),
                )
            },
            at,
        )
    }
}

fn uuid_v7() -> uuid::Uuid {
    omnidesk_core::IdGen::uuid(&UuidV7Ids)
}

async fn issue_handoff(
    s: &Setup,
    v: &WebVisitor,
    conversation: Option<omnidesk_domain::ConversationId>,
) -> String {
    let contact = s
        .store
        .contact_id_by_identity(&v.identity().key())
        .await
        .unwrap();
    let token = format!("tok{}", uuid_v7().simple());
    let grant = omnidesk_core::HandoffGrant {
        from: omnidesk_domain::Channel::Web,
        bot_id: Some(bot()),
        identity: v.identity(),
        contact_id: contact,
        conversation_id: conversation,
        key: Some(v.key()),
    };
    omnidesk_core::WebStore::put_token(
        s.store.as_ref(),
        &omnidesk_core::StoredToken {
            kind: omnidesk_core::TokenKind::Handoff,
            hash: omnidesk_core::token_hash(&token),
            owner: v.visitor.to_string(),
            payload: serde_json::to_string(&grant).unwrap(),
            expires_at: s.clock.now().plus_millis(600_000),
        },
    )
    .await
    .unwrap();
    token
}

#[tokio::test]
async fn a_web_chat_continued_on_telegram_is_one_conversation_with_a_summary_on_telegram() {
    let s = setup().await;
    let agent = add_agent(&s, "ann@example.com", AgentStatus::Online).await;
    let v = WebVisitor::new();
    // The visitor's widget is open.
    let widget = ConnectionId("widget-1".to_owned());
    s.push.connect(&widget);
    omnidesk_core::VisitorConnectionStore::add_visitor_connection(
        s.store.as_ref(),
        &omnidesk_core::VisitorConnection {
            id: widget.clone(),
            website_id: v.website,
            visitor_id: v.visitor,
            connected_at: s.clock.now(),
        },
    )
    .await
    .unwrap();

    handle(&s.deps, &v.says(1, "Order #1024 has no tracking update"))
        .await
        .unwrap();
    let conv = all_conversations(&s).await.remove(0);
    assert_eq!(conv.key, v.key());
    assert_eq!(conv.channel, omnidesk_domain::Channel::Web);
    assert_eq!(
        conv.assignee_id,
        Some(agent.id),
        "the web chat reaches an agent"
    );
    let first = s.push.frames(&widget);
    assert!(
        first.iter().any(|f| f.contains("Order #1024")),
        "the visitor's own message shows in their widget: {first:?}"
    );
    assert!(
        first.iter().all(|f| !f.contains("\"assigned\"")),
        "internal timeline events are not shown to visitors: {first:?}"
    );
    // The agent answers on the web.
    let reply = omnidesk_domain::Message::outbound(
        omnidesk_core::IdGen::message_id(&UuidV7Ids),
        conv.id,
        omnidesk_domain::Author::Agent { id: agent.id },
        omnidesk_domain::Channel::Web,
        "The parcel left the warehouse today.".to_owned(),
        s.clock.now().plus_millis(5_000),
    );
    s.store.append_message(&reply).await.unwrap();

    // "Continue on Telegram": the bot receives /start <token> in a private chat.
    let token = issue_handoff(&s, &v, Some(conv.id)).await;
    handle(
        &s.deps,
        &message(10, 900, ChatKind::Private, 900, &format!("/start {token}")),
    )
    .await
    .unwrap();

    let convs = all_conversations(&s).await;
    assert_eq!(convs.len(), 1, "still one conversation: {convs:?}");
    let conv = &convs[0];
    use omnidesk_domain::Channel::{Telegram, Web};
    assert_eq!(conv.channel_path, vec![Web, Telegram]);
    assert_eq!(conv.channel, Telegram, "replies now go to Telegram");
    assert_eq!(
        conv.key_on(Telegram).map(|k| k.as_str().to_owned()),
        Some("tg:4242:900".to_owned())
    );
    assert_eq!(conv.assignee_id, Some(agent.id), "the agent keeps it");
    let by_tg = s
        .store
        .conversation_by_key(&omnidesk_domain::ConversationKey::parse("tg:4242:900").unwrap())
        .await
        .unwrap();
    assert_eq!(
        by_tg.map(|c| c.id),
        Some(conv.id),
        "the Telegram chat leads to it"
    );
    // The Telegram user joined the visitor's contact (by numeric id).
    let contact = s.store.get_contact(conv.contact_id).await.unwrap().unwrap();
    assert!(
        contact
            .identities
            .iter()
            .any(|i| i.key().as_str() == "tg:4242:900"),
        "{contact:?}"
    );
    // The timeline says "Website → Telegram"; the bot's summary goes out on Telegram.
    let msgs = timeline(&s, conv.id).await;
    assert!(msgs.iter().any(|m| {
        m.event
            .as_ref()
            .is_some_and(|e| e.describe() == "Website → Telegram")
    }));
    let summary = msgs
        .iter()
        .find(|m| m.author.kind() == "bot")
        .expect("the bot's summary");
    assert_eq!(summary.channel, Telegram);
    assert!(
        summary.text.starts_with(
            "We've synced your conversation from the website (order #1024, tracking)."
        ),
        "{}",
        summary.text
    );
    assert!(
        summary
            .text
            .contains("The parcel left the warehouse today.")
    );
    assert!(
        msgs.iter().all(|m| !m.text.contains(&token)),
        "the token is not kept in the timeline"
    );
    assert_eq!(
        s.queue.len(QueueName::Outbound),
        1,
        "the summary goes to the sender"
    );
    // The still-open widget hears about the move.
    let frames = s.push.frames(&widget);
    assert!(
        frames.iter().any(|f| f.contains("session.updated")),
        "{frames:?}"
    );
    assert!(frames.iter().any(|f| f.contains("Website → Telegram")));

    // The next Telegram message lands in the same conversation.
    handle(
        &s.deps,
        &message(11, 900, ChatKind::Private, 900, "any news?"),
    )
    .await
    .unwrap();
    assert_eq!(all_conversations(&s).await.len(), 1);

    // The same link used again binds nothing and says so.
    handle(
        &s.deps,
        &message(12, 901, ChatKind::Private, 901, &format!("/start {token}")),
    )
    .await
    .unwrap();
    let convs = all_conversations(&s).await;
    assert_eq!(convs.len(), 2, "the replay starts its own chat");
    let other = convs.iter().find(|c| c.id != conv.id).unwrap();
    let texts: Vec<String> = timeline(&s, other.id)
        .await
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("expired or was already used")),
        "{texts:?}"
    );
    let stranger = s
        .store
        .get_contact(other.contact_id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stranger.id, contact.id, "nothing was bound to the visitor");
}

#[tokio::test]
async fn forged_expired_group_and_other_bot_tokens_bind_nothing() {
    let s = setup().await;
    let v = WebVisitor::new();
    handle(&s.deps, &v.says(1, "hello from the site"))
        .await
        .unwrap();
    let web = all_conversations(&s).await.remove(0);

    // Forged.
    handle(
        &s.deps,
        &message(2, 700, ChatKind::Private, 700, "/start forgedTokenXYZ"),
    )
    .await
    .unwrap();
    // Expired.
    let expired = issue_handoff(&s, &v, Some(web.id)).await;
    s.clock.advance(std::time::Duration::from_secs(601));
    handle(
        &s.deps,
        &message(3, 701, ChatKind::Private, 701, &format!("/start {expired}")),
    )
    .await
    .unwrap();
    // In a group.
    let group = issue_handoff(&s, &v, Some(web.id)).await;
    handle(
        &s.deps,
        &message(
            4,
            -100,
            ChatKind::Supergroup,
            702,
            &format!("/start@shop_bot {group}"),
        ),
    )
    .await
    .unwrap();

    let web = s.store.get_conversation(web.id).await.unwrap().unwrap();
    assert_eq!(web.channel_path, vec![omnidesk_domain::Channel::Web]);
    assert!(web.key_on(omnidesk_domain::Channel::Telegram).is_none());
    let contact = s.store.get_contact(web.contact_id).await.unwrap().unwrap();
    assert_eq!(contact.identities.len(), 1, "nothing joined: {contact:?}");
    let replies: Vec<String> = {
        let mut all = Vec::new();
        for c in all_conversations(&s).await {
            for m in timeline(&s, c.id).await {
                if m.author.kind() == "bot" {
                    all.push(m.text);
                }
            }
        }
        all
    };
    assert_eq!(
        replies
            .iter()
            .filter(|t| t.contains("expired or was already used"))
            .count(),
        2,
        "{replies:?}"
    );
    assert!(
        replies.iter().any(|t| t.contains("private chat")),
        "{replies:?}"
    );
}

#[tokio::test]
async fn a_telegram_user_known_before_merges_into_the_visitor_on_proof() {
    let s = setup().await;
    // The Telegram user chatted with the bot before: a contact and a conversation of their own.
    handle(
        &s.deps,
        &message(1, 900, ChatKind::Private, 900, "hello bot"),
    )
    .await
    .unwrap();
    let old = all_conversations(&s).await.remove(0);
    let v = WebVisitor::new();
    handle(&s.deps, &v.says(2, "Order #77123 is late"))
        .await
        .unwrap();
    let web = all_conversations(&s)
        .await
        .into_iter()
        .find(|c| c.id != old.id)
        .unwrap();
    assert_ne!(web.contact_id, old.contact_id);

    let token = issue_handoff(&s, &v, Some(web.id)).await;
    handle(
        &s.deps,
        &message(3, 900, ChatKind::Private, 900, &format!("/start {token}")),
    )
    .await
    .unwrap();

    let web_contact = s.store.get_contact(web.contact_id).await.unwrap().unwrap();
    let keys: Vec<String> = web_contact
        .identities
        .iter()
        .map(|i| i.key().as_str().to_owned())
        .collect();
    assert!(keys.contains(&"tg:4242:900".to_owned()), "{keys:?}");
    let old_contact = s.store.get_contact(old.contact_id).await.unwrap().unwrap();
    assert_eq!(
        old_contact.merged_into,
        Some(web.contact_id),
        "a pointer remains"
    );
    assert!(old_contact.identities.is_empty());
    // Both conversations are the visitor's now; the Telegram chat leads to the web one.
    let convs = all_conversations(&s).await;
    assert!(
        convs.iter().all(|c| c.contact_id == web.contact_id),
        "{convs:?}"
    );
    let by_tg = s
        .store
        .conversation_by_key(&omnidesk_domain::ConversationKey::parse("tg:4242:900").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_tg.id, web.id);
    let old_events: Vec<String> = timeline(&s, old.id)
        .await
        .into_iter()
        .filter_map(|m| m.event.map(|e| e.describe()))
        .collect();
    assert!(
        old_events.iter().any(|e| e.starts_with("Contacts merged")),
        "{old_events:?}"
    );
    // The next Telegram message goes to the continued conversation, under the same contact.
    handle(&s.deps, &message(4, 900, ChatKind::Private, 900, "thanks"))
        .await
        .unwrap();
    let texts: Vec<String> = timeline(&s, web.id)
        .await
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert!(texts.contains(&"thanks".to_owned()), "{texts:?}");
}

#[tokio::test]
async fn a_link_asked_for_before_the_first_message_was_routed_still_continues_that_chat() {
    let s = setup().await;
    let v = WebVisitor::new();
    // The visitor clicks "Continue on Telegram" while their first message is still queued.
    let token = issue_handoff(&s, &v, None).await;
    handle(&s.deps, &v.says(1, "Order #1024 has no tracking update"))
        .await
        .unwrap();
    handle(
        &s.deps,
        &message(2, 900, ChatKind::Private, 900, &format!("/start {token}")),
    )
    .await
    .unwrap();
    let convs = all_conversations(&s).await;
    assert_eq!(convs.len(), 1, "{convs:?}");
    assert_eq!(
        convs[0].channel_path,
        vec![
            omnidesk_domain::Channel::Web,
            omnidesk_domain::Channel::Telegram
        ]
    );
    let contact = s
        .store
        .get_contact(convs[0].contact_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(contact.identities.len(), 2, "{contact:?}");
}

#[tokio::test]
async fn the_text_decides_the_language_and_one_short_message_never_switches_the_conversation() {
    let mut s = setup().await;
    s.deps.settings.detector = Some(omnidesk_language::Detector::new(&["en", "ru", "de"]).unwrap());
    // Russian text from an app set to German: the text wins over the hint.
    let ru = "Здравствуйте, мой заказ до сих пор не пришёл, что случилось?";
    handle(&s.deps, &message(1, 900, ChatKind::Private, 900, ru))
        .await
        .unwrap();
    let c = the_conversation(&s).await;
    assert_eq!(c.language.as_ref().map(|l| l.as_str()), Some("ru"));
    let first = timeline(&s, c.id).await.pop().unwrap();
    assert_eq!(first.language.as_ref().map(|l| l.as_str()), Some("ru"));

    // One short message in another language does not switch the conversation; two clear
    // English messages in a row do.
    assert_eq!(say(&s, 2, "ok thanks").await.as_deref(), Some("ru"));
    assert_eq!(
        say(&s, 3, "Could we continue in English please?")
            .await
            .as_deref(),
        Some("ru"),
        "seen once: pending"
    );
    assert_eq!(
        say(&s, 4, "When will the parcel arrive at my home?")
            .await
            .as_deref(),
        Some("en")
    );
    let c = the_conversation(&s).await;
    assert_eq!(c.language.as_ref().map(|l| l.as_str()), Some("en"));
    assert_eq!(c.language_pending, None);

    // Without a detector the channel's hint stays (the default of older deployments).
    let plain = setup().await;
    handle(&plain.deps, &message(1, 901, ChatKind::Private, 901, ru))
        .await
        .unwrap();
    assert_eq!(
        the_conversation(&plain)
            .await
            .language
            .as_ref()
            .map(|l| l.as_str()),
        Some("de")
    );
}

/// Routes `text` from the Telegram chat 900 as update `n`; returns the conversation's language.
async fn say(s: &Setup, n: u32, text: &str) -> Option<String> {
    handle(&s.deps, &message(n, 900, ChatKind::Private, 900, text))
        .await
        .unwrap();
    the_conversation(s)
        .await
        .language
        .map(|l| l.as_str().to_owned())
}
