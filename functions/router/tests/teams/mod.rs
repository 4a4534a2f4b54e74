//! Routing a team can run on: rules, teams, skills and languages, the queue with its
//! timeouts and prompt, business hours, staged rollout, presence, snooze and ratings.

use super::*;
use omnidesk_core::{OutboundJob, RoutingStore, StoredRules};
use omnidesk_domain::{Contact, Identity, LanguageTag, Priority, Tag, Team, TeamName};

async fn team(s: &Setup, name: &str, edit: impl FnOnce(&mut Team)) {
    let mut t = Team::new(TeamName::parse(name).unwrap(), s.clock.now());
    edit(&mut t);
    s.store.put_team(&t).await.unwrap();
}

async fn rules(s: &Setup, toml: &str) {
    let current = s.store.rules_version().await.unwrap();
    s.store
        .put_rules(
            &StoredRules {
                source: toml.to_owned(),
                format: "toml".to_owned(),
                version: current + 1,
                updated_at: s.clock.now(),
                updated_by: None,
            },
            current,
        )
        .await
        .unwrap();
    s.deps.settings.routing.invalidate();
}

async fn member(s: &Setup, email: &str, teams: &[&str], langs: &[&str]) -> Agent {
    let mut a = add_agent(s, email, AgentStatus::Online).await;
    a.teams = teams.iter().map(|t| t.to_string()).collect();
    a.languages = langs
        .iter()
        .map(|l| LanguageTag::parse(l).unwrap())
        .collect();
    s.store.update_agent(&a).await.unwrap();
    a
}

/// Gives `agent` `n` open conversations of other customers.
async fn busy(s: &Setup, agent: &Agent, n: usize) {
    for i in 0..n {
        let mut c = omnidesk_domain::Conversation::new(
            omnidesk_domain::ConversationId::from_uuid(uuid::Uuid::now_v7()),
            omnidesk_domain::ConversationKey::parse(&format!("web:busy:{}:{i}", agent.id)).unwrap(),
            omnidesk_domain::ContactId::from_uuid(uuid::Uuid::now_v7()),
            omnidesk_domain::Channel::Web,
            s.clock.now(),
        );
        s.store.create_conversation(&c).await.unwrap();
        c.status = ConversationStatus::Assigned;
        c.assignee_id = Some(agent.id);
        s.store.update_conversation(&c).await.unwrap();
    }
}

/// A contact of the test bot's Telegram user `user`, with tags.
async fn known_contact(s: &Setup, user: u64, tags: &[&str]) -> Contact {
    let mut c = Contact::new(
        omnidesk_domain::ContactId::from_uuid(uuid::Uuid::now_v7()),
        "Ann".to_owned(),
        Identity::Telegram {
            bot_id: bot(),
            user_id: TelegramUserId(user),
            username: None,
        },
        s.clock.now(),
    );
    c.tags = tags.iter().map(|t| Tag::parse(t).unwrap()).collect();
    s.store.create_contact(&c).await.unwrap();
    c
}

/// The texts the bot queued for customers, oldest first.
async fn bot_texts(s: &Setup) -> Vec<String> {
    let mut texts = Vec::new();
    for body in s.queue.pending(QueueName::Outbound) {
        let job: OutboundJob = serde_json::from_str(&body).unwrap();
        let m = s
            .store
            .get_message(job.conversation_id, job.message_id)
            .await
            .unwrap()
            .unwrap();
        texts.push(m.text);
    }
    texts
}

async fn conversation_of(s: &Setup, chat: i64) -> omnidesk_domain::Conversation {
    all_conversations(s)
        .await
        .into_iter()
        .find(|c| c.key.as_str() == format!("tg:{}:{chat}", bot()))
        .unwrap()
}

async fn send(s: &Setup, update: u32, chat: i64, text: &str) {
    let outcome = handle(
        &s.deps,
        &message(update, chat, ChatKind::Private, chat as u64, text),
    )
    .await
    .unwrap();
    assert_eq!(outcome, JobOutcome::Done);
}

