use std::time::{Duration, Instant};

use omnidesk_core::{BotMode, DeadLetterStore, PageRequest};
use omnidesk_telegram::fake::FakeFailure;
use serde_json::{Value, json};

use crate::harness::{Harness, SECRET, private_update};

const WAIT: Duration = Duration::from_secs(10);

fn inbound_with_text(text: &'static str) -> impl Fn(&Value) -> bool {
    move |ev| {
        ev["type"] == "message.created"
            && ev["message"]["direction"] == "inbound"
            && ev["message"]["text"] == text
    }
}

async fn conversation_of(
    h: &Harness,
    ws: &mut crate::harness::Ws,
    chat: i64,
    update_id: u64,
    text: &'static str,
) -> String {
    assert_eq!(
        h.webhook(&private_update(update_id, chat, text), Some(SECRET))
            .await,
        200
    );
    let ev = ws
        .wait_for(WAIT, inbound_with_text(text))
        .await
        .expect("the agent sees the message");
    ev["conversation_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_update_reaches_the_agent_and_the_reply_reaches_telegram() {
    let h = Harness::start().await;
    let mut ws = h.connect_ws().await;
    let started = Instant::now();
    assert_eq!(
        h.webhook(&private_update(1, 5001, "Where is my order?"), Some(SECRET))
            .await,
        200
    );
    let ev = ws
        .wait_for(WAIT, inbound_with_text("Where is my order?"))
        .await
        .expect("message.created pushed");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "pushed in {:?}",
        started.elapsed()
    );
    assert_eq!(ev["message"]["author"]["kind"], "contact");
    assert_eq!(ev["message"]["channel"], "telegram");
    let conv = ev["conversation_id"].as_str().unwrap().to_owned();
    // The conversation as it now is rides on the step's last message.created (the assignment
    // event), not on a separate conversation.updated.
    let assigned = ws
        .wait_for(WAIT, |ev| {
            ev["type"] == "message.created" && ev["conversation"]["status"] == "assigned"
        })
        .await
        .expect("message.created carrying the assigned conversation");
    assert_eq!(assigned["conversation"]["id"], conv);
    assert_eq!(assigned["message"]["event"]["event"], "assigned");
    assert_eq!(
        assigned["conversation"]["last_message"]["text"],
        "Where is my order?"
    );

    // The conversation is queued for a human and assigned to the only online agent.
    let list = h
        .eventually("/api/v1/conversations?status=all", WAIT, |v| {
            v["items"][0]["status"] == "assigned"
        })
        .await;
    let item = &list["items"][0];
    assert_eq!(item["id"], conv);
    assert_eq!(item["contact"]["display_name"], "Ann Lee");
    assert_eq!(item["last_message"]["text"], "Where is my order?");
    assert!(item["assignee_id"].as_str().unwrap().starts_with("ag_"));

    // The agent replies; the fake Telegram receives sendMessage to the right chat.
    let res = h
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({"text": "It ships today."}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let reply: Value = res.json().await.unwrap();
    assert_eq!(reply["direction"], "outbound");
    let created = ws
        .wait_for(WAIT, |ev| {
            ev["type"] == "message.created" && ev["message"]["id"] == reply["id"]
        })
        .await
        .expect("the reply is pushed");
    assert_eq!(
        created["conversation"]["last_message"]["id"], reply["id"],
        "the reply carries the conversation it changed"
    );
    assert!(
        !h.fake.wait_for_sent(1, WAIT).await.is_empty(),
        "sendMessage reached the fake Telegram"
    );
    let sent = h.fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].chat_id, 5001);
    assert_eq!(sent[0].text, "It ships today.");
    let updated = ws
        .wait_for(WAIT, |ev| {
            ev["type"] == "message.updated" && ev["message"]["delivery"]["status"] == "sent"
        })
        .await
        .expect("message.updated with delivery sent");
    assert_eq!(updated["message"]["id"], reply["id"]);

    // The timeline holds both, in order, with delivery states.
    let msgs = h
        .get(&format!("/api/v1/conversations/{conv}/messages"))
        .await;
    let texts: Vec<&str> = msgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"]["kind"] != "system")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["Where is my order?", "It ships today."]);
    let last = msgs["items"].as_array().unwrap().last().unwrap();
    assert_eq!(last["delivery"]["status"], "sent");
}

