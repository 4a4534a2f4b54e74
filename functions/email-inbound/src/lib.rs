//! email-inbound: the ingest step of the e-mail channel. One call of [`ingest`] takes one raw
//! message (from the SMTP listener, `omnidesk email import`, or an SES receipt rule's S3
//! object) and either queues it for the router as a channel-neutral message, or keeps it where
//! an operator finds it. Nothing a customer sent is ever dropped silently:
//!
//! - too large: kept as unprocessable ("larger than the limit"), never parsed beyond its
//!   headers, and the sender gets a polite refusal (unless their mail is automatic);
//! - SES said virus or spam: quarantined (kept as unprocessable, reason "quarantined: …");
//! - the parser failed (or panicked): kept as unprocessable with the parser's reason;
//! - addressed to no configured mailbox: refused (the SMTP listener already refuses such a
//!   recipient; for imports and SES this is an error the caller reports).
//!
//! Threading, in order: a `reply+<token>@` recipient; our earlier Message-IDs (and the ones we
//! sent) in `In-Reply-To`/`References` and a bounce's original message; the ticket tag
//! `[#XXXXXXXX]` in the subject; otherwise a new thread. The message's own Message-ID is linked
//! to its thread before it is queued, so a redelivered mail finds the same thread and the
//! router stores it once (its source key is the Message-ID's).
//!
//! Automatic mail (auto-replies, lists, bulk, delivery reports, no-reply senders, our own
//! domain) is routed like any mail but marked so nothing automatic answers it; a permanent
//! bounce becomes a timeline event that marks the contact's address unreachable.
//!
//! On AWS, [`ses::handle_ses_event`] is the Lambda handler: an SES receipt rule stores the raw
//! MIME in the inbound bucket and invokes this function asynchronously with the mail's metadata;
//! the handler reads the bytes and calls [`ingest`]. Depends on `omnidesk-core` and the e-mail
//! parser; the SES glue on `omnidesk-aws` (the S3 reader) and `omnidesk-lambda` (the event type).

pub mod ses;

use std::sync::Arc;

use omnidesk_core::{
    BlobStore, Clock, IdGen, MailStore, Mailbox, OutgoingMessage, ProviderError, Queue, QueueError,
    QueueName, StoreError, UnprocessableMail, random_bytes,
};
use omnidesk_domain::{
    Attachment, ChannelMessage, ChannelRef, ConversationKey, EmailAddress, EmailRef, Identity,
    InboundEvent, LanguageTag, clean_file_name, kind_of_mime,
};
use omnidesk_email::{ParsedEmail, message_id_ref};

/// What ingest uses.
#[derive(Clone)]
pub struct EmailDeps {
    pub mail: Arc<dyn MailStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub settings: EmailSettings,
}

/// Limits of the e-mail channel.
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// The largest raw message accepted, in bytes.
    pub max_bytes: usize,
}

impl EmailSettings {
    /// The default of [`EmailSettings::max_bytes`]: 25 MB (Gmail's and Outlook's sending
    /// limit; SES receives up to 40 MB).
    pub const MAX_BYTES: usize = 25 * 1024 * 1024;

    /// Reads `OMNIDESK_MAX_EMAIL_BYTES` through `lookup` (both runtimes call this).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let max_bytes = match lookup("OMNIDESK_MAX_EMAIL_BYTES").filter(|v| !v.trim().is_empty()) {
            None => Self::MAX_BYTES,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1024)
                .ok_or_else(|| {
                    format!("OMNIDESK_MAX_EMAIL_BYTES: expected a byte count ≥ 1024, got {v:?}")
                })?,
        };
        Ok(Self { max_bytes })
    }
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            max_bytes: Self::MAX_BYTES,
        }
    }
}

/// What the mail provider said about a message (SES receipt verdicts: `PASS`, `FAIL`, `GRAY`,
/// `PROCESSING_FAILED`, `DISABLED`); all `None` for the embedded SMTP listener and imports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdicts {
    pub spam: Option<String>,
    pub virus: Option<String>,
    pub spf: Option<String>,
    pub dkim: Option<String>,
    pub dmarc: Option<String>,
}

