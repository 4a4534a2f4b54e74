//! omnidesk-web-chat: the website widget's HTTP API under `/web/v1` (an axum `Router`: a
//! Lambda behind the HTTP API on AWS, mounted in `omnidesk serve` locally), and the visitor
//! side of the WebSocket (tickets).
//!
//! - A visitor session is an opaque signed token ([`token`]) that slides (30 days by
//!   default): nothing is stored until the visitor's first message. It travels as a Bearer
//!   header, never in a URL; the visitor WebSocket connects with a single-use ticket valid
//!   60 s.
//! - Every request comes from a website's allowed origin (CORS and the API's own check);
//!   anything else is refused with 403 `origin_not_allowed`.
//! - A message is verified, normalised to a channel-neutral [`ChannelMessage`] and enqueued
//!   durably for the router (idempotent on the widget's `client_id`), exactly as the Telegram
//!   webhook does: the router has one path for every channel.
//! - Files: `POST /web/v1/files` stores one file (the deployment's upload limit) and answers
//!   an upload token that binds it to the visitor; `POST /web/v1/messages` attaches up to 10
//!   such tokens. Messages handed to the visitor carry signed, short-lived links to their
//!   files (pushed frames carry none: the widget refetches).
//! - Choices: messages carry the buttons the bot offered with them; a pressed button comes
//!   back as a message whose `text` is its label and whose `choice` is its data, exactly as a
//!   Telegram callback button arrives. Only a choice on one of the last [`CHOICE_WINDOW`]
//!   messages the visitor was shown is taken (404 `unknown_choice`), so a visitor cannot ask
//!   for a person or rate a conversation without being asked.
//! - "Continue on Telegram" issues a single-use deep-link token (256 bits, stored hashed,
//!   10 minutes, a new one cancels the previous one); the router redeems it on `/start`.
//!
//! Depends on `omnidesk-core` ports; `omnidesk-lambda` only for [`WebChatDeps::from_lambda`]
//! (the Lambda's wiring, as the agent API's `Auth::from_lambda`).

pub mod token;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use omnidesk_core::usecases::{
    FileSettings, MAX_FILES_PER_MESSAGE, author_name, human_size, sign_links, upload_mime_type,
    uploaded_attachment,
};
use omnidesk_core::{
    AgentStore, BlobStore, BotStore, Clock, ContactStore, ConversationStore, HandoffGrant, IdGen,
    MessageStore, OutgoingMessage, PageRequest, Queue, QueueName, StoreError, StoredToken,
    TokenKind, VisitorConnection, VisitorConnectionStore, WEB_SOURCE_PREFIX, WebMessage, WebStore,
    Website, token_hash,
};
use omnidesk_domain::{
    Channel, ChannelMessage, Contact, Conversation, ConversationId, ConversationKey, Identity,
    InboundEvent, MessageId, Timestamp, VisitorId, WebsiteId,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use token::{TokenError, UploadClaims, VisitorClaims, VisitorKeys, random_token};

/// The widget API's OpenAPI document, served at `/web/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// The longest message text, in characters (as Telegram's).
pub const MAX_TEXT_CHARS: usize = 4096;
/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A choice answers one of this many newest messages the visitor was shown from the other
/// side (agents, the bot, the AI).
pub const CHOICE_WINDOW: usize = 20;

/// What the widget API needs.
#[derive(Clone)]
pub struct WebChatDeps {
    pub web: Arc<dyn WebStore>,
    pub contacts: Arc<dyn ContactStore>,
    pub conversations: Arc<dyn ConversationStore>,
    pub messages: Arc<dyn MessageStore>,
    pub agents: Arc<dyn AgentStore>,
    pub bots: Arc<dyn BotStore>,
    pub visitors: Arc<dyn VisitorConnectionStore>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub keys: VisitorKeys,
    pub settings: WebChatSettings,
    /// Files visitors upload go in; signed links to every file of their chat come out.
    pub blobs: Arc<dyn BlobStore>,
}

/// Lifetimes of what the widget API issues.
#[derive(Debug, Clone)]
pub struct WebChatSettings {
    /// A visitor token's lifetime; every session call slides it.
    pub session_ttl: Duration,
    /// A "continue on Telegram" token's lifetime.
    pub handoff_ttl: Duration,
    /// A WebSocket ticket's lifetime.
    pub ticket_ttl: Duration,
    /// The upload limit and the lifetime of file links.
    pub files: FileSettings,
    /// The percentage of contacts offered "Continue on Telegram"
    /// (`OMNIDESK_TELEGRAM_HANDOFF_ROLLOUT`, by the contact's stable rollout bucket): a visitor
    /// with no contact yet is offered it only at 100.
    pub telegram_rollout: u8,
}

impl WebChatDeps {
    /// The widget API on an AWS deployment's adapters (every store port on the table, the
    /// inbound queue); the visitor-token key derives from the agents' JWT secret, read from
    /// SSM (`JWT_SECRET_PARAM`), so a Lambda calls this on its first invocation.
    pub async fn from_lambda(
        aws: &omnidesk_lambda::AwsAdapters,
        config: &omnidesk_lambda::Config,
    ) -> Result<Self, omnidesk_lambda::ConfigError> {
        let secret = omnidesk_lambda::load_jwt_secret(&aws.sdk, config).await?;
        let mut deps = Self::on_aws(aws, &secret);
        if let Ok(v) = std::env::var("OMNIDESK_TELEGRAM_HANDOFF_ROLLOUT")
            && !v.trim().is_empty()
        {
            deps.settings.telegram_rollout =
                omnidesk_rules::parse_percent("OMNIDESK_TELEGRAM_HANDOFF_ROLLOUT", &v).map_err(
                    |reason| omnidesk_lambda::ConfigError::Malformed {
                        name: "OMNIDESK_TELEGRAM_HANDOFF_ROLLOUT",
                        reason,
                    },
                )?;
        }
        Ok(deps)
    }

    /// [`WebChatDeps::from_lambda`] with the JWT secret already read.
    pub fn on_aws(aws: &omnidesk_lambda::AwsAdapters, jwt_secret: &omnidesk_core::Secret) -> Self {
        Self {
            web: aws.store.clone(),
            contacts: aws.store.clone(),
            conversations: aws.store.clone(),
            messages: aws.store.clone(),
            agents: aws.store.clone(),
            bots: aws.store.clone(),
            visitors: aws.store.clone(),
            queue: aws.queue.clone(),
            clock: aws.clock.clone(),
            ids: aws.ids.clone(),
            keys: VisitorKeys::derive(jwt_secret.expose().as_bytes()),
            settings: WebChatSettings::default(),
            blobs: aws.blobs.clone(),
        }
    }
}

impl Default for WebChatSettings {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            handoff_ttl: Duration::from_secs(600),
            ticket_ttl: Duration::from_secs(60),
            files: FileSettings::default(),
            telegram_rollout: 100,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// An error answer: `{"error":{"code","message"}}`, the message safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl WebError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("{field}: {reason}"),
        )
    }
    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the visitor token is missing, invalid or expired; start a new session",
        )
    }
    fn origin() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this website does not allow the chat from this origin",
        )
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "store error in the widget API");
        match e {
            StoreError::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "temporarily unavailable; retry",
            ),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; see the server log",
            ),
        }
    }
}

