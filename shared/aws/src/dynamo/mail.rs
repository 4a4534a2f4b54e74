//! The e-mail channel's store port on the table: mailboxes, thread references and the raw
//! mails that could not be processed.
//!
//! Items:
//! - `MAILBOXES` / `MAILBOX#<address>`: a mailbox (`data`). Addresses are lower-cased by
//!   [`EmailAddress::parse`], so SK order is address order and one `Query` lists them in order.
//! - `MREF#<reference>` / `MREF`: the conversation key a thread reference leads to (`key`),
//!   written once with `attribute_not_exists(PK)`. A reference longer than
//!   [`MAX_REFERENCE_IN_KEY`] bytes is keyed by `sha256:<hex>` of it instead (a partition key
//!   holds at most 2048 bytes, and a Message-ID comes from whoever sent the mail).
//! - `UNPROCESSABLE` / `<received ms, zero-padded>#<id>`: a kept mail (`data`), listed newest
//!   first by one descending `Query`.
//! - `UNPROC#<id>` / `UNPROC`: the sort key of that mail's list item (`sk`), so that
//!   `remove_unprocessable`, which only knows the id, deletes it by key.
//!
//! Why a pointer item for removal: the id alone cannot rebuild the sort key, and the
//! alternatives cost more per call or per table: a `Query` of the whole partition filtered by
//! id reads (and bills) every kept mail on each removal, and a GSI on the id would be a fourth
//! index on a deployed table that every other item type pays nothing for but that an index
//! write doubles for kept mails. The pointer costs one extra write on record and on remove;
//! kept mails are rare. The pointer is written first, so a failure between the two writes
//! leaves at worst an unlisted pointer (removing it is harmless), never a listed mail that
//! cannot be removed.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use omnidesk_core::{
    MailStore, Mailbox, Page, PageRequest, StoreError, StoreResult, UnprocessableMail, blob_key,
};
use omnidesk_domain::{ConversationKey, EmailAddress};

use super::item::{Failure, Item, classify, get_s, json_attr, padded, s, to_json};
use super::{DynamoStore, QuerySpec, base_item};

/// Longest thread reference used in a partition key as it is; longer ones are hashed.
pub(crate) const MAX_REFERENCE_IN_KEY: usize = 1024;

const UNPROCESSABLE: &str = "UNPROCESSABLE";

fn mailbox_key(address: &EmailAddress) -> (String, String) {
    ("MAILBOXES".to_owned(), format!("MAILBOX#{address}"))
}

fn mref_key(reference: &str) -> (String, String) {
    let pk = if reference.len() > MAX_REFERENCE_IN_KEY {
        format!("MREF#sha256:{}", blob_key(reference.as_bytes()))
    } else {
        format!("MREF#{reference}")
    };
    (pk, "MREF".to_owned())
}

fn unprocessable_key(mail: &UnprocessableMail) -> (String, String) {
    (
        UNPROCESSABLE.to_owned(),
        format!("{}#{}", padded(mail.received_at.millis()), mail.id),
    )
}

fn unprocessable_pointer_key(id: &str) -> (String, String) {
    (format!("UNPROC#{id}"), "UNPROC".to_owned())
}

fn conversation_key_of(item: &Item) -> StoreResult<ConversationKey> {
    let raw = get_s(item, "key")?;
    ConversationKey::parse(raw)
        .map_err(|e| StoreError::Corrupt(format!("thread reference leads to `{raw}`: {e}")))
}

#[async_trait]
impl MailStore for DynamoStore {
    async fn put_mailbox(&self, mailbox: &Mailbox) -> StoreResult<()> {
        let mut item = base_item(mailbox_key(&mailbox.address), "mailbox");
        item.insert("data".to_owned(), s(to_json(mailbox)?));
        self.put_plain(item, "put_mailbox").await
    }

    async fn get_mailbox(&self, address: &EmailAddress) -> StoreResult<Option<Mailbox>> {
        self.get_data(mailbox_key(address), "get_mailbox").await
    }

    async fn list_mailboxes(&self) -> StoreResult<Vec<Mailbox>> {
        self.list_data("MAILBOXES", "MAILBOX#", "list_mailboxes")
            .await
    }