impl Verdicts {
    /// Why the message must not be routed (a virus or spam verdict of `FAIL`).
    pub fn quarantine_reason(&self) -> Option<String> {
        let failed =
            |v: &Option<String>| v.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("FAIL"));
        if failed(&self.virus) {
            Some("quarantined: the virus scan found a virus".to_owned())
        } else if failed(&self.spam) {
            Some("quarantined: the spam scan marked it as spam".to_owned())
        } else {
            None
        }
    }
}

/// One raw message to ingest.
#[derive(Debug, Clone)]
pub struct RawMail<'a> {
    pub bytes: &'a [u8],
    /// Envelope recipients (`RCPT TO`, SES `receipt.recipients`); empty: the `To` and `Cc`
    /// headers decide.
    pub recipients: Vec<String>,
    /// Where it came from, for an operator (`smtp`, `import:<file>`, `ses:<bucket>/<key>`).
    pub source: String,
    pub verdicts: Verdicts,
}

/// What ingest did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// Queued for the router in this thread.
    Queued {
        key: ConversationKey,
        new_thread: bool,
    },
    /// Kept for an operator (unprocessable, quarantined or too large), with the reason.
    Kept { id: String, reason: String },
    /// No recipient is one of our mailboxes.
    NoMailbox,
}

/// Ingest could not finish; retrying can help (a store, blob store or queue was unavailable).
#[derive(Debug, thiserror::Error)]
#[error("e-mail ingest unavailable: {0}")]
pub struct IngestError(pub String);

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        Self(e.to_string())
    }
}
impl From<ProviderError> for IngestError {
    fn from(e: ProviderError) -> Self {
        Self(e.to_string())
    }
}
impl From<QueueError> for IngestError {
    fn from(e: QueueError) -> Self {
        Self(e.to_string())
    }
}

/// Whether mail to `address` is ours: one of the mailboxes, or a `reply+<token>@` address at
/// a mailbox's domain. Returns that mailbox.
pub async fn mailbox_for(
    mail: &dyn MailStore,
    address: &str,
) -> Result<Option<Mailbox>, StoreError> {
    let Ok(parsed) =
        EmailAddress::parse(address.trim().trim_start_matches('<').trim_end_matches('>'))
    else {
        return Ok(None);
    };
    if let Some(m) = mail.get_mailbox(&parsed).await? {
        return Ok(Some(m));
    }
    if omnidesk_email::reply_token(parsed.as_str()).is_some() {
        let domain = parsed
            .as_str()
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default();
        return Ok(mail
            .list_mailboxes()
            .await?
            .into_iter()
            .find(|m| m.domain().eq_ignore_ascii_case(domain)));
    }
    Ok(None)
}

