//! The AI in the agent API: what answers first, the FAQ editor, the log of the AI's calls for
//! review, agent assist (summarise, suggest a reply) and handing a conversation back to the AI.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use omnidesk_ai_worker::Assist;
use omnidesk_core::{ConversationView, FaqEntry, JobError};
use omnidesk_domain::{ConversationId, LanguageTag};
use omnidesk_router::AiMode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::conversations::{Step, apply, load, parse_id, publish_applied};
use crate::error::{ApiError, Body, Params, PathParam};
use crate::{AppState, Me};

/// The deployment's AI: its mode and what it thinks with.
pub struct ApiAi {
    pub mode: AiMode,
    pub assist: Arc<Assist>,
}

fn ai(deps: &crate::ApiDeps) -> Result<&ApiAi, ApiError> {
    deps.ai.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "ai_unavailable",
            "the AI is not set up on this deployment",
        )
    })
}

fn job_error(e: &JobError) -> ApiError {
    tracing::warn!(error = %e, "AI assist failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ai_unavailable",
        "the AI could not answer; try again",
    )
}

/// `GET /api/v1/ai`: what answers first, with which model, over how many FAQ entries.
pub(crate) async fn info(State(deps): State<AppState>, _me: Me) -> Result<Json<Value>, ApiError> {
    let a = ai(&deps)?;
    // The entries the AI answers from, as its knowledge base holds them (read again only when
    // the FAQ's version changed): the dashboard asks at every start and reconnect.
    let (version, entries) = a.assist.kb.current(a.assist.ai.as_ref()).await?;
    Ok(Json(json!({
        "provider": a.mode.as_str(),
        "model": a.assist.llm.as_ref().map(|l| l.model().to_owned()),
        "faq_entries": entries.len(),
        "faq_version": version,
    })))
}

/// `GET /api/v1/faq`: every entry, and the FAQ's version.
pub(crate) async fn list_faq(
    State(deps): State<AppState>,
    _me: Me,
) -> Result<Json<Value>, ApiError> {
    let faq = ai(&deps)?.assist.ai.faq().await?;
    Ok(Json(
        json!({ "version": faq.version, "entries": faq.entries }),
    ))
}

/// The body of `POST /api/v1/faq` and `PUT /api/v1/faq/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaqBody {
    questions: Vec<String>,
    answer: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// At most this many question variants per entry.
pub const MAX_QUESTIONS: usize = 100;
/// The longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 500;
/// The longest answer, in characters.
pub const MAX_ANSWER_CHARS: usize = 4000;

/// Checks an entry's fields: at least one question and none blank, a non-blank answer, the
/// limits, a valid language tag. Questions are trimmed and deduplicated.
pub fn faq_entry(
    id: String,
    questions: &[String],
    answer: &str,
    language: Option<&str>,
    enabled: bool,
    now: omnidesk_domain::Timestamp,
) -> Result<FaqEntry, ApiError> {
    // Checked as written (the limits of the OpenAPI document), stored trimmed.
    let mut qs: Vec<String> = Vec::new();
    for q in questions {
        if q.chars().count() > MAX_QUESTION_CHARS {
            return Err(ApiError::invalid(
                "questions",
                format!("a question has at most {MAX_QUESTION_CHARS} characters"),
            ));
        }
        let q = q.trim();
        if q.is_empty() {
            return Err(ApiError::invalid(
                "questions",
                "a question must not be blank",
            ));
        }
        if !qs.iter().any(|x| x == q) {
            qs.push(q.to_owned());
        }
    }
    if qs.is_empty() {
        return Err(ApiError::invalid("questions", "give at least one question"));
    }
    if questions.len() > MAX_QUESTIONS {
        return Err(ApiError::invalid(
            "questions",
            format!("at most {MAX_QUESTIONS} questions per entry"),
        ));
    }
    if answer.chars().count() > MAX_ANSWER_CHARS {
        return Err(ApiError::invalid(
            "answer",
            format!("at most {MAX_ANSWER_CHARS} characters"),
        ));
    }
    let answer = answer.trim();
    if answer.is_empty() {
        return Err(ApiError::invalid("answer", "must not be empty"));
    }
    let language = language
        .map(|l| LanguageTag::parse(l).map_err(|e| ApiError::invalid("language", e)))
        .transpose()?;
    Ok(FaqEntry {
        id,
        questions: qs,
        answer: answer.to_owned(),
        language,
        enabled,
        updated_at: now,
    })
}

/// A new entry's id.
pub fn new_faq_id() -> String {
    format!("faq_{}", uuid::Uuid::now_v7().simple())
}