/// The customer of `chat` presses "Talk to a person".
async fn ask_for_a_person(s: &Setup, update: u32, chat: i64) {
    let mut press = message(
        update,
        chat,
        ChatKind::Private,
        chat as u64,
        "Talk to a person",
    );
    if let InboundSource::Telegram(t) = &mut press.source {
        t.kind = "callback_query".to_owned();
        t.callback_data = Some("human".to_owned());
    }
    assert_eq!(handle(&s.deps, &press).await.unwrap(), JobOutcome::Done);
}

/// Lets `secs` pass and runs the timers due by then.
async fn after(s: &Setup, secs: u64) -> usize {
    s.clock.advance(std::time::Duration::from_secs(secs));
    let due = due_timers(s).await;
    for m in &due {
        handle_timer_body(&s.deps, &m.body).await.unwrap();
        s.queue.ack(QueueName::Timers, &m.receipt).await.unwrap();
    }
    due.len()
}

#[tokio::test]
async fn a_russian_vip_message_goes_to_the_least_busy_russian_reader_of_the_vip_team() {
    let mut s = setup().await;
    s.deps.settings.detector = Some(omnidesk_language::Detector::new(&["en", "ru"]).unwrap());
    team(&s, "vip", |_| {}).await;
    team(&s, "support", |_| {}).await;
    rules(
        &s,
        r#"
[[rules]]
name = "VIP customers"
when.tags = ["vip"]
then.team = "vip"
"#,
    )
    .await;
    let support_ru = member(&s, "ru@example.com", &["support"], &["ru"]).await;
    let vip_en = member(&s, "en@example.com", &["vip"], &["en"]).await;
    let vip_ru_busy = member(&s, "ru.busy@example.com", &["vip"], &["ru", "en"]).await;
    let vip_ru = member(&s, "ru.free@example.com", &["vip"], &["en", "ru"]).await;
    busy(&s, &vip_ru_busy, 3).await;
    busy(&s, &vip_ru, 1).await;
    let _ = (&support_ru, &vip_en);
    known_contact(&s, 777, &["vip"]).await;

    send(
        &s,
        1,
        777,
        "Здравствуйте! Не проходит оплата заказа, помогите пожалуйста",
    )
    .await;

    let c = conversation_of(&s, 777).await;
    assert_eq!(c.status, ConversationStatus::Assigned);
    assert_eq!(c.assignee_id, Some(vip_ru.id));
    assert_eq!(c.team.as_deref(), Some("vip"));
    assert_eq!(c.priority, Priority::High, "a VIP is high priority");
    assert_eq!(c.language.as_ref().map(|l| l.as_str()), Some("ru"));
}

#[tokio::test]
async fn a_waiting_customer_learns_their_place_and_a_vip_goes_first() {
    let s = setup().await;
    ask_for_a_person(&s, 1, 501).await;
    ask_for_a_person(&s, 2, 502).await;
    let texts = bot_texts(&s).await;
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[0].contains("number 1 in the queue"), "{texts:?}");
    assert!(texts[1].contains("number 2 in the queue"), "{texts:?}");
    // A VIP who writes later is offered first.
    known_contact(&s, 503, &["vip"]).await;
    ask_for_a_person(&s, 3, 503).await;
    let texts = bot_texts(&s).await;
    assert!(texts[2].contains("number 1 in the queue"), "{texts:?}");
    // An agent who comes online takes the VIP first.
    let agent = add_agent(&s, "a@example.com", AgentStatus::Offline).await;
    let mut one = agent.clone();
    one.capacity = 1;
    s.store.update_agent(&one).await.unwrap();
    handle_timer(&s.deps, &TimerJob::AgentBack { agent_id: agent.id })
        .await
        .unwrap();
    let vip = conversation_of(&s, 503).await;
    assert_eq!(vip.assignee_id, Some(agent.id));
    assert_eq!(
        s.store.get_agent(agent.id).await.unwrap().unwrap().status,
        AgentStatus::Online,
        "an agent whose dashboard is open is online"
    );
    assert_eq!(conversation_of(&s, 501).await.assignee_id, None);
}

