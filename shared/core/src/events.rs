//! The WebSocket protocol (identical on API Gateway and locally): server → client events are
//! JSON objects with a `"type"`; client → server frames have an `"action"`.

use std::collections::BTreeSet;

use omnidesk_domain::{
    Agent, AgentId, AgentStatus, Channel, Contact, Conversation, ConversationId,
    ConversationStatus, Csat, LastMessage, Message, Priority, Tag, Timestamp,
};
use serde::{Deserialize, Serialize};

/// A contact as agents see it.
pub type ContactView = Contact;

/// A conversation with its contact, as lists and pushes carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationView {
    pub id: ConversationId,
    pub status: ConversationStatus,
    pub assignee_id: Option<AgentId>,
    pub channel: Channel,
    pub channel_path: Vec<Channel>,
    /// The channels the conversation moved through, oldest first (`["web","telegram"]`): the
    /// path the dashboard shows as "Website → Telegram" (the same as `channel_path`).
    #[serde(default)]
    pub channels: Vec<Channel>,
    pub contact: ContactView,
    /// The customer's language, as detected from their messages (the conversation keeps one,
    /// changed only on strong evidence).
    #[serde(default)]
    pub language: Option<omnidesk_domain::LanguageTag>,
    pub last_message: Option<LastMessage>,
    pub last_activity_at: Timestamp,
    pub last_inbound_at: Option<Timestamp>,
    pub unread_count: u32,
    /// Until when the customer has read the conversation (outgoing messages up to it are seen).
    #[serde(default)]
    pub customer_read_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// The summary of the earlier history (the AI's context, the agent's card at handover).
    #[serde(default)]
    pub summary: Option<omnidesk_domain::HistorySummary>,
    /// AI answers since the conversation last came to the bot.
    #[serde(default)]
    pub ai_turns: u32,
    /// The team whose queue it is in; absent: the deployment's default queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The skill an agent needs to take it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill: Option<String>,
    /// Absent: normal.
    #[serde(default, skip_serializing_if = "Priority::is_normal")]
    pub priority: Priority,
    /// When it last started waiting for an agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<Timestamp>,
    /// An agent's first reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<Timestamp>,
    /// When it was last resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Timestamp>,
    /// Unanswered moves to the next agent since it was last queued.
    #[serde(default)]
    pub hops: u32,
    /// Labels agents put on it (absent: none).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub labels: BTreeSet<Tag>,
    /// Until when it is snoozed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snoozed_until: Option<Timestamp>,
    /// The customer's rating after resolve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csat: Option<Csat>,
    pub version: u64,
}

impl ConversationView {
    /// Joins a conversation with its contact.
    pub fn new(c: &Conversation, contact: Contact) -> Self {
        Self {
            id: c.id,
            status: c.status,
            assignee_id: c.assignee_id,
            channel: c.channel,
            channel_path: c.channel_path.clone(),
            channels: c.channel_path.clone(),
            contact,
            language: c.language.clone(),
            last_message: c.last_message.clone(),
            last_activity_at: c.last_activity_at,
            last_inbound_at: c.last_inbound_at,
            unread_count: c.unread_count,
            customer_read_at: c.customer_read_at,
            created_at: c.created_at,
            summary: c.summary.clone(),
            ai_turns: c.ai_turns,
            team: c.team.clone(),
            skill: c.skill.clone(),
            priority: c.priority,
            queued_at: c.queued_at,
            first_response_at: c.first_response_at,
            resolved_at: c.resolved_at,
            hops: c.hops,
            labels: c.labels.clone(),
            snoozed_until: c.snoozed_until,
            csat: c.csat.clone(),
            version: c.version,
        }
    }
}

/// A notice for one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    /// `mention` (an @mention in a private note).
    pub kind: String,
    pub conversation_id: ConversationId,
    pub message_id: omnidesk_domain::MessageId,
    /// Who caused it.
    pub by: AgentId,
    pub by_name: String,
    /// What it says (the note's text).
    pub text: String,
    pub at: Timestamp,
}

