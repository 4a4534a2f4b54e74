//! The widget API through its axum router (`oneshot`), on the in-memory adapters, with the
//! router run on what it enqueues: sessions, messages, history, identity, tickets, the
//! Telegram link, and every refusal.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use omnidesk_core::testing::{ManualClock, MemoryPush, MemoryQueue, MemoryStore};
use omnidesk_core::{
    BotConfig, BotMode, BotStore, Clock, ConnectionId, ConversationStore, QueueName, Secret,
    TokenKind, UuidV7Ids, WebStore, Website, token_hash,
};
use omnidesk_domain::{BotId, Timestamp, WebsiteId};
use omnidesk_web_chat::{VisitorKeys, WebChatDeps, WebChatSettings, router};
use serde_json::{Value, json};
use tower::ServiceExt;

const ORIGIN: &str = "https://shop.example.com";
const SITE_SECRET: &str = "site-identity-secret-0123456789";

fn hmac_hex(key: &str, data: &str) -> String {
    use hmac::Mac;
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn site_jwt(key: &str, sub: &str, exp: i64) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use hmac::Mac;
    let head = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = B64.encode(json!({"sub": sub, "exp": exp}).to_string());
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{head}.{body}").as_bytes());
    let sig = B64.encode(mac.finalize().into_bytes());
    format!("{head}.{body}.{sig}")
}

struct Setup {
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    clock: Arc<ManualClock>,
    deps: WebChatDeps,
    website: WebsiteId,
    router_deps: omnidesk_router::RouterDeps,
}

async fn setup_with(bot: bool) -> Setup {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_763_780_000_000)));
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let queue = Arc::new(MemoryQueue::with_clock(clock.clone()));
    let bot_id = BotId::parse("4242").unwrap();
    store
        .put_bot(&BotConfig {
            id: bot_id,
            token: Secret::new("4242:AAtestTokenForTheFakeBotApi_abcdefgh"),
            webhook_secret: Secret::new("s"),
            username: Some("shop_bot".to_owned()),
            mode: BotMode::Webhook,
            poll_offset: None,
            created_at: Timestamp::from_millis(0),
        })
        .await
        .unwrap();
    let website = WebsiteId::from_uuid(omnidesk_core::IdGen::uuid(&UuidV7Ids));
    store
        .put_website(&Website {
            id: website,
            name: "Shop".to_owned(),
            origins: vec![ORIGIN.to_owned()],
            bot_id: bot.then_some(bot_id),
            identity_secret: Some(Secret::new(SITE_SECRET)),
            prechat: false,
            created_at: Timestamp::from_millis(0),
        })
        .await
        .unwrap();
    let deps = WebChatDeps {
        web: store.clone(),
        contacts: store.clone(),
        conversations: store.clone(),
        messages: store.clone(),
        agents: store.clone(),
        bots: store.clone(),
        visitors: store.clone(),
        queue: queue.clone(),
        clock: clock.clone(),
        ids: Arc::new(UuidV7Ids),
        keys: VisitorKeys::derive(b"0123456789abcdef0123456789abcdef"),
        settings: WebChatSettings {
            files: omnidesk_core::usecases::FileSettings {
                max_upload_bytes: 1024 * 1024,
                ..Default::default()
            },
            ..WebChatSettings::default()
        },
        blobs: Arc::new(omnidesk_core::testing::MemoryBlobStore::new()),
    };
    let router_deps = omnidesk_router::RouterDeps {
        contacts: store.clone(),
        conversations: store.clone(),
        messages: store.clone(),
        agents: store.clone(),
        bots: store.clone(),
        connections: store.clone(),
        routing: store.clone(),
        web: Some(store.clone()),
        visitors: Some(store.clone()),
        push: Arc::new(MemoryPush::new()),
        queue: queue.clone(),
        clock: clock.clone(),
        ids: Arc::new(UuidV7Ids),
        settings: omnidesk_router::RouterSettings::default(),
        retention: None,
    };
    Setup {
        store,
        queue,
        clock,
        deps,
        website,
        router_deps,
    }
}

async fn setup() -> Setup {
    setup_with(true).await
}