type WebResult<T> = Result<T, WebError>;

// ---------------------------------------------------------------------------------------------
// Views

/// A website as the widget sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebsiteView {
    pub id: WebsiteId,
    pub name: String,
    /// Whether "Continue on Telegram" is offered.
    pub telegram: bool,
    /// Whether to ask for name and e-mail before the first message.
    pub prechat: bool,
}

impl WebsiteView {
    /// `w` as the visitor whose contact is `contact` sees it.
    fn of(w: &Website, settings: &WebChatSettings, contact: Option<&Contact>) -> Self {
        Self {
            id: w.id,
            name: w.name.clone(),
            telegram: w.bot_id.is_some() && telegram_offered(settings, contact),
            prechat: w.prechat,
        }
    }
}

/// Whether "Continue on Telegram" is offered to `contact` in its staged rollout (a visitor
/// with no contact yet has no bucket: offered only when everyone is).
fn telegram_offered(settings: &WebChatSettings, contact: Option<&Contact>) -> bool {
    match contact {
        Some(c) => omnidesk_rules::in_rollout(c.id, settings.telegram_rollout),
        None => settings.telegram_rollout >= 100,
    }
}

/// `POST /web/v1/sessions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionCreated {
    pub visitor_token: String,
    pub expires_at: Timestamp,
    pub website: WebsiteView,
}

/// Where the visitor's chat continued.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LinkedChannel {
    pub name: String,
    pub since: Timestamp,
}

/// `GET /web/v1/session`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    pub visitor_id: VisitorId,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub conversation_id: Option<ConversationId>,
    /// The conversation's channel path, oldest first (`["web","telegram"]`).
    pub channels: Vec<Channel>,
    /// Set while the chat continues on Telegram.
    pub telegram: Option<LinkedChannel>,
    pub website: WebsiteView,
}

/// A page of messages, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessagePage {
    pub items: Vec<WebMessage>,
    pub next_cursor: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Requests

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    website_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendMessage {
    /// May be empty when files are attached.
    #[serde(default)]
    text: String,
    #[serde(default)]
    client_id: Option<String>,
    /// Upload tokens from `POST /web/v1/files`.
    #[serde(default)]
    attachments: Vec<String>,
    /// The `data` of the button the visitor pressed (`text` is then its label). Absent, never
    /// `null`.
    #[serde(default, deserialize_with = "present")]
    choice: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Identify {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    /// The website's own id of its signed-in user, with `user_hash` (hex HMAC-SHA256 of it
    /// under the website's identity secret). Absent, never `null`.
    #[serde(default, deserialize_with = "present")]
    user_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    user_hash: Option<String>,
    /// Or a JWT (HS256, the identity secret) whose `sub` is the user id, with `exp`.
    #[serde(default, deserialize_with = "present")]
    user_jwt: Option<String>,
}

/// A field that may be absent but, when present, is a string (`null` is refused).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkRead {
    message_id: String,
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

/// A JSON body, with a clear 400 for anything that is not the expected object (an array
/// is not read into a struct field by field).
fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> WebResult<T> {
    let bad = |e: &dyn std::fmt::Display| {
        WebError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("body: {e}"),
        )
    };
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v @ serde_json::Value::Object(_)) => serde_json::from_value(v).map_err(|e| bad(&e)),
        Ok(_) => Err(bad(&"expected a JSON object")),
        Err(e) => Err(bad(&e)),
    }
}

// ---------------------------------------------------------------------------------------------
// The router