#[tokio::test]
async fn an_unanswered_conversation_moves_on_after_the_teams_timeout_and_the_third_hop_sends_the_prompt()
 {
    let mut s = setup().await;
    s.deps.settings.default_team = Some("support".to_owned());
    team(&s, "support", |t| {
        t.answer_within_secs = 60;
        t.max_hops = 3;
        t.busy_prompt = Some("Everyone is busy; we will answer by e-mail.".to_owned());
    })
    .await;
    let a = member(&s, "a@example.com", &["support"], &[]).await;
    let b = member(&s, "b@example.com", &["support"], &[]).await;
    send(&s, 1, 601, "Hello?").await;
    let first = conversation_of(&s, 601).await.assignee_id.unwrap();
    let other = if first == a.id { b.id } else { a.id };

    // 59 s: nothing happens yet.
    assert_eq!(after(&s, 59).await, 0);
    assert_eq!(conversation_of(&s, 601).await.assignee_id, Some(first));
    // 60 s: the next agent.
    assert_eq!(after(&s, 1).await, 1);
    let c = conversation_of(&s, 601).await;
    assert_eq!((c.assignee_id, c.hops), (Some(other), 1));
    // Another 60 s: back to the first (the only other eligible one).
    after(&s, 60).await;
    let c = conversation_of(&s, 601).await;
    assert_eq!((c.assignee_id, c.hops), (Some(first), 2));
    assert!(
        bot_texts(&s)
            .await
            .iter()
            .all(|t| !t.contains("Everyone is busy"))
    );
    // The third hop: the customer gets the team's prompt, once, and the timers stop.
    after(&s, 60).await;
    let c = conversation_of(&s, 601).await;
    assert_eq!(c.hops, 3);
    let prompts = bot_texts(&s)
        .await
        .into_iter()
        .filter(|t| t.contains("Everyone is busy"))
        .count();
    assert_eq!(prompts, 1);
    assert_eq!(after(&s, 600).await, 0, "no timer after the last hop");
}

#[tokio::test]
async fn outside_business_hours_the_customer_gets_the_out_of_office_text_once() {
    let mut s = setup().await;
    s.deps.settings.default_team = Some("support".to_owned());
    // The test clock is Saturday 22 November 2025, 03:33 UTC.
    team(&s, "support", |t| {
        t.hours = "mon-fri 09:00-18:00".to_owned();
        t.timezone = "Europe/Berlin".to_owned();
        t.out_of_office = Some("We are closed; we open {next}.".to_owned());
    })
    .await;
    let agent = member(&s, "a@example.com", &["support"], &[]).await;
    send(&s, 1, 701, "Is anyone there?").await;
    send(&s, 2, 701, "Hello??").await;
    let texts = bot_texts(&s).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].starts_with("We are closed; we open Monday 09:00"),
        "{texts:?}"
    );
    let c = conversation_of(&s, 701).await;
    assert_eq!(
        c.status,
        ConversationStatus::Queued,
        "it waits for the opening"
    );
    assert_eq!(c.assignee_id, None);
    let _ = agent;
}

