//! The [`AiStore`] part of the store suite: the versioned FAQ and the log of AI calls.
//!
//! Like the rest of the suite it uses fresh ids on every run, so it can run repeatedly against
//! one store or one shared table. The FAQ is one record set per store, like the glossary: the
//! suite reads whatever version is stored and checks the versions its own changes produce, so
//! nothing else may change the FAQ while it runs. Its entries stay behind (about 1,000 a run).
//! Its AI calls are stamped far in the future (as the mail suite does), so they are the newest
//! of the store however much else it holds. [`ai_store_on_an_empty_store`] additionally checks
//! what a store that never stored anything returns.

use std::collections::{BTreeMap, BTreeSet};

use omnidesk_domain::{ConversationId, LanguageTag, MessageId, Timestamp};
use uuid::Uuid;

use super::{fresh, join_all, now, ok};
use crate::{AiCall, AiStore, Faq, FaqEntry, TokenUsage};

/// Entries of the bulk put: more than one `BatchWriteItem` (25), and over 1 MB together, more
/// than one `Query` page.
const BULK: usize = 1_000;
/// Concurrent single-entry puts.
const CONCURRENT: usize = 10;
/// How far in the future the suite's AI calls are stamped.
const AHEAD_MS: i64 = 10_000_000_000;

/// Every guarantee of [`AiStore`]: FAQ entries round-trip field by field; the version
/// increases by exactly one with every put and every delete that removed an entry, and with
/// nothing else (reads, empty puts, deletes of unknown ids); `faq_version` is `faq().version`;
/// a put replaces by id (the last of one id in one put wins); a bulk put of 1,000 entries is
/// one version step and reads back whole; concurrent puts all land, each with its own version;
/// AI calls are listed newest first, per conversation when asked, at most `limit`, and
/// recording a call again replaces it.
pub async fn ai_store(store: &dyn AiStore) {
    faq_round_trip_and_versions(store).await;
    faq_bulk_put(store).await;
    faq_concurrent_puts(store, true).await;
    ai_calls(store).await;
}

/// [`ai_store`] for a DynamoDB store on moto, whose server applies concurrent `UpdateItem`
/// calls on one item without a lock (DynamoDB serialises them): concurrent puts must all land
/// and raise the version, but two may see the same version there.
pub async fn ai_store_on_moto(store: &dyn AiStore) {
    faq_round_trip_and_versions(store).await;
    faq_bulk_put(store).await;
    faq_concurrent_puts(store, false).await;
    ai_calls(store).await;
}

/// [`ai_store`] on a store that never stored an FAQ entry nor an AI call: the FAQ is
/// [`Faq::default`] (version 0, no entries) and no call is listed.
pub async fn ai_store_on_an_empty_store(store: &dyn AiStore) {
    on_an_empty_store(store, true).await;
}

/// [`ai_store_on_an_empty_store`] with [`ai_store_on_moto`]'s concurrent check.
pub async fn ai_store_on_an_empty_store_on_moto(store: &dyn AiStore) {
    on_an_empty_store(store, false).await;
}

async fn on_an_empty_store(store: &dyn AiStore, atomic: bool) {
    assert_eq!(
        read_faq(store).await,
        Faq::default(),
        "a store without FAQ entries returns the default FAQ (version 0, empty)"
    );
    assert_eq!(version(store).await, 0, "and its version is 0");
    assert_eq!(
        ok("ai_calls", store.ai_calls(None, 10).await),
        Vec::new(),
        "a store without AI calls lists none"
    );
    if atomic {
        ai_store(store).await;
    } else {
        ai_store_on_moto(store).await;
    }
    assert!(version(store).await >= 1, "the suite stored FAQ entries");
}

fn lang(tag: &str) -> LanguageTag {
    LanguageTag::parse(tag).unwrap_or_else(|e| panic!("suite bug: {e}"))
}

// ---------------------------------------------------------------------------------------------
// FAQ

fn faq_entry(id: &str, question: &str, answer: &str) -> FaqEntry {
    FaqEntry {
        id: id.to_owned(),
        questions: vec![question.to_owned()],
        answer: answer.to_owned(),
        language: None,
        enabled: true,
        updated_at: now(),
    }
}

async fn read_faq(store: &dyn AiStore) -> Faq {
    ok("faq", store.faq().await)
}

