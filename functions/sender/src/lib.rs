//! omnidesk-sender: the function that owns outbound channel calls. One step sends one stored
//! outgoing message (an [`OutboundJob`]) and records what happened to it where agents see it.
//!
//! Telegram: texts are split at 4096 UTF-16 units and sent in order; parts already sent are
//! never sent again on a retry; sends are spaced by an in-process [`RateLimiter`] (1/s per
//! chat, 30/s per bot); a 429 becomes [`JobOutcome::RetryAfter`]; a 403 marks the contact
//! unreachable and fails the message for good; network errors retry with backoff and give up
//! after [`MAX_ATTEMPTS`] receives.
//!
//! Depends on `omnidesk-core` ports only (no teloxide, no AWS SDK): `main.rs`/`infra/local`
//! wire the adapters.

mod limiter;

use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::usecases::{conversation_view, push_to_agents, push_to_visitor};
use omnidesk_core::{
    AgentStore, AppendOutcome, BotStore, Clock, ConnectionStore, ContactStore, ConversationStore,
    IdGen, JobError, JobOutcome, MessageStore, OutboundJob, Push, ServerEvent, StoreError,
    TelegramApi, TelegramError, VisitorConnectionStore,
};
use omnidesk_domain::{
    BotId, Channel, ChannelRef, Conversation, Delivery, DeliveryStatus, Direction, Message,
    SystemEvent, TELEGRAM_TEXT_LIMIT, TelegramChatId, split_for_telegram,
};

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
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub limiter: Arc<RateLimiter>,
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
            |body, receive_count| async move {
                let job: OutboundJob = serde_json::from_str(&body)
                    .map_err(|e| JobError::Permanent(format!("not an outbound job: {e}")))?;
                handle(deps, &job, receive_count).await
            },
        ))
        .await
}

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
    let message = deps
        .messages
        .get_message(job.conversation_id, job.message_id)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("message {} not found", job.message_id)))?;
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
        other => {
            fail(
                deps,
                &message,
                None,
                format!("sending on {} is not supported yet", other.label()),
            )
            .await?;
            Ok(JobOutcome::Done)
        }
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
    let parts = split_for_telegram(&message.text, TELEGRAM_TEXT_LIMIT);
    if parts.is_empty() {
        fail(deps, message, None, "the message is empty".to_owned()).await?;
        return Ok(JobOutcome::Done);
    }

    // Parts sent by an earlier attempt are recorded on the message: never send them again.
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
    for part in parts.iter().skip(sent_ids.len()) {
        deps.limiter.acquire(bot_id, chat).await;
        match deps.telegram.send_message(&bot.token, chat, part).await {
            Ok(id) => {
                sent_ids.push(id);
                if sent_ids.len() < total {
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

/// Where a failed Telegram send stood.
struct TelegramFailure<'a> {
    bot_id: BotId,
    chat: TelegramChatId,
    sent_ids: &'a [i32],
    attempts: u32,
    receive_count: u32,
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
            fail_with(
                deps,
                message,
                channel_ref.as_ref(),
                e.to_string(),
                at.attempts,
            )
            .await?;
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
async fn save_still_sending(
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
    let mut updated_contact = None;
    for _ in 0..OPTIMISTIC_RETRIES {
        let Some(mut contact) = deps.contacts.get_contact(conversation.contact_id).await? else {
            tracing::warn!(contact_id = %conversation.contact_id, "conversation without contact");
            break;
        };
        if contact
            .unreachable_on(Channel::Telegram)
            .is_some_and(|u| u.reason == reason)
        {
            break;
        }
        let read = contact.updated_at;
        let now = deps.clock.now().max(read);
        contact.mark_unreachable(Channel::Telegram, reason.to_owned(), now);
        match deps.contacts.update_contact(&contact, read).await {
            Ok(()) => {
                updated_contact = Some(contact);
                break;
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }

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
async fn fail(
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
async fn record_delivery(
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
    if let Err(e) = push_to_agents(deps.connections.as_ref(), deps.push.as_ref(), event).await {
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
