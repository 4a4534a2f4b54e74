//! Conversations: lists, timelines, replies and assignment transitions.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use omnidesk_core::usecases::{conversation_view, sign_all_attachments, sign_attachments};
use omnidesk_core::{
    AppendOutcome, ConversationFilter, ConversationView, OutboundJob, PageRequest, QueueName,
    ServerEvent, StoreError,
};
use omnidesk_domain::{
    Agent, AgentId, Author, Contact, ContactId, Conversation, ConversationId, ConversationStatus,
    Delivery, DeliveryStatus, Message, Role, SystemEvent,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, Body, Params, PathParam, from_object};
use crate::{ApiDeps, AppState, Me, cursor, files, publish};

/// Optimistic updates are re-read and re-applied this many times before giving up.
const MAX_ATTEMPTS: usize = 3;
/// Longest reply, in characters.
pub const MAX_REPLY_CHARS: usize = 16_000;

/// Parses `limit`: absent = `default`; else digits only, at least 1; more than `max` (however
/// many digits) is clamped to `max`.
pub(crate) fn parse_limit(
    raw: Option<&str>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    let Some(s) = raw else {
        return Ok(default);
    };
    let invalid = || ApiError::invalid("limit", "must be a whole number of at least 1");
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match s.parse::<usize>() {
        Ok(0) => Err(invalid()),
        Ok(n) => Ok(n.min(max)),
        // Only too many digits are left to fail.
        Err(_) => Ok(max),
    }
}

pub(crate) fn parse_id(raw: &str) -> Result<ConversationId, ApiError> {
    ConversationId::parse(raw).map_err(|e| ApiError::invalid("id", e))
}

/// The conversation `id` as `viewer` may see it: 404 when it does not exist or is not theirs
/// to read (another team's: its existence is not revealed). `None`: the system's own read.
pub(crate) async fn load(
    deps: &ApiDeps,
    viewer: Option<&Agent>,
    id: ConversationId,
) -> Result<Conversation, ApiError> {
    deps.conversations
        .get_conversation(id)
        .await?
        .filter(|c| viewer.is_none_or(|a| omnidesk_core::assign::may_read(a, c)))
        .ok_or_else(|| ApiError::not_found("conversation"))
}

