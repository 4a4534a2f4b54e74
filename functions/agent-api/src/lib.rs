//! omnidesk-agent-api: the agent HTTP API (`/api/v1/…`) as a transport-free axum
//! [`Router`]: `lambda_http::run(router(deps))` on AWS, `axum::serve` locally, `oneshot` in
//! tests. Login, agents and presence, conversation lists, replies (stored, then queued for the
//! sender; with files uploaded as `multipart/form-data` into blob storage), assignment
//! transitions and contact tags; private notes with @mentions, labels, priority, snooze and
//! read; canned responses, teams and reports; pushes every change to connected agents.
//! Messages handed to agents carry signed, short-lived links to their files.
//!
//! Depends on `omnidesk-core` ports only: no AWS SDK, SQLite or Telegram types here.
//! The OpenAPI document of every route is served at `/api/openapi.json`.

mod agents;
mod ai;
mod audit;
mod auth;
mod canned;
mod contacts;
mod conversations;
mod cursor;
mod error;
mod files;
mod notes;
mod refresh;
mod reports;
mod rules;
mod signin;
mod teams;
mod totp;
mod translation;
mod triage;

use std::sync::Arc;

pub use ai::{ApiAi, faq_entry, new_faq_id};
use axum::extract::{FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use axum::{Router, handler::Handler};
use omnidesk_core::{
    AgentStore, BlobStore, BotStore, Clock, ConnectionStore, ContactStore, ConversationStore,
    IdGen, MessageStore, Push, Queue, RoutingStore, ServerEvent, usecases::push_events_to_agents,
};
use omnidesk_domain::{Agent, AgentId, Role};
pub use translation::ApiTranslation;

pub use agents::{CreateAgentError, create_agent, create_agent_as};
pub use audit::{
    AuditLog, DEFAULT_RETENTION as DEFAULT_AUDIT_RETENTION, Event as AuditEvent,
    record as record_audit, retention_from as audit_retention_from,
};
pub use auth::{
    Auth, AuthError, IssuedToken, PasswordError, Session, SessionError, agent_of_ticket,
    authenticate, authenticate_session, current_agent, end_sessions, hash_password, issue_ticket,
    session_version, verify_password,
};
pub use error::ApiError;
pub use files::MAX_JSON_BODY_BYTES;
pub use omnidesk_core::usecases::FileSettings;
pub use reports::rollout_bucket;
pub use signin::{ClientAddr, cloudfront_viewer, is_common_password};
pub use totp::code_of as totp_code;

/// The OpenAPI 3.1 document of this API (and of the WebSocket events).
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Everything the API needs, as ports.
#[derive(Clone)]
pub struct ApiDeps {
    pub contacts: Arc<dyn ContactStore>,
    pub conversations: Arc<dyn ConversationStore>,
    pub messages: Arc<dyn MessageStore>,
    pub agents: Arc<dyn AgentStore>,
    pub connections: Arc<dyn ConnectionStore>,
    pub push: Arc<dyn Push>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
    pub auth: Arc<Auth>,
    /// Attachment bytes: files agents upload go in, signed links to every file come out.
    pub blobs: Arc<dyn BlobStore>,
    /// Upload limits and the lifetime of download links.
    pub files: FileSettings,
    /// The deployment's translation; `None`: replies go out as written (detection only).
    pub translation: Option<Arc<ApiTranslation>>,
    /// The deployment's AI (FAQ, assist, call log); `None`: its routes answer 404.
    pub ai: Option<Arc<ApiAi>>,
    /// Teams and canned responses.
    pub routing: Arc<dyn RoutingStore>,
    /// The deployment's Telegram bots (`GET /api/v1/bots`: which bot a message came through).
    pub bots: Arc<dyn BotStore>,
    /// Single-use tokens: the agents' WebSocket tickets.
    pub tickets: Arc<dyn omnidesk_core::WebStore>,
    /// The audit log and how long it keeps entries.
    pub audit: AuditLog,
    /// Deletions for good: erasing a contact.
    pub erasure: Arc<dyn omnidesk_core::ErasureStore>,
    /// The mailer, when it keeps what it sent (the embedded outbox): an erasure deletes the
    /// contact's mails there too. `None`: sent mail is not kept here (SES, a relay).
    pub mailer: Option<Arc<dyn omnidesk_core::Mailer>>,
    /// Called after the rules changed through the API (the embedded runtime drops its
    /// routers' cache so the change takes effect at once); `None`: routers notice within
    /// their cache's lifetime.
    pub on_routing_change: Option<Arc<dyn Fn() + Send + Sync>>,
}

type AppState = Arc<ApiDeps>;

/// The agent API.
pub fn router(deps: ApiDeps) -> Router {
    // `Router::route` merges the method routers of a path given twice.
    let state = Arc::new(deps);
    let mut router = Router::new();
    for r in routes() {
        let handler = match r.role {
            Some(role) => r
                .handler
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    require_role,
                ))
                .route_layer(axum::Extension(role)),
            None => r.handler,
        };
        router = router.route(r.path, handler);
    }
    router
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Every `(method, path)` the router serves (methods upper-case, axum `{param}` syntax).
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    routes()
        .into_iter()
        .map(|r| (r.verb.as_str(), r.path))
        .collect()
}

