//! Machine translation's [`TranslationStore`] on [`SqliteStore`]: tables `translation_cache`,
//! `translation_usage` and the `glossary` row of `settings` (schema version 5).
//!
//! - A cache hit is one cached statement on a pooled reader: `SELECT json … WHERE key = ?1 AND
//!   expires_at > ?2` (the primary key's index, then the row).
//! - A cache write upserts the entry and deletes at most [`PRUNE_BATCH`] expired rows (oldest
//!   expiry first, through the expiry index), so expired entries never pile up: each write
//!   adds at most one row and removes up to that many expired ones.
//! - `add_usage` is one upsert in the writer's `BEGIN IMMEDIATE` transaction (which also locks
//!   out writers of other processes on the same file) whose `DO UPDATE … WHERE chars <= room`
//!   counts only while the new total stays within the limit, and `RETURNING` the new total.
//! - The glossary is stored only when its version is the stored one + 1, checked and written
//!   in one write job.

use async_trait::async_trait;
use omnidesk_core::{
    CachedTranslation, Glossary, StoreError, StoreResult, TranslationStore, UsageOutcome,
};
use omnidesk_domain::Timestamp;
use rusqlite::{OptionalExtension, params};

use crate::store::{SqliteStore, from_json, sql_err, to_json};

/// Expired cache rows deleted by one cache write at most (the literal in [`CACHE_PRUNE`]).
#[cfg_attr(not(test), allow(dead_code))]
const PRUNE_BATCH: i64 = 32;

/// The name of the glossary's row in `settings`.
const GLOSSARY: &str = "glossary";

const CACHE_HIT: &str = "SELECT json FROM translation_cache WHERE key = ?1 AND expires_at > ?2";
const CACHE_PUT: &str = "INSERT INTO translation_cache (key, json, expires_at) VALUES (?1, ?2, ?3) \
     ON CONFLICT (key) DO UPDATE SET json = excluded.json, expires_at = excluded.expires_at";
/// `?1` = now. SQLite built with STAT4 re-prepares a statement whenever a bound value its plan
/// was estimated with changes (here: a range of an index with statistics); `?1 + 0` is an
/// expression, not a bound value, to the planner, and still seeks the index. The limit is a
/// literal ([`PRUNE_BATCH`], checked by a test) for the same reason.
const CACHE_PRUNE: &str = "DELETE FROM translation_cache WHERE rowid IN \
     (SELECT rowid FROM translation_cache WHERE expires_at <= ?1 + 0 ORDER BY expires_at \
     LIMIT 32)";
const LINK_PUT: &str = "INSERT INTO translation_links (conversation_id, key, expires_at) \
     VALUES (?1, ?2, ?3) ON CONFLICT (conversation_id, key) DO UPDATE SET \
     expires_at = max(expires_at, excluded.expires_at)";
/// Like [`CACHE_PRUNE`].
const LINK_PRUNE: &str = "DELETE FROM translation_links WHERE (conversation_id, key) IN \
     (SELECT conversation_id, key FROM translation_links WHERE expires_at <= ?1 + 0 \
     ORDER BY expires_at LIMIT 32)";
/// `?1` provider, `?2` day, `?3` chars, `?4` the highest total the count may have before
/// (limit − chars). The `WHERE` applies to an existing row; a new row is `chars` itself,
/// which the caller checked against the limit.
const USAGE_ADD: &str = "INSERT INTO translation_usage (provider, day, chars) VALUES (?1, ?2, ?3) \
     ON CONFLICT (provider, day) DO UPDATE SET chars = chars + excluded.chars \
     WHERE chars <= ?4 \
     RETURNING chars";
const USAGE_GET: &str = "SELECT chars FROM translation_usage WHERE provider = ?1 AND day = ?2";
const SETTING_GET: &str = "SELECT version, json FROM settings WHERE name = ?1";

fn to_u64(what: &str, v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} is negative: {v}")))
}