/// Joins conversations with their contacts (each contact read once).
async fn views_of(
    deps: &ApiDeps,
    conversations: &[Conversation],
) -> Result<Vec<ConversationView>, ApiError> {
    let mut contacts: HashMap<ContactId, Contact> = HashMap::new();
    let mut views = Vec::with_capacity(conversations.len());
    for c in conversations {
        let contact = match contacts.get(&c.contact_id) {
            Some(contact) => contact.clone(),
            None => {
                let contact = deps
                    .contacts
                    .get_contact(c.contact_id)
                    .await?
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("conversation {} has no contact", c.id))
                    })?;
                contacts.insert(c.contact_id, contact.clone());
                contact
            }
        };
        views.push(ConversationView::new(c, contact));
    }
    Ok(views)
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    status: Option<String>,
    assignee: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /api/v1/conversations`.
pub(crate) async fn list(
    State(deps): State<AppState>,
    me: Me,
    Params(q): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(ConversationStatus::parse(s).map_err(|_| {
            ApiError::invalid("status", "must be bot, queued, assigned, resolved or all")
        })?),
    };
    let assignee = match q.assignee.as_deref() {
        None => None,
        Some("me") => Some(Some(me.0)),
        Some("none") => Some(None),
        Some(s) => Some(Some(AgentId::parse(s).map_err(|_| {
            ApiError::invalid("assignee", "must be `me`, `none` or an agent id")
        })?)),
    };
    let limit = parse_limit(q.limit.as_deref(), 25, 100)?;
    // A cursor pages the list it came from: the filter is part of its seal.
    let list = format!(
        "conversations:{}:{}",
        status.map_or("all", ConversationStatus::as_str),
        match assignee {
            None => "any".to_owned(),
            Some(None) => "none".to_owned(),
            Some(Some(agent)) => agent.to_string(),
        }
    );
    let cursor = cursor::open(&deps.auth, &list, q.cursor.as_deref())?;
    let page = deps
        .conversations
        .list_conversations(
            &ConversationFilter { status, assignee },
            &PageRequest { limit, cursor },
        )
        .await?;
    // An agent sees their teams' conversations (a page may then hold fewer than `limit`;
    // its cursor still leads on).
    let visible: Vec<Conversation> = page
        .items
        .into_iter()
        .filter(|c| omnidesk_core::assign::may_read(&me.1, c))
        .collect();
    let items = views_of(&deps, &visible).await?;
    let next_cursor = page
        .next_cursor
        .map(|c| cursor::seal(&deps.auth, &list, &c))
        .transpose()?;
    Ok(Json(json!({ "items": items, "next_cursor": next_cursor })))
}

/// `GET /api/v1/conversations/{id}`.
pub(crate) async fn get(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let conversation = load(&deps, Some(&me.1), parse_id(&id)?).await?;
    Ok(Json(
        conversation_view(deps.contacts.as_ref(), &conversation).await?,
    ))
}

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /api/v1/conversations/{id}/messages`: one page, chronological within the page;
/// `next_cursor` leads to older messages.
pub(crate) async fn messages(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
    Params(q): Params<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let limit = parse_limit(q.limit.as_deref(), 50, 100)?;
    let list = format!("messages:{id}");
    let cursor = cursor::open(&deps.auth, &list, q.cursor.as_deref())?;
    load(&deps, Some(&me.1), id).await?;
    let mut page = deps
        .messages
        .list_messages(id, &PageRequest { limit, cursor })
        .await?;
    page.items.reverse();
    sign_all_attachments(
        deps.blobs.as_ref(),
        &mut page.items,
        deps.clock.now(),
        deps.files.link_ttl,
    )
    .await;
    let next_cursor = page
        .next_cursor
        .map(|c| cursor::seal(&deps.auth, &list, &c))
        .transpose()?;
    Ok(Json(
        json!({ "items": page.items, "next_cursor": next_cursor }),
    ))
}

/// What a conversation update closure decided.
pub(crate) enum Step {
    /// Store the changed conversation, recording this timeline event.
    Write(Option<SystemEvent>),
    /// Nothing to change.
    Skip,
}

/// The result of [`apply`].
pub(crate) struct Applied {
    pub conversation: Conversation,
    /// The timeline message stored for the event, if any.
    pub system_message: Option<Message>,
    /// Whether anything was written.
    pub written: bool,
}

