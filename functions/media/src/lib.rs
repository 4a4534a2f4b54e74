//! omnidesk-media: the worker that fetches a message's channel files into blob storage. One
//! step handles one [`MediaJob`] (queued by the router after it stored a message whose
//! attachments [`need fetching`](omnidesk_domain::Attachment::needs_fetch)), outside the
//! webhook, so Telegram's ack never waits on a download.
//!
//! For each such attachment: the bot's token (from the message's Telegram channel reference),
//! `getFile`, then — within Telegram's 20 MB download limit for bots — the download (capped at
//! that limit), stored in the [`BlobStore`] under its content key, with its size and type
//! (the channel's MIME type, else sniffed from the first bytes). A file over the limit is kept
//! as a reference with a note; a file Telegram will not serve (invalid or expired `file_id`)
//! gets a note too. The message is then updated (revision-checked; on a conflict it is re-read
//! and only the fetched fields are re-applied) and pushed as `message.updated` to agents and to
//! the visitor's open widget.
//!
//! Idempotent: a redelivered job finds nothing left to fetch and is done; storing the same
//! bytes again is the same blob. Network, Telegram 5xx/429 and storage outages are
//! [`JobError::Transient`] (the queue retries with backoff; files fetched so far are kept);
//! after [`MAX_ATTEMPTS`] receives the file gets a note instead of a dead letter.
//!
//! Depends on `omnidesk-core` ports only (no AWS SDK, no HTTP client): `main.rs` wires S3 and
//! the Bot API client, `infra/local` the data-directory folder.

use std::sync::Arc;

use omnidesk_core::usecases::{push_to_agents, push_to_visitor};
use omnidesk_core::{
    AgentStore, BlobStore, BotStore, ConnectionStore, ConversationStore, JobError, JobOutcome,
    MediaJob, MessageStore, ProviderError, Push, Secret, ServerEvent, StoreError, TelegramApi,
    TelegramError, VisitorConnectionStore,
};
use omnidesk_domain::{Attachment, ChannelRef, Message, TELEGRAM_DOWNLOAD_LIMIT};

/// A file whose download keeps failing transiently gets a note after this many receives.
pub const MAX_ATTEMPTS: u32 = 5;

/// How often a content update is retried after a revision conflict.
const OPTIMISTIC_RETRIES: usize = 5;

/// What the media worker uses.
#[derive(Clone)]
pub struct MediaDeps {
    pub messages: Arc<dyn MessageStore>,
    pub conversations: Arc<dyn ConversationStore>,
    pub bots: Arc<dyn BotStore>,
    pub connections: Arc<dyn ConnectionStore>,
    /// Agents (their names, for the visitor's view of a message).
    pub agents: Arc<dyn AgentStore>,
    /// Visitors' open widgets; `None` where the website channel is not deployed.
    pub visitors: Option<Arc<dyn VisitorConnectionStore>>,
    pub push: Arc<dyn Push>,
    pub telegram: Arc<dyn TelegramApi>,
    pub blobs: Arc<dyn BlobStore>,
}

/// The media Lambda's handler of one SQS batch from the media (standard) queue: the shared
/// batch driver over [`handle`] (a body that is not a media job is permanent), with the batch's
/// pushes sent together at its end.
pub async fn handle_sqs_batch(
    deps: &MediaDeps,
    settle: &omnidesk_lambda::SqsSettle,
    pushes: &omnidesk_lambda::CoalescingPush,
    event: omnidesk_lambda::aws_lambda_events::event::sqs::SqsEvent,
) -> omnidesk_lambda::aws_lambda_events::event::sqs::SqsBatchResponse {
    pushes
        .during(omnidesk_lambda::run_sqs_batch(
            event,
            false,
            settle,
            |body, receive_count| async move { handle_body(deps, &body, receive_count).await },
        ))
        .await
}

/// [`handle`] of a queue body (JSON of a [`MediaJob`]).
pub async fn handle_body(
    deps: &MediaDeps,
    body: &str,
    receive_count: u32,
) -> Result<JobOutcome, JobError> {
    let job: MediaJob = serde_json::from_str(body)
        .map_err(|e| JobError::Permanent(format!("not a media job: {e}")))?;
    handle(deps, &job, receive_count).await
}

/// What became of one attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fetched {
    Stored {
        blob: String,
        size: u64,
        mime_type: String,
    },
    /// Kept as a reference, with this note for the agent.
    Noted(String),
}

