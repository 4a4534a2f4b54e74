//! [`ErasureStore`] on SQLite: deletions for an erasure or retention. The database runs with
//! `secure_delete` (deleted content is overwritten in the file), and [`ErasureStore::settle`]
//! truncates the write-ahead log, so deleted text survives in neither file.

use std::collections::BTreeSet;

use async_trait::async_trait;
use omnidesk_core::{ErasureStore, StoreResult};
use omnidesk_domain::{Contact, Conversation, ConversationId, Message, MessageId, Timestamp};
use rusqlite::params;

use crate::store::{SqliteStore, from_json, sql_err};

#[async_trait]
impl ErasureStore for SqliteStore {
    async fn erase_conversation(&self, conversation: &Conversation) -> StoreResult<()> {
        let id = conversation.id.to_string();
        self.db
            .write_async(move |conn| {
                for sql in [
                    "DELETE FROM translation_cache WHERE key IN \
                     (SELECT key FROM translation_links WHERE conversation_id = ?1)",
                    "DELETE FROM translation_links WHERE conversation_id = ?1",
                    "DELETE FROM messages WHERE conversation_id = ?1",
                    "DELETE FROM conversation_keys WHERE conversation_id = ?1",
                    "DELETE FROM ai_calls WHERE conversation_id = ?1",
                    "DELETE FROM conversations WHERE id = ?1",
                ] {
                    conn.prepare_cached(sql)
                        .and_then(|mut s| s.execute([&id]))
                        .map_err(sql_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn messages_before(
        &self,
        conversation: ConversationId,
        before: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        let (cid, bound) = (
            conversation.to_string(),
            MessageId::first_at(before).to_string(),
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .read_async(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT json FROM messages WHERE conversation_id = ?1 AND id < ?2 \
                         ORDER BY id LIMIT ?3",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map(params![cid, bound, limit], |r| r.get::<_, String>(0))
                    .map_err(sql_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let m: Message = from_json("message", &row.map_err(sql_err)?)?;
                    if m.created_at < before {
                        out.push(m);
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn erase_messages(
        &self,
        conversation: ConversationId,
        ids: &[MessageId],
    ) -> StoreResult<()> {
        let cid = conversation.to_string();
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        self.db
            .write_async(move |conn| {
                let mut stmt = conn
                    .prepare_cached("DELETE FROM messages WHERE conversation_id = ?1 AND id = ?2")
                    .map_err(sql_err)?;
                for id in &ids {
                    stmt.execute([&cid, id]).map_err(sql_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn erase_contact(&self, contact: &Contact) -> StoreResult<()> {
        let id = contact.id.to_string();
        self.db
            .write_async(move |conn| {
                for sql in [
                    "DELETE FROM identities WHERE contact_id = ?1",
                    "DELETE FROM contacts WHERE id = ?1",
                ] {
                    conn.prepare_cached(sql)
                        .and_then(|mut s| s.execute([&id]))
                        .map_err(sql_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn erase_dead_letters_naming(&self, needles: &[String]) -> StoreResult<usize> {
        let needles = needles.to_vec();
        self.db
            .write_async(move |conn| {
                let mut rows = Vec::new();
                {
                    let mut stmt = conn
                        .prepare_cached("SELECT received_at_ms, id, json FROM ingest_dead_letters")
                        .map_err(sql_err)?;
                    let found = stmt
                        .query_map([], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                            ))
                        })
                        .map_err(sql_err)?;
                    for row in found {
                        let (at, id, json) = row.map_err(sql_err)?;
                        let dead: omnidesk_core::DeadLetter = from_json("dead letter", &json)?;
                        if omnidesk_core::body_names_any(&dead.body, &needles) {
                            rows.push((at, id));
                        }
                    }
                }
                let mut delete = conn
                    .prepare_cached(
                        "DELETE FROM ingest_dead_letters WHERE received_at_ms = ?1 AND id = ?2",
                    )
                    .map_err(sql_err)?;
                for (at, id) in &rows {
                    delete.execute(params![at, id]).map_err(sql_err)?;
                }
                Ok(rows.len())
            })
            .await
    }

    async fn erase_tokens_of(&self, owners: &[String]) -> StoreResult<()> {
        let owners = owners.to_vec();
        self.db
            .write_async(move |conn| {
                let mut stmt = conn
                    .prepare_cached("DELETE FROM tokens WHERE owner = ?1")
                    .map_err(sql_err)?;
                for owner in &owners {
                    stmt.execute([owner]).map_err(sql_err)?;
                }
                Ok(())
            })
            .await
    }

    async fn blobs_in_use(
        &self,
        keys: &BTreeSet<String>,
        except: &BTreeSet<ConversationId>,
        except_messages: &BTreeSet<MessageId>,
    ) -> StoreResult<BTreeSet<String>> {
        let keys = keys.clone();
        let except: BTreeSet<String> = except.iter().map(ToString::to_string).collect();
        let except_messages: BTreeSet<String> =
            except_messages.iter().map(ToString::to_string).collect();
        self.db
            .read_async(move |conn| {
                // One pass over the messages that name a file at all (rare: an erasure, a
                // daily sweep), not one per key.
                let mut stmt = conn
                    .prepare(
                        "SELECT conversation_id, id, json FROM messages \
                         WHERE instr(json, '\"blob\":') > 0 OR instr(json, '\"raw\":') > 0 \
                            OR instr(json, '\"html\":') > 0",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    })
                    .map_err(sql_err)?;
                let mut used = BTreeSet::new();
                for row in rows {
                    let (cid, mid, json) = row.map_err(sql_err)?;
                    if except.contains(&cid) || except_messages.contains(&mid) {
                        continue;
                    }
                    for key in &keys {
                        if json.contains(key.as_str()) {
                            used.insert(key.clone());
                        }
                    }
                    if used.len() == keys.len() {
                        break;
                    }
                }
                Ok(used)
            })
            .await
    }

    async fn settle(&self) -> StoreResult<()> {
        let companions: Vec<_> = self.companions.lock().clone();
        for db in std::iter::once(&self.db).chain(companions.iter()) {
            db.truncate_wal()
                .await
                .map_err(omnidesk_core::StoreError::Unavailable)?;
        }
        Ok(())
    }
}