async fn version(store: &dyn AiStore) -> u64 {
    ok("faq_version", store.faq_version().await)
}

async fn put(store: &dyn AiStore, entries: &[FaqEntry]) -> u64 {
    ok("put_faq_entries", store.put_faq_entries(entries).await)
}

async fn delete(store: &dyn AiStore, id: &str) -> bool {
    ok("delete_faq_entry", store.delete_faq_entry(id).await)
}

/// The FAQ, checked to be consistent (`faq_version` agrees, entries by id, no id twice).
async fn checked_faq(store: &dyn AiStore) -> Faq {
    let faq = read_faq(store).await;
    assert_eq!(
        version(store).await,
        faq.version,
        "faq_version is the version faq returns"
    );
    assert!(
        faq.entries.windows(2).all(|w| w[0].id < w[1].id),
        "faq lists the entries by id, each once"
    );
    faq
}

/// The suite's entries in `faq`, by id.
fn mine<'a>(faq: &'a Faq, ids: &[&str]) -> BTreeMap<String, &'a FaqEntry> {
    faq.entries
        .iter()
        .filter(|e| ids.contains(&e.id.as_str()))
        .map(|e| (e.id.clone(), e))
        .collect()
}

async fn faq_round_trip_and_versions(store: &dyn AiStore) {
    let run = fresh();
    let before = checked_faq(store).await;

    // Every field, and both values of the optional ones.
    let first = FaqEntry {
        id: format!("faq_suite_{run}_a"),
        questions: vec![
            "Как вернуть товар? 🎁".to_owned(),
            "退货怎么办".to_owned(),
            "\"quoted\"\nsecond line\t\\".to_owned(),
        ],
        answer: "Напишите нам — «вернём» за 14 дней. 你好 🎉".to_owned(),
        language: Some(lang("ru")),
        enabled: true,
        updated_at: now(),
    };
    let second = FaqEntry {
        id: format!("faq_suite_{run}_b"),
        questions: vec!["Where is my order?".to_owned()],
        answer: String::new(),
        language: None,
        enabled: false,
        updated_at: Timestamp::from_millis(now().millis() - 1_234),
    };
    let ids = [first.id.as_str(), second.id.as_str()];
    let v1 = put(store, &[first.clone(), second.clone()]).await;
    assert_eq!(
        v1,
        before.version + 1,
        "a put of two entries is one version step"
    );
    let faq = checked_faq(store).await;
    assert_eq!(faq.version, v1, "put_faq_entries returns the new version");
    assert_eq!(
        mine(&faq, &ids),
        BTreeMap::from([(first.id.clone(), &first), (second.id.clone(), &second)]),
        "entries are returned as stored (unicode, language Some/None, enabled false, empty answer)"
    );
    for e in &before.entries {
        assert!(
            faq.entries.contains(e),
            "a put leaves the other entries alone ({})",
            e.id
        );
    }

    // Reads change nothing.
    for _ in 0..2 {
        assert_eq!(version(store).await, v1, "reads do not change the version");
        assert_eq!(read_faq(store).await.version, v1);
    }

    // A put with an existing id replaces the entry.
    let replaced = FaqEntry {
        questions: vec!["Как вернуть товар?".to_owned(), "Возврат".to_owned()],
        answer: "Через личный кабинет.".to_owned(),
        language: Some(lang("zh-Hans")),
        enabled: false,
        updated_at: now(),
        ..first.clone()
    };
    let v2 = put(store, std::slice::from_ref(&replaced)).await;
    assert_eq!(v2, v1 + 1, "a replacing put is one version step");
    let faq = checked_faq(store).await;
    assert_eq!(faq.version, v2);
    assert_eq!(
        mine(&faq, &ids),
        BTreeMap::from([(first.id.clone(), &replaced), (second.id.clone(), &second)]),
        "a put with an existing id replaces that entry and only it"
    );

    // Changes of nothing are not changes.
    assert_eq!(
        put(store, &[]).await,
        v2,
        "an empty put returns the current version"
    );
    assert_eq!(version(store).await, v2, "and does not change it");
    let unknown = format!("faq_suite_{run}_missing");
    assert!(
        !delete(store, &unknown).await,
        "deleting an unknown id returns false"
    );
    assert_eq!(
        version(store).await,
        v2,
        "deleting an unknown id does not change the version"
    );

    // A delete removes the entry and is one version step.
    assert!(
        delete(store, &second.id).await,
        "deleting an entry returns true"
    );
    let v3 = version(store).await;
    assert_eq!(v3, v2 + 1, "a delete is one version step");
    let faq = checked_faq(store).await;
    assert_eq!(
        mine(&faq, &ids),
        BTreeMap::from([(first.id.clone(), &replaced)]),
        "a deleted entry is gone, the other stays"
    );
    assert!(
        !delete(store, &second.id).await,
        "deleting it again returns false"
    );
    assert_eq!(version(store).await, v3, "and changes nothing");

    // One id twice in one put: the last one wins, one version step.
    let twice = format!("faq_suite_{run}_twice");
    let early = faq_entry(&twice, "early?", "early");
    let late = faq_entry(&twice, "late?", "late");
    let v4 = put(store, &[early, late.clone()]).await;
    assert_eq!(v4, v3 + 1, "a put with one id twice is one version step");
    let faq = checked_faq(store).await;
    assert_eq!(
        mine(&faq, &[twice.as_str()]),
        BTreeMap::from([(twice.clone(), &late)]),
        "of one id twice in one put, the last entry is stored"
    );

    // A deleted id can be put again.
    let back = faq_entry(&second.id, "Where is my order now?", "On its way.");
    assert_eq!(put(store, std::slice::from_ref(&back)).await, v4 + 1);
    assert_eq!(
        mine(&checked_faq(store).await, &[second.id.as_str()]),
        BTreeMap::from([(second.id.clone(), &back)]),
        "a deleted id can be stored again"
    );
}

