//! omnidesk-sender: the function that owns outbound channel calls. One step sends one stored
//! outgoing message (an [`OutboundJob`]) and records what happened to it where agents see it.
//!
//! Telegram: texts are split at 4096 UTF-16 units and sent in order; parts already sent are
//! never sent again on a retry; sends are spaced by an in-process [`RateLimiter`] (1/s per
//! chat, 30/s per bot); a 429 becomes [`JobOutcome::RetryAfter`]; a 403 marks the contact
//! unreachable and fails the message for good; network errors retry with backoff and give up
//! after [`MAX_ATTEMPTS`] receives.
//!
//! Files (attachments stored in blob storage) are uploaded by multipart, so Telegram never
//! fetches from our host: one file by the method its kind picks (an image above
//! [`TELEGRAM_PHOTO_LIMIT`] or of a type browsers may not show inline goes as a document, an
//! `audio/ogg` voice note as a voice message), several as albums (photos and videos together,
//! documents together, audio together; the rest one by one). The text is the caption of the
//! first when it fits Telegram's 1024 units, else it goes first as text. A message with
//! buttons sends its text with an inline keyboard. Every Telegram message id is recorded, and
//! a retry resumes after the parts already sent.
//!
//! Depends on `omnidesk-core` ports only (no teloxide, no AWS SDK): `main.rs`/`infra/local`
//! wire the adapters.

mod email;
mod limiter;

use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::usecases::{conversation_view, push_to_agents, push_to_visitor};
use omnidesk_core::{
    AgentStore, AppendOutcome, BlobStore, BotStore, Clock, ConnectionStore, ContactStore,
    ConversationStore, IdGen, JobError, JobOutcome, MessageStore, OutboundJob, OutgoingFile,
    ProviderError, Push, Secret, ServerEvent, StoreError, TelegramApi, TelegramError,
    VisitorConnectionStore,
};
use omnidesk_domain::{
    Attachment, AttachmentKind, BotId, Button, Channel, ChannelRef, Conversation, Delivery,
    DeliveryStatus, Direction, Message, SystemEvent, TELEGRAM_PHOTO_LIMIT, TELEGRAM_TEXT_LIMIT,
    TELEGRAM_UPLOAD_LIMIT, TelegramChatId, safe_inline, split_for_telegram,
};

pub use email::{EmailOut, MAX_EMAIL_FILES_BYTES};
pub use limiter::RateLimiter;

/// A transiently failing message is marked failed once it has been received this many times.
pub const MAX_ATTEMPTS: u32 = 5;

/// How often an optimistic write (contact, conversation) is retried after a conflict.
const OPTIMISTIC_RETRIES: usize = 5;

/// What the sender uses.
#[derive(Clone)]
pub struct SenderDeps {
    pub messages: Arc<dyn MessageStore>,
    pub conversations: Arc<dyn ConversationStore>,
    pub contacts: Arc<dyn ContactStore>,
    pub bots: Arc<dyn BotStore>,
    pub connections: Arc<dyn ConnectionStore>,
    /// Agents (their names, for the visitor's view of a reply).
    pub agents: Arc<dyn AgentStore>,
    /// Visitors' open widgets: every outgoing message of a conversation with a web chat shows
    /// there too. `None` where the website channel is not deployed.
    pub visitors: Option<Arc<dyn VisitorConnectionStore>>,
    pub push: Arc<dyn Push>,
    pub telegram: Arc<dyn TelegramApi>,
    /// Attachment bytes, uploaded to the channel from here.
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub limiter: Arc<RateLimiter>,
    /// The e-mail channel's mailer and mailboxes; `None` where e-mail is not deployed (an
    /// e-mail reply then fails with that reason).
    pub email: Option<EmailOut>,
}

/// The sender Lambda's handler of one SQS batch from the outbound FIFO queue: the shared batch
/// driver over [`handle`] (a body that is not an outbound job is permanent), with the batch's
/// pushes sent together at its end.
pub async fn handle_sqs_batch(
    deps: &SenderDeps,
    settle: &omnidesk_lambda::SqsSettle,
    pushes: &omnidesk_lambda::CoalescingPush,
    event: omnidesk_lambda::aws_lambda_events::event::sqs::SqsEvent,
) -> omnidesk_lambda::aws_lambda_events::event::sqs::SqsBatchResponse {
    pushes
        .during(omnidesk_lambda::run_sqs_batch(
            event,
            true,
            settle,
            |body, receive_count| async move { handle_body(deps, &body, receive_count).await },
        ))
        .await
}

