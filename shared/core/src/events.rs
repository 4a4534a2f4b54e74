//! The WebSocket protocol (identical on API Gateway and locally): server → client events are
//! JSON objects with a `"type"`; client → server frames have an `"action"`.

use omnidesk_domain::{
    AgentId, AgentStatus, Channel, Contact, Conversation, ConversationId, ConversationStatus,
    LastMessage, Message, Timestamp,
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
    pub contact: ContactView,
    pub last_message: Option<LastMessage>,
    pub last_activity_at: Timestamp,
    pub last_inbound_at: Option<Timestamp>,
    pub unread_count: u32,
    pub created_at: Timestamp,
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
            contact,
            last_message: c.last_message.clone(),
            last_activity_at: c.last_activity_at,
            last_inbound_at: c.last_inbound_at,
            unread_count: c.unread_count,
            created_at: c.created_at,
            version: c.version,
        }
    }
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
    #[serde(rename = "message.created")]
    MessageCreated {
        conversation_id: ConversationId,
        message: Message,
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
    /// An agent's status changed.
    #[serde(rename = "presence")]
    Presence {
        agent_id: AgentId,
        status: AgentStatus,
    },
    /// Answer to `{"action":"ping"}`.
    #[serde(rename = "pong")]
    Pong,
    /// A client frame was not understood.
    #[serde(rename = "error")]
    Error { message: String },
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
