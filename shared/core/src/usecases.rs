//! Small use cases shared by several functions.

use omnidesk_domain::{Contact, Conversation};

use crate::{
    ConnectionStore, ContactStore, ConversationView, Push, PushOutcome, ServerEvent, StoreError,
    StoreResult,
};

/// Pushes `event` to every connected agent. Gone connections are removed (not an error); a
/// failed push to one connection is logged and does not stop the others. Returns how many
/// connections received it.
///
/// Every connected agent sees every conversation (the dashboard's "All" tab); per-team
/// visibility narrows this list when teams arrive.
pub async fn push_to_agents(
    connections: &dyn ConnectionStore,
    push: &dyn Push,
    event: &ServerEvent,
) -> StoreResult<usize> {
    let frame = event.to_json();
    let mut delivered = 0;
    for conn in connections.list_connections().await? {
        match push.post(&conn.id, &frame).await {
            Ok(PushOutcome::Delivered) => delivered += 1,
            Ok(PushOutcome::Gone) => {
                tracing::debug!(connection = %conn.id, "removing gone connection");
                connections.remove_connection(&conn.id).await?;
            }
            Err(e) => tracing::warn!(connection = %conn.id, error = %e, "push failed"),
        }
    }
    Ok(delivered)
}

/// Loads the contact of `conversation` and joins them into the view agents see.
pub async fn conversation_view(
    contacts: &dyn ContactStore,
    conversation: &Conversation,
) -> StoreResult<ConversationView> {
    let contact: Contact = contacts
        .get_contact(conversation.contact_id)
        .await?
        .ok_or_else(|| {
            StoreError::Corrupt(format!("conversation {} has no contact", conversation.id))
        })?;
    Ok(ConversationView::new(conversation, contact))
}

/// Picks the agent for a new conversation: round-robin over agents who are online and under
/// capacity (the rotation point is a shared atomic counter, so several router instances take
/// turns too). `None` when nobody can take it; the conversation then waits in the queue.
pub async fn pick_agent(
    agents: &dyn crate::AgentStore,
    conversations: &dyn crate::ConversationStore,
) -> StoreResult<Option<omnidesk_domain::AgentId>> {
    let online: Vec<_> = agents
        .list_agents()
        .await?
        .into_iter()
        .filter(|a| a.status == omnidesk_domain::AgentStatus::Online && a.capacity > 0)
        .collect();
    if online.is_empty() {
        return Ok(None);
    }
    let start = agents.next_counter("assign_round_robin").await? as usize;
    for i in 0..online.len() {
        let agent = &online[(start + i) % online.len()];
        if agent.can_take(conversations.count_assigned(agent.id).await?) {
            return Ok(Some(agent.id));
        }
    }
    Ok(None)
}
