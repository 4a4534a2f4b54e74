//! The timers queue: an unanswered conversation moving to the next agent (and the busy prompt
//! after the team's hops), presence following the dashboard, snoozes waking up, queue
//! positions re-sent, and waits longer than the queue's longest delay re-armed.
//!
//! Timers are delayed queue messages (SQS `DelaySeconds` on AWS, at most 15 minutes; the
//! durable local queue's delay in `omnidesk serve`), never a polling loop. Each handler re-reads
//! what it acts on and does nothing when the world moved on meanwhile (a reply, a transfer, a
//! resolve, a reconnect), so a late or repeated timer is harmless.

use std::time::Duration;

use omnidesk_core::assign::{pick_agent_for, queued_for};
use omnidesk_core::{
    ConversationFilter, JobError, JobOutcome, PageRequest, QueueName, ServerEvent, StoreError,
    TimerJob,
};
use omnidesk_domain::{
    Agent, AgentId, AgentStatus, Conversation, ConversationId, ConversationStatus, SystemEvent,
    Timestamp,
};

use crate::{
    BotLine, MAX_CONFLICT_RETRIES, RouterDeps, RouterSettings, Step, ai, append_system, bot_say,
    record_events,
};

/// SQS's longest delay: longer waits are re-armed ([`TimerJob::Rearm`]).
const MAX_DELAY: Duration = Duration::from_secs(900);

/// Sends `job` to run after `after` (re-armed past [`MAX_DELAY`]). Best effort, like a push:
/// what the timer checks is stored either way; a lost timer is logged.
pub(crate) async fn schedule(deps: &RouterDeps, job: TimerJob, after: Duration) {
    let (job, delay) = if after > MAX_DELAY {
        let due = deps.clock.now().plus_millis(after.as_millis() as i64);
        (
            TimerJob::Rearm {
                due,
                job: Box::new(job),
            },
            MAX_DELAY,
        )
    } else {
        (job, after)
    };
    let sent = deps
        .queue
        .send(QueueName::Timers, job.to_queue_message(delay))
        .await;
    if let Err(error) = sent {
        tracing::warn!(?job, %error, "timer not scheduled");
    }
}

/// How long an assignment of `c` may go unanswered: its team's `answer_within_secs`, else
/// [`RouterSettings::reassign_after`]. `None`: never checked.
fn answer_within(deps: &RouterDeps, c: &Conversation) -> Option<Duration> {
    let routing = deps.settings.routing.current();
    match routing.team_of(c, deps.settings.default_team.as_deref()) {
        Some(t) if t.team.answer_within_secs > 0 => {
            Some(Duration::from_secs(u64::from(t.team.answer_within_secs)))
        }
        Some(_) => None,
        None => deps.settings.reassign_after,
    }
}

/// Schedules the check of an automatic assignment ([`TimerJob::ReassignIfUnanswered`]).
pub(crate) async fn schedule_reassignment(deps: &RouterDeps, c: &Conversation, agent_id: AgentId) {
    let Some(after) = answer_within(deps, c) else {
        return;
    };
    let job = TimerJob::ReassignIfUnanswered {
        conversation_id: c.id,
        agent_id,
        assigned_at: deps.clock.now(),
        hops: c.hops,
    };
    schedule(deps, job, after).await;
}

/// Schedules the next queue-position message of a conversation that waits, if the deployment
/// sends them repeatedly.
pub(crate) async fn schedule_queue_notice(deps: &RouterDeps, c: &Conversation) {
    let (Some(every), Some(queued_at)) = (deps.settings.queue_notice_every, c.queued_at) else {
        return;
    };
    let job = TimerJob::QueueNotice {
        conversation_id: c.id,
        queued_at,
    };
    schedule(deps, job, every).await;
}

/// Parses a timers-queue body and runs it; a body that is not a timer job is permanent.
pub async fn handle_timer_body(deps: &RouterDeps, body: &str) -> Result<JobOutcome, JobError> {
    let job: TimerJob = serde_json::from_str(body)
        .map_err(|e| JobError::Permanent(format!("not a timer job: {e}")))?;
    handle_timer(deps, &job).await
}