/// Parses an outbound queue body and sends it: a stored message ([`handle`]) or a system
/// mail; a body that is neither is permanent.
pub async fn handle_body(
    deps: &SenderDeps,
    body: &str,
    receive_count: u32,
) -> Result<JobOutcome, JobError> {
    match serde_json::from_str(body)
        .map_err(|e| JobError::Permanent(format!("not an outbound job: {e}")))?
    {
        omnidesk_core::OutboundBody::Message(job) => handle(deps, &job, receive_count).await,
        omnidesk_core::OutboundBody::Mail(mail) => {
            email::send_system_mail(deps, &mail, receive_count).await
        }
    }
}

/// What an AI answer starts with on Telegram and in e-mail: customers know it is automated.
pub const AI_LABEL: &str = "🤖 AI assistant: ";

/// Sends the message of `job` (the `receive_count`-th delivery of the queue message, from 1).
///
/// - `Ok(Done)`: sent, or failed for good (the reason is on the message and pushed to
///   agents), or already handled by an earlier delivery.
/// - `Ok(RetryAfter(d))`: Telegram asked to wait `d`; the parts sent so far are recorded.
/// - `Err(Transient)`: retry with backoff (network error, store unavailable).
/// - `Err(Permanent)`: the job cannot be processed (no such message or conversation).
#[tracing::instrument(skip_all, fields(conversation_id = %job.conversation_id, message_id = %job.message_id))]
pub async fn handle(
    deps: &SenderDeps,
    job: &OutboundJob,
    receive_count: u32,
) -> Result<JobOutcome, JobError> {
    let mut message = deps
        .messages
        .get_message(job.conversation_id, job.message_id)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("message {} not found", job.message_id)))?;
    // A reply waiting for its translation (or for the agent's decision after it failed) is
    // queued again by the translator or the agent; a translated one goes out translated (the
    // stored text stays the agent's own).
    if message.is_held_for_translation() {
        tracing::debug!("held for its translation");
        return Ok(JobOutcome::Done);
    }
    message.text = message.outgoing_text().to_owned();
    // A secret link goes to the customer only: into what is sent, never into the store.
    if let Some(link) = &job.link {
        message.text = message.text.replace(omnidesk_core::SECRET_LINK_MARK, link);
    }
    // An internal note is the agents' only (never queued; a stray job sends nothing).
    if message.internal {
        tracing::warn!("an internal note was queued for sending; not sent");
        return Ok(JobOutcome::Done);
    }
    // The AI's answers say what they are where the channel shows no badge of its own (the
    // widget labels them itself).
    if message.author == omnidesk_domain::Author::Ai && message.channel != Channel::Web {
        message.text = format!("{AI_LABEL}{}", message.text);
    }
    match message.delivery.status {
        DeliveryStatus::Sent | DeliveryStatus::Failed => {
            tracing::debug!(status = ?message.delivery.status, "already handled; redelivery ignored");
            return Ok(JobOutcome::Done);
        }
        DeliveryStatus::Received => {
            return Err(JobError::Permanent(format!(
                "message {} is inbound, not something to send",
                message.id
            )));
        }
        DeliveryStatus::Sending => {}
    }
    if message.direction != Direction::Outbound || message.author.is_system() {
        return Err(JobError::Permanent(format!(
            "message {} is not an outgoing message",
            message.id
        )));
    }
    let conversation = deps
        .conversations
        .get_conversation(job.conversation_id)
        .await?
        .ok_or_else(|| {
            JobError::Permanent(format!("conversation {} not found", job.conversation_id))
        })?;

    match message.channel {
        Channel::Telegram => send_telegram(deps, &message, &conversation, receive_count).await,
        Channel::Web => send_web(deps, &message, &conversation).await,
        Channel::Email => email::send_email(deps, &message, &conversation, receive_count).await,
    }
}

