//! What the e-mail channel keeps and uses: the mailboxes an admin configured, the thread
//! references that lead a reply to its conversation, the raw mails that could not be
//! processed, and the mailer that sends ours.

use async_trait::async_trait;
use omnidesk_domain::{BotId, EmailAddress, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Page, PageRequest, ProviderError, StoreResult};

/// An address customers write to (`support@example.com`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    pub address: EmailAddress,
    /// The name our mail is sent under ("Example Support").
    #[serde(default)]
    pub name: Option<String>,
    /// The Telegram bot the customer is offered to continue on.
    #[serde(default)]
    pub bot_id: Option<BotId>,
    pub created_at: Timestamp,
}

impl Mailbox {
    /// The domain of the mailbox (`example.com`).
    pub fn domain(&self) -> &str {
        self.address
            .as_str()
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default()
    }
}

/// A raw mail that could not be processed (unparseable, or the parser failed), kept so an
/// operator can list it and import it again: nothing a customer sent is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnprocessableMail {
    pub id: String,
    /// Blob key of the raw bytes.
    pub blob: String,
    pub size: u64,
    /// Why it was not processed.
    pub reason: String,
    /// Where it came from (`smtp`, `import`, `ses:<bucket>/<key>`).
    pub source: String,
    pub received_at: Timestamp,
}

/// Mailboxes, thread references and unprocessable mail.
///
/// Guarantees: `put_mailbox` upserts by address. `link_thread` is first-writer-wins and
/// idempotent: a reference, once linked, keeps leading to the same key (a reply can never be
/// redirected by a later mail reusing a Message-ID). Unprocessable mails are listed newest
/// first and kept until removed.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Creates or replaces a mailbox.
    async fn put_mailbox(&self, mailbox: &Mailbox) -> StoreResult<()>;
    /// One mailbox.
    async fn get_mailbox(&self, address: &EmailAddress) -> StoreResult<Option<Mailbox>>;
    /// Every mailbox, ordered by address.
    async fn list_mailboxes(&self) -> StoreResult<Vec<Mailbox>>;
    /// Points a thread reference (a Message-ID we received or sent, a subject tag) at an
    /// e-mail conversation key, unless it already points somewhere; returns where it points.
    async fn link_thread(
        &self,
        reference: &str,
        key: &omnidesk_domain::ConversationKey,
    ) -> StoreResult<omnidesk_domain::ConversationKey>;
    /// Where a thread reference leads.
    async fn thread_of(
        &self,
        reference: &str,
    ) -> StoreResult<Option<omnidesk_domain::ConversationKey>>;
    /// Keeps a raw mail that could not be processed.
    async fn record_unprocessable(&self, mail: &UnprocessableMail) -> StoreResult<()>;
    /// The kept mails, newest first.
    async fn list_unprocessable(&self, page: &PageRequest) -> StoreResult<Page<UnprocessableMail>>;
    /// Forgets a kept mail (after it was imported again); unknown ids are not an error.
    async fn remove_unprocessable(&self, id: &str) -> StoreResult<()>;
}

/// A composed e-mail, ready to send as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Envelope sender (our mailbox).
    pub from: EmailAddress,
    /// Envelope recipients.
    pub to: Vec<EmailAddress>,
    /// The `Message-ID` in the raw message, without angle brackets.
    pub message_id: String,
    /// The whole message (RFC 5322, CRLF line ends).
    pub raw: Vec<u8>,
}

/// What the mailer did with a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMail {
    /// The `Message-ID` the recipient sees: ours, or the one the provider replaced it with
    /// (SES does), without angle brackets.
    pub message_id: String,
    /// Where a person can find it (an outbox file), for logs.
    pub location: Option<String>,
}

/// Sends e-mail: SESv2 on AWS; an SMTP relay or an outbox folder of `.eml` files locally.
///
/// Guarantees: `Transient` when retrying can help (a timeout, a 4xx SMTP reply, throttling),
/// `Permanent` when it cannot (a 5xx reply, an unverified sender); the returned `message_id`
/// is the one replies will carry in `In-Reply-To`.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &OutgoingMail) -> Result<SentMail, ProviderError>;
    /// Deletes what this mailer kept of the mail sent to `address` (an erasure); returns how
    /// many mails. A mailer that hands mail on and keeps nothing (SES, a relay) has nothing
    /// to delete.
    async fn forget_recipient(
        &self,
        address: &omnidesk_domain::EmailAddress,
    ) -> Result<usize, ProviderError> {
        let _ = address;
        Ok(0)
    }
}
