//! The translate queue's worker: a customer's message into the languages of the agents who do
//! not read it; an agent's reply into the customer's language, then on to the sender.

use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::usecases::{ContentUpdate, push_to_agents, update_message_content};
use omnidesk_core::{
    AgentStore, Clock, ConnectionStore, JobError, JobOutcome, MessageStore, OutboundJob, Push,
    Queue, QueueName, SECRET_LINK_MARK, ServerEvent, TranslateJob,
};
use omnidesk_domain::{
    Author, Direction, LanguageTag, Message, MessageContent, Translation, TranslationStatus,
    translation_targets,
};

use crate::service::{TranslateFailure, Translated, TranslationService};

/// How the worker waits and retries.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long an agent's reply waits for its translation before the agent is asked to
    /// decide (send the original, or retry) (`OMNIDESK_TRANSLATE_WAIT_SECS`, 10 s).
    pub reply_wait: Duration,
    /// How many times a customer's message is tried before it stays untranslated with the
    /// failure shown.
    pub inbound_attempts: u32,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            reply_wait: Duration::from_secs(10),
            inbound_attempts: 4,
        }
    }
}

impl WorkerSettings {
    /// Reads `OMNIDESK_TRANSLATE_WAIT_SECS` through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut settings = Self::default();
        if let Some(v) = lookup("OMNIDESK_TRANSLATE_WAIT_SECS").filter(|v| !v.trim().is_empty()) {
            let secs: u64 = v.trim().parse().map_err(|_| {
                format!("OMNIDESK_TRANSLATE_WAIT_SECS: expected whole seconds, got {v:?}")
            })?;
            if secs == 0 || secs > 300 {
                return Err(format!(
                    "OMNIDESK_TRANSLATE_WAIT_SECS: between 1 and 300 seconds, got {secs}"
                ));
            }
            settings.reply_wait = Duration::from_secs(secs);
        }
        Ok(settings)
    }
}

/// What the worker uses.
pub struct TranslatorDeps {
    pub messages: Arc<dyn MessageStore>,
    pub agents: Arc<dyn AgentStore>,
    pub connections: Arc<dyn ConnectionStore>,
    /// Read to tell which agents may see a translated message (their teams').
    pub conversations: Arc<dyn omnidesk_core::ConversationStore>,
    pub push: Arc<dyn Push>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub service: Arc<TranslationService>,
    pub settings: WorkerSettings,
}

/// How many times a stored message is re-read and re-applied when it changed meanwhile.
const MAX_CONFLICT_RETRIES: usize = 8;

/// Parses a translate queue body and handles it.
pub async fn handle_body(
    deps: &TranslatorDeps,
    body: &str,
    receive_count: u32,
) -> Result<JobOutcome, JobError> {
    let job: TranslateJob = serde_json::from_str(body)
        .map_err(|e| JobError::Permanent(format!("not a translate job: {e}")))?;
    handle(deps, &job, receive_count).await
}

/// Translates the message of `job` (its `receive_count`-th delivery, from 1).
///
/// The message's own state decides: only a message still waiting for its translation
/// (`pending`, or `failed` while retrying) is translated, so a stale or repeated job is a
/// no-op.
#[tracing::instrument(skip_all, fields(conversation_id = %job.conversation_id, message_id = %job.message_id))]
pub async fn handle(
    deps: &TranslatorDeps,
    job: &TranslateJob,
    receive_count: u32,
) -> Result<JobOutcome, JobError> {
    let Some(message) = deps
        .messages
        .get_message(job.conversation_id, job.message_id)
        .await?
    else {
        tracing::debug!("message gone; nothing to translate");
        return Ok(JobOutcome::Done);
    };
    let waiting = matches!(
        message.translation,
        Some(TranslationStatus::Pending { .. } | TranslationStatus::Failed { retrying: true, .. })
    );
    if !waiting {
        tracing::debug!(state = ?message.translation, "not waiting for a translation");
        return Ok(JobOutcome::Done);
    }
    match message.direction {
        Direction::Inbound => inbound(deps, message, receive_count).await,
        Direction::Outbound => outbound(deps, message, job.link.as_deref()).await,
    }
}