/// The website channel: the message is stored already, so delivering it is showing it in the
/// visitor's open widgets (a closed widget reads it when it opens).
async fn send_web(
    deps: &SenderDeps,
    message: &Message,
    conversation: &Conversation,
) -> Result<JobOutcome, JobError> {
    if conversation.key_on(Channel::Web).is_none() {
        fail(
            deps,
            message,
            None,
            "the conversation has no website chat".to_owned(),
        )
        .await?;
        return Ok(JobOutcome::Done);
    }
    let delivery = Delivery {
        status: DeliveryStatus::Sent,
        reason: None,
        attempts: message.delivery.attempts.saturating_add(1),
        updated_at: deps.clock.now(),
    };
    let channel_ref = ChannelRef::Web {
        id: message.id.to_string(),
    };
    record_delivery(deps, message, &delivery, Some(&channel_ref)).await?;
    Ok(JobOutcome::Done)
}

async fn send_telegram(
    deps: &SenderDeps,
    message: &Message,
    conversation: &Conversation,
    receive_count: u32,
) -> Result<JobOutcome, JobError> {
    let Some((bot_id, chat)) = conversation
        .key_on(Channel::Telegram)
        .and_then(|k| k.telegram_chat())
    else {
        fail(
            deps,
            message,
            None,
            "the conversation has no Telegram chat".to_owned(),
        )
        .await?;
        return Ok(JobOutcome::Done);
    };
    let Some(bot) = deps.bots.get_bot(bot_id).await? else {
        fail(
            deps,
            message,
            None,
            format!("Telegram bot {bot_id} is not configured"),
        )
        .await?;
        return Ok(JobOutcome::Done);
    };
    let parts = match plan(message) {
        Ok(parts) => parts,
        Err(reason) => {
            fail(deps, message, None, reason).await?;
            return Ok(JobOutcome::Done);
        }
    };
    if parts.is_empty() {
        fail(deps, message, None, "the message is empty".to_owned()).await?;
        return Ok(JobOutcome::Done);
    }

    // Parts sent by an earlier attempt are recorded on the message (one Telegram message id
    // each, an album one per file): never send them again.
    let mut sent_ids = match &message.channel_ref {
        Some(ChannelRef::Telegram {
            bot_id: b,
            chat_id: c,
            message_ids,
        }) if *b == bot_id && *c == chat => message_ids.clone(),
        _ => Vec::new(),
    };
    let attempts = message.delivery.attempts.saturating_add(1);
    let total = parts.len();
    let mut covered = 0;
    for (n, part) in parts.iter().enumerate() {
        covered += part.message_count();
        if covered <= sent_ids.len() {
            continue;
        }
        deps.limiter.acquire(bot_id, chat).await;
        let sent = match part {
            Part::Text { text, buttons: [] } => deps
                .telegram
                .send_message(&bot.token, chat, text)
                .await
                .map(|id| vec![id]),
            Part::Text { text, buttons } => deps
                .telegram
                .send_buttons(&bot.token, chat, text, buttons)
                .await
                .map(|id| vec![id]),
            Part::Files { items, caption } => {
                match send_files(deps, &bot.token, chat, message, items, caption.as_deref()).await {
                    Ok(ids) => Ok(ids),
                    Err(FileError::Telegram(e)) => Err(e),
                    Err(FileError::Storage(e)) => {
                        let progress = TelegramFailure {
                            bot_id,
                            chat,
                            sent_ids: &sent_ids,
                            attempts,
                            receive_count,
                            what: None,
                        };
                        return on_storage_error(deps, message, &progress, e).await;
                    }
                    Err(FileError::Refused(reason)) => {
                        let sent =
                            (!sent_ids.is_empty()).then(|| telegram_ref(bot_id, chat, &sent_ids));
                        fail_with(deps, message, sent.as_ref(), reason, attempts).await?;
                        return Ok(JobOutcome::Done);
                    }
                }
            }
        };
        match sent {
            Ok(ids) => {
                sent_ids.extend(ids);
                if n + 1 < total {
                    // Record progress so a crash before the last part cannot double a part.
                    let sent_so_far = telegram_ref(bot_id, chat, &sent_ids);
                    save_still_sending(deps, message, attempts, Some(&sent_so_far), None).await?;
                }
            }
            Err(e) => {
                let progress = TelegramFailure {
                    bot_id,
                    chat,
                    sent_ids: &sent_ids,
                    attempts,
                    receive_count,
                    what: part.describe(message),
                };
                return on_telegram_error(deps, message, conversation, &progress, e).await;
            }
        }
    }

    let delivery = Delivery {
        status: DeliveryStatus::Sent,
        reason: None,
        attempts,
        updated_at: deps.clock.now(),
    };
    tracing::info!(parts = total, "sent to Telegram");
    let sent = telegram_ref(bot_id, chat, &sent_ids);
    record_delivery(deps, message, &delivery, Some(&sent)).await?;
    Ok(JobOutcome::Done)
}

