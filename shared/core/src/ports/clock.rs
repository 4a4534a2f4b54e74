use omnidesk_domain::{AgentId, ContactId, ConversationId, MessageId, Timestamp};
use uuid::Uuid;

/// The time source. Functions never read the system clock directly, so tests can drive time.
pub trait Clock: Send + Sync {
    /// Now, in UTC with millisecond precision. Never goes backwards within one process.
    fn now(&self) -> Timestamp;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        Timestamp::from_millis(ms)
    }
}

/// The id source. Ids are unique and sort by creation time (UUIDv7), which the message store
/// relies on for ordering (`MSG#<id>` sort keys).
pub trait IdGen: Send + Sync {
    /// A new unique, time-ordered UUID.
    fn uuid(&self) -> Uuid;

    /// A new contact id.
    fn contact_id(&self) -> ContactId {
        ContactId::from_uuid(self.uuid())
    }
    /// A new conversation id.
    fn conversation_id(&self) -> ConversationId {
        ConversationId::from_uuid(self.uuid())
    }
    /// A new message id.
    fn message_id(&self) -> MessageId {
        MessageId::from_uuid(self.uuid())
    }
    /// A new agent id.
    fn agent_id(&self) -> AgentId {
        AgentId::from_uuid(self.uuid())
    }
}

/// UUIDv7 ids (monotonic within the process).
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7Ids;

impl IdGen for UuidV7Ids {
    fn uuid(&self) -> Uuid {
        Uuid::now_v7()
    }
}
