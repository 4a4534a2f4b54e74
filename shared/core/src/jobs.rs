//! Typed queue jobs: the bodies that travel between functions, and the queues they use.

use std::fmt;

use omnidesk_domain::{AgentId, ConversationId, InboundEvent, MessageId, Timestamp};
use serde::{Deserialize, Serialize};

/// The queues of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueName {
    /// Ingest → router. FIFO, group = chat, dedupe = source event.
    Inbound,
    /// agent-api / router → sender. FIFO, group = conversation, dedupe = message id.
    Outbound,
    /// Delayed jobs (reassignment, prompts, token expiry). Standard queue with delays.
    Timers,
    /// router → media: fetch a message's files from its channel into blob storage. Standard
    /// queue (files of different messages need no order).
    Media,
    /// router / agent-api → translator: translate a stored message (a customer's into the
    /// agents' languages; an agent's reply into the customer's before it is sent). FIFO,
    /// group = conversation, dedupe = message and revision.
    Translate,
    /// router → ai-worker: answer a customer's message with the AI (or hand over), and agent
    /// assist. FIFO, group = conversation, dedupe = message.
    Ai,
}

impl QueueName {
    /// Every queue.
    pub const ALL: [QueueName; 6] = [
        QueueName::Inbound,
        QueueName::Outbound,
        QueueName::Timers,
        QueueName::Media,
        QueueName::Translate,
        QueueName::Ai,
    ];

    /// Stable lowercase name (table rows, SQS queue name suffix, env var suffix).
    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Inbound => "inbound",
            QueueName::Outbound => "outbound",
            QueueName::Timers => "timers",
            QueueName::Media => "media",
            QueueName::Translate => "translate",
            QueueName::Ai => "ai",
        }
    }

    /// Whether the queue keeps per-group order (SQS FIFO).
    pub fn is_fifo(self) -> bool {
        !matches!(self, QueueName::Timers | QueueName::Media)
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Body of the inbound queue.
pub type InboundJob = InboundEvent;

/// Body of the outbound queue: send the stored message `message_id` to its channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundJob {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    /// A secret the message's text names as [`SECRET_LINK_MARK`] (a single-use "continue on
    /// Telegram" link): the sender puts it in what it sends, so it reaches the customer but
    /// never the store, the timeline or an agent's screen (an agent who clicked it would link
    /// their own Telegram account to the customer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl OutboundJob {
    /// The job that sends the stored `message` (with `link` for its [`SECRET_LINK_MARK`]).
    pub fn of(message: &omnidesk_domain::Message, link: Option<String>) -> Self {
        Self {
            conversation_id: message.conversation_id,
            message_id: message.id,
            link,
        }
    }

    /// The queue message: FIFO per conversation, deduplicated by the message id (a message is
    /// sent once however often it is queued).
    pub fn to_queue_message(&self) -> crate::OutgoingMessage {
        crate::OutgoingMessage::fifo(
            self.conversation_id.to_string(),
            self.message_id.to_string(),
            serde_json::to_string(self).expect("an outbound job serialises"),
        )
    }
}

/// Where a message's text carries the secret link of its [`OutboundJob`].
pub const SECRET_LINK_MARK: &str = "[single-use link, sent to the customer only]";

/// A mail that belongs to no conversation (the code of `/bind`), sent by the sender from a
/// mailbox (the first one when `from` is unset), marked `Auto-Submitted: auto-generated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemMail {
    pub to: omnidesk_domain::EmailAddress,
    #[serde(default)]
    pub from: Option<omnidesk_domain::EmailAddress>,
    pub subject: String,
    pub text: String,
    /// A unique id (the Message-ID's local part): a redelivered job composes the same mail.
    pub id: String,
}

/// What the outbound queue carries: a stored message to send, or a system mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OutboundBody {
    Message(OutboundJob),
    Mail(SystemMail),
}

/// Body of the media queue: fetch the files of the stored message `message_id` (those with
/// [`omnidesk_domain::Attachment::needs_fetch`]) into blob storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaJob {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
}

/// Body of the translate queue: translate the stored message `message_id` as it is at
/// `revision` (a later edit brings its own job; a job for an older revision is dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranslateJob {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    #[serde(default)]
    pub revision: u32,
    /// The secret link of a bot's reply ([`OutboundJob::link`]), passed on to the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl TranslateJob {
    /// The job for `message` as it is now.
    pub fn of(message: &omnidesk_domain::Message) -> Self {
        Self {
            conversation_id: message.conversation_id,
            message_id: message.id,
            revision: message.revision,
            link: None,
        }
    }

    /// The queue message: FIFO per conversation, deduplicated per message revision and
    /// `attempt` (a retry the agent asks for is a new attempt).
    pub fn to_queue_message(&self, attempt: u32) -> crate::OutgoingMessage {
        crate::OutgoingMessage::fifo(
            self.conversation_id.to_string(),
            format!("tr:{}:{}:{attempt}", self.message_id, self.revision),
            serde_json::to_string(self).expect("a translate job serialises"),
        )
    }
}

