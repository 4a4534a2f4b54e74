//! The website channel's ports on the table: websites, single-use tokens (stored hashed, with
//! a `ttl` so DynamoDB drops expired ones) and visitors' live WebSocket connections.
//!
//! Items:
//! - `WEBSITES` / `WEBSITE#<id>`: a website (`data`).
//! - `TOKEN#<kind>#<hash>` / `TOKEN`: a token (`data`, `ttl` = its expiry).
//! - `TOKOWNER#<kind>#<owner>` / `TOKOWNER`: which token of that kind the owner holds (`hash`,
//!   `ttl`), so that a new token cancels the previous one in the same transaction.
//! - `VISITOR#<visitor>` / `VCONN#<connection>`: a visitor's connection (`data`, `ttl` =
//!   connect + 2 h), read with one `Query` per push.
//! - `VCONN#<connection>` / `VCONN`: the connection's visitor (`visitor`, `ttl`), so that
//!   `$disconnect`, which only knows the connection id, finds the item above.
//!
//! Why a pointer item rather than a GSI on the connection id: a connect and a disconnect cost
//! 4 write units either way (with a GSI each base write is also an index write), but the GSI
//! adds a `Query` to every removal, is only eventually consistent (a `$disconnect` right after
//! `$connect` could miss the entry and leave it listed for 2 h) and would be a fourth index on
//! a deployed table. The pointer is also what tells a `$default` frame whose socket it is
//! (`visitor_connection`, one strongly consistent `GetItem`).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, ReturnValue, TransactWriteItem};
use omnidesk_core::{
    ConnectionId, StoreError, StoreResult, StoredToken, TokenKind, VisitorConnection,
    VisitorConnectionStore, WebStore, Website,
};
use omnidesk_domain::{Timestamp, VisitorId, WebsiteId};

use super::item::{Failure, Item, classify, get_s, json_attr, n, s, to_json};
use super::{CONNECTION_TTL_MS, DynamoStore, QuerySpec, base_item, build_err, ttl_filter};

/// Rounds of `put_token` when a concurrent `put_token` of the same owner moved the pointer.
const TOKEN_RETRIES: usize = 5;

fn website_key(id: WebsiteId) -> (String, String) {
    ("WEBSITES".to_owned(), format!("WEBSITE#{id}"))
}
pub(super) fn token_key(kind: TokenKind, hash: &str) -> (String, String) {
    (
        format!("TOKEN#{}#{hash}", kind.as_str()),
        "TOKEN".to_owned(),
    )
}
pub(super) fn token_owner_key(kind: TokenKind, owner: &str) -> (String, String) {
    (
        format!("TOKOWNER#{}#{owner}", kind.as_str()),
        "TOKOWNER".to_owned(),
    )
}
fn visitor_conn_key(visitor: VisitorId, id: &ConnectionId) -> (String, String) {
    (format!("VISITOR#{visitor}"), format!("VCONN#{id}"))
}
fn visitor_pointer_key(id: &ConnectionId) -> (String, String) {
    (format!("VCONN#{id}"), "VCONN".to_owned())
}

/// Epoch seconds of `at`, rounded up: DynamoDB may delete an item once its `ttl` has passed,
/// so the `ttl` must never be before the expiry it stands for.
pub(super) fn ttl_secs(at: Timestamp) -> i64 {
    at.millis().div_euclid(1000) + i64::from(at.millis().rem_euclid(1000) != 0)
}

impl DynamoStore {
    /// A `GetItem` that also returns items whose `ttl` has passed (DynamoDB has not deleted
    /// them yet): conditions must name what is really there.
    pub(super) async fn get_raw(
        &self,
        key: (String, String),
        what: &str,
    ) -> StoreResult<Option<Item>> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .consistent_read(true)
            .send()
            .await
            .map(|out| out.item)
            .map_err(|e| classify(what, &e).into_store(what))
    }

    /// `DeleteItem` with `ReturnValues = ALL_OLD`: the deleted item, if there was one.
    pub(super) async fn delete_returning(
        &self,
        key: (String, String),
        condition: Option<&str>,
        what: &str,
    ) -> Result<Option<Item>, Failure> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .set_condition_expression(condition.map(str::to_owned))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map(|out| out.attributes)
            .map_err(|e| classify(what, &e))
    }

    pub(super) async fn delete(&self, key: (String, String), what: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(self.key(key)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(what, &e).into_store(what))
    }

    /// The record in the `data` attribute of the item at `key`, if there is one.
    pub(super) async fn get_data<T: serde::de::DeserializeOwned>(
        &self,
        key: (String, String),
        what: &str,
    ) -> StoreResult<Option<T>> {
        self.get(key, what)
            .await?
            .map(|item| json_attr(&item, "data"))
            .transpose()
    }

    /// The records in the `data` attribute of every item of partition `pk` whose sort key
    /// starts with `prefix`, in sort-key order.
    pub(super) async fn list_data<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        prefix: &str,
        what: &str,
    ) -> StoreResult<Vec<T>> {
        let spec = QuerySpec::table(pk.to_owned(), Some(prefix.to_owned()), true);
        self.query_all(&spec, what)
            .await?
            .iter()
            .map(|item| json_attr(item, "data"))
            .collect()
    }

    /// Puts `item` (replacing any) and returns the item it replaced, if there was one.
    pub(super) async fn put_returning_old(
        &self,
        item: Item,
        what: &str,
        label: &str,
    ) -> StoreResult<Option<Item>> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map(|out| out.attributes)
            .map_err(|e| classify(what, &e).into_store(label))
    }

    pub(super) async fn put_plain(&self, item: Item, what: &str) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(what, &e).into_store(what))
    }
}

