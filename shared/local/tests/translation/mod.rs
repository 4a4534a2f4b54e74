//! The translation store on SQLite: the suite on a file, the usage limit across two stores on
//! one file (as two processes would share it), pruning of expired cache rows, and the cost of
//! a cache hit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use omnidesk_core::testing::{ManualClock, store_suite};
use omnidesk_core::{CachedTranslation, Clock, TranslationStore, UsageOutcome};
use omnidesk_local::SqliteStore;

use super::{manual_clock, system_clock};

fn entry(text: &str) -> CachedTranslation {
    CachedTranslation {
        text: text.to_owned(),
        detected_source: None,
        provider: "deepl".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_translation_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("omnidesk.db"), system_clock()).unwrap();
    store_suite::translation_on_an_empty_store(&store).await;
    // Twice on the same file: the suite must not depend on an empty database.
    store_suite::translation(&store).await;
}

#[tokio::test]
async fn in_memory_sqlite_store_passes_the_translation_suite() {
    let store = SqliteStore::open_in_memory(system_clock()).unwrap();
    store_suite::translation_on_an_empty_store(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_added_through_two_stores_on_one_file_never_passes_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnidesk.db");
    // Two stores: two writer connections that only SQLite's file lock keeps apart, as in two
    // processes.
    let stores = [
        Arc::new(SqliteStore::open(&path, system_clock()).unwrap()),
        Arc::new(SqliteStore::open(&path, system_clock()).unwrap()),
    ];
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let store = stores[t % 2].clone();
            tokio::spawn(async move {
                let mut counted = 0u64;
                for _ in 0..10 {
                    match store
                        .add_usage("deepl", "2026-12-01", 3, 200)
                        .await
                        .unwrap()
                    {
                        UsageOutcome::Counted(total) => {
                            assert!(total <= 200, "counted past the limit: {total}");
                            counted += 3;
                        }
                        UsageOutcome::LimitReached(current) => {
                            assert!(current + 3 > 200, "refused below the limit: {current}");
                        }
                    }
                }
                counted
            })
        })
        .collect();
    let mut counted = 0;
    for task in tasks {
        counted += task.await.unwrap();
    }
    assert_eq!(counted, 198, "66 adds of 3 fit under 200");
    for store in &stores {
        assert_eq!(store.usage("deepl", "2026-12-01").await.unwrap(), 198);
    }
}

#[tokio::test]
async fn expired_cache_rows_are_pruned_by_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnidesk.db");
    let clock: Arc<ManualClock> = manual_clock();
    let store = SqliteStore::open(&path, clock.clone()).unwrap();
    let start = clock.now();
    for i in 0..100 {
        store
            .cache_translation(&format!("old-{i}"), &entry("old"), start.plus_millis(1_000))
            .await
            .unwrap();
    }
    let rows = || {
        rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM translation_cache", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
    };
    assert_eq!(rows(), 100, "nothing has expired yet");
    clock.advance(Duration::from_secs(2));
    let later = clock.now().plus_millis(60_000);
    for i in 0..4 {
        store
            .cache_translation(&format!("new-{i}"), &entry("new"), later)
            .await
            .unwrap();
    }
    assert_eq!(
        rows(),
        4,
        "four writes pruned the 100 expired rows (32 each at most) and kept their own"
    );
    assert_eq!(
        store
            .cached_translation("new-3", clock.now())
            .await
            .unwrap(),
        Some(entry("new"))
    );
}

/// Mean cost of a cache hit on a file database, the whole port call (key copy, pooled reader,
/// cached statement, JSON decode). Run with
/// `cargo test --release -p omnidesk-local --test conformance -- --ignored --nocapture cache_hit`.
#[tokio::test]
#[ignore = "a measurement; run in release"]
async fn cache_hit_cost() {
    const KEYS: usize = 1_000;
    const CALLS: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("omnidesk.db"), system_clock()).unwrap();
    let now = system_clock().now();
    let until = now.plus_millis(3_600_000);
    let keys: Vec<String> = (0..KEYS)
        .map(|i| format!("deepl:ru>en:g1:{i:064x}"))
        .collect();
    let text = "Здравствуйте! Мой заказ ⟦1⟧ не пришёл, помогите, пожалуйста. ".repeat(4);
    let cached = CachedTranslation {
        text,
        detected_source: Some(omnidesk_domain::LanguageTag::parse("ru").unwrap()),
        provider: "deepl".to_owned(),
    };
    for key in &keys {
        store.cache_translation(key, &cached, until).await.unwrap();
    }
    for key in &keys {
        assert!(store.cached_translation(key, now).await.unwrap().is_some());
    }
    let started = Instant::now();
    for i in 0..CALLS {
        let hit = store
            .cached_translation(&keys[i % KEYS], now)
            .await
            .unwrap();
        assert!(hit.is_some());
    }
    let elapsed = started.elapsed();
    println!(
        "cached_translation hit: {:.2} µs mean over {CALLS} calls ({KEYS} keys, {} B of text)",
        elapsed.as_secs_f64() * 1e6 / CALLS as f64,
        cached.text.len()
    );
}
