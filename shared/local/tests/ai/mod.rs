//! The AI store on SQLite: the suite on a file (twice) and in memory, two stores on one file
//! (as two processes would share it) stepping the FAQ version, and AI calls older than 90
//! days pruned by later records.

use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::testing::store_suite;
use omnidesk_core::{AiCall, AiStore, Clock, FaqEntry};
use omnidesk_domain::{ConversationId, Timestamp};
use omnidesk_local::SqliteStore;
use uuid::Uuid;

use super::{manual_clock, system_clock};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_ai_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("omnidesk.db"), system_clock()).unwrap();
    store_suite::ai_store_on_an_empty_store(&store).await;
    // Twice on the same file: the suite must not depend on an empty database.
    store_suite::ai_store(&store).await;
}

#[tokio::test]
async fn in_memory_sqlite_store_passes_the_ai_store_suite() {
    let store = SqliteStore::open_in_memory(system_clock()).unwrap();
    store_suite::ai_store_on_an_empty_store(&store).await;
}

fn entry(id: String) -> FaqEntry {
    FaqEntry {
        id,
        questions: vec!["?".to_owned()],
        answer: "!".to_owned(),
        language: None,
        enabled: true,
        updated_at: Timestamp::from_millis(0),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_through_two_stores_on_one_file_each_step_the_version_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnidesk.db");
    let stores = [
        Arc::new(SqliteStore::open(&path, system_clock()).unwrap()),
        Arc::new(SqliteStore::open(&path, system_clock()).unwrap()),
    ];
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let store = stores[t % 2].clone();
            tokio::spawn(async move {
                let mut versions = Vec::new();
                for i in 0..5 {
                    let e = entry(format!("faq_{t}_{i}"));
                    versions.push(store.put_faq_entries(&[e]).await.unwrap());
                }
                versions
            })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        versions.extend(task.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=40).collect::<Vec<u64>>());
    for store in &stores {
        let faq = store.faq().await.unwrap();
        assert_eq!((faq.version, faq.entries.len()), (40, 40));
    }
}

#[tokio::test]
async fn ai_calls_older_than_90_days_are_pruned_by_later_records() {
    let dir = tempfile::tempdir().unwrap();
    let clock = manual_clock();
    let store = SqliteStore::open(&dir.path().join("omnidesk.db"), clock.clone()).unwrap();
    let conversation = ConversationId::from_uuid(Uuid::now_v7());
    let call = |at: Timestamp| AiCall {
        id: Uuid::now_v7().to_string(),
        conversation_id: conversation,
        message_id: None,
        at,
        kind: "answer".to_owned(),
        provider: "openai".to_owned(),
        model: "m".to_owned(),
        prompt: "p".to_owned(),
        answer: "a".to_owned(),
        outcome: "reply".to_owned(),
        usage: Default::default(),
        cost_micros: 0,
        latency_ms: 0,
    };
    let start = clock.now();
    for _ in 0..10 {
        store.record_ai_call(&call(start)).await.unwrap();
    }
    clock.advance(Duration::from_secs(90 * 24 * 3600));
    let kept = call(clock.now());
    store.record_ai_call(&kept).await.unwrap();
    assert_eq!(
        store.ai_calls(None, 100).await.unwrap().len(),
        11,
        "calls exactly 90 days old are kept"
    );
    clock.advance(Duration::from_millis(1));
    let newest = call(clock.now());
    store.record_ai_call(&newest).await.unwrap();
    assert_eq!(
        store.ai_calls(Some(conversation), 100).await.unwrap(),
        vec![newest, kept],
        "a record prunes the calls older than 90 days"
    );
}
