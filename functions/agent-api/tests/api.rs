//! The agent API driven through its Router (`oneshot`) on the in-memory adapters.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use failing::{FailingQueue, RacingConversations, UnavailableConversations};
use omnidesk_agent_api::{
    ApiDeps, Auth, CreateAgentError, FileSettings, create_agent, create_agent_as, rollout_bucket,
    route_table, router,
};
use omnidesk_core::testing::{
    ManualClock, MemoryBlobStore, MemoryPush, MemoryQueue, MemoryStore, SeqIds,
};
use omnidesk_core::{
    AgentStore, BotStore, Clock, Connection, ConnectionId, ConnectionStore, ContactStore,
    ConversationStore, IdGen, MessageStore, OutboundJob, PageRequest, Queue, QueueName,
    RoutingStore, TimerJob,
};
use omnidesk_domain::{
    Agent, AgentId, Author, Channel, Contact, Conversation, ConversationKey, ConversationStatus,
    DeliveryStatus, Identity, Message, Role, Tag, Team, TeamName, Timestamp,
};
use serde_json::{Value, json};
use tower::ServiceExt;

const T0: i64 = 1_704_067_200_000;
const TTL: Duration = Duration::from_secs(3600);

/// A queue whose sends always fail, as an unreachable SQS would.
mod failing {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use omnidesk_core::testing::MemoryStore;
    use omnidesk_core::{
        ConversationFilter, ConversationStore, DeadLettered, OutgoingMessage, Page, PageRequest,
        Queue, QueueError, QueueName, Received, SendOutcome, StoreError, StoreResult,
    };
    use omnidesk_domain::{AgentId, ContactId, Conversation, ConversationId, ConversationKey};

    pub struct FailingQueue;

    /// Conversations where another writer changes the conversation just before each of the
    /// first `races` updates, so those updates meet a stale version.
    pub struct RacingConversations {
        pub inner: Arc<MemoryStore>,
        pub races: AtomicU32,
    }

    #[async_trait::async_trait]
    impl ConversationStore for RacingConversations {
        async fn create_conversation(&self, c: &Conversation) -> StoreResult<()> {
            self.inner.create_conversation(c).await
        }
        async fn get_conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
            self.inner.get_conversation(id).await
        }
        async fn conversation_by_key(
            &self,
            key: &ConversationKey,
        ) -> StoreResult<Option<Conversation>> {
            self.inner.conversation_by_key(key).await
        }
        async fn update_conversation(&self, c: &Conversation) -> StoreResult<Conversation> {
            let race = self
                .races
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if race {
                let mut other = self.inner.get_conversation(c.id).await?.expect("exists");
                other.unread_count += 1;
                self.inner.update_conversation(&other).await?;
            }
            self.inner.update_conversation(c).await
        }
        async fn list_conversations(
            &self,
            filter: &ConversationFilter,
            page: &PageRequest,
        ) -> StoreResult<Page<Conversation>> {
            self.inner.list_conversations(filter, page).await
        }
        async fn list_conversations_of_contact(
            &self,
            contact: ContactId,
            page: &PageRequest,
        ) -> StoreResult<Page<Conversation>> {
            self.inner
                .list_conversations_of_contact(contact, page)
                .await
        }
        async fn count_assigned(&self, agent: AgentId) -> StoreResult<u32> {
            self.inner.count_assigned(agent).await
        }
        async fn claim_conversation_key(
            &self,
            conversation: ConversationId,
            key: &ConversationKey,
        ) -> StoreResult<Option<ConversationId>> {
            self.inner.claim_conversation_key(conversation, key).await
        }
        async fn release_conversation_key(
            &self,
            conversation: ConversationId,
            key: &ConversationKey,
        ) -> StoreResult<()> {
            self.inner.release_conversation_key(conversation, key).await
        }
    }

    /// A conversation table that cannot be reached.
    pub struct UnavailableConversations;

    #[async_trait::async_trait]
    impl ConversationStore for UnavailableConversations {
        async fn create_conversation(&self, _: &Conversation) -> StoreResult<()> {
            Err(down())
        }
        async fn get_conversation(&self, _: ConversationId) -> StoreResult<Option<Conversation>> {
            Err(down())
        }
        async fn conversation_by_key(
            &self,
            _: &ConversationKey,
        ) -> StoreResult<Option<Conversation>> {
            Err(down())
        }
        async fn update_conversation(&self, _: &Conversation) -> StoreResult<Conversation> {
            Err(down())
        }
        async fn list_conversations(
            &self,
            _: &ConversationFilter,
            _: &PageRequest,
        ) -> StoreResult<Page<Conversation>> {
            Err(down())
        }
        async fn list_conversations_of_contact(
            &self,
            _: ContactId,
            _: &PageRequest,
        ) -> StoreResult<Page<Conversation>> {
            Err(down())
        }
        async fn count_assigned(&self, _: AgentId) -> StoreResult<u32> {
            Err(down())
        }
        async fn claim_conversation_key(
            &self,
            _: ConversationId,
            _: &ConversationKey,
        ) -> StoreResult<Option<ConversationId>> {
            Err(down())
        }
        async fn release_conversation_key(
            &self,
            _: ConversationId,
            _: &ConversationKey,
        ) -> StoreResult<()> {
            Err(down())
        }
    }

    fn down() -> StoreError {
        StoreError::Unavailable("dynamodb timeout at 10.0.0.1".to_owned())
    }

    #[async_trait::async_trait]
    impl Queue for FailingQueue {
        async fn send(&self, _: QueueName, _: OutgoingMessage) -> Result<SendOutcome, QueueError> {
            Err(QueueError::Unavailable("connection refused".to_owned()))
        }
        async fn receive(
            &self,
            _: QueueName,
            _: usize,
            _: Duration,
        ) -> Result<Vec<Received>, QueueError> {
            Ok(Vec::new())
        }
        async fn ack(&self, _: QueueName, _: &str) -> Result<(), QueueError> {
            Ok(())
        }
        async fn retry_later(&self, _: QueueName, _: &str, _: Duration) -> Result<(), QueueError> {
            Ok(())
        }
        async fn dead_letter(&self, _: QueueName, _: &str, _: &str) -> Result<(), QueueError> {
            Ok(())
        }
        async fn dead_letters(
            &self,
            _: QueueName,
            _: usize,
        ) -> Result<Vec<DeadLettered>, QueueError> {
            Ok(Vec::new())
        }
    }
}

struct App {
    router: Router,
    deps: ApiDeps,
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    push: Arc<MemoryPush>,
    blobs: Arc<MemoryBlobStore>,
    clock: Arc<ManualClock>,
    ids: Arc<SeqIds>,
    ann: Agent,
    bob: Agent,
    token: String,
    seq: std::sync::atomic::AtomicU32,
}

async fn app() -> App {
    app_with(|_, _| {}).await
}

/// An app whose ports `customize` may replace (after the agents are created).
async fn app_with(customize: impl FnOnce(&mut ApiDeps, &Arc<MemoryStore>)) -> App {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(T0)));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let queue = Arc::new(MemoryQueue::with_clock(clock.clone()));
    let push = Arc::new(MemoryPush::new());
    let ids = Arc::new(SeqIds::new());
    let blobs = Arc::new(MemoryBlobStore::new());
    let deps = ApiDeps {
        contacts: store.clone(),
        conversations: store.clone(),
        messages: store.clone(),
        agents: store.clone(),
        connections: store.clone(),
        push: push.clone(),
        queue: queue.clone(),
        clock: clock.clone(),
        ids: ids.clone(),
        auth: Arc::new(Auth::with_clock(b"api-test-secret", TTL, clock.clone())),
        blobs: blobs.clone(),
        files: FileSettings {
            max_upload_bytes: 1024 * 1024,
            ..FileSettings::default()
        },
        translation: None,
        ai: None,
        routing: store.clone(),
        bots: store.clone(),
        tickets: store.clone(),
        erasure: store.clone(),
        mailer: None,
        audit: omnidesk_agent_api::AuditLog {
            store: store.clone(),
            keep: omnidesk_agent_api::DEFAULT_AUDIT_RETENTION,
        },
        on_routing_change: None,
    };
    let ann = create_agent(&deps, "ann@example.com", "Ann", "correct-horse")
        .await
        .unwrap();
    let bob = create_agent(&deps, "bob@example.com", "Bob", "battery-staple")
        .await
        .unwrap();
    let token = deps.auth.issue(ann.id).unwrap().token;
    let mut deps = deps;
    customize(&mut deps, &store);
    App {
        router: router(deps.clone()),
        deps,
        store,
        queue,
        push,
        blobs,
        clock,
        ids,
        ann,
        bob,
        token,
        seq: std::sync::atomic::AtomicU32::new(0),
    }
}

impl App {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_as(Some(&self.token), method, path, body).await
    }

    async fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|b| ("authorization", b.as_str()))
            .collect();
        let (status, value, _) = self.http(method, path, &headers, body).await;
        (status, value)
    }

    /// A contact and a conversation in `status`, last active at `T0 + activity_ms`.
    async fn conversation(
        &self,
        status: ConversationStatus,
        assignee: Option<AgentId>,
        activity_ms: i64,
    ) -> Conversation {
        self.conversation_with(status, assignee, activity_ms, |_| {})
            .await
    }

    /// [`App::conversation`] with fields set by `edit` before it is stored.
    async fn conversation_with(
        &self,
        status: ConversationStatus,
        assignee: Option<AgentId>,
        activity_ms: i64,
        edit: impl FnOnce(&mut Conversation),
    ) -> Conversation {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let now = Timestamp::from_millis(T0);
        let contact = Contact::new(
            self.ids.contact_id(),
            format!("Visitor {n}"),
            Identity::WebVisitor {
                visitor_id: format!("v{n}"),
            },
            now,
        );
        self.store.create_contact(&contact).await.unwrap();
        let mut c = Conversation::new(
            self.ids.conversation_id(),
            ConversationKey::parse(&format!("web:v{n}")).unwrap(),
            contact.id,
            Channel::Web,
            now,
        );
        c.status = status;
        c.assignee_id = assignee;
        c.last_activity_at = Timestamp::from_millis(T0 + activity_ms);
        edit(&mut c);
        self.store.create_conversation(&c).await.unwrap();
        c
    }

    /// A live WebSocket connection of Ann that records pushes.
    async fn listen(&self) -> ConnectionId {
        self.listen_as(self.ann.id, "conn-ann").await
    }

    /// A live WebSocket connection `id` of `agent` that records pushes (told everything, as a
    /// connection from before roles).
    async fn listen_as(&self, agent: AgentId, id: &str) -> ConnectionId {
        self.connection(agent, id, None).await
    }

    async fn connection(
        &self,
        agent: AgentId,
        id: &str,
        viewer: Option<omnidesk_core::Viewer>,
    ) -> ConnectionId {
        let id = ConnectionId(id.to_owned());
        self.push.connect(&id);
        self.store
            .add_connection(&Connection {
                id: id.clone(),
                agent_id: agent,
                connected_at: self.clock.now(),
                viewer,
            })
            .await
            .unwrap();
        id
    }

    /// [`App::listen_as`], a connection made as the agent-ws connect makes it: told only about
    /// what `agent` may read.
    async fn watch_as(&self, agent: &Agent, id: &str) -> ConnectionId {
        self.connection(agent.id, id, Some(omnidesk_core::Viewer::of(agent)))
            .await
    }

    /// A GET whose answer is not JSON: status, headers and body text.
    async fn get_text(&self, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
        let req = Request::builder()
            .method("GET")
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token))
            .body(Body::empty())
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 22).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    /// The frames posted to `conn`, as posted.
    fn pushed(&self, conn: &ConnectionId) -> Vec<Value> {
        self.push
            .frames(conn)
            .iter()
            .map(|f| serde_json::from_str(f).unwrap())
            .collect()
    }

    /// The events posted to `conn`, `batch` frames unpacked, in order.
    fn events(&self, conn: &ConnectionId) -> Vec<Value> {
        self.pushed(conn)
            .into_iter()
            .flat_map(|f| match f["type"].as_str() {
                Some("batch") => f["events"].as_array().unwrap().clone(),
                _ => vec![f],
            })
            .collect()
    }

    async fn stored_messages(&self, c: &Conversation) -> Vec<Message> {
        let mut items = self
            .store
            .list_messages(c.id, &PageRequest::first(100))
            .await
            .unwrap()
            .items;
        items.reverse();
        items
    }

    async fn stored(&self, c: &Conversation) -> Conversation {
        self.store.get_conversation(c.id).await.unwrap().unwrap()
    }
}

fn types(frames: &[Value]) -> Vec<&str> {
    frames.iter().filter_map(|f| f["type"].as_str()).collect()
}

fn ids_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn login_with_the_right_password_returns_a_token_that_opens_the_api() {
    let app = app().await;
    let (status, body) = app
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            Some(json!({"email": "ann@example.com", "password": "correct-horse"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["agent"]["id"], app.ann.id.to_string());
    assert_eq!(body["agent"]["email"], "ann@example.com");
    assert!(body["agent"].get("password_hash").is_none());
    assert_eq!(
        body["expires_at"],
        Timestamp::from_millis(T0 + 3_600_000).to_rfc3339()
    );
    let token = body["token"].as_str().unwrap();
    let (status, me) = app
        .call_as(Some(token), "GET", "/api/v1/agents/me", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["name"], "Ann");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_401() {
    let app = app().await;
    let (s1, wrong) = app
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            Some(json!({"email": "ann@example.com", "password": "nope-nope"})),
        )
        .await;
    let (s2, unknown) = app
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            Some(json!({"email": "zed@example.com", "password": "nope-nope"})),
        )
        .await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"]["code"], "invalid_credentials");
    let (s3, missing) = app
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            Some(json!({"email": "ann@example.com"})),
        )
        .await;
    assert_eq!(s3, StatusCode::BAD_REQUEST);
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("password")
    );
}

