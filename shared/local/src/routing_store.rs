//! Routing's [`RoutingStore`] on [`SqliteStore`]: tables `teams`, `routing_rules` and
//! `canned_responses` (schema version 7).
//!
//! - Teams and canned responses are one row each by their id (the team's name, the shortcut),
//!   upserted by one statement and listed in key order (`BINARY` collation: UTF-8 byte order,
//!   as on DynamoDB and as Rust orders strings).
//! - The rules are the one row `id = 1` of `routing_rules`. A put is one conditional statement
//!   in one write job: `INSERT … ON CONFLICT DO NOTHING` over version 0, `UPDATE … WHERE
//!   version = expected` over any other. The writer runs it inside `BEGIN IMMEDIATE`, which
//!   holds the file's write lock against every other connection and process, so of two
//!   editors of one version exactly one changes the row; the other changes nothing and gets
//!   `Conflict`.
//! - `rules_version` reads only the `version` column.

use async_trait::async_trait;
use omnidesk_core::{CannedResponse, RoutingStore, StoreError, StoreResult, StoredRules};
use omnidesk_domain::{Team, TeamName};
use rusqlite::{OptionalExtension, params};

use crate::store::{SqliteStore, from_json, sql_err, to_json};

const TEAM_PUT: &str = "INSERT INTO teams (name, json) VALUES (?1, ?2) \
     ON CONFLICT (name) DO UPDATE SET json = excluded.json";
const TEAM_GET: &str = "SELECT json FROM teams WHERE name = ?1";
const TEAMS: &str = "SELECT json FROM teams ORDER BY name";
const TEAM_DELETE: &str = "DELETE FROM teams WHERE name = ?1";
const RULES_GET: &str = "SELECT version, json FROM routing_rules WHERE id = 1";
const RULES_VERSION: &str = "SELECT version FROM routing_rules WHERE id = 1";
/// The first rules: only if there are none.
const RULES_CREATE: &str = "INSERT INTO routing_rules (id, version, json) VALUES (1, 1, ?1) \
     ON CONFLICT (id) DO NOTHING";
/// `?1` the new version, `?2` the JSON, `?3` the version they replace.
const RULES_REPLACE: &str =
    "UPDATE routing_rules SET version = ?1, json = ?2 WHERE id = 1 AND version = ?3";
const CANNED_PUT: &str = "INSERT INTO canned_responses (shortcut, json) VALUES (?1, ?2) \
     ON CONFLICT (shortcut) DO UPDATE SET json = excluded.json";
const CANNED: &str = "SELECT json FROM canned_responses ORDER BY shortcut";
const CANNED_DELETE: &str = "DELETE FROM canned_responses WHERE shortcut = ?1";

fn jsons<T: serde::de::DeserializeOwned>(
    conn: &rusqlite::Connection,
    sql: &str,
    what: &str,
) -> StoreResult<Vec<T>> {
    let rows: Vec<String> = conn
        .prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(sql_err)?;
    rows.iter().map(|j| from_json(what, j)).collect()
}

/// Runs a `DELETE` by key; whether it removed a row.
fn delete(conn: &rusqlite::Connection, sql: &str, key: &str) -> StoreResult<bool> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([key]))
        .map(|n| n > 0)
        .map_err(sql_err)
}

fn rules_version(conn: &rusqlite::Connection) -> StoreResult<u64> {
    let version: Option<i64> = conn
        .prepare_cached(RULES_VERSION)
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    to_u64(version.unwrap_or(0))
}

fn to_u64(version: i64) -> StoreResult<u64> {
    u64::try_from(version)
        .map_err(|_| StoreError::Corrupt(format!("the rules version is negative: {version}")))
}

#[async_trait]
impl RoutingStore for SqliteStore {
    async fn put_team(&self, team: &Team) -> StoreResult<()> {
        let name = team.name.as_str().to_owned();
        let json = to_json(team)?;
        self.db
            .write_async(move |conn| {
                conn.prepare_cached(TEAM_PUT)
                    .and_then(|mut s| s.execute(params![name, json]))
                    .map(|_| ())
                    .map_err(sql_err)
            })
            .await
    }

    async fn get_team(&self, name: &TeamName) -> StoreResult<Option<Team>> {
        let name = name.as_str().to_owned();
        self.db
            .read_async(move |conn| {
                let json: Option<String> = conn
                    .prepare_cached(TEAM_GET)
                    .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                json.map(|j| from_json("team", &j)).transpose()
            })
            .await
    }

    async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        self.db.read_async(|conn| jsons(conn, TEAMS, "team")).await
    }

    async fn delete_team(&self, name: &TeamName) -> StoreResult<bool> {
        let name = name.as_str().to_owned();
        self.db
            .write_async(move |conn| delete(conn, TEAM_DELETE, &name))
            .await
    }

    async fn get_rules(&self) -> StoreResult<Option<StoredRules>> {
        self.db
            .read_async(|conn| {
                let row: Option<(i64, String)> = conn
                    .prepare_cached(RULES_GET)
                    .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                    .map_err(sql_err)?;
                let Some((version, json)) = row else {
                    return Ok(None);
                };
                let rules: StoredRules = from_json("routing rules", &json)?;
                // The column is what puts compare; the JSON holds the same number.
                Ok(Some(StoredRules {
                    version: to_u64(version)?,
                    ..rules
                }))
            })
            .await
    }

    async fn rules_version(&self) -> StoreResult<u64> {
        self.db.read_async(rules_version).await
    }

    async fn put_rules(
        &self,
        rules: &StoredRules,
        expected_version: u64,
    ) -> StoreResult<StoredRules> {
        // A version SQLite cannot hold is not stored, so a put over it is stale.
        let versions = i64::try_from(expected_version)
            .ok()
            .and_then(|expected| Some((expected, expected.checked_add(1)?)));
        let Some((expected, next)) = versions else {
            return Err(StoreError::Conflict(format!(
                "rules are not at version {expected_version}"
            )));
        };
        let stored = StoredRules {
            version: expected_version + 1,
            ..rules.clone()
        };
        let json = to_json(&stored)?;
        self.db
            .write_async(move |conn| {
                let changed = if expected == 0 {
                    conn.prepare_cached(RULES_CREATE)
                        .and_then(|mut s| s.execute([json]))
                } else {
                    conn.prepare_cached(RULES_REPLACE)
                        .and_then(|mut s| s.execute(params![next, json, expected]))
                }
                .map_err(sql_err)?;
                if changed == 1 {
                    return Ok(stored);
                }
                let current = rules_version(conn)?;
                Err(StoreError::Conflict(format!(
                    "rules are at version {current}, not {expected}"
                )))
            })
            .await
    }

    async fn put_canned(&self, canned: &CannedResponse) -> StoreResult<()> {
        let shortcut = canned.shortcut.clone();
        let json = to_json(canned)?;
        self.db
            .write_async(move |conn| {
                conn.prepare_cached(CANNED_PUT)
                    .and_then(|mut s| s.execute(params![shortcut, json]))
                    .map(|_| ())
                    .map_err(sql_err)
            })
            .await
    }

    async fn list_canned(&self) -> StoreResult<Vec<CannedResponse>> {
        self.db
            .read_async(|conn| jsons(conn, CANNED, "canned response"))
            .await
    }

    async fn delete_canned(&self, shortcut: &str) -> StoreResult<bool> {
        let shortcut = shortcut.to_owned();
        self.db
            .write_async(move |conn| delete(conn, CANNED_DELETE, &shortcut))
            .await
    }
}
