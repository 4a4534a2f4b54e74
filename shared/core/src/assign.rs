//! Who takes a conversation, and in which order the queue is offered.
//!
//! An agent may take a conversation when they are online, have room (open conversations under
//! their capacity), are in its team (when it has one) and have its skill (when it needs one).
//! Among those, agents who read the conversation's language come first (others only when no
//! reader has room: the translator bridges), then the one with the fewest open conversations,
//! then the one idle longest (whose newest conversation activity is oldest). No shared counter
//! is written: picking costs reads only.
//!
//! The queue is offered by priority (urgent first), then by how long each conversation has
//! waited.

use std::cmp::Reverse;

use omnidesk_domain::{
    Agent, AgentId, AgentStatus, Conversation, ConversationId, ConversationStatus, Priority, Role,
    Timestamp,
};

use crate::{AgentStore, ConversationFilter, ConversationStore, PageRequest, StoreResult};

/// Queued conversations looked at, at most, when an agent takes from the queue.
pub const MAX_QUEUE_SCAN: usize = 1000;

/// Whether `agent` may be offered `c` by its team and skill (status and room aside).
pub fn eligible(agent: &Agent, c: &Conversation) -> bool {
    c.team.as_deref().is_none_or(|t| agent.in_team(t))
        && c.skill.as_deref().is_none_or(|s| agent.has_skill(s))
}

/// Whether `agent` may read (and work on) `c`: supervisors and admins every conversation; an
/// agent the conversations of their teams (assigned or queued), those of no team (the
/// deployment's common queue), and any assigned to them. The agent API answers 404 for the
/// others and the WebSocket never pushes them to the agent.
pub fn may_read(agent: &Agent, c: &Conversation) -> bool {
    reads(
        agent.role,
        |t| agent.in_team(t),
        agent.id,
        c.team.as_deref(),
        c.assignee_id,
    )
}

/// [`may_read`] of what a push says about a conversation (its team and assignee), for the
/// connection of agent `id` seen as `viewer`.
pub fn viewer_reads(
    viewer: &crate::Viewer,
    id: AgentId,
    team: Option<&str>,
    assignee: Option<AgentId>,
) -> bool {
    reads(
        viewer.role,
        |t| viewer.teams.iter().any(|m| m.eq_ignore_ascii_case(t)),
        id,
        team,
        assignee,
    )
}

/// The one rule of who reads a conversation.
fn reads(
    role: Role,
    member_of: impl Fn(&str) -> bool,
    id: AgentId,
    team: Option<&str>,
    assignee: Option<AgentId>,
) -> bool {
    role >= Role::Supervisor || assignee == Some(id) || team.is_none_or(member_of)
}

/// The queue's order key, ascending: higher priority first, then who waited longest.
pub fn queue_order(c: &Conversation) -> (Reverse<Priority>, Timestamp, ConversationId) {
    (
        Reverse(c.priority),
        c.queued_at.or(c.last_inbound_at).unwrap_or(c.created_at),
        c.id,
    )
}

/// Picks who takes `c` (see the module docs); `None` when nobody can, and it waits in the
/// queue. `except`: agents it just went unanswered with.
pub async fn pick_agent_for(
    agents: &dyn AgentStore,
    conversations: &dyn ConversationStore,
    c: &Conversation,
    except: &[AgentId],
) -> StoreResult<Option<AgentId>> {
    let all = agents.list_agents().await?;
    let candidates: Vec<&Agent> = all
        .iter()
        .filter(|a| {
            a.status == AgentStatus::Online
                && a.capacity > 0
                && !except.contains(&a.id)
                && eligible(a, c)
        })
        .collect();
    let (readers, others): (Vec<&Agent>, Vec<&Agent>) = candidates
        .into_iter()
        .partition(|a| c.language.as_ref().is_none_or(|l| a.reads(l)));
    for pool in [readers, others] {
        if let Some(agent) = least_busy(conversations, &pool).await? {
            return Ok(Some(agent));
        }
    }
    Ok(None)
}

/// Of `pool`, the agent with room and the fewest open conversations; ties go to who has been
/// idle longest.
async fn least_busy(
    conversations: &dyn ConversationStore,
    pool: &[&Agent],
) -> StoreResult<Option<AgentId>> {
    let mut with_room: Vec<(u32, AgentId)> = Vec::new();
    for agent in pool {
        let open = conversations.count_assigned(agent.id).await?;
        if agent.can_take(open) {
            with_room.push((open, agent.id));
        }
    }
    let Some(fewest) = with_room.iter().map(|(open, _)| *open).min() else {
        return Ok(None);
    };
    let tied: Vec<AgentId> = with_room
        .into_iter()
        .filter(|(open, _)| *open == fewest)
        .map(|(_, id)| id)
        .collect();
    if tied.len() == 1 {
        return Ok(tied.first().copied());
    }
    let mut idle: Vec<(Option<Timestamp>, AgentId)> = Vec::with_capacity(tied.len());
    for id in tied {
        idle.push((last_activity(conversations, id).await?, id));
    }
    // `None` (never had a conversation) sorts first: idle longest.
    idle.sort();
    Ok(idle.first().map(|(_, id)| *id))
}

/// The newest activity of any conversation `agent` has (or had).
async fn last_activity(
    conversations: &dyn ConversationStore,
    agent: AgentId,
) -> StoreResult<Option<Timestamp>> {
    let filter = ConversationFilter {
        status: None,
        assignee: Some(Some(agent)),
    };
    let page = conversations
        .list_conversations(&filter, &PageRequest::first(1))
        .await?;
    Ok(page.items.first().map(|c| c.last_activity_at))
}