/// The widget API: `/web/v1/…` and `/web/openapi.json`, with CORS for each website's
/// allowed origins.
pub fn router(deps: WebChatDeps) -> Router {
    Router::new()
        .route("/web/openapi.json", get(openapi))
        .route("/web/v1/sessions", post(create_session).options(preflight))
        .route("/web/v1/session", get(get_session).options(preflight))
        .route(
            "/web/v1/messages",
            get(list_messages).post(send_message).options(preflight),
        )
        .route(
            "/web/v1/files",
            // Read part by part with the upload limit (`upload_file`): the default body limit
            // would cut every file.
            post(upload_file)
                .layer(DefaultBodyLimit::disable())
                .options(preflight),
        )
        .route("/web/v1/identify", post(identify).options(preflight))
        .route("/web/v1/read", post(mark_read).options(preflight))
        .route(
            "/web/v1/channels/telegram",
            post(link_telegram)
                .delete(unlink_telegram)
                .options(preflight),
        )
        .route("/web/v1/ws-ticket", post(ws_ticket).options(preflight))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(deps)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

/// CORS headers for an allowed origin.
fn with_cors(mut response: Response, origin: Option<&str>) -> Response {
    if let Some(o) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

fn origin_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// Preflight: allowed when some website lists the origin (the request itself is then checked
/// against its own website).
async fn preflight(State(deps): State<WebChatDeps>, headers: HeaderMap) -> Response {
    let Some(origin) = origin_of(&headers) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let allowed = match deps.web.list_websites().await {
        Ok(sites) => sites.iter().any(|w| w.allows_origin(origin)),
        Err(e) => return WebError::from(e).into_response(),
    };
    if !allowed {
        return StatusCode::FORBIDDEN.into_response();
    }
    let mut r = with_cors(StatusCode::NO_CONTENT.into_response(), Some(origin));
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

/// An authenticated visitor call: the token's claims and website, checked against the
/// request's origin.
struct Visitor {
    claims: VisitorClaims,
    website: Website,
    origin: Option<String>,
}

impl Visitor {
    fn key(&self) -> ConversationKey {
        ConversationKey::web(self.claims.website_id, self.claims.visitor_id)
    }
    fn identity(&self) -> Identity {
        Identity::WebVisitor {
            visitor_id: self.claims.visitor_id.to_string(),
        }
    }
    fn respond(&self, r: impl IntoResponse) -> Response {
        with_cors(r.into_response(), self.origin.as_deref())
    }
}

/// Checks the Bearer token and the origin. A browser always sends `Origin` on these
/// cross-origin calls; a call without one (a server-side integration) is judged by its token.
async fn visitor(deps: &WebChatDeps, headers: &HeaderMap) -> Result<Visitor, Response> {
    let origin = origin_of(headers).map(str::to_owned);
    let fail = |e: WebError, allowed: Option<&str>| with_cors(e.into_response(), allowed);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let claims = match token.map(|t| deps.keys.verify(t, deps.clock.now())) {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            tracing::debug!(error = %e, "visitor token refused");
            return Err(fail(WebError::unauthorized(), origin.as_deref()));
        }
        None => return Err(fail(WebError::unauthorized(), origin.as_deref())),
    };
    let website = match deps.web.get_website(claims.website_id).await {
        Ok(Some(w)) => w,
        Ok(None) => return Err(fail(WebError::unauthorized(), origin.as_deref())),
        Err(e) => return Err(fail(e.into(), origin.as_deref())),
    };
    if let Some(o) = &origin
        && !website.allows_origin(o)
    {
        return Err(fail(WebError::origin(), Some(o)));
    }
    Ok(Visitor {
        claims,
        website,
        origin,
    })
}

macro_rules! visitor_or_return {
    ($deps:expr, $headers:expr) => {
        match visitor(&$deps, &$headers).await {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

fn expires_after(now: Timestamp, d: Duration) -> Timestamp {
    now.plus_millis(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn create_session(
    State(deps): State<WebChatDeps>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let origin = origin_of(&headers).map(str::to_owned);
    let res = create_session_inner(&deps, &headers, origin.as_deref(), &body).await;
    match res {
        Ok(created) => with_cors(
            (StatusCode::CREATED, Json(created)).into_response(),
            origin.as_deref(),
        ),
        Err(e) => with_cors(e.into_response(), origin.as_deref()),
    }
}

async fn create_session_inner(
    deps: &WebChatDeps,
    headers: &HeaderMap,
    origin: Option<&str>,
    body: &Bytes,
) -> WebResult<SessionCreated> {
    let req: CreateSession = parse_body(body)?;
    let website_id =
        WebsiteId::parse(&req.website_id).map_err(|e| WebError::invalid("website_id", e))?;
    let website =
        deps.web.get_website(website_id).await?.ok_or_else(|| {
            WebError::new(StatusCode::NOT_FOUND, "not_found", "website not found")
        })?;
    let Some(origin) = origin else {
        return Err(WebError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "sessions are created from a website page (an Origin header is required)",
        ));
    };
    if !website.allows_origin(origin) {
        return Err(WebError::origin());
    }
    let now = deps.clock.now();
    // A valid token of the same website is refreshed (same visitor, new expiry).
    let previous = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| deps.keys.verify(t.trim(), now).ok())
        .filter(|c| c.website_id == website_id);
    let visitor_id =
        previous.map_or_else(|| VisitorId::from_uuid(deps.ids.uuid()), |c| c.visitor_id);
    let claims = VisitorClaims {
        website_id,
        visitor_id,
        expires_at: expires_after(now, deps.settings.session_ttl),
    };
    Ok(SessionCreated {
        visitor_token: deps.keys.issue(&claims),
        expires_at: claims.expires_at,
        website: WebsiteView::of(&website, &deps.settings, None),
    })
}

/// The visitor's contact (through their web identity), if they have one yet.
async fn contact_of(deps: &WebChatDeps, v: &Visitor) -> WebResult<Option<Contact>> {
    match deps
        .contacts
        .contact_id_by_identity(&v.identity().key())
        .await?
    {
        Some(id) => Ok(deps.contacts.get_contact(id).await?),
        None => Ok(None),
    }
}

async fn session_of(deps: &WebChatDeps, v: &Visitor) -> WebResult<Session> {
    let contact = contact_of(deps, v).await?;
    let conversation = deps.conversations.conversation_by_key(&v.key()).await?;
    let email = contact
        .as_ref()
        .and_then(|c| c.attributes.get(EMAIL_ATTRIBUTE).cloned());
    let telegram = match (&conversation, &contact) {
        (Some(conv), Some(contact)) if conv.key_on(Channel::Telegram).is_some() => {
            let name = contact
                .identities
                .iter()
                .find_map(|i| match i {
                    Identity::Telegram {
                        username: Some(u), ..
                    } => Some(format!("@{u}")),
                    _ => None,
                })
                .unwrap_or_else(|| contact.display_name.clone());
            Some(LinkedChannel {
                name,
                since: conv.last_activity_at,
            })
        }
        _ => None,
    };
    Ok(Session {
        visitor_id: v.claims.visitor_id,
        name: contact
            .as_ref()
            .map(|c| c.display_name.clone())
            .filter(|n| n != DEFAULT_NAME),
        email,
        email_verified: false,
        conversation_id: conversation.as_ref().map(|c| c.id),
        channels: conversation
            .as_ref()
            .map(|c| c.channel_path.clone())
            .unwrap_or_default(),
        telegram,
        website: WebsiteView::of(&v.website, &deps.settings, contact.as_ref()),
    })
}

/// The name of a visitor who has not said theirs.
pub const DEFAULT_NAME: &str = omnidesk_domain::WEB_VISITOR_NAME;
/// Where an unverified e-mail from the widget is kept on the contact: an attribute, never an
/// identity, so it can never merge contacts or lead to anyone's history.
pub const EMAIL_ATTRIBUTE: &str = "email (unverified)";
/// Where a phone number from the widget is kept on the contact (unverified).
pub const PHONE_ATTRIBUTE: &str = "phone (unverified)";

async fn get_session(State(deps): State<WebChatDeps>, headers: HeaderMap) -> Response {
    let v = visitor_or_return!(deps, headers);
    match session_of(&deps, &v).await {
        Ok(s) => v.respond(Json(s)),
        Err(e) => v.respond(e),
    }
}

async fn send_message(
    State(deps): State<WebChatDeps>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let v = visitor_or_return!(deps, headers);
    match send_message_inner(&deps, &v, &body).await {
        Ok(m) => v.respond((StatusCode::CREATED, Json(m))),
        Err(e) => v.respond(e),
    }
}

fn valid_client_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A button's data as the widget may send it: 1–64 of `A-Za-z0-9:_-`.
fn valid_choice(choice: &str) -> bool {
    (1..=64).contains(&choice.len())
        && choice
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'))
}

/// Whether `choice` is the data of a button on one of the newest [`CHOICE_WINDOW`] messages
/// of `conversation` the visitor was shown from the other side (internal notes, hidden
/// timeline events and replies still waiting for their translation were never shown).
async fn offered(
    deps: &WebChatDeps,
    conversation: ConversationId,
    choice: &str,
) -> WebResult<bool> {
    let mut page = PageRequest::first(50);
    let mut shown = 0;
    // The visitor's own messages count for nothing: a long run of them ends the search after
    // a few pages rather than reading the whole history.
    for _ in 0..4 {
        let messages = deps.messages.list_messages(conversation, &page).await?;
        for m in &messages.items {
            if m.direction != omnidesk_domain::Direction::Outbound || m.event.is_some() {
                continue;
            }
            let Some(view) = WebMessage::of(m, None) else {
                continue;
            };
            if view.buttons.iter().any(|b| b.data == choice) {
                return Ok(true);
            }
            shown += 1;
            if shown == CHOICE_WINDOW {
                return Ok(false);
            }
        }
        match messages.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    Ok(false)
}

async fn send_message_inner(
    deps: &WebChatDeps,
    v: &Visitor,
    body: &Bytes,
) -> WebResult<WebMessage> {
    let req: SendMessage = parse_body(body)?;
    if let Some(choice) = &req.choice {
        if !valid_choice(choice) {
            return Err(WebError::invalid(
                "choice",
                "1–64 characters of A-Z, a-z, 0-9, :, _ and -",
            ));
        }
        if !req.attachments.is_empty() {
            return Err(WebError::invalid(
                "choice",
                "a pressed button carries no attachments",
            ));
        }
    }
    let text = req.text.trim();
    if text.is_empty() && req.attachments.is_empty() {
        return Err(WebError::invalid("text", "must not be empty"));
    }
    let attachments = attachments_of(deps, v, &req.attachments)?;
    // Measured as sent (as the document says), before the white space is trimmed.
    if req.text.chars().count() > MAX_TEXT_CHARS {
        return Err(WebError::invalid(
            "text",
            format!("at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    let client_id = match req.client_id {
        Some(id) if valid_client_id(&id) => id,
        Some(_) => {
            return Err(WebError::invalid(
                "client_id",
                "1–64 characters of A-Z, a-z, 0-9, _ and -",
            ));
        }
        None => deps.ids.uuid().simple().to_string(),
    };
    // (`"client_id": null` is the same as leaving it out.)
    let now = deps.clock.now();
    let key = v.key();
    let existing = deps.conversations.conversation_by_key(&key).await?;
    if let Some(choice) = &req.choice {
        let asked = match &existing {
            Some(c) => offered(deps, c.id, choice).await?,
            None => false,
        };
        if !asked {
            // 404 like an unknown upload token: the request is well-formed, what it names is
            // not there.
            return Err(WebError::new(
                StatusCode::NOT_FOUND,
                "unknown_choice",
                "choice: not a button of a recent message in this chat",
            ));
        }
    }
    let contact = contact_of(deps, v).await?;
    let source_key = format!("{WEB_SOURCE_PREFIX}{}:{client_id}", v.claims.visitor_id);
    let message = ChannelMessage {
        attachments: attachments.clone(),
        channel_ref: Some(omnidesk_domain::ChannelRef::Web {
            id: client_id.clone(),
        }),
        sent_at: Some(now),
        new_conversation_id: existing.is_none().then(|| deps.ids.conversation_id()),
        // As Telegram's callback data: the router reads the choice, the text is its label.
        choice: req.choice.clone(),
        ..ChannelMessage::new(
            key.clone(),
            v.identity(),
            contact
                .as_ref()
                .map_or_else(|| DEFAULT_NAME.to_owned(), |c| c.display_name.clone()),
            text,
            source_key.clone(),
        )
    };
    let conversation_id = match &existing {
        Some(c) => c.id,
        None => message
            .new_conversation_id
            .unwrap_or_else(|| deps.ids.conversation_id()),
    };
    enqueue(
        deps,
        &InboundEvent::message(message, now),
        "the message could not be queued; retry with the same client_id",
    )
    .await?;
    Ok(WebMessage {
        id: MessageId::derived(now, 0, &source_key),
        conversation_id,
        direction: omnidesk_domain::Direction::Inbound,
        author: omnidesk_core::WebAuthor {
            kind: "contact".to_owned(),
        },
        author_name: None,
        channel: Channel::Web,
        text: text.to_owned(),
        delivery: omnidesk_domain::Delivery::received(now),
        created_at: now,
        client_id: Some(client_id),
        event: None,
        attachments: signed(deps, attachments).await,
        buttons: Vec::new(),
    })
}

/// `attachments` with signed links to their files, for the visitor.
async fn signed(
    deps: &WebChatDeps,
    mut attachments: Vec<omnidesk_domain::Attachment>,
) -> Vec<omnidesk_domain::Attachment> {
    sign_links(
        deps.blobs.as_ref(),
        &mut attachments,
        deps.clock.now(),
        deps.settings.files.link_ttl,
    )
    .await;
    attachments
}

/// The files of upload tokens: each genuine, unexpired and this visitor's (else 404
/// `invalid_attachment`), at most [`MAX_FILES_PER_MESSAGE`] (400 `too_many_files`).
fn attachments_of(
    deps: &WebChatDeps,
    v: &Visitor,
    tokens: &[String],
) -> WebResult<Vec<omnidesk_domain::Attachment>> {
    if tokens.len() > MAX_FILES_PER_MESSAGE {
        return Err(WebError::new(
            StatusCode::BAD_REQUEST,
            "too_many_files",
            format!("attachments: at most {MAX_FILES_PER_MESSAGE} files per message"),
        ));
    }
    let now = deps.clock.now();
    tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let claims = deps
                .keys
                .verify_upload(token, now)
                .ok()
                .filter(|c| {
                    c.website_id == v.claims.website_id && c.visitor_id == v.claims.visitor_id
                })
                .ok_or_else(|| {
                    // No upload of this visitor under that token (another visitor's, altered,
                    // expired, or not a token at all): not found, like an unknown message id.
                    WebError::new(
                        StatusCode::NOT_FOUND,
                        "invalid_attachment",
                        format!(
                            "attachments[{i}]: not a file uploaded in this chat, or expired; \
                             upload it again"
                        ),
                    )
                })?;
            Ok(uploaded_attachment(
                &claims.file_name,
                &claims.mime_type,
                claims.size_bytes,
                claims.blob,
            ))
        })
        .collect()
}

/// How long an upload may wait to be attached to a message.
pub const UPLOAD_TTL: Duration = Duration::from_secs(24 * 3600);

/// `POST /web/v1/files`: `{"file": {…}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Uploaded {
    pub file: UploadedFile,
}

/// A file the visitor uploaded: `id` is the upload token to list in a message's
/// `attachments`; `url` a signed, short-lived link to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadedFile {
    pub id: String,
    pub kind: omnidesk_domain::AttachmentKind,
    pub file_name: String,
    pub mime_type: String,
    pub size_bytes: u64,
    pub url: Option<String>,
}

async fn upload_file(State(deps): State<WebChatDeps>, request: axum::extract::Request) -> Response {
    let v = visitor_or_return!(deps, request.headers());
    match upload_file_inner(&deps, &v, request).await {
        Ok(f) => v.respond((StatusCode::CREATED, Json(f))),
        Err(e) => v.respond(e),
    }
}

/// Reads the one `file` part (within the upload limit: 413 `file_too_large`; not empty: 415
/// `empty_file`), stores it and signs its token and link.
async fn upload_file_inner(
    deps: &WebChatDeps,
    v: &Visitor,
    request: axum::extract::Request,
) -> WebResult<Uploaded> {
    use axum::extract::FromRequest;
    let mut form = axum::extract::Multipart::from_request(request, &())
        .await
        .map_err(|r| {
            WebError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_form",
                format!(
                    "expected multipart/form-data with one `file` part: {}",
                    r.body_text()
                ),
            )
        })?;
    let form_error = |e: axum::extract::multipart::MultipartError| {
        WebError::new(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            format!("form: {}", e.body_text()),
        )
    };
    let limit = deps.settings.files.max_upload_bytes;
    let mut file = None;
    while let Some(mut field) = form.next_field().await.map_err(form_error)? {
        if field.name() != Some("file") {
            return Err(WebError::invalid(
                "form",
                format!(
                    "unknown part `{}` (expected one `file`)",
                    field.name().unwrap_or("")
                ),
            ));
        }
        if file.is_some() {
            return Err(WebError::invalid("file", "one file per upload"));
        }
        // A browser's file always has a name; a part without one is a form field.
        let Some(given_name) = field.file_name() else {
            return Err(WebError::invalid(
                "file",
                "the `file` part must be a file (with a file name)",
            ));
        };
        let name = omnidesk_domain::clean_file_name(given_name);
        let declared = field.content_type().map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(form_error)? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(WebError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "file_too_large",
                    format!(
                        "{name} is larger than {}, the limit for files",
                        human_size(limit)
                    ),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        file = Some((name, declared, bytes));
    }
    let Some((name, declared, bytes)) = file else {
        return Err(WebError::invalid("file", "missing: send one `file` part"));
    };
    if bytes.is_empty() {
        return Err(WebError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "empty_file",
            format!("{name}: the file is empty"),
        ));
    }
    let mime = upload_mime_type(declared.as_deref(), &name);
    let size = bytes.len() as u64;
    let key = deps.blobs.put(&mime, bytes).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot store a visitor's file");
        WebError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("{name} could not be stored; retry"),
        )
    })?;
    let now = deps.clock.now();
    let id = deps.keys.issue_upload(&UploadClaims {
        website_id: v.claims.website_id,
        visitor_id: v.claims.visitor_id,
        blob: key.clone(),
        file_name: name.clone(),
        mime_type: mime.clone(),
        size_bytes: size,
        expires_at: expires_after(now, UPLOAD_TTL),
    });
    let attachment = signed(deps, vec![uploaded_attachment(&name, &mime, size, key)])
        .await
        .remove(0);
    Ok(Uploaded {
        file: UploadedFile {
            id,
            kind: attachment.kind,
            file_name: name,
            mime_type: mime,
            size_bytes: size,
            url: attachment.url,
        },
    })
}

async fn list_messages(
    State(deps): State<WebChatDeps>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let v = visitor_or_return!(deps, headers);
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => return v.respond(WebError::invalid("query", e.body_text())),
    };
    match list_messages_inner(&deps, &v, q).await {
        Ok(page) => v.respond(Json(page)),
        Err(e) => v.respond(e),
    }
}