impl Setup {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        origin: Option<&str>,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = router(self.deps.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json, headers)
    }

    async fn session(&self) -> String {
        let (status, body, headers) = self
            .call(
                "POST",
                "/web/v1/sessions",
                Some(ORIGIN),
                None,
                Some(json!({"website_id": self.website.to_string()})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(
            headers.get("access-control-allow-origin").unwrap(),
            ORIGIN,
            "CORS for the website's origin"
        );
        assert_eq!(body["website"]["name"], "Shop");
        body["visitor_token"].as_str().unwrap().to_owned()
    }

    /// `POST /web/v1/channels/telegram`: a "Continue on Telegram" link for the visitor.
    async fn link_telegram(&self, token: &str) -> (StatusCode, Value) {
        let (s, b, _) = self
            .call(
                "POST",
                "/web/v1/channels/telegram",
                Some(ORIGIN),
                Some(token),
                None,
            )
            .await;
        (s, b)
    }

    async fn send(&self, token: &str, text: &str, client_id: &str) -> (StatusCode, Value) {
        let (s, b, _) = self
            .call(
                "POST",
                "/web/v1/messages",
                Some(ORIGIN),
                Some(token),
                Some(json!({"text": text, "client_id": client_id})),
            )
            .await;
        (s, b)
    }

    /// Runs the router on everything waiting in the inbound queue.
    async fn route_all(&self) {
        use omnidesk_core::Queue;
        loop {
            let batch = self
                .queue
                .receive(QueueName::Inbound, 10, std::time::Duration::from_secs(30))
                .await
                .unwrap();
            if batch.is_empty() {
                break;
            }
            for m in batch {
                // Boxed: the router's step is a large future.
                Box::pin(omnidesk_router::handle_body(&self.router_deps, &m.body))
                    .await
                    .unwrap();
                self.queue
                    .ack(QueueName::Inbound, &m.receipt)
                    .await
                    .unwrap();
            }
        }
    }

    async fn history(&self, token: &str) -> Vec<Value> {
        let (s, b, _) = self
            .call(
                "GET",
                "/web/v1/messages?limit=50",
                Some(ORIGIN),
                Some(token),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b["items"].as_array().unwrap().clone()
    }
}

#[tokio::test]
async fn nothing_is_stored_until_the_first_message_which_reaches_the_router_once() {
    let s = setup().await;
    let token = s.session().await;
    let (status, session, _) = s
        .call("GET", "/web/v1/session", Some(ORIGIN), Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["conversation_id"], Value::Null);
    assert!(s.history(&token).await.is_empty());
    assert_eq!(
        s.queue.len(QueueName::Inbound),
        0,
        "a page view writes nothing"
    );

    let (status, msg) = s
        .send(&token, "  Order #1024 has no tracking update ", "c-1")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{msg}");
    assert_eq!(msg["text"], "Order #1024 has no tracking update");
    assert_eq!(msg["client_id"], "c-1");
    assert_eq!(msg["channel"], "web");
    // A retried POST (same client id) is stored once.
    let (status, _) = s
        .send(&token, "Order #1024 has no tracking update", "c-1")
        .await;
    assert_eq!(status, StatusCode::CREATED);
    s.route_all().await;
    let items = s.history(&token).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["client_id"], "c-1");
    assert_eq!(items[0]["direction"], "inbound");
    assert_eq!(
        items[0]["id"], msg["id"],
        "the answer's id is the stored one"
    );
    let (_, session, _) = s
        .call("GET", "/web/v1/session", Some(ORIGIN), Some(&token), None)
        .await;
    assert_eq!(session["conversation_id"], msg["conversation_id"]);
    assert_eq!(session["channels"], json!(["web"]));
}

#[tokio::test]
async fn a_session_is_refreshed_for_the_same_visitor_and_tokens_are_checked() {
    let s = setup().await;
    let token = s.session().await;
    let (status, body, _) = s
        .call(
            "POST",
            "/web/v1/sessions",
            Some(ORIGIN),
            Some(&token),
            Some(json!({"website_id": s.website.to_string()})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let refreshed = body["visitor_token"].as_str().unwrap();
    let id = |t: &str| {
        let deps = &s.deps;
        deps.keys.verify(t, s.clock.now()).unwrap().visitor_id
    };
    assert_eq!(id(refreshed), id(&token), "the same visitor");

    // Forged, garbage and expired tokens: 401 with a clear error.
    let forged = format!("{}x", &token[..token.len() - 1]);
    for bad in [forged.as_str(), "garbage", ""] {
        let (status, body, _) = s
            .call("GET", "/web/v1/session", Some(ORIGIN), Some(bad), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_token");
    }
    s.clock
        .advance(std::time::Duration::from_secs(31 * 24 * 3600));
    let (status, _, _) = s
        .call("GET", "/web/v1/session", Some(ORIGIN), Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an expired token");
}

#[tokio::test]
async fn requests_from_an_origin_not_on_the_list_are_refused() {
    let s = setup().await;
    let (status, body, headers) = s
        .call(
            "POST",
            "/web/v1/sessions",
            Some("https://evil.example.net"),
            None,
            Some(json!({"website_id": s.website.to_string()})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "origin_not_allowed");
    // The refusal is readable by the widget (it says why instead of a network error).
    assert_eq!(
        headers.get("access-control-allow-origin").unwrap(),
        "https://evil.example.net"
    );
    // A token used from another origin is refused too.
    let token = s.session().await;
    let (status, _, _) = s
        .call(
            "GET",
            "/web/v1/messages",
            Some("https://evil.example.net"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // No Origin at all cannot start a session.
    let (status, _, _) = s
        .call(
            "POST",
            "/web/v1/sessions",
            None,
            None,
            Some(json!({"website_id": s.website.to_string()})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Preflight: allowed for the website's origin only.
    let (status, _, headers) = s
        .call("OPTIONS", "/web/v1/messages", Some(ORIGIN), None, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        headers
            .get("access-control-allow-headers")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let (status, _, _) = s
        .call(
            "OPTIONS",
            "/web/v1/messages",
            Some("https://evil.example.net"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_visitor_reads_only_their_own_conversation_and_an_unverified_email_reaches_nothing() {
    let s = setup().await;
    let ann = s.session().await;
    let (status, profile, _) = s
        .call(
            "POST",
            "/web/v1/identify",
            Some(ORIGIN),
            Some(&ann),
            Some(json!({"name": "Ann", "email": "ann@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["email_verified"], false);
    s.send(&ann, "my secret order #5555", "a1").await;
    s.route_all().await;

    // Mallory claims Ann's e-mail: it stays an unverified claim on Mallory's own contact.
    let mallory = s.session().await;
    let (status, profile, _) = s
        .call(
            "POST",
            "/web/v1/identify",
            Some(ORIGIN),
            Some(&mallory),
            Some(json!({"email": "ann@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["email"], "ann@example.com");
    assert_eq!(profile["conversation_id"], Value::Null);
    assert!(s.history(&mallory).await.is_empty(), "nothing of Ann's");
    s.send(&mallory, "hi", "m1").await;
    s.route_all().await;
    let items = s.history(&mallory).await;
    assert_eq!(items.len(), 1);
    assert!(
        items
            .iter()
            .all(|m| !m["text"].as_str().unwrap().contains("5555"))
    );
    assert_eq!(s.history(&ann).await.len(), 1);
    // Marking another visitor's message read is a 404.
    let ann_msg = s.history(&ann).await[0]["id"].clone();
    let (status, _, _) = s
        .call(
            "POST",
            "/web/v1/read",
            Some(ORIGIN),
            Some(&mallory),
            Some(json!({"message_id": ann_msg})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = s
        .call(
            "POST",
            "/web/v1/read",
            Some(ORIGIN),
            Some(&ann),
            Some(json!({"message_id": ann_msg})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The receipt reaches the router, which marks the conversation read up to that message.
    s.route_all().await;
    let conv_id: omnidesk_domain::ConversationId = s.history(&ann).await[0]["conversation_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let conv = omnidesk_core::ConversationStore::get_conversation(s.store.as_ref(), conv_id)
        .await
        .unwrap()
        .unwrap();
    let read_at = s.history(&ann).await[0]["created_at"].clone();
    assert_eq!(
        serde_json::to_value(conv.customer_read_at).unwrap(),
        read_at,
        "agents see what the visitor has read"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_400() {
    let s = setup().await;
    let token = s.session().await;
    for (body, field) in [
        (json!({"text": "   "}), "text"),
        (json!({"text": "x".repeat(4097)}), "text"),
        (json!({"text": "hi", "client_id": "has space"}), "client_id"),
        (json!({"text": "hi", "extra": 1}), "body"),
        (json!({"nope": 1}), "body"),
    ] {
        let (status, b, _) = s
            .call(
                "POST",
                "/web/v1/messages",
                Some(ORIGIN),
                Some(&token),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{b}");
        assert!(
            b["error"]["message"].as_str().unwrap().starts_with(field),
            "{b}"
        );
    }
    s.send(&token, "hello", "c1").await;
    s.route_all().await;
    for q in ["limit=0", "limit=101", "limit=x", "cursor=garbage"] {
        let (status, b, _) = s
            .call(
                "GET",
                &format!("/web/v1/messages?{q}"),
                Some(ORIGIN),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {b}");
    }
    let (status, _, _) = s
        .call(
            "POST",
            "/web/v1/sessions",
            Some(ORIGIN),
            None,
            Some(json!({"website_id": "web_00000000000000000000000000000000"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn continue_on_telegram_gives_a_single_use_deep_link_and_a_new_one_cancels_the_old() {
    let s = setup().await;
    let token = s.session().await;
    s.send(&token, "Order #1024 has no tracking update", "c1")
        .await;
    s.route_all().await;
    let link = |b: &Value| b["url"].as_str().unwrap().to_owned();
    let (status, first) = s.link_telegram(&token).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let url = link(&first);
    let start = url
        .strip_prefix("https://t.me/shop_bot?start=")
        .unwrap_or_else(|| panic!("{url}"))
        .to_owned();
    assert!(
        start.len() >= 22 && start.len() <= 64,
        "≥128 bits, ≤64 chars"
    );
    assert!(
        start
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    );
    // Stored hashed, never in clear.
    assert!(
        s.store
            .take_token(TokenKind::Handoff, &start, s.clock.now())
            .await
            .unwrap()
            .is_none()
    );
    let (_, second) = s.link_telegram(&token).await;
    let second_start = link(&second).rsplit('=').next().unwrap().to_owned();
    assert!(
        s.store
            .take_token(TokenKind::Handoff, &token_hash(&start), s.clock.now())
            .await
            .unwrap()
            .is_none(),
        "a new link cancels the previous one"
    );
    let grant = s
        .store
        .take_token(
            TokenKind::Handoff,
            &token_hash(&second_start),
            s.clock.now(),
        )
        .await
        .unwrap()
        .expect("the newest link is valid");
    let grant: omnidesk_core::HandoffGrant = serde_json::from_str(&grant.payload).unwrap();
    assert!(grant.conversation_id.is_some());
    assert_eq!(grant.bot_id, Some(BotId::parse("4242").unwrap()));
}

#[tokio::test]
async fn continue_on_telegram_in_a_staged_rollout_follows_the_contacts_bucket() {
    let mut s = setup().await;
    s.deps.settings.telegram_rollout = 50;
    // A visitor with no contact yet has no bucket: not offered below 100%.
    let fresh = s.session().await;
    let (_, view, _) = s
        .call("GET", "/web/v1/session", Some(ORIGIN), Some(&fresh), None)
        .await;
    assert_eq!(view["website"]["telegram"], false, "{view}");

    for i in 0..12 {
        let token = s.session().await;
        s.send(&token, "Where is my parcel?", &format!("c{i}"))
            .await;
        s.route_all().await;
        let (_, view, _) = s
            .call("GET", "/web/v1/session", Some(ORIGIN), Some(&token), None)
            .await;
        let conversation = s
            .store
            .get_conversation(view["conversation_id"].as_str().unwrap().parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        let expected = omnidesk_rules::in_rollout(conversation.contact_id, 50);
        assert_eq!(view["website"]["telegram"], expected, "{view}");
        let (status, body) = s.link_telegram(&token).await;
        if expected {
            assert_eq!(status, StatusCode::CREATED, "{body}");
        } else {
            assert_eq!(status, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["error"]["code"], "no_telegram");
        }
        // The same contact gets the same answer every time.
        let (_, again, _) = s
            .call("GET", "/web/v1/session", Some(ORIGIN), Some(&token), None)
            .await;
        assert_eq!(again["website"]["telegram"], expected);
    }
}

#[tokio::test]
async fn a_website_without_a_bot_says_so() {
    let s = setup_with(false).await;
    let token = s.session().await;
    let (status, body) = s.link_telegram(&token).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "no_telegram");
}

#[tokio::test]
async fn a_websocket_ticket_is_single_use_and_expires() {
    let s = setup().await;
    let token = s.session().await;
    let ticket = |b: &Value| b["ticket"].as_str().unwrap().to_owned();
    let (status, body, _) = s
        .call(
            "POST",
            "/web/v1/ws-ticket",
            Some(ORIGIN),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let t = ticket(&body);
    let conn = ConnectionId("v1".to_owned());
    omnidesk_web_chat::connect_visitor(&s.deps, &conn, &t)
        .await
        .unwrap();
    assert!(
        omnidesk_web_chat::connect_visitor(&s.deps, &conn, &t)
            .await
            .is_err(),
        "a ticket is used once"
    );
    let (_, body, _) = s
        .call(
            "POST",
            "/web/v1/ws-ticket",
            Some(ORIGIN),
            Some(&token),
            None,
        )
        .await;
    s.clock.advance(std::time::Duration::from_secs(61));
    assert!(
        omnidesk_web_chat::connect_visitor(&s.deps, &conn, &ticket(&body))
            .await
            .is_err(),
        "a ticket expires after 60 s"
    );
    assert!(
        omnidesk_web_chat::connect_visitor(&s.deps, &conn, "forged")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_signed_in_user_is_one_contact_across_browsers_and_forged_signatures_are_refused() {
    let s = setup().await;
    let laptop = s.session().await;
    let identify = |token: String, body: Value| {
        let s = &s;
        async move {
            s.call(
                "POST",
                "/web/v1/identify",
                Some(ORIGIN),
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let (status, _, _) = identify(
        laptop.clone(),
        json!({"user_id": "u-42", "user_hash": hmac_hex(SITE_SECRET, "u-42")}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    s.send(&laptop, "Order #1024 has no tracking update", "l1")
        .await;
    s.route_all().await;

    // The same user on a phone (a JWT this time): one contact, and the chat continues there.
    let phone = s.session().await;
    let exp = s.clock.now().secs() + 600;
    let (status, session, _) = identify(
        phone.clone(),
        json!({"user_jwt": site_jwt(SITE_SECRET, "u-42", exp)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let history = s.history(&phone).await;
    assert_eq!(history.len(), 1, "the laptop's history shows on the phone");
    s.send(&phone, "any news?", "p1").await;
    s.route_all().await;
    assert_eq!(
        s.history(&laptop).await.len(),
        2,
        "one conversation for both browsers"
    );

    // Forged, wrong user, expired, wrong key: refused, nothing linked.
    let stranger = s.session().await;
    for body in [
        json!({"user_id": "u-42", "user_hash": hmac_hex("wrong secret", "u-42")}),
        json!({"user_id": "u-42", "user_hash": hmac_hex(SITE_SECRET, "u-43")}),
        json!({"user_id": "u-42", "user_hash": "zz"}),
        json!({"user_jwt": site_jwt(SITE_SECRET, "u-42", s.clock.now().secs() - 1)}),
        json!({"user_jwt": site_jwt("wrong secret", "u-42", exp)}),
    ] {
        let (status, b, _) = identify(stranger.clone(), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}: {b}");
        assert_eq!(b["error"]["code"], "identity_not_verified");
    }
    assert!(s.history(&stranger).await.is_empty());
    let (status, _, _) = identify(stranger.clone(), json!({"user_id": "u-42"})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a user id alone proves nothing"
    );

    // A website without an identity secret cannot verify anyone.
    let plain = setup_with(false).await;
    let mut site = plain
        .store
        .get_website(plain.website)
        .await
        .unwrap()
        .unwrap();
    site.identity_secret = None;
    plain.store.put_website(&site).await.unwrap();
    let token = plain.session().await;
    let (status, b, _) = plain
        .call(
            "POST",
            "/web/v1/identify",
            Some(ORIGIN),
            Some(&token),
            Some(json!({"user_id": "u-42", "user_hash": hmac_hex(SITE_SECRET, "u-42")})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{b}");
}

// ---------------------------------------------------------------------------------------------
// Files

const BOUNDARY: &str = "widget-test-boundary-x7Qp";

/// A form with one `file` part.
fn file_form(name: &str, mime: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: {mime}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

impl Setup {
    async fn upload(
        &self,
        token: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let req = Request::builder()
            .method("POST")
            .uri("/web/v1/files")
            .header("origin", ORIGIN)
            .header("authorization", format!("Bearer {token}"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(body))
            .unwrap();
        let res = router(self.deps.clone()).oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            headers,
        )
    }

    async fn send_files(&self, token: &str, text: &str, ids: &[&str]) -> (StatusCode, Value) {
        let (s, b, _) = self
            .call(
                "POST",
                "/web/v1/messages",
                Some(ORIGIN),
                Some(token),
                Some(json!({"text": text, "attachments": ids})),
            )
            .await;
        (s, b)
    }
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n a photo";

#[tokio::test]
async fn a_visitor_uploads_a_photo_sends_it_and_reads_it_back_with_a_signed_link() {
    let s = setup().await;
    let token = s.session().await;
    let (status, up, headers) = s
        .upload(&token, file_form("broken.png", "image/png", PNG))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    assert_eq!(headers.get("access-control-allow-origin").unwrap(), ORIGIN);
    let file = &up["file"];
    assert_eq!(file["kind"], "image");
    assert_eq!(file["file_name"], "broken.png");
    assert_eq!(file["mime_type"], "image/png");
    assert_eq!(file["size_bytes"], PNG.len());
    assert!(file["url"].as_str().unwrap().starts_with("memory://"));
    let id = file["id"].as_str().unwrap();

    // Files alone make a message.
    let (status, msg) = s.send_files(&token, "", &[id]).await;
    assert_eq!(status, StatusCode::CREATED, "{msg}");
    assert_eq!(msg["attachments"][0]["file_name"], "broken.png");
    assert!(msg["attachments"][0]["url"].is_string());

    s.route_all().await;
    let items = s.history(&token).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let a = &items[0]["attachments"][0];
    assert_eq!(a["kind"], "image");
    assert_eq!(a["reference"], "upload");
    assert!(
        a["url"].as_str().unwrap().contains("name=broken.png"),
        "{a}"
    );

    // The agent's side: the stored message has the file (no link stored).
    let conversation = omnidesk_web_chat::visitor_conversation(
        &s.deps,
        s.website,
        s.deps
            .keys
            .verify(&token, s.clock.now())
            .unwrap()
            .visitor_id,
    )
    .await
    .unwrap()
    .unwrap();
    use omnidesk_core::MessageStore;
    let stored = s
        .store
        .list_messages(conversation.id, &omnidesk_core::PageRequest::first(10))
        .await
        .unwrap()
        .items;
    let m = stored.iter().find(|m| !m.attachments.is_empty()).unwrap();
    assert!(m.attachments[0].blob.is_some());
    assert!(m.attachments[0].url.is_none());
}

#[tokio::test]
async fn a_token_of_another_visitor_or_a_tampered_one_is_refused() {
    let s = setup().await;
    let ann = s.session().await;
    let bob = s.session().await;
    let (_, up, _) = s
        .upload(&ann, file_form("a.pdf", "application/pdf", b"%PDF"))
        .await;
    let id = up["file"]["id"].as_str().unwrap().to_owned();

    let (status, body) = s.send_files(&bob, "mine now", &[&id]).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "invalid_attachment");

    // Another name (an .html) under the same signature.
    let mut parts: Vec<&str> = id.split('.').collect();
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let mut payload: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    payload["n"] = json!("a.html");
    payload["m"] = json!("text/html");
    let forged_body = B64.encode(payload.to_string());
    parts[1] = &forged_body;
    let forged = parts.join(".");
    for bad in [forged.as_str(), "u1.x.y", "not-a-token"] {
        let (status, body) = s.send_files(&ann, "", &[bad]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_attachment");
    }
    let eleven: Vec<&str> = (0..11).map(|_| id.as_str()).collect();
    let (status, body) = s.send_files(&ann, "", &eleven).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "too_many_files");

    assert_eq!(s.queue.len(QueueName::Inbound), 0, "nothing was sent");
    let (status, _) = s.send_files(&ann, "here", &[&id]).await;
    assert_eq!(status, StatusCode::CREATED, "the owner's token works");
}

#[tokio::test]
async fn uploads_over_the_limit_empty_or_malformed_are_refused_clearly() {
    let s = setup().await;
    let token = s.session().await;
    let big = vec![1u8; 1024 * 1024 + 1];
    let (status, body, _) = s
        .upload(&token, file_form("big.zip", "application/zip", &big))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "file_too_large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("big.zip")
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("1 MB"));

    let (status, body, _) = s
        .upload(&token, file_form("e.txt", "text/plain", b""))
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["error"]["code"], "empty_file");

    let (status, body, _) = s
        .call(
            "POST",
            "/web/v1/files",
            Some(ORIGIN),
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_form");

    let (status, _, _) = s
        .upload("garbage", file_form("a.png", "image/png", PNG))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_html_upload_is_a_file_that_downloads() {
    let s = setup().await;
    let token = s.session().await;
    let (status, up, _) = s
        .upload(
            &token,
            file_form("page.html", "text/html", b"<script>x</script>"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    assert_eq!(up["file"]["kind"], "file");
    assert_eq!(up["file"]["mime_type"], "text/html");
    assert!(
        omnidesk_core::content_disposition(Some("page.html"), "text/html")
            .starts_with("attachment;")
    );
}

/// The visitor's conversation after their first message, with a bot message offering
/// `buttons` (as the router stores the greeting or a rating question).
async fn bot_offers(s: &Setup, token: &str, buttons: &[(&str, &str)]) -> omnidesk_domain::Message {
    use omnidesk_core::{IdGen, MessageStore};
    let (status, first) = s.send(token, "Where is my parcel?", "c-first").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    s.route_all().await;
    let conversation =
        omnidesk_domain::ConversationId::parse(first["conversation_id"].as_str().unwrap()).unwrap();
    s.clock.advance(std::time::Duration::from_secs(1));
    let mut m = omnidesk_domain::Message::outbound(
        UuidV7Ids.message_id(),
        conversation,
        omnidesk_domain::Author::Bot,
        omnidesk_domain::Channel::Web,
        "How would you rate our help?".to_owned(),
        s.clock.now(),
    );
    m.buttons = buttons
        .iter()
        .map(|(text, data)| omnidesk_domain::Button {
            text: (*text).to_owned(),
            data: (*data).to_owned(),
        })
        .collect();
    s.store.append_message(&m).await.unwrap();
    m
}

async fn send_choice(s: &Setup, token: &str, body: Value) -> (StatusCode, Value) {
    let (status, b, _) = s
        .call(
            "POST",
            "/web/v1/messages",
            Some(ORIGIN),
            Some(token),
            Some(body),
        )
        .await;
    (status, b)
}

#[tokio::test]
async fn a_listed_message_carries_its_buttons() {
    let s = setup().await;
    let token = s.session().await;
    let asked = bot_offers(&s, &token, &[("⭐", "csat:1"), ("⭐⭐⭐⭐⭐", "csat:5")]).await;
    let items = s.history(&token).await;
    let question = items
        .iter()
        .find(|m| m["id"] == asked.id.to_string())
        .unwrap();
    assert_eq!(
        question["buttons"],
        json!([{"text": "⭐", "data": "csat:1"}, {"text": "⭐⭐⭐⭐⭐", "data": "csat:5"}])
    );
    let mine = items.iter().find(|m| m["direction"] == "inbound").unwrap();
    assert!(
        mine.get("buttons").is_none(),
        "no buttons, no field: {mine}"
    );
}

#[tokio::test]
async fn a_choice_that_was_offered_is_accepted_and_reaches_the_router_as_a_choice() {
    use omnidesk_core::Queue;
    let s = setup().await;
    let token = s.session().await;
    bot_offers(&s, &token, &[("Talk to a person", "human")]).await;
    let (status, sent) = send_choice(
        &s,
        &token,
        json!({"text": "Talk to a person", "choice": "human", "client_id": "c-human"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["text"], "Talk to a person");
    let queued = s
        .queue
        .receive(QueueName::Inbound, 10, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    let event: omnidesk_domain::InboundEvent = serde_json::from_str(&queued[0].body).unwrap();
    let omnidesk_domain::InboundSource::Message(m) = event.source else {
        panic!("not a message: {:?}", event.source);
    };
    assert_eq!(m.choice.as_deref(), Some("human"));
    assert_eq!(m.text, "Talk to a person", "the label is the message");
    // The router takes it as it takes a Telegram callback button.
    Box::pin(omnidesk_router::handle_body(
        &s.router_deps,
        &queued[0].body,
    ))
    .await
    .unwrap();
    let items = s.history(&token).await;
    assert!(
        items
            .iter()
            .any(|m| m["client_id"] == "c-human" && m["text"] == "Talk to a person"),
        "{items:?}"
    );
}

#[tokio::test]
async fn a_choice_never_offered_is_refused_as_unknown_choice() {
    let s = setup().await;
    let token = s.session().await;
    // Before any conversation, nothing was offered.
    let (status, b) = send_choice(&s, &token, json!({"text": "5", "choice": "csat:5"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{b}");
    assert_eq!(b["error"]["code"], "unknown_choice");
    bot_offers(&s, &token, &[("Talk to a person", "human")]).await;
    for forged in ["csat:5", "humans", "Human"] {
        let (status, b) = send_choice(&s, &token, json!({"text": "x", "choice": forged})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{forged}: {b}");
        assert_eq!(b["error"]["code"], "unknown_choice", "{forged}: {b}");
    }
    // A button that scrolled out of the last 20 messages from the other side is gone too.
    {
        use omnidesk_core::{IdGen, MessageStore};
        let conversation = omnidesk_web_chat::visitor_conversation(
            &s.deps,
            s.website,
            serde_json::from_value(
                s.call("GET", "/web/v1/session", Some(ORIGIN), Some(&token), None)
                    .await
                    .1["visitor_id"]
                    .clone(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        for i in 0..omnidesk_web_chat::CHOICE_WINDOW {
            s.clock.advance(std::time::Duration::from_secs(1));
            let m = omnidesk_domain::Message::outbound(
                UuidV7Ids.message_id(),
                conversation.id,
                omnidesk_domain::Author::Bot,
                omnidesk_domain::Channel::Web,
                format!("Answer {i}"),
                s.clock.now(),
            );
            s.store.append_message(&m).await.unwrap();
        }
    }
    let (status, b) = send_choice(&s, &token, json!({"text": "Talk", "choice": "human"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{b}");
    assert_eq!(b["error"]["code"], "unknown_choice");
    assert_eq!(
        s.queue.len(QueueName::Inbound),
        0,
        "nothing refused reaches the router"
    );
}

#[tokio::test]
async fn a_malformed_choice_gets_a_clear_400() {
    let s = setup().await;
    let token = s.session().await;
    bot_offers(&s, &token, &[("Talk to a person", "human")]).await;
    for body in [
        json!({"text": "x", "choice": ""}),
        json!({"text": "x", "choice": "c".repeat(65)}),
        json!({"text": "x", "choice": "has space"}),
        json!({"text": "x", "choice": "csat/5"}),
        json!({"text": "x", "choice": "ünïcode"}),
        json!({"text": "x", "choice": null}),
        json!({"text": "x", "choice": 5}),
        json!({"text": "x", "choice": ["human"]}),
        json!({"choice": "human"}),
        json!({"text": "x", "choice": "human", "attachments": ["u1.a.b"]}),
    ] {
        let (status, b) = send_choice(&s, &token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {b}");
        assert_eq!(b["error"]["code"], "invalid_input", "{body}: {b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(
            ["choice", "body", "text"]
                .iter()
                .any(|f| message.starts_with(f)),
            "{body}: {b}"
        );
    }
}