async fn faq_bulk_put(store: &dyn AiStore) {
    let run = fresh();
    let before = version(store).await;
    // About 1.2 KB each, 1.2 MB together: more than one page of a DynamoDB query.
    let filler = "Ответ про доставку, оплату и возврат. ".repeat(18);
    let entries: Vec<FaqEntry> = (0..BULK)
        .map(|i| FaqEntry {
            id: format!("faq_suite_{run}_bulk_{i:04}"),
            questions: vec![format!("Вопрос №{i} 🤔"), format!("question {i}")],
            answer: format!("{i}: {filler}"),
            language: (i % 2 == 0).then(|| lang("ru")),
            enabled: i % 3 != 0,
            updated_at: now(),
        })
        .collect();
    let v = put(store, &entries).await;
    assert_eq!(
        v,
        before + 1,
        "a bulk put of {BULK} entries is one version step"
    );
    let faq = checked_faq(store).await;
    assert_eq!(faq.version, v);
    let prefix = format!("faq_suite_{run}_bulk_");
    let read: Vec<&FaqEntry> = faq
        .entries
        .iter()
        .filter(|e| e.id.starts_with(&prefix))
        .collect();
    assert_eq!(
        read.len(),
        BULK,
        "every entry of a bulk put is read back (paging)"
    );
    assert!(
        read.iter().zip(&entries).all(|(r, e)| *r == e),
        "the bulk entries are read back as stored, in id order"
    );
}

async fn faq_concurrent_puts(store: &dyn AiStore, atomic: bool) {
    let run = fresh();
    let before = version(store).await;
    let entries: Vec<FaqEntry> = (0..CONCURRENT)
        .map(|i| {
            faq_entry(
                &format!("faq_suite_{run}_concurrent_{i}"),
                &format!("concurrent {i}?"),
                "yes",
            )
        })
        .collect();
    let versions: BTreeSet<u64> = join_all(
        entries
            .iter()
            .map(|e| put(store, std::slice::from_ref(e)))
            .collect(),
    )
    .await
    .into_iter()
    .collect();
    let faq = checked_faq(store).await;
    if atomic {
        let expected: BTreeSet<u64> = (1..=CONCURRENT as u64).map(|i| before + i).collect();
        assert_eq!(
            versions, expected,
            "concurrent puts each step the version once and each return their own version"
        );
        assert!(
            faq.version >= before + CONCURRENT as u64,
            "after {CONCURRENT} concurrent puts the version rose by at least {CONCURRENT}"
        );
    } else {
        assert!(
            versions.iter().all(|v| *v > before) && faq.version > before,
            "concurrent puts raise the version: {versions:?}"
        );
    }
    let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        mine(&faq, &ids).len(),
        CONCURRENT,
        "every concurrent put landed"
    );
}