#[tokio::test]
async fn start_and_help_are_answered_by_the_bot_itself() {
    let h = Harness::start().await;
    assert_eq!(
        h.webhook(&private_update(1, 5002, "/start"), Some(SECRET))
            .await,
        200
    );
    assert!(!h.fake.wait_for_sent(1, WAIT).await.is_empty());
    assert_eq!(h.fake.sent()[0].chat_id, 5002);
    assert!(h.fake.sent()[0].text.starts_with("Hi!"));
    let list = h.get("/api/v1/conversations?status=all").await;
    assert_eq!(
        list["items"][0]["status"], "bot",
        "a greeting does not need a human"
    );
}

#[tokio::test]
async fn the_same_update_delivered_twice_appears_once() {
    let h = Harness::start().await;
    let body = private_update(42, 5003, "duplicate me");
    assert_eq!(h.webhook(&body, Some(SECRET)).await, 200);
    assert_eq!(h.webhook(&body, Some(SECRET)).await, 200);
    let list = h
        .eventually("/api/v1/conversations?status=all", WAIT, |v| {
            !v["items"].as_array().unwrap().is_empty()
        })
        .await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        h.webhook(&body, Some(SECRET)).await,
        200,
        "a late redelivery is acked too"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let msgs = h
        .get(&format!("/api/v1/conversations/{conv}/messages"))
        .await;
    let inbound: Vec<&Value> = msgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "inbound")
        .collect();
    assert_eq!(inbound.len(), 1, "{msgs}");
}

