//! The translate queue's worker over the memory adapters: who gets a customer's message in
//! which language, a reply translated then queued for the sender, a held reply, the bot's
//! texts and their secret link.

mod support;

use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::testing::{ManualClock, MemoryPush, MemoryQueue, MemoryStore};
use omnidesk_core::{
    AgentStore, JobOutcome, MessageStore, OutboundJob, Queue, QueueName, SECRET_LINK_MARK,
    TranslateJob,
};
use omnidesk_domain::{
    Agent, AgentId, AgentStatus, Author, Channel, ContactId, ConversationId, EmailAddress,
    LanguageTag, Message, MessageId, PasswordHash, Timestamp, TranslationStatus,
};
use omnidesk_translator::{
    ServiceSettings, TranslationService, TranslatorDeps, WorkerSettings, handle,
};
use support::FakeTranslator;
use uuid::Uuid;

fn tag(s: &str) -> LanguageTag {
    LanguageTag::parse(s).unwrap()
}

struct World {
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    clock: Arc<ManualClock>,
    deps: TranslatorDeps,
}

async fn world(translator: Arc<FakeTranslator>, agents: &[(&str, &[&str])]) -> World {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_800_000_000_000)));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let queue = Arc::new(MemoryQueue::with_clock(clock.clone()));
    for (own, reads) in agents {
        store
            .create_agent(&Agent {
                id: AgentId::from_uuid(Uuid::now_v7()),
                email: EmailAddress::parse(&format!(
                    "{own}-{}@example.com",
                    Uuid::now_v7().simple()
                ))
                .unwrap(),
                name: (*own).to_owned(),
                password_hash: PasswordHash::from_phc("x".to_owned()),
                teams: Default::default(),
                skills: Default::default(),
                languages: reads.iter().map(|l| tag(l)).chain([tag(own)]).collect(),
                language: Some(tag(own)),
                status: AgentStatus::Online,
                chosen_status: None,
                capacity: 10,
                role: omnidesk_domain::Role::Agent,
                disabled: false,
                totp: false,
                totp_secret: None,
                created_at: clock.now_ts(),
            })
            .await
            .unwrap();
    }
    let service = Arc::new(TranslationService::new(
        vec![translator],
        store.clone(),
        clock.clone(),
        ServiceSettings::default(),
    ));
    let deps = TranslatorDeps {
        messages: store.clone(),
        agents: store.clone(),
        connections: store.clone(),
        conversations: store.clone(),
        push: Arc::new(MemoryPush::new()),
        queue: queue.clone(),
        clock: clock.clone(),
        service,
        settings: WorkerSettings {
            reply_wait: Duration::from_secs(10),
            inbound_attempts: 3,
        },
    };
    World {
        store,
        queue,
        clock,
        deps,
    }
}

trait Now {
    fn now_ts(&self) -> Timestamp;
}
impl Now for ManualClock {
    fn now_ts(&self) -> Timestamp {
        omnidesk_core::Clock::now(self)
    }
}

async fn stored(w: &World, mut m: Message) -> Message {
    m.id = MessageId::from_uuid(Uuid::now_v7());
    w.store.append_message(&m).await.unwrap();
    m
}

fn inbound(
    conversation: ConversationId,
    text: &str,
    language: Option<&str>,
    now: Timestamp,
) -> Message {
    let mut m = Message::outbound(
        MessageId::from_uuid(Uuid::nil()),
        conversation,
        Author::Contact {
            id: ContactId::from_uuid(Uuid::now_v7()),
        },
        Channel::Telegram,
        text.to_owned(),
        now,
    );
    m.direction = omnidesk_domain::Direction::Inbound;
    m.delivery = omnidesk_domain::Delivery::received(now);
    m.language = language.map(tag);
    m.translation = Some(TranslationStatus::Pending { target: None });
    m
}

fn reply(
    conversation: ConversationId,
    author: Author,
    text: &str,
    target: &str,
    now: Timestamp,
) -> Message {
    let mut m = Message::outbound(
        MessageId::from_uuid(Uuid::nil()),
        conversation,
        author,
        Channel::Telegram,
        text.to_owned(),
        now,
    );
    m.language = Some(tag("en"));
    m.translation = Some(TranslationStatus::Pending {
        target: Some(tag(target)),
    });
    m
}

async fn reread(w: &World, m: &Message) -> Message {
    w.store
        .get_message(m.conversation_id, m.id)
        .await
        .unwrap()
        .unwrap()
}