#[derive(Clone, Copy)]
enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }
    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Patch => MethodFilter::PATCH,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

struct Route {
    verb: Verb,
    path: &'static str,
    handler: MethodRouter<AppState>,
    /// The least role that may use it, and what it does.
    role: Option<RouteRole>,
}

impl Route {
    /// Only `role` (or above) may use this route, which does `what` ("change the rules").
    fn only(mut self, role: Role, what: &'static str) -> Self {
        self.role = Some(RouteRole(role, what));
        self
    }
}

fn route<H, T>(verb: Verb, path: &'static str, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    Route {
        verb,
        path,
        handler: on(verb.filter(), handler),
        role: None,
    }
}

fn routes() -> Vec<Route> {
    use Verb::{Delete, Get, Patch, Post, Put};
    vec![
        route(Get, "/api/openapi.json", openapi),
        route(Post, "/api/v1/auth/login", agents::login),
        route(Post, "/api/v1/agents/me/totp", totp::setup),
        route(Post, "/api/v1/agents/me/totp/confirm", totp::confirm),
        route(Post, "/api/v1/agents/me/totp/disable", totp::disable),
        route(Post, "/api/v1/auth/refresh", refresh::refresh),
        route(Post, "/api/v1/auth/logout", refresh::logout),
        route(Post, "/api/v1/auth/ws-ticket", agents::ws_ticket),
        route(Put, "/api/v1/agents/me/password", agents::change_password),
        route(Patch, "/api/v1/agents/{id}", agents::patch_agent)
            .only(Role::Admin, "change an agent's role or access"),
        route(Get, "/api/v1/agents", agents::list),
        route(Get, "/api/v1/agents/me", agents::me),
        route(Put, "/api/v1/agents/me/status", agents::set_status),
        route(
            Put,
            "/api/v1/agents/me/languages",
            translation::set_my_languages,
        ),
        route(Get, "/api/v1/translation", translation::info),
        route(
            Put,
            "/api/v1/conversations/{id}/language",
            translation::set_conversation_language,
        ),
        route(
            Post,
            "/api/v1/conversations/{id}/translation-preview",
            translation::preview,
        ),
        route(
            Post,
            "/api/v1/conversations/{id}/messages/{message_id}/send-original",
            translation::send_original,
        ),
        route(
            Post,
            "/api/v1/conversations/{id}/messages/{message_id}/retry-translation",
            translation::retry_translation,
        ),
        route(Get, "/api/v1/conversations", conversations::list),
        route(Get, "/api/v1/conversations/{id}", conversations::get),
        route(
            Get,
            "/api/v1/conversations/{id}/messages",
            conversations::messages,
        ),
        route(
            Get,
            "/api/v1/conversations/{id}/messages/{message_id}/html",
            conversations::email_html,
        ),
        Route {
            verb: Post,
            path: "/api/v1/conversations/{id}/messages",
            // The multipart form is read part by part with a limit per file
            // (`files::read_reply_form`) and the JSON body with its own
            // (`MAX_JSON_BODY_BYTES`): the default body limit would cut uploads.
            handler: on(MethodFilter::POST, conversations::reply)
                .layer(axum::extract::DefaultBodyLimit::disable()),
            role: None,
        },
        route(
            Post,
            "/api/v1/conversations/{id}/assign",
            conversations::assign,
        ),
        route(
            Post,
            "/api/v1/conversations/{id}/unassign",
            conversations::unassign,
        ),
        route(
            Post,
            "/api/v1/conversations/{id}/resolve",
            conversations::resolve,
        ),
        route(
            Post,
            "/api/v1/conversations/{id}/reopen",
            conversations::reopen,
        ),
        route(Post, "/api/v1/conversations/{id}/hand-back", ai::hand_back),
        route(
            Post,
            "/api/v1/conversations/{id}/assist/summary",
            ai::summarise,
        ),
        route(
            Post,
            "/api/v1/conversations/{id}/assist/suggestion",
            ai::suggest,
        ),
        route(Get, "/api/v1/ai", ai::info),
        route(Get, "/api/v1/ai/calls", ai::calls),
        route(Get, "/api/v1/faq", ai::list_faq),
        route(Post, "/api/v1/faq", ai::create_faq).only(Role::Admin, "change the FAQ"),
        route(Put, "/api/v1/faq/{id}", ai::update_faq).only(Role::Admin, "change the FAQ"),
        route(Delete, "/api/v1/faq/{id}", ai::delete_faq).only(Role::Admin, "change the FAQ"),
        route(Get, "/api/v1/limits", files::limits),
        route(Get, "/api/v1/contacts/{id}", contacts::get),
        route(Patch, "/api/v1/contacts/{id}", contacts::patch),
        route(Post, "/api/v1/contacts/{id}/merge", contacts::merge)
            .only(Role::Supervisor, "merge contacts"),
        route(Delete, "/api/v1/contacts/{id}", contacts::erase).only(Role::Admin, "erase contacts"),
        route(Get, "/api/v1/contacts/{id}/export", contacts::export)
            .only(Role::Admin, "export a contact's data"),
        route(Get, "/api/v1/canned", canned::list),
        route(Put, "/api/v1/canned/{shortcut}", canned::put)
            .only(Role::Supervisor, "change canned responses"),
        route(Delete, "/api/v1/canned/{shortcut}", canned::delete)
            .only(Role::Supervisor, "change canned responses"),
        route(Post, "/api/v1/conversations/{id}/notes", notes::create),
        route(Put, "/api/v1/conversations/{id}/labels", triage::set_labels),
        route(
            Put,
            "/api/v1/conversations/{id}/priority",
            triage::set_priority,
        ),
        route(Post, "/api/v1/conversations/{id}/snooze", triage::snooze),
        route(
            Delete,
            "/api/v1/conversations/{id}/snooze",
            triage::unsnooze,
        ),
        route(Post, "/api/v1/conversations/{id}/read", triage::read),
        route(Get, "/api/v1/rules", rules::get),
        route(Put, "/api/v1/rules", rules::put).only(Role::Admin, "change the rules"),
        route(Get, "/api/v1/teams", teams::list),
        route(Get, "/api/v1/bots", teams::bots),
        route(Get, "/api/v1/audit", audit::list).only(Role::Admin, "read the audit log"),
        route(Get, "/api/v1/reports/summary", reports::summary)
            .only(Role::Supervisor, "read the reports"),
    ]
}