#[tokio::test]
async fn a_wrong_or_missing_secret_gets_401_and_stores_nothing() {
    let h = Harness::start().await;
    assert_eq!(
        h.webhook(&private_update(1, 5004, "hi"), Some("wrong-secret"))
            .await,
        401
    );
    assert_eq!(h.webhook(&private_update(2, 5004, "hi"), None).await, 401);
    assert_eq!(h.webhook("not even json", Some("wrong")).await, 401);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let list = h.get("/api/v1/conversations?status=all").await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let store = &h.app.as_ref().unwrap().adapters.store;
    assert!(
        store
            .list_dead_letters(&PageRequest::first(10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // An unknown bot is 404.
    let res = h
        .http
        .post(format!("{}/telegram/999/webhook", h.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn malformed_bodies_are_acked_and_kept_for_an_operator() {
    let h = Harness::start().await;
    for body in [
        "not json at all",
        "{}",
        "[1,2,3]",
        r#"{"update_id":"x"}"#,
        "",
    ] {
        assert_eq!(
            h.webhook(body, Some(SECRET)).await,
            200,
            "{body:?} must be acked so Telegram stops retrying"
        );
    }
    // An update of a kind we do not know yet is a valid update, not poison.
    assert_eq!(
        h.webhook(r#"{"update_id":77,"future_kind":{"x":1}}"#, Some(SECRET))
            .await,
        200
    );
    let store = &h.app.as_ref().unwrap().adapters.store;
    let dead = store
        .list_dead_letters(&PageRequest::first(20))
        .await
        .unwrap()
        .items;
    assert_eq!(dead.len(), 5, "{dead:?}");
    assert!(dead.iter().any(|d| d.body == "not json at all"));
    assert!(
        dead.iter()
            .all(|d| d.source.starts_with("telegram:") && !d.reason.is_empty())
    );
    let listed = omnidesk::admin::dead_letters(&h.config, 20).await.unwrap();
    assert!(listed.contains("not json at all"));
    // An oversized body is refused before it is read.
    let big = "x".repeat(2 * 1024 * 1024);
    assert_eq!(h.webhook(&big, Some(SECRET)).await, 413);
    // The server is still healthy.
    let res = h
        .http
        .get(format!("{}/healthz", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn telegram_429_retry_after_is_honoured() {
    let h = Harness::start().await;
    let mut ws = h.connect_ws().await;
    let conv = conversation_of(&h, &mut ws, 5005, 1, "slow please").await;
    h.fake.fail_next(5005, FakeFailure::RetryAfter(2));
    let posted = Instant::now();
    let res = h
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({"text": "after the wait"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert!(
        !h.fake
            .wait_for_sent(1, Duration::from_secs(15))
            .await
            .is_empty()
    );
    let sent = h.fake.sent();
    assert_eq!(sent.len(), 1, "delivered exactly once");
    assert_eq!(sent[0].text, "after the wait");
    let waited = sent[0].at.duration_since(posted);
    assert!(
        waited >= Duration::from_secs(2),
        "retry_after=2 honoured, sent after {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(8),
        "not delayed far beyond retry_after: {waited:?}"
    );
}

#[tokio::test]
async fn a_blocked_bot_marks_the_contact_unreachable_and_the_agent_sees_why() {
    let h = Harness::start().await;
    let mut ws = h.connect_ws().await;
    let conv = conversation_of(&h, &mut ws, 5006, 1, "bye").await;
    h.fake.fail_next(5006, FakeFailure::Blocked);
    let res = h
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({"text": "are you there?"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let failed = ws
        .wait_for(WAIT, |ev| {
            ev["type"] == "message.updated" && ev["message"]["delivery"]["status"] == "failed"
        })
        .await
        .expect("the agent is told the message failed");
    assert_eq!(
        failed["message"]["delivery"]["reason"],
        "Forbidden: bot was blocked by the user"
    );
    let contact_id = h.get(&format!("/api/v1/conversations/{conv}")).await["contact"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let contact = h.get(&format!("/api/v1/contacts/{contact_id}")).await;
    let unreachable = contact["unreachable"].as_array().expect("unreachable list");
    assert_eq!(unreachable.len(), 1, "{contact}");
    assert_eq!(unreachable[0]["channel"], "telegram");
    assert!(
        unreachable[0]["reason"]
            .as_str()
            .unwrap()
            .contains("blocked")
    );
    assert!(h.fake.sent().is_empty(), "nothing was delivered");
}

#[tokio::test]
async fn a_long_text_is_split_into_telegram_sized_messages() {
    let h = Harness::start().await;
    let mut ws = h.connect_ws().await;
    let conv = conversation_of(&h, &mut ws, 5007, 1, "send me the manual").await;
    let text = "lorem ipsum ".repeat(700); // 8400 characters
    let res = h
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({"text": text}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert!(h.fake.wait_for_sent(3, Duration::from_secs(15)).await.len() >= 3);
    let sent = h.fake.sent();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter()
            .all(|m| m.text.chars().count() <= 4096 && m.chat_id == 5007)
    );
    // Telegram trims whitespace at the edges of a message; every word arrives, in order.
    let words: Vec<&str> = sent
        .iter()
        .flat_map(|m| m.text.split_whitespace())
        .collect();
    assert_eq!(words, text.split_whitespace().collect::<Vec<_>>());
    // 1 message/s per chat.
    assert!(sent[1].at.duration_since(sent[0].at) >= Duration::from_millis(950));
}

#[tokio::test]
async fn long_polling_delivers_updates_without_a_webhook() {
    let h = Harness::start_with(BotMode::Polling).await;
    let mut ws = h.connect_ws().await;
    h.fake
        .push_update(&private_update(900, 5008, "via getUpdates"));
    let ev = ws
        .wait_for(WAIT, inbound_with_text("via getUpdates"))
        .await
        .expect("polled update reaches the agent");
    assert_eq!(ev["message"]["channel"], "telegram");
}

#[tokio::test]
async fn the_websocket_rejects_a_bad_token_and_answers_pings() {
    let h = Harness::start().await;
    let url = format!("ws://{}/ws?token=not-a-jwt", h.app.as_ref().unwrap().addr);
    assert!(
        tokio_tungstenite::connect_async(url).await.is_err(),
        "a bad token must not connect"
    );
    let url = format!("ws://{}/ws", h.app.as_ref().unwrap().addr);
    assert!(
        tokio_tungstenite::connect_async(url).await.is_err(),
        "no token must not connect"
    );
    let mut ws = h.connect_ws().await;
    ws.send_text(r#"{"action":"ping"}"#).await;
    let pong = ws.wait_for(WAIT, |ev| ev["type"] == "pong").await;
    assert!(pong.is_some());
    ws.send_text("garbage").await;
    let err = ws.wait_for(WAIT, |ev| ev["type"] == "error").await;
    assert!(err.is_some());
    // The same handshake as on API Gateway, where `hello` cannot be pushed at connect.
    ws.send_text(r#"{"action":"hello"}"#).await;
    let hello = ws
        .wait_for(WAIT, |ev| ev["type"] == "hello")
        .await
        .expect("hello on request");
    assert!(hello["agent_id"].as_str().unwrap().starts_with("ag_"));
}

#[tokio::test]
async fn set_webhook_sends_the_url_and_secret_and_webhook_info_reads_it_back() {
    let h = Harness::start().await;
    let bot = crate::harness::bot_id().to_string();
    let url = omnidesk::admin::set_webhook(&h.config, &bot, "https://support.example.com/", false)
        .await
        .unwrap();
    assert_eq!(
        url,
        format!("https://support.example.com/telegram/{bot}/webhook")
    );
    let hook = h
        .fake
        .webhook()
        .expect("setWebhook reached the fake Telegram");
    assert_eq!(hook.url, url);
    assert_eq!(hook.secret_token.as_deref(), Some(SECRET));
    let info = omnidesk::admin::webhook_info(&h.config, &bot)
        .await
        .unwrap();
    assert_eq!(info.url, url);
    // Telegram only delivers to https; a plain http URL is refused before any call.
    assert!(
        omnidesk::admin::set_webhook(&h.config, &bot, "http://insecure.example.com", false)
            .await
            .is_err()
    );
    assert!(
        omnidesk::admin::set_webhook(&h.config, "999", "https://x.example.com", false)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_unanswered_conversation_of_an_agent_who_went_offline_returns_to_the_queue() {
    let h = Harness::start_configured(BotMode::Webhook, |config| {
        config.router.reassign_after = Some(Duration::from_secs(1));
    })
    .await;
    let mut ws = h.connect_ws().await;
    let conv = conversation_of(&h, &mut ws, 5301, 31, "Is anyone there?").await;
    let path = format!("/api/v1/conversations/{conv}");
    let assigned = h
        .eventually(&path, WAIT, |v| v["status"] == "assigned")
        .await;
    assert_eq!(assigned["status"], "assigned", "{assigned}");
    // The only agent leaves without answering: the reassignment timer (the embedded timers
    // queue) gives the conversation back to the queue instead of leaving it with nobody.
    let res = h
        .put("/api/v1/agents/me/status", json!({"status": "offline"}))
        .await;
    assert_eq!(res.status(), 200);
    let queued = h.eventually(&path, WAIT, |v| v["status"] == "queued").await;
    assert_eq!(queued["status"], "queued", "{queued}");
    assert!(queued["assignee_id"].is_null(), "{queued}");
    let ev = ws
        .wait_for(WAIT, |ev| {
            ev["type"] == "message.created" && ev["message"]["event"]["event"] == "unassigned"
        })
        .await
        .expect("agents see the conversation go back to the queue");
    assert_eq!(ev["conversation"]["status"], "queued");
}