/// Ingests one raw message.
#[tracing::instrument(skip_all, fields(source = %raw.source, bytes = raw.bytes.len()))]
pub async fn ingest(deps: &EmailDeps, raw: RawMail<'_>) -> Result<Ingested, IngestError> {
    if raw.bytes.len() > deps.settings.max_bytes {
        let reason = format!(
            "larger than the limit of {} (OMNIDESK_MAX_EMAIL_BYTES): {}",
            omnidesk_domain::human_size(deps.settings.max_bytes as u64),
            omnidesk_domain::human_size(raw.bytes.len() as u64)
        );
        let kept = keep(deps, &raw, reason).await?;
        refuse_politely(deps, &raw).await?;
        return Ok(kept);
    }
    if let Some(reason) = raw.verdicts.quarantine_reason() {
        return keep(deps, &raw, reason).await;
    }
    let parsed = match omnidesk_email::parse(raw.bytes) {
        Ok(p) => p,
        Err(failure) => {
            return keep(deps, &raw, format!("unreadable: {}", failure.reason)).await;
        }
    };
    // Our mailbox: the envelope's recipients first, then the headers'.
    let candidates: Vec<String> = if raw.recipients.is_empty() {
        parsed
            .to
            .iter()
            .chain(&parsed.cc)
            .map(|a| a.address.clone())
            .collect()
    } else {
        raw.recipients.clone()
    };
    let mut mailbox = None;
    let mut token = None;
    for rcpt in &candidates {
        if let Some(m) = mailbox_for(deps.mail.as_ref(), rcpt).await? {
            token = token.or_else(|| omnidesk_email::reply_token(rcpt));
            mailbox.get_or_insert(m);
        }
    }
    let Some(mailbox) = mailbox else {
        tracing::info!("no recipient is one of our mailboxes");
        return Ok(Ingested::NoMailbox);
    };

    // No Message-ID (it happens): the raw bytes' hash stands in, so a redelivery still finds
    // its thread and is stored once.
    let message_id = parsed.message_id.clone().unwrap_or_else(|| {
        format!(
            "{}@no-message-id.invalid",
            &omnidesk_core::blob_key(raw.bytes)[..32]
        )
    });
    let own_ref = message_id_ref(&message_id);
    let (key, new_thread) = match thread_of(deps, &parsed, &own_ref, token).await? {
        Some(key) => (key, false),
        None => (
            ConversationKey::email(&omnidesk_email::new_thread_token(random_bytes::<16>())),
            true,
        ),
    };
    // The thread's own references: the mail's Message-ID (a redelivery finds this thread),
    // and a new thread's subject tag (a reply that lost its headers still finds it).
    let key = deps.mail.link_thread(&own_ref, &key).await?;
    if new_thread && let Some(thread) = key.email_thread() {
        let tag = omnidesk_email::subject_tag(thread);
        if let Some(t) = omnidesk_email::find_subject_tag(&tag) {
            deps.mail
                .link_thread(&omnidesk_email::subject_tag_ref(&t), &key)
                .await?;
        }
    }

    let message = to_channel_message(
        deps,
        &raw,
        parsed,
        message_id,
        &mailbox,
        key.clone(),
        new_thread,
    )
    .await?;
    let event = InboundEvent::message(message, deps.clock.now());
    let body = serde_json::to_string(&event)
        .map_err(|e| IngestError(format!("cannot encode the inbound event: {e}")))?;
    deps.queue
        .send(
            QueueName::Inbound,
            OutgoingMessage::fifo(event.group_key(), event.source_key(), body),
        )
        .await?;
    tracing::info!(%key, new_thread, "e-mail queued");
    Ok(Ingested::Queued { key, new_thread })
}

/// The thread an inbound mail continues, if any.
async fn thread_of(
    deps: &EmailDeps,
    parsed: &ParsedEmail,
    own_ref: &str,
    token: Option<String>,
) -> Result<Option<ConversationKey>, IngestError> {
    // Seen before (a redelivery, the same mail to two of our addresses).
    if let Some(k) = deps.mail.thread_of(own_ref).await? {
        return Ok(Some(k));
    }
    if let Some(t) = token {
        return Ok(Some(ConversationKey::email(&t)));
    }
    let ids = parsed
        .in_reply_to
        .iter()
        .chain(parsed.references.iter().rev())
        .chain(
            parsed
                .bounce
                .as_ref()
                .and_then(|b| b.original_message_id.as_ref()),
        );
    for id in ids {
        if let Some(k) = deps.mail.thread_of(&message_id_ref(id)).await? {
            return Ok(Some(k));
        }
    }
    if let Some(tag) = omnidesk_email::find_subject_tag(&parsed.subject)
        && let Some(k) = deps
            .mail
            .thread_of(&omnidesk_email::subject_tag_ref(&tag))
            .await?
    {
        return Ok(Some(k));
    }
    Ok(None)
}