/// Fetches the files of `job`'s message (the `receive_count`-th delivery, from 1).
///
/// - `Ok(Done)`: every file is stored or noted (or there was nothing to fetch).
/// - `Err(Transient)`: Telegram or the blob store is unavailable; what was fetched is kept.
/// - `Err(Permanent)`: no such message, or the blob store refuses writes (a deployment error:
///   the job is dead-lettered for an operator).
#[tracing::instrument(skip_all, fields(conversation_id = %job.conversation_id, message_id = %job.message_id))]
pub async fn handle(
    deps: &MediaDeps,
    job: &MediaJob,
    receive_count: u32,
) -> Result<JobOutcome, JobError> {
    let message = deps
        .messages
        .get_message(job.conversation_id, job.message_id)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("message {} not found", job.message_id)))?;
    let wanted: Vec<Attachment> = message
        .attachments
        .iter()
        .filter(|a| a.needs_fetch())
        .cloned()
        .collect();
    if wanted.is_empty() {
        tracing::debug!("nothing to fetch; redelivery ignored");
        return Ok(JobOutcome::Done);
    }
    let token = match bot_token(deps, &message).await? {
        Ok(token) => token,
        Err(reason) => {
            let noted = wanted
                .iter()
                .map(|a| (a.reference.clone(), Fetched::Noted(could_not(&reason))))
                .collect::<Vec<_>>();
            apply_and_push(deps, message, &noted).await?;
            return Ok(JobOutcome::Done);
        }
    };

    let mut done = Vec::new();
    for attachment in &wanted {
        if done.iter().any(|(r, _)| *r == attachment.reference) {
            continue; // the same file twice in one message
        }
        match fetch(deps, &token, attachment).await {
            Ok(fetched) => done.push((attachment.reference.clone(), fetched)),
            Err(JobError::Transient(reason)) if receive_count >= MAX_ATTEMPTS => {
                tracing::warn!(%reason, receive_count, "giving up on a file");
                done.push((
                    attachment.reference.clone(),
                    Fetched::Noted(could_not(&reason)),
                ));
            }
            Err(e) => {
                // Keep what was fetched; the retry fetches the rest.
                if !done.is_empty() {
                    apply_and_push(deps, message, &done).await?;
                }
                return Err(e);
            }
        }
    }
    apply_and_push(deps, message, &done).await?;
    Ok(JobOutcome::Done)
}

/// The token of the bot the message came through: `Ok(Err(reason))` when there is none to use.
async fn bot_token(
    deps: &MediaDeps,
    message: &Message,
) -> Result<Result<Secret, String>, JobError> {
    let Some(ChannelRef::Telegram { bot_id, .. }) = &message.channel_ref else {
        return Ok(Err("the message has no Telegram reference".to_owned()));
    };
    Ok(match deps.bots.get_bot(*bot_id).await? {
        Some(bot) => Ok(bot.token),
        None => Err(format!("the bot {bot_id} is no longer configured")),
    })
}

fn could_not(reason: &str) -> String {
    format!("Could not download from Telegram: {reason}")
}

pub use omnidesk_domain::{human_size, too_large_note};

fn over_limit(size: Option<u64>) -> bool {
    size.is_some_and(|s| s > TELEGRAM_DOWNLOAD_LIMIT)
}

/// Telegram's own answer for a file over the limit (`getFile`: "Bad Request: file is too
/// big"), or the client's cap hit during the download.
fn is_too_big(e: &TelegramError) -> bool {
    matches!(e, TelegramError::Rejected(d) if d.contains("too big") || d.contains("larger than"))
}

async fn fetch(
    deps: &MediaDeps,
    token: &Secret,
    attachment: &Attachment,
) -> Result<Fetched, JobError> {
    let Some(file_id) = attachment.telegram_file_id() else {
        return Ok(Fetched::Noted(could_not("not a Telegram file")));
    };
    if over_limit(attachment.size_bytes) {
        return Ok(Fetched::Noted(too_large_note(attachment.size_bytes)));
    }
    let file = match deps.telegram.get_file(token, file_id).await {
        Ok(file) => file,
        Err(e) if e.is_transient() => return Err(JobError::Transient(e.to_string())),
        Err(e) if is_too_big(&e) => {
            return Ok(Fetched::Noted(too_large_note(attachment.size_bytes)));
        }
        Err(e) => return Ok(Fetched::Noted(could_not(&e.to_string()))),
    };
    let size = file.file_size.or(attachment.size_bytes);
    if over_limit(size) {
        return Ok(Fetched::Noted(too_large_note(size)));
    }
    let Some(path) = file.file_path else {
        return Ok(Fetched::Noted(could_not(
            "Telegram gave no download path for the file",
        )));
    };
    let bytes = match deps
        .telegram
        .download_file(token, &path, TELEGRAM_DOWNLOAD_LIMIT)
        .await
    {
        Ok(bytes) => bytes,
        Err(e) if e.is_transient() => return Err(JobError::Transient(e.to_string())),
        Err(e) if is_too_big(&e) => return Ok(Fetched::Noted(too_large_note(size))),
        Err(e) => return Ok(Fetched::Noted(could_not(&e.to_string()))),
    };
    let mime_type = attachment
        .mime_type
        .clone()
        .filter(|m| !m.trim().is_empty())
        .or_else(|| sniff(&bytes).map(str::to_owned))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let size = bytes.len() as u64;
    let blob = deps
        .blobs
        .put(&mime_type, bytes)
        .await
        .map_err(|e| match e {
            ProviderError::Transient(m) => JobError::Transient(format!("blob store: {m}")),
            ProviderError::Permanent(m) => JobError::Permanent(format!("blob store: {m}")),
        })?;
    Ok(Fetched::Stored {
        blob,
        size,
        mime_type,
    })
}