/// Telegram's caption limit, in UTF-16 units.
pub const TELEGRAM_CAPTION_LIMIT: usize = 1024;

/// One Telegram call of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part<'a> {
    /// A text (a part of a long one), with the inline keyboard on the last part.
    Text { text: String, buttons: &'a [Button] },
    /// One file (`sendPhoto`, `sendDocument`, …) or an album of 2–10 (`sendMediaGroup`): the
    /// indexes of the message's attachments.
    Files {
        items: Vec<usize>,
        caption: Option<String>,
    },
}

impl Part<'_> {
    /// How many Telegram messages the part becomes (each recorded by its id).
    fn message_count(&self) -> usize {
        match self {
            Part::Text { .. } => 1,
            Part::Files { items, .. } => items.len(),
        }
    }

    /// The files of the part, for a refusal the agent reads ("photo.png", "the album a.png,
    /// b.pdf"); `None` for a text.
    fn describe(&self, message: &Message) -> Option<String> {
        let Part::Files { items, .. } = self else {
            return None;
        };
        let names: Vec<String> = items
            .iter()
            .map(|&i| file_label(&message.attachments[i]))
            .collect();
        Some(match names.as_slice() {
            [one] => one.clone(),
            many => format!("the album {}", many.join(", ")),
        })
    }
}

fn file_label(a: &Attachment) -> String {
    a.file_name
        .clone()
        .unwrap_or_else(|| a.kind.as_str().to_owned())
}

/// How a file goes to Telegram: an image too large for `sendPhoto`, or of a type that is not
/// a plain picture, goes as a document; a voice note stays a voice note only as `audio/ogg`.
fn telegram_kind(a: &Attachment, size: u64) -> AttachmentKind {
    let mime = a.mime_type.as_deref().unwrap_or("application/octet-stream");
    match a.kind {
        AttachmentKind::Image if size <= TELEGRAM_PHOTO_LIMIT && safe_inline(mime) => {
            AttachmentKind::Image
        }
        AttachmentKind::Voice if mime.to_ascii_lowercase().starts_with("audio/ogg") => {
            AttachmentKind::Voice
        }
        AttachmentKind::Voice | AttachmentKind::Audio => AttachmentKind::Audio,
        AttachmentKind::Video => AttachmentKind::Video,
        _ => AttachmentKind::File,
    }
}

/// Which album a file can share: photos and videos, documents, audio; voice notes go alone.
fn album_of(kind: AttachmentKind) -> Option<u8> {
    match kind {
        AttachmentKind::Image | AttachmentKind::Video => Some(0),
        AttachmentKind::File => Some(1),
        AttachmentKind::Audio => Some(2),
        _ => None,
    }
}

