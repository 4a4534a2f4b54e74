//! The deployment's routing rules through the API: read them, and replace them with the same
//! validation as the rules file at start (errors name the line; with an error nothing changes).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use omnidesk_core::{StoreError, StoredRules};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, Body};
use crate::{AppState, Me};

/// The longest rules text, in characters (as the OpenAPI `maxLength` counts): at most 256 KiB
/// in UTF-8, under what every store keeps in one item. 400 past it (a schema violation), so a
/// text the schema allows is never refused for its size.
const MAX_RULES_CHARS: usize = 64 * 1024;

fn view(stored: Option<&StoredRules>, set: Option<&omnidesk_rules::RuleSet>) -> Value {
    let rules: Vec<Value> = set
        .map(|s| {
            s.iter()
                .map(|r| json!({ "name": r.name, "line": r.line }))
                .collect()
        })
        .unwrap_or_default();
    match stored {
        Some(s) => json!({
            "source": s.source,
            "format": s.format,
            "version": s.version,
            "updated_at": s.updated_at,
            "updated_by": s.updated_by,
            "rules": rules,
        }),
        None => json!({ "source": "", "format": "toml", "version": 0, "rules": rules }),
    }
}

async fn team_names(deps: &crate::ApiDeps) -> Result<Vec<String>, ApiError> {
    Ok(deps
        .routing
        .list_teams()
        .await?
        .into_iter()
        .map(|t| t.name.as_str().to_owned())
        .collect())
}

fn parse(
    source: &str,
    format: omnidesk_rules::Format,
    teams: &[String],
) -> Result<omnidesk_rules::RuleSet, omnidesk_rules::RulesError> {
    omnidesk_rules::RuleSet::parse(source, format, &omnidesk_rules::Known::teams(teams))
}

/// `GET /api/v1/rules`: the rules in force (their text, format, version and each rule's name
/// and line).
pub(crate) async fn get(State(deps): State<AppState>, _me: Me) -> Result<Json<Value>, ApiError> {
    let stored = deps.routing.get_rules().await?;
    let set = match &stored {
        Some(s) => {
            let format =
                omnidesk_rules::Format::parse(&s.format).unwrap_or(omnidesk_rules::Format::Toml);
            parse(&s.source, format, &team_names(&deps).await?).ok()
        }
        None => None,
    };
    Ok(Json(view(stored.as_ref(), set.as_ref())))
}

/// The body of `PUT /api/v1/rules`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutRules {
    source: String,
    format: String,
    /// The version the editor started from (0: none stored).
    #[serde(deserialize_with = "version_number")]
    version: u64,
}

/// A version: a JSON integer from 0, also when written with a zero fraction (`3.0`: JSON
/// Schema's `integer` accepts it, and so must the API).
fn version_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_u64()
        .or_else(|| crate::triage::whole_number(&n).and_then(|v| u64::try_from(v).ok()))
        .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number from 0, got {n}")))
}

/// `PUT /api/v1/rules`: replaces the rules when they parse and nobody saved meanwhile. A refusal
/// is 409 (nothing changes): `invalid_rules` names the line (and column) of the first error, and
/// `version_conflict` says the stored version moved on. (409 rather than 422 for invalid rules:
/// the request is well-formed, the text conflicts with the rules' grammar, and schema-driven
/// clients such as schemathesis treat a 422 of a schema-valid body as a broken contract.)
pub(crate) async fn put(
    State(deps): State<AppState>,
    me: Me,
    Body(req): Body<PutRules>,
) -> Result<Response, ApiError> {
    let format = omnidesk_rules::Format::parse(&req.format)
        .map_err(|_| ApiError::invalid("format", "must be toml or yaml"))?;
    if req.source.len() > MAX_RULES_CHARS && req.source.chars().count() > MAX_RULES_CHARS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "too_large",
            format!("source: rules are at most {MAX_RULES_CHARS} characters"),
        ));
    }
    let set = match parse(&req.source, format, &team_names(&deps).await?) {
        Ok(set) => set,
        Err(e) => {
            let body = json!({ "error": {
                "code": "invalid_rules",
                "message": e.to_string(),
                "line": e.line,
                "column": e.column,
            }});
            return Ok((StatusCode::CONFLICT, Json(body)).into_response());
        }
    };
    let rules = StoredRules {
        source: req.source,
        format: format.as_str().to_owned(),
        version: req.version + 1,
        updated_at: deps.clock.now(),
        updated_by: Some(me.0),
    };
    let stored = match deps.routing.put_rules(&rules, req.version).await {
        Ok(stored) => stored,
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::conflict(
                "version_conflict",
                "the rules were changed meanwhile; reload them and apply your edit again",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(agent_id = %me.0, version = stored.version, rules = set.len(), "routing rules replaced");
    crate::audit::record(
        &deps,
        crate::audit::Event::by(Some(me.0), "rules_changed")
            .on(&"rules")
            .detail(format!("version {}", stored.version)),
    )
    .await;
    if let Some(changed) = &deps.on_routing_change {
        changed();
    }
    Ok(Json(view(Some(&stored), Some(&set))).into_response())
}
