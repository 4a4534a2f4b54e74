//! The audit log: who signed in (and from where), signed out, changed a password, a role or
//! an agent's access, merged contacts, changed the rules; append-only, listed for admins
//! (`GET /api/v1/audit`), kept for the configured time (`OMNIDESK_AUDIT_RETENTION_DAYS`).
//! Recording is best effort: a store that fails to record never undoes or fails the action
//! (it is logged).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use omnidesk_core::{AuditEntry, AuditStore, PageRequest};
use omnidesk_domain::AgentId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::conversations::parse_limit;
use crate::error::{ApiError, Params};
use crate::{ApiDeps, AppState, Me, cursor};

/// How long entries are kept by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(365 * 24 * 3600);

/// `OMNIDESK_AUDIT_RETENTION_DAYS` (unset: [`DEFAULT_RETENTION`]): whole days, 1 to 3650.
pub fn retention_from(days: Option<&str>) -> Result<Duration, String> {
    let Some(raw) = days.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(DEFAULT_RETENTION);
    };
    match raw.parse::<u64>() {
        Ok(d @ 1..=3650) => Ok(Duration::from_secs(d * 24 * 3600)),
        _ => Err(format!(
            "OMNIDESK_AUDIT_RETENTION_DAYS: {raw:?} is not a whole number of days from 1 to 3650"
        )),
    }
}

/// Where audit entries go and for how long.
#[derive(Clone)]
pub struct AuditLog {
    pub store: Arc<dyn AuditStore>,
    pub keep: Duration,
}

/// One thing to record.
pub struct Event<'a> {
    pub actor: Option<AgentId>,
    pub action: &'a str,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub address: Option<String>,
}

impl<'a> Event<'a> {
    /// `actor` did `action` (to nothing in particular).
    pub fn by(actor: Option<AgentId>, action: &'a str) -> Self {
        Self {
            actor,
            action,
            target: None,
            detail: None,
            address: None,
        }
    }

    pub fn on(mut self, target: &impl ToString) -> Self {
        self.target = Some(target.to_string());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn from(mut self, address: Option<String>) -> Self {
        self.address = address;
        self
    }
}

/// Records `event` now (best effort).
pub async fn record(deps: &ApiDeps, event: Event<'_>) {
    let at = deps.clock.now();
    let keep_ms = i64::try_from(deps.audit.keep.as_millis()).unwrap_or(i64::MAX / 4);
    let entry = AuditEntry {
        id: deps.ids.uuid().simple().to_string(),
        at,
        actor: event.actor,
        action: event.action.to_owned(),
        target: event.target,
        detail: event.detail,
        address: event.address,
    };
    if let Err(e) = deps
        .audit
        .store
        .record_audit(&entry, at.plus_millis(keep_ms))
        .await
    {
        tracing::error!(error = %e, action = event.action, "could not record an audit entry");
    }
}

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /api/v1/audit` (admins): newest first, paged.
pub(crate) async fn list(
    State(deps): State<AppState>,
    _me: Me,
    Params(q): Params<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = parse_limit(q.limit.as_deref(), 50, 200)?;
    let cursor = cursor::open(&deps.auth, "audit", q.cursor.as_deref())?;
    let page = deps
        .audit
        .store
        .list_audit(&PageRequest { limit, cursor })
        .await?;
    let next_cursor = page
        .next_cursor
        .map(|c| cursor::seal(&deps.auth, "audit", &c))
        .transpose()?;
    Ok(Json(
        json!({ "items": page.items, "next_cursor": next_cursor }),
    ))
}
