//! The AI's [`AiStore`] on [`SqliteStore`]: tables `faq_entries` and `ai_calls`, and the
//! FAQ's version in the `faq` row of `settings` (schema version 6).
//!
//! - A put of FAQ entries is one write job (one savepoint of the writer's transaction): every
//!   upsert and the version's `+ 1` commit together or not at all, so a reader never sees
//!   entries without their version or the other way round.
//! - `faq` reads the version and the entries in one read transaction (one snapshot).
//! - AI calls are listed through `(conversation_id, at_ms, id)` and `(at_ms, id)`, read
//!   backwards: newest first without a sort. Each record deletes at most [`PRUNE_BATCH`]
//!   calls older than [`KEEP_MS`] (through the second index), as DynamoDB's TTL expires them.

use async_trait::async_trait;
use omnidesk_core::{AiCall, AiStore, Faq, FaqEntry, StoreError, StoreResult};
use omnidesk_domain::ConversationId;
use rusqlite::{OptionalExtension, params};

use crate::store::{SqliteStore, from_json, sql_err, to_json};

/// The name of the FAQ's version row in `settings`.
const FAQ: &str = "faq";
/// How long an AI call is kept after its `at` (as long as on DynamoDB).
pub(crate) const KEEP_MS: i64 = 90 * 24 * 60 * 60 * 1000;
/// Old calls deleted by one record at most (the literal in [`CALLS_PRUNE`]).
#[cfg_attr(not(test), allow(dead_code))]
const PRUNE_BATCH: i64 = 32;

const VERSION_GET: &str = "SELECT version FROM settings WHERE name = ?1";
/// Steps the version by one (from 0 when there is no row yet) and returns the new one.
const VERSION_BUMP: &str = "INSERT INTO settings (name, version, json) VALUES (?1, 1, '{}') \
     ON CONFLICT (name) DO UPDATE SET version = version + 1 RETURNING version";
const ENTRIES_GET: &str = "SELECT json FROM faq_entries ORDER BY id";
const ENTRY_PUT: &str = "INSERT INTO faq_entries (id, json, updated_ms) VALUES (?1, ?2, ?3) \
     ON CONFLICT (id) DO UPDATE SET json = excluded.json, updated_ms = excluded.updated_ms";
const ENTRY_DELETE: &str = "DELETE FROM faq_entries WHERE id = ?1";
const CALL_PUT: &str = "INSERT INTO ai_calls (id, conversation_id, at_ms, json) \
     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET \
     conversation_id = excluded.conversation_id, at_ms = excluded.at_ms, json = excluded.json";
/// `?1` = the oldest `at_ms` kept. `?1 + 0` and the literal limit keep the plan independent of
/// the bound value (see `translation_store`'s prune).
const CALLS_PRUNE: &str = "DELETE FROM ai_calls WHERE rowid IN \
     (SELECT rowid FROM ai_calls WHERE at_ms < ?1 + 0 ORDER BY at_ms LIMIT 32)";
const CALLS_RECENT: &str = "SELECT json FROM ai_calls ORDER BY at_ms DESC, id DESC LIMIT ?1";
const CALLS_OF: &str = "SELECT json FROM ai_calls WHERE conversation_id = ?1 \
     ORDER BY at_ms DESC, id DESC LIMIT ?2";

