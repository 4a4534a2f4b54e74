//! [`ErasureStore`] on the DynamoDB table: an erasure's and the retention sweep's deletes.
//!
//! - a conversation: `Query` `PK = CONV#id` (its record and every message), `Query`
//!   `PK = AICALL#id` (its AI calls), then `BatchWriteItem` deletes of those items, of each
//!   message's `SRC#…` claim and of each AI call's twin in the `AICALL` list; its routing keys
//!   `CKEY#…` by `DeleteItem` with `conv = :id` (a key that moved on stays);
//! - messages before a time: `Query` `PK = CONV#id`, `SK` between `MSG#` and
//!   `MSG#<first id of that millisecond>` (UUIDv7 ids sort by time), ascending;
//! - a contact: `DeleteItem` `CONTACT#id/PROFILE`, and each `IDENT#…` with `contact = :id`;
//! - files in use: one `Scan` of the message items whose `data`, `content` or `channelRef`
//!   contains one of up to
//!   [`KEYS_PER_SCAN`] blob keys (files are shared by content, and no
//!   index leads from a file to its messages: an erasure is rare, a scan reads the table once).

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use omnidesk_core::{ErasureStore, StoreResult, TokenKind};
use omnidesk_domain::{
    Contact, Conversation, ConversationId, Identity, Message, MessageId, Timestamp,
};

use super::item::{Failure, Item, classify, get_s, s};
use super::{
    DynamoStore, PK, QuerySpec, SK, build_err, ckey_key, contact_key, ident_key, message_of,
    msg_key, src_key,
};

/// Blob keys looked for in one scan (a filter expression holds 4 KB; a key is 64 characters).
const KEYS_PER_SCAN: usize = 40;

impl DynamoStore {
    /// Deletes the items at `keys` (unconditionally, 25 a call).
    async fn delete_all(&self, keys: Vec<(String, String)>, what: &str) -> StoreResult<()> {
        let mut seen = BTreeSet::new();
        let requests = keys
            .into_iter()
            .filter(|k| seen.insert(k.clone()))
            .map(|k| {
                DeleteRequest::builder()
                    .set_key(Some(self.key(k)))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build())
                    .map_err(build_err)
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let mut wrote_any = false;
        self.batch_write(requests, what, &mut wrote_any).await
    }

    /// `DeleteItem` of `key` only while its attribute `attr` is `value` (a mapping that moved
    /// on to another owner stays); gone already is no error.
    async fn delete_if_owned(
        &self,
        key: (String, String),
        attr: &str,
        value: String,
        what: &str,
    ) -> StoreResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .condition_expression("#a = :v")
            .expression_attribute_names("#a", attr)
            .expression_attribute_values(":v", s(value))
            .send()
            .await;
        match result.map_err(|e| classify(what, &e)) {
            Ok(_) | Err(Failure::ConditionFailed) => Ok(()),
            Err(f) => Err(f.into_store(what)),
        }
    }

    /// The delete keys of messages: each message and its `SRC#…` claim (the claim exists only
    /// for a message whose id is not derived from its source; deleting a missing one is free).
    fn message_keys(messages: &[Message]) -> Vec<(String, String)> {
        let mut keys = Vec::with_capacity(messages.len() * 2);
        for m in messages {
            keys.push(msg_key(m.conversation_id, m.id));
            if let Some(source) = &m.source_key
                && !m.id.derived_from(source)
            {
                keys.push(src_key(source));
            }
        }
        keys
    }
}

#[async_trait]
impl ErasureStore for DynamoStore {
    async fn erase_conversation(&self, conversation: &Conversation) -> StoreResult<()> {
        const WHAT: &str = "erase_conversation";
        let id = conversation.id;
        let items = self
            .query_all(
                &QuerySpec::table(format!("CONV#{id}"), None, true).consistent(),
                WHAT,
            )
            .await?;
        let mut keys = Vec::with_capacity(items.len());
        let mut messages = Vec::new();
        let mut cached = Vec::new();
        for item in &items {
            let sk = get_s(item, SK)?;
            if sk.starts_with("MSG#") {
                messages.push(message_of(item)?);
            } else {
                if let Some(entry) = super::translation::linked_cache_key(sk) {
                    cached.push(entry);
                }
                keys.push((get_s(item, PK)?.to_owned(), sk.to_owned()));
            }
        }
        // Messages and cached translations first, the record and the links last: a run
        // stopped half-way is found again by its contact's list and finished.
        let mut first = Self::message_keys(&messages);
        first.extend(cached);
        let calls = self
            .query_all(
                &QuerySpec::table(super::ai::conversation_calls_pk(id), None, true).consistent(),
                WHAT,
            )
            .await?;
        for call in &calls {
            let sk = get_s(call, SK)?.to_owned();
            first.push((get_s(call, PK)?.to_owned(), sk.clone()));
            first.push((super::ai::CALLS_PK.to_owned(), sk));
        }
        self.delete_all(first, WHAT).await?;
        let mut routing: Vec<_> = conversation
            .all_keys()
            .chain(conversation.released_keys.iter())
            .cloned()
            .collect();
        routing.sort();
        routing.dedup();
        for key in routing {
            let pk = ckey_key(&key);
            self.delete_if_owned(pk.clone(), "conv", id.to_string(), WHAT)
                .await?;
            self.mappings.lock().remove(&pk.0);
        }
        self.delete_all(keys, WHAT).await
    }

