//! A contact's data for good: exported first on request (the right of access), erased on
//! request (the right to erasure), and trimmed by the retention timer.
//!
//! Both runtimes run these with their own ports: the agent API's `DELETE /api/v1/contacts/{id}`
//! and `GET …/export`, and the retention sweep of `omnidesk serve` and of the AWS timer.

use std::collections::BTreeSet;

use base64::Engine as _;
use omnidesk_domain::{
    Contact, ContactId, Conversation, ConversationId, Message, SystemEvent, Timestamp,
};
use serde::Serialize;

use crate::{
    BlobStore, ContactStore, ConversationFilter, ConversationStore, ErasureStore, MessageStore,
    PageRequest, ProviderError, StoreError,
};

/// The `format` of an export archive.
pub const ARCHIVE_FORMAT: &str = "omnidesk-contact-export/1";
/// Files up to this many bytes in total are inside an export archive (base64); the others
/// are listed with their name and size, and the API adds a short-lived download link.
pub const ARCHIVE_INLINE_BYTES: u64 = 25 * 1024 * 1024;
/// Messages a retention sweep deletes from one conversation per call.
const RETENTION_BATCH: usize = 200;

/// What erasure, export and retention work with.
#[derive(Clone, Copy)]
pub struct ErasurePorts<'a> {
    pub contacts: &'a dyn ContactStore,
    pub conversations: &'a dyn ConversationStore,
    pub messages: &'a dyn MessageStore,
    pub erasure: &'a dyn ErasureStore,
    pub blobs: &'a dyn BlobStore,
    /// A mailer that keeps what it sent (the embedded outbox folder): an erased contact's
    /// mails go too. `None` where sent mail is handed on (SES, a relay).
    pub mailer: Option<&'a dyn crate::Mailer>,
}

/// Why an erasure or export did not finish. Every step is idempotent: running it again
/// finishes what a failure left.
#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error("contact {0} not found")]
    NotFound(ContactId),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("file storage: {0}")]
    Blobs(#[from] ProviderError),
}

/// What an erasure removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Erased {
    pub contact: ContactId,
    /// Contacts merged into it earlier (their profiles were pointers to it).
    pub merged_contacts: Vec<ContactId>,
    pub conversations: Vec<ConversationId>,
    pub messages: usize,
    /// Files deleted from the blob store (a file another conversation also holds stays).
    pub files: usize,
    /// Sent mails deleted from the mailer's keeping (the outbox folder).
    pub mails: usize,
}

/// A contact's data as one JSON document: the archive of a request of access.
#[derive(Debug, Clone, Serialize)]
pub struct ContactArchive {
    pub format: &'static str,
    pub exported_at: Timestamp,
    pub contact: Contact,
    /// Contacts merged into this one (same person, another channel before the merge).
    pub merged_contacts: Vec<Contact>,
    pub conversations: Vec<ArchivedConversation>,
    pub files: Vec<ArchivedFile>,
}

/// A conversation and its whole timeline, oldest message first.
#[derive(Debug, Clone, Serialize)]
pub struct ArchivedConversation {
    pub conversation: Conversation,
    pub messages: Vec<Message>,
}