fn version_of(conn: &rusqlite::Connection) -> StoreResult<u64> {
    let version: Option<i64> = conn
        .prepare_cached(VERSION_GET)
        .and_then(|mut s| s.query_row([FAQ], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    to_u64(version.unwrap_or(0))
}

fn bump(conn: &rusqlite::Connection) -> StoreResult<u64> {
    let version: i64 = conn
        .prepare_cached(VERSION_BUMP)
        .and_then(|mut s| s.query_row([FAQ], |r| r.get(0)))
        .map_err(sql_err)?;
    to_u64(version)
}

fn to_u64(version: i64) -> StoreResult<u64> {
    u64::try_from(version)
        .map_err(|_| StoreError::Corrupt(format!("the FAQ version is negative: {version}")))
}

fn jsons<T: serde::de::DeserializeOwned>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &str,
) -> StoreResult<Vec<T>> {
    let rows: Vec<String> = conn
        .prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map(params, |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(sql_err)?;
    rows.iter().map(|j| from_json(what, j)).collect()
}

#[async_trait]
impl AiStore for SqliteStore {
    async fn faq(&self) -> StoreResult<Faq> {
        self.db
            .read_async(move |conn| {
                // One snapshot for both reads. An in-memory database reads in the writer's
                // transaction, which is one already.
                let snapshot = if conn.is_autocommit() {
                    Some(conn.unchecked_transaction().map_err(sql_err)?)
                } else {
                    None
                };
                let version = version_of(conn)?;
                let entries = jsons(conn, ENTRIES_GET, [], "FAQ entry")?;
                drop(snapshot);
                Ok(Faq { version, entries })
            })
            .await
    }

    async fn faq_version(&self) -> StoreResult<u64> {
        self.db.read_async(version_of).await
    }

    async fn put_faq_entries(&self, entries: &[FaqEntry]) -> StoreResult<u64> {
        if entries.is_empty() {
            return self.faq_version().await;
        }
        let rows = entries
            .iter()
            .map(|e| Ok((e.id.clone(), to_json(e)?, e.updated_at.millis())))
            .collect::<StoreResult<Vec<_>>>()?;
        self.db
            .write_async(move |conn| {
                let mut put = conn.prepare_cached(ENTRY_PUT).map_err(sql_err)?;
                for (id, json, updated_ms) in &rows {
                    put.execute(params![id, json, updated_ms])
                        .map_err(sql_err)?;
                }
                bump(conn)
            })
            .await
    }

    async fn delete_faq_entry(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.db
            .write_async(move |conn| {
                let deleted = conn
                    .prepare_cached(ENTRY_DELETE)
                    .and_then(|mut s| s.execute([&id]))
                    .map_err(sql_err)?;
                if deleted > 0 {
                    bump(conn)?;
                }
                Ok(deleted > 0)
            })
            .await
    }

    async fn record_ai_call(&self, call: &AiCall) -> StoreResult<()> {
        let (id, conversation, at, json) = (
            call.id.clone(),
            call.conversation_id.to_string(),
            call.at.millis(),
            to_json(call)?,
        );
        let oldest_kept = self.clock().now().millis().saturating_sub(KEEP_MS);
        self.db
            .write_async(move |conn| {
                conn.prepare_cached(CALL_PUT)
                    .and_then(|mut s| s.execute(params![id, conversation, at, json]))
                    .map_err(sql_err)?;
                conn.prepare_cached(CALLS_PRUNE)
                    .and_then(|mut s| s.execute([oldest_kept]))
                    .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn ai_calls(
        &self,
        conversation: Option<ConversationId>,
        limit: usize,
    ) -> StoreResult<Vec<AiCall>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .read_async(move |conn| match conversation {
                Some(id) => jsons(conn, CALLS_OF, params![id.to_string(), limit], "AI call"),
                None => jsons(conn, CALLS_RECENT, [limit], "AI call"),
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migrated() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::migrate(&conn, ":memory:").unwrap();
        conn
    }

    fn plan(conn: &rusqlite::Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let nulls = vec![rusqlite::types::Value::Null; stmt.parameter_count()];
        stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn ai_calls_are_listed_and_pruned_through_their_indexes_without_a_sort() {
        let conn = migrated();
        for (name, sql, index) in [
            ("recent", CALLS_RECENT, "ai_calls_recent"),
            ("of a conversation", CALLS_OF, "ai_calls_conversation"),
            ("prune", CALLS_PRUNE, "ai_calls_recent"),
        ] {
            let plan = plan(&conn, sql);
            assert!(
                plan.contains(index) && !plan.contains("TEMP B-TREE"),
                "{name}: {plan}"
            );
        }
    }

    #[test]
    fn the_prune_statement_deletes_prune_batch_old_calls_at_most() {
        assert!(CALLS_PRUNE.ends_with(&format!("LIMIT {PRUNE_BATCH})")));
        let conn = migrated();
        for i in 0..100 {
            conn.execute(CALL_PUT, params![format!("c{i}"), "cv", i, "{}"])
                .unwrap();
        }
        let pruned = conn.execute(CALLS_PRUNE, [1_000]).unwrap();
        assert_eq!(pruned, usize::try_from(PRUNE_BATCH).unwrap());
        let oldest: i64 = conn
            .query_row("SELECT min(at_ms) FROM ai_calls", [], |r| r.get(0))
            .unwrap();
        assert_eq!(oldest, PRUNE_BATCH, "the oldest calls go first");
        assert_eq!(
            conn.execute(CALLS_PRUNE, [0]).unwrap(),
            0,
            "nothing old, nothing deleted"
        );
    }

    #[test]
    fn the_version_counts_from_one_in_the_settings_row() {
        let conn = migrated();
        assert_eq!(version_of(&conn).unwrap(), 0);
        assert_eq!(bump(&conn).unwrap(), 1);
        assert_eq!(bump(&conn).unwrap(), 2);
        assert_eq!(version_of(&conn).unwrap(), 2);
    }
}
