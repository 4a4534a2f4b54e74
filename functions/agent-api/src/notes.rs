//! Private notes: messages agents leave on a conversation for each other (never sent to the
//! customer), and the `@mentions` in them, each a notification to the agent mentioned.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use omnidesk_core::usecases::push_to_agent;
use omnidesk_core::{Notification, ServerEvent};
use omnidesk_domain::{Agent, AgentId, Author, Delivery, DeliveryStatus, Message};
use serde::{Deserialize, Serialize};

use crate::conversations::{MAX_REPLY_CHARS, Step, apply, load, parse_id, publish_applied};
use crate::error::{ApiError, Body, PathParam};
use crate::{ApiDeps, AppState, Me};

/// Longest note, in characters (as long as a reply).
pub(crate) const MAX_NOTE_CHARS: usize = MAX_REPLY_CHARS;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteRequest {
    text: String,
}

#[derive(Serialize)]
pub(crate) struct NoteCreated {
    message: Message,
    /// The agents notified, in the order the note first mentions them.
    mentioned: Vec<AgentId>,
}

/// `POST /api/v1/conversations/{id}/notes` `{"text"}`: stores an internal note by the agent
/// (never queued for the sender, not a first response, leaves the unread count alone), pushes
/// it as `message.created`, and sends each agent it `@mentions` (not the author) a
/// `notification` on their own connections only.
pub(crate) async fn create(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
    Body(req): Body<NoteRequest>,
) -> Result<(StatusCode, Json<NoteCreated>), ApiError> {
    let id = parse_id(&id)?;
    if req.text.trim().is_empty() || req.text.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::invalid(
            "text",
            format!("1 to {MAX_NOTE_CHARS} characters, not only white space"),
        ));
    }
    let text = req.text.trim();
    let author = (*me.1).clone();
    let conversation = load(&deps, Some(&me.1), id).await?;
    let now = deps.clock.now();
    let mut note = Message::outbound(
        deps.ids.message_id(),
        id,
        Author::Agent { id: me.0 },
        conversation.channel,
        text.to_owned(),
        now,
    );
    note.internal = true;
    // Nothing to send: stored as done, so no sender or retry ever picks it up.
    note.delivery = Delivery {
        status: DeliveryStatus::Sent,
        reason: None,
        attempts: 0,
        updated_at: now,
    };
    deps.messages.append_message(&note).await?;
    // Activity and preview only: the domain leaves unread and first response to replies.
    let applied = apply(&deps, Some(&me.1), id, |c| {
        c.record_message(&note);
        Ok(Step::Write(None))
    })
    .await?;
    let created = ServerEvent::MessageCreated {
        conversation_id: id,
        message: note.clone(),
        conversation: None,
    };
    publish_applied(&deps, applied, vec![created]).await?;

    let agents = deps.agents.list_agents().await?;
    let mentioned: Vec<AgentId> = mentioned_agents(text, &agents)
        .into_iter()
        .filter(|a| *a != me.0)
        .collect();
    notify(&deps, &author, &note, &mentioned).await;
    tracing::info!(conversation_id = %id, message_id = %note.id, mentions = mentioned.len(), "note added");
    Ok((
        StatusCode::CREATED,
        Json(NoteCreated {
            message: crate::conversations::signed(&deps, note).await,
            mentioned,
        }),
    ))
}

/// Pushes a `mention` notification to each of `agents` (best effort, like every push).
async fn notify(deps: &ApiDeps, author: &Agent, note: &Message, agents: &[AgentId]) {
    for agent in agents {
        let event = ServerEvent::Notification {
            notification: Notification {
                id: deps.ids.uuid().to_string(),
                kind: "mention".to_owned(),
                conversation_id: note.conversation_id,
                message_id: note.id,
                by: author.id,
                by_name: author.name.clone(),
                text: note.text.clone(),
                at: note.created_at,
            },
        };
        if let Err(e) = push_to_agent(
            deps.connections.as_ref(),
            deps.push.as_ref(),
            *agent,
            &event,
        )
        .await
        {
            tracing::warn!(agent_id = %agent, error = %e, "could not push a mention");
        }
    }
}

/// Characters of an e-mail local part besides letters and digits: a mention runs over them,
/// and an `@` right after one is an address (`ann@example.com`), not a mention.
const WORD_MARKS: &[char] = &['.', '_', '-', '+'];

/// The words after `@` in `text`, lower-case, without the punctuation that ends a sentence or
/// a list (`@ann,` → `ann`).
fn mention_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        let starts =
            c == '@' && prev.is_none_or(|p| !(p.is_alphanumeric() || WORD_MARKS.contains(&p)));
        prev = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[i + 1..];
        let end = rest
            .find(|ch: char| !(ch.is_alphanumeric() || WORD_MARKS.contains(&ch)))
            .unwrap_or(rest.len());
        let word = rest[..end].trim_end_matches(|ch: char| !ch.is_alphanumeric());
        if !word.is_empty() {
            words.push(word.to_lowercase());
        }
    }
    words
}

/// The agents `text` mentions, each once, in the order first mentioned: `@word` matches an
/// agent whose e-mail local part or first name is `word` (case-insensitive).
pub(crate) fn mentioned_agents(text: &str, agents: &[Agent]) -> Vec<AgentId> {
    let mut out = Vec::new();
    for word in mention_words(text) {
        for agent in agents {
            let local = agent
                .email
                .as_str()
                .split('@')
                .next()
                .unwrap_or_default()
                .to_lowercase();
            let first_name = agent
                .name
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_lowercase();
            if (word == local || word == first_name) && !out.contains(&agent.id) {
                out.push(agent.id);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::mention_words;

    #[test]
    fn mentions_are_the_words_after_an_at_sign_without_trailing_punctuation() {
        assert_eq!(
            mention_words("@Anna, can you and @bob.smith. look? (@carl) @ alone"),
            vec!["anna", "bob.smith", "carl"]
        );
        assert_eq!(
            mention_words("write to ann@example.com or x@y"),
            Vec::<String>::new()
        );
        assert_eq!(mention_words("@Жанна!"), vec!["жанна"]);
    }
}
