//! Teams as agents see them: each team's settings, whether it is open now, and its agents.

use axum::Json;
use axum::extract::State;
use omnidesk_domain::{Agent, AgentId, Team, Timestamp};
use serde::Serialize;

use crate::error::ApiError;
use crate::{AppState, Me};

#[derive(Debug, Serialize)]
pub(crate) struct TeamView {
    name: String,
    timezone: String,
    hours: String,
    holidays: Vec<String>,
    answer_within_secs: u32,
    max_hops: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    busy_prompt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out_of_office: Option<String>,
    open_now: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_open: Option<Timestamp>,
    /// The agents in the team (their `teams` name it, in any case), by id.
    agents: Vec<AgentId>,
}

impl TeamView {
    fn new(team: Team, agents: &[Agent], now: Timestamp) -> Self {
        let name = team.name.as_str();
        let members = agents
            .iter()
            .filter(|a| a.teams.iter().any(|t| t.to_lowercase() == name))
            .map(|a| a.id)
            .collect();
        let (open_now, next_open) = match omnidesk_rules::hours::Schedule::parse(
            &team.hours,
            &team.timezone,
            &team.holidays,
        ) {
            Ok(schedule) => (schedule.is_open(now), schedule.next_open(now)),
            // Stored before a check this build makes: routing counts it as always open.
            Err(_) => (true, None),
        };
        Self {
            name: name.to_owned(),
            timezone: team.timezone,
            hours: team.hours,
            holidays: team.holidays,
            answer_within_secs: team.answer_within_secs,
            max_hops: team.max_hops,
            busy_prompt: team.busy_prompt,
            out_of_office: team.out_of_office,
            open_now,
            next_open,
            agents: members,
        }
    }
}

/// `GET /api/v1/teams`: every team, by name.
pub(crate) async fn list(
    State(deps): State<AppState>,
    _me: Me,
) -> Result<Json<Vec<TeamView>>, ApiError> {
    let teams = deps.routing.list_teams().await?;
    let agents = if teams.is_empty() {
        Vec::new()
    } else {
        deps.agents.list_agents().await?
    };
    let now = deps.clock.now();
    Ok(Json(
        teams
            .into_iter()
            .map(|t| TeamView::new(t, &agents, now))
            .collect(),
    ))
}

/// A Telegram bot as agents see it: which one a message came through (never its token).
#[derive(Debug, Serialize)]
pub(crate) struct BotView {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
}

/// `GET /api/v1/bots`: the deployment's Telegram bots, by id.
pub(crate) async fn bots(
    State(deps): State<AppState>,
    _me: Me,
) -> Result<Json<serde_json::Value>, ApiError> {
    let items: Vec<BotView> = deps
        .bots
        .list_bots()
        .await?
        .into_iter()
        .map(|b| BotView {
            id: b.id.to_string(),
            username: b.username,
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items })))
}