    async fn link_thread(
        &self,
        reference: &str,
        key: &ConversationKey,
    ) -> StoreResult<ConversationKey> {
        let mut item = base_item(mref_key(reference), "thread-ref");
        item.insert("key".to_owned(), s(key.as_str()));
        // First writer wins: one conditional write; a failed condition returns the item that
        // won (`ALL_OLD` on the failure), so a repeat costs no second call.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(e) = result else {
            return Ok(key.clone());
        };
        if let Some(PutItemError::ConditionalCheckFailedException(failed)) = e.as_service_error()
            && let Some(old) = failed.item()
        {
            return conversation_key_of(old);
        }
        match classify("link_thread", &e) {
            // The service did not return the old item (emulators may not): read it.
            Failure::ConditionFailed => match self.get(mref_key(reference), "link_thread").await? {
                Some(old) => conversation_key_of(&old),
                None => Err(StoreError::Unavailable(
                    "link_thread: the reference exists but cannot be read".to_owned(),
                )),
            },
            other => Err(other.into_store("link_thread")),
        }
    }

    async fn thread_of(&self, reference: &str) -> StoreResult<Option<ConversationKey>> {
        self.get(mref_key(reference), "thread_of")
            .await?
            .map(|item| conversation_key_of(&item))
            .transpose()
    }

    async fn record_unprocessable(&self, mail: &UnprocessableMail) -> StoreResult<()> {
        let (_, sk) = unprocessable_key(mail);
        let mut pointer = base_item(unprocessable_pointer_key(&mail.id), "unprocessable-ref");
        pointer.insert("sk".to_owned(), s(sk.clone()));
        let old = self
            .put_returning_old(pointer, "record_unprocessable", "record_unprocessable")
            .await?;
        if let Some(old) = &old {
            // Recorded again under another time: the earlier list item goes.
            let old_sk = get_s(old, "sk")?;
            if old_sk != sk {
                self.delete(
                    (UNPROCESSABLE.to_owned(), old_sk.to_owned()),
                    "record_unprocessable",
                )
                .await?;
            }
        }
        let mut item = base_item(unprocessable_key(mail), "unprocessable");
        item.insert("data".to_owned(), s(to_json(mail)?));
        self.put_plain(item, "record_unprocessable").await
    }

    async fn list_unprocessable(&self, page: &PageRequest) -> StoreResult<Page<UnprocessableMail>> {
        let spec = QuerySpec::table(UNPROCESSABLE.to_owned(), None, false);
        let Page { items, next_cursor } =
            self.query_page(&spec, page, "list_unprocessable").await?;
        let items = items
            .iter()
            .map(|item| json_attr(item, "data"))
            .collect::<StoreResult<Vec<UnprocessableMail>>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn remove_unprocessable(&self, id: &str) -> StoreResult<()> {
        let pointer = self
            .delete_returning(unprocessable_pointer_key(id), None, "remove_unprocessable")
            .await
            .map_err(|e| e.into_store("remove_unprocessable"))?;
        let Some(pointer) = pointer else {
            return Ok(());
        };
        let sk = get_s(&pointer, "sk")?;
        self.delete(
            (UNPROCESSABLE.to_owned(), sk.to_owned()),
            "remove_unprocessable",
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnidesk_domain::Timestamp;

    fn kept(id: &str, ms: i64) -> UnprocessableMail {
        UnprocessableMail {
            id: id.to_owned(),
            blob: "0".repeat(64),
            size: 1,
            reason: "broken".to_owned(),
            source: "test".to_owned(),
            received_at: Timestamp::from_millis(ms),
        }
    }

    #[test]
    fn unprocessable_sort_keys_follow_the_time_of_receipt() {
        let older = unprocessable_key(&kept("b", 999));
        let newer = unprocessable_key(&kept("a", 1_000));
        assert_eq!(older.0, newer.0);
        assert!(older.1 < newer.1);
    }

    #[test]
    fn a_long_reference_is_hashed_into_a_bounded_key_and_a_short_one_is_kept() {
        assert_eq!(mref_key("abc@example.com").0, "MREF#abc@example.com");
        let long = "x".repeat(5_000);
        let (pk, _) = mref_key(&long);
        assert!(pk.len() < 100, "{pk}");
        assert_ne!(pk, mref_key(&"x".repeat(5_001)).0);
    }

    #[test]
    fn mailbox_sort_keys_follow_address_order() {
        let a = EmailAddress::parse("a@example.com").unwrap();
        let b = EmailAddress::parse("b@example.com").unwrap();
        assert!(mailbox_key(&a).1 < mailbox_key(&b).1);
    }
}