/// Server → client events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServerEvent {
    /// First frame after connecting.
    #[serde(rename = "hello")]
    Hello {
        agent_id: AgentId,
        connection_id: String,
    },
    /// A message was added to a conversation (inbound, outbound or a timeline event).
    ///
    /// `conversation`, when present, is the conversation as it is after the message: clients
    /// update their list entry exactly as for a `conversation.updated`, which the producer then
    /// does not push separately (one WebSocket message instead of two).
    #[serde(rename = "message.created")]
    MessageCreated {
        conversation_id: ConversationId,
        message: Message,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation: Option<Box<ConversationView>>,
    },
    /// A message changed (delivery status, translation).
    #[serde(rename = "message.updated")]
    MessageUpdated {
        conversation_id: ConversationId,
        message: Message,
    },
    /// A conversation changed (status, assignee, preview, unread).
    #[serde(rename = "conversation.updated")]
    ConversationUpdated { conversation: Box<ConversationView> },
    /// A contact changed (tags, unreachable).
    #[serde(rename = "contact.updated")]
    ContactUpdated { contact: Box<ContactView> },
    /// A contact was erased for good (an admin's erasure): forget it and these conversations.
    /// Ids only, so every agent may be told.
    #[serde(rename = "contact.erased")]
    ContactErased {
        contact_id: omnidesk_domain::ContactId,
        conversation_ids: Vec<ConversationId>,
    },
    /// An agent's record changed (teams, role, access): the agents list shows it, and the
    /// agent's own dashboard re-reads what their teams let them see.
    #[serde(rename = "agent.updated")]
    AgentUpdated { agent: Box<Agent> },
    /// An agent's status changed.
    #[serde(rename = "presence")]
    Presence {
        agent_id: AgentId,
        status: AgentStatus,
    },
    /// Something for one agent (pushed only to their connections): an @mention in a note.
    #[serde(rename = "notification")]
    Notification { notification: Notification },
    /// Answer to `{"action":"ping"}`.
    #[serde(rename = "pong")]
    Pong,
    /// A client frame was not understood.
    #[serde(rename = "error")]
    Error { message: String },
    /// Several events in one frame, to be applied in order (API Gateway bills WebSocket
    /// messages per started 32 KB, so producers and the Lambda push coalescer pack events).
    #[serde(rename = "batch")]
    Batch { events: Vec<ServerEvent> },
}

impl ServerEvent {
    /// The JSON text frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"type":"error","message":"unserialisable event"}"#.to_owned())
    }
}

/// Client → server frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ClientAction {
    /// Heartbeat; answered with `pong`.
    Ping,
    /// Asks for the `hello` event again. The local hub sends `hello` at connect, but API
    /// Gateway refuses pushes before `$connect` returns, so clients send this once the socket is
    /// open and both runtimes answer it the same way.
    Hello,
}

impl ServerEvent {
    /// Folds every `conversation.updated` into the latest earlier `message.created` of the same
    /// conversation (a later view replaces an earlier one), so a change that added a message
    /// costs one event.
    /// A `conversation.updated` with no such message stays (assign/resolve without a timeline
    /// message); order is otherwise kept.
    pub fn fold_conversation_updates(events: Vec<ServerEvent>) -> Vec<ServerEvent> {
        let mut out: Vec<ServerEvent> = Vec::with_capacity(events.len());
        for event in events {
            let ServerEvent::ConversationUpdated { conversation: view } = event else {
                out.push(event);
                continue;
            };
            let target = out.iter_mut().rev().find_map(|e| match e {
                ServerEvent::MessageCreated {
                    conversation_id,
                    conversation,
                    ..
                } if *conversation_id == view.id => Some(conversation),
                _ => None,
            });
            match target {
                // A later view supersedes an earlier one.
                Some(slot) => *slot = Some(view),
                None => out.push(ServerEvent::ConversationUpdated { conversation: view }),
            }
        }
        out
    }

    /// One event for several: the event itself when there is one, a `batch` when there are
    /// more, `None` when there are none.
    pub fn batch(mut events: Vec<ServerEvent>) -> Option<ServerEvent> {
        match events.len() {
            0 => None,
            1 => events.pop(),
            _ => Some(ServerEvent::Batch { events }),
        }
    }
}

#[cfg(test)]
mod tests {
    use omnidesk_domain::{Author, ContactId, ConversationKey, Identity, MessageId, SystemEvent};
    use uuid::Uuid;

    use super::*;

    fn conversation_id(n: u128) -> ConversationId {
        ConversationId::from_uuid(Uuid::from_u128(n))
    }

    fn view(id: ConversationId, version: u64) -> Box<ConversationView> {
        let at = Timestamp::from_millis(1_700_000_000_000);
        let contact = Contact::new(
            ContactId::from_uuid(Uuid::from_u128(7)),
            "Ada".to_owned(),
            Identity::Phone {
                e164: "+15550100".to_owned(),
            },
            at,
        );
        let key = ConversationKey::parse("tg:1:2").unwrap_or_else(|e| panic!("key: {e}"));
        let mut c = Conversation::new(id, key, contact.id, Channel::Telegram, at);
        c.version = version;
        Box::new(ConversationView::new(&c, contact))
    }

