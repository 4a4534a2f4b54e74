//! Agents: creation (CLI), login, profile, presence.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use omnidesk_core::{ServerEvent, StoreError};
use omnidesk_domain::{Agent, AgentStatus, EmailAddress, ParseError, Role, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::{self, Event};
use crate::auth::PasswordError;
use crate::error::{ApiError, Body, PathParam};
use crate::refresh::{self, Lineage};
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

/// Creates an agent (offline, default capacity) who logs in with `email` and `password`: the
/// deployment's first agent is an admin, later ones agents (see [`create_agent_as`]).
pub async fn create_agent(
    deps: &ApiDeps,
    email: &str,
    name: &str,
    password: &str,
) -> Result<Agent, CreateAgentError> {
    create_agent_as(deps, email, name, password, None).await
}

/// [`create_agent`] with a role; `None`: admin for the deployment's first agent (someone must
/// be able to manage it), else agent.
pub async fn create_agent_as(
    deps: &ApiDeps,
    email: &str,
    name: &str,
    password: &str,
    role: Option<Role>,
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
    let role = match role {
        Some(role) => role,
        None if deps
            .agents
            .list_agents()
            .await
            .map_err(CreateAgentError::Store)?
            .is_empty() =>
        {
            Role::Admin
        }
        None => Role::Agent,
    };
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
        role,
        disabled: false,
        totp: false,
        totp_secret: None,
        created_at: deps.clock.now(),
    };
    match deps.agents.create_agent(&agent).await {
        Ok(()) => {
            let role = agent.role.as_str();
            audit::record(
                deps,
                Event::by(None, "agent_created").on(&agent.id).detail(role),
            )
            .await;
            Ok(agent)
        }
        Err(StoreError::Conflict(_)) => Err(CreateAgentError::DuplicateEmail(agent.email)),
        Err(e) => Err(CreateAgentError::Store(e)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    email: String,
    password: String,
    /// The current TOTP code, for an account with two-factor sign-in on.
    #[serde(default)]
    totp: Option<String>,
}

/// `POST /api/v1/auth/login`: 429 with `Retry-After` while the account or the client address
/// is locked by failed sign-ins (see [`crate::signin`]), checked before the password.
pub(crate) async fn login(
    State(deps): State<AppState>,
    address: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    Body(req): Body<LoginRequest>,
) -> Result<Response, ApiError> {
    let email = EmailAddress::parse(&req.email).map_err(|e| ApiError::invalid("email", e))?;
    let address = address.map(|Extension(a)| a);
    let from = address.map(|ClientAddr(ip)| ip.to_string());
    let attempt = Attempt::new(&email, address);
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
    let known = agent.as_ref().map(|a| a.id);
    let Some(agent) = agent.filter(|_| ok) else {
        tracing::info!("failed login");
        attempt.failed(deps.agents.as_ref(), now).await?;
        // The account when it exists (by id); the e-mail typed is not kept.
        let mut event = Event::by(None, "sign_in_failed").from(from);
        if let Some(id) = known {
            event = event.on(&id);
        }
        audit::record(&deps, event).await;
        return Err(ApiError::bad_credentials());
    };
    if agent.disabled {
        tracing::info!(agent_id = %agent.id, "sign-in of a disabled agent refused");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "account_disabled",
            "this account is disabled; ask an admin",
        ));
    }
    if agent.totp {
        let Some(code) = req.totp.as_deref().filter(|c| !c.trim().is_empty()) else {
            // The password was right: the second step asks for the code.
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "totp_required",
                "enter the 6-digit code of your authenticator app (`totp`)",
            ));
        };
        if !crate::totp::accept(deps.agents.as_ref(), &agent, code, now).await? {
            tracing::info!(agent_id = %agent.id, "failed login: the TOTP code");
            attempt.failed(deps.agents.as_ref(), now).await?;
            audit::record(
                &deps,
                Event::by(None, "sign_in_failed")
                    .on(&agent.id)
                    .detail("code")
                    .from(from),
            )
            .await;
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_totp",
                "that code is not right or was used already; wait for the next one",
            ));
        }
    }
    let version = crate::auth::session_version(deps.agents.as_ref(), agent.id).await?;
    tracing::info!(agent_id = %agent.id, "agent logged in");
    audit::record(&deps, Event::by(Some(agent.id), "signed_in").from(from)).await;
    refresh::signed_in(&deps, &headers, agent, version, Lineage::SignIn).await
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

fn gone() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the agent of this token no longer exists",
    )
}