#[tokio::test]
async fn rules_answer_a_command_and_keywords_route_to_a_team_with_a_skill() {
    let s = setup().await;
    team(&s, "billing", |_| {}).await;
    rules(
        &s,
        r#"
[[rules]]
name = "Opening hours"
when.command = "hours"
then.reply = { en = "We are open 9–18, Monday to Friday.", de = "Wir haben Mo–Fr 9–18 Uhr geöffnet." }

[[rules]]
name = "Refunds"
when.keywords = ["refund", "money back"]
then.team = "billing"
then.skill = "refunds"
then.priority = "high"
then.tags = ["refund"]
"#,
    )
    .await;
    let generalist = member(&s, "g@example.com", &["billing"], &[]).await;
    let mut expert = member(&s, "e@example.com", &["billing"], &[]).await;
    expert.skills = ["refunds".to_owned()].into();
    s.store.update_agent(&expert).await.unwrap();

    send(&s, 1, 801, "/hours").await;
    assert_eq!(
        bot_texts(&s).await,
        ["Wir haben Mo–Fr 9–18 Uhr geöffnet."],
        "the customer writes German"
    );
    assert_eq!(
        conversation_of(&s, 801).await.status,
        ConversationStatus::Bot
    );

    send(&s, 2, 802, "I want my money back for order 1234").await;
    let c = conversation_of(&s, 802).await;
    assert_eq!(c.assignee_id, Some(expert.id));
    assert_eq!(
        (c.team.as_deref(), c.skill.as_deref()),
        (Some("billing"), Some("refunds"))
    );
    assert_eq!(c.priority, Priority::High);
    let contact = s.store.get_contact(c.contact_id).await.unwrap().unwrap();
    assert!(contact.tags.contains(&Tag::parse("refund").unwrap()));
    let _ = generalist;
}

#[tokio::test]
async fn a_ten_percent_rollout_takes_the_same_contacts_every_time() {
    let s = setup().await;
    rules(
        &s,
        r#"
[[rules]]
name = "beta"
when.rollout = 10
then.reply = "beta"
"#,
    )
    .await;
    let mut inside = Vec::new();
    for i in 0..400u32 {
        let chat = 10_000 + i64::from(i);
        send(&s, i + 1, chat, "hello").await;
        let c = conversation_of(&s, chat).await;
        if c.status == ConversationStatus::Bot {
            inside.push(c.contact_id);
        }
    }
    let share = inside.len() as f64 / 400.0;
    assert!((0.05..=0.15).contains(&share), "{share}");
    for id in &inside {
        assert!(omnidesk_rules::in_rollout(*id, 10));
        assert!(
            omnidesk_rules::in_rollout(*id, 20),
            "in at 10% stays in at 20%"
        );
    }
}