#[async_trait]
impl WebStore for DynamoStore {
    async fn put_website(&self, website: &Website) -> StoreResult<()> {
        let website =
            omnidesk_core::sealing::website_to_store(self.sealing.as_deref(), website).await?;
        let mut item = base_item(website_key(website.id), "website");
        item.insert("data".to_owned(), s(to_json(&website)?));
        self.put_plain(item, "put_website").await
    }

    async fn get_website(&self, id: WebsiteId) -> StoreResult<Option<Website>> {
        match self.get_data(website_key(id), "get_website").await? {
            Some(w) => Ok(Some(
                omnidesk_core::sealing::website_from_store(self.sealing.as_deref(), w).await?,
            )),
            None => Ok(None),
        }
    }

    async fn list_websites(&self) -> StoreResult<Vec<Website>> {
        let mut out = Vec::new();
        for w in self
            .list_data::<Website>("WEBSITES", "WEBSITE#", "list_websites")
            .await?
        {
            out.push(omnidesk_core::sealing::website_from_store(self.sealing.as_deref(), w).await?);
        }
        Ok(out)
    }

    async fn put_token(&self, token: &StoredToken) -> StoreResult<()> {
        let ttl = n(ttl_secs(token.expires_at));
        let mut item = base_item(token_key(token.kind, &token.hash), "token");
        item.insert("data".to_owned(), s(to_json(token)?));
        item.insert("ttl".to_owned(), ttl.clone());
        if token.owner == token.hash {
            // Its own owner (a WebSocket ticket): no earlier token can be its owner's, so
            // there is nothing to cancel and one write does.
            return self.put_plain(item, "put_token").await;
        }
        // The owner's pointer names their token. One transaction writes the new token, moves
        // the pointer from the token it named (the condition) and deletes that token: there is
        // never a moment with two live tokens, and a concurrent `put_token` of the same owner
        // makes this one re-read and try again. The token itself is put unconditionally so
        // that a retried request stays idempotent (its hash is 256 random bits).
        let owner_key = token_owner_key(token.kind, &token.owner);
        for _ in 0..TOKEN_RETRIES {
            let previous = match self.get_raw(owner_key.clone(), "put_token").await? {
                Some(pointer) => Some(get_s(&pointer, "hash")?.to_owned()),
                None => None,
            };
            let mut pointer = base_item(owner_key.clone(), "token-owner");
            pointer.insert("hash".to_owned(), s(token.hash.clone()));
            pointer.insert("ttl".to_owned(), ttl.clone());
            let mut pointer_put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(pointer));
            pointer_put = match &previous {
                None => pointer_put.condition_expression("attribute_not_exists(PK)"),
                Some(old) => pointer_put
                    .condition_expression("#hash = :old")
                    .expression_attribute_names("#hash", "hash")
                    .expression_attribute_values(":old", s(old.clone())),
            };
            let mut items = vec![
                TransactWriteItem::builder()
                    .put(self.put(item.clone(), None)?)
                    .build(),
                TransactWriteItem::builder()
                    .put(pointer_put.build().map_err(build_err)?)
                    .build(),
            ];
            if let Some(old) = previous.as_deref().filter(|old| *old != token.hash) {
                items.push(
                    TransactWriteItem::builder()
                        .delete(
                            Delete::builder()
                                .table_name(&self.table)
                                .set_key(Some(self.key(token_key(token.kind, old))))
                                .build()
                                .map_err(build_err)?,
                        )
                        .build(),
                );
            }
            match self.transact(items, "put_token").await {
                Ok(()) => return Ok(()),
                // The pointer moved (or the service did not say which item failed): re-read.
                Err(Failure::Canceled(_)) | Err(Failure::ConditionFailed) => continue,
                Err(other) => return Err(other.into_store("put_token")),
            }
        }
        Err(StoreError::Unavailable(format!(
            "put_token: the owner's token kept changing ({TOKEN_RETRIES} tries)"
        )))
    }

    async fn take_token(
        &self,
        kind: TokenKind,
        hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<StoredToken>> {
        // One conditional delete that returns what it deleted: of two concurrent redemptions
        // exactly one gets the item, the other fails the condition. An expired token is
        // deleted all the same and not returned.
        match self
            .delete_returning(
                token_key(kind, hash),
                Some("attribute_exists(PK)"),
                "take_token",
            )
            .await
        {
            Ok(Some(item)) => {
                let token: StoredToken = json_attr(&item, "data")?;
                Ok((token.expires_at > now).then_some(token))
            }
            Ok(None) | Err(Failure::ConditionFailed) => Ok(None),
            Err(other) => Err(other.into_store("take_token")),
        }
    }
}