/// The queued, unassigned conversations `agent` may take, in the queue's order, at most
/// `limit` (the caller assigns them, re-checking each as it writes).
pub async fn queued_for(
    conversations: &dyn ConversationStore,
    agent: &Agent,
    limit: usize,
) -> StoreResult<Vec<Conversation>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let filter = ConversationFilter {
        status: Some(ConversationStatus::Queued),
        assignee: Some(None),
    };
    let mut queued = Vec::new();
    let mut page = PageRequest::first(100);
    loop {
        let got = conversations.list_conversations(&filter, &page).await?;
        queued.extend(
            got.items
                .into_iter()
                .filter(|c| c.snoozed_until.is_none() && eligible(agent, c)),
        );
        match got.next_cursor {
            Some(cursor) if queued.len() < MAX_QUEUE_SCAN => page.cursor = Some(cursor),
            _ => break,
        }
    }
    queued.sort_by_key(queue_order);
    queued.truncate(limit);
    Ok(queued)
}

/// The place of `c` in its queue (1 = next), among the queued, unassigned conversations of
/// the same team, by the queue's order; `None` when more than `scan` wait (the customer is
/// then told only that a person is coming).
pub async fn queue_position(
    conversations: &dyn ConversationStore,
    c: &Conversation,
    scan: usize,
) -> StoreResult<Option<usize>> {
    let filter = ConversationFilter {
        status: Some(ConversationStatus::Queued),
        assignee: Some(None),
    };
    let mine = queue_order(c);
    let mut ahead = 0;
    let mut seen = 0;
    let mut page = PageRequest::first(100);
    loop {
        let got = conversations.list_conversations(&filter, &page).await?;
        for w in &got.items {
            seen += 1;
            if w.id != c.id && w.team == c.team && queue_order(w) < mine {
                ahead += 1;
            }
        }
        match got.next_cursor {
            Some(cursor) if seen < scan => page.cursor = Some(cursor),
            Some(_) => return Ok(None),
            None => break,
        }
    }
    Ok(Some(ahead + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use omnidesk_domain::{Channel, ContactId, ConversationKey, EmailAddress, PasswordHash};

    fn agent(teams: &[&str], skills: &[&str]) -> Agent {
        Agent {
            id: AgentId::from_uuid(uuid::Uuid::now_v7()),
            email: EmailAddress::parse("a@example.com").unwrap(),
            name: "A".to_owned(),
            password_hash: PasswordHash::from_phc("x".to_owned()),
            teams: teams.iter().map(|t| t.to_string()).collect(),
            skills: skills.iter().map(|t| t.to_string()).collect(),
            languages: Default::default(),
            language: None,
            status: AgentStatus::Online,
            chosen_status: None,
            capacity: 10,
            role: omnidesk_domain::Role::Agent,
            disabled: false,
            totp: false,
            totp_secret: None,
            created_at: Timestamp::from_millis(0),
        }
    }

    fn conv(at: i64, priority: Priority) -> Conversation {
        let mut c = Conversation::new(
            ConversationId::from_uuid(uuid::Uuid::now_v7()),
            ConversationKey::parse(&format!("web:x:{at}")).unwrap(),
            ContactId::from_uuid(uuid::Uuid::now_v7()),
            Channel::Web,
            Timestamp::from_millis(at),
        );
        c.priority = priority;
        c.queued_at = Some(Timestamp::from_millis(at));
        c
    }

    #[test]
    fn an_agent_is_eligible_by_team_and_skill() {
        let mut c = conv(0, Priority::Normal);
        assert!(eligible(&agent(&[], &[]), &c));
        c.team = Some("vip".to_owned());
        assert!(!eligible(&agent(&["support"], &[]), &c));
        assert!(eligible(&agent(&["support", "VIP"], &[]), &c));
        c.skill = Some("billing".to_owned());
        assert!(!eligible(&agent(&["vip"], &[]), &c));
        assert!(eligible(&agent(&["vip"], &["Billing"]), &c));
    }

    #[test]
    fn an_agent_reads_their_teams_the_common_queue_and_their_own_a_supervisor_everything() {
        let mut c = conv(0, Priority::Normal);
        let mut ann = agent(&["support"], &[]);
        assert!(may_read(&ann, &c), "no team: the common queue");
        c.team = Some("vip".to_owned());
        assert!(!may_read(&ann, &c));
        c.assignee_id = Some(ann.id);
        assert!(may_read(&ann, &c), "assigned to her");
        c.assignee_id = None;
        ann.teams.insert("VIP".to_owned());
        assert!(may_read(&ann, &c), "her team's");
        let mut sue = agent(&[], &[]);
        assert!(!may_read(&sue, &c));
        sue.role = Role::Supervisor;
        assert!(may_read(&sue, &c));
    }

    #[test]
    fn the_queue_offers_higher_priority_first_then_who_waited_longest() {
        let old = conv(1_000, Priority::Normal);
        let new_vip = conv(5_000, Priority::High);
        let older = conv(500, Priority::Normal);
        let urgent = conv(9_000, Priority::Urgent);
        let mut q = [&old, &new_vip, &older, &urgent];
        q.sort_by_key(|c| queue_order(c));
        let ids: Vec<_> = q.iter().map(|c| c.id).collect();
        assert_eq!(ids, [urgent.id, new_vip.id, older.id, old.id]);
    }
}