/// A customer's message, into the own language of every agent who does not read it.
async fn inbound(
    deps: &TranslatorDeps,
    message: Message,
    receive_count: u32,
) -> Result<JobOutcome, JobError> {
    let agents = deps.agents.list_agents().await?;
    let targets = translation_targets(message.language.as_ref(), agents.iter());
    let mut translations = Vec::new();
    let mut failure = None;
    for target in &targets {
        match deps
            .service
            .translate_for(
                &message.text,
                message.language.as_ref(),
                target,
                Some(message.conversation_id),
            )
            .await
        {
            Ok(Translated::Text { text, provider, .. }) => translations.push(Translation {
                language: target.clone(),
                text,
                provider,
            }),
            Ok(Translated::SameLanguage { .. }) => {}
            Err(e) => failure = Some(e),
        }
    }
    let (status, outcome) = match failure {
        None if translations.is_empty() => (TranslationStatus::NotNeeded, JobOutcome::Done),
        None => (TranslationStatus::Done { target: None }, JobOutcome::Done),
        Some(e) => {
            let retry = matches!(e, TranslateFailure::Unavailable { .. })
                && receive_count < deps.settings.inbound_attempts;
            let status = TranslationStatus::Failed {
                reason: failure_reason(&e),
                retrying: retry,
                target: None,
            };
            let outcome = if retry {
                JobOutcome::RetryAfter(omnidesk_core::retry_backoff(receive_count))
            } else {
                JobOutcome::Done
            };
            (status, outcome)
        }
    };
    let updated = store(deps, &message, |content| {
        // Keep what was translated on an earlier try when this one failed.
        for t in &translations {
            content
                .translations
                .retain(|old| old.language != t.language);
            content.translations.push(t.clone());
        }
        content.translation = Some(status.clone());
    })
    .await?;
    if let Some(updated) = updated {
        announce(deps, updated).await;
    }
    Ok(outcome)
}

/// An agent's reply, into the customer's language; then queued for the sender. Waits at most
/// [`WorkerSettings::reply_wait`] (from when the agent sent it) for a provider that is
/// unavailable, then holds the reply for the agent's decision.
async fn outbound(
    deps: &TranslatorDeps,
    message: Message,
    link: Option<&str>,
) -> Result<JobOutcome, JobError> {
    let target = match &message.translation {
        Some(
            TranslationStatus::Pending { target: Some(t) }
            | TranslationStatus::Failed {
                target: Some(t), ..
            },
        ) => t.clone(),
        _ => {
            return Err(JobError::Permanent(
                "a reply waiting for translation names no target language".to_owned(),
            ));
        }
    };
    let waited = deps.clock.now().millis() - message.created_at.millis();
    let may_wait =
        u128::try_from(waited.max(0)).unwrap_or(0) < deps.settings.reply_wait.as_millis();
    let result = translate_around_link(deps, &message, &target).await;
    let (status, translation, send, outcome) = match result {
        Ok(Translated::Text { text, provider, .. }) => (
            TranslationStatus::Done {
                target: Some(target.clone()),
            },
            Some(Translation {
                language: target.clone(),
                text,
                provider,
            }),
            true,
            JobOutcome::Done,
        ),
        Ok(Translated::SameLanguage { .. }) => {
            (TranslationStatus::NotNeeded, None, true, JobOutcome::Done)
        }
        // The bot's own text is nobody's decision to wait for: past the wait it goes out in
        // English (its secret link, carried only by this job, with it).
        Err(e)
            if message.author == Author::Bot
                && !(matches!(e, TranslateFailure::Unavailable { .. }) && may_wait) =>
        {
            tracing::warn!(error = %e, "the bot's text went out untranslated");
            (
                TranslationStatus::SentOriginal,
                None,
                true,
                JobOutcome::Done,
            )
        }
        Err(e) => {
            let retry = matches!(e, TranslateFailure::Unavailable { .. }) && may_wait;
            let status = TranslationStatus::Failed {
                reason: failure_reason(&e),
                retrying: retry,
                target: Some(target.clone()),
            };
            // A few tries within the wait (the queue dead-letters a job after 5 receives).
            let outcome = if retry {
                JobOutcome::RetryAfter((deps.settings.reply_wait / 3).max(Duration::from_secs(1)))
            } else {
                JobOutcome::Done
            };
            (status, None, false, outcome)
        }
    };
    // Only the first try's "retrying" is worth a write: later ones change nothing visible.
    let unchanged = matches!(
        (&message.translation, &status),
        (
            Some(TranslationStatus::Failed { retrying: true, reason: a, .. }),
            TranslationStatus::Failed { retrying: true, reason: b, .. }
        ) if a == b
    );
    if !unchanged {
        let updated = store(deps, &message, |content| {
            if let Some(t) = &translation {
                content
                    .translations
                    .retain(|old| old.language != t.language);
                content.translations.push(t.clone());
            }
            content.translation = Some(status.clone());
        })
        .await?;
        match updated {
            Some(updated) => announce(deps, updated).await,
            // The agent decided meanwhile (sent the original): theirs stands.
            None => return Ok(JobOutcome::Done),
        }
    }
    if send {
        queue_for_sending(deps.queue.as_ref(), &message, link).await?;
    }
    Ok(outcome)
}