/// `POST /api/v1/faq`: adds an entry.
pub(crate) async fn create_faq(
    State(deps): State<AppState>,
    _me: Me,
    Body(body): Body<FaqBody>,
) -> Result<Response, ApiError> {
    let a = ai(&deps)?;
    let entry = faq_entry(
        new_faq_id(),
        &body.questions,
        &body.answer,
        body.language.as_deref(),
        body.enabled.unwrap_or(true),
        deps.clock.now(),
    )?;
    a.assist
        .ai
        .put_faq_entries(std::slice::from_ref(&entry))
        .await?;
    a.assist.kb.invalidate();
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}

/// `PUT /api/v1/faq/{id}`: replaces an entry.
pub(crate) async fn update_faq(
    State(deps): State<AppState>,
    _me: Me,
    PathParam(id): PathParam<String>,
    Body(body): Body<FaqBody>,
) -> Result<Json<FaqEntry>, ApiError> {
    let a = ai(&deps)?;
    let faq = a.assist.ai.faq().await?;
    if !faq.entries.iter().any(|e| e.id == id) {
        return Err(ApiError::not_found("FAQ entry"));
    }
    let entry = faq_entry(
        id,
        &body.questions,
        &body.answer,
        body.language.as_deref(),
        body.enabled.unwrap_or(true),
        deps.clock.now(),
    )?;
    a.assist
        .ai
        .put_faq_entries(std::slice::from_ref(&entry))
        .await?;
    a.assist.kb.invalidate();
    Ok(Json(entry))
}

/// `DELETE /api/v1/faq/{id}`.
pub(crate) async fn delete_faq(
    State(deps): State<AppState>,
    _me: Me,
    PathParam(id): PathParam<String>,
) -> Result<StatusCode, ApiError> {
    let a = ai(&deps)?;
    if !a.assist.ai.delete_faq_entry(&id).await? {
        return Err(ApiError::not_found("FAQ entry"));
    }
    a.assist.kb.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallsQuery {
    conversation_id: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/ai/calls`: the AI's newest calls (prompts, answers, outcome, tokens, cost),
/// of one conversation when `conversation_id` is given.
pub(crate) async fn calls(
    State(deps): State<AppState>,
    me: Me,
    Params(q): Params<CallsQuery>,
) -> Result<Json<Value>, ApiError> {
    let conversation = q
        .conversation_id
        .as_deref()
        .map(|c| {
            ConversationId::parse(c)
                .map_err(|_| ApiError::invalid("conversation_id", "not a conversation id"))
        })
        .transpose()?;
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => return Err(ApiError::invalid("limit", "a whole number from 1 to 200")),
        },
    };
    // One conversation's calls for whoever may read it; the whole log for supervisors.
    match conversation {
        Some(id) => {
            load(&deps, Some(&me.1), id).await?;
        }
        None => me.require(
            omnidesk_domain::Role::Supervisor,
            "read the whole AI call log",
        )?,
    }
    let a = ai(&deps)?;
    let calls = a.assist.ai.ai_calls(conversation, limit).await?;
    Ok(Json(json!({ "calls": calls })))
}

/// `POST /api/v1/conversations/{id}/assist/summary`: folds the history into the
/// conversation's summary and returns it.
pub(crate) async fn summarise(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let a = ai(&deps)?;
    let summary = a
        .assist
        .summarise(id)
        .await
        .map_err(|e| job_error(&e))?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    // Agents with the conversation open see the new card.
    let c = load(&deps, Some(&me.1), id).await?;
    let view = omnidesk_core::usecases::conversation_view(deps.contacts.as_ref(), &c).await?;
    crate::publish(
        &deps,
        &[omnidesk_core::ServerEvent::ConversationUpdated {
            conversation: Box::new(view),
        }],
    )
    .await;
    Ok(Json(json!({ "summary": summary })))
}

/// `POST /api/v1/conversations/{id}/assist/suggestion`: a reply for the composer, never sent
/// by itself.
pub(crate) async fn suggest(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    load(&deps, Some(&me.1), id).await?;
    let a = ai(&deps)?;
    if a.mode == AiMode::Off {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ai_unavailable",
            "the AI is off on this deployment (OMNIDESK_AI=off)",
        ));
    }
    let suggestion = a
        .assist
        .suggest(id)
        .await
        .map_err(|e| job_error(&e))?
        .ok_or_else(|| ApiError::not_found("conversation"))?;
    Ok(Json(serde_json::to_value(suggestion).unwrap_or_default()))
}

/// `POST /api/v1/conversations/{id}/hand-back`: back to the bot and the AI.
pub(crate) async fn hand_back(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let applied = apply(&deps, Some(&me.1), parse_id(&id)?, |c| {
        Ok(Step::Write(c.hand_back(Some(me.0))?.event))
    })
    .await?;
    Ok(Json(publish_applied(&deps, applied, Vec::new()).await?))
}