#[tokio::test]
async fn expired_missing_or_forged_tokens_are_401_and_expiry_says_token_expired() {
    let app = app().await;
    let (status, body) = app.call_as(None, "GET", "/api/v1/agents", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, body) = app
        .call_as(Some("a.b.c"), "GET", "/api/v1/agents", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    app.clock.advance(TTL + Duration::from_secs(1));
    let (status, body) = app.call("GET", "/api/v1/agents", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_expired");
}

#[tokio::test]
async fn agents_list_shows_every_agent_without_password_hashes() {
    let app = app().await;
    let (status, body) = app.call("GET", "/api/v1/agents", None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<_> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Ann", "Bob"]);
    assert!(!body.to_string().contains("argon2"));
}

#[tokio::test]
async fn conversation_list_filters_by_status_and_assignee() {
    let app = app().await;
    let q1 = app.conversation(ConversationStatus::Queued, None, 1).await;
    let q2 = app.conversation(ConversationStatus::Queued, None, 2).await;
    let mine = app
        .conversation(ConversationStatus::Assigned, Some(app.ann.id), 3)
        .await;
    let bobs = app
        .conversation(ConversationStatus::Assigned, Some(app.bob.id), 4)
        .await;
    let done = app
        .conversation(ConversationStatus::Resolved, None, 5)
        .await;

    let (status, all) = app.call("GET", "/api/v1/conversations", None).await;
    assert_eq!(status, StatusCode::OK);
    let all_ids = ids_of(&all);
    let expected: Vec<String> = [&done, &bobs, &mine, &q2, &q1]
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    assert_eq!(all_ids, expected, "newest activity first");
    assert!(all["next_cursor"].is_null());
    assert_eq!(all["items"][0]["contact"]["display_name"], "Visitor 4");

    let (_, queued) = app
        .call("GET", "/api/v1/conversations?status=queued", None)
        .await;
    assert_eq!(ids_of(&queued), vec![q2.id.to_string(), q1.id.to_string()]);
    let (_, me) = app
        .call("GET", "/api/v1/conversations?assignee=me", None)
        .await;
    assert_eq!(ids_of(&me), vec![mine.id.to_string()]);
    let path = format!(
        "/api/v1/conversations?status=assigned&assignee={}",
        app.bob.id
    );
    let (_, bob) = app.call("GET", &path, None).await;
    assert_eq!(ids_of(&bob), vec![bobs.id.to_string()]);
    let (_, none) = app
        .call(
            "GET",
            "/api/v1/conversations?assignee=none&status=all",
            None,
        )
        .await;
    assert_eq!(
        ids_of(&none),
        vec![done.id.to_string(), q2.id.to_string(), q1.id.to_string()]
    );

    let (status, bad) = app
        .call("GET", "/api/v1/conversations?status=open", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("status")
    );
    let (status, bad) = app
        .call("GET", "/api/v1/conversations?assignee=someone", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("assignee")
    );
    let (status, bad) = app.call("GET", "/api/v1/conversations?limit=0", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("limit")
    );
}

#[tokio::test]
async fn conversation_list_pages_with_a_cursor_without_repeats_or_gaps() {
    let app = app().await;
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(
            app.conversation(ConversationStatus::Queued, None, i)
                .await
                .id
                .to_string(),
        );
    }
    expected.reverse();
    let mut seen = Vec::new();
    let mut path = "/api/v1/conversations?limit=2".to_owned();
    for _ in 0..5 {
        let (status, page) = app.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(ids_of(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/conversations?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn one_conversation_is_a_view_with_its_contact_and_unknown_ids_are_404() {
    let app = app().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let (status, view) = app
        .call("GET", &format!("/api/v1/conversations/{}", c.id), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["id"], c.id.to_string());
    assert_eq!(view["status"], "queued");
    assert_eq!(view["contact"]["id"], c.contact_id.to_string());
    let ghost = app.ids.conversation_id();
    let (status, body) = app
        .call("GET", &format!("/api/v1/conversations/{ghost}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = app.call("GET", "/api/v1/conversations/xyz", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("id"));
}

#[tokio::test]
async fn messages_page_is_chronological_and_the_cursor_leads_to_older_messages() {
    let app = app().await;
    let c = app
        .conversation(ConversationStatus::Assigned, Some(app.ann.id), 0)
        .await;
    let mut texts = Vec::new();
    for i in 1..=5 {
        let m = Message::outbound(
            app.ids.message_id(),
            c.id,
            Author::Bot,
            Channel::Web,
            format!("m{i}"),
            Timestamp::from_millis(T0 + i),
        );
        app.store.append_message(&m).await.unwrap();
        texts.push(m.text);
    }
    let base = format!("/api/v1/conversations/{}/messages?limit=2", c.id);
    let (status, page) = app.call("GET", &base, None).await;
    assert_eq!(status, StatusCode::OK);
    let text_of = |p: &Value| -> Vec<String> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(text_of(&page), vec!["m4", "m5"]);
    assert_eq!(page["items"][0]["author"]["kind"], "bot");
    assert_eq!(page["items"][0]["delivery"]["status"], "sending");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, older) = app
        .call("GET", &format!("{base}&cursor={cursor}"), None)
        .await;
    assert_eq!(text_of(&older), vec!["m2", "m3"]);
}

#[tokio::test]
async fn reply_is_stored_as_sending_queued_for_the_sender_and_pushed() {
    let app = app().await;
    let conn = app.listen().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/messages", c.id),
            Some(json!({"text": "  Hello, how can I help?  "})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["text"], "Hello, how can I help?");
    assert_eq!(body["direction"], "outbound");
    assert_eq!(
        body["author"],
        json!({"kind": "agent", "id": app.ann.id.to_string()})
    );
    assert_eq!(body["channel"], "web");
    assert_eq!(body["delivery"]["status"], "sending");

    let stored = app.stored_messages(&c).await;
    let reply = stored
        .iter()
        .find(|m| m.id.to_string() == body["id"])
        .unwrap();
    assert_eq!(reply.delivery.status, DeliveryStatus::Sending);

    let jobs = app
        .queue
        .receive(QueueName::Outbound, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].group.as_deref(), Some(c.id.to_string().as_str()));
    let job: OutboundJob = serde_json::from_str(&jobs[0].body).unwrap();
    assert_eq!(job.conversation_id, c.id);
    assert_eq!(job.message_id, reply.id);

    let conv = app.stored(&c).await;
    assert_eq!(conv.status, ConversationStatus::Assigned);
    assert_eq!(conv.assignee_id, Some(app.ann.id));
    assert_eq!(conv.last_message.as_ref().unwrap().id, reply.id);

    let frames = app.pushed(&conn);
    assert_eq!(
        types(&frames),
        vec!["batch"],
        "one WebSocket message per reply"
    );
    let events = app.events(&conn);
    assert_eq!(types(&events), vec!["message.created", "message.created"]);
    assert_eq!(events[0]["message"]["id"], body["id"]);
    assert!(events[0].get("conversation").is_none());
    assert_eq!(events[1]["message"]["event"]["event"], "assigned");
    assert_eq!(
        events[1]["conversation"]["assignee_id"],
        app.ann.id.to_string(),
        "the conversation rides on the last message.created"
    );
}

#[tokio::test]
async fn reply_to_a_conversation_of_another_agent_leaves_it_with_them() {
    let app = app().await;
    let c = app
        .conversation(ConversationStatus::Assigned, Some(app.bob.id), 0)
        .await;
    let (status, _) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/messages", c.id),
            Some(json!({"text": "Jumping in"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.stored(&c).await.assignee_id, Some(app.bob.id));
    assert!(
        app.stored_messages(&c)
            .await
            .iter()
            .all(|m| m.event.is_none())
    );
}

#[tokio::test]
async fn reply_is_validated_and_a_resolved_conversation_must_be_reopened_first() {
    let app = app().await;
    let c = app
        .conversation(ConversationStatus::Assigned, Some(app.ann.id), 0)
        .await;
    let path = format!("/api/v1/conversations/{}/messages", c.id);
    let (status, body) = app.call("POST", &path, Some(json!({"text": "   "}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("text")
    );
    let long = "x".repeat(16_001);
    let (status, body) = app.call("POST", &path, Some(json!({"text": long}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("text")
    );
    let (status, _) = app
        .call("POST", &path, Some(json!({"text": "y".repeat(16_000)})))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let done = app
        .conversation(ConversationStatus::Resolved, None, 1)
        .await;
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/messages", done.id),
            Some(json!({"text": "hello?"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "conversation_resolved");
    assert!(app.stored_messages(&done).await.is_empty());
    assert_eq!(app.queue.len(QueueName::Outbound), 1);
}

#[tokio::test]
async fn reply_that_cannot_be_queued_is_marked_failed_and_answers_503() {
    let app = app_with(|deps, _| deps.queue = Arc::new(FailingQueue)).await;
    let conn = app.listen().await;
    let c = app
        .conversation(ConversationStatus::Assigned, Some(app.ann.id), 0)
        .await;
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/messages", c.id),
            Some(json!({"text": "Are you there?"})),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "queue_unavailable");
    assert!(!body.to_string().contains("connection refused"));
    let stored = app.stored_messages(&c).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].delivery.status, DeliveryStatus::Failed);
    assert!(
        stored[0]
            .delivery
            .reason
            .as_deref()
            .unwrap()
            .starts_with("could not queue")
    );
    let frames = app.events(&conn);
    assert_eq!(frames[0]["type"], "message.created");
    assert_eq!(frames[0]["message"]["delivery"]["status"], "failed");
}

#[tokio::test]
async fn assign_transfer_unassign_resolve_and_reopen_record_timeline_events() {
    let app = app().await;
    let conn = app.listen().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let base = format!("/api/v1/conversations/{}", c.id);

    let (status, view) = app
        .call(
            "POST",
            &format!("{base}/assign"),
            Some(json!({"agent_id": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "assigned");
    assert_eq!(view["assignee_id"], app.ann.id.to_string());

    let (status, view) = app
        .call(
            "POST",
            &format!("{base}/assign"),
            Some(json!({"agent_id": app.bob.id.to_string()})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["assignee_id"], app.bob.id.to_string());

    let (status, view) = app.call("POST", &format!("{base}/unassign"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["status"], "queued");
    assert!(view["assignee_id"].is_null());

    let (status, err) = app.call("POST", &format!("{base}/unassign"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"]["code"], "invalid_transition");
    assert_eq!(
        err["error"]["message"],
        "cannot unassign a conversation that is queued"
    );

    let (status, view) = app.call("POST", &format!("{base}/resolve"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["status"], "resolved");
    let (status, _) = app.call("POST", &format!("{base}/resolve"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app.call("POST", &format!("{base}/assign"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, view) = app.call("POST", &format!("{base}/reopen"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["status"], "assigned");
    assert_eq!(view["assignee_id"], app.ann.id.to_string());
    let (status, err) = app.call("POST", &format!("{base}/reopen"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"]["code"], "invalid_transition");

    let events: Vec<String> = app
        .stored_messages(&c)
        .await
        .iter()
        .map(|m| {
            assert!(m.author.is_system());
            serde_json::to_value(m.event.as_ref().unwrap()).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        events,
        vec![
            "assigned",
            "transferred",
            "unassigned",
            "resolved",
            "reopened"
        ]
    );

    let frames = app.pushed(&conn);
    assert_eq!(frames.len(), 5, "one frame per transition");
    let created: Vec<&str> = frames
        .iter()
        .filter(|f| f["type"] == "message.created")
        .map(|f| f["message"]["event"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        created,
        vec![
            "assigned",
            "transferred",
            "unassigned",
            "resolved",
            "reopened"
        ]
    );
    assert!(
        frames
            .iter()
            .all(|f| f["conversation"]["id"] == c.id.to_string()),
        "each timeline message carries the conversation instead of a conversation.updated"
    );
    assert_eq!(frames[3]["conversation"]["status"], "resolved");
    let transfer = frames
        .iter()
        .find(|f| f["message"]["event"]["event"] == "transferred")
        .unwrap();
    assert_eq!(transfer["message"]["event"]["from"], app.ann.id.to_string());
    assert_eq!(transfer["message"]["event"]["to"], app.bob.id.to_string());
    assert_eq!(transfer["message"]["event"]["by"], app.ann.id.to_string());
}

#[tokio::test]
async fn assign_to_an_unknown_agent_is_404_unknown_agent_and_bad_ids_are_400() {
    let app = app().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let path = format!("/api/v1/conversations/{}/assign", c.id);
    let ghost = app.ids.agent_id();
    let (status, body) = app
        .call("POST", &path, Some(json!({"agent_id": ghost.to_string()})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "unknown_agent");
    let (status, body) = app
        .call("POST", &path, Some(json!({"agent_id": "bob"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("agent_id")
    );
    assert_eq!(app.stored(&c).await.status, ConversationStatus::Queued);
}

#[tokio::test]
async fn contact_shows_its_conversations_and_tag_edits_are_validated_and_pushed() {
    let app = app().await;
    let conn = app.listen().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let path = format!("/api/v1/contacts/{}", c.contact_id);

    let (status, contact) = app.call("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(contact["id"], c.contact_id.to_string());
    assert_eq!(contact["display_name"], "Visitor 0");
    assert_eq!(contact["conversations"][0]["id"], c.id.to_string());

    let (status, body) = app
        .call("PATCH", &path, Some(json!({"tags": ["VIP", "has space"]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("tags") && message.contains("has space"),
        "{message}"
    );
    assert!(app.pushed(&conn).is_empty());

    let (status, body) = app
        .call(
            "PATCH",
            &path,
            Some(json!({"tags": ["VIP", "returning"], "attributes": {"plan": "pro"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tags"], json!(["returning", "vip"]));
    assert_eq!(body["attributes"], json!({"plan": "pro"}));
    let stored = app.store.get_contact(c.contact_id).await.unwrap().unwrap();
    assert_eq!(stored.tags.len(), 2);
    let frames = app.pushed(&conn);
    assert_eq!(types(&frames), vec!["contact.updated"]);
    assert_eq!(frames[0]["contact"]["tags"], json!(["returning", "vip"]));

    let ghost = app.ids.contact_id();
    let (status, _) = app
        .call(
            "PATCH",
            &format!("/api/v1/contacts/{ghost}"),
            Some(json!({"tags": []})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn going_online_pushes_presence_and_takes_queued_conversations_oldest_first_up_to_capacity() {
    let app = app().await;
    let conn = app.listen().await;
    let mut ann = app.ann.clone();
    ann.capacity = 3;
    app.store.update_agent(&ann).await.unwrap();
    app.conversation(ConversationStatus::Assigned, Some(ann.id), 0)
        .await;
    // Activity order differs from waiting order on purpose.
    let mut waiting = Vec::new();
    for (i, waited_since) in [(10, 300), (11, 100), (12, 200)] {
        let mut c = app.conversation(ConversationStatus::Queued, None, i).await;
        c.last_inbound_at = Some(Timestamp::from_millis(T0 + waited_since));
        let c = app.store.update_conversation(&c).await.unwrap();
        waiting.push(c);
    }
    let bot = app.conversation(ConversationStatus::Bot, None, 20).await;

    let (status, body) = app
        .call(
            "PUT",
            "/api/v1/agents/me/status",
            Some(json!({"status": "online"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "online");

    // Capacity 3 with one open: the two who waited longest.
    assert_eq!(app.stored(&waiting[1]).await.assignee_id, Some(ann.id));
    assert_eq!(app.stored(&waiting[2]).await.assignee_id, Some(ann.id));
    assert_eq!(
        app.stored(&waiting[0]).await.status,
        ConversationStatus::Queued
    );
    assert_eq!(app.stored(&bot).await.status, ConversationStatus::Bot);

    let frames = app.events(&conn);
    assert_eq!(frames[0]["type"], "presence");
    assert_eq!(frames[0]["status"], "online");
    assert_eq!(frames[0]["agent_id"], ann.id.to_string());
    let updated: Vec<&str> = frames
        .iter()
        .filter_map(|f| f["conversation"]["id"].as_str())
        .collect();
    let (w1, w2) = (waiting[1].id.to_string(), waiting[2].id.to_string());
    assert_eq!(updated, vec![w1.as_str(), w2.as_str()]);

    let (status, body) = app
        .call(
            "PUT",
            "/api/v1/agents/me/status",
            Some(json!({"status": "away"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("status")
    );
}

#[tokio::test]
async fn going_busy_takes_nothing() {
    let app = app().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let (status, body) = app
        .call(
            "PUT",
            "/api/v1/agents/me/status",
            Some(json!({"status": "busy"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "busy");
    assert_eq!(app.stored(&c).await.status, ConversationStatus::Queued);
    let stored = app.store.get_agent(app.ann.id).await.unwrap().unwrap();
    assert_eq!(stored.status, omnidesk_domain::AgentStatus::Busy);
}

#[tokio::test]
async fn openapi_document_covers_every_route_and_nothing_else() {
    let app = app().await;
    let (status, doc) = app.call_as(None, "GET", "/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let routes = route_table();
    for (method, path) in &routes {
        let op = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is missing from openapi.json"))
            [method.to_lowercase()];
        assert!(
            op.is_object(),
            "{method} {path} is missing from openapi.json"
        );
    }
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            assert!(
                routes
                    .iter()
                    .any(|(m, p)| p == path && m.eq_ignore_ascii_case(method)),
                "openapi.json documents {method} {path}, which the router does not serve"
            );
        }
    }
    for event in [
        "hello",
        "message.created",
        "message.updated",
        "conversation.updated",
        "contact.updated",
        "presence",
        "notification",
        "pong",
        "error",
        "batch",
    ] {
        assert!(
            doc["components"]["schemas"]["ServerEvent"]
                .to_string()
                .contains(&format!("\"{event}\"")),
            "ServerEvent {event} is not documented"
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = app().await;
    let (status, body) = app.call("GET", "/api/v1/nothing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "route_not_found");
    let (status, body) = app.call("DELETE", "/api/v1/agents", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn create_agent_rejects_bad_input_and_duplicate_emails() {
    let app = app().await;
    let deps = &app.deps;
    assert!(matches!(
        create_agent(deps, "not-an-email", "Zed", "zebra-lantern-42").await,
        Err(CreateAgentError::InvalidEmail(_))
    ));
    assert!(matches!(
        create_agent(deps, "zed@example.com", "  ", "zebra-lantern-42").await,
        Err(CreateAgentError::EmptyName)
    ));
    assert!(matches!(
        create_agent(deps, "zed@example.com", "Zed", "short").await,
        Err(CreateAgentError::PasswordTooShort)
    ));
    // One of the most common passwords (in any case) is refused, with a reason to show.
    let common = create_agent(deps, "zed@example.com", "Zed", "Password123")
        .await
        .unwrap_err();
    assert!(matches!(common, CreateAgentError::CommonPassword));
    assert!(common.to_string().contains("most common passwords"));
    let dup = create_agent(deps, "ann@example.com", "Ann 2", "zebra-lantern-42")
        .await
        .unwrap_err();
    assert!(matches!(dup, CreateAgentError::DuplicateEmail(_)));
    assert!(dup.to_string().contains("ann@example.com"));
    let zed = create_agent(deps, "zed@example.com", "Zed", "zebra-lantern-42")
        .await
        .unwrap();
    assert_eq!(zed.status, omnidesk_domain::AgentStatus::Offline);
    assert!(zed.password_hash.as_phc().starts_with("$argon2id$"));
    assert_eq!(app.store.list_agents().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_transition_that_meets_a_concurrent_change_is_reapplied_on_the_fresh_conversation() {
    let app = app_with(|deps, store| {
        deps.conversations = Arc::new(RacingConversations {
            inner: store.clone(),
            races: std::sync::atomic::AtomicU32::new(2),
        });
    })
    .await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let (status, view) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/assign", c.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let stored = app.stored(&c).await;
    assert_eq!(stored.assignee_id, Some(app.ann.id));
    assert_eq!(stored.unread_count, 2, "both concurrent changes are kept");
    assert_eq!(app.stored_messages(&c).await.len(), 1, "one timeline event");
}

#[tokio::test]
async fn a_transition_that_keeps_losing_the_race_answers_409_and_changes_nothing_of_ours() {
    let app = app_with(|deps, store| {
        deps.conversations = Arc::new(RacingConversations {
            inner: store.clone(),
            races: std::sync::atomic::AtomicU32::new(10),
        });
    })
    .await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/resolve", c.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(app.stored(&c).await.status, ConversationStatus::Queued);
    assert!(app.stored_messages(&c).await.is_empty());
}

#[tokio::test]
async fn an_unavailable_store_answers_503_without_internal_details() {
    let app = app_with(|deps, _| deps.conversations = Arc::new(UnavailableConversations)).await;
    let (status, body) = app.call("GET", "/api/v1/conversations", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "store_unavailable");
    assert!(!body.to_string().contains("10.0.0.1"));
}

#[tokio::test]
async fn a_reply_retried_with_the_same_client_id_is_stored_and_queued_once() {
    let app = app().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let path = format!("/api/v1/conversations/{}/messages", c.id);
    let body = json!({"text": "Your order has shipped", "client_id": "d-1763780000-abc_DEF"});
    let (first_status, first) = app.call("POST", &path, Some(body.clone())).await;
    assert_eq!(first_status, StatusCode::CREATED, "{first}");
    let (second_status, second) = app.call("POST", &path, Some(body)).await;
    assert_eq!(second_status, StatusCode::OK, "{second}");
    assert_eq!(second["id"], first["id"]);

    let replies: Vec<Message> = app
        .stored_messages(&c)
        .await
        .into_iter()
        .filter(|m| m.text == "Your order has shipped")
        .collect();
    assert_eq!(replies.len(), 1);
    let jobs = app
        .queue
        .receive(QueueName::Outbound, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        jobs.len(),
        1,
        "the queue drops the second job by its dedupe id"
    );

    let (other_status, other) = app
        .call(
            "POST",
            &path,
            Some(json!({"text": "A different reply", "client_id": "d-other"})),
        )
        .await;
    assert_eq!(other_status, StatusCode::CREATED, "{other}");
    assert_ne!(other["id"], first["id"]);
}

#[tokio::test]
async fn a_malformed_client_id_is_400_and_reuse_in_another_conversation_is_409() {
    let app = app().await;
    let a = app.conversation(ConversationStatus::Queued, None, 0).await;
    let b = app.conversation(ConversationStatus::Queued, None, 0).await;
    for bad in ["", "has space", "<script>", &"x".repeat(65)] {
        let (status, body) = app
            .call(
                "POST",
                &format!("/api/v1/conversations/{}/messages", a.id),
                Some(json!({"text": "hi", "client_id": bad})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("client_id")
        );
    }
    let reply = json!({"text": "hi", "client_id": "same-key"});
    let (status, _) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/messages", a.id),
            Some(reply.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/messages", b.id),
            Some(reply),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "client_id_reused");
}

/// The error code and status of an answer.
fn refusal(answer: &(StatusCode, Value)) -> (StatusCode, &str) {
    (answer.0, answer.1["error"]["code"].as_str().unwrap_or(""))
}

#[tokio::test]
async fn garbage_cursor_is_a_400_not_a_500() {
    let app = app().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    for list in [
        "/api/v1/conversations?status=bot&".to_owned(),
        format!("/api/v1/conversations/{}/messages?", c.id),
    ] {
        for garbage in ["__main__", "1704067200000.cv_1", "%F1%9C%BA%B1%7D", "00.x"] {
            let answer = app
                .call("GET", &format!("{list}cursor={garbage}"), None)
                .await;
            assert_eq!(
                refusal(&answer),
                (StatusCode::BAD_REQUEST, "invalid_cursor"),
                "{list} {garbage}: {}",
                answer.1
            );
            assert!(
                answer.1["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("cursor")
            );
        }
    }
}

#[tokio::test]
async fn a_cursor_of_another_list_or_a_forged_one_is_a_404_and_never_reaches_the_store() {
    let app = app().await;
    for i in 0..3 {
        app.conversation(ConversationStatus::Queued, None, i).await;
    }
    let (status, page) = app
        .call("GET", "/api/v1/conversations?status=queued&limit=1", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (status, next) = app
        .call(
            "GET",
            &format!("/api/v1/conversations?status=queued&limit=1&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(next["items"].as_array().unwrap().len(), 1);

    // The same cursor with another filter, and a well-formed one nobody issued.
    let (hex, seal) = cursor.split_once('.').unwrap();
    let forged = format!("{hex}00.{seal}");
    for path in [
        format!("/api/v1/conversations?status=bot&limit=1&cursor={cursor}"),
        format!("/api/v1/conversations?status=queued&limit=1&cursor={forged}"),
    ] {
        let answer = app.call("GET", &path, None).await;
        assert_eq!(
            refusal(&answer),
            (StatusCode::NOT_FOUND, "unknown_cursor"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_limit_of_any_size_is_clamped_and_only_digits_are_a_limit() {
    let app = app().await;
    app.conversation(ConversationStatus::Queued, None, 0).await;
    for limit in ["101", "99999999999999999999999999"] {
        let (status, page) = app
            .call("GET", &format!("/api/v1/conversations?limit={limit}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{limit}");
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
    }
    for limit in ["", "0", "-1", "1.5", "%2B5", "%205"] {
        let answer = app
            .call("GET", &format!("/api/v1/conversations?limit={limit}"), None)
            .await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{limit:?}");
    }
}

#[tokio::test]
async fn query_values_are_taken_as_they_are_not_trimmed_or_emptied() {
    let app = app().await;
    for query in [
        "status=",
        "status=%20queued",
        "assignee=",
        "assignee=me%20",
        "assignee=NaN",
    ] {
        let answer = app
            .call("GET", &format!("/api/v1/conversations?{query}"), None)
            .await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{query}");
    }
    let answer = app
        .call(
            "PUT",
            "/api/v1/agents/me/status",
            Some(json!({"status": " online"})),
        )
        .await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_body_must_be_an_object_with_known_fields_only() {
    let app = app().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let calls = [
        (
            "POST",
            "/api/v1/auth/login".to_owned(),
            json!(["ann@example.com", "correct-horse"]),
        ),
        (
            "PUT",
            "/api/v1/agents/me/status".to_owned(),
            json!(["online"]),
        ),
        (
            "PATCH",
            format!("/api/v1/contacts/{}", c.contact_id),
            json!([null, null]),
        ),
        (
            "POST",
            format!("/api/v1/conversations/{}/messages", c.id),
            json!(["hello"]),
        ),
        (
            "POST",
            format!("/api/v1/conversations/{}/assign", c.id),
            json!([null]),
        ),
        // A misspelt field is refused, not ignored (here it would have dropped the retry key).
        (
            "POST",
            format!("/api/v1/conversations/{}/messages", c.id),
            json!({"text": "hello", "clientId": "k1"}),
        ),
        (
            "POST",
            format!("/api/v1/conversations/{}/assign", c.id),
            json!({"agent": app.bob.id.to_string()}),
        ),
        (
            "PATCH",
            format!("/api/v1/contacts/{}", c.contact_id),
            json!({"tag": ["vip"]}),
        ),
    ];
    for (method, path, body) in calls {
        let answer = app.call(method, &path, Some(body.clone())).await;
        assert_eq!(
            refusal(&answer),
            (StatusCode::BAD_REQUEST, "invalid_input"),
            "{method} {path} {body}"
        );
    }
    assert_eq!(app.stored(&c).await.status, ConversationStatus::Queued);
    assert!(app.stored_messages(&c).await.is_empty());
}

#[tokio::test]
async fn a_tag_with_a_dotted_capital_i_is_stored_so_that_it_reads_back() {
    let app = app().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let path = format!("/api/v1/contacts/{}", c.contact_id);
    let (status, body) = app
        .call("PATCH", &path, Some(json!({"tags": ["İstanbul", "İ"]})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tags"], json!(["i", "istanbul"]));
    let stored = app.store.get_contact(c.contact_id).await.unwrap().unwrap();
    for tag in &stored.tags {
        assert_eq!(
            Tag::parse(tag.as_str()).as_ref(),
            Ok(tag),
            "a stored tag must parse back to itself"
        );
    }
}

#[tokio::test]
async fn tags_and_attribute_names_are_taken_as_given() {
    let app = app().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let path = format!("/api/v1/contacts/{}", c.contact_id);
    let long_name = format!("  {}", "n".repeat(64));
    for patch in [
        json!({"tags": [" vip"]}),
        json!({"attributes": {"\u{3000}": "blank name"}}),
        json!({"attributes": {long_name: "65 characters as given"}}),
    ] {
        let answer = app.call("PATCH", &path, Some(patch.clone())).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{patch}");
    }
    let (status, body) = app
        .call(
            "PATCH",
            &path,
            Some(json!({"tags": null, "attributes": {"\u{feff}": "not white space"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_reply_is_measured_before_its_white_space_is_trimmed() {
    let app = app().await;
    let c = app
        .conversation(ConversationStatus::Assigned, Some(app.ann.id), 0)
        .await;
    let path = format!("/api/v1/conversations/{}/messages", c.id);
    let text = format!(" {} ", "x".repeat(15_999));
    let answer = app.call("POST", &path, Some(json!({ "text": text }))).await;
    assert_eq!(answer.0, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .call(
            "POST",
            &path,
            Some(json!({"text": "  hello  ", "client_id": null})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["text"], "hello");
}

#[tokio::test]
async fn an_agent_merges_two_contacts_and_the_conversations_follow() {
    use omnidesk_core::{ContactStore, ConversationStore};
    let s = app().await;
    let now = omnidesk_core::Clock::now(s.clock.as_ref());
    let mut ids = Vec::new();
    for (n, identity) in [
        omnidesk_domain::Identity::WebVisitor {
            visitor_id: "v-merge-1".to_owned(),
        },
        omnidesk_domain::Identity::Email {
            address: omnidesk_domain::EmailAddress::parse("ann@example.com").unwrap(),
            verified: true,
        },
    ]
    .into_iter()
    .enumerate()
    {
        let contact = omnidesk_domain::Contact::new(
            omnidesk_core::IdGen::contact_id(&omnidesk_core::UuidV7Ids),
            format!("Contact {n}"),
            identity,
            now,
        );
        s.store.create_contact(&contact).await.unwrap();
        let conv = omnidesk_domain::Conversation::new(
            omnidesk_core::IdGen::conversation_id(&omnidesk_core::UuidV7Ids),
            omnidesk_domain::ConversationKey::parse(&format!("test:merge-{n}")).unwrap(),
            contact.id,
            omnidesk_domain::Channel::Web,
            now,
        );
        s.store.create_conversation(&conv).await.unwrap();
        ids.push((contact.id, conv.id));
    }
    let (into, _) = ids[0];
    let (from, moved) = ids[1];
    let (status, body) = s
        .call(
            "POST",
            &format!("/api/v1/contacts/{into}/merge"),
            Some(serde_json::json!({"from": from.to_string()})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["identities"].as_array().unwrap().len(), 2, "{body}");
    let conv = s.store.get_conversation(moved).await.unwrap().unwrap();
    assert_eq!(conv.contact_id, into, "the conversation follows");
    let old = s.store.get_contact(from).await.unwrap().unwrap();
    assert_eq!(old.merged_into, Some(into));
    // Again, into itself, or unknown: clear refusals.
    for (target, src, expected, code) in [
        (into, from, StatusCode::CONFLICT, "already_merged"),
        (into, into, StatusCode::CONFLICT, "same_contact"),
    ] {
        let (status, body) = s
            .call(
                "POST",
                &format!("/api/v1/contacts/{target}/merge"),
                Some(serde_json::json!({"from": src.to_string()})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (expected, Some(code)),
            "{body}"
        );
    }
    let (status, _) = s
        .call(
            "POST",
            &format!("/api/v1/contacts/{into}/merge"),
            Some(serde_json::json!({"from": "ct_0190a1b2c3d47e8f9a0b1c2d3e4f5a6b"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// Files

/// One part of a `multipart/form-data` body: a field, or a file with a name and a type.
enum Part<'a> {
    Field(&'a str, &'a str),
    File(&'a str, &'a str, &'a [u8]),
}

const BOUNDARY: &str = "omnidesk-test-boundary-7MA4YWxkTrZu0gW";

fn form(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match p {
            Part::Field(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}")
                        .as_bytes(),
                );
            }
            Part::File(name, mime, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                         Content-Type: {mime}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

impl App {
    async fn post_form(&self, c: &Conversation, parts: &[Part<'_>]) -> (StatusCode, Value) {
        let req = Request::builder()
            .method("POST")
            .uri(format!("/api/v1/conversations/{}/messages", c.id))
            .header("authorization", format!("Bearer {}", self.token))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(form(parts)))
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 22)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n fake png";

#[tokio::test]
async fn a_reply_with_files_stores_the_bytes_queues_the_message_and_lists_signed_links() {
    let app = app().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let (status, body) = app
        .post_form(
            &c,
            &[
                Part::Field("text", " Here is the label "),
                Part::File("../label.png", "image/png", PNG),
                Part::File("invoice.pdf", "application/octet-stream", b"%PDF-1.7"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["text"], "Here is the label");
    let a = &body["attachments"];
    assert_eq!(a[0]["kind"], "image");
    assert_eq!(a[0]["file_name"], "label.png");
    assert_eq!(a[0]["mime_type"], "image/png");
    assert_eq!(a[0]["size_bytes"], PNG.len());
    assert!(
        a[0]["url"].as_str().unwrap().starts_with("memory://"),
        "{a}"
    );
    assert_eq!(a[1]["kind"], "file");
    assert_eq!(
        a[1]["mime_type"], "application/pdf",
        "guessed from the name"
    );
    assert_eq!(app.blobs.len(), 2);

    let stored = app.stored_messages(&c).await;
    let reply = stored
        .iter()
        .find(|m| m.id.to_string() == body["id"])
        .unwrap();
    assert_eq!(reply.attachments.len(), 2);
    assert!(
        reply.attachments.iter().all(|a| a.url.is_none()),
        "links are never stored"
    );
    use omnidesk_core::BlobStore;
    let blob = app
        .blobs
        .get(reply.attachments[0].blob.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(blob.bytes, PNG);
    let jobs = app
        .queue
        .receive(QueueName::Outbound, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    let job: OutboundJob = serde_json::from_str(&jobs[0].body).unwrap();
    assert_eq!(job.message_id, reply.id);

    let (status, page) = app
        .call(
            "GET",
            &format!("/api/v1/conversations/{}/messages", c.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == body["id"])
        .unwrap();
    let url = listed["attachments"][0]["url"].as_str().unwrap();
    assert!(url.contains("name=label.png"), "{url}");
    let expires: i64 = url
        .split("expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        expires,
        T0 / 1000 + 1800,
        "valid for the default 30 minutes"
    );
}

#[tokio::test]
async fn files_alone_make_a_reply_and_a_retry_with_its_client_id_is_not_stored_twice() {
    let app = app().await;
    let c = app
        .conversation(ConversationStatus::Assigned, Some(app.ann.id), 0)
        .await;
    let parts = [
        Part::Field("client_id", "upload-1"),
        Part::File("photo.jpg", "image/jpeg", PNG),
    ];
    let (status, first) = app.post_form(&c, &parts).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["text"], "");
    let (status, again) = app.post_form(&c, &parts).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert!(again["attachments"][0]["url"].is_string());
    assert_eq!(app.blobs.len(), 1, "the same bytes are one blob");
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_with_413_naming_it_and_nothing_is_sent() {
    let app = app().await;
    let c = app
        .conversation(ConversationStatus::Assigned, Some(app.ann.id), 0)
        .await;
    let big = vec![0u8; 1024 * 1024 + 1];
    let (status, body) = app
        .post_form(
            &c,
            &[
                Part::Field("text", "big"),
                Part::File("scan.tiff", "image/tiff", &big),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "file_too_large");
    assert_eq!(
        body["error"]["message"],
        "scan.tiff is larger than 1 MB, the limit for files sent on Website"
    );
    assert_eq!(app.queue.len(QueueName::Outbound), 0);
    assert!(app.stored_messages(&c).await.is_empty());
}

#[tokio::test]
async fn empty_files_empty_forms_and_too_many_files_are_refused_clearly() {
    let app = app().await;
    let c = app
        .conversation(ConversationStatus::Assigned, Some(app.ann.id), 0)
        .await;

    let (status, body) = app
        .post_form(
            &c,
            &[
                Part::Field("text", "x"),
                Part::File("empty.txt", "text/plain", b""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["error"]["code"], "empty_file");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("empty.txt")
    );

    let (status, body) = app.post_form(&c, &[Part::Field("text", "  ")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input");

    let names: Vec<String> = (0..11).map(|i| format!("f{i}.png")).collect();
    let parts: Vec<Part<'_>> = names
        .iter()
        .map(|n| Part::File(n, "image/png", PNG))
        .collect();
    let (status, body) = app.post_form(&c, &parts).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "too_many_files");

    let (status, body) = app.post_form(&c, &[Part::Field("comment", "hi")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A `file` part without a file name is a form field, not a file.
    let (status, body) = app.post_form(&c, &[Part::Field("file", "{}")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("file name")
    );

    // A multipart type without a boundary.
    let req = Request::builder()
        .method("POST")
        .uri(format!("/api/v1/conversations/{}/messages", c.id))
        .header("authorization", format!("Bearer {}", app.token))
        .header("content-type", "multipart/form-data")
        .body(Body::from("text=hi"))
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert_eq!(app.queue.len(QueueName::Outbound), 0);
    assert!(app.stored_messages(&c).await.is_empty());
}

#[tokio::test]
async fn a_json_reply_larger_than_two_megabytes_is_refused_with_413() {
    let app = app().await;
    let c = app
        .conversation(ConversationStatus::Assigned, Some(app.ann.id), 0)
        .await;
    let text = "x".repeat(3 * 1024 * 1024);
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/messages", c.id),
            Some(json!({ "text": text })),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
}

#[tokio::test]
async fn an_html_upload_is_a_file_whose_link_downloads_it() {
    let dir = std::env::temp_dir().join(format!("omnidesk-api-blobs-{}", uuid_like()));
    let folder = Arc::new(omnidesk_local::FolderBlobStore::open(&dir, b"key").unwrap());
    let app = app_with(|deps, _| deps.blobs = folder.clone()).await;
    let c = app
        .conversation(ConversationStatus::Assigned, Some(app.ann.id), 0)
        .await;
    let (status, body) = app
        .post_form(
            &c,
            &[Part::File(
                "page.html",
                "text/html",
                b"<script>alert(1)</script>",
            )],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let a = &body["attachments"][0];
    assert_eq!(a["kind"], "file");
    assert_eq!(a["mime_type"], "text/html");
    let url = a["url"].as_str().unwrap();
    assert!(url.starts_with("/files/"), "{url}");
    assert!(url.contains("type=text%2Fhtml"), "{url}");
    assert!(url.contains("name=page.html"), "{url}");
    assert!(
        omnidesk_core::content_disposition(Some("page.html"), "text/html")
            .starts_with("attachment;")
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn the_limits_say_per_channel_how_large_a_file_may_be() {
    let app = app().await;
    let (status, body) = app.call("GET", "/api/v1/limits", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["max_files"], 10);
    assert_eq!(body["channels"]["telegram"]["max_file_bytes"], 1024 * 1024);
    assert_eq!(
        body["channels"]["telegram"]["photo_max_bytes"],
        10 * 1024 * 1024
    );
    assert_eq!(body["channels"]["web"]["max_file_bytes"], 1024 * 1024);
    let (status, _) = app.call_as(None, "GET", "/api/v1/limits", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

// Canned responses, notes and mentions, labels, priority, snooze, read, teams, reports.

#[tokio::test]
async fn canned_responses_are_listed_by_shortcut_replaced_and_deleted() {
    let app = app().await;
    let (status, body) = app.call("GET", "/api/v1/canned", None).await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));

    let (status, saved) = app
        .call(
            "PUT",
            "/api/v1/canned/Thanks",
            Some(json!({"text": "  Thank you, {customer_name}!  "})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["shortcut"], "thanks", "stored lower-case");
    assert_eq!(
        saved["text"], "Thank you, {customer_name}!",
        "placeholders raw"
    );
    assert_eq!(saved["updated_by"], app.ann.id.to_string());
    assert_eq!(saved["updated_at"], "2024-01-01T00:00:00.000Z");
    app.call(
        "PUT",
        "/api/v1/canned/hello",
        Some(json!({"text": "Hi, I am {agent_name}."})),
    )
    .await;
    let (_, replaced) = app
        .call(
            "PUT",
            "/api/v1/canned/thanks",
            Some(json!({"text": "Thanks!"})),
        )
        .await;
    assert_eq!(replaced["text"], "Thanks!");

    let (status, list) = app.call("GET", "/api/v1/canned", None).await;
    assert_eq!(status, StatusCode::OK);
    let shortcuts: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["shortcut"].as_str().unwrap())
        .collect();
    assert_eq!(shortcuts, vec!["hello", "thanks"]);
    assert_eq!(list[1]["text"], "Thanks!");

    let (status, body) = app.call("DELETE", "/api/v1/canned/THANKS", None).await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, body) = app.call("DELETE", "/api/v1/canned/thanks", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (_, list) = app.call("GET", "/api/v1/canned", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_canned_response_needs_a_valid_shortcut_and_a_text_of_1_to_4000_characters() {
    let app = app().await;
    let too_long_shortcut = format!("/api/v1/canned/{}", "a".repeat(33));
    for (path, body, code) in [
        (
            "/api/v1/canned/has%20space",
            json!({"text": "x"}),
            "invalid_shortcut",
        ),
        (
            "/api/v1/canned/caf%C3%A9",
            json!({"text": "x"}),
            "invalid_shortcut",
        ),
        (
            too_long_shortcut.as_str(),
            json!({"text": "x"}),
            "invalid_shortcut",
        ),
        (
            "/api/v1/canned/ok",
            json!({"text": " \n\t "}),
            "invalid_text",
        ),
        ("/api/v1/canned/ok", json!({"text": ""}), "invalid_text"),
        (
            "/api/v1/canned/ok",
            json!({"text": "é".repeat(4001)}),
            "invalid_text",
        ),
        (
            "/api/v1/canned/ok",
            json!({"text": "x", "shortcut": "other"}),
            "invalid_input",
        ),
        ("/api/v1/canned/ok", json!({}), "invalid_input"),
    ] {
        let (status, answer) = app.call("PUT", path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{path} {body}");
    }
    let (status, _) = app
        .call(
            "PUT",
            &format!("/api/v1/canned/{}", "a".repeat(32)),
            Some(json!({"text": "é".repeat(4000)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "the limits themselves are allowed");
    let (status, answer) = app.call("DELETE", "/api/v1/canned/no!", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "invalid_shortcut");
}

#[tokio::test]
async fn a_note_is_stored_internal_and_notifies_only_the_agents_it_mentions() {
    let app = app().await;
    let carl = create_agent(
        &app.deps,
        "carl.j@example.com",
        "Carl Jung",
        "zebra-lantern-42",
    )
    .await
    .unwrap();
    let ann_conn = app.listen().await;
    let bob_conn = app.listen_as(app.bob.id, "conn-bob").await;
    let carl_conn = app.listen_as(carl.id, "conn-carl").await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;

    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/notes", c.id),
            Some(json!({"text": " @BOB, can you refund? cc @ann @nobody ann@example.com "})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["mentioned"], json!([app.bob.id.to_string()]));
    let note = &body["message"];
    assert_eq!(note["internal"], true);
    assert_eq!(
        note["text"],
        "@BOB, can you refund? cc @ann @nobody ann@example.com"
    );
    assert_eq!(
        note["author"],
        json!({"kind": "agent", "id": app.ann.id.to_string()})
    );
    assert_eq!(note["direction"], "outbound");
    assert_eq!(note["channel"], "web");

    let stored = app.stored_messages(&c).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].internal);
    assert_eq!(stored[0].id.to_string(), note["id"]);
    assert_eq!(
        stored[0].delivery.status,
        DeliveryStatus::Sent,
        "nothing to send"
    );
    assert!(
        app.queue.is_empty(QueueName::Outbound),
        "never queued for the sender"
    );

    // Every agent sees the note; only Bob is notified.
    for conn in [&ann_conn, &bob_conn, &carl_conn] {
        let events = app.events(conn);
        assert_eq!(events[0]["type"], "message.created", "{conn:?}");
        assert_eq!(events[0]["message"]["id"], note["id"]);
    }
    let notified = |conn: &ConnectionId| {
        app.events(conn)
            .into_iter()
            .filter(|e| e["type"] == "notification")
            .collect::<Vec<_>>()
    };
    assert!(notified(&ann_conn).is_empty(), "never the author");
    assert!(notified(&carl_conn).is_empty(), "not mentioned");
    let to_bob = notified(&bob_conn);
    assert_eq!(to_bob.len(), 1);
    let n = &to_bob[0]["notification"];
    assert_eq!(n["kind"], "mention");
    assert_eq!(n["conversation_id"], c.id.to_string());
    assert_eq!(n["message_id"], note["id"]);
    assert_eq!(n["by"], app.ann.id.to_string());
    assert_eq!(n["by_name"], "Ann");
    assert_eq!(n["text"], note["text"]);
    assert_eq!(n["at"], note["created_at"]);
    assert!(
        uuid::Uuid::parse_str(n["id"].as_str().unwrap()).is_ok(),
        "{n}"
    );

    // A first name and an e-mail local part, with punctuation after them.
    let (_, body) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/notes", c.id),
            Some(json!({"text": "@carl.j. and @Bob!"})),
        )
        .await;
    assert_eq!(
        body["mentioned"],
        json!([carl.id.to_string(), app.bob.id.to_string()])
    );
}

#[tokio::test]
async fn a_note_is_not_a_first_response_and_leaves_the_unread_count_and_assignment() {
    let app = app().await;
    let c = app
        .conversation_with(ConversationStatus::Queued, None, 0, |c| c.unread_count = 3)
        .await;
    let path = format!("/api/v1/conversations/{}/notes", c.id);
    let (status, _) = app
        .call("POST", &path, Some(json!({"text": "Looks like spam"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let stored = app.stored(&c).await;
    assert_eq!(stored.unread_count, 3);
    assert_eq!(stored.first_response_at, None);
    assert_eq!(stored.last_reply_at, None);
    assert_eq!(stored.status, ConversationStatus::Queued);
    assert_eq!(stored.assignee_id, None);

    for (body, code) in [
        (json!({"text": "   "}), StatusCode::BAD_REQUEST),
        (json!({"text": "x".repeat(16_001)}), StatusCode::BAD_REQUEST),
        (json!({"note": "x"}), StatusCode::BAD_REQUEST),
    ] {
        let (status, answer) = app.call("POST", &path, Some(body)).await;
        assert_eq!(status, code, "{answer}");
    }
    let ghost = app.ids.conversation_id();
    let (status, _) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{ghost}/notes"),
            Some(json!({"text": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .call(
            "POST",
            "/api/v1/conversations/nope/notes",
            Some(json!({"text": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn labels_and_priority_are_validated_stored_and_pushed() {
    let app = app().await;
    let conn = app.listen().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let labels = format!("/api/v1/conversations/{}/labels", c.id);
    let priority = format!("/api/v1/conversations/{}/priority", c.id);

    let (status, view) = app
        .call(
            "PUT",
            &labels,
            Some(json!({"labels": ["Refund", "bug", "bug", "tier:gold"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["labels"], json!(["bug", "refund", "tier:gold"]));
    let stored = app.stored(&c).await;
    assert_eq!(
        stored.labels.iter().map(Tag::as_str).collect::<Vec<_>>(),
        vec!["bug", "refund", "tier:gold"]
    );
    let frames = app.pushed(&conn);
    assert_eq!(types(&frames), vec!["conversation.updated"]);
    assert_eq!(frames[0]["conversation"]["labels"], view["labels"]);

    // The same labels again change nothing and push nothing.
    let (status, _) = app
        .call(
            "PUT",
            &labels,
            Some(json!({"labels": ["bug", "refund", "tier:gold"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.pushed(&conn).len(), 1);

    let too_many: Vec<String> = (0..21).map(|n| format!("l{n}")).collect();
    for body in [
        json!({"labels": ["has space"]}),
        json!({"labels": [" bug"]}),
        json!({"labels": ["x".repeat(33)]}),
        json!({"labels": too_many}),
        json!({"labels": "bug"}),
    ] {
        let (status, answer) = app.call("PUT", &labels, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }

    let (status, view) = app
        .call("PUT", &priority, Some(json!({"priority": "urgent"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["priority"], "urgent");
    assert_eq!(
        app.stored(&c).await.priority,
        omnidesk_domain::Priority::Urgent
    );
    let frames = app.pushed(&conn);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1]["conversation"]["priority"], "urgent");
    let (_, view) = app
        .call("PUT", &priority, Some(json!({"priority": "normal"})))
        .await;
    assert!(
        view.get("priority").is_none(),
        "normal is the default: {view}"
    );
    for bad in ["URGENT", " high", "asap"] {
        let (status, _) = app
            .call("PUT", &priority, Some(json!({ "priority": bad })))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let ghost = app.ids.conversation_id();
    let (status, _) = app
        .call(
            "PUT",
            &format!("/api/v1/conversations/{ghost}/priority"),
            Some(json!({"priority": "high"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn snooze_schedules_its_wake_up_timer_and_unsnooze_clears_it() {
    let app = app().await;
    let conn = app.listen().await;
    let c = app
        .conversation(ConversationStatus::Assigned, Some(app.ann.id), 0)
        .await;
    let path = format!("/api/v1/conversations/{}/snooze", c.id);
    let until = T0 + 10 * 60 * 1000;

    let (status, view) = app
        .call("POST", &path, Some(json!({ "until": until })))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["snoozed_until"], "2024-01-01T00:10:00.000Z");
    assert_eq!(
        app.stored(&c).await.snoozed_until,
        Some(Timestamp::from_millis(until))
    );
    let frames = app.pushed(&conn);
    assert_eq!(types(&frames), vec!["conversation.updated"]);
    assert_eq!(
        frames[0]["conversation"]["snoozed_until"],
        view["snoozed_until"]
    );

    // One timer, delivered at `until` and not before.
    let timers = app.queue.pending(QueueName::Timers);
    assert_eq!(timers.len(), 1);
    let timer: TimerJob = serde_json::from_str(&timers[0]).unwrap();
    assert_eq!(
        timer,
        TimerJob::Unsnooze {
            conversation_id: c.id,
            until: Timestamp::from_millis(until)
        }
    );
    let visible = |app: &App| {
        let queue = app.queue.clone();
        async move {
            queue
                .receive(QueueName::Timers, 10, Duration::from_secs(30))
                .await
                .unwrap()
                .len()
        }
    };
    app.clock.advance(Duration::from_secs(599));
    assert_eq!(visible(&app).await, 0);
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(visible(&app).await, 1);

    // An RFC 3339 time is taken too.
    let (status, view) = app
        .call(
            "POST",
            &path,
            Some(json!({"until": "2024-01-01T01:20:00+01:00"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["snoozed_until"], "2024-01-01T00:20:00.000Z");

    let (status, view) = app.call("DELETE", &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(view.get("snoozed_until").is_none(), "{view}");
    assert_eq!(app.stored(&c).await.snoozed_until, None);
    let frames = app.pushed(&conn);
    assert_eq!(frames.len(), 3);
    assert!(frames[2]["conversation"].get("snoozed_until").is_none());
    // Not snoozed: nothing to change, nothing pushed.
    let (status, _) = app.call("DELETE", &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.pushed(&conn).len(), 3);
}

#[tokio::test]
async fn a_snooze_longer_than_the_queues_longest_delay_sends_a_rearm_timer() {
    let app = app().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let until = Timestamp::from_millis(T0 + 3 * 24 * 3600 * 1000);
    let (status, _) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/snooze", c.id),
            Some(json!({ "until": until.millis() })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let timers = app.queue.pending(QueueName::Timers);
    assert_eq!(timers.len(), 1);
    let timer: TimerJob = serde_json::from_str(&timers[0]).unwrap();
    assert_eq!(
        timer,
        TimerJob::Rearm {
            due: until,
            job: Box::new(TimerJob::Unsnooze {
                conversation_id: c.id,
                until
            })
        }
    );
    // Delayed by SQS's maximum, 15 minutes.
    app.clock.advance(Duration::from_secs(899));
    let early = app
        .queue
        .receive(QueueName::Timers, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(early.is_empty());
    app.clock.advance(Duration::from_secs(1));
    let due = app
        .queue
        .receive(QueueName::Timers, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
}

#[tokio::test]
async fn a_snooze_must_be_ahead_within_90_days_and_of_an_open_conversation() {
    let app = app().await;
    let conn = app.listen().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let path = format!("/api/v1/conversations/{}/snooze", c.id);
    let day = 24 * 3600 * 1000;
    for until in [json!(T0), json!(T0 - 1), json!(T0 + 90 * day + 1)] {
        let (status, body) = app
            .call("POST", &path, Some(json!({ "until": until })))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{until}: {body}");
        assert_eq!(body["error"]["code"], "invalid_until");
    }
    for body in [
        json!({"until": "tomorrow"}),
        json!({"until": 1.5}),
        json!({"until": null}),
        json!({}),
    ] {
        let (status, answer) = app.call("POST", &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }
    let (status, _) = app
        .call("POST", &path, Some(json!({ "until": T0 + 90 * day })))
        .await;
    assert_eq!(status, StatusCode::OK, "90 days is allowed");
    // A whole number written with a fraction is a whole number (as JSON Schema has it).
    let (status, view) = app
        .call("POST", &path, Some(json!({ "until": (T0 + day) as f64 })))
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["snoozed_until"], "2024-01-02T00:00:00.000Z");

    let resolved = app
        .conversation(ConversationStatus::Resolved, None, 0)
        .await;
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/snooze", resolved.id),
            Some(json!({ "until": T0 + day })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "invalid_transition");
    assert_eq!(app.stored(&resolved).await.snoozed_until, None);

    let ghost = app.ids.conversation_id();
    let (status, _) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{ghost}/snooze"),
            Some(json!({ "until": T0 })),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a missing conversation first"
    );
    assert_eq!(
        app.queue.len(QueueName::Timers),
        2,
        "only the accepted snoozes have a timer"
    );
    assert_eq!(app.pushed(&conn).len(), 2);
}

#[tokio::test]
async fn a_snooze_whose_timer_cannot_be_queued_changes_nothing_and_answers_503() {
    let app = app_with(|deps, _| deps.queue = Arc::new(FailingQueue)).await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let (status, body) = app
        .call(
            "POST",
            &format!("/api/v1/conversations/{}/snooze", c.id),
            Some(json!({ "until": T0 + 60_000 })),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "queue_unavailable");
    assert_eq!(app.stored(&c).await.snoozed_until, None);
}

#[tokio::test]
async fn read_sets_the_unread_count_to_zero_and_pushes_the_change() {
    let app = app().await;
    let conn = app.listen().await;
    let c = app
        .conversation_with(ConversationStatus::Queued, None, 0, |c| c.unread_count = 4)
        .await;
    let path = format!("/api/v1/conversations/{}/read", c.id);
    let (status, view) = app.call("POST", &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["unread_count"], 0);
    assert_eq!(app.stored(&c).await.unread_count, 0);
    let frames = app.pushed(&conn);
    assert_eq!(types(&frames), vec!["conversation.updated"]);
    assert_eq!(frames[0]["conversation"]["unread_count"], 0);
    let (status, _) = app.call("POST", &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.pushed(&conn).len(), 1, "already read: nothing pushed");
    let (status, _) = app
        .call("POST", "/api/v1/conversations/cv_nope/read", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_label_change_that_meets_a_concurrent_change_is_reapplied() {
    let app = app_with(|deps, store| {
        deps.conversations = Arc::new(RacingConversations {
            inner: store.clone(),
            races: std::sync::atomic::AtomicU32::new(2),
        });
    })
    .await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    let (status, _) = app
        .call(
            "PUT",
            &format!("/api/v1/conversations/{}/labels", c.id),
            Some(json!({"labels": ["vip"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let stored = app.stored(&c).await;
    assert_eq!(stored.labels.len(), 1);
    assert_eq!(stored.unread_count, 2, "the concurrent changes are kept");
}

#[tokio::test]
async fn teams_are_listed_by_name_with_their_agents() {
    let app = app().await;
    let now = Timestamp::from_millis(T0);
    let mut support = Team::new(TeamName::parse("support").unwrap(), now);
    support.hours = "mon-fri 09:00-18:00".to_owned();
    support.timezone = "Europe/Berlin".to_owned();
    support.holidays = vec!["2024-12-25".to_owned()];
    support.busy_prompt = Some("All agents are busy.".to_owned());
    app.store.put_team(&support).await.unwrap();
    app.store
        .put_team(&Team::new(TeamName::parse("billing").unwrap(), now))
        .await
        .unwrap();
    let mut ann = app.ann.clone();
    ann.teams = ["Support".to_owned()].into();
    app.store.update_agent(&ann).await.unwrap();
    let mut bob = app.bob.clone();
    bob.teams = ["support".to_owned(), "billing".to_owned()].into();
    app.store.update_agent(&bob).await.unwrap();

    let (status, teams) = app.call("GET", "/api/v1/teams", None).await;
    assert_eq!(status, StatusCode::OK, "{teams}");
    let teams = teams.as_array().unwrap();
    assert_eq!(teams.len(), 2);
    assert_eq!(teams[0]["name"], "billing");
    assert_eq!(teams[0]["agents"], json!([app.bob.id.to_string()]));
    assert_eq!(teams[0]["holidays"], json!([]));
    assert_eq!(teams[0]["timezone"], "UTC");
    let s = &teams[1];
    assert_eq!(s["name"], "support");
    assert_eq!(s["hours"], "mon-fri 09:00-18:00");
    assert_eq!(s["timezone"], "Europe/Berlin");
    assert_eq!(s["holidays"], json!(["2024-12-25"]));
    assert_eq!(s["answer_within_secs"], Team::ANSWER_WITHIN_SECS);
    assert_eq!(s["max_hops"], Team::MAX_HOPS);
    assert_eq!(s["busy_prompt"], "All agents are busy.");
    assert!(s.get("out_of_office").is_none());
    // Open or not by its hours at the test clock's time, with the next opening when closed.
    let schedule = omnidesk_rules::hours::Schedule::parse(
        "mon-fri 09:00-18:00",
        "Europe/Berlin",
        &["2024-12-25".to_owned()],
    )
    .unwrap();
    let now = omnidesk_core::Clock::now(app.clock.as_ref());
    assert_eq!(s["open_now"], schedule.is_open(now));
    assert_eq!(
        s.get("next_open").is_some_and(|n| !n.is_null()),
        !schedule.is_open(now)
    );
    let mut members: Vec<&str> = s["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    members.sort_unstable();
    let mut expected = vec![app.ann.id.to_string(), app.bob.id.to_string()];
    expected.sort_unstable();
    assert_eq!(members, expected);
}

const HOUR: i64 = 3600 * 1000;

/// Four conversations created on 2024-01-01 (UTC) and two outside it:
/// - Ann, support, Telegram, en-GB: answered after 61.25 s, resolved after 600 s, rated 5;
/// - Ann, support, web, en: answered after 120 s, open;
/// - Bob, billing, web, ru: answered after 30 s, resolved after 300 s, rated 3;
/// - nobody, no team, e-mail, no language: waiting.
async fn seed_report(app: &App) -> Vec<Conversation> {
    let at = |ms: i64| Timestamp::from_millis(T0 + ms);
    let ann = app.ann.id;
    let bob = app.bob.id;
    let mut out = Vec::new();
    out.push(
        app.conversation_with(
            ConversationStatus::Resolved,
            Some(ann),
            HOUR + 600_000,
            |c| {
                c.created_at = at(HOUR);
                c.team = Some("support".to_owned());
                c.channel = Channel::Telegram;
                c.language = Some(omnidesk_domain::LanguageTag::parse("en-GB").unwrap());
                c.first_response_at = Some(at(HOUR + 61_250));
                c.resolved_at = Some(at(HOUR + 600_000));
                c.csat = Some(omnidesk_domain::Csat {
                    score: 5,
                    comment: None,
                    at: at(HOUR + 700_000),
                });
            },
        )
        .await,
    );
    out.push(
        app.conversation_with(
            ConversationStatus::Assigned,
            Some(ann),
            2 * HOUR + 120_000,
            |c| {
                c.created_at = at(2 * HOUR);
                c.team = Some("support".to_owned());
                c.language = Some(omnidesk_domain::LanguageTag::parse("en").unwrap());
                c.first_response_at = Some(at(2 * HOUR + 120_000));
            },
        )
        .await,
    );
    out.push(
        app.conversation_with(
            ConversationStatus::Resolved,
            Some(bob),
            3 * HOUR + 300_000,
            |c| {
                c.created_at = at(3 * HOUR);
                c.team = Some("billing".to_owned());
                c.language = Some(omnidesk_domain::LanguageTag::parse("ru").unwrap());
                c.first_response_at = Some(at(3 * HOUR + 30_000));
                c.resolved_at = Some(at(3 * HOUR + 300_000));
                c.csat = Some(omnidesk_domain::Csat {
                    score: 3,
                    comment: Some("slow".to_owned()),
                    at: at(3 * HOUR + 400_000),
                });
            },
        )
        .await,
    );
    out.push(
        app.conversation_with(ConversationStatus::Queued, None, 4 * HOUR, |c| {
            c.created_at = at(4 * HOUR);
            c.channel = Channel::Email;
        })
        .await,
    );
    // Outside the day: created an hour before it (active in it), and the day after.
    app.conversation_with(ConversationStatus::Assigned, Some(ann), HOUR, |c| {
        c.created_at = at(-HOUR);
        c.first_response_at = Some(at(-HOUR + 1000));
    })
    .await;
    app.conversation_with(ConversationStatus::Queued, None, 25 * HOUR, |c| {
        c.created_at = at(25 * HOUR);
    })
    .await;
    out
}

fn keys_and_counts(report: &Value) -> Vec<(String, u64)> {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_owned(),
                g["conversations"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_report_counts_and_times_the_conversations_of_the_range_per_group() {
    let app = app().await;
    let seeded = seed_report(&app).await;
    let day = "from=2024-01-01&to=2024-01-01";

    let (status, report) = app
        .call(
            "GET",
            &format!("/api/v1/reports/summary?{day}&group_by=agent"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["from"], "2024-01-01T00:00:00.000Z");
    assert_eq!(report["to"], "2024-01-02T00:00:00.000Z");
    assert_eq!(report["group_by"], "agent");
    assert_eq!(
        report["totals"],
        json!({
            "key": "total", "label": "total", "conversations": 4, "resolved": 2,
            "first_response_avg_secs": 70.4, "first_response_p50_secs": 61.3,
            "resolution_avg_secs": 450.0, "resolution_p50_secs": 450.0,
            "csat_avg": 4.0, "csat_count": 2
        })
    );
    assert_eq!(
        report["groups"],
        json!([
            {
                "key": app.ann.id.to_string(), "label": "Ann", "conversations": 2, "resolved": 1,
                "first_response_avg_secs": 90.6, "first_response_p50_secs": 90.6,
                "resolution_avg_secs": 600.0, "resolution_p50_secs": 600.0,
                "csat_avg": 5.0, "csat_count": 1
            },
            {
                "key": app.bob.id.to_string(), "label": "Bob", "conversations": 1, "resolved": 1,
                "first_response_avg_secs": 30.0, "first_response_p50_secs": 30.0,
                "resolution_avg_secs": 300.0, "resolution_p50_secs": 300.0,
                "csat_avg": 3.0, "csat_count": 1
            },
            {
                "key": "unassigned", "label": "unassigned", "conversations": 1, "resolved": 0,
                "first_response_avg_secs": null, "first_response_p50_secs": null,
                "resolution_avg_secs": null, "resolution_p50_secs": null,
                "csat_avg": null, "csat_count": 0
            }
        ])
    );

    let by = |group_by: &'static str| {
        let app = &app;
        async move {
            let (status, report) = app
                .call(
                    "GET",
                    &format!("/api/v1/reports/summary?{day}&group_by={group_by}"),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{report}");
            report
        }
    };
    let team = by("team").await;
    assert_eq!(
        keys_and_counts(&team),
        vec![
            ("support".to_owned(), 2),
            ("billing".to_owned(), 1),
            ("none".to_owned(), 1)
        ]
    );
    assert_eq!(team["groups"][0]["first_response_avg_secs"], 90.6);
    assert_eq!(team["totals"]["conversations"], 4);
    assert_eq!(
        keys_and_counts(&by("channel").await),
        vec![
            ("web".to_owned(), 2),
            ("email".to_owned(), 1),
            ("telegram".to_owned(), 1)
        ]
    );
    assert_eq!(
        keys_and_counts(&by("language").await),
        vec![
            ("en".to_owned(), 2),
            ("ru".to_owned(), 1),
            ("unknown".to_owned(), 1)
        ]
    );

    // The bucket split follows the contacts' stable buckets.
    for rollout in [0u8, 50, 100] {
        let (status, report) = app
            .call(
                "GET",
                &format!("/api/v1/reports/summary?{day}&group_by=bucket&rollout={rollout}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["rollout"], rollout);
        let inside = seeded
            .iter()
            .filter(|c| rollout_bucket(c.contact_id) < rollout)
            .count() as u64;
        let mut expected = vec![("in".to_owned(), inside), ("out".to_owned(), 4 - inside)];
        expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        assert_eq!(keys_and_counts(&report), expected, "rollout {rollout}");
    }
    let (_, report) = app
        .call(
            "GET",
            &format!("/api/v1/reports/summary?{day}&group_by=bucket"),
            None,
        )
        .await;
    assert_eq!(report["rollout"], 10, "the default rollout");

    // Milliseconds work as bounds; the default range is the 7 days before now.
    let (_, report) = app
        .call(
            "GET",
            &format!(
                "/api/v1/reports/summary?from={}&to={}&group_by=channel",
                T0 + 2 * HOUR,
                T0 + 3 * HOUR + 1
            ),
            None,
        )
        .await;
    assert_eq!(report["totals"]["conversations"], 2);
    app.clock.set(Timestamp::from_millis(T0 + 48 * HOUR));
    let token = app.deps.auth.issue(app.ann.id).unwrap().token;
    let (_, report) = app
        .call_as(
            Some(&token),
            "GET",
            "/api/v1/reports/summary?group_by=team",
            None,
        )
        .await;
    assert_eq!(report["from"], "2023-12-27T00:00:00.000Z");
    assert_eq!(report["to"], "2024-01-03T00:00:00.000Z");
    assert_eq!(report["totals"]["conversations"], 6);
}

#[tokio::test]
async fn the_report_as_csv_is_a_header_a_row_per_group_and_the_total() {
    let app = app().await;
    seed_report(&app).await;
    let mut bob = app.bob.clone();
    bob.name = "Bob \"B.\" Smith, Jr".to_owned();
    app.store.update_agent(&bob).await.unwrap();

    let (status, headers, body) = app
        .get_text("/api/v1/reports/summary?from=2024-01-01&to=2024-01-01&group_by=agent&format=csv")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"report-2024-01-01-2024-01-01-agent.csv\""
    );
    assert_eq!(
        body,
        format!(
            "key,label,conversations,resolved,first_response_avg_secs,first_response_p50_secs,resolution_avg_secs,resolution_p50_secs,csat_avg,csat_count\r\n\
             {ann},Ann,2,1,90.6,90.6,600.0,600.0,5.00,1\r\n\
             {bob},\"Bob \"\"B.\"\" Smith, Jr\",1,1,30.0,30.0,300.0,300.0,3.00,1\r\n\
             unassigned,unassigned,1,0,,,,,,0\r\n\
             total,total,4,2,70.4,61.3,450.0,450.0,4.00,2\r\n",
            ann = app.ann.id,
            bob = app.bob.id,
        )
    );
}

#[tokio::test]
async fn report_ranges_groups_and_formats_are_validated() {
    let app = app().await;
    for (query, status, code) in [
        (
            "group_by=agent&from=2024-02-30",
            StatusCode::BAD_REQUEST,
            "invalid_range",
        ),
        (
            "group_by=agent&from=yesterday",
            StatusCode::BAD_REQUEST,
            "invalid_range",
        ),
        (
            "group_by=agent&to=2024-1-1",
            StatusCode::BAD_REQUEST,
            "invalid_range",
        ),
        (
            "group_by=agent&from=",
            StatusCode::BAD_REQUEST,
            "invalid_range",
        ),
        (
            "group_by=agent&from=-1",
            StatusCode::BAD_REQUEST,
            "invalid_range",
        ),
        (
            "group_by=agent&from=2024-01-02&to=2024-01-01",
            StatusCode::CONFLICT,
            "invalid_range",
        ),
        (
            "group_by=agent&from=1704067200000&to=1704067200000",
            StatusCode::CONFLICT,
            "invalid_range",
        ),
        ("", StatusCode::BAD_REQUEST, "invalid_group_by"),
        ("group_by=week", StatusCode::BAD_REQUEST, "invalid_group_by"),
        (
            "group_by=Agent",
            StatusCode::BAD_REQUEST,
            "invalid_group_by",
        ),
        (
            "group_by=bucket&rollout=101",
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            "group_by=bucket&rollout=-1",
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            "group_by=agent&format=xml",
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
    ] {
        let (got, body) = app
            .call("GET", &format!("/api/v1/reports/summary?{query}"), None)
            .await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{query}: {body}"
        );
    }
    // The same day as from and to is that whole day.
    let (status, report) = app
        .call(
            "GET",
            "/api/v1/reports/summary?from=2024-01-01&to=2024-01-01&group_by=agent&format=json",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["groups"], json!([]));
    assert_eq!(report["totals"]["conversations"], 0);
    assert_eq!(report["totals"]["first_response_avg_secs"], Value::Null);
}

#[tokio::test]
async fn bots_are_listed_with_their_usernames_and_never_their_tokens() {
    let app = app().await;
    let (status, empty) = app.call("GET", "/api/v1/bots", None).await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(empty, json!({"items": []}));
    for (id, username) in [("5151", None), ("4242", Some("shop_bot"))] {
        app.store
            .put_bot(&omnidesk_core::BotConfig {
                id: omnidesk_domain::BotId::parse(id).unwrap(),
                token: omnidesk_core::Secret::new(format!(
                    "{id}:AAsecretTokenNobodyMaySee_abcdefgh"
                )),
                webhook_secret: omnidesk_core::Secret::new("hook-secret-xyz"),
                username: username.map(str::to_owned),
                mode: omnidesk_core::BotMode::Webhook,
                poll_offset: None,
                created_at: Timestamp::from_millis(T0),
            })
            .await
            .unwrap();
    }
    let (status, bots) = app.call("GET", "/api/v1/bots", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        bots,
        json!({"items": [{"id": "4242", "username": "shop_bot"}, {"id": "5151"}]})
    );
    let text = bots.to_string();
    assert!(
        !text.contains("AAsecret") && !text.contains("hook-secret"),
        "{text}"
    );
}

#[tokio::test]
async fn the_new_routes_need_a_token() {
    let app = app().await;
    let c = app.conversation(ConversationStatus::Queued, None, 0).await;
    for (method, path) in [
        ("GET", "/api/v1/canned".to_owned()),
        ("PUT", "/api/v1/canned/hi".to_owned()),
        ("DELETE", "/api/v1/canned/hi".to_owned()),
        ("POST", format!("/api/v1/conversations/{}/notes", c.id)),
        ("PUT", format!("/api/v1/conversations/{}/labels", c.id)),
        ("PUT", format!("/api/v1/conversations/{}/priority", c.id)),
        ("POST", format!("/api/v1/conversations/{}/snooze", c.id)),
        ("DELETE", format!("/api/v1/conversations/{}/snooze", c.id)),
        ("POST", format!("/api/v1/conversations/{}/read", c.id)),
        ("GET", "/api/v1/teams".to_owned()),
        ("GET", "/api/v1/bots".to_owned()),
        ("GET", "/api/v1/reports/summary?group_by=agent".to_owned()),
    ] {
        let (status, body) = app.call_as(None, method, &path, Some(json!({}))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
    }
}

#[tokio::test]
async fn a_rules_text_is_limited_in_characters_as_the_schema_says() {
    let app = app().await;
    // 65,536 two-byte characters (128 KiB): within the limit, so refused only as rules.
    let comment = format!("# {}\n", "я".repeat(65_536 - 3));
    assert_eq!(comment.chars().count(), 65_536);
    let (status, body) = app
        .call(
            "PUT",
            "/api/v1/rules",
            Some(json!({"source": comment, "format": "toml", "version": 0})),
        )
        .await;
    assert_ne!(body["error"]["code"], "too_large", "{status}");
    // One character more: 400 too_large, naming the field.
    let (status, body) = app
        .call(
            "PUT",
            "/api/v1/rules",
            Some(json!({"source": "#".repeat(65_537), "format": "toml", "version": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "too_large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("source:")
    );
    // A version written as 11580146753.0 is an integer (JSON Schema's integer); 0.5 is not.
    let (status, body) = app
        .call(
            "PUT",
            "/api/v1/rules",
            Some(json!({"source": "", "format": "toml", "version": 11_580_146_753.0})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a stale version, not a bad body: {body}"
    );
    let (status, _) = app
        .call(
            "PUT",
            "/api/v1/rules",
            Some(json!({"source": "", "format": "toml", "version": 0.5})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rules_are_replaced_only_when_they_parse_and_nobody_saved_meanwhile() {
    let app = app().await;
    let (status, none) = app.call("GET", "/api/v1/rules", None).await;
    assert_eq!(status, StatusCode::OK, "{none}");
    assert_eq!(none["version"], 0);
    // An error names its line; nothing is stored.
    let bad = "[[rules]]\nname = \"x\"\nwhen.keywordz = [\"a\"]\nthen.reply = \"hi\"\n";
    let (status, err) = app
        .call(
            "PUT",
            "/api/v1/rules",
            Some(json!({"source": bad, "format": "toml", "version": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "invalid_rules");
    assert_eq!(err["error"]["line"], 3);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 3")
    );
    assert_eq!(app.call("GET", "/api/v1/rules", None).await.1["version"], 0);
    // Fixed: stored as version 1 and listed.
    let good = "[[rules]]\nname = \"wombat\"\nwhen.keywords = [\"wombat\"]\nthen.reply = \"hi\"\n";
    let (status, stored) = app
        .call(
            "PUT",
            "/api/v1/rules",
            Some(json!({"source": good, "format": "toml", "version": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["rules"], json!([{"name": "wombat", "line": 1}]));
    // A save over the version read before is refused.
    let (status, err) = app
        .call(
            "PUT",
            "/api/v1/rules",
            Some(json!({"source": good, "format": "toml", "version": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "version_conflict");
    let (_, read) = app.call("GET", "/api/v1/rules", None).await;
    assert_eq!(
        (read["version"].clone(), read["source"].clone()),
        (json!(1), json!(good))
    );
}

/// Routes only some roles may use, with the least role (`GET /api/v1/ai/calls` without a
/// conversation is the whole log: supervisors).
const GUARDED: &[(&str, &str, Role)] = &[
    ("PUT", "/api/v1/rules", Role::Admin),
    ("POST", "/api/v1/faq", Role::Admin),
    ("PUT", "/api/v1/faq/{id}", Role::Admin),
    ("DELETE", "/api/v1/faq/{id}", Role::Admin),
    ("PATCH", "/api/v1/agents/{id}", Role::Admin),
    ("POST", "/api/v1/contacts/{id}/merge", Role::Supervisor),
    ("PUT", "/api/v1/canned/{shortcut}", Role::Supervisor),
    ("DELETE", "/api/v1/canned/{shortcut}", Role::Supervisor),
    ("GET", "/api/v1/reports/summary", Role::Supervisor),
    ("GET", "/api/v1/ai/calls", Role::Supervisor),
    ("GET", "/api/v1/audit", Role::Admin),
    ("DELETE", "/api/v1/contacts/{id}", Role::Admin),
    ("GET", "/api/v1/contacts/{id}/export", Role::Admin),
];

#[tokio::test]
async fn every_route_refuses_exactly_the_roles_below_its_own_with_403() {
    let app = app().await;
    assert_eq!(app.ann.role, Role::Admin, "the first agent is an admin");
    assert_eq!(app.bob.role, Role::Agent, "later ones are agents");
    let sue = create_agent_as(
        &app.deps,
        "sue@example.com",
        "Sue",
        "lantern-shelf-7",
        Some(Role::Supervisor),
    )
    .await
    .unwrap();
    let tokens = [
        (Role::Admin, app.token.clone()),
        (Role::Supervisor, app.deps.auth.issue(sue.id).unwrap().token),
        (Role::Agent, app.deps.auth.issue(app.bob.id).unwrap().token),
    ];
    let routes = route_table();
    // Every guarded route exists.
    for (method, path, _) in GUARDED {
        assert!(
            routes.contains(&(method, path)),
            "{method} {path} is routed"
        );
    }
    for (method, template) in routes {
        if template == "/api/v1/auth/login" || template == "/api/v1/auth/logout" {
            continue;
        }
        let least = GUARDED
            .iter()
            .find(|(m, p, _)| *m == method && *p == template)
            .map_or(Role::Agent, |(_, _, r)| *r);
        let path = template
            .replace("{id}", "x")
            .replace("{message_id}", "x")
            .replace("{shortcut}", "x");
        for (role, token) in &tokens {
            let (status, body) = app.call_as(Some(token), method, &path, None).await;
            if *role >= least {
                assert_ne!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role:?} {method} {path}: {body}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role:?} {method} {path}: {body}"
                );
                assert_eq!(body["error"]["code"], "forbidden");
                assert!(
                    body["error"]["message"]
                        .as_str()
                        .unwrap()
                        .starts_with("only "),
                    "{body}"
                );
            }
        }
    }
}

#[tokio::test]
async fn an_agent_sees_and_works_only_on_their_teams_the_common_queue_and_their_own() {
    let app = app().await;
    let bob_token = app.deps.auth.issue(app.bob.id).unwrap().token;
    let common = app.conversation(ConversationStatus::Queued, None, 10).await;
    let vip = app
        .conversation_with(ConversationStatus::Queued, None, 20, |c| {
            c.team = Some("vip".to_owned())
        })
        .await;
    let mine = app
        .conversation_with(ConversationStatus::Assigned, Some(app.bob.id), 30, |c| {
            c.team = Some("vip".to_owned())
        })
        .await;
    let (status, page) = app
        .call_as(Some(&bob_token), "GET", "/api/v1/conversations", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids = ids_of(&page);
    assert!(ids.contains(&common.id.to_string()));
    assert!(ids.contains(&mine.id.to_string()));
    assert!(
        !ids.contains(&vip.id.to_string()),
        "another team's queue is not his"
    );
    // Another team's conversation does not exist for him, in reading and in working on it.
    for (method, path) in [
        ("GET", format!("/api/v1/conversations/{}", vip.id)),
        ("GET", format!("/api/v1/conversations/{}/messages", vip.id)),
        ("POST", format!("/api/v1/conversations/{}/assign", vip.id)),
        ("POST", format!("/api/v1/conversations/{}/resolve", vip.id)),
        ("PUT", format!("/api/v1/conversations/{}/priority", vip.id)),
        ("GET", format!("/api/v1/contacts/{}", vip.contact_id)),
    ] {
        let body = (method == "PUT").then(|| json!({"priority": "high"}));
        let (status, answer) = app.call_as(Some(&bob_token), method, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    assert_eq!(app.stored(&vip).await, vip, "nothing of it changed");
    // Once he is in the team, it is his to see and take.
    let mut bob = app.bob.clone();
    bob.teams.insert("vip".to_owned());
    app.store.update_agent(&bob).await.unwrap();
    let (status, _) = app
        .call_as(
            Some(&bob_token),
            "POST",
            &format!("/api/v1/conversations/{}/assign", vip.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Assigning to someone else is a supervisor's.
    let (status, body) = app
        .call_as(
            Some(&bob_token),
            "POST",
            &format!("/api/v1/conversations/{}/assign", common.id),
            Some(json!({"agent_id": app.ann.id.to_string()})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Ann (an admin) sees everything.
    let (_, page) = app.call("GET", "/api/v1/conversations", None).await;
    assert_eq!(ids_of(&page).len(), 3);
}

#[tokio::test]
async fn sign_out_a_password_change_a_role_change_and_disabling_end_sessions_at_once() {
    let app = app().await;
    let login = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .call_as(
                    None,
                    "POST",
                    "/api/v1/auth/login",
                    Some(json!({"email": email, "password": password})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["token"].as_str().unwrap().to_owned()
        }
    };
    let me = |token: String| {
        let app = &app;
        async move {
            app.call_as(Some(&token), "GET", "/api/v1/agents/me", None)
                .await
        }
    };
    // Sign-out ends every session of the agent (both devices).
    let laptop = login("bob@example.com", "battery-staple").await;
    let phone = login("bob@example.com", "battery-staple").await;
    assert_eq!(me(phone.clone()).await.0, StatusCode::OK);
    let (status, _) = app
        .call_as(Some(&laptop), "POST", "/api/v1/auth/logout", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for token in [laptop, phone] {
        let (status, body) = me(token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "session_ended");
    }

    // A password change: the old sessions end, the answer's token works, the old password not.
    let old = login("bob@example.com", "battery-staple").await;
    let (status, body) = app
        .call_as(
            Some(&old),
            "PUT",
            "/api/v1/agents/me/password",
            Some(json!({"current_password": "nope-nope", "new_password": "winter-orchid-5"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .call_as(
            Some(&old),
            "PUT",
            "/api/v1/agents/me/password",
            Some(json!({"current_password": "battery-staple", "new_password": "password1"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a common password: {body}");
    let (status, body) = app
        .call_as(
            Some(&old),
            "PUT",
            "/api/v1/agents/me/password",
            Some(json!({"current_password": "battery-staple", "new_password": "winter-orchid-5"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = body["token"].as_str().unwrap().to_owned();
    assert_eq!(me(old).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(fresh.clone()).await.0, StatusCode::OK);
    let (status, _) = app
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            Some(json!({"email": "bob@example.com", "password": "battery-staple"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // An admin's role change ends them too; the next sign-in has the new role.
    let path = format!("/api/v1/agents/{}", app.bob.id);
    let (status, body) = app
        .call("PATCH", &path, Some(json!({"role": "supervisor"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "supervisor");
    assert_eq!(me(fresh).await.0, StatusCode::UNAUTHORIZED);
    let token = login("bob@example.com", "winter-orchid-5").await;
    assert_eq!(me(token.clone()).await.1["role"], "supervisor");

    // Disabling: the session ends and the right password gets 403 account_disabled.
    let (status, body) = app
        .call("PATCH", &path, Some(json!({"disabled": true})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(me(token).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .call_as(
            None,
            "POST",
            "/api/v1/auth/login",
            Some(json!({"email": "bob@example.com", "password": "winter-orchid-5"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "account_disabled");

    // The last admin cannot demote or disable herself.
    let (status, body) = app
        .call(
            "PATCH",
            &format!("/api/v1/agents/{}", app.ann.id),
            Some(json!({"role": "agent"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "last_admin");
}

#[tokio::test]
async fn an_agents_websocket_never_receives_another_teams_conversation() {
    let app = app().await;
    let ann = app.watch_as(&app.ann, "ann").await;
    let bob = app.watch_as(&app.bob, "bob").await;
    let common = app.conversation(ConversationStatus::Queued, None, 10).await;
    let vip = app
        .conversation_with(ConversationStatus::Queued, None, 20, |c| {
            c.team = Some("vip".to_owned())
        })
        .await;
    // Ann (an admin) resolves one of each, with a timeline message and the conversation.
    for c in [&vip, &common] {
        let (status, _) = app
            .call(
                "POST",
                &format!("/api/v1/conversations/{}/resolve", c.id),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let about = |events: Vec<Value>| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| {
                e["conversation_id"]
                    .as_str()
                    .or(e["conversation"]["id"].as_str())
                    .map(str::to_owned)
            })
            .collect()
    };
    let anns = about(app.events(&ann));
    let bobs = about(app.events(&bob));
    assert!(anns.contains(&vip.id.to_string()) && anns.contains(&common.id.to_string()));
    assert!(
        bobs.contains(&common.id.to_string()),
        "the common queue is his: {bobs:?}"
    );
    assert!(
        !bobs.contains(&vip.id.to_string()),
        "another team's is not: {bobs:?}"
    );

    // A batch about both is narrowed to what he may read; an event that names only the
    // conversation (a delivery status) is looked up.
    let view = |c: &Conversation| {
        let mut c = c.clone();
        c.status = ConversationStatus::Assigned;
        omnidesk_core::ConversationView::new(
            &c,
            Contact::new(
                c.contact_id,
                "X".to_owned(),
                Identity::WebVisitor {
                    visitor_id: "x".to_owned(),
                },
                app.clock.now(),
            ),
        )
    };
    let message = app.stored_messages(&vip).await.pop().unwrap();
    let events = vec![
        omnidesk_core::ServerEvent::ConversationUpdated {
            conversation: Box::new(view(&vip)),
        },
        omnidesk_core::ServerEvent::ConversationUpdated {
            conversation: Box::new(view(&common)),
        },
        omnidesk_core::ServerEvent::MessageUpdated {
            conversation_id: vip.id,
            message,
        },
    ];
    let before = app.pushed(&bob).len();
    omnidesk_core::usecases::push_events_to_agents(
        app.store.as_ref(),
        app.store.as_ref(),
        app.push.as_ref(),
        events,
    )
    .await
    .unwrap();
    let frames = app.pushed(&bob);
    assert_eq!(frames.len(), before + 1);
    let last = &frames[frames.len() - 1];
    assert_eq!(last["type"], "batch", "{last}");
    assert_eq!(last["events"].as_array().unwrap().len(), 1, "{last}");
    assert_eq!(
        last["events"][0]["conversation"]["id"],
        common.id.to_string()
    );
    assert_eq!(
        app.pushed(&ann).last().unwrap()["events"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // His role changes: his connections are forgotten (the next connect checks him again).
    let (status, _) = app
        .call(
            "PATCH",
            &format!("/api/v1/agents/{}", app.bob.id),
            Some(json!({"role": "supervisor"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let left: Vec<AgentId> = app
        .store
        .list_connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.agent_id)
        .collect();
    assert_eq!(left, vec![app.ann.id]);
}

#[tokio::test]
async fn the_audit_log_lists_sign_ins_role_changes_and_rule_changes_newest_first_for_admins() {
    let app = app().await;
    let login = |password: &'static str| {
        let app = &app;
        async move {
            app.call_as(
                None,
                "POST",
                "/api/v1/auth/login",
                Some(json!({"email": "bob@example.com", "password": password})),
            )
            .await
            .0
        }
    };
    assert_eq!(login("wrong-guess-9").await, StatusCode::UNAUTHORIZED);
    app.clock.advance(Duration::from_millis(10));
    assert_eq!(login("battery-staple").await, StatusCode::OK);
    app.clock.advance(Duration::from_millis(10));
    let (status, _) = app
        .call(
            "PATCH",
            &format!("/api/v1/agents/{}", app.bob.id),
            Some(json!({"role": "supervisor"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.clock.advance(Duration::from_millis(10));
    let (status, body) = app
        .call(
            "PUT",
            "/api/v1/rules",
            Some(json!({"source": "", "format": "toml", "version": 0})),
        )
        .await;
    assert!(status.is_success(), "{body}");

    let (status, page) = app.call("GET", "/api/v1/audit?limit=3", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let actions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["rules_changed", "role_changed", "signed_in"]);
    let role = &page["items"][1];
    assert_eq!(role["actor"], app.ann.id.to_string());
    assert_eq!(role["target"], app.bob.id.to_string());
    assert_eq!(role["detail"], "agent → supervisor");
    // The next page holds the failed sign-in (of Bob's account, by id: no e-mail is kept),
    // then the creation of the agents.
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = app
        .call(
            "GET",
            &format!("/api/v1/audit?limit=10&cursor={cursor}"),
            None,
        )
        .await;
    let failed = &next["items"][0];
    assert_eq!(failed["action"], "sign_in_failed");
    assert_eq!(failed["target"], app.bob.id.to_string());
    assert!(!next.to_string().contains("bob@example.com"), "{next}");
    assert!(
        next["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "agent_created")
    );
}

// ---------------------------------------------------------------------------------------------
// Erasure and export

/// A message of `c`'s contact carrying a file with `bytes`.
async fn message_with_file(app: &App, c: &Conversation, text: &str, bytes: &[u8]) -> Message {
    use omnidesk_core::BlobStore;
    let key = app
        .blobs
        .put("application/pdf", bytes.to_vec())
        .await
        .unwrap();
    let mut m = Message::outbound(
        app.ids.message_id(),
        c.id,
        Author::Contact { id: c.contact_id },
        Channel::Web,
        text.to_owned(),
        app.clock.now(),
    );
    m.direction = omnidesk_domain::Direction::Inbound;
    let mut file = omnidesk_domain::Attachment::new(
        omnidesk_domain::AttachmentKind::File,
        format!("web-upload:{key}"),
    );
    file.blob = Some(key);
    file.file_name = Some("passport.pdf".to_owned());
    m.attachments.push(file);
    app.store.append_message(&m).await.unwrap();
    m
}

#[tokio::test]
async fn an_admin_exports_a_contact_then_erases_them_and_only_them() {
    use omnidesk_core::BlobStore;
    let app = app().await;
    let conn = app.listen().await;
    let c = app.conversation(ConversationStatus::Queued, None, 10).await;
    let own = message_with_file(&app, &c, "my passport", b"%PDF passport of Dora").await;
    // Another customer sent the very same bytes: that blob must stay.
    let other = app.conversation(ConversationStatus::Queued, None, 20).await;
    let shared = message_with_file(&app, &c, "the brochure", b"%PDF brochure").await;
    message_with_file(&app, &other, "the brochure too", b"%PDF brochure").await;
    let own_key = own.attachments[0].blob.clone().unwrap();
    let shared_key = shared.attachments[0].blob.clone().unwrap();

    // Export: the whole timeline and the files inside, as a download.
    let path = format!("/api/v1/contacts/{}/export", c.contact_id);
    let (status, headers, body) = app.get_text(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"contact-{}.json\"", c.contact_id).as_str()
    );
    assert_eq!(headers["cache-control"], "no-store");
    let archive: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(archive["format"], "omnidesk-contact-export/1");
    assert_eq!(archive["contact"]["id"], c.contact_id.to_string());
    assert_eq!(archive["conversations"].as_array().unwrap().len(), 1);
    let texts: Vec<&str> = archive["conversations"][0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["my passport", "the brochure"], "oldest first");
    let files = archive["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    use base64::Engine as _;
    let inside = base64::engine::general_purpose::STANDARD
        .decode(files[0]["content_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(inside, b"%PDF passport of Dora");
    assert_eq!(files[0]["file_name"], "passport.pdf");

    // Only an admin.
    let bob = app.deps.auth.issue(app.bob.id).unwrap().token;
    let erase = format!("/api/v1/contacts/{}", c.contact_id);
    let (status, _) = app.call_as(Some(&bob), "DELETE", &erase, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = app.call("DELETE", &erase, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["erased"],
        json!({
            "contact": c.contact_id.to_string(),
            "merged_contacts": [],
            "conversations": 1,
            "conversation_ids": [c.id.to_string()],
            "messages": 2,
            "files": 1,
        })
    );
    // Nothing of them through the API, the store or the blob store; the other customer keeps
    // their file and conversation.
    for path in [
        erase.clone(),
        path.clone(),
        format!("/api/v1/conversations/{}", c.id),
    ] {
        let (status, body) = app.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (_, list) = app.call("GET", "/api/v1/conversations", None).await;
    assert_eq!(ids_of(&list), vec![other.id.to_string()]);
    assert!(app.blobs.get(&own_key).await.unwrap().is_none());
    assert!(app.blobs.get(&shared_key).await.unwrap().is_some());
    assert!(
        app.store
            .contact_id_by_identity(
                &Identity::WebVisitor {
                    visitor_id: "v0".into()
                }
                .key()
            )
            .await
            .unwrap()
            .is_none()
    );
    // Agents are told, ids only.
    let frames = app.pushed(&conn);
    let erased: Vec<&Value> = frames
        .iter()
        .filter(|f| f["type"] == "contact.erased")
        .collect();
    assert_eq!(erased.len(), 1, "{frames:?}");
    assert_eq!(erased[0]["conversation_ids"], json!([c.id.to_string()]));
    // The audit log says who exported and erased which id, and nothing personal.
    let (_, audit) = app.call("GET", "/api/v1/audit", None).await;
    let entries = audit["items"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"contact_erased") && actions.contains(&"contact_exported"));
    let text = audit.to_string();
    assert!(
        !text.contains("Visitor 0") && !text.contains("passport"),
        "{text}"
    );
    // Erased is gone: a second erasure finds nothing.
    let (status, _) = app.call("DELETE", &erase, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------------------------------------
// Two-factor sign-in

#[tokio::test]
async fn two_factor_sign_in_takes_a_fresh_code_once_it_is_on() {
    let app = app().await;
    let login = |totp: Option<String>| {
        let mut body = json!({"email": "ann@example.com", "password": "correct-horse"});
        if let Some(code) = totp {
            body["totp"] = json!(code);
        }
        app.call_as(None, "POST", "/api/v1/auth/login", Some(body))
    };
    // Setting it up takes the password.
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/agents/me/totp",
            Some(json!({"password": "wrong one"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "wrong_password");
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/agents/me/totp",
            Some(json!({"password": "correct-horse"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let secret = omnidesk_domain::TotpSecret::new(body["secret"].as_str().unwrap());
    assert!(
        body["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/omnidesk:ann%40example.com?secret="),
        "{body}"
    );
    // Not on before a code confirms it: the password alone still signs in.
    assert_eq!(login(None).await.0, StatusCode::OK);
    let code = |at: Timestamp| omnidesk_agent_api::totp_code(&secret, at).unwrap();
    let now = app.clock.now();
    let wrong = if code(now) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/agents/me/totp/confirm",
            Some(json!({"code": wrong})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "invalid_code");
    let (status, body) = app
        .call(
            "POST",
            "/api/v1/agents/me/totp/confirm",
            Some(json!({"code": code(now)})),
        )
        .await;
    assert_eq!(
        (status, body.clone()),
        (StatusCode::OK, json!({"totp": true}))
    );
    let (_, me) = app.call("GET", "/api/v1/agents/me", None).await;
    assert_eq!(me["totp"], true);
    assert!(
        me.get("totp_secret").is_none(),
        "the secret is never shown again: {me}"
    );

    // Sign-in: the password, then the code; a code is good once.
    let (status, body) = login(None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "totp_required");
    let (status, body) = login(Some(code(now))).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the code that confirmed it was used"
    );
    assert_eq!(body["error"]["code"], "bad_totp");
    app.clock.advance(Duration::from_secs(30));
    let next = code(app.clock.now());
    let (status, body) = login(Some(next.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["agent"]["totp"], true);
    let (status, _) = login(Some(next)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed");
    let (_, audit) = app.call("GET", "/api/v1/audit", None).await;
    assert!(audit.to_string().contains("totp_enabled"));
    assert!(!audit.to_string().contains(secret.expose()));

    // A lost phone: an admin turns it off; the password alone signs in again.
    let ann = app.ann.id;
    let (status, body) = app
        .call(
            "PATCH",
            &format!("/api/v1/agents/{}", app.bob.id),
            Some(json!({"totp": true})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app
        .call(
            "PATCH",
            &format!("/api/v1/agents/{ann}"),
            Some(json!({"totp": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totp"], false);
    assert_eq!(login(None).await.0, StatusCode::OK);
}

impl App {
    /// A request with extra `headers`: the status, the JSON body and the `Set-Cookie` values.
    async fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value, Vec<String>) {
        let mut req = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let cookies = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 22)
            .await
            .unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("non-JSON body: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, value, cookies)
    }

    /// Signs in as `email`: the access token and the refresh cookie (`name=value`).
    async fn sign_in(&self, email: &str, password: &str) -> (String, String) {
        let (status, body, cookies) = self
            .http(
                "POST",
                "/api/v1/auth/login",
                &[],
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (
            body["token"].as_str().unwrap().to_owned(),
            refresh_cookie(&cookies),
        )
    }

    /// `POST /api/v1/auth/refresh` with `cookie`.
    async fn refresh(&self, cookie: &str) -> (StatusCode, Value, Vec<String>) {
        self.http("POST", "/api/v1/auth/refresh", &[("cookie", cookie)], None)
            .await
    }
}

/// The `omnidesk_refresh=value` pair of a `Set-Cookie` list.
fn refresh_cookie(set_cookies: &[String]) -> String {
    let set = set_cookies
        .iter()
        .find(|c| c.starts_with("omnidesk_refresh="))
        .unwrap_or_else(|| panic!("no refresh cookie in {set_cookies:?}"));
    set.split(';').next().unwrap().to_owned()
}

/// Whether a `Set-Cookie` list clears the refresh cookie.
fn clears_refresh_cookie(set_cookies: &[String]) -> bool {
    set_cookies
        .iter()
        .any(|c| c.starts_with("omnidesk_refresh=;") && c.contains("Max-Age=0"))
}

#[tokio::test]
async fn a_sign_in_sets_an_http_only_refresh_cookie_and_each_refresh_token_works_once() {
    let app = app().await;
    let (status, body, cookies) = app
        .http(
            "POST",
            "/api/v1/auth/login",
            &[("x-forwarded-proto", "https")],
            Some(json!({"email": "bob@example.com", "password": "battery-staple"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let set = &cookies[0];
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/v1/auth",
        "Secure",
        "Max-Age=604800",
    ] {
        assert!(set.contains(part), "{part} in {set}");
    }
    assert_eq!(
        body["refresh_expires_at"],
        Timestamp::from_millis(T0 + 7 * 24 * 3_600_000).to_rfc3339()
    );
    // Over plain HTTP (the embedded server on a LAN address) the cookie is not `Secure`.
    let (token, first) = app.sign_in("bob@example.com", "battery-staple").await;
    let (_, _, plain) = app
        .http(
            "POST",
            "/api/v1/auth/login",
            &[],
            Some(json!({"email": "bob@example.com", "password": "battery-staple"})),
        )
        .await;
    assert!(!plain[0].contains("Secure"), "{plain:?}");

    // The access token expires; the cookie renews it without the password.
    app.clock.advance(TTL + Duration::from_secs(1));
    let (status, body) = app
        .call_as(Some(&token), "GET", "/api/v1/agents/me", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_expired");
    let (status, body, cookies) = app.refresh(&first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["agent"]["email"], "bob@example.com");
    let renewed = body["token"].as_str().unwrap().to_owned();
    let (status, _) = app
        .call_as(Some(&renewed), "GET", "/api/v1/agents/me", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let second = refresh_cookie(&cookies);
    assert_ne!(second, first, "rotated");

    // The first refresh token was used: a copy of it is refused, and the cookie cleared.
    let (status, body, cookies) = app.refresh(&first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "no_session");
    assert!(clears_refresh_cookie(&cookies), "{cookies:?}");
    // The rotated one works, once.
    assert_eq!(app.refresh(&second).await.0, StatusCode::OK);
    assert_eq!(app.refresh(&second).await.0, StatusCode::UNAUTHORIZED);
    // No cookie, a made-up one, another site: refused.
    let (status, body, _) = app.http("POST", "/api/v1/auth/refresh", &[], None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("no_session"))
    );
    assert_eq!(
        app.refresh("omnidesk_refresh=made-up").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, fresh) = app.sign_in("bob@example.com", "battery-staple").await;
    let (status, body, _) = app
        .http(
            "POST",
            "/api/v1/auth/refresh",
            &[("cookie", &fresh), ("sec-fetch-site", "cross-site")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "cross_site");
    // Refused before it was used: it still works from the dashboard's own site.
    assert_eq!(app.refresh(&fresh).await.0, StatusCode::OK);
}

#[tokio::test]
async fn refresh_tokens_end_with_the_session_idle_out_and_never_outlive_thirty_days() {
    let app = app().await;
    // Signing out (with the access token) ends the refresh tokens of every device.
    let (token, laptop) = app.sign_in("bob@example.com", "battery-staple").await;
    let (_, phone) = app.sign_in("bob@example.com", "battery-staple").await;
    let (status, _, cookies) = app
        .http(
            "POST",
            "/api/v1/auth/logout",
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(clears_refresh_cookie(&cookies), "{cookies:?}");
    for cookie in [&laptop, &phone] {
        let (status, body, cookies) = app.refresh(cookie).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "session_ended");
        assert!(clears_refresh_cookie(&cookies));
    }

    // Signing out with only the cookie (the access token expired meanwhile) works too.
    let (_, cookie) = app.sign_in("bob@example.com", "battery-staple").await;
    let (_, other) = app.sign_in("bob@example.com", "battery-staple").await;
    app.clock.advance(TTL + Duration::from_secs(1));
    let (status, _, _) = app
        .http("POST", "/api/v1/auth/logout", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.refresh(&other).await.0, StatusCode::UNAUTHORIZED);
    // Neither a token nor a cookie: 401.
    let (status, _, _) = app.http("POST", "/api/v1/auth/logout", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A password change ends the others; its answer carries a new cookie that works.
    let (token, before) = app.sign_in("bob@example.com", "battery-staple").await;
    let (status, body, cookies) = app
        .http(
            "PUT",
            "/api/v1/agents/me/password",
            &[("authorization", &format!("Bearer {token}"))],
            Some(json!({"current_password": "battery-staple", "new_password": "winter-orchid-5"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = refresh_cookie(&cookies);
    assert_eq!(
        app.refresh(&before).await.1["error"]["code"],
        "session_ended"
    );
    let (status, _, cookies) = app.refresh(&after).await;
    assert_eq!(status, StatusCode::OK);
    let after = refresh_cookie(&cookies);

    // Disabled by an admin: the next refresh is refused.
    let admin = app.deps.auth.issue(app.ann.id).unwrap().token;
    let (status, body) = app
        .call_as(
            Some(&admin),
            "PATCH",
            &format!("/api/v1/agents/{}", app.bob.id),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.refresh(&after).await.1["error"]["code"],
        "session_ended"
    );

    // Unused for longer than the session lifetime (7 days): gone.
    let (_, idle) = app.sign_in("ann@example.com", "correct-horse").await;
    app.clock.advance(Duration::from_secs(7 * 24 * 3600));
    assert_eq!(app.refresh(&idle).await.1["error"]["code"], "no_session");

    // Refreshed every 6 days, a session still ends 30 days after its sign-in.
    let (_, mut cookie) = app.sign_in("ann@example.com", "correct-horse").await;
    let mut days = 0;
    loop {
        app.clock.advance(Duration::from_secs(6 * 24 * 3600));
        days += 6;
        let (status, body, cookies) = app.refresh(&cookie).await;
        if days < 30 {
            assert_eq!(status, StatusCode::OK, "day {days}: {body}");
            cookie = refresh_cookie(&cookies);
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "day {days}: {body}");
            break;
        }
    }
}

#[tokio::test]
async fn an_admin_changes_an_agents_teams_and_the_open_socket_follows_at_once() {
    let app = app().await;
    let now = app.clock.now();
    app.store
        .put_team(&Team::new(TeamName::parse("vip").unwrap(), now))
        .await
        .unwrap();
    // Bob (an agent, no team) has a dashboard open.
    let bob_socket = app.watch_as(&app.bob, "bob").await;
    let bob_token = app.deps.auth.issue(app.bob.id).unwrap().token;
    let vip = app
        .conversation_with(ConversationStatus::Queued, None, 20, |c| {
            c.team = Some("vip".to_owned())
        })
        .await;
    // Each change of priority is pushed (the same priority again would be no change).
    let touch = |c: &Conversation, priority: &'static str| {
        let path = format!("/api/v1/conversations/{}/priority", c.id);
        let app = &app;
        async move {
            let (status, body) = app
                .call("PUT", &path, Some(json!({"priority": priority})))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    let told_about = |id: &omnidesk_domain::ConversationId| {
        let id = id.to_string();
        app.events(&bob_socket).iter().any(|e| {
            e["conversation_id"].as_str() == Some(&id)
                || e["conversation"]["id"].as_str() == Some(&id)
        })
    };
    touch(&vip, "high").await;
    assert!(!told_about(&vip.id), "not his team yet");

    // Only an admin may; an unknown team is refused and changes nothing.
    let path = format!("/api/v1/agents/{}", app.bob.id);
    let (status, _) = app
        .call_as(
            Some(&bob_token),
            "PATCH",
            &path,
            Some(json!({"teams": ["vip"]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .call("PATCH", &path, Some(json!({"teams": ["vip", "nope"]})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "unknown_team");

    let (status, body) = app
        .call("PATCH", &path, Some(json!({"teams": ["vip"]})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["teams"], json!(["vip"]));
    // Every dashboard hears it; Bob's session goes on; his open socket now gets VIP's events.
    let updated: Vec<Value> = app
        .events(&bob_socket)
        .into_iter()
        .filter(|e| e["type"] == "agent.updated")
        .collect();
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0]["agent"]["teams"], json!(["vip"]));
    assert!(updated[0]["agent"].get("password_hash").is_none());
    let (status, _) = app
        .call_as(Some(&bob_token), "GET", "/api/v1/agents/me", None)
        .await;
    assert_eq!(status, StatusCode::OK, "a team change ends no session");
    touch(&vip, "low").await;
    assert!(told_about(&vip.id), "his team now");
    let (_, list) = app
        .call_as(Some(&bob_token), "GET", "/api/v1/conversations", None)
        .await;
    assert!(ids_of(&list).contains(&vip.id.to_string()), "{list}");

    // Out of the team again: nothing more about it.
    let (status, _) = app.call("PATCH", &path, Some(json!({"teams": []}))).await;
    assert_eq!(status, StatusCode::OK);
    let before = app.events(&bob_socket).len();
    touch(&vip, "urgent").await;
    let after: Vec<Value> = app.events(&bob_socket).into_iter().skip(before).collect();
    assert!(
        !after
            .iter()
            .any(|e| e["conversation"]["id"] == vip.id.to_string()),
        "{after:?}"
    );
    // The audit log names the change.
    let (_, audit) = app.call("GET", "/api/v1/audit", None).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "teams_changed").count(),
        2,
        "{actions:?}"
    );
}