/// Reads the conversation, lets `change` modify it and stores it optimistically; on a stale
/// version re-reads and re-applies (up to [`MAX_ATTEMPTS`] times). The event `change` returns
/// is stored as a system message after the conversation.
pub(crate) async fn apply<F>(
    deps: &ApiDeps,
    viewer: Option<&Agent>,
    id: ConversationId,
    mut change: F,
) -> Result<Applied, ApiError>
where
    F: FnMut(&mut Conversation) -> Result<Step, ApiError>,
{
    for _ in 0..MAX_ATTEMPTS {
        let current = load(deps, viewer, id).await?;
        let mut next = current.clone();
        let event = match change(&mut next)? {
            Step::Skip => {
                return Ok(Applied {
                    conversation: current,
                    system_message: None,
                    written: false,
                });
            }
            Step::Write(event) => event,
        };
        let now = deps.clock.now();
        let system =
            event.map(|e| Message::system(deps.ids.message_id(), id, next.channel, e, now));
        if let Some(m) = &system {
            next.record_message(m);
        }
        match deps.conversations.update_conversation(&next).await {
            Ok(stored) => {
                let system_message = match system {
                    Some(m) => match deps.messages.append_message(&m).await {
                        Ok(_) => Some(m),
                        Err(e) => {
                            tracing::warn!(conversation_id = %id, error = %e, "could not store timeline event");
                            None
                        }
                    },
                    None => None,
                };
                return Ok(Applied {
                    conversation: stored,
                    system_message,
                    written: true,
                });
            }
            Err(StoreError::Conflict(_)) => {
                tracing::debug!(conversation_id = %id, "stale conversation version, retrying");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(
        "conflict",
        "the conversation is being changed by someone else; try again",
    ))
}

/// Pushes the result of a transition (timeline message, then the conversation; [`publish`]
/// folds the view into the last message) and returns the conversation view.
pub(crate) async fn publish_applied(
    deps: &ApiDeps,
    applied: Applied,
    before: Vec<ServerEvent>,
) -> Result<ConversationView, ApiError> {
    let view = conversation_view(deps.contacts.as_ref(), &applied.conversation).await?;
    let mut events = before;
    if let Some(m) = applied.system_message {
        events.push(ServerEvent::MessageCreated {
            conversation_id: m.conversation_id,
            message: m,
            conversation: None,
        });
    }
    if applied.written {
        events.push(ServerEvent::ConversationUpdated {
            conversation: Box::new(view.clone()),
        });
    }
    publish(deps, &events).await;
    Ok(view)
}

fn reopen_first() -> ApiError {
    ApiError::conflict(
        "conversation_resolved",
        "the conversation is resolved; reopen it first",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplyRequest {
    text: String,
    /// Idempotency key chosen by the client (1–64 of `A-Za-z0-9_-`): a retry with the same
    /// key returns the stored reply instead of storing and sending it twice.
    #[serde(default)]
    client_id: Option<String>,
}

/// Longest `client_id`, in characters.
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// The source key of a reply with a client idempotency key (per agent).
fn reply_source_key(me: AgentId, client_id: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(client_id) = client_id else {
        return Ok(None);
    };
    let valid = !client_id.is_empty()
        && client_id.len() <= MAX_CLIENT_ID_CHARS
        && client_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(ApiError::invalid(
            "client_id",
            format!("must have 1 to {MAX_CLIENT_ID_CHARS} characters of A-Za-z0-9_-"),
        ));
    }
    Ok(Some(format!("agent-reply:{me}:{client_id}")))
}

/// Queues the sender job of a stored reply (deduplicated by the message id).
/// Queues a stored reply: for the sender, or for the translator first when it is held for
/// its translation (the translator queues it for the sender then).
async fn send_reply_job(
    deps: &ApiDeps,
    message: &Message,
) -> Result<omnidesk_core::SendOutcome, omnidesk_core::QueueError> {
    if message.is_held_for_translation() {
        return deps
            .queue
            .send(
                QueueName::Translate,
                omnidesk_core::TranslateJob::of(message).to_queue_message(0),
            )
            .await;
    }
    deps.queue
        .send(
            QueueName::Outbound,
            OutboundJob::of(message, None).to_queue_message(),
        )
        .await
}

async fn queue_reply(deps: &ApiDeps, message: &Message) -> Result<(), ApiError> {
    send_reply_job(deps, message)
        .await
        .map(|_| ())
        .map_err(|e| {
            tracing::warn!(conversation_id = %message.conversation_id, message_id = %message.id, error = %e, "could not queue reply");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_unavailable",
                "the reply is stored but could not be queued for sending; try again",
            )
        })
}

/// `POST /api/v1/conversations/{id}/messages`: stores the reply as `sending`, assigns an
/// unassigned conversation to the replying agent, queues the send and pushes the change.
/// A retry with a `client_id` seen before answers 200 with the stored reply (re-queued while
/// still `sending`; the queue and the sender drop a second delivery).
///
/// The body is JSON (`{"text", "client_id"?}`) or `multipart/form-data` with `text`
/// (optional when files come along), `client_id` and one or more `file` parts, each stored
/// in blob storage and attached ([`files::read_reply_form`]). The answer's attachments carry
/// signed, short-lived `url`s.
pub(crate) async fn reply(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
    request: Request,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let id = parse_id(&id)?;
    let (text, client_id, attachments) = if files::is_multipart(&request) {
        // The conversation first: its channel sets the file limit, and nothing is stored for
        // a conversation that cannot take the reply.
        let conversation = load(&deps, Some(&me.1), id).await?;
        if conversation.status == ConversationStatus::Resolved {
            return Err(reopen_first());
        }
        let form = files::read_reply_form(&deps, request, conversation.channel).await?;
        if form.text.trim().is_empty() && form.attachments.is_empty() {
            return Err(ApiError::invalid(
                "text",
                "must not be empty or only white space when no file is attached",
            ));
        }
        (form.text, form.client_id, form.attachments)
    } else {
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, files::MAX_JSON_BODY_BYTES)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_input",
                    format!(
                        "body: larger than {} bytes (send files as multipart/form-data)",
                        files::MAX_JSON_BODY_BYTES
                    ),
                )
            })?;
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        let Body(req) = Body::<ReplyRequest>::from_request(request, &deps).await?;
        if req.text.trim().is_empty() && req.text.chars().count() <= MAX_REPLY_CHARS {
            return Err(ApiError::invalid(
                "text",
                "must not be empty or only white space",
            ));
        }
        (req.text, req.client_id, Vec::new())
    };
    if text.chars().count() > MAX_REPLY_CHARS {
        return Err(ApiError::invalid(
            "text",
            format!("must have at most {MAX_REPLY_CHARS} characters"),
        ));
    }
    // Stored without the white space around it.
    let text = text.trim();
    let source_key = reply_source_key(me.0, client_id.as_deref())?;
    let conversation = load(&deps, Some(&me.1), id).await?;
    let mut message = Message::outbound(
        deps.ids.message_id(),
        id,
        Author::Agent { id: me.0 },
        conversation.channel,
        text.to_owned(),
        deps.clock.now(),
    );
    message.source_key = source_key;
    message.attachments = attachments;
    if conversation.status == ConversationStatus::Resolved {
        return Err(reopen_first());
    }
    // Written in the agent's language; held for its translation when the customer's differs.
    let agent = match deps.translation {
        Some(_) => deps.agents.get_agent(me.0).await?,
        None => None,
    };
    let languages = crate::translation::reply_languages(&deps, agent.as_ref(), &conversation, text);
    if deps.translation.is_some() {
        message.language = Some(languages.source);
    }
    if let Some(target) = languages.target {
        message.translation = Some(omnidesk_domain::TranslationStatus::Pending {
            target: Some(target),
        });
    }
    if let AppendOutcome::Duplicate(existing) = deps.messages.append_message(&message).await? {
        let stored = deps.messages.get_message(id, existing).await?;
        return match stored {
            Some(stored) => retried_reply(&deps, stored).await,
            None => Err(ApiError::conflict(
                "client_id_reused",
                "client_id: already used for a reply in another conversation",
            )),
        };
    }

    let applied = apply(&deps, Some(&me.1), id, |c| {
        if c.status == ConversationStatus::Resolved {
            return Err(reopen_first());
        }
        c.record_message(&message);
        let event = if c.status == ConversationStatus::Assigned {
            None
        } else {
            c.assign(me.0, Some(me.0))?.event
        };
        Ok(Step::Write(event))
    })
    .await;
    let applied = match applied {
        Ok(a) => a,
        Err(e) => {
            let failed = mark_failed(&deps, &message, format!("not sent: {}", e.message)).await;
            publish(
                &deps,
                &[ServerEvent::MessageCreated {
                    conversation_id: id,
                    message: failed,
                    conversation: None,
                }],
            )
            .await;
            return Err(e);
        }
    };

    let sent = send_reply_job(&deps, &message).await;
    if let Err(e) = sent {
        tracing::warn!(conversation_id = %id, message_id = %message.id, error = %e, "could not queue reply");
        let failed = mark_failed(&deps, &message, format!("could not queue: {e}")).await;
        let created = ServerEvent::MessageCreated {
            conversation_id: id,
            message: failed,
            conversation: None,
        };
        publish_applied(&deps, applied, vec![created]).await?;
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_unavailable",
            "the reply was stored but could not be queued for sending; it is marked failed, try again",
        ));
    }
    tracing::info!(conversation_id = %id, message_id = %message.id, "reply queued");
    let created = ServerEvent::MessageCreated {
        conversation_id: id,
        message: message.clone(),
        conversation: None,
    };
    publish_applied(&deps, applied, vec![created]).await?;
    Ok((StatusCode::CREATED, Json(signed(&deps, message).await)))
}