/// SQLite integers are `i64`: a limit above that is no limit at all.
fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn current_usage(conn: &rusqlite::Connection, provider: &str, day: &str) -> StoreResult<u64> {
    let chars: Option<i64> = conn
        .prepare_cached(USAGE_GET)
        .and_then(|mut s| s.query_row([provider, day], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    to_u64("translation usage", chars.unwrap_or(0))
}

#[async_trait]
impl TranslationStore for SqliteStore {
    async fn cached_translation(
        &self,
        key: &str,
        now: Timestamp,
    ) -> StoreResult<Option<CachedTranslation>> {
        let key = key.to_owned();
        self.db
            .read_async(move |conn| {
                let json: Option<String> = conn
                    .prepare_cached(CACHE_HIT)
                    .and_then(|mut s| {
                        s.query_row(params![key, now.millis()], |r| r.get(0))
                            .optional()
                    })
                    .map_err(sql_err)?;
                json.map(|j| from_json("cached translation", &j))
                    .transpose()
            })
            .await
    }

    async fn cache_translation(
        &self,
        key: &str,
        entry: &CachedTranslation,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let (key, json) = (key.to_owned(), to_json(entry)?);
        let now = self.clock().now().millis();
        self.db
            .write_async(move |conn| {
                conn.prepare_cached(CACHE_PUT)
                    .and_then(|mut s| s.execute(params![key, json, expires_at.millis()]))
                    .map_err(sql_err)?;
                conn.prepare_cached(CACHE_PRUNE)
                    .and_then(|mut s| s.execute([now]))
                    .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn link_cached_translations(
        &self,
        conversation: omnidesk_domain::ConversationId,
        keys: &[String],
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        let (conversation, keys) = (conversation.to_string(), keys.to_vec());
        let now = self.clock().now().millis();
        self.db
            .write_async(move |conn| {
                let mut put = conn.prepare_cached(LINK_PUT).map_err(sql_err)?;
                for key in &keys {
                    put.execute(params![conversation, key, expires_at.millis()])
                        .map_err(sql_err)?;
                }
                conn.prepare_cached(LINK_PRUNE)
                    .and_then(|mut s| s.execute([now]))
                    .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn add_usage(
        &self,
        provider: &str,
        day: &str,
        chars: u64,
        limit: u64,
    ) -> StoreResult<UsageOutcome> {
        let (provider, day) = (provider.to_owned(), day.to_owned());
        let limit = clamp(limit);
        self.db
            .write_async(move |conn| {
                let chars = match i64::try_from(chars) {
                    Ok(c) if c <= limit => c,
                    // Alone over the limit: nothing can be counted.
                    _ => {
                        return Ok(UsageOutcome::LimitReached(current_usage(
                            conn, &provider, &day,
                        )?));
                    }
                };
                let total: Option<i64> = conn
                    .prepare_cached(USAGE_ADD)
                    .and_then(|mut s| {
                        s.query_row(params![provider, day, chars, limit - chars], |r| r.get(0))
                            .optional()
                    })
                    .map_err(sql_err)?;
                match total {
                    Some(total) => Ok(UsageOutcome::Counted(to_u64("translation usage", total)?)),
                    None => Ok(UsageOutcome::LimitReached(current_usage(
                        conn, &provider, &day,
                    )?)),
                }
            })
            .await
    }

    async fn usage(&self, provider: &str, day: &str) -> StoreResult<u64> {
        let (provider, day) = (provider.to_owned(), day.to_owned());
        self.db
            .read_async(move |conn| current_usage(conn, &provider, &day))
            .await
    }

    async fn glossary(&self) -> StoreResult<Glossary> {
        self.db
            .read_async(move |conn| {
                let json: Option<String> = conn
                    .prepare_cached(SETTING_GET)
                    .and_then(|mut s| s.query_row([GLOSSARY], |r| r.get(1)).optional())
                    .map_err(sql_err)?;
                json.map_or_else(|| Ok(Glossary::default()), |j| from_json("glossary", &j))
            })
            .await
    }

    async fn put_glossary(&self, glossary: &Glossary) -> StoreResult<()> {
        let json = to_json(glossary)?;
        let version = glossary.version;
        self.db
            .write_async(move |conn| {
                let stored: Option<i64> = conn
                    .prepare_cached(SETTING_GET)
                    .and_then(|mut s| s.query_row([GLOSSARY], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                let stored = to_u64("glossary version", stored.unwrap_or(0))?;
                if stored.checked_add(1) != Some(version) {
                    return Err(StoreError::Conflict(format!(
                        "glossary version {version} is not the next after the stored {stored}"
                    )));
                }
                conn.prepare_cached(
                    "INSERT INTO settings (name, version, json) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (name) DO UPDATE SET version = excluded.version, \
                     json = excluded.json",
                )
                .and_then(|mut s| s.execute(params![GLOSSARY, clamp(version), json]))
                .map_err(sql_err)?;
                Ok(())
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

    #[test]
    fn the_prune_statement_deletes_prune_batch_rows_at_most() {
        assert!(CACHE_PRUNE.ends_with(&format!("LIMIT {PRUNE_BATCH})")));
        let conn = migrated();
        for i in 0..100 {
            conn.execute(CACHE_PUT, params![format!("k{i}"), "{}", i])
                .unwrap();
        }
        let pruned = conn.execute(CACHE_PRUNE, [1_000]).unwrap();
        assert_eq!(pruned, usize::try_from(PRUNE_BATCH).unwrap());
        let left: Vec<i64> = conn
            .prepare("SELECT expires_at FROM translation_cache ORDER BY expires_at LIMIT 1")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(left, [PRUNE_BATCH], "the oldest expiries go first");
        assert_eq!(
            conn.execute(CACHE_PRUNE, [0]).unwrap(),
            0,
            "nothing expired, nothing deleted"
        );
    }

    #[test]
    fn hits_and_prunes_are_read_through_their_indexes() {
        let conn = migrated();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let nulls = vec![rusqlite::types::Value::Null; stmt.parameter_count()];
            stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .join("; ")
        };
        let hit = plan(CACHE_HIT);
        assert!(
            hit.contains("sqlite_autoindex_translation_cache_1") && !hit.contains("SCAN"),
            "{hit}"
        );
        let prune = plan(CACHE_PRUNE);
        assert!(
            prune.contains("translation_cache_expiry") && !prune.contains("TEMP B-TREE"),
            "{prune}"
        );
        let usage = plan(USAGE_GET);
        assert!(!usage.contains("SCAN"), "{usage}");
    }

    /// SQLite built with STAT4 re-prepares a statement whose plan depends on a bound value
    /// each time that value is bound again; the hot statements must not depend on theirs.
    #[test]
    fn hot_statements_are_not_prepared_again_when_rebound() {
        let conn = migrated();
        for i in 0..200 {
            conn.execute(CACHE_PUT, params![format!("k{i}"), "{}", i * 10])
                .unwrap();
            conn.execute(
                "INSERT INTO translation_usage (provider, day, chars) VALUES (?1, ?2, ?3)",
                params![format!("p{}", i % 4), format!("2026-12-{:02}", i / 4), i],
            )
            .unwrap();
        }
        // With statistics, as a long-lived file may have them.
        conn.execute_batch("ANALYZE").unwrap();
        type Args = fn(i64) -> Vec<rusqlite::types::Value>;
        let statements: [(&str, &str, Args); 4] = [
            ("hit", CACHE_HIT, |r| {
                vec![format!("k{r}").into(), (r * 7).into()]
            }),
            ("prune", CACHE_PRUNE, |r| vec![(r * 3).into()]),
            ("add usage", USAGE_ADD, |r| {
                vec![
                    format!("p{r}").into(),
                    "2026-12-01".to_owned().into(),
                    r.into(),
                    (1_000 - r).into(),
                ]
            }),
            ("usage", USAGE_GET, |r| {
                vec![format!("p{r}").into(), "2026-12-01".to_owned().into()]
            }),
        ];
        for (name, sql, args) in statements {
            let mut stmt = conn.prepare(sql).unwrap();
            for round in 0..3i64 {
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(args(round * 50 + 1)))
                    .unwrap();
                while let Ok(Some(_)) = rows.next() {}
            }
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "{name} was prepared again"
            );
        }
    }
}
