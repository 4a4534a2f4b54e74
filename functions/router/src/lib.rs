//! router: the step that turns an inbound event into conversation state.
//!
//! One call of [`handle`] processes one inbound queue message: it finds or creates the contact
//! (by identity) and the conversation (by routing key), stores the message idempotently (a
//! redelivered event is stored once), answers `/start` and `/help` itself while the bot has the
//! conversation, otherwise queues the conversation for a human and assigns it round-robin to an
//! online agent under capacity, and pushes `message.created` to agents (the last one of a step
//! carries the conversation as it now is, instead of a separate `conversation.updated`).
//!
//! An automatic assignment schedules a timer ([`TimerJob::ReassignIfUnanswered`], on the
//! timers queue, after [`RouterSettings::reassign_after`]); [`handle_timer`] then gives a
//! conversation its agent has not answered to another agent, or back to the queue when that
//! agent went offline.
//!
//! Beyond plain messages: an edit (`edited_at`) replaces the stored message's text and
//! attachments and keeps the old text in its `edit_history`; the next part of an album is
//! merged into the album's message; a channel notice (a member joined) becomes a timeline
//! event of an existing conversation and nothing else; a pressed button arrives as a message
//! whose text is its label, and [`HUMAN_CHOICE`] queues the conversation for a person with an
//! acknowledgement. A stored message with files to fetch ([`Attachment::needs_fetch`]) gets a
//! [`MediaJob`] on the media queue, deduplicated by `media:<message id>:<revision>`.
//!
//! Safe to retry at any point: the message append (unique by source key) is the commit point,
//! and a redelivered event whose message is stored but whose conversation was not yet updated
//! (a crash in between) is finished rather than dropped.

mod ai;
mod routing;
mod timers;

use std::sync::Arc;
use std::time::Duration;

pub use ai::{AiApplied, AiDecision, AiGate, AiMode, apply_ai_decision};
pub use routing::{Routing, RoutingCache, RuleOutcome, TeamRoute, parse_stored};
pub use timers::{handle_timer, handle_timer_body};

use omnidesk_core::ConversationView;
use omnidesk_core::usecases::{
    MergeError, MergePorts, conversation_view, merge_contacts, push_to_agents, push_to_visitor,
};
use omnidesk_core::{
    AgentStore, AppendOutcome, BotStore, Clock, ConnectionStore, ContactStore, ConversationStore,
    HandoffGrant, IdGen, JobError, JobOutcome, MediaJob, MessageStore, OutboundJob,
    OutgoingMessage, PageRequest, Push, Queue, QueueName, RoutingStore, SECRET_LINK_MARK,
    ServerEvent, StoreError, TokenKind, TranslateJob, VisitorConnectionStore, WebStore, token_hash,
};
use omnidesk_domain::{
    AgentId, Attachment, Author, BotCommand, Button, Channel, ChannelMessage, ChannelRef, ChatKind,
    Contact, ContactId, Conversation, ConversationId, ConversationStatus, Delivery, Direction,
    Handoff, Identity, InboundEvent, InboundSource, LanguageTag, LastMessage, Message,
    MessageContent, MessageId, PreviousText, Priority, SystemEvent, Timestamp, TranslationStatus,
    email_summary, handoff_summary,
};

/// Texts and behaviour of the built-in bot.
#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// Answer to `/start`.
    pub greeting: String,
    /// Answer to `/help`.
    pub help: String,
    /// How long an automatically assigned conversation may go without an agent's reply before
    /// it is given to someone else; `None`: never. At most 15 minutes (SQS's longest delay).
    pub reassign_after: Option<Duration>,
    /// Answer to a continue-on-this-channel link that is unknown, used or expired.
    pub handoff_invalid: String,
    /// Answer to such a link sent in a group chat.
    pub handoff_group: String,
    /// The label of the button offered with the greeting that asks for a person (its choice
    /// is [`HUMAN_CHOICE`]).
    pub human_button: String,
    /// The bot's answer when the customer chose to talk to a person.
    pub human_ack: String,
    /// The acknowledgement of a new e-mail ticket (sent by e-mail, marked automatic).
    pub email_ack: String,
    /// Added to the acknowledgement when the mailbox has a Telegram bot; `{link}` is the
    /// single-use `t.me` link.
    pub email_ack_link: String,
    /// Sent on Telegram instead of the link in the mail when the contact already chats with
    /// the mailbox's bot; `{subject}` and `{link}` are filled in.
    pub email_telegram_offer: String,
    /// The percentage of contacts offered "Continue on Telegram" in an e-mail acknowledgement
    /// (`OMNIDESK_TELEGRAM_HANDOFF_ROLLOUT`, by the contact's stable rollout bucket; 100).
    pub telegram_handoff_rollout: u8,
    /// How long a "continue on Telegram" link in an acknowledgement stays valid (mail is read
    /// later than a web page: longer than the widget's 10 minutes).
    pub email_link_ttl: Duration,
    /// Automatic mails (acknowledgements) to one address per hour, at most: a loop with
    /// another robot stops here even when its mail carries no automatic-mail header.
    pub auto_mail_per_hour: u64,
    /// The language detector over the languages the team serves (`OMNIDESK_LANGUAGES`; unset:
    /// the runtime builds it from the agents' languages plus English at start,
    /// [`RouterSettings::serve_languages`]). `None`: messages keep their channel's hint.
    pub detector: Option<omnidesk_language::Detector>,
    /// Whether a translator is configured (`OMNIDESK_TRANSLATOR`): customers' messages in a
    /// language some agent does not read are then queued for the translator.
    pub translate: bool,
    /// The agents' languages, re-read at most every [`AgentLanguages::TTL`].
    pub agent_languages: AgentLanguages,
    /// Which AI answers first (`OMNIDESK_AI`, default `kb`).
    pub ai_mode: AiMode,
    /// Whether the AI takes a conversation with the bot; `None`: never (set by the runtime
    /// from [`RouterSettings::ai_mode`] and the AI store).
    pub ai: Option<AiGate>,
    /// Added to [`RouterSettings::human_ack`] when the customer waits in the queue;
    /// `{position}` is their place.
    pub queue_position: String,
    /// Bots (Telegram bot ids) and websites (`web_…` ids) whose conversations the AI never
    /// answers (`OMNIDESK_AI_OFF`, comma-separated): they go to people as with `OMNIDESK_AI=off`.
    pub ai_off: std::collections::BTreeSet<String>,
    /// The deployment's rules and teams, re-read at most every [`RoutingCache::TTL`].
    pub routing: RoutingCache,
    /// The team of conversations no rule routes to one (`OMNIDESK_DEFAULT_TEAM`): its hours,
    /// timeout and prompts apply to them. `None`: every agent, always open.
    pub default_team: Option<String>,
    /// Sent once per conversation that reaches a closed team (`OMNIDESK_OUT_OF_OFFICE_TEXT`;
    /// a team's own text wins); `{next}` is the next opening time.
    pub out_of_office: String,
    /// Sent after a team's `max_hops` unanswered moves (`OMNIDESK_BUSY_PROMPT`; a team's own
    /// text wins).
    pub busy_prompt: String,
    /// The queue position is sent again this often while a conversation waits
    /// (`OMNIDESK_QUEUE_NOTICE_SECS`; unset or 0: only when it starts waiting).
    pub queue_notice_every: Option<Duration>,
    /// Contact tags that make a conversation high priority (`OMNIDESK_VIP_TAGS`, default `vip`).
    pub vip_tags: std::collections::BTreeSet<String>,
    /// Whether customers are asked to rate a conversation an agent resolved (`OMNIDESK_CSAT`,
    /// default on).
    pub csat: bool,
    /// The rating question (buttons 1–5 on Telegram).
    pub csat_question: String,
    /// Added to the question where there are no buttons (e-mail, the widget).
    pub csat_reply_hint: String,
    /// The answer to a rating, inviting a comment.
    pub csat_thanks: String,
    /// The answer to the comment.
    pub csat_comment_thanks: String,
    /// How long messages and files are kept (`OMNIDESK_RETENTION_DAYS`); `None` (the default):
    /// until someone deletes them. Swept by [`omnidesk_core::TimerJob::Retention`].
    pub retention: Option<Duration>,
}

/// The agents (for their languages), read from the store at most once per [`Self::TTL`] per
/// process: deciding whether a message needs translating costs no store read per message.
#[derive(Debug, Clone, Default)]
pub struct AgentLanguages(std::sync::Arc<std::sync::Mutex<Option<AgentsRead>>>);

/// When the agents were read, and what was read.
type AgentsRead = (
    std::time::Instant,
    std::sync::Arc<Vec<omnidesk_domain::Agent>>,
);

impl AgentLanguages {
    /// How long a read of the agents is reused: a changed language takes effect within it.
    pub const TTL: Duration = Duration::from_secs(30);

    /// The agents, from the cache or the store.
    pub async fn agents(
        &self,
        store: &dyn AgentStore,
    ) -> Result<std::sync::Arc<Vec<omnidesk_domain::Agent>>, StoreError> {
        if let Ok(guard) = self.0.lock()
            && let Some((at, agents)) = guard.as_ref()
            && at.elapsed() < Self::TTL
        {
            return Ok(agents.clone());
        }
        let agents = std::sync::Arc::new(store.list_agents().await?);
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some((std::time::Instant::now(), agents.clone()));
        }
        Ok(agents)
    }
}

/// The choice (button data) that asks for a person.
pub const HUMAN_CHOICE: &str = "human";

impl RouterSettings {
    /// The default of [`RouterSettings::reassign_after`]: 60 seconds (a team's own
    /// `answer_within_secs` wins for its conversations).
    pub const REASSIGN_AFTER: Duration = Duration::from_secs(60);
    /// SQS's longest `DelaySeconds`, and so the longest [`RouterSettings::reassign_after`].
    pub const MAX_REASSIGN_AFTER: Duration = Duration::from_secs(900);
    /// Unanswered moves of a conversation without a team before the busy prompt (a team's
    /// `max_hops` wins for its conversations).
    pub const MAX_REASSIGNMENTS: u32 = 3;
    /// The default of [`RouterSettings::email_link_ttl`]: 7 days.
    pub const EMAIL_LINK_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
    /// The default of [`RouterSettings::auto_mail_per_hour`].
    pub const AUTO_MAIL_PER_HOUR: u64 = 5;