/// Runs one timer (see the module docs); its pushes go out at the end, also when it fails
/// half-way.
pub async fn handle_timer(deps: &RouterDeps, job: &TimerJob) -> Result<JobOutcome, JobError> {
    let mut step = Step::default();
    let outcome = run(deps, job, &mut step).await;
    step.push(deps).await;
    outcome
}

async fn run(deps: &RouterDeps, job: &TimerJob, step: &mut Step) -> Result<JobOutcome, JobError> {
    match job {
        TimerJob::ReassignIfUnanswered {
            conversation_id,
            agent_id,
            assigned_at,
            ..
        } => reassign_if_unanswered(deps, *conversation_id, *agent_id, *assigned_at, step).await,
        TimerJob::AgentAway {
            agent_id,
            disconnected_at,
        } => agent_away(deps, *agent_id, *disconnected_at, step).await,
        TimerJob::AgentBack { agent_id } => agent_back(deps, *agent_id, step).await,
        TimerJob::Unsnooze {
            conversation_id,
            until,
        } => unsnooze(deps, *conversation_id, *until, step).await,
        TimerJob::QueueNotice {
            conversation_id,
            queued_at,
        } => queue_notice(deps, *conversation_id, *queued_at, step).await,
        TimerJob::CsatSurvey {
            conversation_id,
            resolved_at,
        } => csat_survey(deps, *conversation_id, *resolved_at, step).await,
        TimerJob::Retention { cutoff, cursor } => retention(deps, *cutoff, cursor.clone()).await,
        TimerJob::Rearm { due, job } => {
            let now = deps.clock.now();
            if now >= *due {
                return Box::pin(run(deps, job, step)).await;
            }
            let left = Duration::from_millis((due.millis() - now.millis()).max(0) as u64);
            schedule(deps, (**job).clone(), left).await;
            Ok(JobOutcome::Done)
        }
    }
}

/// Conversations read per retention job: a longer sweep goes on in the next job.
const RETENTION_PAGES: usize = 2;

/// One run of the retention sweep ([`omnidesk_core::erasure::sweep_retention`]): up to
/// [`RETENTION_PAGES`] pages of conversations, then the next job from where it stopped, with
/// the same cutoff. A no-op where no retention is set.
#[tracing::instrument(skip(deps))]
async fn retention(
    deps: &RouterDeps,
    cutoff: Option<Timestamp>,
    cursor: Option<String>,
) -> Result<JobOutcome, JobError> {
    let (Some(keep), Some(ports)) = (deps.settings.retention, deps.retention.as_ref()) else {
        tracing::debug!("no retention is set: nothing to sweep");
        return Ok(JobOutcome::Done);
    };
    let cutoff = cutoff.unwrap_or_else(|| {
        deps.clock
            .now()
            .plus_millis(-i64::try_from(keep.as_millis()).unwrap_or(i64::MAX / 4))
    });
    let erasure = omnidesk_core::erasure::ErasurePorts {
        contacts: deps.contacts.as_ref(),
        conversations: deps.conversations.as_ref(),
        messages: deps.messages.as_ref(),
        erasure: ports.erasure.as_ref(),
        blobs: ports.blobs.as_ref(),
        // Retention deletes messages, not people: sent mail stays with its recipient.
        mailer: None,
    };
    let (swept, next) =
        omnidesk_core::erasure::sweep_retention(erasure, cutoff, cursor, RETENTION_PAGES)
            .await
            .map_err(|e| match e {
                omnidesk_core::erasure::ErasureError::Store(e) => JobError::from(e),
                other => JobError::Transient(other.to_string()),
            })?;
    tracing::info!(
        cutoff = %cutoff,
        conversations = swept.conversations,
        messages = swept.messages,
        files = swept.files,
        more = next.is_some(),
        "retention sweep"
    );
    if let Some(cursor) = next {
        schedule(
            deps,
            TimerJob::Retention {
                cutoff: Some(cutoff),
                cursor: Some(cursor),
            },
            Duration::ZERO,
        )
        .await;
    }
    Ok(JobOutcome::Done)
}

