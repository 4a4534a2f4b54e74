//! What agents set on a conversation besides its assignment: labels, priority, snooze and
//! read. Each change is stored optimistically (re-read and re-applied on a concurrent change)
//! and pushed as `conversation.updated`; a change that changes nothing is neither.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use omnidesk_core::{ConversationView, OutgoingMessage, QueueName, TimerJob};
use omnidesk_domain::{ConversationId, ConversationStatus, Priority, Timestamp, TransitionError};
use serde::Deserialize;

use crate::contacts::parse_tag_list;
use crate::conversations::{Step, apply, load, parse_id, publish_applied};
use crate::error::{ApiError, Body, PathParam};
use crate::{ApiDeps, AppState, Me};

/// Labels on one conversation, at most.
pub(crate) const MAX_LABELS: usize = 20;
/// How far ahead a conversation may be snoozed.
pub(crate) const MAX_SNOOZE: Duration = Duration::from_secs(90 * 24 * 3600);
/// SQS's longest delivery delay: a longer snooze re-arms its timer this often.
pub(crate) const MAX_TIMER_DELAY: Duration = Duration::from_secs(900);

/// Applies `change` to conversation `id`, pushes it when it changed anything and answers the
/// conversation as it is now.
async fn change<F>(
    deps: &ApiDeps,
    me: &Me,
    id: ConversationId,
    change: F,
) -> Result<Json<ConversationView>, ApiError>
where
    F: FnMut(&mut omnidesk_domain::Conversation) -> Result<Step, ApiError>,
{
    let applied = apply(deps, Some(&me.1), id, change).await?;
    Ok(Json(publish_applied(deps, applied, Vec::new()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LabelsRequest {
    labels: Vec<String>,
}

/// `PUT /api/v1/conversations/{id}/labels` `{"labels": [...]}`: replaces the labels.
pub(crate) async fn set_labels(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
    Body(req): Body<LabelsRequest>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = parse_id(&id)?;
    let labels = parse_tag_list("labels", &req.labels, MAX_LABELS)?;
    change(&deps, &me, id, |c| {
        if c.labels == labels {
            return Ok(Step::Skip);
        }
        c.labels = labels.clone();
        Ok(Step::Write(None))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriorityRequest {
    priority: String,
}

/// `PUT /api/v1/conversations/{id}/priority` `{"priority": "high"}`.
pub(crate) async fn set_priority(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
    Body(req): Body<PriorityRequest>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = parse_id(&id)?;
    // Taken as given: only the exact lower-case names.
    let priority = Priority::ALL
        .into_iter()
        .find(|p| p.as_str() == req.priority)
        .ok_or_else(|| ApiError::invalid("priority", "must be low, normal, high or urgent"))?;
    change(&deps, &me, id, |c| {
        if c.priority == priority {
            return Ok(Step::Skip);
        }
        c.priority = priority;
        Ok(Step::Write(None))
    })
    .await
}

/// A time as the API takes it: milliseconds since the epoch, or RFC 3339.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum TimeInput {
    Millis(serde_json::Number),
    Text(String),
}

impl TimeInput {
    fn parse(&self, field: &str) -> Result<Timestamp, ApiError> {
        let invalid =
            || ApiError::invalid(field, "milliseconds since the epoch or an RFC 3339 time");
        match self {
            TimeInput::Millis(n) => whole_number(n)
                .map(Timestamp::from_millis)
                .ok_or_else(invalid),
            TimeInput::Text(s) => Timestamp::parse_rfc3339(s).map_err(|_| invalid()),
        }
    }
}

/// A JSON number as an integer: `2199023255552.0` is an integer to JSON Schema, so to this
/// API too; `1.5` is not. (A float whole and within ±2^53 casts exactly.)
pub(crate) fn whole_number(n: &serde_json::Number) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    n.as_i64().or_else(|| {
        let f = n.as_f64()?;
        (f.fract() == 0.0 && f.abs() <= EXACT).then_some(f as i64)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnoozeRequest {
    until: TimeInput,
}

fn invalid_until(message: &str) -> ApiError {
    // A 409, not a 400: the same body is right a moment earlier or later; what it conflicts
    // with is the clock, which no request schema can state.
    ApiError::conflict("invalid_until", format!("until: {message}"))
}

/// `POST /api/v1/conversations/{id}/snooze` `{"until"}`: hides it from the open views until
/// then (at most [`MAX_SNOOZE`] ahead); a timer on the timers queue wakes it, as does a
/// customer message. A resolved conversation cannot be snoozed.
pub(crate) async fn snooze(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
    Body(req): Body<SnoozeRequest>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = parse_id(&id)?;
    let until = req.until.parse("until")?;
    // A missing or resolved conversation first: that is the answer whatever the time.
    check_snoozable(&load(&deps, Some(&me.1), id).await?)?;
    let now = deps.clock.now();
    if until <= now {
        return Err(invalid_until("must be in the future"));
    }
    let max_ms = i64::try_from(MAX_SNOOZE.as_millis()).unwrap_or(i64::MAX);
    if until.millis() - now.millis() > max_ms {
        return Err(invalid_until("at most 90 days ahead"));
    }
    // The timer before the snooze: a timer whose snooze was never stored (or was replaced)
    // finds a different `snoozed_until` and does nothing, while a stored snooze without its
    // timer would sleep until the customer writes.
    schedule_unsnooze(&deps, id, until, now).await?;
    change(&deps, &me, id, |c| {
        check_snoozable(c)?;
        if c.snoozed_until == Some(until) {
            return Ok(Step::Skip);
        }
        c.snoozed_until = Some(until);
        Ok(Step::Write(None))
    })
    .await
}

fn check_snoozable(c: &omnidesk_domain::Conversation) -> Result<(), ApiError> {
    if c.status == ConversationStatus::Resolved {
        return Err(TransitionError {
            action: "snooze",
            status: c.status.as_str(),
        }
        .into());
    }
    Ok(())
}

/// The timer that wakes a conversation snoozed until `until`, as sent to the timers queue:
/// the body and its delay. A wait longer than SQS allows is a [`TimerJob::Rearm`] that the
/// router sends again until `until` is near.
pub(crate) fn unsnooze_timer(
    conversation_id: ConversationId,
    until: Timestamp,
    now: Timestamp,
) -> (TimerJob, Duration) {
    let job = TimerJob::Unsnooze {
        conversation_id,
        until,
    };
    let wait_ms = u64::try_from(until.millis() - now.millis()).unwrap_or(0);
    // Whole seconds (SQS's unit), rounded up: the timer never fires before `until`.
    let wait = Duration::from_secs(wait_ms.div_ceil(1000));
    if wait <= MAX_TIMER_DELAY {
        (job, wait)
    } else {
        (
            TimerJob::Rearm {
                due: until,
                job: Box::new(job),
            },
            MAX_TIMER_DELAY,
        )
    }
}

async fn schedule_unsnooze(
    deps: &ApiDeps,
    id: ConversationId,
    until: Timestamp,
    now: Timestamp,
) -> Result<(), ApiError> {
    let (job, delay) = unsnooze_timer(id, until, now);
    let body = serde_json::to_string(&job).map_err(|e| {
        tracing::error!(error = %e, "could not encode a timer");
        ApiError::internal()
    })?;
    deps.queue
        .send(QueueName::Timers, OutgoingMessage::delayed(body, delay))
        .await
        .map_err(|e| {
            tracing::warn!(conversation_id = %id, error = %e, "could not schedule the snooze timer");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_unavailable",
                "the snooze timer could not be scheduled; nothing was changed, try again",
            )
        })?;
    Ok(())
}

/// `DELETE /api/v1/conversations/{id}/snooze`: wakes it now (its timer then does nothing).
pub(crate) async fn unsnooze(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
) -> Result<Json<ConversationView>, ApiError> {
    change(&deps, &me, parse_id(&id)?, |c| {
        if c.snoozed_until.is_none() {
            return Ok(Step::Skip);
        }
        c.snoozed_until = None;
        Ok(Step::Write(None))
    })
    .await
}

/// `POST /api/v1/conversations/{id}/read`: an agent has read it (`unread_count` 0).
pub(crate) async fn read(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
) -> Result<Json<ConversationView>, ApiError> {
    change(&deps, &me, parse_id(&id)?, |c| {
        if c.unread_count == 0 {
            return Ok(Step::Skip);
        }
        c.unread_count = 0;
        Ok(Step::Write(None))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snooze_within_fifteen_minutes_is_one_timer_and_a_longer_one_is_rearmed() {
        let id = ConversationId::parse("cv_0190a0f8a1b27c3d8e4f5a6b7c8d9e0f").unwrap();
        let now = Timestamp::from_millis(1_000_000);
        let (job, delay) = unsnooze_timer(id, now.plus_millis(60_500), now);
        assert_eq!(delay, Duration::from_secs(61));
        assert!(
            matches!(job, TimerJob::Unsnooze { until, .. } if until == now.plus_millis(60_500))
        );
        let (job, delay) = unsnooze_timer(id, now.plus_millis(900_000), now);
        assert_eq!(delay, MAX_TIMER_DELAY);
        assert!(matches!(job, TimerJob::Unsnooze { .. }));
        let until = now.plus_millis(900_001);
        let (job, delay) = unsnooze_timer(id, until, now);
        assert_eq!(delay, MAX_TIMER_DELAY);
        assert_eq!(
            job,
            TimerJob::Rearm {
                due: until,
                job: Box::new(TimerJob::Unsnooze {
                    conversation_id: id,
                    until
                })
            }
        );
    }
}