    /// Reads `OMNIDESK_BOT_GREETING`, `OMNIDESK_BOT_HELP` and `OMNIDESK_REASSIGN_AFTER_SECS`
    /// through `lookup` (both runtimes call this, so they read them the same way). Unset or
    /// blank variables keep the defaults; `OMNIDESK_REASSIGN_AFTER_SECS=0` turns reassignment
    /// off.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut settings = Self::default();
        if let Some(g) = get("OMNIDESK_BOT_GREETING") {
            settings.greeting = g;
        }
        if let Some(h) = get("OMNIDESK_BOT_HELP") {
            settings.help = h;
        }
        if let Some(v) = get("OMNIDESK_REASSIGN_AFTER_SECS") {
            let secs: u64 = v.trim().parse().map_err(|_| {
                format!("OMNIDESK_REASSIGN_AFTER_SECS: expected whole seconds, got {v:?}")
            })?;
            let after = Duration::from_secs(secs);
            if after > Self::MAX_REASSIGN_AFTER {
                return Err(format!(
                    "OMNIDESK_REASSIGN_AFTER_SECS: at most {} (SQS's longest delay), got {secs}",
                    Self::MAX_REASSIGN_AFTER.as_secs()
                ));
            }
            settings.reassign_after = (secs > 0).then_some(after);
        }
        let whole = |name: &str| -> Result<Option<u64>, String> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("{name}: expected a whole number, got {v:?}"))
                })
                .transpose()
        };
        if let Some(secs) = whole("OMNIDESK_EMAIL_LINK_TTL_SECS")? {
            if secs == 0 {
                return Err("OMNIDESK_EMAIL_LINK_TTL_SECS: must be at least 1".to_owned());
            }
            settings.email_link_ttl = Duration::from_secs(secs);
        }
        if let Some(n) = whole("OMNIDESK_AUTO_MAIL_PER_HOUR")? {
            settings.auto_mail_per_hour = n;
        }
        if let Some(t) = get("OMNIDESK_EMAIL_ACK") {
            settings.email_ack = t;
        }
        settings.translate = get("OMNIDESK_TRANSLATOR").is_some();
        if let Some(mode) = get("OMNIDESK_AI") {
            settings.ai_mode = AiMode::parse(&mode)?;
        }
        if let Some(t) = get("OMNIDESK_HUMAN_ACK") {
            settings.human_ack = t;
        }
        if let Some(t) = get("OMNIDESK_QUEUE_POSITION_TEXT") {
            settings.queue_position = t;
        }
        if let Some(team) = get("OMNIDESK_DEFAULT_TEAM") {
            let team = omnidesk_domain::TeamName::parse(&team)
                .map_err(|e| format!("OMNIDESK_DEFAULT_TEAM: {e}"))?;
            settings.default_team = Some(team.as_str().to_owned());
        }
        if let Some(t) = get("OMNIDESK_OUT_OF_OFFICE_TEXT") {
            settings.out_of_office = t;
        }
        if let Some(t) = get("OMNIDESK_BUSY_PROMPT") {
            settings.busy_prompt = t;
        }
        if let Some(days) = whole("OMNIDESK_RETENTION_DAYS")? {
            if days == 0 {
                return Err(
                    "OMNIDESK_RETENTION_DAYS: at least 1 (leave it unset to keep everything)"
                        .to_owned(),
                );
            }
            settings.retention = Some(Duration::from_secs(days.saturating_mul(24 * 3600)));
        }
        if let Some(secs) = whole("OMNIDESK_QUEUE_NOTICE_SECS")? {
            settings.queue_notice_every = (secs > 0).then(|| Duration::from_secs(secs));
        }
        if let Some(v) = get("OMNIDESK_CSAT") {
            settings.csat = match v.trim().to_ascii_lowercase().as_str() {
                "on" | "true" | "1" | "yes" => true,
                "off" | "false" | "0" | "no" => false,
                other => return Err(format!("OMNIDESK_CSAT: expected on or off, got {other:?}")),
            };
        }
        if let Some(v) = get("OMNIDESK_TELEGRAM_HANDOFF_ROLLOUT") {
            settings.telegram_handoff_rollout =
                omnidesk_rules::parse_percent("OMNIDESK_TELEGRAM_HANDOFF_ROLLOUT", &v)?;
        }
        if let Some(t) = get("OMNIDESK_CSAT_QUESTION") {
            settings.csat_question = t;
        }
        if let Some(list) = get("OMNIDESK_VIP_TAGS") {
            settings.vip_tags = list
                .split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(list) = get("OMNIDESK_AI_OFF") {
            settings.ai_off = list
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(list) = get("OMNIDESK_LANGUAGES") {
            let codes: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            settings.detector = Some(
                omnidesk_language::Detector::new(&codes)
                    .map_err(|e| format!("OMNIDESK_LANGUAGES: {e}"))?,
            );
        }
        Ok(settings)
    }

    /// When `OMNIDESK_LANGUAGES` was not set: detect among the languages `agents` read, plus
    /// English (codes the detector does not know are skipped).
    pub fn serve_languages<'a>(
        &mut self,
        agents: impl IntoIterator<Item = &'a omnidesk_domain::Agent>,
    ) {
        if self.detector.is_some() {
            return;
        }
        let known: std::collections::BTreeSet<&str> =
            omnidesk_language::supported_codes().collect();
        let mut codes: std::collections::BTreeSet<String> = ["en".to_owned()].into();
        for agent in agents {
            for l in &agent.languages {
                let base = l
                    .as_str()
                    .split('-')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if known.contains(base.as_str()) {
                    codes.insert(base);
                }
            }
        }
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        self.detector = omnidesk_language::Detector::new(&codes).ok();
    }
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            greeting: "Hi! Send us your question and a member of our team will answer right here."
                .to_owned(),
            help: "Write your question in this chat and a member of our team will answer. \
                   Commands: /start — greeting, /help — this message."
                .to_owned(),
            reassign_after: Some(Self::REASSIGN_AFTER),
            handoff_invalid: "This link has expired or was already used, so nothing was \
                              linked. Open the chat on the website and press \
                              \u{201c}Continue on Telegram\u{201d} again, or just write your \
                              question here."
                .to_owned(),
            handoff_group: "For your privacy, chats continue only in a private chat with \
                            me, not in a group: open the link from the website again."
                .to_owned(),
            human_button: "Talk to a person".to_owned(),
            human_ack: "A member of our team will answer here shortly.".to_owned(),
            email_ack: "Thank you for writing to us. We have received your message and a \
                        member of our team will reply to this e-mail. To add something, just \
                        reply to it."
                .to_owned(),
            email_ack_link: "Prefer to chat? Continue this conversation on Telegram, with \
                             everything you wrote so far: {link}"
                .to_owned(),
            email_telegram_offer: "We have received your e-mail \u{201c}{subject}\u{201d}. \
                                   To continue it here instead of by e-mail, open: {link}"
                .to_owned(),
            email_link_ttl: Self::EMAIL_LINK_TTL,
            telegram_handoff_rollout: 100,
            translate: false,
            agent_languages: AgentLanguages::default(),
            auto_mail_per_hour: Self::AUTO_MAIL_PER_HOUR,
            detector: None,
            ai_mode: AiMode::default(),
            ai: None,
            queue_position: "You are number {position} in the queue.".to_owned(),
            ai_off: std::collections::BTreeSet::new(),
            routing: RoutingCache::default(),
            default_team: None,
            out_of_office: "Thank you for your message. We are closed right now and will \
                            answer when we open again: {next}."
                .to_owned(),
            busy_prompt: "Sorry for the wait: everyone on our team is busy right now. Your \
                          conversation stays in the queue and we will answer here as soon as \
                          someone is free."
                .to_owned(),
            queue_notice_every: None,
            vip_tags: ["vip".to_owned()].into(),
            csat: true,
            retention: None,
            csat_question: "How would you rate our help with this conversation?".to_owned(),
            csat_reply_hint: "Reply with a number from 1 (poor) to 5 (excellent).".to_owned(),
            csat_thanks: "Thank you for your rating! If you like, tell us in one message what we \
                          could do better."
                .to_owned(),
            csat_comment_thanks: "Thank you, we have passed it on to the team.".to_owned(),
        }
    }
}

/// What the router needs.
#[derive(Clone)]
pub struct RouterDeps {
    pub contacts: Arc<dyn ContactStore>,
    pub conversations: Arc<dyn ConversationStore>,
    pub messages: Arc<dyn MessageStore>,
    pub agents: Arc<dyn AgentStore>,
    pub bots: Arc<dyn BotStore>,
    pub connections: Arc<dyn ConnectionStore>,
    /// Teams and the routing rules.
    pub routing: Arc<dyn RoutingStore>,
    /// Websites' single-use tokens (handoff tokens are redeemed here); `None` where the
    /// website channel is not deployed (then every handoff token is refused as unknown).
    pub web: Option<Arc<dyn WebStore>>,
    /// Visitors' open widgets (replies and channel moves are pushed to them); `None` where
    /// the website channel is not deployed.
    pub visitors: Option<Arc<dyn VisitorConnectionStore>>,
    pub push: Arc<dyn Push>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub settings: RouterSettings,
    /// What the retention sweep deletes with; `None`: a retention timer does nothing.
    pub retention: Option<RetentionPorts>,
}

/// The ports of the retention sweep ([`RouterSettings::retention`]).
#[derive(Clone)]
pub struct RetentionPorts {
    pub erasure: Arc<dyn omnidesk_core::ErasureStore>,
    pub blobs: Arc<dyn omnidesk_core::BlobStore>,
}

impl RouterDeps {
    /// The router's ports on the AWS adapters, with pushes (to agents and visitors) going
    /// through `pushes`: what the router and the ai-worker Lambdas run with.
    pub fn on_aws(
        aws: &omnidesk_lambda::AwsAdapters,
        pushes: Arc<omnidesk_lambda::CoalescingPush>,
        settings: RouterSettings,
    ) -> Self {
        Self {
            contacts: aws.store.clone(),
            conversations: aws.store.clone(),
            messages: aws.store.clone(),
            agents: aws.store.clone(),
            bots: aws.store.clone(),
            connections: pushes.clone(),
            routing: aws.store.clone(),
            // The website channel: handoff tokens, and pushes to visitors' open widgets.
            web: Some(aws.store.clone()),
            visitors: Some(pushes.clone()),
            push: pushes,
            queue: aws.queue.clone(),
            clock: aws.clock.clone(),
            ids: aws.ids.clone(),
            settings,
            retention: Some(RetentionPorts {
                erasure: aws.store.clone(),
                blobs: aws.blobs.clone(),
            }),
        }
    }
}

/// How many times an optimistic write is re-read and re-applied before giving up (transient).
const MAX_CONFLICT_RETRIES: usize = 8;