async fn openapi() -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        OPENAPI_JSON,
    )
        .into_response()
}

async fn route_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

/// The authenticated agent (`Authorization: Bearer <jwt>`), read from the store for each
/// request: a token whose agent is gone or disabled, or whose version is not the agent's
/// (signed out, password or role changed), is refused at once. The agent's role comes from
/// the store, never from the token. Fields: the agent's id, the agent as read, the session
/// version (the token's, which the check found current).
#[derive(Debug, Clone)]
pub(crate) struct Me(pub AgentId, pub Arc<Agent>, pub u64);

impl Me {
    /// The agent's role.
    pub(crate) fn role(&self) -> Role {
        self.1.role
    }

    /// 403 unless the agent's role is at least `role`.
    pub(crate) fn require(&self, role: Role, to: &str) -> Result<(), ApiError> {
        if self.role() >= role {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("only {} may {to}", role_phrase(role)),
        ))
    }
}

fn role_phrase(role: Role) -> &'static str {
    match role {
        Role::Admin => "an admin",
        Role::Supervisor => "a supervisor or an admin",
        Role::Agent => "an agent",
    }
}

impl FromRequestParts<AppState> for Me {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, deps: &AppState) -> Result<Self, ApiError> {
        // A role guard in front of the handler read it already.
        if let Some(me) = parts.extensions.get::<Me>() {
            return Ok(me.clone());
        }
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token)
            });
        let session = auth::authenticate_session(&deps.auth, token)?;
        let agent = match auth::agent_of_session(deps.agents.as_ref(), session).await {
            Ok(agent) => agent,
            Err(auth::SessionError::Token(e)) => return Err(e.into()),
            Err(auth::SessionError::Store(e)) => return Err(e.into()),
            Err(auth::SessionError::UnknownAgent | auth::SessionError::Ended) => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "session_ended",
                    "this session has ended (signed out, password or role changed, or the \
                     account was disabled or removed); sign in again",
                ));
            }
        };
        // Current: the token's version is the agent's.
        let me = Me(agent.id, Arc::new(agent), session.version);
        parts.extensions.insert(me.clone());
        Ok(me)
    }
}

