//! The router's side of the AI: whether the AI answers a conversation with the bot, and the
//! two ways an AI job ends — an answer delivered to the customer, or the conversation handed
//! to people — applied here so that assignment, timers, pushes and the bot's texts stay one
//! piece of code for the router and the ai-worker.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use omnidesk_core::usecases::conversation_view;
use omnidesk_core::{
    AiJob, AiStore, JobError, OutboundJob, QueueName, ServerEvent, StoreError, TranslateJob,
};
use omnidesk_domain::{
    Author, Conversation, ConversationId, ConversationStatus, Delivery, DeliveryStatus,
    HistorySummary, LanguageTag, Message, MessageId, TranslationStatus,
};

use super::{
    BotLine, MAX_CONFLICT_RETRIES, RouterDeps, Step, assign_if_waiting, bot_say, record_events,
};

/// Which AI answers first (`OMNIDESK_AI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AiMode {
    /// No AI: every message that is not a command goes to people.
    Off,
    /// The offline knowledge-base answerer over the FAQ (no model, no network): the default.
    #[default]
    Kb,
    /// An OpenAI-compatible chat-completions endpoint.
    OpenAi,
    /// Amazon Bedrock Converse.
    Bedrock,
}

impl AiMode {
    /// Parses `openai`, `bedrock`, `kb` or `off` (case-insensitive; blank = the default).
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "kb" => Ok(Self::Kb),
            "off" | "none" => Ok(Self::Off),
            "openai" => Ok(Self::OpenAi),
            "bedrock" => Ok(Self::Bedrock),
            other => Err(format!(
                "OMNIDESK_AI: expected openai, bedrock, kb or off, got {other:?}"
            )),
        }
    }

    /// `off`, `kb`, `openai`, `bedrock`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Kb => "kb",
            Self::OpenAi => "openai",
            Self::Bedrock => "bedrock",
        }
    }

    /// Whether a model answers (it can say something without a FAQ).
    pub fn uses_model(self) -> bool {
        matches!(self, Self::OpenAi | Self::Bedrock)
    }
}

/// Decides whether the AI takes a conversation's next message. With a model it always does;
/// with the knowledge base only once the deployment has a FAQ (checked at most every
/// [`AiGate::TTL`]: no store read per message), so a desk without one routes straight to
/// people as before.
#[derive(Clone)]
pub struct AiGate {
    store: Arc<dyn AiStore>,
    with_model: bool,
    faq_seen: Arc<Mutex<Option<(Instant, bool)>>>,
}

impl std::fmt::Debug for AiGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiGate")
            .field("with_model", &self.with_model)
            .finish_non_exhaustive()
    }
}

impl AiGate {
    /// How long the answer "the deployment has a FAQ" is reused.
    pub const TTL: Duration = Duration::from_secs(30);

    pub fn new(store: Arc<dyn AiStore>, mode: AiMode) -> Self {
        Self {
            store,
            with_model: mode.uses_model(),
            faq_seen: Arc::default(),
        }
    }

    /// Whether the AI answers first.
    pub async fn answers(&self) -> Result<bool, StoreError> {
        if self.with_model {
            return Ok(true);
        }
        if let Ok(guard) = self.faq_seen.lock()
            && let Some((at, has)) = guard.as_ref()
            && at.elapsed() < Self::TTL
        {
            return Ok(*has);
        }
        let has = self.store.faq_version().await? > 0;
        if let Ok(mut guard) = self.faq_seen.lock() {
            *guard = Some((Instant::now(), has));
        }
        Ok(has)
    }
}

/// Queues the AI's job for a customer's message.
pub(crate) async fn enqueue_ai(
    deps: &RouterDeps,
    message: &Message,
    faq_only: bool,
) -> Result<(), JobError> {
    let job = AiJob {
        conversation_id: message.conversation_id,
        message_id: message.id,
        faq_only,
    };
    deps.queue
        .send(QueueName::Ai, job.to_queue_message())
        .await?;
    Ok(())
}

