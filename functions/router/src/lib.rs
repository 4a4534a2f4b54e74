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
//! Safe to retry at any point: the message append (unique by source key) is the commit point,
//! and a redelivered event whose message is stored but whose conversation was not yet updated
//! (a crash in between) is finished rather than dropped.

use std::sync::Arc;
use std::time::Duration;

use omnidesk_core::ConversationView;
use omnidesk_core::usecases::{conversation_view, pick_agent, pick_agent_except, push_to_agents};
use omnidesk_core::{
    AgentStore, AppendOutcome, BotStore, Clock, ConnectionStore, ContactStore, ConversationStore,
    IdGen, JobError, JobOutcome, MessageStore, OutboundJob, OutgoingMessage, Push, Queue,
    QueueName, ServerEvent, StoreError, TimerJob,
};
use omnidesk_domain::{
    AgentId, AgentStatus, Author, Channel, ChannelRef, ChatKind, Contact, Conversation,
    ConversationId, ConversationStatus, Delivery, Direction, Identity, InboundEvent, InboundSource,
    LanguageTag, Message, MessageId, SystemEvent, TelegramInbound, Timestamp,
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
}

impl RouterSettings {
    /// The default of [`RouterSettings::reassign_after`]: 5 minutes.
    pub const REASSIGN_AFTER: Duration = Duration::from_secs(300);
    /// SQS's longest `DelaySeconds`, and so the longest [`RouterSettings::reassign_after`].
    pub const MAX_REASSIGN_AFTER: Duration = Duration::from_secs(900);
    /// Reassignments of one unanswered conversation, at most; after that it stays where it is.
    pub const MAX_REASSIGNMENTS: u32 = 3;

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
        Ok(settings)
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
    pub push: Arc<dyn Push>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub settings: RouterSettings,
}

/// How many times an optimistic write is re-read and re-applied before giving up (transient).
const MAX_CONFLICT_RETRIES: usize = 8;

