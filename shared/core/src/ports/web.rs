//! What the website channel keeps: websites (configured by an admin), single-use tokens (the
//! "continue on Telegram" deep-link tokens and WebSocket tickets, stored hashed), and the live
//! WebSocket connections of visitors.

use async_trait::async_trait;
use omnidesk_domain::{
    BotId, Channel, ContactId, ConversationId, Identity, Timestamp, VisitorId, WebsiteId,
};
use serde::{Deserialize, Serialize};

use crate::{ConnectionId, Secret, StoreResult};

/// A website that embeds the chat widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Website {
    pub id: WebsiteId,
    pub name: String,
    /// Origins (`scheme://host[:port]`) allowed to use the widget API; every other origin is
    /// refused (CORS and the API's own check).
    pub origins: Vec<String>,
    /// The Telegram bot visitors can continue on.
    #[serde(default)]
    pub bot_id: Option<BotId>,
    /// The secret the site signs its users' ids with (identity verification).
    #[serde(default)]
    pub identity_secret: Option<Secret>,
    /// Whether the widget asks for name and e-mail before the first message.
    #[serde(default)]
    pub prechat: bool,
    pub created_at: Timestamp,
}

impl Website {
    /// Whether `origin` (an `Origin` header value) may use this website's widget.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        self.origins
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

/// What a single-use token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A "continue on another channel" deep-link token (10 minutes).
    Handoff,
    /// A visitor WebSocket ticket (60 seconds).
    WsTicket,
    /// A one-time code mailed to prove an e-mail address (`/bind`, 10 minutes).
    BindCode,
    /// An agent's WebSocket ticket (60 seconds): the dashboard connects with it instead of
    /// putting its long-lived token in the URL.
    AgentTicket,
    /// An agent's refresh token (days): trades for a new access token, once.
    AgentRefresh,
}

impl TokenKind {
    /// Lowercase name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Handoff => "handoff",
            TokenKind::WsTicket => "ws_ticket",
            TokenKind::BindCode => "bind_code",
            TokenKind::AgentTicket => "agent_ticket",
            TokenKind::AgentRefresh => "agent_refresh",
        }
    }
}

/// A single-use token as stored: its hash (never the token), what it grants, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    pub kind: TokenKind,
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// Who it was issued to (a new token of the same kind and owner cancels the previous one).
    pub owner: String,
    /// What it grants (JSON of the issuer's choosing).
    pub payload: String,
    pub expires_at: Timestamp,
}

/// Websites and single-use tokens.
///
/// Guarantees: `put_website` upserts by id. `put_token` stores a token and cancels every other
/// token of the same kind and owner. `take_token` returns a token at most once, ever (the read
/// deletes it atomically), and never one whose `expires_at` is not after `now` (an expired one
/// is deleted and `None` returned); stores also drop expired tokens on their own (TTL).
#[async_trait]
pub trait WebStore: Send + Sync {
    /// Creates or replaces a website.
    async fn put_website(&self, website: &Website) -> StoreResult<()>;
    /// One website.
    async fn get_website(&self, id: WebsiteId) -> StoreResult<Option<Website>>;
    /// Every website, ordered by id.
    async fn list_websites(&self) -> StoreResult<Vec<Website>>;
    /// Stores a token, cancelling the owner's previous one of that kind.
    async fn put_token(&self, token: &StoredToken) -> StoreResult<()>;
    /// Redeems a token: returns it once if it exists and has not expired at `now`.
    async fn take_token(
        &self,
        kind: TokenKind,
        hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<StoredToken>>;
}

/// A visitor's live WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorConnection {
    pub id: ConnectionId,
    pub website_id: WebsiteId,
    pub visitor_id: VisitorId,
    pub connected_at: Timestamp,
}

/// Live WebSocket connections of visitors (so the router and the sender can push to a
/// visitor's open widgets).
///
/// Guarantees as [`crate::ConnectionStore`]: `add` upserts by id, `remove` of an unknown id is
/// not an error, and a connection that cannot be live any more is not listed.
#[async_trait]
pub trait VisitorConnectionStore: Send + Sync {
    /// Registers a connection.
    async fn add_visitor_connection(&self, connection: &VisitorConnection) -> StoreResult<()>;
    /// Forgets a connection.
    async fn remove_visitor_connection(&self, id: &ConnectionId) -> StoreResult<()>;
    /// The live connections of one visitor.
    async fn visitor_connections(&self, visitor: VisitorId) -> StoreResult<Vec<ConnectionId>>;
    /// The connection `id`, if it is a live visitor connection (on API Gateway, a `$default`
    /// frame carries only the connection id: this tells a visitor's socket from an agent's).
    async fn visitor_connection(&self, id: &ConnectionId)
    -> StoreResult<Option<VisitorConnection>>;
}

/// What a redeemed handoff ("continue on another channel") token grants: stored as the
/// token's payload by the issuing channel, read by the router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffGrant {
    /// The channel the customer came from.
    pub from: Channel,
    /// The bot the token was issued for (a token presented to another bot is refused).
    #[serde(default)]
    pub bot_id: Option<BotId>,
    /// The identity that asked for it (e.g. the web visitor).
    pub identity: Identity,
    /// Their contact and conversation, when they had written already.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    #[serde(default)]
    pub conversation_id: Option<ConversationId>,
    /// The routing key of their chat: when the token was issued before their first message
    /// was routed, the conversation is found through it when the token is redeemed.
    #[serde(default)]
    pub key: Option<omnidesk_domain::ConversationKey>,
}

/// SHA-256 of a token, hex: how single-use tokens are stored and looked up (a leaked table
/// grants nothing).
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random single-use token: 32 bytes (256 bits), base64url, 43 characters of
/// `A-Za-z0-9_-` (fits Telegram's 64-character `start` parameter).
pub fn random_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// `N` bytes from the operating system's random source (thread-local CSPRNG).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_stored_as_their_sha256() {
        assert_eq!(
            super::token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn origins_match_without_a_trailing_slash_or_case() {
        let w = super::Website {
            id: omnidesk_domain::WebsiteId::from_uuid(uuid::Uuid::nil()),
            name: "Shop".into(),
            origins: vec!["https://Shop.example.com/".into()],
            bot_id: None,
            identity_secret: None,
            prechat: false,
            created_at: omnidesk_domain::Timestamp::from_millis(0),
        };
        assert!(w.allows_origin("https://shop.example.com"));
        assert!(!w.allows_origin("https://evil.example.com"));
        assert!(!w.allows_origin("http://shop.example.com"));
    }
}