/// What the AI decided for a customer's message.
#[derive(Debug, Clone, PartialEq)]
pub enum AiDecision {
    /// Answer the customer with `text`, written in `language`; translated into
    /// `translate_to` first when it is set and a translator is configured (a FAQ answer
    /// written in another language than the customer's).
    Reply {
        text: String,
        language: Option<LanguageTag>,
        translate_to: Option<LanguageTag>,
    },
    /// Hand the conversation to people, saying why.
    Handover { reason: String },
}

/// What became of an AI decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AiApplied {
    /// The answer was stored and queued for the customer.
    Sent(MessageId),
    /// The conversation is queued for people (assigned when someone had room).
    HandedOver { assigned: bool },
    /// A person had taken the conversation meanwhile: the answer was kept as an internal
    /// note (`Some`), or a handover was not needed (`None`).
    Dropped(Option<MessageId>),
}

/// Applies the AI's decision on the conversation, re-reading it first: an answer reaches the
/// customer only while the conversation is still with the bot (the status check and the
/// update are one optimistic write), else it is kept as an internal note. `tokens` are added
/// to the conversation's AI budget; `summary`, when given, replaces the stored one.
pub async fn apply_ai_decision(
    deps: &RouterDeps,
    conversation_id: ConversationId,
    decision: AiDecision,
    tokens: u64,
    summary: Option<HistorySummary>,
) -> Result<AiApplied, JobError> {
    let mut step = Step::default();
    let applied = apply(deps, conversation_id, decision, tokens, summary, &mut step).await;
    step.push(deps).await;
    applied
}