    fn created(id: ConversationId, n: u128) -> ServerEvent {
        ServerEvent::MessageCreated {
            conversation_id: id,
            message: Message::outbound(
                MessageId::from_uuid(Uuid::from_u128(n)),
                id,
                Author::Bot,
                Channel::Telegram,
                format!("message {n}"),
                Timestamp::from_millis(1_700_000_000_000),
            ),
            conversation: None,
        }
    }

    fn system(id: ConversationId, n: u128) -> ServerEvent {
        ServerEvent::MessageCreated {
            conversation_id: id,
            message: Message::system(
                MessageId::from_uuid(Uuid::from_u128(n)),
                id,
                Channel::Telegram,
                SystemEvent::Reopened,
                Timestamp::from_millis(1_700_000_000_000),
            ),
            conversation: None,
        }
    }

    fn json(event: &ServerEvent) -> serde_json::Value {
        serde_json::from_str(&event.to_json()).unwrap_or_else(|e| panic!("json: {e}"))
    }

    #[test]
    fn a_message_created_without_a_view_serialises_as_before() {
        let v = json(&created(conversation_id(1), 10));
        assert_eq!(v["type"], "message.created");
        assert!(v.get("conversation").is_none(), "{v}");
        let back: ServerEvent = serde_json::from_value(v).unwrap_or_else(|e| panic!("parse: {e}"));
        assert_eq!(back, created(conversation_id(1), 10));
    }

    #[test]
    fn a_message_created_with_a_view_round_trips() {
        let id = conversation_id(1);
        let ServerEvent::MessageCreated {
            conversation_id,
            message,
            ..
        } = created(id, 10)
        else {
            panic!("not a message.created");
        };
        let event = ServerEvent::MessageCreated {
            conversation_id,
            message,
            conversation: Some(view(id, 3)),
        };
        let v = json(&event);
        assert_eq!(v["conversation"]["version"], 3);
        assert_eq!(v["conversation"]["id"], id.to_string());
        let back: ServerEvent = serde_json::from_value(v).unwrap_or_else(|e| panic!("parse: {e}"));
        assert_eq!(back, event);
    }

    #[test]
    fn a_batch_frame_lists_its_events_in_order() {
        let id = conversation_id(1);
        let batch = ServerEvent::Batch {
            events: vec![created(id, 10), ServerEvent::Pong],
        };
        let text = batch.to_json();
        assert!(text.starts_with(r#"{"type":"batch","events":["#), "{text}");
        let v = json(&batch);
        assert_eq!(v["events"][0]["type"], "message.created");
        assert_eq!(v["events"][1]["type"], "pong");
        let back: ServerEvent =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse: {e}"));
        assert_eq!(back, batch);
    }

    #[test]
    fn a_conversation_update_folds_into_the_last_message_of_that_conversation() {
        let (a, b) = (conversation_id(1), conversation_id(2));
        let events = vec![
            created(a, 10),
            system(a, 11),
            created(b, 12),
            ServerEvent::ConversationUpdated {
                conversation: view(a, 4),
            },
        ];
        let folded = ServerEvent::fold_conversation_updates(events);
        assert_eq!(folded.len(), 3);
        let views: Vec<Option<u64>> = folded
            .iter()
            .map(|e| match e {
                ServerEvent::MessageCreated { conversation, .. } => {
                    conversation.as_ref().map(|c| c.version)
                }
                _ => panic!("unexpected event {e:?}"),
            })
            .collect();
        assert_eq!(views, vec![None, Some(4), None]);
    }

    #[test]
    fn a_conversation_update_without_a_message_stays_and_a_later_one_replaces_the_view() {
        let (a, b) = (conversation_id(1), conversation_id(2));
        let events = vec![
            ServerEvent::ConversationUpdated {
                conversation: view(b, 1),
            },
            created(a, 10),
            ServerEvent::ConversationUpdated {
                conversation: view(a, 2),
            },
            ServerEvent::ConversationUpdated {
                conversation: view(a, 3),
            },
        ];
        let folded = ServerEvent::fold_conversation_updates(events);
        assert_eq!(folded.len(), 2);
        assert!(
            matches!(&folded[0], ServerEvent::ConversationUpdated { conversation } if conversation.id == b)
        );
        assert!(matches!(
            &folded[1],
            ServerEvent::MessageCreated { conversation: Some(c), .. } if c.version == 3
        ));
    }

    #[test]
    fn batch_of_one_event_is_the_event_itself() {
        assert_eq!(ServerEvent::batch(Vec::new()), None);
        assert_eq!(
            ServerEvent::batch(vec![ServerEvent::Pong]),
            Some(ServerEvent::Pong)
        );
        assert_eq!(
            ServerEvent::batch(vec![ServerEvent::Pong, ServerEvent::Pong]),
            Some(ServerEvent::Batch {
                events: vec![ServerEvent::Pong, ServerEvent::Pong]
            })
        );
    }
}

/// A message as a website visitor sees it (the widget API and the visitor WebSocket): the
/// fields of the agent API's message that concern the customer, the author's display name,
/// and the widget's own `client_id` for its outbox. Internal timeline events (assignments,
/// transfers) are never shown to visitors; channel moves are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebMessage {
    pub id: omnidesk_domain::MessageId,
    pub conversation_id: ConversationId,
    pub direction: omnidesk_domain::Direction,
    pub author: WebAuthor,
    /// The agent's name (agents), or `None`.
    pub author_name: Option<String>,
    pub channel: Channel,
    pub text: String,
    pub delivery: omnidesk_domain::Delivery,
    pub created_at: Timestamp,
    /// The id the widget gave the message when it sent it.
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<omnidesk_domain::SystemEvent>,
    /// Files and other attachments. The widget API signs their `url`s
    /// ([`crate::usecases::sign_attachments`]); pushed events carry none (refetch to show them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<omnidesk_domain::Attachment>,
    /// Choices offered with the message (the bot's "Talk to a person", a rating question's
    /// stars): the widget shows them as buttons and sends the pressed one's `data` as the
    /// message's `choice`, with its `text` as the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<omnidesk_domain::Button>,
}

/// Who wrote a message, as a visitor sees it (no internal ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebAuthor {
    /// `contact`, `agent`, `bot`, `ai` or `system`.
    pub kind: String,
}