/// The Telegram calls of `message`, in order; the same message always gives the same plan
/// (a retry resumes in it by counting recorded message ids). An error is a reason for the
/// agent (a file that was never stored).
fn plan(message: &Message) -> Result<Vec<Part<'_>>, String> {
    let mut files = Vec::new();
    for (i, a) in message.attachments.iter().enumerate() {
        if !a.kind.has_bytes() {
            tracing::warn!(
                kind = a.kind.as_str(),
                "attachment without a file is not sent"
            );
            continue;
        }
        if a.blob.is_none() {
            return Err(format!(
                "cannot send {}: the file was never stored",
                file_label(a)
            ));
        }
        files.push((i, telegram_kind(a, a.size_bytes.unwrap_or(0))));
    }
    let text = message.text.as_str();
    let has_text = !text.trim().is_empty();
    let caption = (has_text
        && !files.is_empty()
        && message.buttons.is_empty()
        && text.encode_utf16().count() <= TELEGRAM_CAPTION_LIMIT)
        .then(|| text.to_owned());

    let mut parts = Vec::new();
    if has_text && caption.is_none() {
        let chunks = split_for_telegram(text, TELEGRAM_TEXT_LIMIT);
        let last = chunks.len().saturating_sub(1);
        parts.extend(chunks.into_iter().enumerate().map(|(n, text)| Part::Text {
            text,
            buttons: if n == last { &message.buttons } else { &[] },
        }));
    }
    // Albums in the order of their first file; a file that shares none goes alone.
    let mut groups: Vec<(Option<u8>, Vec<usize>)> = Vec::new();
    for (i, kind) in files {
        let album = album_of(kind);
        match groups
            .iter_mut()
            .find(|(g, items)| album.is_some() && *g == album && items.len() < 10)
        {
            Some((_, items)) => items.push(i),
            None => groups.push((album, vec![i])),
        }
    }
    let mut caption = caption;
    for (_, items) in groups {
        parts.push(Part::Files {
            items,
            caption: caption.take(),
        });
    }
    Ok(parts)
}

/// Why files could not be sent.
enum FileError {
    /// Telegram's answer.
    Telegram(TelegramError),
    /// Blob storage could not be read.
    Storage(ProviderError),
    /// The file cannot be sent at all (gone from storage, too large): the reason.
    Refused(String),
}

/// Uploads the files `items` of `message` (one, or an album) with `caption` on the first.
async fn send_files(
    deps: &SenderDeps,
    token: &Secret,
    chat: TelegramChatId,
    message: &Message,
    items: &[usize],
    caption: Option<&str>,
) -> Result<Vec<i32>, FileError> {
    let mut files = Vec::with_capacity(items.len());
    for &i in items {
        let a = &message.attachments[i];
        let name = file_label(a);
        let key = a.blob.as_deref().unwrap_or_default();
        let blob = deps
            .blobs
            .get(key)
            .await
            .map_err(FileError::Storage)?
            .ok_or_else(|| {
                FileError::Refused(format!("cannot send {name}: the file is no longer stored"))
            })?;
        let size = blob.bytes.len() as u64;
        if size > TELEGRAM_UPLOAD_LIMIT {
            return Err(FileError::Refused(format!(
                "cannot send {name}: Telegram accepts files up to {} MB",
                TELEGRAM_UPLOAD_LIMIT / (1024 * 1024)
            )));
        }
        files.push(OutgoingFile {
            kind: telegram_kind(a, size),
            file_name: a.file_name.clone().unwrap_or_else(|| "file".to_owned()),
            mime_type: a.mime_type.clone().unwrap_or(blob.content_type),
            bytes: blob.bytes,
        });
    }
    if let [file] = files.as_slice() {
        deps.telegram
            .send_file(token, chat, file, caption)
            .await
            .map(|id| vec![id])
            .map_err(FileError::Telegram)
    } else {
        deps.telegram
            .send_media_group(token, chat, &files, caption)
            .await
            .map_err(FileError::Telegram)
    }
}

/// Blob storage could not be read: retried like a network error, then failed with the reason.
async fn on_storage_error(
    deps: &SenderDeps,
    message: &Message,
    at: &TelegramFailure<'_>,
    error: ProviderError,
) -> Result<JobOutcome, JobError> {
    let channel_ref =
        (!at.sent_ids.is_empty()).then(|| telegram_ref(at.bot_id, at.chat, at.sent_ids));
    match error {
        ProviderError::Transient(e) if at.receive_count < MAX_ATTEMPTS => {
            let reason = format!("file storage unavailable, retrying: {e}");
            save_still_sending(
                deps,
                message,
                at.attempts,
                channel_ref.as_ref(),
                Some(reason),
            )
            .await?;
            Err(JobError::Transient(format!(
                "file storage unavailable: {e}"
            )))
        }
        e => {
            tracing::warn!(error = %e, "cannot read a file to send");
            fail_with(
                deps,
                message,
                channel_ref.as_ref(),
                format!("cannot read the file to send: {e}"),
                at.attempts,
            )
            .await?;
            Ok(JobOutcome::Done)
        }
    }
}