/// Translates a reply, keeping the mark of its secret link ([`SECRET_LINK_MARK`]) as it is:
/// the parts around the mark are translated, the mark stays, so the sender still finds it.
async fn translate_around_link(
    deps: &TranslatorDeps,
    message: &Message,
    target: &LanguageTag,
) -> Result<Translated, TranslateFailure> {
    let source = source_of(message);
    if !message.text.contains(SECRET_LINK_MARK) {
        return deps
            .service
            .translate_for(
                &message.text,
                source.as_ref(),
                target,
                Some(message.conversation_id),
            )
            .await;
    }
    let mut out = String::new();
    let mut provider = None;
    for (i, part) in message.text.split(SECRET_LINK_MARK).enumerate() {
        if i > 0 {
            out.push_str(SECRET_LINK_MARK);
        }
        if part.trim().is_empty() {
            out.push_str(part);
            continue;
        }
        match deps
            .service
            .translate_for(part, source.as_ref(), target, Some(message.conversation_id))
            .await?
        {
            Translated::Text {
                text, provider: p, ..
            } => {
                // Keep the white space the mark had around it.
                let lead = &part[..part.len() - part.trim_start().len()];
                let trail = &part[part.trim_end().len()..];
                out.push_str(lead);
                out.push_str(text.trim());
                out.push_str(trail);
                provider = Some(p);
            }
            Translated::SameLanguage { .. } => out.push_str(part),
        }
    }
    Ok(match provider {
        Some(provider) => Translated::Text {
            text: out,
            provider,
            detected_source: source,
            cached: false,
        },
        None => Translated::SameLanguage {
            detected: target.clone(),
        },
    })
}

/// The language an agent's reply is written in: the agent's own (the detector ran on it when
/// it was stored, [`Message::language`]).
fn source_of(message: &Message) -> Option<LanguageTag> {
    message.language.clone()
}

/// Queues a reply for the sender (deduplicated by its id, like the agent API's own send).
pub async fn queue_for_sending(
    queue: &dyn Queue,
    message: &Message,
    link: Option<&str>,
) -> Result<(), JobError> {
    queue
        .send(
            QueueName::Outbound,
            OutboundJob::of(message, link.map(str::to_owned)).to_queue_message(),
        )
        .await
        .map(|_| ())
        .map_err(|e| JobError::Transient(format!("could not queue the translated reply: {e}")))
}

/// What an agent reads about a failure.
pub fn failure_reason(failure: &TranslateFailure) -> String {
    match failure {
        TranslateFailure::Unavailable { reason } => {
            format!("the translation provider is unavailable ({reason})")
        }
        TranslateFailure::QuotaReached { providers } => format!(
            "the daily translation quota is reached ({})",
            providers.join(", ")
        ),
        TranslateFailure::Refused { reason } => {
            format!("the translation provider refused the text ({reason})")
        }
        TranslateFailure::Corrupted { provider } => format!(
            "{provider} changed a link, number or code in the text, so its translation was not used"
        ),
        TranslateFailure::NoProvider => "no translation provider is configured".to_owned(),
    }
}

/// Applies `change` to the stored message's content (re-read on conflict) while it is still
/// waiting for a translation of the same text; `None` when it no longer is (someone decided
/// meanwhile, or the customer edited it: the edit's own job translates that).
async fn store(
    deps: &TranslatorDeps,
    message: &Message,
    change: impl Fn(&mut MessageContent),
) -> Result<Option<Message>, JobError> {
    let outcome = update_message_content(
        deps.messages.as_ref(),
        message.clone(),
        MAX_CONFLICT_RETRIES,
        |current, content| {
            let waiting = matches!(
                current.translation,
                Some(TranslationStatus::Pending { .. } | TranslationStatus::Failed { .. })
            );
            if waiting && current.text == message.text {
                change(content);
            }
            waiting && current.text == message.text
        },
    )
    .await?;
    match outcome {
        ContentUpdate::Updated(m) => Ok(Some(m)),
        ContentUpdate::Declined(_) | ContentUpdate::Gone => Ok(None),
        ContentUpdate::Busy => Err(JobError::Transient(
            "the message kept changing while its translation was stored".to_owned(),
        )),
    }
}

/// Pushes the updated message to every agent (best effort: the store has it).
async fn announce(deps: &TranslatorDeps, message: Message) {
    let event = ServerEvent::MessageUpdated {
        conversation_id: message.conversation_id,
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
        tracing::warn!(error = %e, "translation not pushed; agents see it on reload");
    }
}