/// The neutral message of a parsed mail: files and the sanitised HTML into blob storage.
async fn to_channel_message(
    deps: &EmailDeps,
    raw: &RawMail<'_>,
    parsed: ParsedEmail,
    message_id: String,
    mailbox: &Mailbox,
    key: ConversationKey,
    new_thread: bool,
) -> Result<ChannelMessage, IngestError> {
    let from = parsed
        .from
        .as_ref()
        .or(parsed.reply_to.as_ref())
        .and_then(|a| EmailAddress::parse(&a.address).ok());
    let sender = match &from {
        Some(a) => a.clone(),
        // No usable sender: the mail is still kept, under a placeholder nobody can answer.
        None => EmailAddress::parse("unknown-sender@invalid.invalid")
            .map_err(|e| IngestError(e.to_string()))?,
    };
    let name = parsed
        .from
        .as_ref()
        .and_then(|a| a.name.clone())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| sender.as_str().to_owned());

    let mut attachments = Vec::with_capacity(parsed.attachments.len());
    for file in parsed.attachments {
        let size = file.bytes.len() as u64;
        let content_type = if file.content_type.trim().is_empty() {
            "application/octet-stream".to_owned()
        } else {
            file.content_type.to_ascii_lowercase()
        };
        let blob = deps.blobs.put(&content_type, file.bytes).await?;
        let mut a = Attachment::new(kind_of_mime(&content_type), format!("email-part:{blob}"));
        a.file_name = Some(clean_file_name(
            file.file_name.as_deref().unwrap_or("attachment"),
        ));
        a.mime_type = Some(content_type);
        a.size_bytes = Some(size);
        a.blob = Some(blob);
        if file.inline {
            a.note = Some("shown inside the e-mail".to_owned());
        }
        attachments.push(a);
    }
    let html = match parsed.html {
        Some(h) if !h.trim().is_empty() => Some(
            deps.blobs
                .put("text/html; charset=utf-8", h.into_bytes())
                .await?,
        ),
        _ => None,
    };
    let raw_blob = deps.blobs.put("message/rfc822", raw.bytes.to_vec()).await?;

    let our_domain = from
        .as_ref()
        .and_then(|a| a.as_str().rsplit_once('@').map(|(_, d)| d.to_owned()))
        .is_some_and(|d| d.eq_ignore_ascii_case(mailbox.domain()));
    let no_auto_reply = parsed
        .automatic
        .as_ref()
        .map(|a| a.reason())
        .or_else(|| our_domain.then(|| format!("sent from our own domain ({})", mailbox.domain())))
        .or_else(|| from.is_none().then(|| "no sender address".to_owned()));
    let unreachable = parsed.bounce.as_ref().filter(|b| b.permanent).map(|b| {
        let mut reason = format!(
            "e-mail to {} bounced",
            if b.recipients.is_empty() {
                "the contact".to_owned()
            } else {
                b.recipients.join(", ")
            }
        );
        if let Some(status) = &b.status {
            reason.push_str(&format!(" ({status})"));
        }
        if let Some(d) = b
            .diagnostic
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            reason.push_str(": ");
            reason.push_str(&d.chars().take(300).collect::<String>());
        }
        reason
    });
    let mut references = parsed.references.clone();
    for id in &parsed.in_reply_to {
        if !references.contains(id) {
            references.push(id.clone());
        }
    }
    let source_key = format!("email:{}", message_id_ref(&message_id));
    let text = if parsed.text.trim().is_empty() && attachments.is_empty() && html.is_none() {
        "(empty e-mail)".to_owned()
    } else {
        parsed.text
    };
    let mut m = ChannelMessage::new(
        key,
        Identity::Email {
            address: sender.clone(),
            verified: false,
        },
        name,
        text,
        source_key,
    );
    m.language = parsed
        .content_language
        .as_deref()
        .and_then(|l| l.split(',').next())
        .and_then(|l| LanguageTag::parse(l.trim()).ok());
    m.attachments = attachments;
    // No `sent_at` from `Date`: it is the sender's word (clocks are wrong, spam backdates),
    // so the timeline orders mail by arrival and the source key dedupes.
    m.channel_ref = Some(ChannelRef::Email(Box::new(EmailRef {
        subject: Some(parsed.subject.clone()).filter(|s| !s.trim().is_empty()),
        customer: from,
        mailbox: Some(mailbox.address.clone()),
        references,
        quoted: parsed.quoted,
        html,
        raw: Some(raw_blob),
        automatic: no_auto_reply.clone(),
        ..EmailRef::new(message_id)
    })));
    m.acknowledge = new_thread;
    m.continue_on = mailbox.bot_id;
    m.no_auto_reply = no_auto_reply;
    if let Some(reason) = unreachable {
        m.notice = Some(reason.clone());
        m.unreachable = Some(reason);
    }
    if !parsed.warnings.is_empty() {
        tracing::info!(warnings = ?parsed.warnings, "e-mail parsed with warnings");
    }
    Ok(m)
}

/// Keeps a raw message an operator can list and import again (a copy of its bytes in blob
/// storage, and an unprocessable-mail record with `reason`).
pub async fn keep(
    deps: &EmailDeps,
    raw: &RawMail<'_>,
    reason: String,
) -> Result<Ingested, IngestError> {
    let blob = deps.blobs.put("message/rfc822", raw.bytes.to_vec()).await?;
    let id = deps.ids.uuid().simple().to_string();
    deps.mail
        .record_unprocessable(&UnprocessableMail {
            id: id.clone(),
            blob,
            size: raw.bytes.len() as u64,
            reason: reason.clone(),
            source: raw.source.clone(),
            received_at: deps.clock.now(),
        })
        .await?;
    tracing::warn!(%id, %reason, "e-mail kept for an operator");
    Ok(Ingested::Kept { id, reason })
}