async fn outbound_jobs(w: &World) -> Vec<OutboundJob> {
    let got = w
        .queue
        .receive(QueueName::Outbound, 10, Duration::from_secs(30))
        .await
        .unwrap();
    got.iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn a_customers_message_is_translated_once_per_language_the_team_lacks() {
    let fake = FakeTranslator::tagging("deepl");
    let w = world(
        fake.clone(),
        &[("en", &[]), ("en-GB", &["ru"]), ("zh-Hans", &["en"])],
    )
    .await;
    let c = ConversationId::from_uuid(Uuid::now_v7());
    let m = stored(
        &w,
        inbound(c, "Где мой заказ?", Some("ru"), w.clock.now_ts()),
    )
    .await;
    let out = handle(&w.deps, &TranslateJob::of(&m), 1).await.unwrap();
    assert_eq!(out, JobOutcome::Done);
    let m = reread(&w, &m).await;
    let langs: Vec<&str> = m.translations.iter().map(|t| t.language.as_str()).collect();
    assert_eq!(langs, ["en", "zh-Hans"], "the en-GB agent reads Russian");
    assert_eq!(m.translations[0].text, "<en>Где мой заказ?");
    assert_eq!(
        m.translation,
        Some(TranslationStatus::Done { target: None })
    );
    assert_eq!(m.text, "Где мой заказ?", "the original stays");
    // A second delivery of the same job does nothing.
    handle(&w.deps, &TranslateJob::of(&m), 2).await.unwrap();
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn an_unavailable_provider_is_retried_then_the_failure_stays_visible() {
    let fake = FakeTranslator::transient("deepl");
    let w = world(fake, &[("en", &[])]).await;
    let c = ConversationId::from_uuid(Uuid::now_v7());
    let m = stored(
        &w,
        inbound(c, "Где мой заказ?", Some("ru"), w.clock.now_ts()),
    )
    .await;
    let out = handle(&w.deps, &TranslateJob::of(&m), 1).await.unwrap();
    assert!(matches!(out, JobOutcome::RetryAfter(_)));
    let now = reread(&w, &m).await;
    assert!(
        matches!(
            &now.translation,
            Some(TranslationStatus::Failed { retrying: true, .. })
        ),
        "{:?}",
        now.translation
    );
    let out = handle(&w.deps, &TranslateJob::of(&m), 3).await.unwrap();
    assert_eq!(out, JobOutcome::Done, "the last try");
    let now = reread(&w, &m).await;
    assert!(matches!(
        &now.translation,
        Some(TranslationStatus::Failed { retrying: false, reason, .. }) if reason.contains("unavailable")
    ));
    assert_eq!(now.text, m.text, "nothing lost");
}

#[tokio::test]
async fn a_reply_is_translated_then_queued_and_sent_translated() {
    let fake = FakeTranslator::tagging("deepl");
    let w = world(fake, &[("en", &[])]).await;
    let c = ConversationId::from_uuid(Uuid::now_v7());
    let agent = Author::Agent {
        id: AgentId::from_uuid(Uuid::now_v7()),
    };
    let r = stored(
        &w,
        reply(c, agent, "It ships today", "ru", w.clock.now_ts()),
    )
    .await;
    assert!(r.is_held_for_translation());
    handle(&w.deps, &TranslateJob::of(&r), 1).await.unwrap();
    let r = reread(&w, &r).await;
    assert!(!r.is_held_for_translation());
    assert_eq!(r.outgoing_text(), "<ru>It ships today");
    assert_eq!(r.text, "It ships today");
    let jobs = outbound_jobs(&w).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].message_id, r.id);
}

#[tokio::test]
async fn a_reply_waits_for_its_translation_then_is_held_for_the_agent() {
    let fake = FakeTranslator::transient("deepl");
    let w = world(fake, &[("en", &[])]).await;
    let c = ConversationId::from_uuid(Uuid::now_v7());
    let agent = Author::Agent {
        id: AgentId::from_uuid(Uuid::now_v7()),
    };
    let r = stored(
        &w,
        reply(c, agent, "It ships today", "ru", w.clock.now_ts()),
    )
    .await;
    let out = handle(&w.deps, &TranslateJob::of(&r), 1).await.unwrap();
    assert!(
        matches!(out, JobOutcome::RetryAfter(_)),
        "within the wait: tried again"
    );
    w.clock.advance(Duration::from_secs(11));
    let out = handle(&w.deps, &TranslateJob::of(&r), 2).await.unwrap();
    assert_eq!(out, JobOutcome::Done);
    let held = reread(&w, &r).await;
    assert!(held.is_held_for_translation(), "{:?}", held.translation);
    assert!(matches!(
        held.translation,
        Some(TranslationStatus::Failed {
            retrying: false,
            ..
        })
    ));
    assert!(
        outbound_jobs(&w).await.is_empty(),
        "nothing sent behind the agent's back"
    );
}

#[tokio::test]
async fn the_bots_text_keeps_its_secret_link_mark_and_goes_out_in_english_when_translation_fails() {
    let fake = FakeTranslator::tagging("deepl");
    let w = world(fake.clone(), &[("en", &[])]).await;
    let c = ConversationId::from_uuid(Uuid::now_v7());
    let text = format!("Continue on Telegram: {SECRET_LINK_MARK}");
    let r = stored(&w, reply(c, Author::Bot, &text, "ru", w.clock.now_ts())).await;
    let job = TranslateJob {
        link: Some("https://t.me/shop_bot?start=secret".to_owned()),
        ..TranslateJob::of(&r)
    };
    handle(&w.deps, &job, 1).await.unwrap();
    let r = reread(&w, &r).await;
    assert_eq!(
        r.outgoing_text(),
        format!("<ru>Continue on Telegram: {SECRET_LINK_MARK}")
    );
    assert!(
        !fake.last_text().unwrap().contains("single-use"),
        "the mark never reaches the provider"
    );
    let jobs = outbound_jobs(&w).await;
    assert_eq!(
        jobs[0].link.as_deref(),
        Some("https://t.me/shop_bot?start=secret")
    );

    // A failing provider: past the wait the bot's text goes out as written, link included.
    let failing = FakeTranslator::permanent("deepl");
    let w = world(failing, &[("en", &[])]).await;
    let r = stored(&w, reply(c, Author::Bot, &text, "ru", w.clock.now_ts())).await;
    let job = TranslateJob {
        link: Some("https://t.me/x".to_owned()),
        ..TranslateJob::of(&r)
    };
    handle(&w.deps, &job, 1).await.unwrap();
    let r = reread(&w, &r).await;
    assert_eq!(r.translation, Some(TranslationStatus::SentOriginal));
    assert_eq!(
        outbound_jobs(&w).await[0].link.as_deref(),
        Some("https://t.me/x")
    );
}
