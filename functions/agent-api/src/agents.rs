//! Agents: creation (CLI), login, profile, presence.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use omnidesk_core::{ServerEvent, StoreError};
use omnidesk_domain::{Agent, AgentStatus, EmailAddress, ParseError, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::PasswordError;
use crate::error::{ApiError, Body};
use crate::signin::{Attempt, ClientAddr};
use crate::{ApiDeps, AppState, Me, conversations, publish};

/// Minimum password length for agents.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Why an agent could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateAgentError {
    #[error(transparent)]
    InvalidEmail(#[from] ParseError),
    #[error("the name must not be empty")]
    EmptyName,
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    #[error("the password is one of the most common passwords; choose another")]
    CommonPassword,
    #[error("an agent with the e-mail {0} exists already")]
    DuplicateEmail(EmailAddress),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("could not store the agent: {0}")]
    Store(#[source] StoreError),
}

/// Creates an agent (offline, default capacity) who logs in with `email` and `password`.
pub async fn create_agent(
    deps: &ApiDeps,
    email: &str,
    name: &str,
    password: &str,
) -> Result<Agent, CreateAgentError> {
    let email = EmailAddress::parse(email)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(CreateAgentError::EmptyName);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CreateAgentError::PasswordTooShort);
    }
    if crate::signin::is_common_password(password) {
        return Err(CreateAgentError::CommonPassword);
    }
    if deps
        .agents
        .agent_id_by_email(&email)
        .await
        .map_err(CreateAgentError::Store)?
        .is_some()
    {
        return Err(CreateAgentError::DuplicateEmail(email));
    }
    let auth = deps.auth.clone();
    let password = password.to_owned();
    let password_hash = tokio::task::spawn_blocking(move || auth.hash_password(&password))
        .await
        .map_err(|e| PasswordError::from_join(&e))??;
    let agent = Agent {
        id: deps.ids.agent_id(),
        email,
        name: name.to_owned(),
        password_hash,
        teams: BTreeSet::new(),
        skills: BTreeSet::new(),
        languages: BTreeSet::new(),
        language: None,
        status: AgentStatus::Offline,
        chosen_status: None,
        capacity: Agent::DEFAULT_CAPACITY,
        created_at: deps.clock.now(),
    };
    match deps.agents.create_agent(&agent).await {
        Ok(()) => Ok(agent),
        Err(StoreError::Conflict(_)) => Err(CreateAgentError::DuplicateEmail(agent.email)),
        Err(e) => Err(CreateAgentError::Store(e)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Serialize)]
struct LoginResponse {
    token: String,
    expires_at: Timestamp,
    agent: Agent,
}

/// `POST /api/v1/auth/login`: 429 with `Retry-After` while the account or the client address
/// is locked by failed sign-ins (see [`crate::signin`]), checked before the password.
pub(crate) async fn login(
    State(deps): State<AppState>,
    address: Option<Extension<ClientAddr>>,
    Body(req): Body<LoginRequest>,
) -> Result<Response, ApiError> {
    let email = EmailAddress::parse(&req.email).map_err(|e| ApiError::invalid("email", e))?;
    let attempt = Attempt::new(&email, address.map(|Extension(a)| a));
    let now = deps.clock.now();
    if let Some(until) = attempt.locked_until(deps.agents.as_ref(), now).await? {
        tracing::info!("sign-in refused while locked by failed attempts");
        return Ok(locked(now, until));
    }
    let agent = match deps.agents.agent_id_by_email(&email).await? {
        Some(id) => deps.agents.get_agent(id).await?,
        None => None,
    };
    let auth = deps.auth.clone();
    let password = req.password;
    let (ok, agent) = tokio::task::spawn_blocking(move || match agent {
        Some(a) => (auth.verify_password(&password, &a.password_hash), Some(a)),
        None => {
            auth.dummy_verify(&password);
            (false, None)
        }
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "password verification task failed");
        ApiError::internal()
    })?;
    let Some(agent) = agent.filter(|_| ok) else {
        tracing::info!("failed login");
        attempt.failed(deps.agents.as_ref(), now).await?;
        return Err(ApiError::bad_credentials());
    };
    let issued = deps.auth.issue(agent.id)?;
    tracing::info!(agent_id = %agent.id, "agent logged in");
    let body = LoginResponse {
        token: issued.token,
        expires_at: issued.expires_at,
        agent,
    };
    Ok(Json(json!(body)).into_response())
}