/// An assignment nobody answered within the team's time moves to the next eligible agent
/// (who gets a timer of their own); with nobody else it stays, or goes back to the queue when
/// its agent is offline. Every such move is a hop; at the team's `max_hops` the customer gets
/// the busy prompt, once, and the timers stop. A reply, transfer or resolve meanwhile makes the
/// timer a no-op.
#[tracing::instrument(skip(deps, step))]
async fn reassign_if_unanswered(
    deps: &RouterDeps,
    conversation_id: ConversationId,
    agent_id: AgentId,
    assigned_at: Timestamp,
    step: &mut Step,
) -> Result<JobOutcome, JobError> {
    let routing = deps.settings.routing.get(deps.routing.as_ref()).await?;
    for _ in 0..MAX_CONFLICT_RETRIES {
        let Some(mut c) = deps.conversations.get_conversation(conversation_id).await? else {
            return Ok(JobOutcome::Done);
        };
        let answered = c.last_reply_at.is_some_and(|t| t >= assigned_at);
        if c.status != ConversationStatus::Assigned || c.assignee_id != Some(agent_id) || answered {
            return Ok(JobOutcome::Done);
        }
        let team = routing.team_of(&c, deps.settings.default_team.as_deref());
        let max_hops = team.map_or(RouterSettings::MAX_REASSIGNMENTS, |t| t.team.max_hops);
        if c.hops >= max_hops {
            return Ok(JobOutcome::Done);
        }
        c.hops += 1;
        let next = pick_agent_for(
            deps.agents.as_ref(),
            deps.conversations.as_ref(),
            &c,
            &[agent_id],
        )
        .await?;
        let change = match next {
            Some(other) => Some(c.assign(other, None)),
            None => {
                let agent = deps.agents.get_agent(agent_id).await?;
                if agent.is_some_and(|a| a.status != AgentStatus::Offline) {
                    tracing::debug!("nobody else can take it; it stays");
                    None
                } else {
                    Some(c.unassign(None))
                }
            }
        }
        .transpose()
        .map_err(|e| JobError::Permanent(e.to_string()))?;
        let prompt = c.hops == max_hops;
        match deps.conversations.update_conversation(&c).await {
            Ok(stored) => {
                if let Some(ev) = change.and_then(|ch| ch.event) {
                    step.pushes.push(append_system(deps, &stored, ev).await?);
                }
                if !prompt {
                    // The next agent's time, or the same agent's next chance.
                    let holder = next.or(stored.assignee_id);
                    if let Some(holder) = holder {
                        schedule_reassignment(deps, &stored, holder).await;
                    }
                }
                if prompt {
                    let template = team
                        .and_then(|t| t.team.busy_prompt.clone())
                        .unwrap_or_else(|| deps.settings.busy_prompt.clone());
                    let line = BotLine {
                        text: template,
                        buttons: Vec::new(),
                        link: None,
                    };
                    bot_say(deps, &stored, stored.channel, line, step).await?;
                }
                step.conversation_updated(deps, &stored).await?;
                step.conversation = Some(stored);
                tracing::info!(to = ?next, prompt, "unanswered conversation moved on");
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

/// Whether the agent has a dashboard open now.
async fn connected(deps: &RouterDeps, agent: AgentId) -> Result<bool, JobError> {
    Ok(deps
        .connections
        .list_connections()
        .await?
        .iter()
        .any(|c| c.agent_id == agent))
}

/// Sets the agent's status and tells every dashboard; returns the agent as stored.
async fn set_status(
    deps: &RouterDeps,
    mut agent: Agent,
    status: AgentStatus,
    step: &mut Step,
) -> Result<Agent, JobError> {
    if agent.status == status {
        return Ok(agent);
    }
    agent.status = status;
    deps.agents.update_agent(&agent).await?;
    tracing::info!(agent_id = %agent.id, status = status.as_str(), "presence changed");
    step.pushes.push(ServerEvent::Presence {
        agent_id: agent.id,
        status,
    });
    Ok(agent)
}

/// The agent's last dashboard closed a while ago (or they chose offline): unless one is open
/// again, they go offline and the conversations they have not answered go to someone else (or
/// back to the queue).
async fn agent_away(
    deps: &RouterDeps,
    agent_id: AgentId,
    disconnected_at: Timestamp,
    step: &mut Step,
) -> Result<JobOutcome, JobError> {
    let Some(agent) = deps.agents.get_agent(agent_id).await? else {
        return Ok(JobOutcome::Done);
    };
    // Gone unless a dashboard is open again; one who chose offline is gone either way.
    if agent.chosen_status != Some(AgentStatus::Offline) && connected(deps, agent_id).await? {
        return Ok(JobOutcome::Done);
    }
    tracing::debug!(%agent_id, %disconnected_at, "agent away");
    set_status(deps, agent, AgentStatus::Offline, step).await?;
    requeue_unanswered(deps, agent_id, step).await?;
    Ok(JobOutcome::Done)
}

/// A dashboard of the agent connected: they are online unless they chose busy or offline, and
/// an online agent takes queued conversations up to their capacity, highest priority first.
async fn agent_back(
    deps: &RouterDeps,
    agent_id: AgentId,
    step: &mut Step,
) -> Result<JobOutcome, JobError> {
    let Some(agent) = deps.agents.get_agent(agent_id).await? else {
        return Ok(JobOutcome::Done);
    };
    if !connected(deps, agent_id).await? {
        return Ok(JobOutcome::Done);
    }
    let status = agent.connected_status();
    let agent = set_status(deps, agent, status, step).await?;
    if agent.status == AgentStatus::Online {
        take_queued(deps, &agent, step).await?;
    }
    Ok(JobOutcome::Done)
}

/// Gives `agent` queued conversations they may take, up to their free capacity, in the
/// queue's order (priority, then wait). A conversation someone took meanwhile is skipped.
pub(crate) async fn take_queued(
    deps: &RouterDeps,
    agent: &Agent,
    step: &mut Step,
) -> Result<usize, JobError> {
    let open = deps.conversations.count_assigned(agent.id).await?;
    if !agent.can_take(open) {
        return Ok(0);
    }
    let free = (agent.capacity - open) as usize;
    let mut taken = 0;
    for queued in queued_for(deps.conversations.as_ref(), agent, free).await? {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some(mut c) = deps.conversations.get_conversation(queued.id).await? else {
                break;
            };
            if c.status != ConversationStatus::Queued || c.assignee_id.is_some() {
                break;
            }
            let Ok(change) = c.assign(agent.id, None) else {
                break;
            };
            match deps.conversations.update_conversation(&c).await {
                Ok(stored) => {
                    taken += 1;
                    record_events(deps, &stored, change.event.into_iter().collect(), step).await?;
                    step.conversation_updated(deps, &stored).await?;
                    break;
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    tracing::info!(agent_id = %agent.id, taken, "agent took queued conversations");
    Ok(taken)
}

/// The conversations `agent` has and has not answered since the customer last wrote go to
/// another eligible agent, or back to the queue.
async fn requeue_unanswered(
    deps: &RouterDeps,
    agent: AgentId,
    step: &mut Step,
) -> Result<(), JobError> {
    let filter = ConversationFilter {
        status: Some(ConversationStatus::Assigned),
        assignee: Some(Some(agent)),
    };
    let mut held = Vec::new();
    let mut page = PageRequest::first(100);
    loop {
        let got = deps
            .conversations
            .list_conversations(&filter, &page)
            .await?;
        held.extend(got.items);
        match got.next_cursor {
            Some(cursor) if held.len() < omnidesk_core::assign::MAX_QUEUE_SCAN => {
                page.cursor = Some(cursor)
            }
            _ => break,
        }
    }
    for held in held {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some(mut c) = deps.conversations.get_conversation(held.id).await? else {
                break;
            };
            let unanswered = c
                .last_inbound_at
                .is_some_and(|i| c.last_reply_at.is_none_or(|r| r < i));
            if c.status != ConversationStatus::Assigned
                || c.assignee_id != Some(agent)
                || !unanswered
            {
                break;
            }
            let mut events: Vec<SystemEvent> = Vec::new();
            if let Ok(change) = c.unassign(None)
                && let Some(ev) = change.event
            {
                events.push(ev);
            }
            crate::assign_if_waiting(deps, &mut c, &mut events).await?;
            match deps.conversations.update_conversation(&c).await {
                Ok(stored) => {
                    record_events(deps, &stored, events, step).await?;
                    step.conversation_updated(deps, &stored).await?;
                    break;
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// A snooze ends: the conversation shows as open again (unless it was snoozed anew, or woke
/// up meanwhile).
async fn unsnooze(
    deps: &RouterDeps,
    conversation_id: ConversationId,
    until: Timestamp,
    step: &mut Step,
) -> Result<JobOutcome, JobError> {
    for _ in 0..MAX_CONFLICT_RETRIES {
        let Some(mut c) = deps.conversations.get_conversation(conversation_id).await? else {
            return Ok(JobOutcome::Done);
        };
        if c.snoozed_until != Some(until) {
            return Ok(JobOutcome::Done);
        }
        c.snoozed_until = None;
        match deps.conversations.update_conversation(&c).await {
            Ok(stored) => {
                step.conversation_updated(deps, &stored).await?;
                return Ok(JobOutcome::Done);
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(JobError::Transient(
        "conversation kept changing during unsnooze".to_owned(),
    ))
}

/// A conversation still waiting since `queued_at` gets its place in the queue again, and the
/// next notice.
async fn queue_notice(
    deps: &RouterDeps,
    conversation_id: ConversationId,
    queued_at: Timestamp,
    step: &mut Step,
) -> Result<JobOutcome, JobError> {
    let Some(c) = deps.conversations.get_conversation(conversation_id).await? else {
        return Ok(JobOutcome::Done);
    };
    if c.status != ConversationStatus::Queued
        || c.assignee_id.is_some()
        || c.queued_at != Some(queued_at)
    {
        return Ok(JobOutcome::Done);
    }
    let line = BotLine {
        text: ai::coming_text(deps, &c).await?,
        buttons: Vec::new(),
        link: None,
    };
    bot_say(deps, &c, c.channel, line, step).await?;
    step.conversation = Some(c.clone());
    schedule_queue_notice(deps, &c).await;
    Ok(JobOutcome::Done)
}

/// Asks the customer of a conversation an agent resolved to rate it: buttons 1–5 on Telegram,
/// a question to answer with a number elsewhere. Once per resolve, never when it was rated,
/// reopened or resolved again meanwhile.
async fn csat_survey(
    deps: &RouterDeps,
    conversation_id: ConversationId,
    resolved_at: Timestamp,
    step: &mut Step,
) -> Result<JobOutcome, JobError> {
    if !deps.settings.csat {
        return Ok(JobOutcome::Done);
    }
    for _ in 0..MAX_CONFLICT_RETRIES {
        let Some(mut c) = deps.conversations.get_conversation(conversation_id).await? else {
            return Ok(JobOutcome::Done);
        };
        if c.status != ConversationStatus::Resolved
            || c.resolved_at != Some(resolved_at)
            || c.csat.is_some()
            || c.csat_asked_at.is_some_and(|t| t >= resolved_at)
        {
            return Ok(JobOutcome::Done);
        }
        c.csat_asked_at = Some(deps.clock.now());
        match deps.conversations.update_conversation(&c).await {
            Ok(stored) => {
                let buttons_here = stored.channel == omnidesk_domain::Channel::Telegram;
                let line = if buttons_here {
                    BotLine {
                        text: deps.settings.csat_question.clone(),
                        buttons: (1..=5)
                            .map(|n| omnidesk_domain::Button {
                                text: "\u{2b50}".repeat(n),
                                data: format!("csat:{n}"),
                            })
                            .collect(),
                        link: None,
                    }
                } else {
                    BotLine {
                        text: format!(
                            "{} {}",
                            deps.settings.csat_question, deps.settings.csat_reply_hint
                        ),
                        buttons: Vec::new(),
                        link: None,
                    }
                };
                bot_say(deps, &stored, stored.channel, line, step).await?;
                step.conversation_updated(deps, &stored).await?;
                step.conversation = Some(stored);
                return Ok(JobOutcome::Done);
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(JobError::Transient(
        "conversation kept changing during the rating question".to_owned(),
    ))
}