/// `message` with signed links to its files, for the agent who reads it.
pub(crate) async fn signed(deps: &ApiDeps, mut message: Message) -> Message {
    sign_attachments(
        deps.blobs.as_ref(),
        &mut message,
        deps.clock.now(),
        deps.files.link_ttl,
    )
    .await;
    message
}

/// Answers a retried reply: the stored message, re-queued while it is still `sending`.
async fn retried_reply(
    deps: &ApiDeps,
    stored: Message,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    tracing::info!(conversation_id = %stored.conversation_id, message_id = %stored.id, "retried reply answered from the store");
    if stored.delivery.status == DeliveryStatus::Sending {
        queue_reply(deps, &stored).await?;
    }
    Ok((StatusCode::OK, Json(signed(deps, stored).await)))
}

/// Marks a stored outgoing message failed (best effort) and returns it as it now is.
async fn mark_failed(deps: &ApiDeps, message: &Message, reason: String) -> Message {
    let delivery = Delivery {
        status: DeliveryStatus::Failed,
        reason: Some(reason),
        attempts: message.delivery.attempts,
        updated_at: deps.clock.now(),
    };
    match deps
        .messages
        .update_delivery(message.conversation_id, message.id, &delivery, None)
        .await
    {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(message_id = %message.id, error = %e, "could not mark message failed");
            let mut m = message.clone();
            m.delivery = delivery;
            m
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignRequest {
    #[serde(default)]
    agent_id: Option<String>,
}

/// `POST /api/v1/conversations/{id}/assign` `{"agent_id": null | "ag_…"}` (null or no body =
/// me). Transfers when another agent has it.
pub(crate) async fn assign(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
    body: Bytes,
) -> Result<Json<ConversationView>, ApiError> {
    let id = parse_id(&id)?;
    let req: AssignRequest = if body.iter().all(u8::is_ascii_whitespace) {
        AssignRequest { agent_id: None }
    } else {
        let value = serde_json::from_slice(&body).map_err(|e| ApiError::invalid("body", e))?;
        from_object(value)?
    };
    let target = match req.agent_id.as_deref() {
        None => me.0,
        Some(raw) => {
            let target = AgentId::parse(raw).map_err(|e| ApiError::invalid("agent_id", e))?;
            if target != me.0 {
                me.require(Role::Supervisor, "assign a conversation to someone else")?;
            }
            if deps.agents.get_agent(target).await?.is_none() {
                // Like any id that names nothing: 404 (the code tells it from the conversation's).
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_agent",
                    "agent_id: no such agent",
                ));
            }
            target
        }
    };
    let applied = apply(&deps, Some(&me.1), id, |c| {
        if c.status == ConversationStatus::Assigned && c.assignee_id == Some(target) {
            return Ok(Step::Skip);
        }
        Ok(Step::Write(c.assign(target, Some(me.0))?.event))
    })
    .await?;
    Ok(Json(publish_applied(&deps, applied, Vec::new()).await?))
}