/// 429 until `until`: the seconds to wait in `Retry-After` and the message.
fn locked(now: Timestamp, until: Timestamp) -> Response {
    let secs = u64::try_from(until.millis() - now.millis())
        .unwrap_or(0)
        .div_ceil(1000)
        .max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        format!("too many failed sign-ins; try again in {}", wait_text(secs)),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// `secs` for people: "45 seconds", "12 minutes", "3 hours".
fn wait_text(secs: u64) -> String {
    match secs {
        0..=1 => "1 second".to_owned(),
        2..=90 => format!("{secs} seconds"),
        91..=5400 => format!("{} minutes", secs.div_ceil(60)),
        _ => format!("{} hours", secs.div_ceil(3600)),
    }
}

/// Loads the authenticated agent (401 if their account is gone).
pub(crate) async fn load_me(deps: &ApiDeps, me: Me) -> Result<Agent, ApiError> {
    deps.agents.get_agent(me.0).await?.ok_or_else(gone)
}

fn gone() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the agent of this token no longer exists",
    )
}

/// `GET /api/v1/agents/me`.
pub(crate) async fn me(State(deps): State<AppState>, me: Me) -> Result<Json<Agent>, ApiError> {
    Ok(Json(load_me(&deps, me).await?))
}

/// `GET /api/v1/agents`.
pub(crate) async fn list(State(deps): State<AppState>, _me: Me) -> Result<Json<Value>, ApiError> {
    let agents = deps.agents.list_agents().await?;
    Ok(Json(json!({ "items": agents })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusRequest {
    status: String,
}

/// `PUT /api/v1/agents/me/status`: sets presence; an agent who comes online takes queued
/// conversations up to their capacity, oldest waiting first.
pub(crate) async fn set_status(
    State(deps): State<AppState>,
    me: Me,
    Body(req): Body<StatusRequest>,
) -> Result<Json<Agent>, ApiError> {
    let status = AgentStatus::parse(&req.status).map_err(|e| ApiError::invalid("status", e))?;
    let mut agent = load_me(&deps, me).await?;
    // Their choice sticks across dashboard sessions; online means "follow the dashboard".
    let chosen = (status != AgentStatus::Online).then_some(status);
    let changed = agent.status != status || agent.chosen_status != chosen;
    agent.status = status;
    agent.chosen_status = chosen;
    if changed {
        match deps.agents.update_agent(&agent).await {
            Ok(()) => {}
            // Removed since `load_me` read it: as if it had been gone then.
            Err(StoreError::NotFound(_)) => return Err(gone()),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(agent_id = %agent.id, status = status.as_str(), "agent status changed");
        publish(
            &deps,
            &[ServerEvent::Presence {
                agent_id: agent.id,
                status,
            }],
        )
        .await;
    }
    if status == AgentStatus::Offline && changed {
        // Their unanswered conversations go to someone else (the router does it, as when
        // their dashboard closes).
        let job = omnidesk_core::TimerJob::AgentAway {
            agent_id: agent.id,
            disconnected_at: deps.clock.now(),
        };
        let message = job.to_queue_message(std::time::Duration::ZERO);
        if let Err(error) = deps
            .queue
            .send(omnidesk_core::QueueName::Timers, message)
            .await
        {
            tracing::warn!(agent_id = %agent.id, %error, "could not hand back the agent's conversations");
        }
    }
    if status == AgentStatus::Online {
        // The status change stands even if the pick-up fails; the router assigns later.
        if let Err(e) = conversations::take_queued(&deps, &agent).await {
            tracing::warn!(agent_id = %agent.id, error = %e.message, "could not take queued conversations");
        }
    }
    Ok(Json(agent))
}

impl PasswordError {
    fn from_join(e: &tokio::task::JoinError) -> Self {
        Self::new(format!("hashing task failed: {e}"))
    }
}
