//! The AI's store port on the table: the FAQ with its version, and the log of AI calls.
//!
//! Items:
//! - `FAQ` / `<id>`: an FAQ entry (`data`). `faq` reads them with one strongly consistent
//!   `Query` of the partition, page after page (`LastEvaluatedKey`): SK order is id order.
//! - `FAQVERSION` / `FAQVERSION`: the FAQ's version (`version`), stepped by one `UpdateItem`
//!   `ADD version :1` (`ReturnValues = UPDATED_NEW`) per change: DynamoDB serialises updates
//!   of one item, so concurrent changes each get their own version. Its own partition, so no
//!   entry id can collide with it.
//! - `AICALL` / `<at ms, zero-padded>#<id>`: a call (`data`), in the list of all calls;
//!   `AICALL#<conversation id>` / the same SK: the same call in its conversation's list. Both
//!   carry `ttl` = 90 days after `at` ([`AI_CALL_KEEP_SECS`]), and lists skip expired ones.
//!
//! Ordering: a put writes its entries first (`BatchWriteItem`, 25 a call, unprocessed items
//! retried with backoff), then steps the version; a delete deletes (`DeleteItem`,
//! `ReturnValues = ALL_OLD`: whether there was an entry) and then steps it; `faq` reads the
//! version first (`GetItem`, strongly consistent), then the entries. So the entries `faq`
//! returns are never older than its version, and a cache keyed by the version cannot keep
//! stale entries: at worst it sees the entries of a change whose step comes next, and
//! rebuilds once more. A bulk put is not atomic (no transaction holds 1,000 items): if a
//! batch fails after others were written, the version is still stepped before the error is
//! returned, so the partial change is not invisible to caches.
//!
//! A call's two items are written by one `BatchWriteItem`, not a transaction (half the write
//! units, and a call log needs no isolation): if it fails part way, the caller's retry writes
//! the same keys again, so a call is never listed twice. A duplicate rather than a pointer
//! item, so each list is one `Query` without a second read. All calls share the partition
//! `AICALL`: one write a model call is far below a partition's 1,000 writes a second.

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{PutRequest, ReturnValue, WriteRequest};
use omnidesk_core::{AiCall, AiStore, Faq, FaqEntry, PageRequest, StoreError, StoreResult};
use omnidesk_domain::{ConversationId, Timestamp};

use super::item::{Item, classify, json_attr, n, opt_i64, padded, s, to_json};
use super::web::ttl_secs;
use super::{DynamoStore, QuerySpec, base_item, build_err, ttl_filter};

/// How long an AI call is kept after its `at`.
pub(crate) const AI_CALL_KEEP_SECS: i64 = 90 * 24 * 60 * 60;
/// Items per `BatchWriteItem` call (the API's limit).
const BATCH_WRITE_MAX: usize = 25;
/// Rounds of retrying a `BatchWriteItem`'s unprocessed items before giving up (transient).
const BATCH_WRITE_ROUNDS: usize = 8;

const FAQ_PK: &str = "FAQ";
pub(super) const CALLS_PK: &str = "AICALL";

fn faq_key(id: &str) -> (String, String) {
    (FAQ_PK.to_owned(), id.to_owned())
}

fn faq_version_key() -> (String, String) {
    ("FAQVERSION".to_owned(), "FAQVERSION".to_owned())
}

fn call_sk(call: &AiCall) -> String {
    format!("{}#{}", padded(call.at.millis()), call.id)
}

pub(super) fn conversation_calls_pk(conversation: ConversationId) -> String {
    format!("{CALLS_PK}#{conversation}")
}

/// The `ttl` of a call: [`AI_CALL_KEEP_SECS`] after its `at`.
fn call_ttl(at: Timestamp) -> i64 {
    ttl_secs(at) + AI_CALL_KEEP_SECS
}

/// The entries to write: of one id given twice, the last (a `BatchWriteItem` refuses a key
/// twice).
fn last_of_each_id(entries: &[FaqEntry]) -> Vec<&FaqEntry> {
    let mut seen = HashSet::new();
    let mut kept: Vec<&FaqEntry> = entries
        .iter()
        .rev()
        .filter(|e| seen.insert(e.id.as_str()))
        .collect();
    kept.reverse();
    kept
}

fn version_of(item: Option<&Item>) -> StoreResult<u64> {
    let Some(item) = item else {
        return Ok(0);
    };
    let version = opt_i64(item, "version")?.unwrap_or(0);
    u64::try_from(version)
        .map_err(|_| StoreError::Corrupt(format!("the FAQ version is negative: {version}")))
}

impl DynamoStore {
    /// Puts `items` with `BatchWriteItem`, [`BATCH_WRITE_MAX`] a call, retrying unprocessed
    /// items with backoff. On an error, `wrote_any` tells whether some items may be stored
    /// (a batch was accepted, or a call failed in a way that may have written it).
    async fn batch_put(
        &self,
        items: Vec<Item>,
        what: &str,
        wrote_any: &mut bool,
    ) -> StoreResult<()> {
        let requests = items
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(build_err)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.batch_write(requests, what, wrote_any).await
    }