/// The prefix of the source key of a message a visitor sent from the widget:
/// `webmsg:<visitor id>:<client id>`.
pub const WEB_SOURCE_PREFIX: &str = "webmsg:";

impl WebMessage {
    /// The visitor's view of `m`, or `None` for a timeline event visitors do not see.
    pub fn of(m: &Message, author_name: Option<String>) -> Option<Self> {
        if let Some(event) = &m.event
            && !matches!(
                event,
                omnidesk_domain::SystemEvent::ChannelSwitched { .. }
                    | omnidesk_domain::SystemEvent::ChannelUnlinked { .. }
            )
        {
            return None;
        }
        // Internal notes are the agents' only.
        if m.internal {
            return None;
        }
        // A reply still waiting for its translation is not the visitor's to see yet; a
        // translated one is seen as the visitor received it.
        if m.is_held_for_translation() {
            return None;
        }
        let text = match &m.event {
            Some(event) => event.describe(),
            None => m.outgoing_text().to_owned(),
        };
        let client_id = m
            .source_key
            .as_deref()
            .and_then(|k| k.strip_prefix(WEB_SOURCE_PREFIX))
            .and_then(|rest| rest.split_once(':'))
            .map(|(_, client)| client.to_owned());
        Some(Self {
            id: m.id,
            conversation_id: m.conversation_id,
            direction: m.direction,
            author: WebAuthor {
                kind: m.author.kind().to_owned(),
            },
            author_name,
            channel: m.channel,
            text,
            delivery: m.delivery.clone(),
            created_at: m.created_at,
            client_id,
            event: m.event.clone(),
            attachments: m
                .attachments
                .iter()
                .cloned()
                .map(|mut a| {
                    a.url = None;
                    a
                })
                .collect(),
            buttons: m.buttons.clone(),
        })
    }
}

/// Server → visitor events on the widget's WebSocket (the same `{"type": …}` framing as the
/// agents').
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum VisitorEvent {
    /// First frame after connecting.
    #[serde(rename = "hello")]
    Hello {
        visitor_id: omnidesk_domain::VisitorId,
    },
    #[serde(rename = "message.created")]
    MessageCreated {
        conversation_id: ConversationId,
        message: WebMessage,
    },
    #[serde(rename = "message.updated")]
    MessageUpdated {
        conversation_id: ConversationId,
        message: WebMessage,
    },
    /// The session changed (continued on another channel, identified): read it again with
    /// `GET /web/v1/session`.
    #[serde(rename = "session.updated")]
    SessionUpdated,
    #[serde(rename = "pong")]
    Pong,
    #[serde(rename = "error")]
    Error { message: String },
    /// Several events, applied in order.
    #[serde(rename = "batch")]
    Batch { events: Vec<VisitorEvent> },
}

impl VisitorEvent {
    /// The JSON text frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"type":"error","message":"unserialisable event"}"#.to_owned())
    }
}