/// `GET /api/v1/agents/me`.
pub(crate) async fn me(me: Me) -> Result<Json<Agent>, ApiError> {
    Ok(Json((*me.1).clone()))
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

/// `POST /api/v1/auth/ws-ticket`: a single-use ticket (60 s) to connect the agent WebSocket
/// with (`/ws?agent_ticket=…` locally, `?agent_ticket=` on API Gateway) instead of the token.
pub(crate) async fn ws_ticket(
    State(deps): State<AppState>,
    me: Me,
) -> Result<Json<Value>, ApiError> {
    let (ticket, expires_at) = crate::auth::issue_ticket(
        deps.tickets.as_ref(),
        crate::auth::Session {
            agent: me.0,
            version: me.2,
        },
        deps.clock.now(),
    )
    .await?;
    Ok(Json(json!({ "ticket": ticket, "expires_at": expires_at })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordRequest {
    current_password: String,
    new_password: String,
}

/// Checks that `password` (the body's `field`) is `agent`'s current one, like a sign-in: a
/// locked account or address gets the 429 to answer (`Some`), a wrong password counts as a
/// failed sign-in and is 403 `wrong_password`.
pub(crate) async fn check_current_password(
    deps: &AppState,
    address: Option<ClientAddr>,
    agent: &Agent,
    password: String,
    field: &str,
) -> Result<Option<Response>, ApiError> {
    let attempt = Attempt::new(&agent.email, address);
    let now = deps.clock.now();
    if let Some(until) = attempt.locked_until(deps.agents.as_ref(), now).await? {
        return Ok(Some(locked(now, until)));
    }
    let auth = deps.auth.clone();
    let hash = agent.password_hash.clone();
    let ok = tokio::task::spawn_blocking(move || auth.verify_password(&password, &hash))
        .await
        .map_err(|e| PasswordError::from_join(&e))
        .map_err(|e| {
            tracing::error!(error = %e, "password task failed");
            ApiError::internal()
        })?;
    if ok {
        return Ok(None);
    }
    attempt.failed(deps.agents.as_ref(), now).await?;
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "wrong_password",
        format!("{field}: that is not your current password"),
    ))
}

/// `PUT /api/v1/agents/me/password`: changes the password (the current one proves it is the
/// agent; a wrong one counts as a failed sign-in). Every other session ends; the answer is a
/// new token, like a sign-in's.
pub(crate) async fn change_password(
    State(deps): State<AppState>,
    address: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    me: Me,
    Body(req): Body<PasswordRequest>,
) -> Result<Response, ApiError> {
    let agent = (*me.1).clone();
    // The current password first: whoever does not know it learns nothing of the rules.
    if let Some(locked) = check_current_password(
        &deps,
        address.map(|Extension(a)| a),
        &agent,
        req.current_password,
        "current_password",
    )
    .await?
    {
        return Ok(locked);
    }
    check_new_password(&req.new_password)?;
    let auth = deps.auth.clone();
    let new = req.new_password;
    let new_hash = tokio::task::spawn_blocking(move || auth.hash_password(&new))
        .await
        .map_err(|e| PasswordError::from_join(&e))
        .and_then(|r| r);
    let mut agent = agent;
    agent.password_hash = new_hash.map_err(|e| {
        tracing::error!(error = %e, "could not hash the new password");
        ApiError::internal()
    })?;
    deps.agents.update_agent(&agent).await?;
    let version = crate::auth::end_sessions(deps.agents.as_ref(), agent.id).await?;
    tracing::info!(agent_id = %agent.id, "password changed; other sessions ended");
    audit::record(&deps, Event::by(Some(agent.id), "password_changed")).await;
    // This browser stays signed in: a new access token and refresh cookie (a new family).
    refresh::signed_in(&deps, &headers, agent, version, Lineage::SignIn).await
}

/// The rules a new password must meet, as a 400 naming `new_password`.
fn check_new_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(
            "new_password",
            format!("must have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if crate::signin::is_common_password(password) {
        return Err(ApiError::invalid(
            "new_password",
            "is one of the most common passwords; choose another",
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentPatch {
    role: Option<String>,
    disabled: Option<bool>,
    /// `false` turns off the agent's two-factor sign-in (a lost phone); only the agent turns it on.
    totp: Option<bool>,
    /// The agent's teams, all of them (`[]`: none); each must exist.
    teams: Option<Vec<String>>,
}

/// `PATCH /api/v1/agents/{id}` (admins): changes an agent's role, teams, or disables (enables)
/// them. A role change or disabling ends the agent's sessions at once; a team change applies to
/// their open dashboards at once (what they are pushed, and their lists on `agent.updated`).
/// The last enabled admin cannot be demoted or disabled (409 `last_admin`): someone must be
/// able to manage the deployment. A team that does not exist: 409 `unknown_team`.
pub(crate) async fn patch_agent(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
    Body(patch): Body<AgentPatch>,
) -> Result<Json<Agent>, ApiError> {
    let id = omnidesk_domain::AgentId::parse(&id).map_err(|e| ApiError::invalid("id", e))?;
    let role = patch
        .role
        .as_deref()
        .map(Role::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("role", e))?;
    let teams = match &patch.teams {
        Some(names) => Some(existing_teams(&deps, names).await?),
        None => None,
    };
    let all = deps.agents.list_agents().await?;
    let mut agent = all
        .iter()
        .find(|a| a.id == id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("agent"))?;
    let before = (agent.role, agent.disabled);
    let teams_before = agent.teams.clone();
    if let Some(teams) = teams {
        agent.teams = teams;
    }
    let teams_changed = agent.teams != teams_before;
    if let Some(role) = role {
        agent.role = role;
    }
    if let Some(disabled) = patch.disabled {
        agent.disabled = disabled;
    }
    let reset_totp = match patch.totp {
        Some(true) => {
            return Err(ApiError::invalid(
                "totp",
                "only `false`: an agent turns two-factor sign-in on themselves",
            ));
        }
        Some(false) => agent.totp || agent.totp_secret.is_some(),
        None => false,
    };
    if reset_totp {
        agent.totp = false;
        agent.totp_secret = None;
    }
    let access_changed = (agent.role, agent.disabled) != before || reset_totp;
    if !access_changed && !teams_changed {
        return Ok(Json(agent));
    }
    if access_changed {
        let admins_left = all
            .iter()
            .filter(|a| a.id != id && a.role == Role::Admin && !a.disabled)
            .count();
        if admins_left == 0 && (agent.role != Role::Admin || agent.disabled) {
            return Err(ApiError::conflict(
                "last_admin",
                "this is the last admin: make someone else an admin first",
            ));
        }
        if agent.disabled {
            // A disabled agent takes nothing new and their open conversations are offered again.
            agent.status = AgentStatus::Offline;
            agent.chosen_status = Some(AgentStatus::Offline);
        }
    }
    deps.agents.update_agent(&agent).await?;
    if access_changed {
        crate::auth::end_sessions(deps.agents.as_ref(), id).await?;
        omnidesk_core::usecases::forget_connections_of(deps.connections.as_ref(), id).await?;
        tracing::info!(
            agent_id = %id,
            by = %me.0,
            role = agent.role.as_str(),
            disabled = agent.disabled,
            "agent role or access changed; their sessions ended"
        );
    } else {
        // A team change alone ends no session: the open connections are narrowed by the new
        // teams from the next push.
        let open =
            omnidesk_core::usecases::update_viewers_of(deps.connections.as_ref(), &agent).await?;
        tracing::info!(agent_id = %id, by = %me.0, open, "agent's teams changed");
    }
    if agent.role != before.0 {
        let change = format!("{} → {}", before.0.as_str(), agent.role.as_str());
        audit::record(
            &deps,
            Event::by(Some(me.0), "role_changed").on(&id).detail(change),
        )
        .await;
    }
    if reset_totp {
        audit::record(&deps, Event::by(Some(me.0), "totp_reset").on(&id)).await;
    }
    if agent.disabled != before.1 {
        let action = if agent.disabled {
            "agent_disabled"
        } else {
            "agent_enabled"
        };
        audit::record(&deps, Event::by(Some(me.0), action).on(&id)).await;
    }
    if teams_changed {
        audit::record(
            &deps,
            Event::by(Some(me.0), "teams_changed")
                .on(&id)
                .detail(team_list(&agent)),
        )
        .await;
    }
    let mut events = vec![ServerEvent::AgentUpdated {
        agent: Box::new(agent.clone()),
    }];
    if agent.disabled && !before.1 {
        events.push(ServerEvent::Presence {
            agent_id: id,
            status: AgentStatus::Offline,
        });
    }
    publish(&deps, &events).await;
    if agent.disabled && !before.1 {
        requeue_of(&deps, id).await;
    }
    Ok(Json(agent))
}

/// The teams named, each checked to exist (409 `unknown_team` names the first that does not).
async fn existing_teams(deps: &AppState, names: &[String]) -> Result<BTreeSet<String>, ApiError> {
    let mut teams = BTreeSet::new();
    for raw in names {
        let name = omnidesk_domain::TeamName::parse(raw.trim())
            .map_err(|e| ApiError::invalid("teams", e))?;
        if deps.routing.get_team(&name).await?.is_none() {
            return Err(ApiError::conflict(
                "unknown_team",
                format!("there is no team {name:?}; create it first"),
            ));
        }
        teams.insert(name.as_str().to_owned());
    }
    Ok(teams)
}

/// The agent's teams for the audit log ("none" when they have none).
fn team_list(agent: &Agent) -> String {
    if agent.teams.is_empty() {
        return "none".to_owned();
    }
    agent.teams.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// `PUT /api/v1/agents/me/status`: sets presence; an agent who comes online takes queued
/// conversations up to their capacity, oldest waiting first.
pub(crate) async fn set_status(
    State(deps): State<AppState>,
    me: Me,
    Body(req): Body<StatusRequest>,
) -> Result<Json<Agent>, ApiError> {
    let status = AgentStatus::parse(&req.status).map_err(|e| ApiError::invalid("status", e))?;
    let mut agent = (*me.1).clone();
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
        requeue_of(&deps, agent.id).await;
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

/// Hands the unanswered conversations of `agent`, gone offline, to someone else (the router
/// does it, as when their dashboard closes).
async fn requeue_of(deps: &ApiDeps, agent: omnidesk_domain::AgentId) {
    let job = omnidesk_core::TimerJob::AgentAway {
        agent_id: agent,
        disconnected_at: deps.clock.now(),
    };
    let message = job.to_queue_message(std::time::Duration::ZERO);
    if let Err(error) = deps
        .queue
        .send(omnidesk_core::QueueName::Timers, message)
        .await
    {
        tracing::warn!(agent_id = %agent, %error, "could not hand back the agent's conversations");
    }
}