/// The type of common media from their first bytes (Telegram photos come without one).
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else if starts(b"OggS") {
        Some("audio/ogg")
    } else if bytes.get(4..8) == Some(b"ftyp") {
        Some("video/mp4")
    } else if starts(b"\x1A\x45\xDF\xA3") {
        Some("video/webm")
    } else if starts(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// Sets what was fetched on the attachments that still need it (by reference), re-reading and
/// re-applying on a revision conflict, and pushes the updated message. Nothing to set (another
/// delivery did it): no write, no push.
async fn apply_and_push(
    deps: &MediaDeps,
    mut message: Message,
    fetched: &[(String, Fetched)],
) -> Result<(), JobError> {
    for _ in 0..OPTIMISTIC_RETRIES {
        let mut content = message.next_content();
        let mut changed = false;
        for attachment in content.attachments.iter_mut().filter(|a| a.needs_fetch()) {
            let Some((_, outcome)) = fetched.iter().find(|(r, _)| *r == attachment.reference)
            else {
                continue;
            };
            match outcome {
                Fetched::Stored {
                    blob,
                    size,
                    mime_type,
                } => {
                    attachment.blob = Some(blob.clone());
                    attachment.size_bytes = Some(*size);
                    attachment.mime_type = Some(mime_type.clone());
                }
                Fetched::Noted(note) => attachment.note = Some(note.clone()),
            }
            changed = true;
        }
        if !changed {
            return Ok(());
        }
        match deps
            .messages
            .update_content(message.conversation_id, message.id, &content)
            .await
        {
            Ok(updated) => {
                push(deps, updated).await;
                return Ok(());
            }
            Err(StoreError::Conflict(_)) => {
                message = deps
                    .messages
                    .get_message(message.conversation_id, message.id)
                    .await?
                    .ok_or_else(|| {
                        JobError::Permanent(format!("message {} is gone", message.id))
                    })?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(JobError::Transient(format!(
        "message {} kept changing; will retry",
        message.id
    )))
}

/// Pushes the updated message to agents and to the visitor's open widgets; a push problem
/// never fails the step (the files are stored already).
async fn push(deps: &MediaDeps, message: Message) {
    let conversation_id = message.conversation_id;
    let event = ServerEvent::MessageUpdated {
        conversation_id,
        message,
    };
    if let Err(e) = push_to_agents(
        deps.connections.as_ref(),
        deps.conversations.as_ref(),
        deps.push.as_ref(),
        &event,
    )
    .await
    {
        tracing::warn!(error = %e, "cannot push to agents");
    }
    let Some(visitors) = &deps.visitors else {
        return;
    };
    let pushed = async {
        let Some(conversation) = deps.conversations.get_conversation(conversation_id).await? else {
            return Ok(0);
        };
        push_to_visitor(
            visitors.as_ref(),
            deps.agents.as_ref(),
            deps.push.as_ref(),
            &conversation,
            std::slice::from_ref(&event),
            false,
        )
        .await
    };
    if let Err(e) = pushed.await {
        tracing::warn!(error = %e, "cannot push to the visitor");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_media_are_sniffed_and_sizes_read_well() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0..JFIF"), Some("image/jpeg"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"\0\0\0\x18ftypmp42"), Some("video/mp4"));
        assert_eq!(sniff(b"OggS\0"), Some("audio/ogg"));
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(
            too_large_note(Some(30 * 1024 * 1024)),
            "Not downloaded: over Telegram's 20 MB limit for bots (30 MB). Open it in Telegram."
        );
    }
}
