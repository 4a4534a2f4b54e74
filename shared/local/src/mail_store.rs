//! The e-mail channel's [`MailStore`] on [`SqliteStore`]: tables `mailboxes`, `thread_refs`
//! and `unprocessable_mail` (schema version 4).

use async_trait::async_trait;
use omnidesk_core::{
    MailStore, Mailbox, Page, PageRequest, StoreError, StoreResult, UnprocessableMail,
};
use omnidesk_domain::{ConversationKey, EmailAddress, Timestamp};
use rusqlite::{OptionalExtension, params};

use crate::store::{
    SqliteStore, decode_cursor, encode_cursor, fetch_limit, from_json, paginate, sql_err, to_json,
};

const UNPROCESSABLE: &str =
    "SELECT id, blob, size, reason, source, received_at_ms FROM unprocessable_mail";
const NEWEST_FIRST: &str = "ORDER BY received_at_ms DESC, id DESC";

fn parse_key(s: &str) -> StoreResult<ConversationKey> {
    ConversationKey::parse(s).map_err(|e| StoreError::Corrupt(format!("thread reference: {e}")))
}

#[async_trait]
impl MailStore for SqliteStore {
    async fn put_mailbox(&self, mailbox: &Mailbox) -> StoreResult<()> {
        let m = mailbox.clone();
        self.db
            .write_async(move |conn| {
                let json = to_json(&m)?;
                conn.prepare_cached(
                    "INSERT INTO mailboxes (address, json) VALUES (?1, ?2) \
                     ON CONFLICT (address) DO UPDATE SET json = excluded.json",
                )
                .and_then(|mut s| s.execute(params![m.address.as_str(), json]))
                .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn get_mailbox(&self, address: &EmailAddress) -> StoreResult<Option<Mailbox>> {
        let address = address.as_str().to_owned();
        self.db
            .read_async(move |conn| {
                let json: Option<String> = conn
                    .prepare_cached("SELECT json FROM mailboxes WHERE address = ?1")
                    .and_then(|mut s| s.query_row([address], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                json.map(|j| from_json("mailbox", &j)).transpose()
            })
            .await
    }

    async fn list_mailboxes(&self) -> StoreResult<Vec<Mailbox>> {
        self.db
            .read_async(move |conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT json FROM mailboxes ORDER BY address")
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .map_err(sql_err)?;
                rows.map(|j| from_json("mailbox", &j.map_err(sql_err)?))
                    .collect()
            })
            .await
    }

    async fn link_thread(
        &self,
        reference: &str,
        key: &ConversationKey,
    ) -> StoreResult<ConversationKey> {
        let (reference, key) = (reference.to_owned(), key.as_str().to_owned());
        self.db
            .write_async(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO thread_refs (reference, conversation_key) VALUES (?1, ?2) \
                     ON CONFLICT (reference) DO NOTHING",
                )
                .and_then(|mut s| s.execute(params![reference, key]))
                .map_err(sql_err)?;
                let linked: String = conn
                    .prepare_cached("SELECT conversation_key FROM thread_refs WHERE reference = ?1")
                    .and_then(|mut s| s.query_row([reference], |r| r.get(0)))
                    .map_err(sql_err)?;
                parse_key(&linked)
            })
            .await
    }

    async fn thread_of(&self, reference: &str) -> StoreResult<Option<ConversationKey>> {
        let reference = reference.to_owned();
        self.db
            .read_async(move |conn| {
                let key: Option<String> = conn
                    .prepare_cached("SELECT conversation_key FROM thread_refs WHERE reference = ?1")
                    .and_then(|mut s| s.query_row([reference], |r| r.get(0)).optional())
                    .map_err(sql_err)?;
                key.as_deref().map(parse_key).transpose()
            })
            .await
    }

    async fn record_unprocessable(&self, mail: &UnprocessableMail) -> StoreResult<()> {
        let m = mail.clone();
        let size = i64::try_from(m.size).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.db
            .write_async(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO unprocessable_mail \
                     (id, blob, size, reason, source, received_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (id) DO UPDATE SET blob = excluded.blob, size = excluded.size, \
                     reason = excluded.reason, source = excluded.source, \
                     received_at_ms = excluded.received_at_ms",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        m.id,
                        m.blob,
                        size,
                        m.reason,
                        m.source,
                        m.received_at.millis()
                    ])
                })
                .map_err(sql_err)?;
                Ok(())
            })
            .await
    }

    async fn list_unprocessable(&self, page: &PageRequest) -> StoreResult<Page<UnprocessableMail>> {
        let page = page.clone();
        self.db
            .read_async(move |conn| {
                let cursor = decode_cursor(page.cursor.as_deref())?;
                let limit = fetch_limit(&page);
                let row = |r: &rusqlite::Row<'_>| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                    ))
                };
                let rows: Vec<_> = match cursor {
                    None => conn
                        .prepare_cached(&format!("{UNPROCESSABLE} {NEWEST_FIRST} LIMIT ?1"))
                        .and_then(|mut s| s.query_map([limit], row)?.collect())
                        .map_err(sql_err)?,
                    Some((ms, id)) => conn
                        .prepare_cached(&format!(
                            "{UNPROCESSABLE} WHERE (received_at_ms, id) < (?1, ?2) \
                             {NEWEST_FIRST} LIMIT ?3"
                        ))
                        .and_then(|mut s| s.query_map(params![ms, id, limit], row)?.collect())
                        .map_err(sql_err)?,
                };
                let mut out = Vec::new();
                for (id, blob, size, reason, source, ms) in rows {
                    let size =
                        u64::try_from(size).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let cursor = encode_cursor(ms, &id);
                    out.push((
                        UnprocessableMail {
                            id,
                            blob,
                            size,
                            reason,
                            source,
                            received_at: Timestamp::from_millis(ms),
                        },
                        cursor,
                    ));
                }
                Ok(paginate(out, &page))
            })
            .await
    }

    async fn remove_unprocessable(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.db
            .write_async(move |conn| {
                conn.prepare_cached("DELETE FROM unprocessable_mail WHERE id = ?1")
                    .and_then(|mut s| s.execute([id]))
                    .map_err(sql_err)?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprocessable_mail_pages_are_read_in_index_order_without_sorting() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        crate::db::migrate(&conn, ":memory:").unwrap();
        for sql in [
            format!("{UNPROCESSABLE} {NEWEST_FIRST} LIMIT 3"),
            format!("{UNPROCESSABLE} WHERE (received_at_ms, id) < (1, 'x') {NEWEST_FIRST} LIMIT 3"),
        ] {
            let plan: String = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
                .join("; ");
            assert!(
                plan.contains("unprocessable_mail_recent") && !plan.contains("TEMP B-TREE"),
                "{sql}: {plan}"
            );
        }
    }
}