/// Where a failed Telegram send stood.
struct TelegramFailure<'a> {
    bot_id: BotId,
    chat: TelegramChatId,
    sent_ids: &'a [i32],
    attempts: u32,
    receive_count: u32,
    /// The files of the failed call, for the reason ("photo.png"); `None` for a text.
    what: Option<String>,
}

async fn on_telegram_error(
    deps: &SenderDeps,
    message: &Message,
    conversation: &Conversation,
    at: &TelegramFailure<'_>,
    error: TelegramError,
) -> Result<JobOutcome, JobError> {
    let channel_ref =
        (!at.sent_ids.is_empty()).then(|| telegram_ref(at.bot_id, at.chat, at.sent_ids));
    match error {
        TelegramError::RetryAfter(wait) => {
            tracing::info!(wait_secs = wait.as_secs(), "Telegram asked to wait");
            deps.limiter.hold_bot(at.bot_id, wait);
            let reason = format!("rate limited by Telegram, retrying in {} s", wait.as_secs());
            save_still_sending(
                deps,
                message,
                at.attempts,
                channel_ref.as_ref(),
                Some(reason),
            )
            .await?;
            Ok(JobOutcome::RetryAfter(wait.max(Duration::from_secs(1))))
        }
        TelegramError::Unreachable(reason) => {
            tracing::info!(reason = %reason, "contact unreachable on Telegram");
            contact_unreachable(deps, message, conversation, &reason).await?;
            fail_with(deps, message, channel_ref.as_ref(), reason, at.attempts).await?;
            Ok(JobOutcome::Done)
        }
        e @ (TelegramError::Rejected(_) | TelegramError::BadToken(_)) => {
            tracing::warn!(error = %e, "Telegram refused the message");
            let reason = match &at.what {
                Some(what) => format!("Telegram refused {what}: {e}"),
                None => e.to_string(),
            };
            fail_with(deps, message, channel_ref.as_ref(), reason, at.attempts).await?;
            Ok(JobOutcome::Done)
        }
        TelegramError::Transient(e) => {
            if at.receive_count >= MAX_ATTEMPTS {
                tracing::warn!(error = %e, attempts = at.attempts, "giving up");
                fail_with(
                    deps,
                    message,
                    channel_ref.as_ref(),
                    format!("gave up after {} attempts: {e}", at.receive_count),
                    at.attempts,
                )
                .await?;
                return Ok(JobOutcome::Done);
            }
            let reason = format!("Telegram unavailable, retrying: {e}");
            save_still_sending(
                deps,
                message,
                at.attempts,
                channel_ref.as_ref(),
                Some(reason),
            )
            .await?;
            Err(JobError::Transient(format!("Telegram unavailable: {e}")))
        }
    }
}

/// Records that `message` is still on its way: attempts so far, the parts already sent, and why
/// it waits (if it does).
pub(crate) async fn save_still_sending(
    deps: &SenderDeps,
    message: &Message,
    attempts: u32,
    sent_so_far: Option<&ChannelRef>,
    reason: Option<String>,
) -> Result<(), JobError> {
    let delivery = Delivery {
        status: DeliveryStatus::Sending,
        reason,
        attempts,
        updated_at: deps.clock.now(),
    };
    deps.messages
        .update_delivery(message.conversation_id, message.id, &delivery, sent_so_far)
        .await?;
    Ok(())
}