/// A file of the archive: an attachment, or an e-mail's raw message or formatted body.
#[derive(Debug, Clone, Serialize)]
pub struct ArchivedFile {
    /// The blob key the messages name (`attachments[].blob`, `channel_ref.raw`/`html`).
    pub key: String,
    pub message_id: omnidesk_domain::MessageId,
    /// `attachment`, `email-raw` or `email-html`.
    pub role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    pub content_type: String,
    pub size_bytes: u64,
    /// The bytes, when the archive's files fit in [`ARCHIVE_INLINE_BYTES`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
    /// A short-lived download link for a file not inside the archive (added by the API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Why the bytes are not inside (too large, gone from the store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A contact, its conversations with their messages (oldest first), and the contacts merged
/// into it.
struct Gathered {
    contact: Contact,
    conversations: Vec<(Conversation, Vec<Message>)>,
    merged: Vec<Contact>,
}

async fn gather(ports: ErasurePorts<'_>, id: ContactId) -> Result<Gathered, ErasureError> {
    let contact = ports
        .contacts
        .get_contact(id)
        .await?
        .ok_or(ErasureError::NotFound(id))?;
    let mut conversations = Vec::new();
    let mut cursor = None;
    loop {
        let page = ports
            .conversations
            .list_conversations_of_contact(
                id,
                &PageRequest {
                    limit: 100,
                    cursor: cursor.take(),
                },
            )
            .await?;
        for c in page.items {
            let messages = all_messages(ports.messages, c.id).await?;
            conversations.push((c, messages));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // Contacts merged into this one left their pointer profiles; a merge's timeline event
    // names them (a chain of merges too: A into B, then B into this one).
    let mut into: BTreeSet<ContactId> = BTreeSet::from([id]);
    let merges: Vec<(ContactId, ContactId)> = conversations
        .iter()
        .flat_map(|(_, ms)| ms.iter())
        .filter_map(|m| match &m.event {
            Some(SystemEvent::ContactsMerged { from, into, .. }) => Some((*from, *into)),
            _ => None,
        })
        .collect();
    loop {
        let before = into.len();
        for (from, to) in &merges {
            if into.contains(to) {
                into.insert(*from);
            }
        }
        if into.len() == before {
            break;
        }
    }
    let mut merged = Vec::new();
    for other in into.into_iter().filter(|c| *c != id) {
        if let Some(stub) = ports.contacts.get_contact(other).await?
            && stub.merged_into.is_some()
        {
            merged.push(stub);
        }
    }
    conversations.sort_by_key(|(c, _)| c.id);
    Ok(Gathered {
        contact,
        conversations,
        merged,
    })
}

/// A conversation's messages, oldest first.
async fn all_messages(
    messages: &dyn MessageStore,
    conversation: ConversationId,
) -> Result<Vec<Message>, StoreError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = messages
            .list_messages(
                conversation,
                &PageRequest {
                    limit: 200,
                    cursor: cursor.take(),
                },
            )
            .await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out.reverse();
    Ok(out)
}

/// Deletes the files `messages` name, except those a message outside them and outside the
/// conversations `except` still holds.
async fn delete_files(
    ports: ErasurePorts<'_>,
    messages: &[&Message],
    except: &BTreeSet<ConversationId>,
) -> Result<usize, ErasureError> {
    let keys: BTreeSet<String> = messages.iter().flat_map(|m| m.blob_keys()).collect();
    if keys.is_empty() {
        return Ok(0);
    }
    let own: BTreeSet<omnidesk_domain::MessageId> = messages.iter().map(|m| m.id).collect();
    let shared = ports.erasure.blobs_in_use(&keys, except, &own).await?;
    let mut deleted = 0;
    for key in keys.difference(&shared) {
        ports.blobs.delete(key).await?;
        deleted += 1;
    }
    Ok(deleted)
}

/// Erases contact `id` for good: the files of their messages (unless another conversation
/// holds the same bytes), every conversation with its messages, keys and AI calls, the
/// contacts merged into it, and the contact with its identities. The contact goes last, so
/// running it again after a failure finds what is left.
pub async fn erase_contact(ports: ErasurePorts<'_>, id: ContactId) -> Result<Erased, ErasureError> {
    let gathered = gather(ports, id).await?;
    let ids: BTreeSet<ConversationId> = gathered.conversations.iter().map(|(c, _)| c.id).collect();
    let all: Vec<&Message> = gathered
        .conversations
        .iter()
        .flat_map(|(_, ms)| ms.iter())
        .collect();
    let files = delete_files(ports, &all, &ids).await?;
    let mut mails = 0;
    if let Some(mailer) = ports.mailer {
        let mut addresses: BTreeSet<omnidesk_domain::EmailAddress> =
            std::iter::once(&gathered.contact)
                .chain(gathered.merged.iter())
                .flat_map(|c| c.identities.iter())
                .filter_map(|i| match i {
                    omnidesk_domain::Identity::Email { address, .. } => Some(address.clone()),
                    _ => None,
                })
                .collect();
        addresses.extend(
            all.iter()
                .filter_map(|m| m.email_ref().and_then(|r| r.customer.clone())),
        );
        for address in &addresses {
            mails += mailer.forget_recipient(address).await?;
        }
    }
    // Links and codes in flight name the customer in their payloads.
    let mut owners: Vec<String> = Vec::new();
    for (c, _) in &gathered.conversations {
        owners.push(format!("conversation:{}", c.id));
        for key in c.all_keys().chain(c.released_keys.iter()) {
            if let Some((website, visitor)) = key.web_visitor() {
                owners.push(format!("{website}:{visitor}"));
            }
        }
    }
    owners.extend(
        std::iter::once(&gathered.contact)
            .chain(gathered.merged.iter())
            .flat_map(|c| c.identities.iter())
            .map(|i| i.key().to_string()),
    );
    ports.erasure.erase_tokens_of(&owners).await?;
    let needles =
        dead_letter_needles(std::iter::once(&gathered.contact).chain(gathered.merged.iter()));
    let dead_letters = ports.erasure.erase_dead_letters_naming(&needles).await?;
    if dead_letters > 0 {
        tracing::info!(contact = %id, dead_letters, "erased rejected inputs naming the contact");
    }
    for (c, _) in &gathered.conversations {
        ports.erasure.erase_conversation(c).await?;
    }
    for stub in &gathered.merged {
        ports.erasure.erase_contact(stub).await?;
    }
    ports.erasure.erase_contact(&gathered.contact).await?;
    ports.erasure.settle().await?;
    Ok(Erased {
        contact: id,
        merged_contacts: gathered.merged.iter().map(|c| c.id).collect(),
        conversations: ids.into_iter().collect(),
        messages: all.len(),
        files,
        mails,
    })
}

/// What names the contacts in a rejected webhook body (Telegram's compact JSON, white space
/// removed): their Telegram user id as an `"id"` (a private chat's id is the user's too), their
/// username, and their e-mail addresses.
fn dead_letter_needles<'a>(
    contacts: impl Iterator<Item = &'a omnidesk_domain::Contact>,
) -> Vec<String> {
    let mut needles = BTreeSet::new();
    for identity in contacts.flat_map(|c| c.identities.iter()) {
        match identity {
            omnidesk_domain::Identity::Telegram {
                user_id, username, ..
            } => {
                needles.insert(format!("\"id\":{user_id}"));
                if let Some(name) = username.as_deref().filter(|n| !n.is_empty()) {
                    needles.insert(format!("\"username\":\"{name}\""));
                }
            }
            omnidesk_domain::Identity::Email { address, .. } => {
                needles.insert(address.as_str().to_owned());
            }
            _ => {}
        }
    }
    needles.into_iter().collect()
}

/// Everything kept about contact `id`, as one archive: the profile, the contacts merged into
/// it, every conversation with its messages, and the files (inside the archive up to
/// [`ARCHIVE_INLINE_BYTES`] in total).
pub async fn export_contact(
    ports: ErasurePorts<'_>,
    id: ContactId,
    now: Timestamp,
) -> Result<ContactArchive, ErasureError> {
    let gathered = gather(ports, id).await?;
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    let mut inline_left = ARCHIVE_INLINE_BYTES;
    for m in gathered.conversations.iter().flat_map(|(_, ms)| ms.iter()) {
        let mut named: Vec<(String, &'static str, Option<String>)> = m
            .attachments
            .iter()
            .filter_map(|a| {
                a.blob
                    .clone()
                    .map(|k| (k, "attachment", a.file_name.clone()))
            })
            .collect();
        if let Some(mail) = m.email_ref() {
            named.extend(mail.raw.clone().map(|k| (k, "email-raw", None)));
            named.extend(mail.html.clone().map(|k| (k, "email-html", None)));
        }
        for (key, role, file_name) in named {
            if !seen.insert(key.clone()) {
                continue;
            }
            let mut file = ArchivedFile {
                key: key.clone(),
                message_id: m.id,
                role,
                file_name,
                content_type: "application/octet-stream".to_owned(),
                size_bytes: 0,
                content_base64: None,
                url: None,
                note: None,
            };
            match ports.blobs.get(&key).await? {
                Some(blob) => {
                    file.content_type = blob.content_type;
                    file.size_bytes = blob.bytes.len() as u64;
                    if file.size_bytes <= inline_left {
                        inline_left -= file.size_bytes;
                        file.content_base64 =
                            Some(base64::engine::general_purpose::STANDARD.encode(&blob.bytes));
                    } else {
                        file.note = Some(format!(
                            "not inside the archive: its files are over {} in total",
                            crate::usecases::human_size(ARCHIVE_INLINE_BYTES)
                        ));
                    }
                }
                None => file.note = Some("no longer stored".to_owned()),
            }
            files.push(file);
        }
    }
    Ok(ContactArchive {
        format: ARCHIVE_FORMAT,
        exported_at: now,
        contact: gathered.contact,
        merged_contacts: gathered.merged,
        conversations: gathered
            .conversations
            .into_iter()
            .map(|(conversation, messages)| ArchivedConversation {
                conversation,
                messages,
            })
            .collect(),
        files,
    })
}

/// What one retention sweep deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Swept {
    /// Conversations whose last activity was before the cutoff: erased whole.
    pub conversations: usize,
    /// Messages before the cutoff in conversations that go on.
    pub messages: usize,
    pub files: usize,
}

/// Deletes what is older than `cutoff` in up to `pages` pages of 100 conversations, from
/// `cursor` on: a conversation with no activity since is erased whole (its record keeps a
/// preview of the last message); in the others, the messages before it. Files go with their
/// messages unless another conversation holds the same bytes. Contacts stay (a profile is not
/// a message). Returns what it deleted and where to go on (`None`: the sweep is done). Safe to
/// stop and run again at any point.
pub async fn sweep_retention(
    ports: ErasurePorts<'_>,
    cutoff: Timestamp,
    mut cursor: Option<String>,
    pages: usize,
) -> Result<(Swept, Option<String>), ErasureError> {
    let mut swept = Swept::default();
    for _ in 0..pages.max(1) {
        let page = ports
            .conversations
            .list_conversations(
                &ConversationFilter::default(),
                &PageRequest {
                    limit: 100,
                    cursor: cursor.take(),
                },
            )
            .await?;
        // Old conversations are erased whole; in the others, old messages go in rounds of
        // RETENTION_BATCH. One check of shared files per round of the page (on DynamoDB a
        // scan), not one per conversation.
        let old: Vec<Conversation> = page
            .items
            .into_iter()
            .filter(|c| c.created_at < cutoff)
            .collect();
        let (whole, mut ongoing): (Vec<Conversation>, Vec<Conversation>) =
            old.into_iter().partition(|c| c.last_activity_at < cutoff);
        let mut whole_messages = Vec::new();
        for c in &whole {
            whole_messages.extend(all_messages(ports.messages, c.id).await?);
        }
        let whole_ids: BTreeSet<ConversationId> = whole.iter().map(|c| c.id).collect();
        let mut first_round = true;
        while first_round || !ongoing.is_empty() {
            let mut batch: Vec<(ConversationId, Vec<Message>)> = Vec::new();
            for c in &ongoing {
                let old = ports
                    .erasure
                    .messages_before(c.id, cutoff, RETENTION_BATCH)
                    .await?;
                if !old.is_empty() {
                    batch.push((c.id, old));
                }
            }
            // Files first: a sweep stopped in between finds the messages again.
            let mut refs: Vec<&Message> = batch.iter().flat_map(|(_, ms)| ms.iter()).collect();
            if first_round {
                refs.extend(whole_messages.iter());
            }
            swept.files += delete_files(ports, &refs, &whole_ids).await?;
            if first_round {
                for c in &whole {
                    ports.erasure.erase_conversation(c).await?;
                }
                swept.conversations += whole.len();
                swept.messages += whole_messages.len();
                first_round = false;
            }
            for (id, old) in &batch {
                let ids: Vec<_> = old.iter().map(|m| m.id).collect();
                ports.erasure.erase_messages(*id, &ids).await?;
                swept.messages += old.len();
            }
            // Another round only for conversations that had a full batch.
            let full: BTreeSet<ConversationId> = batch
                .iter()
                .filter(|(_, ms)| ms.len() >= RETENTION_BATCH)
                .map(|(id, _)| *id)
                .collect();
            ongoing.retain(|c| full.contains(&c.id));
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    if swept != Swept::default() {
        ports.erasure.settle().await?;
    }
    Ok((swept, cursor))
}