async fn list_messages_inner(
    deps: &WebChatDeps,
    v: &Visitor,
    q: ListQuery,
) -> WebResult<MessagePage> {
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return Err(WebError::invalid("limit", "a whole number from 1 to 100")),
        },
    };
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let Some(conversation) = deps.conversations.conversation_by_key(&v.key()).await? else {
        if cursor.is_some() {
            return Err(WebError::invalid("cursor", "not a cursor of this list"));
        }
        return Ok(MessagePage {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let had_cursor = cursor.is_some();
    let page = deps
        .messages
        .list_messages(conversation.id, &PageRequest { limit, cursor })
        .await
        .map_err(|e| match e {
            StoreError::Unavailable(_) => WebError::from(e),
            _ if had_cursor => WebError::invalid("cursor", "not a cursor of this list"),
            e => WebError::from(e),
        })?;
    let mut items = Vec::with_capacity(page.items.len());
    for m in &page.items {
        let name = author_name(deps.agents.as_ref(), m).await?;
        if let Some(mut view) = WebMessage::of(m, name) {
            view.attachments = signed(deps, view.attachments).await;
            items.push(view);
        }
    }
    Ok(MessagePage {
        items,
        next_cursor: page.next_cursor,
    })
}

async fn identify(State(deps): State<WebChatDeps>, headers: HeaderMap, body: Bytes) -> Response {
    let v = visitor_or_return!(deps, headers);
    match identify_inner(&deps, &v, &body).await {
        Ok(s) => v.respond(Json(s)),
        Err(e) => v.respond(e),
    }
}

/// Name, e-mail and phone from the widget: kept on the visitor's contact as the visitor's
/// word, never as proof (an e-mail is an unverified attribute, not an identity).
async fn identify_inner(deps: &WebChatDeps, v: &Visitor, body: &Bytes) -> WebResult<Session> {
    let req: Identify = parse_body(body)?;
    // Taken as given (as the document states them), never trimmed into validity.
    if req.name.as_deref().is_some_and(|n| n.chars().count() > 100) {
        return Err(WebError::invalid("name", "at most 100 characters"));
    }
    let name = req.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let email = match req.email.as_deref() {
        Some(e) if plausible_email(e) => Some(e.to_lowercase()),
        Some(_) => {
            return Err(WebError::invalid(
                "email",
                "expected name@domain.tld, without spaces, at most 254 characters",
            ));
        }
        None => None,
    };
    let phone = match req.phone.as_deref() {
        Some(p)
            if p.chars().count() <= 32
                && p.chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c)) =>
        {
            Some(p.trim()).filter(|p| !p.is_empty())
        }
        Some(_) => {
            return Err(WebError::invalid(
                "phone",
                "at most 32 digits, spaces and + - ( ) .",
            ));
        }
        None => None,
    };
    if let Some(user_id) = verified_user(deps, v, &req)? {
        join_site_user(deps, v, user_id).await?;
        continue_users_chat(deps, v).await?;
    }
    for _ in 0..5 {
        let now = deps.clock.now();
        let Some(mut contact) = contact_of(deps, v).await? else {
            // Identifying is the visitor's own act (not a page view): it may create the
            // contact, which their first message then finds.
            let mut c = Contact::new(
                deps.ids.contact_id(),
                name.unwrap_or(DEFAULT_NAME).to_owned(),
                v.identity(),
                now,
            );
            set_profile(&mut c, None, email.as_deref(), phone);
            match deps.contacts.create_contact(&c).await {
                Ok(()) => return session_of(deps, v).await,
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let read = contact.updated_at;
        set_profile(&mut contact, name, email.as_deref(), phone);
        contact.updated_at = now.max(read.plus_millis(1));
        match deps.contacts.update_contact(&contact, read).await {
            Ok(()) => return session_of(deps, v).await,
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(WebError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the profile kept changing; retry",
    ))
}

/// What the document's e-mail pattern `^[^@\s]+@[^@\s]+\.[^@\s]+$` accepts (with `\s` as
/// JSON Schema's ECMAScript regexes define it), at most 254 characters. The address is the
/// visitor's unverified word: plausibility is all that is checked.
fn plausible_email(e: &str) -> bool {
    fn ecma_space(c: char) -> bool {
        matches!(
            c,
            '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200a}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{202f}'
                    | '\u{205f}'
                    | '\u{3000}'
                    | '\u{feff}'
        )
    }
    if e.chars().count() > 254 || e.chars().any(ecma_space) {
        return false;
    }
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain
            .char_indices()
            .any(|(i, c)| c == '.' && i > 0 && i + 1 < domain.len())
}

/// The website's user id, when the request proves it (`user_id` + `user_hash`, or
/// `user_jwt`), checked in constant time against the website's identity secret. `None` when
/// the request claims no user; an error for a claim that is not proven.
fn verified_user(deps: &WebChatDeps, v: &Visitor, req: &Identify) -> WebResult<Option<String>> {
    use hmac::Mac;
    if req.user_id.is_none() && req.user_hash.is_none() && req.user_jwt.is_none() {
        return Ok(None);
    }
    let refused = || {
        WebError::new(
            StatusCode::FORBIDDEN,
            "identity_not_verified",
            "the user's signature does not match this website's identity secret",
        )
    };
    let Some(secret) = &v.website.identity_secret else {
        return Err(WebError::new(
            StatusCode::CONFLICT,
            "identity_not_configured",
            "this website has no identity secret: signed-in users cannot be verified",
        ));
    };
    let user_id = match (&req.user_id, &req.user_hash, &req.user_jwt) {
        (Some(id), Some(hash), None) => {
            let given = hex_decode(hash).ok_or_else(refused)?;
            let mut mac =
                <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
                    .map_err(|_| refused())?;
            mac.update(id.as_bytes());
            mac.verify_slice(&given).map_err(|_| refused())?;
            id.clone()
        }
        (None, None, Some(jwt)) => {
            verify_site_jwt(jwt, secret.expose().as_bytes(), deps.clock.now())
                .ok_or_else(refused)?
        }
        _ => {
            return Err(WebError::invalid(
                "user_id",
                "give user_id with user_hash, or user_jwt alone",
            ));
        }
    };
    if user_id.is_empty() || user_id.chars().count() > 128 || user_id.chars().any(char::is_control)
    {
        return Err(WebError::invalid(
            "user_id",
            "1–128 characters, no control characters",
        ));
    }
    Ok(Some(user_id))
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The `sub` of an HS256 JWT signed with `secret` that has not expired at `now`.
fn verify_site_jwt(jwt: &str, secret: &[u8], now: Timestamp) -> Option<String> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use hmac::Mac;
    let mut parts = jwt.split('.');
    let (Some(head), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let header: serde_json::Value = serde_json::from_slice(&B64.decode(head).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).ok()?;
    mac.update(head.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.verify_slice(&B64.decode(sig).ok()?).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&B64.decode(body).ok()?).ok()?;
    let exp = claims.get("exp")?.as_i64()?;
    if exp <= now.secs() {
        return None;
    }
    Some(claims.get("sub")?.as_str()?.to_owned())
}

/// A proven site user: the visitor and that user are one person. The visitor's identity
/// joins the user's contact (or the user identity joins the visitor's); when both had a
/// contact, the visitor's merges into the user's.
async fn join_site_user(deps: &WebChatDeps, v: &Visitor, user_id: String) -> WebResult<()> {
    let site = Identity::SiteUser {
        website_id: v.claims.website_id,
        user_id,
    };
    let holder = deps.contacts.contact_id_by_identity(&site.key()).await?;
    let mine = contact_of(deps, v).await?;
    match (holder, mine) {
        (Some(h), Some(c)) if h == c.id => Ok(()),
        (Some(h), Some(c)) => {
            let ports = omnidesk_core::usecases::MergePorts {
                contacts: deps.contacts.as_ref(),
                conversations: deps.conversations.as_ref(),
                messages: deps.messages.as_ref(),
                ids: deps.ids.as_ref(),
                clock: deps.clock.as_ref(),
            };
            omnidesk_core::usecases::merge_contacts(ports, c.id, h, None)
                .await
                .map(|_| ())
                .map_err(|e| match e {
                    omnidesk_core::usecases::MergeError::Store(e) => WebError::from(e),
                    other => {
                        tracing::warn!(error = %other, "site user not merged");
                        WebError::new(StatusCode::CONFLICT, "conflict", "cannot link this user")
                    }
                })
        }
        (Some(h), None) => match deps.contacts.add_identity(h, &v.identity()).await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        },
        (None, Some(c)) => match deps.contacts.add_identity(c.id, &site).await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        },
        (None, None) => {
            let mut c = Contact::new(
                deps.ids.contact_id(),
                DEFAULT_NAME.to_owned(),
                v.identity(),
                deps.clock.now(),
            );
            c.identities.push(site);
            match deps.contacts.create_contact(&c).await {
                Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// A proven user on a new browser continues their newest chat on this website: this
/// visitor's key joins that conversation, so its history shows and replies reach both.
async fn continue_users_chat(deps: &WebChatDeps, v: &Visitor) -> WebResult<()> {
    let key = v.key();
    if deps
        .conversations
        .conversation_by_key(&key)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let Some(contact) = contact_of(deps, v).await? else {
        return Ok(());
    };
    let theirs = deps
        .conversations
        .list_conversations_of_contact(contact.id, &PageRequest::first(20))
        .await?
        .items
        .into_iter()
        .find(|c| {
            c.key_on(Channel::Web)
                .and_then(|k| k.web_visitor())
                .is_some_and(|(site, _)| site == v.claims.website_id)
        });
    let Some(conversation) = theirs else {
        return Ok(());
    };
    deps.conversations
        .claim_conversation_key(conversation.id, &key)
        .await?;
    let mut c = conversation;
    for _ in 0..5 {
        if !c.add_key(key.clone()) {
            return Ok(());
        }
        match deps.conversations.update_conversation(&c).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict(_)) => {
                match deps.conversations.get_conversation(c.id).await? {
                    Some(fresh) => c = fresh,
                    None => return Ok(()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn set_profile(c: &mut Contact, name: Option<&str>, email: Option<&str>, phone: Option<&str>) {
    if let Some(n) = name {
        c.display_name = n.to_owned();
    }
    if let Some(e) = email {
        c.attributes
            .insert(EMAIL_ATTRIBUTE.to_owned(), e.to_owned());
    }
    if let Some(p) = phone {
        c.attributes
            .insert(PHONE_ATTRIBUTE.to_owned(), p.to_owned());
    }
}

async fn mark_read(State(deps): State<WebChatDeps>, headers: HeaderMap, body: Bytes) -> Response {
    let v = visitor_or_return!(deps, headers);
    let res: WebResult<()> = async {
        let req: MarkRead = parse_body(&body)?;
        let id =
            MessageId::parse(&req.message_id).map_err(|e| WebError::invalid("message_id", e))?;
        let conversation = deps
            .conversations
            .conversation_by_key(&v.key())
            .await?
            .ok_or_else(|| {
                WebError::new(StatusCode::NOT_FOUND, "not_found", "message not found")
            })?;
        let message = deps
            .messages
            .get_message(conversation.id, id)
            .await?
            .ok_or_else(|| {
                WebError::new(StatusCode::NOT_FOUND, "not_found", "message not found")
            })?;
        // The receipt goes to the router like any customer event (in the chat's order): it
        // marks the conversation read up to that message and tells the agents.
        let event = InboundEvent {
            source: omnidesk_domain::InboundSource::Read(omnidesk_domain::ReadReceipt {
                key: v.key(),
                up_to: message.id,
                up_to_at: message.created_at,
            }),
            received_at: deps.clock.now(),
        };
        enqueue(&deps, &event, "retry").await?;
        Ok(())
    }
    .await;
    match res {
        Ok(()) => v.respond(StatusCode::NO_CONTENT),
        Err(e) => v.respond(e),
    }
}

/// Enqueues a customer event for the router, durably, in its chat's FIFO group and
/// deduplicated on its source key; `unavailable` is the 503's message when the queue is down.
async fn enqueue(deps: &WebChatDeps, event: &InboundEvent, unavailable: &str) -> WebResult<()> {
    let body = serde_json::to_string(event).map_err(|e| {
        tracing::error!(error = %e, "cannot encode an inbound event");
        WebError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    })?;
    deps.queue
        .send(
            QueueName::Inbound,
            OutgoingMessage::fifo(event.group_key(), event.source_key(), body),
        )
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "inbound queue unavailable");
            WebError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", unavailable)
        })?;
    Ok(())
}

/// `{"url","expires_at"}` of `POST /web/v1/channels/telegram`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TelegramLink {
    pub url: String,
    pub expires_at: Timestamp,
}

async fn link_telegram(State(deps): State<WebChatDeps>, headers: HeaderMap) -> Response {
    let v = visitor_or_return!(deps, headers);
    match link_telegram_inner(&deps, &v).await {
        Ok(link) => v.respond((StatusCode::CREATED, Json(link))),
        Err(e) => v.respond(e),
    }
}

async fn link_telegram_inner(deps: &WebChatDeps, v: &Visitor) -> WebResult<TelegramLink> {
    let no_telegram = |why: &str| WebError::new(StatusCode::CONFLICT, "no_telegram", why);
    let bot_id = v
        .website
        .bot_id
        .ok_or_else(|| no_telegram("this website has no Telegram bot"))?;
    let username = deps
        .bots
        .get_bot(bot_id)
        .await?
        .and_then(|b| b.username)
        .ok_or_else(|| no_telegram("the website's Telegram bot is not set up (no username)"))?;
    let contact = contact_of(deps, v).await?;
    if !telegram_offered(&deps.settings, contact.as_ref()) {
        return Err(no_telegram(
            "\u{201c}Continue on Telegram\u{201d} is not offered to this visitor (staged rollout)",
        ));
    }
    let conversation = deps.conversations.conversation_by_key(&v.key()).await?;
    let grant = HandoffGrant {
        from: Channel::Web,
        bot_id: Some(bot_id),
        identity: v.identity(),
        contact_id: contact.map(|c| c.id),
        conversation_id: conversation.map(|c| c.id),
        key: Some(v.key()),
    };
    let token = random_token();
    let expires_at = expires_after(deps.clock.now(), deps.settings.handoff_ttl);
    deps.web
        .put_token(&StoredToken {
            kind: TokenKind::Handoff,
            hash: token_hash(&token),
            owner: format!("{}:{}", v.claims.website_id, v.claims.visitor_id),
            payload: serde_json::to_string(&grant).unwrap_or_default(),
            expires_at,
        })
        .await?;
    Ok(TelegramLink {
        url: format!("https://t.me/{username}?start={token}"),
        expires_at,
    })
}

async fn unlink_telegram(State(deps): State<WebChatDeps>, headers: HeaderMap) -> Response {
    let v = visitor_or_return!(deps, headers);
    match unlink_telegram_inner(&deps, &v).await {
        Ok(s) => v.respond(Json(s)),
        Err(e) => v.respond(e),
    }
}

/// Undoes "continue on Telegram": the Telegram chat no longer leads to this conversation
/// (its next message starts a new one), replies come back to the widget, and the timeline
/// says so.
async fn unlink_telegram_inner(deps: &WebChatDeps, v: &Visitor) -> WebResult<Session> {
    for _ in 0..5 {
        let Some(mut c) = deps.conversations.conversation_by_key(&v.key()).await? else {
            return session_of(deps, v).await;
        };
        let Some(tg) = c.key_on(Channel::Telegram).cloned() else {
            return session_of(deps, v).await;
        };
        c.remove_key(&tg);
        let switched = c.switch_channel(Channel::Web);
        let now = deps.clock.now();
        let event = omnidesk_domain::Message::system(
            deps.ids.message_id(),
            c.id,
            Channel::Web,
            omnidesk_domain::SystemEvent::ChannelUnlinked {
                channel: Channel::Telegram,
            },
            now,
        );
        c.record_message(&event);
        match deps.conversations.update_conversation(&c).await {
            Ok(stored) => {
                deps.conversations
                    .release_conversation_key(stored.id, &tg)
                    .await?;
                deps.messages.append_message(&event).await?;
                if let Some(ev) = switched {
                    let m = omnidesk_domain::Message::system(
                        deps.ids.message_id(),
                        stored.id,
                        Channel::Web,
                        ev,
                        now,
                    );
                    deps.messages.append_message(&m).await?;
                }
                return session_of(deps, v).await;
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(WebError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the conversation kept changing; retry",
    ))
}

/// `{"ticket"}` of `POST /web/v1/ws-ticket`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ticket {
    pub ticket: String,
}

async fn ws_ticket(State(deps): State<WebChatDeps>, headers: HeaderMap) -> Response {
    let v = visitor_or_return!(deps, headers);
    let ticket = random_token();
    let hash = token_hash(&ticket);
    let stored = StoredToken {
        kind: TokenKind::WsTicket,
        // Tickets cancel nothing: every tab of the visitor gets its own.
        owner: hash.clone(),
        hash,
        payload: serde_json::to_string(&TicketGrant {
            website_id: v.claims.website_id,
            visitor_id: v.claims.visitor_id,
        })
        .unwrap_or_default(),
        expires_at: expires_after(deps.clock.now(), deps.settings.ticket_ttl),
    };
    match deps.web.put_token(&stored).await {
        Ok(()) => v.respond((StatusCode::CREATED, Json(Ticket { ticket }))),
        Err(e) => v.respond(WebError::from(e)),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct TicketGrant {
    website_id: WebsiteId,
    visitor_id: VisitorId,
}

/// Why a visitor socket was refused.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// Unknown, used or expired.
    #[error("invalid or expired ticket")]
    Invalid,
    #[error("store error: {0}")]
    Store(#[from] StoreError),
}

/// Redeems a WebSocket ticket (once) and registers the connection for the visitor it was
/// issued to.
pub async fn connect_visitor(
    deps: &WebChatDeps,
    connection: &omnidesk_core::ConnectionId,
    ticket: &str,
) -> Result<VisitorId, TicketError> {
    if ticket.is_empty() || ticket.len() > 64 {
        return Err(TicketError::Invalid);
    }
    let now = deps.clock.now();
    let stored = deps
        .web
        .take_token(TokenKind::WsTicket, &token_hash(ticket), now)
        .await?
        .ok_or(TicketError::Invalid)?;
    let grant: TicketGrant =
        serde_json::from_str(&stored.payload).map_err(|_| TicketError::Invalid)?;
    deps.visitors
        .add_visitor_connection(&VisitorConnection {
            id: connection.clone(),
            website_id: grant.website_id,
            visitor_id: grant.visitor_id,
            connected_at: now,
        })
        .await?;
    Ok(grant.visitor_id)
}

/// Forgets a visitor connection.
pub async fn disconnect_visitor(
    deps: &WebChatDeps,
    connection: &omnidesk_core::ConnectionId,
) -> Result<(), StoreError> {
    deps.visitors.remove_visitor_connection(connection).await
}

/// The first frame of a visitor socket.
pub fn visitor_hello(visitor_id: VisitorId) -> omnidesk_core::VisitorEvent {
    omnidesk_core::VisitorEvent::Hello { visitor_id }
}

/// Answers one client frame of a visitor socket (`{"action":"ping"}` → `pong`,
/// `{"action":"hello"}` → `hello`).
pub fn visitor_frame(visitor: VisitorId, text: &str) -> omnidesk_core::VisitorEvent {
    match serde_json::from_str::<omnidesk_core::ClientAction>(text) {
        Ok(omnidesk_core::ClientAction::Ping) => omnidesk_core::VisitorEvent::Pong,
        // API Gateway cannot push `hello` at connect: clients ask for it once open.
        Ok(omnidesk_core::ClientAction::Hello) => visitor_hello(visitor),
        Err(_) => omnidesk_core::VisitorEvent::Error {
            message: "unknown action; send {\"action\":\"ping\"}".to_owned(),
        },
    }
}

/// The conversation a website visitor's messages go to, if it exists (for tests and tools).
pub async fn visitor_conversation(
    deps: &WebChatDeps,
    website: WebsiteId,
    visitor: VisitorId,
) -> Result<Option<Conversation>, StoreError> {
    deps.conversations
        .conversation_by_key(&ConversationKey::web(website, visitor))
        .await
}