/// Marks the contact unreachable on Telegram, adds the timeline event and pushes the changes.
/// Idempotent: a redelivery finds the contact already unreachable for that reason, and the
/// timeline event has a source key derived from the message.
async fn contact_unreachable(
    deps: &SenderDeps,
    message: &Message,
    conversation: &Conversation,
    reason: &str,
) -> Result<(), JobError> {
    let updated_contact = omnidesk_core::usecases::mark_unreachable(
        deps.contacts.as_ref(),
        deps.clock.as_ref(),
        conversation.contact_id,
        Channel::Telegram,
        reason,
    )
    .await?;

    let mut event = Message::system(
        deps.ids.message_id(),
        conversation.id,
        Channel::Telegram,
        SystemEvent::ContactUnreachable {
            channel: Channel::Telegram,
            reason: reason.to_owned(),
        },
        deps.clock.now(),
    );
    event.source_key = Some(format!("unreachable:{}", message.id));
    let appended = deps.messages.append_message(&event).await?;

    let mut pushes = Vec::new();
    let mut updated_conversation = None;
    if appended == AppendOutcome::Inserted {
        for _ in 0..OPTIMISTIC_RETRIES {
            let Some(mut current) = deps.conversations.get_conversation(conversation.id).await?
            else {
                break;
            };
            current.record_message(&event);
            match deps.conversations.update_conversation(&current).await {
                Ok(stored) => {
                    updated_conversation = Some(stored);
                    break;
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        pushes.push(ServerEvent::MessageCreated {
            conversation_id: conversation.id,
            message: event,
            conversation: None,
        });
    }
    if let Some(contact) = updated_contact {
        pushes.push(ServerEvent::ContactUpdated {
            contact: Box::new(contact),
        });
    }
    if let Some(stored) = updated_conversation {
        match conversation_view(deps.contacts.as_ref(), &stored).await {
            Ok(view) => pushes.push(ServerEvent::ConversationUpdated {
                conversation: Box::new(view),
            }),
            Err(e) => tracing::warn!(error = %e, "cannot build the conversation view"),
        }
    }
    // The conversation view rides on the timeline event's message.created.
    for event in ServerEvent::fold_conversation_updates(pushes) {
        push(deps, &event).await;
    }
    Ok(())
}

/// Fails the message for good (attempt counted) and pushes it.
pub(crate) async fn fail(
    deps: &SenderDeps,
    message: &Message,
    channel_ref: Option<&ChannelRef>,
    reason: String,
) -> Result<(), JobError> {
    let attempts = message.delivery.attempts.saturating_add(1);
    fail_with(deps, message, channel_ref, reason, attempts).await
}

async fn fail_with(
    deps: &SenderDeps,
    message: &Message,
    channel_ref: Option<&ChannelRef>,
    reason: String,
    attempts: u32,
) -> Result<(), JobError> {
    let delivery = Delivery {
        status: DeliveryStatus::Failed,
        reason: Some(reason),
        attempts,
        updated_at: deps.clock.now(),
    };
    record_delivery(deps, message, &delivery, channel_ref).await
}

/// Stores a message's delivery state for good and pushes the message as it now is.
pub(crate) async fn record_delivery(
    deps: &SenderDeps,
    message: &Message,
    delivery: &Delivery,
    channel_ref: Option<&ChannelRef>,
) -> Result<(), JobError> {
    let updated = deps
        .messages
        .update_delivery(message.conversation_id, message.id, delivery, channel_ref)
        .await?;
    push(
        deps,
        &ServerEvent::MessageUpdated {
            conversation_id: updated.conversation_id,
            message: updated,
        },
    )
    .await;
    Ok(())
}

fn telegram_ref(bot_id: BotId, chat_id: TelegramChatId, message_ids: &[i32]) -> ChannelRef {
    ChannelRef::Telegram {
        bot_id,
        chat_id,
        message_ids: message_ids.to_vec(),
    }
}

/// Pushes to agents, and a message's change also to the visitor's open widgets; a push
/// problem never fails the send (the state is stored already).
async fn push(deps: &SenderDeps, event: &ServerEvent) {
    if let Err(e) = push_to_agents(
        deps.connections.as_ref(),
        deps.conversations.as_ref(),
        deps.push.as_ref(),
        event,
    )
    .await
    {
        tracing::warn!(error = %e, "cannot push to agents");
    }
    let (ServerEvent::MessageUpdated {
        conversation_id, ..
    }
    | ServerEvent::MessageCreated {
        conversation_id, ..
    }) = event
    else {
        return;
    };
    let Some(visitors) = &deps.visitors else {
        return;
    };
    let pushed = async {
        let Some(conversation) = deps
            .conversations
            .get_conversation(*conversation_id)
            .await?
        else {
            return Ok(0);
        };
        push_to_visitor(
            visitors.as_ref(),
            deps.agents.as_ref(),
            deps.push.as_ref(),
            &conversation,
            std::slice::from_ref(event),
            false,
        )
        .await
    };
    if let Err(e) = pushed.await {
        tracing::warn!(error = %e, "cannot push to the visitor");
    }
}