/// How much of an oversize mail is read for its headers (who to tell).
const HEADER_BYTES: usize = 64 * 1024;

/// Tells the sender of an oversize mail that it was not accepted (the SMTP listener says so
/// in its reply; imports and SES have no reply): a system mail, automatic, only to a person's
/// mail at another domain than ours.
async fn refuse_politely(deps: &EmailDeps, raw: &RawMail<'_>) -> Result<(), IngestError> {
    let head = &raw.bytes[..raw.bytes.len().min(HEADER_BYTES)];
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| head.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
        .unwrap_or(head.len());
    let Ok(headers) = omnidesk_email::parse(&head[..end]) else {
        return Ok(());
    };
    if headers.automatic.is_some() {
        return Ok(());
    }
    let Some(to) = headers
        .reply_to
        .as_ref()
        .or(headers.from.as_ref())
        .and_then(|a| EmailAddress::parse(&a.address).ok())
    else {
        return Ok(());
    };
    let mut mailbox = None;
    for rcpt in headers
        .to
        .iter()
        .chain(&headers.cc)
        .map(|a| a.address.clone())
        .chain(raw.recipients.clone())
    {
        if let Some(m) = mailbox_for(deps.mail.as_ref(), &rcpt).await? {
            mailbox = Some(m);
            break;
        }
    }
    let Some(mailbox) = mailbox else {
        return Ok(());
    };
    if to.as_str().rsplit_once('@').map(|(_, d)| d) == Some(mailbox.domain()) {
        return Ok(());
    }
    let limit = omnidesk_domain::human_size(deps.settings.max_bytes as u64);
    let subject = if headers.subject.trim().is_empty() {
        "Your message was too large".to_owned()
    } else {
        format!("Your message was too large: {}", headers.subject.trim())
    };
    let mail = omnidesk_core::SystemMail {
        to,
        from: Some(mailbox.address.clone()),
        subject,
        text: format!(
            "Thank you for writing to us. Your message ({}) is larger than we can accept \
             ({limit}), so it did not reach our team.\n\nPlease send it again with smaller \
             attachments, or share large files as a link.",
            omnidesk_domain::human_size(raw.bytes.len() as u64)
        ),
        id: deps.ids.uuid().simple().to_string(),
    };
    let body = serde_json::to_string(&omnidesk_core::OutboundBody::Mail(mail))
        .map_err(|e| IngestError(format!("cannot encode the refusal: {e}")))?;
    let dedupe = format!("refusal:{}", &omnidesk_core::blob_key(head)[..40]);
    deps.queue
        .send(
            QueueName::Outbound,
            OutgoingMessage::fifo(dedupe.clone(), dedupe, body),
        )
        .await?;
    Ok(())
}

/// Imports a kept message again (after a fix, or a quarantine judged wrong): it is ingested
/// without the provider's verdicts and forgotten from the kept list once queued (or kept
/// again with its new reason).
pub async fn reimport(deps: &EmailDeps, id: &str) -> Result<Option<Ingested>, IngestError> {
    let mut cursor = None;
    let found = loop {
        let page = deps
            .mail
            .list_unprocessable(&omnidesk_core::PageRequest {
                limit: 100,
                cursor: cursor.take(),
            })
            .await?;
        if let Some(m) = page.items.into_iter().find(|m| m.id == id) {
            break Some(m);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break None,
        }
    };
    let Some(kept) = found else {
        return Ok(None);
    };
    let Some(blob) = deps.blobs.get(&kept.blob).await? else {
        return Err(IngestError(format!(
            "the raw bytes of {id} ({}) are gone from storage",
            kept.blob
        )));
    };
    let outcome = ingest(
        deps,
        RawMail {
            bytes: &blob.bytes,
            recipients: Vec::new(),
            source: format!("reimport:{id}"),
            verdicts: Verdicts::default(),
        },
    )
    .await?;
    deps.mail.remove_unprocessable(id).await?;
    Ok(Some(outcome))
}