    async fn messages_before(
        &self,
        conversation: ConversationId,
        before: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        const WHAT: &str = "messages_before";
        let bound = msg_key(conversation, MessageId::first_at(before)).1;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :first AND :bound")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(format!("CONV#{conversation}")))
            .expression_attribute_values(":first", s("MSG#"))
            .expression_attribute_values(":bound", s(bound))
            .scan_index_forward(true)
            .consistent_read(true)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| classify(WHAT, &e).into_store(WHAT))?;
        let mut messages = Vec::new();
        for item in out.items.unwrap_or_default() {
            let m = message_of(&item)?;
            if m.created_at < before {
                messages.push(m);
            }
        }
        Ok(messages)
    }

    async fn erase_messages(
        &self,
        conversation: ConversationId,
        ids: &[MessageId],
    ) -> StoreResult<()> {
        const WHAT: &str = "erase_messages";
        // The source claims need the messages' source keys.
        let keys: Vec<(String, String)> = ids.iter().map(|id| msg_key(conversation, *id)).collect();
        let items = self.batch_get(keys.clone(), WHAT).await?;
        let messages = items
            .iter()
            .map(message_of)
            .collect::<StoreResult<Vec<_>>>()?;
        let mut all = Self::message_keys(&messages);
        all.extend(keys);
        self.delete_all(all, WHAT).await
    }

    async fn erase_contact(&self, contact: &Contact) -> StoreResult<()> {
        const WHAT: &str = "erase_contact";
        let id = contact.id.to_string();
        for key in contact.identities.iter().map(Identity::key) {
            let pk = ident_key(&key);
            self.delete_if_owned(pk.clone(), "contact", id.clone(), WHAT)
                .await?;
            self.mappings.lock().remove(&pk.0);
        }
        self.forget_mappings_to(&id);
        self.delete_all(vec![contact_key(contact.id)], WHAT).await
    }

    async fn erase_dead_letters_naming(&self, needles: &[String]) -> StoreResult<usize> {
        const WHAT: &str = "erase_dead_letters_naming";
        // The log of the last 30 days (its TTL): read whole, a few hundred items at most.
        let items = self
            .query_all(
                &QuerySpec::table("DEADLETTER".to_owned(), None, true).consistent(),
                WHAT,
            )
            .await?;
        let mut keys = Vec::new();
        for item in &items {
            let dead: omnidesk_core::DeadLetter = super::item::json_attr(item, "data")?;
            if omnidesk_core::body_names_any(&dead.body, needles) {
                keys.push((get_s(item, PK)?.to_owned(), get_s(item, SK)?.to_owned()));
            }
        }
        let gone = keys.len();
        self.delete_all(keys, WHAT).await?;
        Ok(gone)
    }

    async fn erase_tokens_of(&self, owners: &[String]) -> StoreResult<()> {
        const WHAT: &str = "erase_tokens_of";
        let mut keys = Vec::new();
        for owner in owners {
            for kind in [TokenKind::Handoff, TokenKind::BindCode] {
                let pointer = super::web::token_owner_key(kind, owner);
                if let Some(item) = self.get_raw(pointer.clone(), WHAT).await? {
                    keys.push(super::web::token_key(kind, get_s(&item, "hash")?));
                    keys.push(pointer);
                }
            }
        }
        self.delete_all(keys, WHAT).await
    }

    async fn blobs_in_use(
        &self,
        keys: &BTreeSet<String>,
        except: &BTreeSet<ConversationId>,
        except_messages: &BTreeSet<MessageId>,
    ) -> StoreResult<BTreeSet<String>> {
        const WHAT: &str = "blobs_in_use";
        let except: BTreeSet<String> = except.iter().map(|c| format!("CONV#{c}")).collect();
        let except_messages: BTreeSet<String> =
            except_messages.iter().map(|m| format!("MSG#{m}")).collect();
        let keys: Vec<&String> = keys.iter().collect();
        let mut used = BTreeSet::new();
        for chunk in keys.chunks(KEYS_PER_SCAN) {
            let mut filter = String::from("begins_with(#sk, :msg) AND (");
            let mut request = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .projection_expression("#pk, #sk, #data, #ref, #content")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_names("#data", "data")
                .expression_attribute_names("#ref", "channelRef")
                .expression_attribute_names("#content", "content")
                .expression_attribute_values(":msg", s("MSG#"));
            for (i, key) in chunk.iter().enumerate() {
                if i > 0 {
                    filter.push_str(" OR ");
                }
                filter.push_str(&format!(
                    "contains(#data, :k{i}) OR contains(#ref, :k{i}) OR contains(#content, :k{i})"
                ));
                request = request.expression_attribute_values(format!(":k{i}"), s(key.as_str()));
            }
            filter.push(')');
            let request = request.filter_expression(filter);
            let mut start: Option<Item> = None;
            loop {
                let out = request
                    .clone()
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| classify(WHAT, &e).into_store(WHAT))?;
                for item in out.items.unwrap_or_default() {
                    if except.contains(get_s(&item, PK)?)
                        || except_messages.contains(get_s(&item, SK)?)
                    {
                        continue;
                    }
                    let text: String = ["data", "channelRef", "content"]
                        .iter()
                        .filter_map(|a| match item.get(*a) {
                            Some(AttributeValue::S(v)) => Some(v.as_str()),
                            _ => None,
                        })
                        .collect();
                    used.extend(
                        chunk
                            .iter()
                            .filter(|k| text.contains(k.as_str()))
                            .map(|k| (*k).clone()),
                    );
                }
                match out.last_evaluated_key.filter(|k| !k.is_empty()) {
                    Some(last) => start = Some(last),
                    None => break,
                }
            }
        }
        Ok(used)
    }
}