    /// Runs `requests` (puts or deletes) with `BatchWriteItem`, [`BATCH_WRITE_MAX`] a call,
    /// retrying unprocessed ones with backoff. On an error, `wrote_any` tells whether some may
    /// have been applied.
    pub(super) async fn batch_write(
        &self,
        requests: Vec<WriteRequest>,
        what: &str,
        wrote_any: &mut bool,
    ) -> StoreResult<()> {
        let mut requests = requests.into_iter().peekable();
        while requests.peek().is_some() {
            let mut pending: Vec<WriteRequest> = requests.by_ref().take(BATCH_WRITE_MAX).collect();
            for round in 0.. {
                if pending.is_empty() {
                    break;
                }
                if round == BATCH_WRITE_ROUNDS {
                    return Err(StoreError::Unavailable(format!(
                        "{what}: DynamoDB left {} items unprocessed",
                        pending.len()
                    )));
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << round.min(5))).await;
                }
                let sent = pending.len();
                let out = match self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut pending))
                    .send()
                    .await
                {
                    Ok(out) => out,
                    Err(e) => {
                        let e = classify(what, &e).into_store(what);
                        // A timeout or a lost answer may have written the batch.
                        *wrote_any |= e.is_transient();
                        return Err(e);
                    }
                };
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                *wrote_any |= pending.len() < sent;
            }
        }
        Ok(())
    }

    /// Steps the FAQ's version by one; returns the new version.
    async fn bump_faq_version(&self, what: &str) -> StoreResult<u64> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(faq_version_key())))
            .update_expression("ADD #version :one SET #kind = :kind")
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":kind", s("faq-version"))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| classify(what, &e).into_store(what))?;
        match out.attributes {
            Some(item) if item.contains_key("version") => version_of(Some(&item)),
            _ => Err(StoreError::Corrupt(format!(
                "{what}: the version update returned no version"
            ))),
        }
    }
}

#[async_trait]
impl AiStore for DynamoStore {
    async fn faq(&self) -> StoreResult<Faq> {
        // The version first: the entries read after it are at least as new.
        let version = self.faq_version().await?;
        let spec = QuerySpec::table(FAQ_PK.to_owned(), None, true).consistent();
        let entries = self
            .query_all(&spec, "faq")
            .await?
            .iter()
            .map(|item| json_attr(item, "data"))
            .collect::<StoreResult<Vec<FaqEntry>>>()?;
        Ok(Faq { version, entries })
    }

    async fn faq_version(&self) -> StoreResult<u64> {
        let item = self.get_raw(faq_version_key(), "faq_version").await?;
        version_of(item.as_ref())
    }

    async fn put_faq_entries(&self, entries: &[FaqEntry]) -> StoreResult<u64> {
        const WHAT: &str = "put_faq_entries";
        if entries.is_empty() {
            return self.faq_version().await;
        }
        let items = last_of_each_id(entries)
            .into_iter()
            .map(|entry| {
                let mut item = base_item(faq_key(&entry.id), "faq");
                item.insert("data".to_owned(), s(to_json(entry)?));
                Ok(item)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let mut wrote_any = false;
        if let Err(e) = self.batch_put(items, WHAT, &mut wrote_any).await {
            if wrote_any {
                // Some entries may be stored: make the change visible to caches.
                let _ = self.bump_faq_version(WHAT).await;
            }
            return Err(e);
        }
        self.bump_faq_version(WHAT).await
    }

    async fn delete_faq_entry(&self, id: &str) -> StoreResult<bool> {
        const WHAT: &str = "delete_faq_entry";
        let old = self
            .delete_returning(faq_key(id), None, WHAT)
            .await
            .map_err(|e| e.into_store(WHAT))?;
        if old.is_none() {
            return Ok(false);
        }
        self.bump_faq_version(WHAT).await?;
        Ok(true)
    }

    async fn record_ai_call(&self, call: &AiCall) -> StoreResult<()> {
        let data = to_json(call)?;
        let sk = call_sk(call);
        let items = [
            CALLS_PK.to_owned(),
            conversation_calls_pk(call.conversation_id),
        ]
        .map(|pk| {
            let mut item = base_item((pk, sk.clone()), "ai-call");
            item.insert("data".to_owned(), s(data.clone()));
            item.insert("ttl".to_owned(), n(call_ttl(call.at)));
            item
        });
        self.batch_put(items.into(), "record_ai_call", &mut false)
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
        let pk = conversation.map_or_else(|| CALLS_PK.to_owned(), conversation_calls_pk);
        let spec = QuerySpec::table(pk, None, false)
            .filtered(ttl_filter(self.now()))
            .consistent();
        let page = self
            .query_page(&spec, &PageRequest::first(limit), "ai_calls")
            .await?;
        page.items
            .iter()
            .map(|item| json_attr(item, "data"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, answer: &str) -> FaqEntry {
        FaqEntry {
            id: id.to_owned(),
            questions: vec!["?".to_owned()],
            answer: answer.to_owned(),
            language: None,
            enabled: true,
            updated_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn of_one_id_given_twice_the_last_entry_is_written_once() {
        let entries = [entry("a", "1"), entry("b", "2"), entry("a", "3")];
        let kept: Vec<(&str, &str)> = last_of_each_id(&entries)
            .iter()
            .map(|e| (e.id.as_str(), e.answer.as_str()))
            .collect();
        assert_eq!(kept, [("b", "2"), ("a", "3")]);
    }

    #[test]
    fn call_sort_keys_order_by_time_then_id_and_expire_90_days_later() {
        let at = Timestamp::from_millis(1_700_000_000_001);
        let call = |at: Timestamp, id: &str| AiCall {
            id: id.to_owned(),
            conversation_id: ConversationId::from_uuid(uuid::Uuid::nil()),
            message_id: None,
            at,
            kind: "answer".to_owned(),
            provider: "openai".to_owned(),
            model: String::new(),
            prompt: String::new(),
            answer: String::new(),
            outcome: "reply".to_owned(),
            usage: Default::default(),
            cost_micros: 0,
            latency_ms: 0,
        };
        let early = call_sk(&call(Timestamp::from_millis(999), "b"));
        let late = call_sk(&call(at, "a"));
        let tie = call_sk(&call(at, "b"));
        assert!(early < late && late < tie, "{early} {late} {tie}");
        assert_eq!(call_ttl(at), 1_700_000_001 + AI_CALL_KEEP_SECS);
    }
}