// ---------------------------------------------------------------------------------------------
// AI calls

fn call(conversation: ConversationId, at: Timestamp, kind: &str) -> AiCall {
    AiCall {
        id: Uuid::now_v7().to_string(),
        conversation_id: conversation,
        message_id: None,
        at,
        kind: kind.to_owned(),
        provider: "openai".to_owned(),
        model: "gpt-suite".to_owned(),
        prompt: "Клиент спрашивает: «где заказ?» 🤔\n\"json\": {}".to_owned(),
        answer: "{\"reply\":\"在路上\"}".to_owned(),
        outcome: "reply".to_owned(),
        usage: TokenUsage {
            input: 1_234,
            output: 56,
        },
        cost_micros: 789,
        latency_ms: 1_500,
    }
}

async fn listed(
    store: &dyn AiStore,
    conversation: Option<ConversationId>,
    limit: usize,
) -> Vec<AiCall> {
    ok("ai_calls", store.ai_calls(conversation, limit).await)
}

async fn record(store: &dyn AiStore, call: &AiCall) {
    ok("record_ai_call", store.record_ai_call(call).await);
}

async fn ai_calls(store: &dyn AiStore) {
    let base = Timestamp::from_millis(now().millis() + AHEAD_MS);
    let a = ConversationId::from_uuid(Uuid::now_v7());
    let b = ConversationId::from_uuid(Uuid::now_v7());
    let a1 = AiCall {
        message_id: Some(MessageId::from_uuid(Uuid::now_v7())),
        ..call(a, base.plus_millis(1), "answer")
    };
    let b1 = AiCall {
        provider: "bedrock".to_owned(),
        model: String::new(),
        usage: TokenUsage::default(),
        cost_micros: 0,
        latency_ms: 0,
        outcome: "handoff: the customer asked for a person".to_owned(),
        ..call(b, base.plus_millis(2), "suggestion")
    };
    let a2 = call(a, base.plus_millis(3), "summary");
    // The same millisecond as `a2` and a later id: listed before it.
    let a3 = AiCall {
        provider: "kb".to_owned(),
        outcome: "dropped: no match".to_owned(),
        ..call(a, base.plus_millis(3), "answer")
    };
    assert!(a3.id > a2.id, "suite bug: ids are time-ordered");
    // Recorded out of order.
    for c in [&a2, &a1, &b1, &a3] {
        record(store, c).await;
    }

    assert_eq!(
        listed(store, None, 4).await,
        vec![a3.clone(), a2.clone(), b1.clone(), a1.clone()],
        "ai_calls lists the newest first (by time, then id), every field as recorded"
    );
    assert_eq!(
        listed(store, None, 2).await,
        vec![a3.clone(), a2.clone()],
        "at most `limit` calls"
    );
    assert_eq!(
        listed(store, Some(a), 10).await,
        vec![a3.clone(), a2.clone(), a1.clone()],
        "a conversation's calls only, newest first"
    );
    assert_eq!(
        listed(store, Some(a), 2).await,
        vec![a3.clone(), a2.clone()],
        "a conversation's newest `limit` calls"
    );
    assert_eq!(listed(store, Some(b), 10).await, vec![b1.clone()]);
    let none = ConversationId::from_uuid(Uuid::now_v7());
    assert_eq!(
        listed(store, Some(none), 10).await,
        Vec::new(),
        "a conversation without calls lists none"
    );
    assert_eq!(
        listed(store, None, 0).await,
        Vec::new(),
        "a limit of 0 lists nothing"
    );

    // A retried job records the same call again: it is listed once, as recorded last.
    let again = AiCall {
        outcome: "failed: timeout".to_owned(),
        ..a2.clone()
    };
    record(store, &again).await;
    assert_eq!(
        listed(store, Some(a), 10).await,
        vec![a3.clone(), again.clone(), a1.clone()],
        "recording a call again replaces it"
    );
    assert_eq!(
        listed(store, None, 4).await,
        vec![a3, again, b1, a1],
        "also in the list of all calls"
    );
}
