//! Contacts: profile with previous conversations, tag and attribute edits.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use omnidesk_core::{PageRequest, ServerEvent, StoreError};
use omnidesk_domain::{Contact, ContactId, Conversation, Tag};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, Body, PathParam};
use crate::{AppState, Me, publish};

/// Conversations listed with a contact.
const CONTACT_CONVERSATIONS: usize = 50;
/// Attribute limits.
pub(crate) const MAX_ATTRIBUTES: usize = 50;
pub(crate) const MAX_ATTRIBUTE_KEY_CHARS: usize = 64;
pub(crate) const MAX_ATTRIBUTE_VALUE_CHARS: usize = 1_000;
pub(crate) const MAX_TAGS: usize = 50;

fn parse_id(raw: &str) -> Result<ContactId, ApiError> {
    ContactId::parse(raw).map_err(|e| ApiError::invalid("id", e))
}

#[derive(Serialize)]
pub(crate) struct ContactWithConversations {
    #[serde(flatten)]
    contact: Contact,
    /// The contact's conversations, newest activity first.
    conversations: Vec<Conversation>,
}

/// `GET /api/v1/contacts/{id}`.
pub(crate) async fn get(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
) -> Result<Json<ContactWithConversations>, ApiError> {
    let id = parse_id(&id)?;
    let contact = deps
        .contacts
        .get_contact(id)
        .await?
        .ok_or_else(|| ApiError::not_found("contact"))?;
    let conversations: Vec<_> = deps
        .conversations
        .list_conversations_of_contact(id, &PageRequest::first(CONTACT_CONVERSATIONS))
        .await?
        .items
        .into_iter()
        .filter(|c| omnidesk_core::assign::may_read(&me.1, c))
        .collect();
    // A customer only another team talks with is not this agent's to see.
    if conversations.is_empty() && me.role() < omnidesk_domain::Role::Supervisor {
        return Err(ApiError::not_found("contact"));
    }
    Ok(Json(ContactWithConversations {
        contact,
        conversations,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContactPatch {
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    attributes: Option<BTreeMap<String, String>>,
}

fn parse_tags(raw: &[String]) -> Result<BTreeSet<Tag>, ApiError> {
    parse_tag_list("tags", raw, MAX_TAGS)
}

/// The tags (contact tags, conversation labels) of the body's `field`: at most `max`, each as
/// given (no white space around it), stored lower-case; duplicates fold into one.
pub(crate) fn parse_tag_list(
    field: &str,
    raw: &[String],
    max: usize,
) -> Result<BTreeSet<Tag>, ApiError> {
    if raw.len() > max {
        return Err(ApiError::invalid(field, format!("at most {max} {field}")));
    }
    raw.iter()
        .map(|t| {
            // `Tag::parse` would trim; the API takes tags as they are stored, or refuses them.
            if t.trim() != t {
                return Err(ApiError::invalid(
                    field,
                    format!("{t:?}: must not start or end with white space"),
                ));
            }
            // `Tag::parse` lower-cases `İ` to `i` + U+0307, which is no tag character: the
            // stored tag would not read back and every read of the record would fail. Taken
            // as `I` (its lower case is `i`) until the domain normalises it itself.
            Tag::parse(&t.replace('\u{130}', "I"))
                .map_err(|e| ApiError::invalid(field, format!("{t:?}: {}", e.reason)))
        })
        .collect()
}

fn check_attributes(attributes: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(ApiError::invalid(
            "attributes",
            format!("at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    for (k, v) in attributes {
        // Names are stored as given, so their length is counted as given.
        let key_chars = k.chars().count();
        if k.trim().is_empty() || key_chars > MAX_ATTRIBUTE_KEY_CHARS {
            return Err(ApiError::invalid(
                "attributes",
                format!(
                    "names must have 1 to {MAX_ATTRIBUTE_KEY_CHARS} characters, not all white space"
                ),
            ));
        }
        if v.chars().count() > MAX_ATTRIBUTE_VALUE_CHARS {
            return Err(ApiError::invalid(
                "attributes",
                format!("{k:?}: values must have at most {MAX_ATTRIBUTE_VALUE_CHARS} characters"),
            ));
        }
    }
    Ok(())
}

/// `PATCH /api/v1/contacts/{id}` `{"tags": [...], "attributes": {...}}`: each present field
/// replaces the stored one. Optimistic: re-read and re-applied on a concurrent edit.
pub(crate) async fn patch(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
    Body(patch): Body<ContactPatch>,
) -> Result<Json<Contact>, ApiError> {
    let id = parse_id(&id)?;
    if me.role() < omnidesk_domain::Role::Supervisor {
        let theirs = deps
            .conversations
            .list_conversations_of_contact(id, &PageRequest::first(CONTACT_CONVERSATIONS))
            .await?
            .items;
        if !theirs
            .iter()
            .any(|c| omnidesk_core::assign::may_read(&me.1, c))
        {
            return Err(ApiError::not_found("contact"));
        }
    }
    let tags = patch.tags.as_deref().map(parse_tags).transpose()?;
    if let Some(attributes) = &patch.attributes {
        check_attributes(attributes)?;
    }
    for _ in 0..3 {
        let current = deps
            .contacts
            .get_contact(id)
            .await?
            .ok_or_else(|| ApiError::not_found("contact"))?;
        let mut next = current.clone();
        if let Some(tags) = &tags {
            next.tags = tags.clone();
        }
        if let Some(attributes) = &patch.attributes {
            next.attributes = attributes.clone();
        }
        if next == current {
            return Ok(Json(current));
        }
        next.updated_at = deps.clock.now().max(current.updated_at);
        match deps
            .contacts
            .update_contact(&next, current.updated_at)
            .await
        {
            Ok(()) => {
                tracing::info!(contact_id = %id, "contact updated");
                publish(
                    &deps,
                    &[ServerEvent::ContactUpdated {
                        contact: Box::new(next.clone()),
                    }],
                )
                .await;
                return Ok(Json(next));
            }
            Err(StoreError::Conflict(_)) => {
                tracing::debug!(contact_id = %id, "stale contact, retrying");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(
        "conflict",
        "the contact is being changed by someone else; try again",
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MergeRequest {
    from: String,
}

/// `POST /api/v1/contacts/{id}/merge` `{"from":"ct_…"}`: an agent merges contact `from` into
/// `{id}` (identities and conversations move; `from` stays as a pointer; each moved
/// conversation's timeline says so). Pushes the merged contact and the moved conversations.
pub(crate) async fn merge(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
    Body(req): Body<MergeRequest>,
) -> Result<Json<Contact>, ApiError> {
    use omnidesk_core::usecases::{MergeError, MergePorts, merge_contacts};
    let into = parse_id(&id)?;
    let from = ContactId::parse(&req.from).map_err(|e| ApiError::invalid("from", e))?;
    // A merge that completed is not done again (the use case would finish a half-done one).
    if let Some(c) = deps.contacts.get_contact(from).await?
        && c.merged_into.is_some()
        && from != into
    {
        return Err(ApiError::conflict(
            "already_merged",
            format!("contact {from} was merged already"),
        ));
    }
    let merged = merge_contacts(
        MergePorts {
            contacts: deps.contacts.as_ref(),
            conversations: deps.conversations.as_ref(),
            messages: deps.messages.as_ref(),
            ids: deps.ids.as_ref(),
            clock: deps.clock.as_ref(),
        },
        from,
        into,
        Some(me.0),
    )
    .await
    .map_err(|e| match e {
        MergeError::SameContact => ApiError::conflict("same_contact", e.to_string()),
        MergeError::AlreadyMerged(_) => ApiError::conflict("already_merged", e.to_string()),
        MergeError::NotFound(_) => ApiError::not_found("contact"),
        MergeError::Store(e) => e.into(),
    })?;
    let mut events = merged.server_events();
    if let Some(loser) = deps.contacts.get_contact(from).await? {
        events.push(ServerEvent::ContactUpdated {
            contact: Box::new(loser),
        });
    }
    publish(&deps, &events).await;
    crate::audit::record(
        &deps,
        crate::audit::Event::by(Some(me.0), "contacts_merged")
            .on(&into)
            .detail(format!("{from} into {into}")),
    )
    .await;
    Ok(Json(merged.contact))
}

fn erasure_ports(deps: &crate::ApiDeps) -> omnidesk_core::erasure::ErasurePorts<'_> {
    omnidesk_core::erasure::ErasurePorts {
        contacts: deps.contacts.as_ref(),
        conversations: deps.conversations.as_ref(),
        messages: deps.messages.as_ref(),
        erasure: deps.erasure.as_ref(),
        blobs: deps.blobs.as_ref(),
        mailer: deps.mailer.as_deref(),
    }
}

impl From<omnidesk_core::erasure::ErasureError> for ApiError {
    fn from(e: omnidesk_core::erasure::ErasureError) -> Self {
        use omnidesk_core::erasure::ErasureError;
        match e {
            ErasureError::NotFound(_) => ApiError::not_found("contact"),
            ErasureError::Store(e) => e.into(),
            ErasureError::Blobs(e) => {
                tracing::warn!(error = %e, "file storage failed during an erasure or export");
                ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "files_unavailable",
                    "the file storage did not answer; nothing was lost, try again to finish",
                )
            }
        }
    }
}

/// `DELETE /api/v1/contacts/{id}` (admins): erases the contact for good — their identities,
/// conversations, messages, AI calls and files, and the contacts merged into them. Agents are
/// told (`contact.erased`, ids only); the audit log keeps who erased which id, and counts.
pub(crate) async fn erase(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = parse_id(&id)?;
    let erased = omnidesk_core::erasure::erase_contact(erasure_ports(&deps), id).await?;
    tracing::info!(
        contact_id = %id,
        conversations = erased.conversations.len(),
        messages = erased.messages,
        files = erased.files,
        mails = erased.mails,
        "contact erased"
    );
    publish(
        &deps,
        &[ServerEvent::ContactErased {
            contact_id: id,
            conversation_ids: erased.conversations.clone(),
        }],
    )
    .await;
    crate::audit::record(
        &deps,
        crate::audit::Event::by(Some(me.0), "contact_erased")
            .on(&id)
            .detail(format!(
                "{} conversations, {} messages, {} files, {} merged contacts",
                erased.conversations.len(),
                erased.messages,
                erased.files,
                erased.merged_contacts.len()
            )),
    )
    .await;
    Ok(Json(serde_json::json!({
        "erased": {
            "contact": id,
            "merged_contacts": erased.merged_contacts,
            "conversations": erased.conversations.len(),
            "conversation_ids": erased.conversations,
            "messages": erased.messages,
            "files": erased.files,
        }
    })))
}

/// `GET /api/v1/contacts/{id}/export` (admins): everything kept about the contact as one JSON
/// archive (a customer's request of access), files inside it up to 25 MB in total and linked
/// beyond. Recorded in the audit log.
pub(crate) async fn export(
    State(deps): State<AppState>,
    me: Me,
    PathParam(id): PathParam<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let id = parse_id(&id)?;
    let now = deps.clock.now();
    let mut archive = omnidesk_core::erasure::export_contact(erasure_ports(&deps), id, now).await?;
    for file in archive
        .files
        .iter_mut()
        .filter(|f| f.content_base64.is_none() && f.size_bytes > 0)
    {
        let link = omnidesk_core::LinkRequest {
            key: &file.key,
            content_type: &file.content_type,
            file_name: file.file_name.as_deref(),
            now,
            ttl: deps.files.link_ttl,
        };
        match deps.blobs.signed_url(&link).await {
            Ok(url) => file.url = Some(url),
            Err(e) => tracing::warn!(error = %e, "no link for an exported file"),
        }
    }
    crate::audit::record(
        &deps,
        crate::audit::Event::by(Some(me.0), "contact_exported")
            .on(&id)
            .detail(format!(
                "{} conversations, {} files",
                archive.conversations.len(),
                archive.files.len()
            )),
    )
    .await;
    let disposition = format!("attachment; filename=\"contact-{id}.json\"");
    Ok((
        [
            (axum::http::header::CONTENT_DISPOSITION, disposition),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Json(archive),
    )
        .into_response())
}