/// Body of the AI queue: answer the customer's message `message_id` (or hand the
/// conversation over), if the conversation is still with the bot when the job runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiJob {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    /// Answer from the FAQ only, without a model (a routing rule's `faq`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub faq_only: bool,
}

impl AiJob {
    /// The queue message: FIFO per conversation, deduplicated by the message answered.
    pub fn to_queue_message(&self) -> crate::OutgoingMessage {
        crate::OutgoingMessage::fifo(
            self.conversation_id.to_string(),
            format!("ai:{}", self.message_id),
            serde_json::to_string(self).expect("an AI job serialises"),
        )
    }
}

/// Body of the timers queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "timer", rename_all = "snake_case")]
pub enum TimerJob {
    /// If `agent_id` still has the conversation and no agent has replied since `assigned_at`,
    /// give it to another agent (or back to the queue when its agent went offline). `hops`
    /// counts the reassignments before this one, so an unanswered conversation is not passed
    /// around forever.
    ReassignIfUnanswered {
        conversation_id: ConversationId,
        agent_id: AgentId,
        assigned_at: Timestamp,
        #[serde(default)]
        hops: u32,
    },
    /// The agent's last dashboard closed at `disconnected_at`: if none is open again, the
    /// agent goes offline and their unanswered conversations go back to the queue.
    AgentAway {
        agent_id: AgentId,
        disconnected_at: Timestamp,
    },
    /// A dashboard of the agent connected: they follow it to online (unless they chose
    /// otherwise) and take queued conversations, highest priority first.
    AgentBack { agent_id: AgentId },
    /// A snoozed conversation wakes up (if it is still snoozed until `until`).
    Unsnooze {
        conversation_id: ConversationId,
        until: Timestamp,
    },
    /// A conversation still waiting in the queue since `queued_at` gets its position again
    /// (and the timer again), until an agent has it.
    QueueNotice {
        conversation_id: ConversationId,
        queued_at: Timestamp,
    },
    /// An agent resolved the conversation at `resolved_at`: the customer is asked to rate it
    /// on its channel (if it is still resolved and not yet rated).
    CsatSurvey {
        conversation_id: ConversationId,
        resolved_at: Timestamp,
    },
    /// A wait longer than the queue's longest delay, re-armed: `job` runs at `due`.
    Rearm { due: Timestamp, job: Box<TimerJob> },
    /// The retention sweep (`OMNIDESK_RETENTION_DAYS`): started daily without fields (by the
    /// embedded runtime's clock, or an EventBridge schedule on AWS); a sweep longer than one
    /// run goes on in the next job from `cursor`, with the same `cutoff`.
    Retention {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cutoff: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<String>,
    },
}

impl TimerJob {
    /// The queue message that runs the timer after `delay` (at most the queue's longest delay,
    /// 15 minutes on SQS; longer waits go through [`TimerJob::Rearm`]).
    pub fn to_queue_message(&self, delay: std::time::Duration) -> crate::OutgoingMessage {
        crate::OutgoingMessage::delayed(
            serde_json::to_string(self).expect("a timer job serialises"),
            delay,
        )
    }
}

/// What a worker step (one queue message) asks the queue driver to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Processed: delete the message.
    Done,
    /// Not yet: make it visible again after this delay (e.g. Telegram's `retry_after`), keeping
    /// its group's order.
    RetryAfter(std::time::Duration),
}

/// A worker step failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Retrying can help (store or provider unavailable): retried with backoff, then
    /// dead-lettered after the queue's max receives.
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying cannot help (malformed body, missing record): dead-lettered at once with the reason.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl From<crate::StoreError> for JobError {
    fn from(e: crate::StoreError) -> Self {
        if e.is_transient() {
            JobError::Transient(e.to_string())
        } else {
            JobError::Permanent(e.to_string())
        }
    }
}

impl From<crate::QueueError> for JobError {
    fn from(e: crate::QueueError) -> Self {
        match e {
            crate::QueueError::Unavailable(m) | crate::QueueError::StaleReceipt(m) => {
                JobError::Transient(m)
            }
            crate::QueueError::Refused(m) => JobError::Permanent(m),
        }
    }
}

/// Backoff before the `receive_count`-th retry of a transiently failing job: 1 s, 2 s, 4 s, …
/// capped at 60 s.
pub fn retry_backoff(receive_count: u32) -> std::time::Duration {
    std::time::Duration::from_secs(1u64 << receive_count.saturating_sub(1).min(6))
        .min(std::time::Duration::from_secs(60))
}