/// Processes one inbound event.
pub async fn handle(deps: &RouterDeps, event: &InboundEvent) -> Result<JobOutcome, JobError> {
    match &event.source {
        InboundSource::Telegram(t) => handle_telegram(deps, event, t).await,
    }
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

#[tracing::instrument(skip_all, fields(source = %t.source_key()))]
async fn handle_telegram(
    deps: &RouterDeps,
    event: &InboundEvent,
    t: &TelegramInbound,
) -> Result<JobOutcome, JobError> {
    // Everything the step pushes, pushed at the end (also when it fails half-way: what is
    // stored is shown), with the conversation view folded into the last message.
    let mut pushes = Vec::new();
    let outcome = route_telegram(deps, event, t, &mut pushes).await;
    push_all(deps, pushes).await;
    outcome
}

async fn route_telegram(
    deps: &RouterDeps,
    event: &InboundEvent,
    t: &TelegramInbound,
    pushes: &mut Vec<ServerEvent>,
) -> Result<JobOutcome, JobError> {
    if t.kind != "message" {
        tracing::debug!(kind = %t.kind, "update kind not routed");
        return Ok(JobOutcome::Done);
    }
    let (Some(from), Some(key), Some(chat)) = (&t.from, t.conversation_key(), t.chat_id) else {
        tracing::debug!("message without sender or routable chat");
        return Ok(JobOutcome::Done);
    };
    if from.is_bot {
        return Ok(JobOutcome::Done);
    }
    if t.chat_kind != Some(ChatKind::Private) {
        let username = deps.bots.get_bot(t.bot_id).await?.and_then(|b| b.username);
        if !t.addresses_bot(username.as_deref()) {
            return Ok(JobOutcome::Done);
        }
    }

    // 1. Contact, by the Telegram identity of the sender.
    let identity = Identity::Telegram {
        bot_id: t.bot_id,
        user_id: from.user_id,
        username: from.username.clone(),
    };
    let language = from
        .language_code
        .as_deref()
        .and_then(|l| LanguageTag::parse(l).ok());
    let mut contact =
        find_or_create_contact(deps, identity, from.display_name(), language.clone()).await?;

    // 2. Conversation, by routing key. A new one is created further down, already in the
    // state its first message leaves it in: one write and one set of index entries.
    let mut existing = deps.conversations.conversation_by_key(&key).await?;

    // 3. The message. Its id comes from the update itself (Telegram's date and per-chat
    // message id, and the source key), so a redelivered update maps to the same stored message.
    let source_key = t.source_key();
    let mut message = Message {
        // Without Telegram's date nothing stable is left to derive from: a generated id, and
        // the store claims the source key separately.
        id: match t.sent_at {
            Some(sent_at) => MessageId::derived(
                sent_at,
                t.message_id
                    .and_then(|m| u32::try_from(m).ok())
                    .unwrap_or(0),
                &source_key,
            ),
            None => deps.ids.message_id(),
        },
        conversation_id: existing
            .as_ref()
            .map_or_else(|| deps.ids.conversation_id(), |c| c.id),
        direction: Direction::Inbound,
        author: Author::Contact { id: contact.id },
        channel: Channel::Telegram,
        text: t.text.clone().unwrap_or_default(),
        language: language.clone().or_else(|| contact.language.clone()),
        translations: Vec::new(),
        attachments: t.attachments.clone(),
        channel_ref: Some(ChannelRef::Telegram {
            bot_id: t.bot_id,
            chat_id: chat,
            message_ids: t.message_id.into_iter().collect(),
        }),
        delivery: Delivery::received(event.received_at),
        event: None,
        source_key: Some(source_key),
        created_at: event.received_at,
    };
    let command = if t.chat_kind == Some(ChatKind::Private) {
        bot_command(&message.text)
    } else {
        None
    };

    if existing.is_none() {
        let mut c = Conversation::new(
            message.conversation_id,
            key.clone(),
            contact.id,
            Channel::Telegram,
            event.received_at,
        );
        c.language = language.clone().or_else(|| contact.language.clone());
        let (events, bot_reply) = apply_inbound(deps, &mut c, &message, command).await?;
        match deps.conversations.create_conversation(&c).await {
            Ok(()) => {
                // A crash before this append is finished by the redelivery through the
                // existing-conversation path below (counting the message as unread twice).
                if let AppendOutcome::Duplicate(_) = deps.messages.append_message(&message).await? {
                    return Ok(JobOutcome::Done);
                }
                contact = note_reached_on_telegram(deps, contact, pushes).await?;
                return finish(deps, c, contact, message, events, bot_reply, pushes).await;
            }
            // Created meanwhile by someone else: continue with theirs.
            Err(StoreError::Conflict(_)) => {
                let theirs = deps
                    .conversations
                    .conversation_by_key(&key)
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
    let message = match deps.messages.append_message(&message).await? {
        AppendOutcome::Inserted => message,
        AppendOutcome::Duplicate(existing) => {
            let stored = deps.messages.get_message(conversation.id, existing).await?;
            match stored {
                // Stored and the conversation already reflects it: a plain duplicate.
                Some(m) if conversation.last_activity_at >= m.created_at => {
                    tracing::debug!("duplicate event dropped");
                    return Ok(JobOutcome::Done);
                }
                // Stored, but a crash stopped us before the conversation was updated: finish.
                Some(m) => m,
                None => return Ok(JobOutcome::Done),
            }
        }
    };

    contact = note_reached_on_telegram(deps, contact, pushes).await?;

    // 4. Conversation state: reopen, commands, hand-off, assignment.
    let mut conversation = conversation;
    let mut attempts = 0;
    let (conversation, events, bot_reply) = loop {
        attempts += 1;
        let mut c = conversation.clone();
        let (events, bot_reply) = apply_inbound(deps, &mut c, &message, command).await?;
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
        conversation,
        contact,
        message,
        events,
        bot_reply,
        pushes,
    )
    .await
}

/// What an inbound message does to its conversation: channel switch, reopen, the summary,
/// and either the bot's answer to a command or the hand-off (and assignment) to a human.
/// Returns the timeline events and the bot's answer.
async fn apply_inbound(
    deps: &RouterDeps,
    c: &mut Conversation,
    message: &Message,
    command: Option<BotCommand>,
) -> Result<(Vec<SystemEvent>, Option<String>), JobError> {
    let mut events = Vec::new();
    if let Some(ev) = c.switch_channel(Channel::Telegram) {
        events.push(ev);
    }
    if let Some(change) = c.on_inbound(command.is_some())
        && let Some(ev) = change.event
    {
        events.push(ev);
    }
    c.record_message(message);
    let mut bot_reply = None;
    match (command, c.status) {
        (Some(cmd), ConversationStatus::Bot) => {
            bot_reply = Some(cmd.reply(&deps.settings).to_owned());
        }
        _ => {
            c.hand_off();
            if c.status == ConversationStatus::Queued
                && c.assignee_id.is_none()
                && let Some(agent) =
                    pick_agent(deps.agents.as_ref(), deps.conversations.as_ref()).await?
                && let Ok(change) = c.assign(agent, None)
                && let Some(ev) = change.event
            {
                events.push(ev);
            }
        }
    }
    Ok((events, bot_reply))
}

/// The timeline events, the bot's answer and the pushes of a stored inbound message.
async fn finish(
    deps: &RouterDeps,
    conversation: Conversation,
    contact: Contact,
    message: Message,
    events: Vec<SystemEvent>,
    bot_reply: Option<String>,
    pushes: &mut Vec<ServerEvent>,
) -> Result<JobOutcome, JobError> {
    // 5. Timeline events, the bot's answer, the reassignment timer, and pushes.
    let auto_assigned = events.iter().find_map(|ev| match ev {
        SystemEvent::Assigned { agent, by: None } => Some(*agent),
        _ => None,
    });
    if let Some(agent) = auto_assigned {
        schedule_reassignment(deps, conversation.id, agent, 0).await;
    }
    pushes.push(ServerEvent::MessageCreated {
        conversation_id: conversation.id,
        message: message.clone(),
        conversation: None,
    });
    for ev in events {
        pushes.push(append_system(deps, &conversation, ev).await?);
    }
    if let Some(text) = bot_reply {
        let reply = Message::outbound(
            deps.ids.message_id(),
            conversation.id,
            Author::Bot,
            Channel::Telegram,
            text,
            deps.clock.now(),
        );
        deps.messages.append_message(&reply).await?;
        let job = OutboundJob {
            conversation_id: conversation.id,
            message_id: reply.id,
        };
        let body = serde_json::to_string(&job).map_err(|e| JobError::Permanent(e.to_string()))?;
        deps.queue
            .send(
                QueueName::Outbound,
                OutgoingMessage::fifo(conversation.id.to_string(), reply.id.to_string(), body),
            )
            .await?;
        pushes.push(ServerEvent::MessageCreated {
            conversation_id: conversation.id,
            message: reply,
            conversation: None,
        });
    }
    // The contact was read (and updated) above: no second read for the view. It rides on the
    // last message.created of this step (see `push_all`).
    let view = ConversationView::new(&conversation, contact);
    pushes.push(ServerEvent::ConversationUpdated {
        conversation: Box::new(view),
    });
    Ok(JobOutcome::Done)
}

/// Schedules the check of an automatic assignment ([`TimerJob::ReassignIfUnanswered`]). Best
/// effort, like a push: the assignment is stored either way, and a lost timer only means the
/// conversation stays with its agent.
async fn schedule_reassignment(
    deps: &RouterDeps,
    conversation_id: ConversationId,
    agent_id: AgentId,
    hops: u32,
) {
    let Some(after) = deps.settings.reassign_after else {
        return;
    };
    let job = TimerJob::ReassignIfUnanswered {
        conversation_id,
        agent_id,
        assigned_at: deps.clock.now(),
        hops,
    };
    let sent = match serde_json::to_string(&job) {
        Ok(body) => deps
            .queue
            .send(QueueName::Timers, OutgoingMessage::delayed(body, after))
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(error) = sent {
        tracing::warn!(%conversation_id, %error, "reassignment timer not scheduled");
    }
}

/// Parses a timers-queue body and runs it; a body that is not a timer job is permanent.
pub async fn handle_timer_body(deps: &RouterDeps, body: &str) -> Result<JobOutcome, JobError> {
    let job: TimerJob = serde_json::from_str(body)
        .map_err(|e| JobError::Permanent(format!("not a timer job: {e}")))?;
    handle_timer(deps, &job).await
}

/// Runs one timer. [`TimerJob::ReassignIfUnanswered`]: when the agent still has the
/// conversation and no agent replied since the assignment, it goes round-robin to another
/// online agent with room (who gets a timer of their own, up to
/// [`RouterSettings::MAX_REASSIGNMENTS`]); with nobody else, back to the queue if its agent is
/// offline, else it stays. Anything else that happened meanwhile (a reply, a transfer, a
/// resolve) makes the timer a no-op.
pub async fn handle_timer(deps: &RouterDeps, job: &TimerJob) -> Result<JobOutcome, JobError> {
    let mut pushes = Vec::new();
    let outcome = match job {
        TimerJob::ReassignIfUnanswered {
            conversation_id,
            agent_id,
            assigned_at,
            hops,
        } => {
            reassign_if_unanswered(
                deps,
                *conversation_id,
                *agent_id,
                *assigned_at,
                *hops,
                &mut pushes,
            )
            .await
        }
    };
    push_all(deps, pushes).await;
    outcome
}

#[tracing::instrument(skip(deps, pushes))]
async fn reassign_if_unanswered(
    deps: &RouterDeps,
    conversation_id: ConversationId,
    agent_id: AgentId,
    assigned_at: Timestamp,
    hops: u32,
    pushes: &mut Vec<ServerEvent>,
) -> Result<JobOutcome, JobError> {
    for _ in 0..MAX_CONFLICT_RETRIES {
        let Some(mut c) = deps.conversations.get_conversation(conversation_id).await? else {
            return Ok(JobOutcome::Done);
        };
        let answered = c.last_reply_at.is_some_and(|t| t >= assigned_at);
        if c.status != ConversationStatus::Assigned || c.assignee_id != Some(agent_id) || answered {
            return Ok(JobOutcome::Done);
        }
        let next = pick_agent_except(
            deps.agents.as_ref(),
            deps.conversations.as_ref(),
            Some(agent_id),
        )
        .await?;
        let change = match next {
            Some(other) => c.assign(other, None),
            None => {
                let agent = deps.agents.get_agent(agent_id).await?;
                if agent.is_some_and(|a| a.status != AgentStatus::Offline) {
                    tracing::debug!("nobody else can take it; it stays");
                    return Ok(JobOutcome::Done);
                }
                c.unassign(None)
            }
        }
        .map_err(|e| JobError::Permanent(e.to_string()))?;
        match deps.conversations.update_conversation(&c).await {
            Ok(stored) => {
                if let Some(ev) = change.event {
                    pushes.push(append_system(deps, &stored, ev).await?);
                }
                if let Some(other) = next
                    && hops + 1 < RouterSettings::MAX_REASSIGNMENTS
                {
                    schedule_reassignment(deps, stored.id, other, hops + 1).await;
                }
                let view = conversation_view(deps.contacts.as_ref(), &stored).await?;
                pushes.push(ServerEvent::ConversationUpdated {
                    conversation: Box::new(view),
                });
                tracing::info!(to = ?next, "unanswered conversation reassigned");
                return Ok(JobOutcome::Done);
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(JobError::Transient(
        "conversation kept changing during reassignment".to_owned(),
    ))
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
            return deps.contacts.get_contact(id).await?.ok_or_else(|| {
                JobError::Transient(format!("identity {key} points to a missing contact"))
            });
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

/// A message from the contact proves they can be reached on Telegram (again) and that they
/// write from it: records both on the contact unless it says so already.
async fn note_reached_on_telegram(
    deps: &RouterDeps,
    mut contact: Contact,
    pushes: &mut Vec<ServerEvent>,
) -> Result<Contact, JobError> {
    if contact.unreachable_on(Channel::Telegram).is_none()
        && contact.channels_seen.contains(&Channel::Telegram)
    {
        return Ok(contact);
    }
    for _ in 0..MAX_CONFLICT_RETRIES {
        let read_at = contact.updated_at;
        contact.mark_reachable(Channel::Telegram);
        contact.saw_channel(Channel::Telegram);
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
        if let Err(e) = push_to_agents(deps.connections.as_ref(), deps.push.as_ref(), &event).await
        {
            tracing::warn!(error = %e, "push to agents failed");
        }
    }
}

/// A command the built-in bot answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BotCommand {
    Start,
    Help,
}

impl BotCommand {
    fn reply(self, settings: &RouterSettings) -> &str {
        match self {
            BotCommand::Start => &settings.greeting,
            BotCommand::Help => &settings.help,
        }
    }
}

/// `/start`, `/start <payload>`, `/help`, also addressed as `/help@botname`.
fn bot_command(text: &str) -> Option<BotCommand> {
    let word = text.split_whitespace().next()?;
    let cmd = word.split('@').next()?;
    match cmd {
        "/start" => Some(BotCommand::Start),
        "/help" => Some(BotCommand::Help),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_recognised_with_payloads_and_bot_names() {
        assert_eq!(bot_command("/start"), Some(BotCommand::Start));
        assert_eq!(bot_command("/start abc123"), Some(BotCommand::Start));
        assert_eq!(bot_command("/help@shop_bot"), Some(BotCommand::Help));
        assert_eq!(bot_command("help me"), None);
        assert_eq!(bot_command("/starting"), None);
        assert_eq!(bot_command(""), None);
    }
}