/// The route layer of a route only `role` (or above) may use: 403 before the handler runs.
async fn require_role(
    State(deps): State<AppState>,
    axum::Extension(role): axum::Extension<RouteRole>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let me = match Me::from_request_parts(&mut parts, &deps).await {
        Ok(me) => me,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = me.require(role.0, role.1) {
        return e.into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

/// The least role a route needs, and what it does (for the refusal's message).
#[derive(Debug, Clone, Copy)]
struct RouteRole(Role, &'static str);

/// Pushes the events of one change to every connected agent as ONE frame per connection: a
/// `conversation.updated` rides on the `message.created` it follows, and several events go
/// out as a `batch` (API Gateway bills every WebSocket message). A failing push never fails
/// the request that caused it (the change is stored; dashboards catch up on reload).
pub(crate) async fn publish(deps: &ApiDeps, events: &[ServerEvent]) {
    if let Err(e) = push_events_to_agents(
        deps.connections.as_ref(),
        deps.conversations.as_ref(),
        deps.push.as_ref(),
        events.to_vec(),
    )
    .await
    {
        tracing::warn!(error = %e, "could not push to agents");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::{canned, contacts, conversations, cursor, notes, reports, triage};

    fn doc() -> Value {
        serde_json::from_str(super::OPENAPI_JSON).unwrap()
    }

    fn body_schema<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
        &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    }

    fn param<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} has no parameter {name}"))
    }

    /// The characters a `[^…]` class of the document leaves out.
    fn excluded_by(class: &str) -> Vec<char> {
        let inner: Vec<char> = class
            .strip_prefix("[^")
            .and_then(|c| c.strip_suffix(']'))
            .unwrap()
            .chars()
            .collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < inner.len() {
            if inner.get(i + 1) == Some(&'-') && i + 2 < inner.len() {
                out.extend(inner[i]..=inner[i + 2]);
                i += 3;
            } else {
                out.push(match inner[i..] {
                    ['\\', 't', ..] => '\t',
                    ['\\', 'n', ..] => '\n',
                    ['\\', 'f', ..] => '\u{c}',
                    ['\\', 'r', ..] => '\r',
                    [c, ..] => c,
                    [] => unreachable!(),
                });
                i += if inner[i] == '\\' { 2 } else { 1 };
            }
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn the_documents_limits_are_the_handlers_limits() {
        let doc = doc();
        for path in [
            "/api/v1/conversations",
            "/api/v1/conversations/{id}/messages",
        ] {
            assert_eq!(
                param(&doc, path, "cursor")["schema"]["pattern"],
                cursor::PATTERN
            );
        }
        let reply = body_schema(&doc, "/api/v1/conversations/{id}/messages", "post");
        assert_eq!(
            reply["properties"]["text"]["maxLength"],
            conversations::MAX_REPLY_CHARS
        );
        assert_eq!(
            reply["properties"]["client_id"]["pattern"],
            format!(
                "^[A-Za-z0-9_-]{{1,{}}}$",
                conversations::MAX_CLIENT_ID_CHARS
            )
        );
        let patch = body_schema(&doc, "/api/v1/contacts/{id}", "patch");
        assert_eq!(patch["properties"]["tags"]["maxItems"], contacts::MAX_TAGS);
        let attributes = &patch["properties"]["attributes"];
        assert_eq!(attributes["maxProperties"], contacts::MAX_ATTRIBUTES);
        assert_eq!(
            attributes["propertyNames"]["maxLength"],
            contacts::MAX_ATTRIBUTE_KEY_CHARS
        );
        assert_eq!(
            attributes["additionalProperties"]["maxLength"],
            contacts::MAX_ATTRIBUTE_VALUE_CHARS
        );

        let canned_path = &doc["paths"]["/api/v1/canned/{shortcut}"]["put"];
        assert_eq!(
            canned_path["parameters"][0]["schema"]["pattern"],
            format!("^[A-Za-z0-9_-]{{1,{}}}$", canned::MAX_SHORTCUT_CHARS)
        );
        let canned = body_schema(&doc, "/api/v1/canned/{shortcut}", "put");
        assert_eq!(
            canned["properties"]["text"]["maxLength"],
            canned::MAX_CANNED_CHARS
        );
        let note = body_schema(&doc, "/api/v1/conversations/{id}/notes", "post");
        assert_eq!(
            note["properties"]["text"]["maxLength"],
            notes::MAX_NOTE_CHARS
        );
        let labels = body_schema(&doc, "/api/v1/conversations/{id}/labels", "put");
        assert_eq!(
            labels["properties"]["labels"]["maxItems"],
            triage::MAX_LABELS
        );
        let until = &body_schema(&doc, "/api/v1/conversations/{id}/snooze", "post")["properties"]["until"]
            ["anyOf"][0];
        assert_eq!(until["maximum"], reports::MAX_MS);
        for name in ["from", "to"] {
            assert_eq!(
                param(&doc, "/api/v1/reports/summary", name)["schema"]["anyOf"][1]["maximum"],
                reports::MAX_MS
            );
        }
        let report = &doc["paths"]["/api/v1/reports/summary"]["get"];
        assert!(
            report["description"]
                .as_str()
                .unwrap()
                .contains(reports::CSV_HEADER)
        );
        assert_eq!(
            doc["components"]["schemas"]["ReportRow"]["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(","),
            reports::CSV_HEADER,
            "the CSV has the JSON row's fields, in order"
        );
    }

    #[test]
    fn every_link_leads_to_an_operation_of_the_document() {
        let doc = doc();
        let mut ids = Vec::new();
        let mut targets = Vec::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                ids.push(
                    op["operationId"]
                        .as_str()
                        .expect("an operationId")
                        .to_owned(),
                );
                for response in op["responses"].as_object().unwrap().values() {
                    if let Some(links) = response["links"].as_object() {
                        targets.extend(
                            links
                                .values()
                                .map(|l| l["operationId"].as_str().unwrap().to_owned()),
                        );
                    }
                }
            }
        }
        let unique: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "operationIds are unique");
        assert!(!targets.is_empty());
        for t in &targets {
            assert!(
                ids.contains(t),
                "a link leads to {t}, which no operation is"
            );
        }
    }

    #[test]
    fn not_blank_in_the_document_is_what_trim_leaves_something_of() {
        let doc = doc();
        let whitespace: Vec<char> = (char::MIN..=char::MAX)
            .filter(|c| c.is_whitespace())
            .collect();
        let reply = body_schema(&doc, "/api/v1/conversations/{id}/messages", "post");
        let patch = body_schema(&doc, "/api/v1/contacts/{id}", "patch");
        let canned = body_schema(&doc, "/api/v1/canned/{shortcut}", "put");
        let note = body_schema(&doc, "/api/v1/conversations/{id}/notes", "post");
        for class in [
            &reply["properties"]["text"]["pattern"],
            &patch["properties"]["attributes"]["propertyNames"]["pattern"],
            &canned["properties"]["text"]["pattern"],
            &note["properties"]["text"]["pattern"],
        ] {
            assert_eq!(excluded_by(class.as_str().unwrap()), whitespace);
        }
    }
}
