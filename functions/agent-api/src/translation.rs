//! Translation in the agent API: what the deployment translates with, the agent's languages,
//! the customer's language override, the composer's preview, and the agent's decision on a
//! reply whose translation failed.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use omnidesk_core::usecases::{ContentUpdate, update_message_content};
use omnidesk_core::{ServerEvent, StoreError, TranslateJob};
use omnidesk_domain::{Agent, Conversation, LanguageTag, Message, MessageId, TranslationStatus};
use omnidesk_translator::service::{Translated, TranslationService};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::conversations::{Step, apply, load, parse_id, publish_applied};
use crate::error::{ApiError, Body, PathParam};
use crate::{ApiDeps, AppState, Me, publish};

/// The deployment's translation: the service (its providers, cache, quotas) and the detector
/// that tells which language an agent wrote a reply in.
pub struct ApiTranslation {
    pub service: Arc<TranslationService>,
    pub detector: Option<omnidesk_language::Detector>,
    /// The percentage of contacts whose replies are translated automatically (a staged
    /// rollout by [`omnidesk_rules::bucket`]); the others get the reply as written.
    pub rollout: u8,
}

/// The most characters a preview translates (a reply has at most this many too).
const MAX_PREVIEW_CHARS: usize = 4096;

/// `GET /api/v1/translation`: whether replies and messages are translated, by which
/// providers (in fallback order), and each provider's use of its daily quota.
pub(crate) async fn info(State(deps): State<AppState>, _me: Me) -> Result<Json<Value>, ApiError> {
    let Some(t) = &deps.translation else {
        return Ok(Json(
            json!({ "enabled": false, "providers": [], "quota": [] }),
        ));
    };
    let quota: Vec<Value> = t
        .service
        .quota_state()
        .await
        .into_iter()
        .map(|q| {
            json!({
                "provider": q.provider,
                "used_today": q.used_today,
                "limit": q.limit,
                "reached": q.reached,
            })
        })
        .collect();
    Ok(Json(json!({
        "enabled": t.service.is_enabled(),
        "providers": t.service.providers(),
        "quota": quota,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LanguagesRequest {
    language: String,
    #[serde(default)]
    reads: Vec<String>,
}

fn parse_language(field: &str, raw: &str) -> Result<LanguageTag, ApiError> {
    LanguageTag::parse(raw).map_err(|e| ApiError::invalid(field, e))
}

/// `PUT /api/v1/agents/me/languages`: the agent's own language and the others they read.
pub(crate) async fn set_my_languages(
    State(deps): State<AppState>,
    me: Me,
    Body(req): Body<LanguagesRequest>,
) -> Result<Json<Agent>, ApiError> {
    let own = parse_language("language", &req.language)?;
    if req.reads.len() > 20 {
        return Err(ApiError::invalid("reads", "at most 20 languages"));
    }
    let mut languages = std::collections::BTreeSet::from([own.clone()]);
    for raw in &req.reads {
        languages.insert(parse_language("reads", raw)?);
    }
    let mut agent = (*me.1).clone();
    agent.language = Some(own);
    agent.languages = languages;
    match deps.agents.update_agent(&agent).await {
        Ok(()) => Ok(Json(agent)),
        Err(StoreError::NotFound(_)) => Err(ApiError::not_found("agent")),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LanguageRequest {
    language: String,
}

/// `PUT /api/v1/conversations/{id}/language`: the agent says which language the customer
/// writes (replies are translated into it from now on).
pub(crate) async fn set_conversation_language(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
    Body(req): Body<LanguageRequest>,
) -> Result<Json<omnidesk_core::ConversationView>, ApiError> {
    let language = parse_language("language", &req.language)?;
    let applied = apply(&deps, Some(&me.1), parse_id(&id)?, |c| {
        if c.language.as_ref() == Some(&language) && c.language_pending.is_none() {
            return Ok(Step::Skip);
        }
        c.language = Some(language.clone());
        c.language_pending = None;
        Ok(Step::Write(None))
    })
    .await?;
    Ok(Json(publish_applied(&deps, applied, Vec::new()).await?))
}

/// What a reply needs: written in `source`; translated into `target` before it is sent when
/// that is set.
pub(crate) struct ReplyLanguages {
    pub source: LanguageTag,
    pub target: Option<LanguageTag>,
}

/// The languages of `text`, a reply by `agent` in `conversation`: the detected language of
/// the text (the agent's own language when the text says too little), and the customer's
/// language when it differs and the deployment translates replies for this contact (its
/// rollout bucket is in [`ApiTranslation::rollout`]).
pub(crate) fn reply_languages(
    deps: &ApiDeps,
    agent: Option<&Agent>,
    conversation: &Conversation,
    text: &str,
) -> ReplyLanguages {
    let own = agent.map_or_else(
        || LanguageTag::parse("en").expect("valid tag"),
        Agent::primary_language,
    );
    let source = deps
        .translation
        .as_ref()
        .and_then(|t| t.detector.as_ref())
        .map(|d| d.detect(text, Some(own.as_str())))
        .filter(|d| d.reliable)
        .and_then(|d| d.language)
        .and_then(|l| LanguageTag::parse(&l).ok())
        .unwrap_or(own);
    let target = match (&deps.translation, &conversation.language) {
        (Some(t), Some(customer))
            if t.service.is_enabled()
                && omnidesk_rules::in_rollout(conversation.contact_id, t.rollout)
                && customer.primary() != source.primary()
                && !text.trim().is_empty() =>
        {
            Some(customer.clone())
        }
        _ => None,
    };
    ReplyLanguages { source, target }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewRequest {
    text: String,
}

#[derive(Debug, Serialize)]
struct Preview {
    needed: bool,
    language: Option<LanguageTag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `POST /api/v1/conversations/{id}/translation-preview`: the text the customer will receive
/// for this draft. It goes through the translation cache, so sending the same text right
/// after costs no second provider call.
pub(crate) async fn preview(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
    Body(req): Body<PreviewRequest>,
) -> Result<Json<Value>, ApiError> {
    if req.text.chars().count() > MAX_PREVIEW_CHARS {
        return Err(ApiError::invalid(
            "text",
            format!("must have at most {MAX_PREVIEW_CHARS} characters"),
        ));
    }
    let conversation = load(&deps, Some(&me.1), parse_id(&id)?).await?;
    let agent = deps.agents.get_agent(me.0).await?;
    let langs = reply_languages(&deps, agent.as_ref(), &conversation, &req.text);
    let (Some(target), Some(t)) = (langs.target, &deps.translation) else {
        return Ok(Json(json!(Preview {
            needed: false,
            language: conversation.language.clone(),
            text: None,
            provider: None,
            error: None,
        })));
    };
    let preview = match t
        .service
        .translate(req.text.trim(), Some(&langs.source), &target)
        .await
    {
        Ok(Translated::Text { text, provider, .. }) => Preview {
            needed: true,
            language: Some(target),
            text: Some(text),
            provider: Some(provider),
            error: None,
        },
        Ok(Translated::SameLanguage { .. }) => Preview {
            needed: false,
            language: Some(target),
            text: None,
            provider: None,
            error: None,
        },
        Err(e) => Preview {
            needed: true,
            language: Some(target),
            text: None,
            provider: None,
            error: Some(omnidesk_translator::worker::failure_reason(&e)),
        },
    };
    Ok(Json(json!(preview)))
}

/// A message of a conversation, by the path's ids.
async fn load_message(deps: &ApiDeps, id: &str, message_id: &str) -> Result<Message, ApiError> {
    let id = parse_id(id)?;
    let message_id =
        MessageId::parse(message_id).map_err(|e| ApiError::invalid("message_id", e))?;
    deps.messages
        .get_message(id, message_id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))
}

/// Loads a message of a conversation for a decision on it.
async fn held_reply(deps: &ApiDeps, id: &str, message_id: &str) -> Result<Message, ApiError> {
    let message = load_message(deps, id, message_id).await?;
    if !message.is_held_for_translation() {
        return Err(ApiError::conflict(
            "not_held",
            "the reply is not waiting for its translation (it was sent, or is being sent)",
        ));
    }
    Ok(message)
}

/// A held reply, or a customer's message whose translation failed for good: what
/// `retry-translation` takes.
async fn retryable(deps: &ApiDeps, id: &str, message_id: &str) -> Result<Message, ApiError> {
    let message = load_message(deps, id, message_id).await?;
    if message.is_held_for_translation() || failed_for_good(&message) {
        return Ok(message);
    }
    Err(ApiError::conflict(
        "not_retryable",
        "only a held reply or a message whose translation failed can be translated again",
    ))
}

fn failed_for_good(message: &Message) -> bool {
    message.direction == omnidesk_domain::Direction::Inbound
        && matches!(
            message.translation,
            Some(TranslationStatus::Failed {
                retrying: false,
                ..
            })
        )
}

/// Stores the decision on a held reply (re-read on conflict) and pushes it.
async fn decide(
    deps: &ApiDeps,
    message: Message,
    status: TranslationStatus,
) -> Result<Message, ApiError> {
    let outcome = update_message_content(deps.messages.as_ref(), message, 8, |current, content| {
        content.translation = Some(status.clone());
        current.is_held_for_translation() || failed_for_good(current)
    })
    .await?;
    match outcome {
        ContentUpdate::Updated(updated) => {
            publish(
                deps,
                &[ServerEvent::MessageUpdated {
                    conversation_id: updated.conversation_id,
                    message: updated.clone(),
                }],
            )
            .await;
            Ok(updated)
        }
        ContentUpdate::Declined(_) => Err(ApiError::conflict(
            "not_held",
            "the reply is not waiting for its translation any more",
        )),
        ContentUpdate::Gone => Err(ApiError::not_found("message")),
        ContentUpdate::Busy => Err(ApiError::conflict(
            "busy",
            "the reply kept changing; try again",
        )),
    }
}

/// `POST /api/v1/conversations/{id}/messages/{message_id}/send-original`: send a held reply
/// as the agent wrote it.
pub(crate) async fn send_original(
    State(deps): State<AppState>,
    me: Me,
    PathParam((id, message_id)): PathParam<(String, String)>,
) -> Result<Json<Message>, ApiError> {
    load(&deps, Some(&me.1), parse_id(&id)?).await?;
    let message = match held_reply(&deps, &id, &message_id).await {
        Ok(m) => decide(&deps, m, TranslationStatus::SentOriginal).await?,
        // Decided before, but its queueing failed: queue it again.
        Err(e) => {
            let m = load_message(&deps, &id, &message_id).await?;
            if m.translation != Some(TranslationStatus::SentOriginal)
                || m.delivery.status != omnidesk_domain::DeliveryStatus::Sending
            {
                return Err(e);
            }
            m
        }
    };
    let updated = message;
    omnidesk_translator::worker::queue_for_sending(deps.queue.as_ref(), &updated, None)
        .await
        .map_err(|e| queue_unavailable(&e.to_string()))?;
    Ok(Json(updated))
}

/// `POST /api/v1/conversations/{id}/messages/{message_id}/retry-translation`: try the
/// translation of a held reply again (it is sent once translated), or of a customer's
/// message whose translation failed.
pub(crate) async fn retry_translation(
    State(deps): State<AppState>,
    me: Me,
    PathParam((id, message_id)): PathParam<(String, String)>,
) -> Result<Json<Message>, ApiError> {
    load(&deps, Some(&me.1), parse_id(&id)?).await?;
    let message = retryable(&deps, &id, &message_id).await?;
    let target = match &message.translation {
        Some(TranslationStatus::Pending { target } | TranslationStatus::Failed { target, .. }) => {
            target.clone()
        }
        _ => None,
    };
    let attempt = u32::try_from(deps.clock.now().millis() % 1_000_000).unwrap_or(0);
    let updated = decide(&deps, message, TranslationStatus::Pending { target }).await?;
    // A new attempt is a new job (the first one's deduplication id is taken).
    deps.queue
        .send(
            omnidesk_core::QueueName::Translate,
            TranslateJob::of(&updated).to_queue_message(attempt.max(1)),
        )
        .await
        .map_err(|e| queue_unavailable(&e.to_string()))?;
    Ok(Json(updated))
}

fn queue_unavailable(e: &str) -> ApiError {
    tracing::warn!(error = %e, "could not queue a held reply");
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "queue_unavailable",
        "the decision was stored but the reply could not be queued; try again",
    )
}