/// Processes one inbound event.
pub async fn handle(deps: &RouterDeps, event: &InboundEvent) -> Result<JobOutcome, JobError> {
    let message = match &event.source {
        InboundSource::Message(m) => m.clone(),
        InboundSource::Read(r) => return read_receipt(deps, r).await,
        // Queued by a build before the neutral pipeline: normalised here, as ingest does now.
        InboundSource::Telegram(t) => {
            let username = match t.chat_kind {
                Some(ChatKind::Private) | None => None,
                _ => deps.bots.get_bot(t.bot_id).await?.and_then(|b| b.username),
            };
            match t.to_message(username.as_deref()) {
                Some(m) => m,
                None => return Ok(JobOutcome::Done),
            }
        }
    };
    route(deps, event, &message).await
}
/// The customer read their chat up to a message: agents see the outgoing messages up to it as
/// seen (`customer_read_at` on the conversation, pushed). A receipt never moves time back, so
/// a late or repeated one changes nothing.
async fn read_receipt(
    deps: &RouterDeps,
    r: &omnidesk_domain::ReadReceipt,
) -> Result<JobOutcome, JobError> {
    for _ in 0..MAX_CONFLICT_RETRIES {
        let Some(mut c) = deps.conversations.conversation_by_key(&r.key).await? else {
            return Ok(JobOutcome::Done);
        };
        if !c.read_by_customer(r.up_to_at) {
            return Ok(JobOutcome::Done);
        }
        match deps.conversations.update_conversation(&c).await {
            Ok(stored) => {
                let view = conversation_view(deps.contacts.as_ref(), &stored).await?;
                push_all(
                    deps,
                    vec![ServerEvent::ConversationUpdated {
                        conversation: Box::new(view),
                    }],
                )
                .await;
                return Ok(JobOutcome::Done);
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(JobError::Transient(
        "conversation kept changing during a read receipt".to_owned(),
    ))
}

/// The router Lambda's handler of one SQS batch, from the inbound FIFO queue or the timers
/// queue (the record's source ARN tells which): the shared batch driver over [`handle_body`]
/// or [`handle_timer_body`], with the batch's pushes sent together at its end.
pub async fn handle_sqs_batch(
    deps: &RouterDeps,
    inbound: &omnidesk_lambda::SqsSettle,
    timers: &omnidesk_lambda::SqsSettle,
    pushes: &omnidesk_lambda::CoalescingPush,
    event: omnidesk_lambda::aws_lambda_events::event::sqs::SqsEvent,
) -> omnidesk_lambda::aws_lambda_events::event::sqs::SqsBatchResponse {
    // One event source mapping per queue: every record of a batch comes from the same one.
    let from_timers = event
        .records
        .first()
        .and_then(|r| r.event_source_arn.as_deref())
        .is_some_and(|arn| timers.is_source_of(arn));
    // The inbound queue is FIFO (order per group); the timers queue is standard.
    let (fifo, settle) = if from_timers {
        (false, timers)
    } else {
        (true, inbound)
    };
    pushes
        .during(omnidesk_lambda::run_sqs_batch(
            event,
            fifo,
            settle,
            |body, _| async move {
                if from_timers {
                    handle_timer_body(deps, &body).await
                } else {
                    handle_body(deps, &body).await
                }
            },
        ))
        .await
}

/// Parses a queue body and processes it; a body that is not an inbound event is permanent.
pub async fn handle_body(deps: &RouterDeps, body: &str) -> Result<JobOutcome, JobError> {
    let event: InboundEvent = serde_json::from_str(body)
        .map_err(|e| JobError::Permanent(format!("not an inbound event: {e}")))?;
    handle(deps, &event).await
}

#[tracing::instrument(skip_all, fields(source = %m.source_key))]
async fn route(
    deps: &RouterDeps,
    event: &InboundEvent,
    m: &ChannelMessage,
) -> Result<JobOutcome, JobError> {
    // Everything the step pushes, pushed at the end (also when it fails half-way: what is
    // stored is shown), with the conversation view folded into the last message.
    let mut step = Step::default();
    // Boxed: the routing step's future is large, and every caller holds this one.
    let outcome = Box::pin(route_message(deps, event, m, &mut step)).await;
    step.push(deps).await;
    outcome
}

/// What one step pushes: to agents, and to the visitor of the conversation it touched.
#[derive(Default)]
struct Step {
    pushes: Vec<ServerEvent>,
    conversation: Option<Conversation>,
    session_changed: bool,
}

impl Step {
    /// Adds the `conversation.updated` of a conversation as stored.
    async fn conversation_updated(
        &mut self,
        deps: &RouterDeps,
        c: &Conversation,
    ) -> Result<(), JobError> {
        let view = conversation_view(deps.contacts.as_ref(), c).await?;
        self.pushes.push(ServerEvent::ConversationUpdated {
            conversation: Box::new(view),
        });
        Ok(())
    }

    async fn push(self, deps: &RouterDeps) {
        if let Some(c) = &self.conversation
            && let Some(visitors) = &deps.visitors
            && let Err(e) = push_to_visitor(
                visitors.as_ref(),
                deps.agents.as_ref(),
                deps.push.as_ref(),
                c,
                &self.pushes,
                self.session_changed,
            )
            .await
        {
            tracing::warn!(error = %e, "push to the visitor failed");
        }
        push_all(deps, self.pushes).await;
    }
}

/// The one path of every channel: contact by identity, conversation by routing key, the
/// message stored once, then the conversation's state.
async fn route_message(
    deps: &RouterDeps,
    event: &InboundEvent,
    m: &ChannelMessage,
    step: &mut Step,
) -> Result<JobOutcome, JobError> {
    if let Some(notice) = &m.notice {
        return route_notice(deps, m, notice, step).await;
    }
    let channel = m.channel();
    // 1. Contact, by the identity the channel proved. A handoff token first joins the
    // identity to the contact that asked for it.
    let redeemed = match &m.handoff {
        Some(Handoff::Token { token }) => redeem_handoff(deps, token, m).await?,
        _ => None,
    };
    let mut contact = match &redeemed {
        Some(h) => join_identity(deps, h, m, step).await?,
        None => {
            find_or_create_contact(
                deps,
                m.identity.clone(),
                m.display_name.clone(),
                m.language.clone(),
            )
            .await?
        }
    };

    // 2. Conversation, by routing key (a redeemed handoff continues the web conversation,
    // which gains this key). A new one is created further down, already in the state its
    // first message leaves it in: one write and one set of index entries.
    let continued = match &redeemed {
        Some(HandoffGrant {
            conversation_id: Some(id),
            ..
        }) => Some(*id),
        // Issued before the asker's first message was routed: found now, by their key.
        Some(HandoffGrant { key: Some(k), .. }) => deps
            .conversations
            .conversation_by_key(k)
            .await?
            .map(|c| c.id),
        _ => None,
    };
    let mut existing = match continued {
        Some(id) => continue_conversation(deps, id, &m.key, step).await?,
        None => None,
    };
    if existing.is_none() {
        existing = deps.conversations.conversation_by_key(&m.key).await?;
    }

    // An edit changes the message it edits, and the next part of an album joins the album's
    // message. When there is none (an edit of a message from before this conversation, the
    // first part), it is stored as a message of its own below: nothing is lost.
    if let Some(c) = &existing {
        let changed = if m.edited_at.is_some() {
            apply_edit(deps, c, m, step).await?
        } else if m.album.is_some() {
            merge_album_part(deps, c, m, step).await?
        } else {
            None
        };
        if let Some(outcome) = changed {
            return Ok(outcome);
        }
    }

    // 3. The message. Its id comes from the event itself when the channel dates it (e.g.
    // Telegram's date and per-chat message id, and the source key), so a redelivered event
    // maps to the same stored message.
    let mut message = Message {
        // Without the channel's date nothing stable is left to derive from: a generated id,
        // and the store claims the source key separately.
        id: match m.sent_at {
            Some(sent_at) => MessageId::derived(sent_at, m.sequence, m.id_source()),
            None => deps.ids.message_id(),
        },
        conversation_id: existing.as_ref().map_or_else(
            || {
                m.new_conversation_id
                    .unwrap_or_else(|| deps.ids.conversation_id())
            },
            |c| c.id,
        ),
        direction: Direction::Inbound,
        author: Author::Contact { id: contact.id },
        channel,
        text: m.text.clone(),
        language: m.language.clone().or_else(|| contact.language.clone()),
        translations: Vec::new(),
        translation: None,
        attachments: m.attachments.clone(),
        channel_ref: m.channel_ref.clone(),
        delivery: Delivery::received(event.received_at),
        event: None,
        source_key: Some(m.source_key.clone()),
        created_at: event.received_at,
        edited_at: m.edited_at,
        edit_history: Vec::new(),
        reply_to: m.reply_to.clone(),
        forwarded_from: m.forwarded_from.clone(),
        album: m.album.clone(),
        buttons: Vec::new(),
        revision: 0,
        internal: false,
    };
    // 3b. The language, from the text: the channel's hint is a prior, a clear text wins.
    let detection = deps
        .settings
        .detector
        .as_ref()
        .map(|d| d.detect(&m.text, m.language.as_ref().map(LanguageTag::as_str)));
    if let Some(lang) = detection
        .as_ref()
        .and_then(|d| d.language.as_deref())
        .and_then(|l| LanguageTag::parse(l).ok())
    {
        message.language = Some(lang);
    }
    // What the contact clearly writes in (their profile's language follows it).
    let spoken = detection
        .as_ref()
        .filter(|d| d.reliable)
        .and_then(|d| d.language.as_deref())
        .and_then(|l| LanguageTag::parse(l).ok());
    if needs_translation(deps, &message.text, message.language.as_ref()).await? {
        message.translation = Some(TranslationStatus::Pending { target: None });
    }
    let ai = ai_answers(deps, m).await?;
    // 3c. The deployment's rules (read at most every RoutingCache::TTL: no store read per
    // message). Links, `/bind` and pressed buttons are the bot's own business.
    let routing = deps.settings.routing.get(deps.routing.as_ref()).await?;
    let rule = if m.handoff.is_none() && m.command != Some(BotCommand::Bind) && m.choice.is_none() {
        let language = existing
            .as_ref()
            .and_then(|c| c.language.clone())
            .or_else(|| message.language.clone());
        routing::evaluate(
            deps,
            &routing,
            m,
            &contact,
            existing
                .as_ref()
                .map_or(ConversationStatus::Bot, |c| c.status),
            language.as_ref(),
            event.received_at,
        )
        .await?
    } else {
        None
    };
    if let Some(r) = &rule
        && !r.tags.is_empty()
    {
        contact = add_tags(deps, contact, &r.tags, &mut step.pushes).await?;
    }
    let vip = contact
        .tags
        .iter()
        .any(|t| deps.settings.vip_tags.contains(t.as_str()));
    let bot = BotTurn {
        human: m.choice.as_deref() == Some(HUMAN_CHOICE),
        command: m.command,
        handoff: match (&m.handoff, &redeemed) {
            (None, _) => None,
            (Some(Handoff::Token { .. }), Some(h)) => Some(HandoffResult::Continued(h.from)),
            (Some(Handoff::Token { .. }), None) => Some(HandoffResult::Invalid),
            (Some(Handoff::SharedChat), _) => Some(HandoffResult::SharedChat),
        },
        acknowledge: m.acknowledge && m.no_auto_reply.is_none() && existing.is_none(),
        ai,
        asks_person: ai && omnidesk_ai::asks_for_person(&m.text),
        rule: rule.as_ref(),
        routing: &routing,
        vip,
        now: event.received_at,
        rating: m
            .choice
            .as_deref()
            .and_then(omnidesk_domain::Csat::score_of_choice)
            .or_else(|| omnidesk_domain::Csat::score_of_text(&m.text)),
    };

    if existing.is_none() {
        let mut c = Conversation::new(
            message.conversation_id,
            m.key.clone(),
            contact.id,
            channel,
            event.received_at,
        );
        // A new conversation takes its first message's detected language; the channel's hint
        // (or what the contact spoke before) only when the text gives none.
        let (events, bot_reply) =
            apply_inbound(deps, &mut c, &message, &m.key, bot, detection.as_ref()).await?;
        if c.language.is_none() {
            c.language = m.language.clone().or_else(|| contact.language.clone());
        }
        match deps.conversations.create_conversation(&c).await {
            Ok(()) => {
                // A crash before this append is finished by the redelivery through the
                // existing-conversation path below (counting the message as unread twice).
                if let AppendOutcome::Duplicate(_) = deps.messages.append_message(&message).await? {
                    return Ok(JobOutcome::Done);
                }
                contact =
                    note_reached_on(deps, contact, channel, spoken.as_ref(), &mut step.pushes)
                        .await?;
                return finish(deps, m, c, contact, message, events, bot_reply, step).await;
            }
            // Created meanwhile by someone else: continue with theirs.
            Err(StoreError::Conflict(_)) => {
                let theirs = deps
                    .conversations
                    .conversation_by_key(&m.key)
                    .await?
                    .ok_or_else(|| {
                        JobError::Transient("conversation key taken but unreadable".to_owned())
                    })?;
                message.conversation_id = theirs.id;
                existing = Some(theirs);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let Some(conversation) = existing else {
        return Err(JobError::Transient("conversation unresolved".to_owned()));
    };

    // The append is the commit point of an existing conversation: a redelivered event is
    // stored once.
    let appended = match deps.messages.append_message(&message).await {
        // The id is the channel message's and it is stored under another source event (an
        // edit that arrived first and was stored as the message): the same message.
        Err(StoreError::Conflict(_)) if m.message_key.is_some() => {
            AppendOutcome::Duplicate(message.id)
        }
        other => other?,
    };
    let message = match appended {
        AppendOutcome::Inserted => message,
        AppendOutcome::Duplicate(existing) => {
            let stored = deps.messages.get_message(conversation.id, existing).await?;
            match stored {
                // Stored and the conversation already reflects it: a plain duplicate.
                Some(m) if conversation.last_activity_at >= m.created_at => {
                    tracing::debug!("duplicate event dropped");
                    // Its files (or translation) may not have been queued yet (the queue
                    // failed last time).
                    enqueue_work(deps, &m).await?;
                    return Ok(JobOutcome::Done);
                }
                // Stored, but a crash stopped us before the conversation was updated: finish.
                Some(m) => m,
                None => return Ok(JobOutcome::Done),
            }
        }
    };

    contact = note_reached_on(deps, contact, channel, spoken.as_ref(), &mut step.pushes).await?;

    // 4. Conversation state: channel, reopen, commands, hand-off, assignment.
    let mut conversation = conversation;
    let mut attempts = 0;
    let (conversation, events, bot_reply) = loop {
        attempts += 1;
        let mut c = conversation.clone();
        let (events, bot_reply) =
            apply_inbound(deps, &mut c, &message, &m.key, bot, detection.as_ref()).await?;
        match deps.conversations.update_conversation(&c).await {
            Ok(stored) => break (stored, events, bot_reply),
            Err(StoreError::Conflict(_)) if attempts < MAX_CONFLICT_RETRIES => {
                conversation = deps
                    .conversations
                    .get_conversation(c.id)
                    .await?
                    .ok_or_else(|| {
                        JobError::Permanent(format!("conversation {} vanished", c.id))
                    })?;
            }
            Err(StoreError::Conflict(e)) => {
                return Err(JobError::Transient(format!(
                    "conversation kept changing: {e}"
                )));
            }
            Err(e) => return Err(e.into()),
        }
    };
    finish(
        deps,
        m,
        conversation,
        contact,
        message,
        events,
        bot_reply,
        step,
    )
    .await
}

/// Redeems a handoff token (once, ever): what it grants, or `None` when it is unknown,
/// expired, used, malformed or was issued for another bot.
async fn redeem_handoff(
    deps: &RouterDeps,
    token: &str,
    m: &ChannelMessage,
) -> Result<Option<HandoffGrant>, JobError> {
    if token.is_empty() || token.len() > 64 {
        return Ok(None);
    }
    let Some(web) = &deps.web else {
        return Ok(None);
    };
    let Some(stored) = web
        .take_token(TokenKind::Handoff, &token_hash(token), deps.clock.now())
        .await?
    else {
        tracing::info!("handoff token unknown, used or expired");
        return Ok(None);
    };
    let grant: HandoffGrant = match serde_json::from_str(&stored.payload) {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable handoff grant");
            return Ok(None);
        }
    };
    let bot_matches = match (&m.identity, grant.bot_id) {
        (Identity::Telegram { bot_id, .. }, Some(expected)) => *bot_id == expected,
        _ => true,
    };
    Ok(bot_matches.then_some(grant))
}

/// The contact a redeemed handoff continues: the identity that presented the token joins the
/// contact that asked for it (proof: only they could have had the token). When the new
/// identity belongs to a contact already, the asking identity joins that one instead if the
/// asker had no contact yet; if both had one, the two merge (the asker's remains).
async fn join_identity(
    deps: &RouterDeps,
    grant: &HandoffGrant,
    m: &ChannelMessage,
    step: &mut Step,
) -> Result<Contact, JobError> {
    // Issued before the asker's first message was routed: found now, by their identity.
    let asker_id = match grant.contact_id {
        Some(id) => Some(id),
        None => {
            deps.contacts
                .contact_id_by_identity(&grant.identity.key())
                .await?
        }
    };
    let asker = match asker_id {
        Some(id) => deps.contacts.get_contact(id).await?,
        None => None,
    };
    let holder = deps
        .contacts
        .contact_id_by_identity(&m.identity.key())
        .await?;
    match (asker, holder) {
        (Some(asker), None) => {
            match deps.contacts.add_identity(asker.id, &m.identity).await {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
            let contact = deps.contacts.get_contact(asker.id).await?.unwrap_or(asker);
            adopt_name(deps, contact, &m.display_name).await
        }
        (Some(asker), Some(holder)) if holder == asker.id => Ok(asker),
        (Some(asker), Some(holder)) => {
            // The same person, proven by the token: the other contact merges into this one.
            Ok(merge_proven(deps, holder, asker.id, step)
                .await?
                .unwrap_or(asker))
        }
        (None, _) => {
            let contact = find_or_create_contact(
                deps,
                m.identity.clone(),
                m.display_name.clone(),
                m.language.clone(),
            )
            .await?;
            match deps
                .contacts
                .add_identity(contact.id, &grant.identity)
                .await
            {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
            Ok(contact)
        }
    }
}

/// Merges `from` into `into`, two contacts an identity proved to be one person (a redeemed
/// link, a `/bind` code); the merge's pushes join the step. `None` when they could not be
/// merged (kept apart, logged): the caller carries on with `into` as it is.
async fn merge_proven(
    deps: &RouterDeps,
    from: omnidesk_domain::ContactId,
    into: omnidesk_domain::ContactId,
    step: &mut Step,
) -> Result<Option<Contact>, JobError> {
    let merged = merge_contacts(
        MergePorts {
            contacts: deps.contacts.as_ref(),
            conversations: deps.conversations.as_ref(),
            messages: deps.messages.as_ref(),
            ids: deps.ids.as_ref(),
            clock: deps.clock.as_ref(),
        },
        from,
        into,
        None,
    )
    .await;
    match merged {
        Ok(m) => {
            tracing::info!(%from, %into, "contacts merged on proof");
            step.pushes.extend(m.server_events());
            Ok(Some(m.contact))
        }
        Err(MergeError::Store(e)) => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "contacts not merged; kept apart");
            Ok(None)
        }
    }
}

/// A visitor who never said their name takes the one the new channel knows (their Telegram
/// name), so agents see a person, not "Website visitor".
async fn adopt_name(
    deps: &RouterDeps,
    mut contact: Contact,
    name: &str,
) -> Result<Contact, JobError> {
    let name = name.trim();
    if contact.display_name != omnidesk_domain::WEB_VISITOR_NAME || name.is_empty() {
        return Ok(contact);
    }
    let read = contact.updated_at;
    contact.display_name = name.to_owned();
    contact.updated_at = deps.clock.now().max(read.plus_millis(1));
    match deps.contacts.update_contact(&contact, read).await {
        Ok(()) => Ok(contact),
        // Someone else changed the profile meanwhile: theirs stands (a name is cosmetic).
        Err(StoreError::Conflict(_)) => Ok(deps
            .contacts
            .get_contact(contact.id)
            .await?
            .unwrap_or(contact)),
        Err(e) => Err(e.into()),
    }
}

/// Gives the conversation `id` the routing key `key` (taking it from the conversation that
/// had it, which is told so in its timeline); returns the conversation.
async fn continue_conversation(
    deps: &RouterDeps,
    id: ConversationId,
    key: &omnidesk_domain::ConversationKey,
    step: &mut Step,
) -> Result<Option<Conversation>, JobError> {
    let Some(conversation) = deps.conversations.get_conversation(id).await? else {
        return Ok(None);
    };
    if let Some(previous) = deps.conversations.claim_conversation_key(id, key).await? {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some(mut p) = deps.conversations.get_conversation(previous).await? else {
                break;
            };
            if !p.remove_key(key) {
                break;
            }
            match deps.conversations.update_conversation(&p).await {
                Ok(_) => break,
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    step.session_changed = true;
    Ok(Some(conversation))
}

/// What the bot does with a message besides routing it.
#[derive(Clone, Copy)]
struct BotTurn<'a> {
    /// The customer chose [`HUMAN_CHOICE`].
    human: bool,
    command: Option<BotCommand>,
    handoff: Option<HandoffResult>,
    /// The message opens a conversation whose channel asked for an acknowledgement.
    acknowledge: bool,
    /// The AI answers messages of a conversation with the bot (see [`ai_answers`]).
    ai: bool,
    /// The text asks for a person (recognised before any model call).
    asks_person: bool,
    /// The deployment rule that matched the message.
    rule: Option<&'a RuleOutcome>,
    /// The rules and teams in force.
    routing: &'a Routing,
    /// The contact has a VIP tag: the conversation is at least high priority.
    vip: bool,
    /// When the message arrived (business hours are judged at it).
    now: Timestamp,
    /// A rating the message gives (a `csat:N` button, or a bare `1`–`5` reply).
    rating: Option<u8>,
}

/// Whether the AI may answer `m` if its conversation is with the bot: the AI is on, the
/// message has words, and it is not a command, a button, a channel handoff or the first mail
/// of a ticket (which gets its acknowledgement and goes to people).
async fn ai_answers(deps: &RouterDeps, m: &ChannelMessage) -> Result<bool, JobError> {
    let Some(gate) = &deps.settings.ai else {
        return Ok(false);
    };
    if m.command.is_some()
        || m.handoff.is_some()
        || m.acknowledge
        || m.choice.is_some()
        || !m.text.chars().any(char::is_alphanumeric)
    {
        return Ok(false);
    }
    // Switched off for this bot or website.
    let source = match (m.key.telegram_chat(), m.key.web_visitor()) {
        (Some((bot, _)), _) => Some(bot.to_string()),
        (_, Some((website, _))) => Some(website.to_string()),
        _ => None,
    };
    if source.is_some_and(|s| deps.settings.ai_off.contains(&s)) {
        return Ok(false);
    }
    Ok(gate.answers().await?)
}

/// How a presented handoff token went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HandoffResult {
    /// Redeemed: the conversation continues here, coming from that channel.
    Continued(Channel),
    /// Unknown, used, expired or forged.
    Invalid,
    /// Presented in a group chat.
    SharedChat,
}

/// What the bot answers.
enum BotReply {
    /// A text, with choices to offer.
    Text(String, Vec<Button>),
    /// The summary of what was synced from `from` (built from the stored history).
    Summary { from: Channel },
    /// The acknowledgement of a new ticket (e-mail), with a link to continue on Telegram.
    Acknowledge,
    /// `/bind`: a code sent to an address, or a code checked.
    Bind,
    /// The AI answers (a job on the AI queue; from the FAQ only when `faq_only`), after a
    /// rule's text when there is one; the conversation stays with the bot.
    Ai {
        faq_only: bool,
        text: Option<(String, Vec<Button>)>,
    },
    /// A person is coming: the acknowledgement, with the queue position.
    Coming,
    /// The conversation's team is closed: the out-of-office text with the next opening.
    OutOfOffice,
}

/// What an inbound message does to its conversation: its key and channel, reopen, and either
/// the bot's answer (a command, a handoff) or the hand-off (and assignment) to a human.
/// Returns the timeline events and the bot's answer.
async fn apply_inbound(
    deps: &RouterDeps,
    c: &mut Conversation,
    message: &Message,
    key: &omnidesk_domain::ConversationKey,
    bot: BotTurn<'_>,
    detection: Option<&omnidesk_language::Detection>,
) -> Result<(Vec<SystemEvent>, Option<BotReply>), JobError> {
    let mut events = Vec::new();
    if let Some(d) = detection {
        // One language per conversation, changed only on strong evidence.
        let (language, pending) = omnidesk_language::settle(
            c.language.as_ref().map(LanguageTag::as_str),
            c.language_pending.as_ref().map(LanguageTag::as_str),
            d,
        );
        if let Some(l) = language.and_then(|l| LanguageTag::parse(&l).ok()) {
            c.language = Some(l);
        }
        c.language_pending = pending.and_then(|l| LanguageTag::parse(&l).ok());
    }
    let had_a_person = c.status == ConversationStatus::Assigned;
    c.add_key(key.clone());
    if let Some(reply) = rate(deps, c, message, bot) {
        return Ok((events, Some(reply)));
    }
    if let Some(ev) = c.switch_channel(message.channel) {
        events.push(ev);
    }
    // A rule's team, skill and priority; a VIP is at least high priority.
    if let Some(r) = bot.rule {
        if let Some(p) = r.priority {
            c.priority = p;
        }
        if let Some(t) = &r.team {
            c.team = Some(t.clone());
        }
        if let Some(skill) = &r.skill {
            c.skill = Some(skill.clone());
        }
    }
    if bot.vip && c.priority < Priority::High {
        c.priority = Priority::High;
    }
    let rule = bot.rule.filter(|r| r.decides());
    // The bot keeps the conversation when a rule only answers (a text, the AI, the FAQ).
    let rule_keeps_bot = rule.is_some_and(|r| {
        (r.reply.is_some() || r.ai || r.resolve)
            && !r.handoff
            && r.team.is_none()
            && r.assign.is_none()
    });
    // A resolved conversation the AI answers reopens to the bot, not the queue.
    let bot_handles = match rule {
        Some(_) => rule_keeps_bot,
        None => bot.command.is_some() || bot.handoff.is_some() || bot.ai,
    };
    if let Some(change) = c.on_inbound(bot_handles)
        && let Some(ev) = change.event
    {
        events.push(ev);
    }
    // A customer's message wakes a snoozed conversation.
    c.snoozed_until = None;
    c.record_message(message);
    if bot.handoff.is_none()
        && bot.command != Some(BotCommand::Bind)
        && let Some(r) = rule
    {
        let reply = apply_rule(deps, c, r, bot, &mut events, had_a_person).await?;
        return Ok((events, reply));
    }
    let reply = match (bot.handoff, bot.command, c.status) {
        (Some(HandoffResult::Continued(from)), _, _) => Some(BotReply::Summary { from }),
        (Some(HandoffResult::Invalid), _, _) => Some(BotReply::Text(
            deps.settings.handoff_invalid.clone(),
            Vec::new(),
        )),
        (Some(HandoffResult::SharedChat), _, _) => Some(BotReply::Text(
            deps.settings.handoff_group.clone(),
            Vec::new(),
        )),
        // Proving an address is the bot's business whoever has the conversation.
        (None, Some(BotCommand::Bind), _) => Some(BotReply::Bind),
        (None, Some(cmd), ConversationStatus::Bot) => {
            // The greeting offers a person right away (an inline keyboard on Telegram).
            let buttons = match cmd {
                BotCommand::Start => vec![Button {
                    text: deps.settings.human_button.clone(),
                    data: HUMAN_CHOICE.to_owned(),
                }],
                BotCommand::Help | BotCommand::Bind => Vec::new(),
            };
            Some(BotReply::Text(
                cmd_reply(cmd, &deps.settings).to_owned(),
                buttons,
            ))
        }
        (None, None, ConversationStatus::Bot) if bot.ai && !bot.asks_person => Some(BotReply::Ai {
            faq_only: false,
            text: None,
        }),
        _ => {
            to_people(
                deps,
                c,
                bot,
                &mut events,
                had_a_person,
                message.channel,
                None,
            )
            .await?
        }
    };
    Ok((events, reply))
}

/// A rating (or its comment) of a conversation that asked for one: recorded on the resolved
/// conversation, which stays resolved. `None`: the message is not one.
fn rate(
    deps: &RouterDeps,
    c: &mut Conversation,
    message: &Message,
    bot: BotTurn<'_>,
) -> Option<BotReply> {
    if c.status != ConversationStatus::Resolved || c.csat_asked_at.is_none() {
        return None;
    }
    // A comment: the next message within 10 minutes of the rating.
    const COMMENT_WINDOW_MS: i64 = 10 * 60 * 1000;
    let reply = match (bot.rating, &mut c.csat) {
        (Some(score), csat) => {
            *csat = Some(omnidesk_domain::Csat {
                score,
                comment: None,
                at: bot.now,
            });
            deps.settings.csat_thanks.clone()
        }
        (None, Some(csat))
            if csat.comment.is_none()
                && bot.command.is_none()
                && bot.now.millis() - csat.at.millis() < COMMENT_WINDOW_MS
                && !message.text.trim().is_empty() =>
        {
            csat.comment = Some(message.text.trim().chars().take(2000).collect());
            deps.settings.csat_comment_thanks.clone()
        }
        _ => return None,
    };
    c.last_activity_at = c.last_activity_at.max(message.created_at);
    Some(BotReply::Text(reply, Vec::new()))
}

/// What a matching rule that decides who answers does to the conversation.
async fn apply_rule(
    deps: &RouterDeps,
    c: &mut Conversation,
    r: &RuleOutcome,
    bot: BotTurn<'_>,
    events: &mut Vec<SystemEvent>,
    had_a_person: bool,
) -> Result<Option<BotReply>, JobError> {
    let text = r.reply.clone();
    if r.resolve {
        if let Ok(change) = c.resolve_at(None, bot.now)
            && let Some(ev) = change.event
        {
            events.push(ev);
        }
        return Ok(text.map(|(t, b)| BotReply::Text(t, b)));
    }
    // A person has it: the bot stays silent (the rule's team and skill are recorded).
    if c.status == ConversationStatus::Assigned && r.assign.is_none() {
        return Ok(None);
    }
    if let Some(agent) = r.assign {
        if c.hand_off().is_none() && c.status == ConversationStatus::Queued {
            c.queued_at = Some(bot.now);
        }
        if let Ok(change) = c.assign(agent, None)
            && let Some(ev) = change.event
        {
            events.push(ev);
        }
        return Ok(text.map(|(t, b)| BotReply::Text(t, b)));
    }
    if r.handoff || r.team.is_some() {
        return to_people(deps, c, bot, events, had_a_person, c.channel, text).await;
    }
    if r.ai {
        if deps.settings.ai.is_some() && c.status == ConversationStatus::Bot {
            return Ok(Some(BotReply::Ai {
                faq_only: r.faq_only,
                text,
            }));
        }
        // No AI here: people answer.
        return to_people(deps, c, bot, events, had_a_person, c.channel, text).await;
    }
    Ok(text.map(|(t, b)| BotReply::Text(t, b)))
}

/// Hands the conversation to people: into its team's queue, assigned when the team is open
/// and someone can take it. Returns what the bot says: the out-of-office text once when the
/// team is closed, the acknowledgement of a ticket, `text` (a rule's), or the queue position
/// when the customer asked for a person or starts waiting with nobody free.
async fn to_people(
    deps: &RouterDeps,
    c: &mut Conversation,
    bot: BotTurn<'_>,
    events: &mut Vec<SystemEvent>,
    had_a_person: bool,
    channel: Channel,
    text: Option<(String, Vec<Button>)>,
) -> Result<Option<BotReply>, JobError> {
    if bot.asks_person || bot.human {
        if let Some(change) = c.hand_over("the customer asked for a person")
            && let Some(ev) = change.event
        {
            events.push(ev);
        }
    } else {
        c.hand_off();
    }
    let default = deps.settings.default_team.as_deref();
    // Hours matter to who waits: a customer talking with an agent keeps talking.
    if c.status == ConversationStatus::Queued
        && c.assignee_id.is_none()
        && !bot.routing.is_open(c.team.as_deref(), default, bot.now)
    {
        // Closed: it waits in the queue for the opening; the customer is told when, once.
        if !c.out_of_office_sent && channel != Channel::Email {
            c.out_of_office_sent = true;
            return Ok(Some(BotReply::OutOfOffice));
        }
        if bot.acknowledge {
            return Ok(Some(BotReply::Acknowledge));
        }
        return Ok(text.map(|(t, b)| BotReply::Text(t, b)));
    }
    assign_if_waiting(deps, c, events).await?;
    if bot.acknowledge {
        return Ok(Some(BotReply::Acknowledge));
    }
    if let Some((t, b)) = text {
        return Ok(Some(BotReply::Text(t, b)));
    }
    // Asked for a person: the bot says one is coming, with the queue position while nobody
    // is free (unless one has it already).
    let asked = (bot.human || bot.asks_person) && !had_a_person;
    Ok(asked.then_some(BotReply::Coming))
}

/// The timeline events, the bot's answer and the pushes of a stored inbound message.
#[allow(clippy::too_many_arguments)]
async fn finish(
    deps: &RouterDeps,
    m: &ChannelMessage,
    conversation: Conversation,
    contact: Contact,
    message: Message,
    events: Vec<SystemEvent>,
    bot_reply: Option<BotReply>,
    step: &mut Step,
) -> Result<JobOutcome, JobError> {
    // 5. Timeline events, the bot's answer, the reassignment timer, and pushes.
    step.pushes.push(ServerEvent::MessageCreated {
        conversation_id: conversation.id,
        message: message.clone(),
        conversation: None,
    });
    record_events(deps, &conversation, events, step).await?;
    let fetch = message.clone();
    if let Some(reply) = bot_reply {
        let (text, buttons, link) = match reply {
            BotReply::Text(text, buttons) => (Some(text), buttons, None),
            BotReply::Summary { from } => (
                Some(summary(deps, &conversation, from).await?),
                Vec::new(),
                None,
            ),
            BotReply::Acknowledge => {
                match acknowledgement(deps, &conversation, &contact, &message, m, step).await? {
                    Some((text, link)) => (Some(text), Vec::new(), link),
                    None => (None, Vec::new(), None),
                }
            }
            BotReply::Bind => (Some(bind(deps, &contact, m, step).await?), Vec::new(), None),
            BotReply::Ai { faq_only, text } => {
                ai::enqueue_ai(deps, &message, faq_only).await?;
                match text {
                    Some((t, b)) => (Some(t), b, None),
                    None => (None, Vec::new(), None),
                }
            }
            BotReply::Coming => {
                timers::schedule_queue_notice(deps, &conversation).await;
                (
                    Some(ai::coming_text(deps, &conversation).await?),
                    Vec::new(),
                    None,
                )
            }
            BotReply::OutOfOffice => {
                let routing = deps.settings.routing.current();
                let team = routing.team_of(&conversation, deps.settings.default_team.as_deref());
                let template = team
                    .and_then(|t| t.team.out_of_office.as_deref())
                    .unwrap_or(&deps.settings.out_of_office);
                (
                    Some(routing::out_of_office_text(
                        template,
                        team,
                        deps.clock.now(),
                    )),
                    Vec::new(),
                    None,
                )
            }
        };
        if let Some(text) = text {
            let line = BotLine {
                text,
                buttons,
                link,
            };
            bot_say(deps, &conversation, message.channel, line, step).await?;
        }
    }
    // The contact was read (and updated) above: no second read for the view. It rides on the
    // last message.created of this step (see `push_all`).
    let view = ConversationView::new(&conversation, contact);
    step.pushes.push(ServerEvent::ConversationUpdated {
        conversation: Box::new(view),
    });
    step.conversation = Some(conversation);
    // Last: a failure here is retried, and the redelivery (a duplicate by then) queues it.
    enqueue_work(deps, &fetch).await?;
    Ok(JobOutcome::Done)
}

/// What the bot says: its text, the choices it offers, and a secret link the text names by
/// [`SECRET_LINK_MARK`] (delivered, never stored).
struct BotLine {
    text: String,
    buttons: Vec<Button>,
    link: Option<String>,
}

/// Stores a bot message in `conversation` on `channel`, queues it for the sender and adds
/// its push to the step.
async fn bot_say(
    deps: &RouterDeps,
    conversation: &Conversation,
    channel: Channel,
    line: BotLine,
    step: &mut Step,
) -> Result<(), JobError> {
    {
        let mut reply = Message::outbound(
            deps.ids.message_id(),
            conversation.id,
            Author::Bot,
            channel,
            line.text,
            deps.clock.now(),
        );
        reply.buttons = line.buttons;
        // The bot's texts are written in English: a customer in another language gets them
        // translated first (the translator queues them for the sender then).
        if deps.settings.translate
            && let Some(customer) = &conversation.language
            && customer.primary() != "en"
            && !reply.text.trim().is_empty()
        {
            reply.language = LanguageTag::parse("en").ok();
            reply.translation = Some(TranslationStatus::Pending {
                target: Some(customer.clone()),
            });
            deps.messages.append_message(&reply).await?;
            let job = TranslateJob {
                link: line.link,
                ..TranslateJob::of(&reply)
            };
            deps.queue
                .send(QueueName::Translate, job.to_queue_message(0))
                .await?;
            step.pushes.push(ServerEvent::MessageCreated {
                conversation_id: conversation.id,
                message: reply,
                conversation: None,
            });
            return Ok(());
        }
        deps.messages.append_message(&reply).await?;
        deps.queue
            .send(
                QueueName::Outbound,
                OutboundJob::of(&reply, line.link).to_queue_message(),
            )
            .await?;
        step.pushes.push(ServerEvent::MessageCreated {
            conversation_id: conversation.id,
            message: reply,
            conversation: None,
        });
    }
    Ok(())
}

/// Codes to one Telegram user, and to one address, per hour at most (`/bind`).
const BIND_CODES_PER_HOUR: u64 = 3;
/// Codes tried by one Telegram user per hour at most (`/bind`).
const BIND_TRIES_PER_HOUR: u64 = 5;
/// How long a `/bind` code is valid.
const BIND_CODE_TTL_MS: i64 = 10 * 60 * 1000;

/// `/bind <address>` mails a 6-digit code to the address (the same answer whether or not
/// the address is known, rate-limited per Telegram user and per address); `/bind <code>`
/// checks it (5 tries an hour) and only then adds the verified address to the contact,
/// merging the contact that had it (the code proves they are one person).
async fn bind(
    deps: &RouterDeps,
    contact: &Contact,
    m: &ChannelMessage,
    step: &mut Step,
) -> Result<String, JobError> {
    const USAGE: &str = "To link your e-mail address, send /bind followed by it, e.g. \
                         /bind you@example.com. We will mail you a 6-digit code to send back \
                         here as /bind 123456.";
    let Some(web) = &deps.web else {
        return Ok("Linking an e-mail address is not available here.".to_owned());
    };
    let now = deps.clock.now();
    let owner = m.identity.key().to_string();
    let arg = m.bind.as_deref().map(str::trim).unwrap_or_default();
    if arg.contains('@') {
        let Ok(address) = omnidesk_domain::EmailAddress::parse(arg) else {
            return Ok(format!(
                "\u{201c}{arg}\u{201d} is not an e-mail address. {USAGE}"
            ));
        };
        let by_user = hourly_count(deps, "bind-send", &owner, now).await?;
        let by_address = hourly_count(deps, "bind-send", address.as_str(), now).await?;
        if by_user > BIND_CODES_PER_HOUR || by_address > BIND_CODES_PER_HOUR {
            return Ok(
                "Several codes were asked for already. Please wait an hour and try again."
                    .to_owned(),
            );
        }
        let n = u32::from_le_bytes(omnidesk_core::random_bytes::<4>()) % 1_000_000;
        let code = format!("{n:06}");
        web.put_token(&omnidesk_core::StoredToken {
            kind: TokenKind::BindCode,
            hash: token_hash(&format!("{owner}:{code}")),
            owner: owner.clone(),
            payload: serde_json::json!({ "address": address }).to_string(),
            expires_at: now.plus_millis(BIND_CODE_TTL_MS),
        })
        .await?;
        let mail = omnidesk_core::SystemMail {
            to: address.clone(),
            from: None,
            subject: format!("Your code: {code}"),
            text: format!(
                "Your code to link this address to your Telegram chat with us is {code}.\n\n\
                 Send /bind {code} to the bot within 10 minutes. If you did not ask for it, \
                 ignore this mail: nothing is linked without the code."
            ),
            id: deps.ids.uuid().simple().to_string(),
        };
        let body = serde_json::to_string(&omnidesk_core::OutboundBody::Mail(mail))
            .map_err(|e| JobError::Permanent(e.to_string()))?;
        deps.queue
            .send(
                QueueName::Outbound,
                OutgoingMessage::fifo(
                    format!("bind:{owner}"),
                    format!("bind:{}", token_hash(&format!("{owner}:{code}"))),
                    body,
                ),
            )
            .await?;
        return Ok(format!(
            "If {address} can receive mail, a 6-digit code is on its way. Send it here as \
             /bind 123456 within 10 minutes."
        ));
    }
    if arg.len() != 6 || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(USAGE.to_owned());
    }
    let tries = hourly_count(deps, "bind-try", &owner, now).await?;
    if tries > BIND_TRIES_PER_HOUR {
        return Ok(
            "Too many codes were tried. Please wait an hour and ask for a new code.".to_owned(),
        );
    }
    let Some(token) = web
        .take_token(
            TokenKind::BindCode,
            &token_hash(&format!("{owner}:{arg}")),
            now,
        )
        .await?
    else {
        let left = BIND_TRIES_PER_HOUR.saturating_sub(tries);
        return Ok(format!(
            "That code is wrong or has expired; nothing was linked. {left} tries left this hour."
        ));
    };
    let address = serde_json::from_str::<serde_json::Value>(&token.payload)
        .ok()
        .and_then(|v| v["address"].as_str().map(str::to_owned))
        .and_then(|a| omnidesk_domain::EmailAddress::parse(&a).ok())
        .ok_or_else(|| JobError::Permanent("unreadable /bind code payload".to_owned()))?;
    let identity = Identity::Email {
        address: address.clone(),
        verified: true,
    };
    let holder = deps
        .contacts
        .contact_id_by_identity(&identity.key())
        .await?;
    if let Some(h) = holder.filter(|h| *h != contact.id)
        && merge_proven(deps, h, contact.id, step).await?.is_none()
    {
        return Ok(format!(
            "{address} is proven, but it belongs to another contact we could not join \
             automatically; a member of our team will link it."
        ));
    }
    match deps.contacts.add_identity(contact.id, &identity).await {
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(updated) = deps.contacts.get_contact(contact.id).await? {
        step.pushes.push(ServerEvent::ContactUpdated {
            contact: Box::new(updated),
        });
    }
    Ok(format!(
        "Done: {address} is linked to this chat. Your e-mails with us and this chat are now \
         one history."
    ))
}

/// This hour's count of `what` for `who` (an address, an identity), one more. The counter is
/// named by a hash of `who`, so no address or id is kept in it, and the store forgets it an hour
/// after the hour ends (an erased customer leaves nothing behind here).
async fn hourly_count(
    deps: &RouterDeps,
    what: &str,
    who: &str,
    now: omnidesk_domain::Timestamp,
) -> Result<u64, StoreError> {
    const HOUR_MS: i64 = 3_600_000;
    let hour = now.millis() / HOUR_MS;
    let digest = omnidesk_core::blob_key(who.to_lowercase().as_bytes());
    deps.agents
        .next_counter_until(
            &format!("{what}:{}:{hour}", &digest[..32]),
            omnidesk_domain::Timestamp::from_millis((hour + 2) * HOUR_MS),
        )
        .await
}

/// The acknowledgement of a new ticket and its secret link, or `None` when the address had
/// its share of automatic mail this hour. When the channel names a Telegram bot the customer can continue
/// on, a single-use link is issued: in the mail, or as a Telegram message in the contact's
/// chat with that bot when they have one already.
async fn acknowledgement(
    deps: &RouterDeps,
    conversation: &Conversation,
    contact: &Contact,
    first: &Message,
    m: &ChannelMessage,
    step: &mut Step,
) -> Result<Option<(String, Option<String>)>, JobError> {
    let sent = hourly_count(
        deps,
        "automail",
        &m.identity.key().to_string(),
        deps.clock.now(),
    )
    .await?;
    if sent > deps.settings.auto_mail_per_hour {
        tracing::info!(sent, "automatic mail to this address paused for the hour");
        return Ok(None);
    }
    let mut text = deps.settings.email_ack.clone();
    // A staged rollout of "Continue on Telegram": the contact's bucket decides, every time.
    let Some(bot_id) = m
        .continue_on
        .filter(|_| omnidesk_rules::in_rollout(contact.id, deps.settings.telegram_handoff_rollout))
    else {
        return Ok(Some((text, None)));
    };
    let (Some(web), Some(username)) = (
        &deps.web,
        deps.bots.get_bot(bot_id).await?.and_then(|b| b.username),
    ) else {
        return Ok(Some((text, None)));
    };
    let grant = HandoffGrant {
        from: first.channel,
        bot_id: Some(bot_id),
        identity: m.identity.clone(),
        contact_id: Some(contact.id),
        conversation_id: Some(conversation.id),
        key: Some(m.key.clone()),
    };
    let token = omnidesk_core::random_token();
    let ttl = i64::try_from(deps.settings.email_link_ttl.as_millis()).unwrap_or(i64::MAX / 4);
    web.put_token(&omnidesk_core::StoredToken {
        kind: TokenKind::Handoff,
        hash: token_hash(&token),
        owner: format!("conversation:{}", conversation.id),
        payload: serde_json::to_string(&grant).map_err(|e| JobError::Permanent(e.to_string()))?,
        expires_at: deps.clock.now().plus_millis(ttl),
    })
    .await?;
    let link = format!("https://t.me/{username}?start={token}");
    // Already chatting with the bot: the offer goes there, where they will see it first.
    let chat = contact.identities.iter().find_map(|i| match i {
        Identity::Telegram {
            bot_id: b, user_id, ..
        } if *b == bot_id => Some(omnidesk_domain::ConversationKey::telegram_private(
            bot_id,
            omnidesk_domain::TelegramChatId(user_id.0 as i64),
        )),
        _ => None,
    });
    if let Some(key) = chat
        && let Some(telegram) = deps.conversations.conversation_by_key(&key).await?
    {
        let subject = match first.email_ref().and_then(|e| e.subject.as_deref()) {
            Some(s) if !s.trim().is_empty() => s.trim().to_owned(),
            _ => first.preview_text().chars().take(60).collect(),
        };
        let offer = BotLine {
            text: deps
                .settings
                .email_telegram_offer
                .replace("{subject}", &subject)
                .replace("{link}", SECRET_LINK_MARK),
            buttons: Vec::new(),
            link: Some(link),
        };
        bot_say(deps, &telegram, Channel::Telegram, offer, step).await?;
        return Ok(Some((text, None)));
    }
    text.push_str("\n\n");
    text.push_str(
        &deps
            .settings
            .email_ack_link
            .replace("{link}", SECRET_LINK_MARK),
    );
    Ok(Some((text, Some(link))))
}

/// A channel notice (a member joined, a payment went through): a timeline event of the chat's
/// conversation, stored once per source event; nothing else happens (no contact, no
/// assignment, no bot). Without a conversation nobody needs it: dropped.
async fn route_notice(
    deps: &RouterDeps,
    m: &ChannelMessage,
    text: &str,
    step: &mut Step,
) -> Result<JobOutcome, JobError> {
    let Some(c) = deps.conversations.conversation_by_key(&m.key).await? else {
        tracing::debug!("notice for a chat without a conversation dropped");
        return Ok(JobOutcome::Done);
    };
    let now = deps.clock.now();
    // A bounce: the contact cannot be reached at that address any more, and the agent sees
    // why in the timeline and on the contact.
    let event = match &m.unreachable {
        Some(reason) => {
            let channel = m.channel();
            if let Some(contact) = omnidesk_core::usecases::mark_unreachable(
                deps.contacts.as_ref(),
                deps.clock.as_ref(),
                c.contact_id,
                channel,
                reason,
            )
            .await?
            {
                step.pushes.push(ServerEvent::ContactUpdated {
                    contact: Box::new(contact),
                });
            }
            SystemEvent::ContactUnreachable {
                channel,
                reason: reason.clone(),
            }
        }
        None => SystemEvent::Notice {
            text: text.to_owned(),
        },
    };
    let mut event = Message::system(
        match m.sent_at {
            Some(sent_at) => MessageId::derived(sent_at, m.sequence, m.id_source()),
            None => deps.ids.message_id(),
        },
        c.id,
        c.channel,
        event,
        now,
    );
    event.source_key = Some(m.source_key.clone());
    event.channel_ref = m.channel_ref.clone();
    if let AppendOutcome::Duplicate(_) = deps.messages.append_message(&event).await? {
        return Ok(JobOutcome::Done);
    }
    step.pushes.push(ServerEvent::MessageCreated {
        conversation_id: c.id,
        message: event,
        conversation: None,
    });
    step.conversation = Some(c);
    Ok(JobOutcome::Done)
}

/// How many of a conversation's newest messages are searched for an edited message that is
/// not where its id says (an album part) or the message of an album.
const RECENT_MESSAGES: usize = 50;

/// The stored message an edit is for: by the id derived from its message key, else among the
/// newest messages by its channel reference (a message stored before message keys, an album
/// part merged into the first) or its album.
async fn edited_message(
    deps: &RouterDeps,
    c: &Conversation,
    m: &ChannelMessage,
) -> Result<Option<Message>, JobError> {
    if let Some(sent_at) = m.sent_at {
        let id = MessageId::derived(sent_at, m.sequence, m.id_source());
        if let Some(found) = deps.messages.get_message(c.id, id).await? {
            return Ok(Some(found));
        }
    }
    let recent = deps
        .messages
        .list_messages(c.id, &PageRequest::first(RECENT_MESSAGES))
        .await?
        .items;
    let inbound = |s: &&Message| s.direction == Direction::Inbound && !s.author.is_system();
    let by_ref = recent
        .iter()
        .filter(inbound)
        .find(|s| same_channel_message(s.channel_ref.as_ref(), m.channel_ref.as_ref()));
    let by_album = || {
        recent
            .iter()
            .filter(inbound)
            .find(|s| m.album.is_some() && s.album == m.album)
    };
    Ok(by_ref.or_else(by_album).cloned())
}

/// Whether a stored channel reference includes the message of `incoming` (Telegram: the same
/// chat and one of its message ids).
fn same_channel_message(stored: Option<&ChannelRef>, incoming: Option<&ChannelRef>) -> bool {
    match (stored, incoming) {
        (
            Some(ChannelRef::Telegram {
                bot_id: b1,
                chat_id: c1,
                message_ids: stored,
            }),
            Some(ChannelRef::Telegram {
                bot_id: b2,
                chat_id: c2,
                message_ids: incoming,
            }),
        ) => b1 == b2 && c1 == c2 && incoming.iter().any(|id| stored.contains(id)),
        (Some(ChannelRef::Email(a)), Some(ChannelRef::Email(b))) => a.message_id == b.message_id,
        (Some(ChannelRef::Web { id: a }), Some(ChannelRef::Web { id: b })) => a == b,
        _ => false,
    }
}

/// The attachments of an edit, keeping what is known of each file already stored (its blob,
/// its note): the same reference is the same file.
fn keep_fetched(stored: &[Attachment], incoming: &[Attachment]) -> Vec<Attachment> {
    incoming
        .iter()
        .map(|a| {
            stored
                .iter()
                .find(|s| s.reference == a.reference)
                .cloned()
                .unwrap_or_else(|| a.clone())
        })
        .collect()
}

/// Adds the attachments of `incoming` that `content` does not have yet (by reference); whether
/// any was added.
fn add_new_attachments(content: &mut MessageContent, incoming: &[Attachment]) -> bool {
    let mut added = false;
    for a in incoming {
        if !content
            .attachments
            .iter()
            .any(|s| s.reference == a.reference)
        {
            content.attachments.push(a.clone());
            added = true;
        }
    }
    added
}

/// The content after the edit `m`, or `None` when the stored message already says it (a
/// redelivered or an older edit).
fn edited_content(
    stored: &Message,
    m: &ChannelMessage,
    edited_at: Timestamp,
) -> Option<MessageContent> {
    if stored.edited_at.is_some_and(|at| at > edited_at) {
        return None;
    }
    let mut content = stored.next_content();
    if stored.album.is_some() {
        // One part of several: its caption (when it has one) and its file, the others stay.
        if !m.text.trim().is_empty() {
            content.text = m.text.clone();
        }
        add_new_attachments(&mut content, &m.attachments);
    } else {
        content.text = m.text.clone();
        content.attachments = keep_fetched(&stored.attachments, &m.attachments);
    }
    if content.text == stored.text && content.attachments == stored.attachments {
        return None;
    }
    if content.text != stored.text {
        content.edit_history.push(PreviousText {
            text: stored.text.clone(),
            replaced_at: edited_at,
        });
    }
    content.edited_at = Some(edited_at);
    Some(content)
}

/// Applies an edit to the message it edits; `None` when that message is not stored (the
/// caller then stores the edit as a message of its own).
async fn apply_edit(
    deps: &RouterDeps,
    c: &Conversation,
    m: &ChannelMessage,
    step: &mut Step,
) -> Result<Option<JobOutcome>, JobError> {
    let Some(edited_at) = m.edited_at else {
        return Ok(None);
    };
    let Some(mut stored) = edited_message(deps, c, m).await? else {
        return Ok(None);
    };
    for _ in 0..MAX_CONFLICT_RETRIES {
        let Some(mut content) = edited_content(&stored, m, edited_at) else {
            tracing::debug!("edit already applied");
            enqueue_work(deps, &stored).await?;
            return Ok(Some(JobOutcome::Done));
        };
        retranslate_if_changed(deps, &stored, &mut content).await?;
        match deps
            .messages
            .update_content(c.id, stored.id, &content)
            .await
        {
            Ok(updated) => {
                changed_message(deps, c, updated, step).await?;
                return Ok(Some(JobOutcome::Done));
            }
            Err(StoreError::Conflict(_)) => {
                stored = deps
                    .messages
                    .get_message(c.id, stored.id)
                    .await?
                    .ok_or_else(|| JobError::Permanent("edited message vanished".to_owned()))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(JobError::Transient(
        "message kept changing during an edit".to_owned(),
    ))
}

/// Merges the next part of an album into the album's stored message: its file (unless it is
/// there already), its caption when the message has none, its channel message id. `None`
/// when the album has no message yet, or this is that message (the caller stores it).
async fn merge_album_part(
    deps: &RouterDeps,
    c: &Conversation,
    m: &ChannelMessage,
    step: &mut Step,
) -> Result<Option<JobOutcome>, JobError> {
    let Some(album) = m.album.as_deref() else {
        return Ok(None);
    };
    let own_id = m
        .sent_at
        .map(|sent_at| MessageId::derived(sent_at, m.sequence, m.id_source()));
    for _ in 0..MAX_CONFLICT_RETRIES {
        let recent = deps
            .messages
            .list_messages(c.id, &PageRequest::first(RECENT_MESSAGES))
            .await?
            .items;
        let Some(stored) = recent
            .into_iter()
            .find(|s| s.direction == Direction::Inbound && s.album.as_deref() == Some(album))
        else {
            return Ok(None);
        };
        if Some(stored.id) == own_id {
            return Ok(None);
        }
        let mut content = stored.next_content();
        let mut changed = add_new_attachments(&mut content, &m.attachments);
        if content.text.trim().is_empty() && !m.text.trim().is_empty() {
            content.text = m.text.clone();
            changed = true;
        }
        if !changed {
            tracing::debug!("album part already merged");
            enqueue_work(deps, &stored).await?;
            return Ok(Some(JobOutcome::Done));
        }
        retranslate_if_changed(deps, &stored, &mut content).await?;
        match deps
            .messages
            .update_content(c.id, stored.id, &content)
            .await
        {
            Ok(mut updated) => {
                // Its message id too, so an edit of this part finds the album (best effort:
                // the album id finds it as well).
                if let Some(r) =
                    with_message_ids(updated.channel_ref.as_ref(), m.channel_ref.as_ref())
                {
                    match deps
                        .messages
                        .update_delivery(c.id, updated.id, &updated.delivery, Some(&r))
                        .await
                    {
                        Ok(with_ref) => updated = with_ref,
                        Err(e) => tracing::warn!(error = %e, "album part's message id not kept"),
                    }
                }
                changed_message(deps, c, updated, step).await?;
                return Ok(Some(JobOutcome::Done));
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(JobError::Transient(
        "message kept changing while merging an album".to_owned(),
    ))
}

/// The Telegram reference `stored` with the message ids of `incoming` added, when it lacks any.
fn with_message_ids(
    stored: Option<&ChannelRef>,
    incoming: Option<&ChannelRef>,
) -> Option<ChannelRef> {
    match (stored?, incoming?) {
        (
            ChannelRef::Telegram {
                bot_id,
                chat_id,
                message_ids,
            },
            ChannelRef::Telegram {
                chat_id: incoming_chat,
                message_ids: incoming,
                ..
            },
        ) if chat_id == incoming_chat && incoming.iter().any(|id| !message_ids.contains(id)) => {
            let mut ids = message_ids.clone();
            ids.extend(incoming.iter().filter(|id| !message_ids.contains(id)));
            Some(ChannelRef::Telegram {
                bot_id: *bot_id,
                chat_id: *chat_id,
                message_ids: ids,
            })
        }
        _ => None,
    }
}

/// After a stored message changed (an edit, an album part): agents and the visitor see it
/// (`message.updated`), the conversation's preview follows when it is its newest message, and
/// new files are queued for fetching.
async fn changed_message(
    deps: &RouterDeps,
    c: &Conversation,
    updated: Message,
    step: &mut Step,
) -> Result<(), JobError> {
    step.pushes.push(ServerEvent::MessageUpdated {
        conversation_id: c.id,
        message: updated.clone(),
    });
    let mut conversation = c.clone();
    for _ in 0..MAX_CONFLICT_RETRIES {
        if conversation.last_message.as_ref().map(|l| l.id) != Some(updated.id) {
            break;
        }
        let preview = LastMessage::of(&updated);
        if conversation.last_message.as_ref() == Some(&preview) {
            break;
        }
        conversation.last_message = Some(preview);
        match deps.conversations.update_conversation(&conversation).await {
            Ok(stored) => {
                let view = conversation_view(deps.contacts.as_ref(), &stored).await?;
                step.pushes.push(ServerEvent::ConversationUpdated {
                    conversation: Box::new(view),
                });
                conversation = stored;
                break;
            }
            Err(StoreError::Conflict(_)) => {
                match deps.conversations.get_conversation(c.id).await? {
                    Some(fresh) => conversation = fresh,
                    None => break,
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    step.conversation = Some(conversation);
    enqueue_work(deps, &updated).await
}

/// Whether a customer's message in `language` goes to the translator: a translator is
/// configured, the text has words, and some agent does not read `language` (or it is unknown).
async fn needs_translation(
    deps: &RouterDeps,
    text: &str,
    language: Option<&LanguageTag>,
) -> Result<bool, JobError> {
    // Nothing to translate in a text without words (an emoji, a link, an order number).
    if !deps.settings.translate
        || !omnidesk_language::strip_non_linguistic(text)
            .chars()
            .any(char::is_alphabetic)
    {
        return Ok(false);
    }
    let agents = deps
        .settings
        .agent_languages
        .agents(deps.agents.as_ref())
        .await?;
    Ok(!omnidesk_domain::translation_targets(language, agents.iter()).is_empty())
}

/// A changed text is translated again: its old translations go, and it is queued.
async fn retranslate_if_changed(
    deps: &RouterDeps,
    stored: &Message,
    content: &mut MessageContent,
) -> Result<(), JobError> {
    if content.text == stored.text {
        return Ok(());
    }
    content.translations.clear();
    content.translation = needs_translation(deps, &content.text, stored.language.as_ref())
        .await?
        .then_some(TranslationStatus::Pending { target: None });
    Ok(())
}

/// Queues what a stored customer's message still needs: its files fetched, its translation.
async fn enqueue_work(deps: &RouterDeps, message: &Message) -> Result<(), JobError> {
    enqueue_media(deps, message).await?;
    if !matches!(message.translation, Some(TranslationStatus::Pending { .. })) {
        return Ok(());
    }
    deps.queue
        .send(
            QueueName::Translate,
            TranslateJob::of(message).to_queue_message(0),
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            tracing::warn!(message_id = %message.id, error = %e, "translation not queued");
            JobError::Transient(format!("could not queue the translation of a message: {e}"))
        })
}

/// Queues the fetch of the message's files that are still only on their channel
/// ([`Attachment::needs_fetch`]): one [`MediaJob`], deduplicated by
/// `media:<message id>:<revision>`. A failure is transient: the message is stored, and the
/// redelivered event queues it.
async fn enqueue_media(deps: &RouterDeps, message: &Message) -> Result<(), JobError> {
    if !message.attachments.iter().any(Attachment::needs_fetch) {
        return Ok(());
    }
    let job = MediaJob {
        conversation_id: message.conversation_id,
        message_id: message.id,
    };
    let body = serde_json::to_string(&job).map_err(|e| JobError::Permanent(e.to_string()))?;
    let out = OutgoingMessage {
        group: None,
        dedupe_id: Some(media_dedupe_id(message)),
        body,
        delay: Duration::ZERO,
    };
    deps.queue
        .send(QueueName::Media, out)
        .await
        .map(|_| ())
        .map_err(|e| {
            tracing::warn!(message_id = %message.id, error = %e, "files not queued for fetching");
            JobError::Transient(format!("could not queue the files of a message: {e}"))
        })
}

/// The deduplication id of a message's [`MediaJob`]: `media:<message id>:<revision>` (a new
/// revision with new files is a new job).
pub fn media_dedupe_id(message: &Message) -> String {
    format!("media:{}:{}", message.id, message.revision)
}

/// The bot's summary of what was synced from `from`: the conversation's recent history
/// ([`handoff_summary`]).
async fn summary(
    deps: &RouterDeps,
    conversation: &Conversation,
    from: Channel,
) -> Result<String, JobError> {
    // Where a model wrote the conversation's summary, it says more than an extract.
    if let Some(s) = &conversation.summary
        && s.generated
        && from != Channel::Email
    {
        return Ok(format!(
            "Continuing your conversation from {}. {}",
            from.label().to_lowercase(),
            s.text
        ));
    }
    let page = deps
        .messages
        .list_messages(conversation.id, &PageRequest::first(50))
        .await?;
    let mut history: Vec<Message> = page
        .items
        .into_iter()
        .filter(|m| m.channel == from && !m.author.is_system())
        .collect();
    history.reverse();
    let agent = history.iter().rev().find_map(|m| match m.author {
        Author::Agent { id } => Some(id),
        _ => None,
    });
    let name = match agent {
        Some(id) => deps.agents.get_agent(id).await?.map(|a| a.name),
        None => None,
    };
    Ok(match from {
        // A ticket has a subject, a question and a state: say those, not a chat digest.
        Channel::Email => email_summary(&history, conversation.status, name.as_deref()),
        _ => handoff_summary(from, &history, name.as_deref()),
    })
}

async fn find_or_create_contact(
    deps: &RouterDeps,
    identity: Identity,
    display_name: String,
    language: Option<LanguageTag>,
) -> Result<Contact, JobError> {
    let key = identity.key();
    for _ in 0..MAX_CONFLICT_RETRIES {
        if let Some(id) = deps.contacts.contact_id_by_identity(&key).await? {
            match contact_behind(deps, id).await? {
                Some(contact) => return Ok(contact),
                // Erased since this process looked the identity up (a cached answer): the
                // store forgot it, and the next look reads again.
                None => continue,
            }
        }
        // The same Telegram user through another bot of this deployment: Telegram's user ids
        // are global, so the id proves the person; this bot's identity joins their contact.
        if let Some(id) = known_through_another_bot(deps, &identity).await? {
            let Some(contact) = contact_behind(deps, id).await? else {
                continue;
            };
            match deps.contacts.add_identity(contact.id, &identity).await {
                Ok(()) => {
                    return Ok(deps
                        .contacts
                        .get_contact(contact.id)
                        .await?
                        .unwrap_or(contact));
                }
                // Claimed meanwhile (this bot's first message, routed twice): read it again.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let mut contact = Contact::new(
            deps.ids.contact_id(),
            display_name.clone(),
            identity.clone(),
            deps.clock.now(),
        );
        contact.language = language.clone();
        match deps.contacts.create_contact(&contact).await {
            Ok(()) => return Ok(contact),
            // Someone else claimed the identity meanwhile: read theirs.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(JobError::Transient(format!(
        "could not resolve the contact of {key}"
    )))
}

/// The contact `id` names, following merges (a merged contact is a pointer that a cached
/// identity lookup may still name).
async fn contact_behind(deps: &RouterDeps, id: ContactId) -> Result<Option<Contact>, JobError> {
    let mut contact = deps.contacts.get_contact(id).await?;
    for _ in 0..4 {
        match contact.as_ref().and_then(|c| c.merged_into) {
            Some(into) => contact = deps.contacts.get_contact(into).await?,
            None => break,
        }
    }
    Ok(contact)
}

/// The contact of a Telegram `identity`'s user as another bot of this deployment knows them.
/// Read only for a user this bot has not seen yet (one read per other bot, once per user).
async fn known_through_another_bot(
    deps: &RouterDeps,
    identity: &Identity,
) -> Result<Option<ContactId>, JobError> {
    let Identity::Telegram {
        bot_id, user_id, ..
    } = identity
    else {
        return Ok(None);
    };
    for other in deps.bots.list_bots().await? {
        if other.id == *bot_id {
            continue;
        }
        let theirs = Identity::Telegram {
            bot_id: other.id,
            user_id: *user_id,
            username: None,
        };
        if let Some(id) = deps.contacts.contact_id_by_identity(&theirs.key()).await? {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// A message from the contact proves they can be reached on `channel` (again) and that they
/// write from it, and (when its text said so clearly) in which language: records all three on
/// the contact unless it says so already.
async fn note_reached_on(
    deps: &RouterDeps,
    contact: Contact,
    channel: Channel,
    spoken: Option<&LanguageTag>,
    pushes: &mut Vec<ServerEvent>,
) -> Result<Contact, JobError> {
    update_contact_with(deps, contact, pushes, |c| {
        let reachable = c.mark_reachable(channel);
        let seen = c.saw_channel(channel);
        let language = match spoken {
            Some(l) if c.language.as_ref() != Some(l) => {
                c.language = Some(l.clone());
                true
            }
            _ => false,
        };
        reachable || seen || language
    })
    .await
}

/// Adds a rule's tags to the contact (when it lacks any of them).
async fn add_tags(
    deps: &RouterDeps,
    contact: Contact,
    tags: &[omnidesk_domain::Tag],
    pushes: &mut Vec<ServerEvent>,
) -> Result<Contact, JobError> {
    update_contact_with(deps, contact, pushes, |c| {
        let before = c.tags.len();
        c.tags.extend(tags.iter().cloned());
        c.tags.len() != before
    })
    .await
}

/// Applies `change` to the contact and stores it when `change` says it changed something
/// (re-read and re-applied after a concurrent edit); the stored profile is pushed to agents.
async fn update_contact_with(
    deps: &RouterDeps,
    mut contact: Contact,
    pushes: &mut Vec<ServerEvent>,
    change: impl Fn(&mut Contact) -> bool,
) -> Result<Contact, JobError> {
    for _ in 0..MAX_CONFLICT_RETRIES {
        let read_at = contact.updated_at;
        if !change(&mut contact) {
            return Ok(contact);
        }
        contact.updated_at = deps.clock.now().max(read_at.plus_millis(1));
        match deps.contacts.update_contact(&contact, read_at).await {
            Ok(()) => {
                pushes.push(ServerEvent::ContactUpdated {
                    contact: Box::new(contact.clone()),
                });
                return Ok(contact);
            }
            Err(StoreError::Conflict(_)) => {
                contact = deps
                    .contacts
                    .get_contact(contact.id)
                    .await?
                    .ok_or_else(|| JobError::Permanent("contact vanished".to_owned()))?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(JobError::Transient("contact kept changing".to_owned()))
}

/// Gives a conversation waiting in the queue with nobody on it to an online agent with room
/// (if there is one), recording the assignment in `events`.
async fn assign_if_waiting(
    deps: &RouterDeps,
    c: &mut Conversation,
    events: &mut Vec<SystemEvent>,
) -> Result<(), JobError> {
    if c.status == ConversationStatus::Queued
        && c.assignee_id.is_none()
        && let Some(agent) = omnidesk_core::assign::pick_agent_for(
            deps.agents.as_ref(),
            deps.conversations.as_ref(),
            c,
            &[],
        )
        .await?
        && let Ok(change) = c.assign(agent, None)
        && let Some(ev) = change.event
    {
        events.push(ev);
    }
    Ok(())
}

/// Stores the timeline events of a step (their pushes go with it) and schedules the check of
/// an automatic assignment among them. Returns the agent automatically assigned, if any.
async fn record_events(
    deps: &RouterDeps,
    conversation: &Conversation,
    events: Vec<SystemEvent>,
    step: &mut Step,
) -> Result<Option<AgentId>, JobError> {
    let auto_assigned = events.iter().find_map(|ev| match ev {
        SystemEvent::Assigned { agent, by: None } => Some(*agent),
        _ => None,
    });
    if let Some(agent) = auto_assigned {
        timers::schedule_reassignment(deps, conversation, agent).await;
    }
    for ev in events {
        step.pushes
            .push(append_system(deps, conversation, ev).await?);
    }
    Ok(auto_assigned)
}

/// Stores a timeline event and returns its `message.created` (to push).
async fn append_system(
    deps: &RouterDeps,
    conversation: &Conversation,
    event: SystemEvent,
) -> Result<ServerEvent, JobError> {
    let m = Message::system(
        deps.ids.message_id(),
        conversation.id,
        conversation.channel,
        event,
        deps.clock.now(),
    );
    deps.messages.append_message(&m).await?;
    Ok(ServerEvent::MessageCreated {
        conversation_id: conversation.id,
        message: m,
        conversation: None,
    })
}

/// Pushes the events of one step, in order, one frame each, after folding the
/// `conversation.updated` into the last `message.created` (one frame for a plain inbound
/// message). Frames are not packed into a `batch` here: on AWS the `CoalescingPush` wrapped
/// around `deps.push` packs every frame of the Lambda batch per connection; locally the hub's
/// frames cost nothing. Best effort: the events are stored, and a reconnecting dashboard
/// re-reads them.
async fn push_all(deps: &RouterDeps, events: Vec<ServerEvent>) {
    for event in ServerEvent::fold_conversation_updates(events) {
        if let Err(e) = push_to_agents(
            deps.connections.as_ref(),
            deps.conversations.as_ref(),
            deps.push.as_ref(),
            &event,
        )
        .await
        {
            tracing::warn!(error = %e, "push to agents failed");
        }
    }
}

fn cmd_reply(command: BotCommand, settings: &RouterSettings) -> &str {
    match command {
        BotCommand::Start => &settings.greeting,
        BotCommand::Help | BotCommand::Bind => &settings.help,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_team_serves_english_and_every_language_its_agents_read() {
        let agent = |langs: &[&str]| omnidesk_domain::Agent {
            id: omnidesk_domain::AgentId::from_uuid(uuid::Uuid::nil()),
            email: omnidesk_domain::EmailAddress::parse("a@example.com").unwrap(),
            name: "A".to_owned(),
            password_hash: omnidesk_domain::PasswordHash::from_phc("x".to_owned()),
            teams: Default::default(),
            skills: Default::default(),
            languages: langs
                .iter()
                .map(|l| LanguageTag::parse(l).unwrap())
                .collect(),
            language: None,
            status: omnidesk_domain::AgentStatus::Online,
            chosen_status: None,
            capacity: 10,
            role: omnidesk_domain::Role::Agent,
            disabled: false,
            totp: false,
            totp_secret: None,
            created_at: Timestamp::from_millis(0),
        };
        let mut s = RouterSettings::default();
        s.serve_languages(&[agent(&["ru", "zh-Hans"]), agent(&["pt-BR"]), agent(&[])]);
        assert_eq!(
            s.detector.as_ref().unwrap().allowed(),
            ["en", "pt", "ru", "zh"]
        );
        // OMNIDESK_LANGUAGES wins over the agents; a code the detector does not know is named.
        let mut set = RouterSettings::from_lookup(|n| {
            (n == "OMNIDESK_LANGUAGES").then(|| "en, ja".to_owned())
        })
        .unwrap();
        set.serve_languages(&[agent(&["ru"])]);
        assert_eq!(set.detector.as_ref().unwrap().allowed(), ["en", "ja"]);
        let bad = RouterSettings::from_lookup(|n| {
            (n == "OMNIDESK_LANGUAGES").then(|| "en,klingon".to_owned())
        })
        .unwrap_err();
        assert!(
            bad.contains("OMNIDESK_LANGUAGES") && bad.contains("klingon"),
            "{bad}"
        );
    }

    #[test]
    fn the_default_handoff_texts_say_what_to_do() {
        let s = RouterSettings::default();
        assert!(s.handoff_invalid.contains("Continue on Telegram"));
        assert!(s.handoff_group.contains("private chat"));
    }
}