/// `POST /api/v1/conversations/{id}/unassign`: back to the queue.
pub(crate) async fn unassign(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let applied = apply(&deps, Some(&me.1), parse_id(&id)?, |c| {
        Ok(Step::Write(c.unassign(Some(me.0))?.event))
    })
    .await?;
    Ok(Json(publish_applied(&deps, applied, Vec::new()).await?))
}

/// `POST /api/v1/conversations/{id}/resolve`.
pub(crate) async fn resolve(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let now = deps.clock.now();
    let applied = apply(&deps, Some(&me.1), parse_id(&id)?, |c| {
        Ok(Step::Write(c.resolve_at(Some(me.0), now)?.event))
    })
    .await?;
    if applied.written
        && let Some(resolved_at) = applied.conversation.resolved_at
    {
        // The customer is asked to rate it (the router decides whether and how, on the
        // channel): best effort, the resolve stands either way.
        let job = omnidesk_core::TimerJob::CsatSurvey {
            conversation_id: applied.conversation.id,
            resolved_at,
        };
        let message = job.to_queue_message(std::time::Duration::ZERO);
        if let Err(error) = deps
            .queue
            .send(omnidesk_core::QueueName::Timers, message)
            .await
        {
            tracing::warn!(%error, "rating question not queued");
        }
    }
    Ok(Json(publish_applied(&deps, applied, Vec::new()).await?))
}