async fn apply(
    deps: &RouterDeps,
    conversation_id: ConversationId,
    decision: AiDecision,
    tokens: u64,
    summary: Option<HistorySummary>,
    step: &mut Step,
) -> Result<AiApplied, JobError> {
    let now = deps.clock.now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let Some(mut c) = deps.conversations.get_conversation(conversation_id).await? else {
            return Err(JobError::Permanent(format!(
                "conversation {conversation_id} vanished"
            )));
        };
        if c.status != ConversationStatus::Bot {
            return match decision {
                AiDecision::Reply { text, language, .. } => {
                    let note = ai_message(deps, &c, text, language, true);
                    deps.messages.append_message(&note).await?;
                    step.pushes.push(ServerEvent::MessageCreated {
                        conversation_id,
                        message: note.clone(),
                        conversation: None,
                    });
                    Ok(AiApplied::Dropped(Some(note.id)))
                }
                AiDecision::Handover { .. } => Ok(AiApplied::Dropped(None)),
            };
        }
        if let Some(s) = &summary {
            c.summary = Some(s.clone());
        }
        c.ai_tokens = c.ai_tokens.saturating_add(tokens);
        let mut events = Vec::new();
        let reply = match &decision {
            AiDecision::Reply {
                text,
                language,
                translate_to,
            } => {
                let m = ai_message(deps, &c, text.clone(), language.clone(), false);
                c.ai_turns = c.ai_turns.saturating_add(1);
                c.record_message(&m);
                Some((m, translate_to.clone()))
            }
            AiDecision::Handover { reason } => {
                if let Some(change) = c.hand_over(reason.clone())
                    && let Some(ev) = change.event
                {
                    events.push(ev);
                }
                assign_if_waiting(deps, &mut c, &mut events).await?;
                None
            }
        };
        c.last_activity_at = c.last_activity_at.max(now);
        let stored = match deps.conversations.update_conversation(&c).await {
            Ok(stored) => stored,
            Err(StoreError::Conflict(_)) if attempts < MAX_CONFLICT_RETRIES => continue,
            Err(StoreError::Conflict(e)) => {
                return Err(JobError::Transient(format!(
                    "conversation kept changing: {e}"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let applied = match reply {
            Some((m, translate_to)) => {
                let id = m.id;
                send(deps, &stored, m, translate_to, step).await?;
                AiApplied::Sent(id)
            }
            None => {
                let assigned = record_events(deps, &stored, events, step).await?;
                let text = coming_text(deps, &stored).await?;
                let line = BotLine {
                    text,
                    buttons: Vec::new(),
                    link: None,
                };
                bot_say(deps, &stored, stored.channel, line, step).await?;
                AiApplied::HandedOver {
                    assigned: assigned.is_some(),
                }
            }
        };
        // Best effort, like every push: what was decided is stored and sent.
        match conversation_view(deps.contacts.as_ref(), &stored).await {
            Ok(view) => step.pushes.push(ServerEvent::ConversationUpdated {
                conversation: Box::new(view),
            }),
            Err(e) => tracing::warn!(error = %e, "conversation view for the push not read"),
        }
        step.conversation = Some(stored);
        return Ok(applied);
    }
}

/// A message by the AI (`internal`: a note for agents only).
fn ai_message(
    deps: &RouterDeps,
    c: &Conversation,
    text: String,
    language: Option<LanguageTag>,
    internal: bool,
) -> Message {
    let mut m = Message::outbound(
        deps.ids.message_id(),
        c.id,
        Author::Ai,
        c.channel,
        text,
        deps.clock.now(),
    );
    m.language = language;
    if !internal {
        // A person is one tap away from every AI answer.
        m.buttons = vec![omnidesk_domain::Button {
            text: deps.settings.human_button.clone(),
            data: super::HUMAN_CHOICE.to_owned(),
        }];
    }
    if internal {
        m.internal = true;
        m.delivery = Delivery {
            status: DeliveryStatus::Failed,
            reason: Some("not sent: a person took the conversation meanwhile".to_owned()),
            attempts: 0,
            updated_at: m.created_at,
        };
    }
    m
}

/// Stores the AI's answer and queues it: through the translator into `translate_to` when
/// a translator is configured and the answer is written in another language, else straight
/// to the sender.
async fn send(
    deps: &RouterDeps,
    c: &Conversation,
    mut m: Message,
    translate_to: Option<LanguageTag>,
    step: &mut Step,
) -> Result<(), JobError> {
    let target = translate_to.filter(|to| {
        deps.settings.translate
            && m.language
                .as_ref()
                .is_some_and(|from| from.primary() != to.primary())
    });
    let translate = target.is_some();
    if translate {
        m.translation = Some(TranslationStatus::Pending { target });
    }
    deps.messages.append_message(&m).await?;
    if translate {
        deps.queue
            .send(
                QueueName::Translate,
                TranslateJob::of(&m).to_queue_message(0),
            )
            .await?;
    } else {
        deps.queue
            .send(
                QueueName::Outbound,
                OutboundJob::of(&m, None).to_queue_message(),
            )
            .await?;
    }
    step.pushes.push(ServerEvent::MessageCreated {
        conversation_id: c.id,
        message: m,
        conversation: None,
    });
    Ok(())
}

/// The longest queue counted for a position: further back, the customer is told only that a
/// person is coming.
const POSITION_SCAN: usize = 200;

/// What the customer is told at a handover: a person is coming, with their place in the
/// queue when they wait in it.
pub(crate) async fn coming_text(deps: &RouterDeps, c: &Conversation) -> Result<String, JobError> {
    let mut text = deps.settings.human_ack.clone();
    if c.status == ConversationStatus::Queued
        && c.assignee_id.is_none()
        && let Some(position) = queue_position(deps, c).await?
    {
        text.push(' ');
        text.push_str(
            &deps
                .settings
                .queue_position
                .replace("{position}", &position.to_string()),
        );
    }
    Ok(text)
}

/// The conversation's place among those waiting for a person of its team (by priority,
/// then who waited longest).
async fn queue_position(deps: &RouterDeps, c: &Conversation) -> Result<Option<usize>, JobError> {
    Ok(
        omnidesk_core::assign::queue_position(deps.conversations.as_ref(), c, POSITION_SCAN)
            .await?,
    )
}