#[async_trait]
impl VisitorConnectionStore for DynamoStore {
    async fn add_visitor_connection(&self, connection: &VisitorConnection) -> StoreResult<()> {
        let ttl = n(ttl_secs(
            connection.connected_at.plus_millis(CONNECTION_TTL_MS),
        ));
        let data = s(to_json(connection)?);
        // The pointer first: if the second write fails, `$connect` fails and nothing is
        // listed; a stray pointer expires with its `ttl`.
        let mut pointer = base_item(visitor_pointer_key(&connection.id), "visitor-connection");
        pointer.insert("data".to_owned(), data.clone());
        pointer.insert("ttl".to_owned(), ttl.clone());
        let old = self
            .put_returning_old(pointer, "add_visitor_connection", "PutItem")
            .await?;
        if let Some(old) = &old {
            // Upsert by id: the connection moved to another visitor (never on API Gateway,
            // whose ids are unique; the port allows it).
            let previous: VisitorConnection = json_attr(old, "data")?;
            if previous.visitor_id != connection.visitor_id {
                self.delete(
                    visitor_conn_key(previous.visitor_id, &previous.id),
                    "add_visitor_connection",
                )
                .await?;
            }
        }
        let mut item = base_item(
            visitor_conn_key(connection.visitor_id, &connection.id),
            "visitor-connection",
        );
        item.insert("data".to_owned(), data);
        item.insert("ttl".to_owned(), ttl);
        self.put_plain(item, "add_visitor_connection").await
    }

    async fn remove_visitor_connection(&self, id: &ConnectionId) -> StoreResult<()> {
        let pointer = self
            .delete_returning(visitor_pointer_key(id), None, "remove_visitor_connection")
            .await
            .map_err(|e| e.into_store("remove_visitor_connection"))?;
        let Some(pointer) = pointer else {
            return Ok(());
        };
        let connection: VisitorConnection = json_attr(&pointer, "data")?;
        self.delete(
            visitor_conn_key(connection.visitor_id, id),
            "remove_visitor_connection",
        )
        .await
    }

    async fn visitor_connections(&self, visitor: VisitorId) -> StoreResult<Vec<ConnectionId>> {
        let now = self.now();
        let spec = QuerySpec::table(
            format!("VISITOR#{visitor}"),
            Some("VCONN#".to_owned()),
            true,
        )
        .filtered(ttl_filter(now));
        let mut live = Vec::new();
        for item in self.query_all(&spec, "visitor_connections").await? {
            let connection: VisitorConnection = json_attr(&item, "data")?;
            if connection.connected_at.plus_millis(CONNECTION_TTL_MS) > now {
                live.push(connection.id);
            }
        }
        Ok(live)
    }

    async fn visitor_connection(
        &self,
        id: &ConnectionId,
    ) -> StoreResult<Option<VisitorConnection>> {
        let Some(item) = self
            .get(visitor_pointer_key(id), "visitor_connection")
            .await?
        else {
            return Ok(None);
        };
        let connection: VisitorConnection = json_attr(&item, "data")?;
        Ok(
            (connection.connected_at.plus_millis(CONNECTION_TTL_MS) > self.now())
                .then_some(connection),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ttl_is_never_before_the_expiry_it_stands_for() {
        assert_eq!(ttl_secs(Timestamp::from_millis(5_000)), 5);
        assert_eq!(ttl_secs(Timestamp::from_millis(5_001)), 6);
        assert_eq!(ttl_secs(Timestamp::from_millis(5_999)), 6);
    }

    #[test]
    fn token_items_are_keyed_by_kind_and_hash_and_owners_by_kind_and_owner() {
        assert_eq!(token_key(TokenKind::Handoff, "ab").0, "TOKEN#handoff#ab");
        assert_ne!(
            token_key(TokenKind::Handoff, "ab"),
            token_key(TokenKind::WsTicket, "ab")
        );
        assert_eq!(
            token_owner_key(TokenKind::Handoff, "w:v").0,
            "TOKOWNER#handoff#w:v"
        );
    }
}