/// `POST /api/v1/conversations/{id}/reopen`: back to the agent who reopens it.
pub(crate) async fn reopen(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let applied = apply(&deps, Some(&me.1), parse_id(&id)?, |c| {
        Ok(Step::Write(c.reopen(me.0)?.event))
    })
    .await?;
    Ok(Json(publish_applied(&deps, applied, Vec::new()).await?))
}

/// Gives an agent who just came online queued, unassigned conversations up to their free
/// capacity, of their teams and skills, highest priority first, then oldest waiting. Returns how many they took. A conversation someone else
/// took in between is skipped; any other error stops the pick-up.
pub(crate) async fn take_queued(deps: &ApiDeps, agent: &Agent) -> Result<usize, ApiError> {
    let open = deps.conversations.count_assigned(agent.id).await?;
    if !agent.can_take(open) {
        return Ok(0);
    }
    let free = (agent.capacity - open) as usize;
    // Those of their teams and skills, by priority, then who waited longest.
    let queued =
        omnidesk_core::assign::queued_for(deps.conversations.as_ref(), agent, free).await?;

    let mut taken = 0;
    for c in queued {
        if taken == free {
            break;
        }
        let result = apply(deps, None, c.id, |c| {
            if c.status != ConversationStatus::Queued || c.assignee_id.is_some() {
                return Ok(Step::Skip);
            }
            Ok(Step::Write(c.assign(agent.id, None)?.event))
        })
        .await;
        match result {
            Ok(applied) if applied.written => {
                taken += 1;
                publish_applied(deps, applied, Vec::new()).await?;
            }
            Ok(_) => {}
            Err(e) if e.status == StatusCode::NOT_FOUND || e.status == StatusCode::CONFLICT => {}
            Err(e) => {
                tracing::warn!(agent_id = %agent.id, error = %e.message, "stopped taking queued conversations");
                break;
            }
        }
    }
    tracing::info!(agent_id = %agent.id, taken, "agent took queued conversations");
    Ok(taken)
}

/// `GET /api/v1/conversations/{id}/messages/{message_id}/html`: the sanitised HTML body of an
/// e-mail (scripts, forms, frames, event handlers and remote images removed at ingest), for
/// the dashboard to show in a sandboxed frame. 404 when the message has none.
pub(crate) async fn email_html(
    State(deps): State<AppState>,
    me: Me,
    PathParam((id, message_id)): PathParam<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let message_id = omnidesk_domain::MessageId::parse(&message_id)
        .map_err(|e| ApiError::invalid("message_id", e))?;
    load(&deps, Some(&me.1), id).await?;
    let message = deps
        .messages
        .get_message(id, message_id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let Some(key) = message.email_ref().and_then(|e| e.html.as_ref()) else {
        return Err(ApiError::not_found("HTML body"));
    };
    let blob = deps
        .blobs
        .get(key)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "blob store unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "file storage is unavailable; try again",
            )
        })?
        .ok_or_else(|| ApiError::not_found("HTML body"))?;
    Ok(Json(
        json!({ "html": String::from_utf8_lossy(&blob.bytes) }),
    ))
}