#[tokio::test]
async fn presence_follows_the_dashboard_and_an_agent_who_leaves_hands_back_what_they_did_not_answer()
 {
    let s = setup().await;
    let a = add_agent(&s, "a@example.com", AgentStatus::Online).await;
    send(&s, 1, 901, "Help please").await;
    assert_eq!(conversation_of(&s, 901).await.assignee_id, Some(a.id));
    // The dashboard closed a minute ago and no other is open: offline, and the unanswered
    // conversation goes back to the queue.
    s.store
        .remove_connection(&ConnectionId("c1".to_owned()))
        .await
        .unwrap();
    handle_timer(
        &s.deps,
        &TimerJob::AgentAway {
            agent_id: a.id,
            disconnected_at: s.clock.now(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        s.store.get_agent(a.id).await.unwrap().unwrap().status,
        AgentStatus::Offline
    );
    let c = conversation_of(&s, 901).await;
    assert_eq!(
        (c.status, c.assignee_id),
        (ConversationStatus::Queued, None)
    );
    // Back: online again (they never chose otherwise), and they take it again.
    s.store
        .add_connection(&Connection {
            id: ConnectionId("c2".to_owned()),
            agent_id: a.id,
            connected_at: s.clock.now(),
            viewer: None,
        })
        .await
        .unwrap();
    handle_timer(&s.deps, &TimerJob::AgentBack { agent_id: a.id })
        .await
        .unwrap();
    assert_eq!(
        s.store.get_agent(a.id).await.unwrap().unwrap().status,
        AgentStatus::Online
    );
    assert_eq!(conversation_of(&s, 901).await.assignee_id, Some(a.id));
    // One who chose busy stays busy when their dashboard connects.
    let mut b = add_agent(&s, "b@example.com", AgentStatus::Offline).await;
    b.chosen_status = Some(AgentStatus::Busy);
    s.store.update_agent(&b).await.unwrap();
    handle_timer(&s.deps, &TimerJob::AgentBack { agent_id: b.id })
        .await
        .unwrap();
    assert_eq!(
        s.store.get_agent(b.id).await.unwrap().unwrap().status,
        AgentStatus::Busy
    );
}

#[tokio::test]
async fn a_resolved_conversation_asks_for_a_rating_and_records_it_and_the_comment() {
    let s = setup().await;
    let a = add_agent(&s, "a@example.com", AgentStatus::Online).await;
    send(&s, 1, 951, "Thanks for the help").await;
    let mut c = conversation_of(&s, 951).await;
    assert_eq!(c.assignee_id, Some(a.id));
    c.resolve_at(Some(a.id), s.clock.now()).unwrap();
    let c = s.store.update_conversation(&c).await.unwrap();
    handle_timer(
        &s.deps,
        &TimerJob::CsatSurvey {
            conversation_id: c.id,
            resolved_at: c.resolved_at.unwrap(),
        },
    )
    .await
    .unwrap();
    let jobs: Vec<OutboundJob> = s
        .queue
        .pending(QueueName::Outbound)
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let survey = jobs.last().unwrap();
    let stored = s
        .store
        .get_message(c.id, survey.message_id)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.text.contains("rate"), "{}", stored.text);
    let data: Vec<&str> = stored.buttons.iter().map(|b| b.data.as_str()).collect();
    assert_eq!(data, ["csat:1", "csat:2", "csat:3", "csat:4", "csat:5"]);

    // The customer presses ★★★★★, then adds a comment: both recorded, still resolved.
    let mut press = message(2, 951, ChatKind::Private, 951, "⭐⭐⭐⭐⭐");
    if let InboundSource::Telegram(t) = &mut press.source {
        t.kind = "callback_query".to_owned();
        t.callback_data = Some("csat:5".to_owned());
    }
    handle(&s.deps, &press).await.unwrap();
    send(&s, 3, 951, "Quick and friendly, thank you").await;
    let c = conversation_of(&s, 951).await;
    assert_eq!(c.status, ConversationStatus::Resolved);
    let csat = c.csat.unwrap();
    assert_eq!(csat.score, 5);
    assert_eq!(
        csat.comment.as_deref(),
        Some("Quick and friendly, thank you")
    );
    // A later message is a new question: it reopens.
    s.clock.advance(std::time::Duration::from_secs(3600));
    send(&s, 4, 951, "One more thing about my order").await;
    assert_ne!(
        conversation_of(&s, 951).await.status,
        ConversationStatus::Resolved
    );
}

#[tokio::test]
async fn a_snoozed_conversation_wakes_up_by_its_timer_or_a_customer_message() {
    let s = setup().await;
    send(&s, 1, 961, "hello").await;
    let mut c = conversation_of(&s, 961).await;
    let until = s.clock.now().plus_millis(3_600_000);
    c.snoozed_until = Some(until);
    s.store.update_conversation(&c).await.unwrap();
    handle_timer(
        &s.deps,
        &TimerJob::Unsnooze {
            conversation_id: c.id,
            until,
        },
    )
    .await
    .unwrap();
    assert_eq!(conversation_of(&s, 961).await.snoozed_until, None);
    // Snoozed again; the customer writes: awake.
    let mut c = conversation_of(&s, 961).await;
    c.snoozed_until = Some(until);
    s.store.update_conversation(&c).await.unwrap();
    send(&s, 2, 961, "any news?").await;
    assert_eq!(conversation_of(&s, 961).await.snoozed_until, None);
}
