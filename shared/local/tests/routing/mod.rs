//! The routing store on SQLite: the suite on a file (twice) and in memory, and editors of the
//! rules racing through two stores on one file (as two processes would share it).

use std::sync::Arc;

use omnidesk_core::testing::store_suite;
use omnidesk_core::{RoutingStore, StoreError, StoredRules};
use omnidesk_domain::Timestamp;
use omnidesk_local::SqliteStore;

use super::system_clock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_routing_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("omnidesk.db"), system_clock()).unwrap();
    store_suite::routing_store_on_an_empty_store(&store).await;
    // Twice on the same file: the suite must not depend on an empty database.
    store_suite::routing_store(&store).await;
}

#[tokio::test]
async fn in_memory_sqlite_store_passes_the_routing_store_suite() {
    let store = SqliteStore::open_in_memory(system_clock()).unwrap();
    store_suite::routing_store_on_an_empty_store(&store).await;
}

fn rules(source: String) -> StoredRules {
    StoredRules {
        source,
        format: "toml".to_owned(),
        version: 0,
        updated_at: Timestamp::from_millis(0),
        updated_by: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editors_racing_through_two_stores_on_one_file_win_one_version_each() {
    const ROUNDS: u64 = 20;
    const EDITORS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("omnidesk.db");
    let stores = [
        Arc::new(SqliteStore::open(&path, system_clock()).unwrap()),
        Arc::new(SqliteStore::open(&path, system_clock()).unwrap()),
    ];
    for round in 0..ROUNDS {
        let tasks: Vec<_> = (0..EDITORS)
            .map(|e| {
                let store = stores[e % 2].clone();
                tokio::spawn(async move {
                    let source = format!("# round {round}, editor {e}\n");
                    store.put_rules(&rules(source), round).await
                })
            })
            .collect();
        let mut won = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(stored) => won.push(stored),
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("a losing editor gets Conflict, not {e:?}"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: exactly one editor wins");
        assert_eq!(won[0].version, round + 1);
        for store in &stores {
            assert_eq!(store.get_rules().await.unwrap().as_ref(), Some(&won[0]));
            assert_eq!(store.rules_version().await.unwrap(), round + 1);
        }
    }
}
