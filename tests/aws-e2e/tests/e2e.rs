//! The pipeline end to end on the AWS adapters against moto, through the Lambda event shapes:
//! Telegram update → webhook (API Gateway v2 event) → inbound FIFO → router (SQS batch) →
//! DynamoDB → `PostToConnection` to the connected agent → agent reply (API Gateway v2 event)
//! → outbound FIFO → sender (SQS batch) → Telegram `sendMessage`.
//!
//! Needs `OMNIDESK_TEST_AWS_ENDPOINT` (a moto server on 127.0.0.1); without it every test prints
//! why and passes. `infra/ci/moto-tests.sh` starts moto and runs them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use axum::http::StatusCode;
use omnidesk_aws_e2e::{
    AiOptions, BOT_ID, MAILBOX, Stack, StackOptions, Tally, Translation, WEB_ORIGIN,
    WEBHOOK_SECRET, moto_endpoint, ses_event, sqs_event, text_update, text_update_in,
};
use omnidesk_core::{
    ConversationFilter, ConversationStore, JobError, JobOutcome, MessageStore, OutgoingMessage,
    PageRequest, Queue, QueueName,
};
use omnidesk_domain::{ConversationKey, Direction, Message, TranslationStatus};
use omnidesk_email_inbound::Ingested;
use omnidesk_lambda::{SqsSettle, run_sqs_batch};
use parking_lot::Mutex;
use serde_json::Value;

async fn stack(test: &str, options: StackOptions) -> Option<Stack> {
    let endpoint = moto_endpoint().unwrap_or_else(|e| panic!("{e}"))?;
    let _ = test;
    Some(
        Stack::start_with(&endpoint, options)
            .await
            .unwrap_or_else(|e| panic!("starting the stack on moto at {endpoint}: {e:#}")),
    )
}

macro_rules! skip_without_moto {
    ($name:literal) => {
        skip_without_moto!($name, StackOptions::default())
    };
    ($name:literal, $options:expr) => {
        match stack($name, $options).await {
            Some(s) => s,
            None => {
                eprintln!(
                    "{}: skipped, OMNIDESK_TEST_AWS_ENDPOINT is not set (run infra/ci/moto-tests.sh \
                     to start moto and run the AWS end-to-end tests)",
                    $name
                );
                return;
            }
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_message_reaches_the_agent_and_the_agent_reply_reaches_telegram() {
    let s = skip_without_moto!(
        "a_telegram_message_reaches_the_agent_and_the_agent_reply_reaches_telegram"
    );
    let (agent, token) = s.online_agent("eve@example.com").await.expect("agent");
    let connect = s.ws_connect("conn-eve-1", &token).await.expect("$connect");
    assert_eq!(connect.status_code, 200, "the agent's $connect is accepted");
    let refused = s
        .ws_connect("conn-bad", "not-a-token")
        .await
        .expect("$connect");
    assert_eq!(
        refused.status_code, 401,
        "a bad token is refused at $connect"
    );

    // Telegram → webhook → inbound queue.
    let update = text_update(9001, 555_001, 17, "Where is my order #42?");
    let status = s
        .webhook_request(WEBHOOK_SECRET, &update)
        .await
        .expect("webhook");
    assert_eq!(status, StatusCode::OK);
    let wrong = s
        .webhook_request("wrong-secret", &update)
        .await
        .expect("webhook");
    assert_eq!(wrong, StatusCode::UNAUTHORIZED, "a wrong secret is refused");

    // Router via the event source mapping.
    let done = s.drain(QueueName::Inbound, 5).await.expect("router");
    assert_eq!(done, 1, "the router processed the one update");
    let created = s.connections.events("conn-eve-1", "message.created");
    let inbound: Vec<_> = created
        .iter()
        .filter(|e| e["message"]["text"] == "Where is my order #42?")
        .collect();
    assert_eq!(
        inbound.len(),
        1,
        "the agent saw message.created once: {created:?}"
    );
    let conversation_id = inbound[0]["conversation_id"]
        .as_str()
        .expect("conversation id")
        .to_owned();
    let conv = s
        .store
        .conversation_by_key(&ConversationKey::telegram_private(
            omnidesk_domain::BotId::parse(&BOT_ID.to_string()).expect("bot id"),
            omnidesk_domain::TelegramChatId(555_001),
        ))
        .await
        .expect("read")
        .expect("the conversation exists in DynamoDB");
    assert_eq!(conv.id.to_string(), conversation_id);
    assert_eq!(
        conv.assignee_id,
        Some(agent.id),
        "assigned to the online agent"
    );

    // Agent reply → outbound queue → sender → Telegram.
    let (status, body) = s
        .agent_reply(&conversation_id, &token, "It ships today.", "reply-1")
        .await
        .expect("reply");
    assert!(status.is_success(), "reply answered {status}: {body}");
    let sent = s.drain(QueueName::Outbound, 5).await.expect("sender");
    assert_eq!(sent, 1, "the sender processed the reply");
    let messages = s.telegram.sent();
    assert_eq!(
        messages.len(),
        1,
        "Telegram got one sendMessage: {messages:?}"
    );
    assert_eq!(messages[0].chat_id, 555_001);
    assert_eq!(messages[0].text, "It ships today.");
    let updated = s.connections.events("conn-eve-1", "message.updated");
    assert!(
        updated
            .iter()
            .any(|e| e["message"]["delivery"]["status"] == "sent"),
        "the agent saw the reply marked sent: {updated:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_telegram_update_is_stored_and_pushed_once() {
    let s = skip_without_moto!("a_redelivered_telegram_update_is_stored_and_pushed_once");
    let (_agent, token) = s.online_agent("dup@example.com").await.expect("agent");
    assert_eq!(
        s.ws_connect("conn-dup", &token)
            .await
            .expect("$connect")
            .status_code,
        200
    );
    let update = text_update(7001, 555_002, 3, "hello twice");
    for _ in 0..3 {
        let status = s
            .webhook_request(WEBHOOK_SECRET, &update)
            .await
            .expect("webhook");
        assert_eq!(status, StatusCode::OK, "every redelivery is acked");
    }
    let done = s.drain(QueueName::Inbound, 5).await.expect("router");
    assert_eq!(done, 1, "SQS deduplicated the redeliveries");
    let seen = s
        .connections
        .events("conn-dup", "message.created")
        .into_iter()
        .filter(|e| e["message"]["text"] == "hello twice")
        .count();
    assert_eq!(seen, 1, "the agent saw the message once");
    let convs = s
        .store
        .list_conversations(&ConversationFilter::default(), &PageRequest::first(10))
        .await
        .expect("list");
    assert_eq!(convs.items.len(), 1);
    let msgs = s
        .store
        .list_messages(convs.items[0].id, &PageRequest::first(50))
        .await
        .expect("messages");
    let inbound = msgs
        .items
        .iter()
        .filter(|m| m.direction == Direction::Inbound)
        .count();
    assert_eq!(inbound, 1, "one inbound message stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_message_holds_back_its_fifo_group_while_other_groups_succeed() {
    let s = skip_without_moto!(
        "a_failing_message_holds_back_its_fifo_group_while_other_groups_succeed"
    );
    for (group, n) in [("chat-a", 3), ("chat-b", 2)] {
        for i in 0..n {
            s.queue
                .send(
                    QueueName::Inbound,
                    OutgoingMessage::fifo(group, format!("{group}-{i}"), format!("{group}:{i}")),
                )
                .await
                .expect("send");
        }
    }
    let url = s.queue.urls().inbound.url.clone();
    let mut messages = Vec::new();
    for _ in 0..5 {
        let out = s
            .sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        messages.extend(out.messages.unwrap_or_default());
        if messages.len() >= 5 {
            break;
        }
    }
    assert_eq!(messages.len(), 5, "all five messages were received");
    let event = sqs_event(&messages, &url);
    assert!(
        event
            .records
            .iter()
            .all(|r| r.attributes.contains_key("MessageGroupId")
                && r.attributes.contains_key("ApproximateReceiveCount")),
        "records carry the FIFO attributes"
    );
    let id_of = |body: &str| {
        event
            .records
            .iter()
            .find(|r| r.body.as_deref() == Some(body))
            .and_then(|r| r.message_id.clone())
            .expect("record")
    };
    let (a0, a1, a2) = (id_of("chat-a:0"), id_of("chat-a:1"), id_of("chat-a:2"));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let invoked = AtomicUsize::new(0);
    let settle = SqsSettle::new(s.queue.clone(), QueueName::Inbound);
    let response = run_sqs_batch(event, true, &settle, |body, _count| {
        invoked.fetch_add(1, Ordering::SeqCst);
        seen.lock().push(body.clone());
        async move {
            if body == "chat-a:1" {
                Err(JobError::Transient("store unavailable".to_owned()))
            } else {
                Ok(JobOutcome::Done)
            }
        }
    })
    .await;
    let mut failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    failed.sort();
    let mut expected = vec![a1, a2];
    expected.sort();
    assert_eq!(
        failed, expected,
        "the failed message and the rest of its group are reported"
    );
    assert!(
        !failed.contains(&a0),
        "the group's earlier message succeeded"
    );
    let calls = calls.lock().clone();
    assert!(
        !calls.contains(&"chat-a:2".to_owned()),
        "the group stopped at its failure"
    );
    assert!(calls.contains(&"chat-b:0".to_owned()) && calls.contains(&"chat-b:1".to_owned()));
    assert_eq!(invoked.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_to_a_gone_connection_removes_it_and_the_pipeline_goes_on() {
    let s = skip_without_moto!("a_push_to_a_gone_connection_removes_it_and_the_pipeline_goes_on");
    let (_agent, token) = s.online_agent("gone@example.com").await.expect("agent");
    assert_eq!(
        s.ws_connect("conn-gone", &token)
            .await
            .expect("$connect")
            .status_code,
        200
    );
    s.connections.mark_gone("conn-gone");
    let update = text_update(8001, 555_003, 9, "anyone there?");
    assert_eq!(
        s.webhook_request(WEBHOOK_SECRET, &update)
            .await
            .expect("webhook"),
        StatusCode::OK
    );
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    let left = omnidesk_core::ConnectionStore::list_connections(s.store.as_ref())
        .await
        .expect("list");
    assert!(left.is_empty(), "the gone connection was removed: {left:?}");
    let _ = Duration::ZERO;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_conversation_is_reassigned_through_the_timers_queue() {
    let mut s =
        skip_without_moto!("an_unanswered_conversation_is_reassigned_through_the_timers_queue");
    // SQS's DelaySeconds, shortened for the test (300 s in production).
    s.router.settings.reassign_after = Some(Duration::from_secs(3));
    let (ann, ann_token) = s.online_agent("ann@example.com").await.expect("agent");
    let (bob, bob_token) = s.online_agent("bob@example.com").await.expect("agent");
    for (conn, token) in [("conn-ann", &ann_token), ("conn-bob", &bob_token)] {
        let connect = s.ws_connect(conn, token).await.expect("$connect");
        assert_eq!(connect.status_code, 200);
    }
    let update = text_update(9101, 555_101, 21, "Hello? Anyone there?");
    let status = s
        .webhook_request(WEBHOOK_SECRET, &update)
        .await
        .expect("webhook");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    let key = ConversationKey::telegram_private(
        omnidesk_domain::BotId::parse(&BOT_ID.to_string()).expect("bot id"),
        omnidesk_domain::TelegramChatId(555_101),
    );
    let first = s
        .store
        .conversation_by_key(&key)
        .await
        .expect("read")
        .expect("stored")
        .assignee_id
        .expect("assigned");
    let other = if first == ann.id { bob.id } else { ann.id };

    // Nothing is due before the delay: the timer waits on the queue (DelaySeconds).
    assert_eq!(s.poll(QueueName::Timers).await.expect("poll").received, 0);
    let mut reassigned = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        reassigned += s.drain(QueueName::Timers, 3).await.expect("timers");
        if reassigned > 0 {
            break;
        }
    }
    assert_eq!(
        reassigned, 1,
        "the router ran the timer once its delay passed"
    );
    let conv = s
        .store
        .conversation_by_key(&key)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        conv.assignee_id,
        Some(other),
        "nobody answered: the other online agent has it now"
    );
    for conn in ["conn-ann", "conn-bob"] {
        let seen = s.connections.events(conn, "message.created");
        assert!(
            seen.iter()
                .any(|e| e["message"]["event"]["event"] == "transferred"
                    && e["conversation"]["assignee_id"] == other.to_string()),
            "{conn} saw the transfer: {seen:?}"
        );
    }
}

/// The website flow through the Lambda handlers: a session and a message through the
/// web-chat function (API Gateway v2 events with `Origin`), a visitor socket on the WebSocket
/// API (`$connect?ticket=`, single use), the router's batch, the agent's push, an agent reply,
/// the sender's batch, and the reply on the visitor's socket. Returns the conversation id.
async fn web_round_trip(s: &Stack, agent_conn: &str, agent_token: &str, tag: &str) -> String {
    let body = serde_json::json!({ "website_id": s.website.id.to_string() }).to_string();
    let (status, created) = s
        .web_request(
            "POST",
            "/web/v1/sessions",
            None,
            Some(&body),
            Some(WEB_ORIGIN),
        )
        .await
        .expect("POST /web/v1/sessions");
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let visitor = created["visitor_token"].as_str().expect("token").to_owned();
    // The visitor gives their name before writing: their contact is created then (a
    // transaction claiming the visitor identity), and an e-mail stays an unverified attribute.
    let profile =
        serde_json::json!({"name": format!("Visitor {tag}"), "email": "v@example.com"}).to_string();
    let (status, session) = s
        .web_request(
            "POST",
            "/web/v1/identify",
            Some(&visitor),
            Some(&profile),
            Some(WEB_ORIGIN),
        )
        .await
        .expect("POST /web/v1/identify");
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["email_verified"], false);
    let (status, refused) = s
        .web_request(
            "POST",
            "/web/v1/sessions",
            None,
            Some(&body),
            Some("https://evil.example.com"),
        )
        .await
        .expect("POST /web/v1/sessions");
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "another origin is refused: {refused}"
    );

    let (status, ticket) = s
        .web_request(
            "POST",
            "/web/v1/ws-ticket",
            Some(&visitor),
            None,
            Some(WEB_ORIGIN),
        )
        .await
        .expect("POST /web/v1/ws-ticket");
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    let ticket = ticket["ticket"].as_str().expect("ticket").to_owned();
    let tab = format!("conn-visitor-{tag}");
    let connect = s.ws_connect_visitor(&tab, &ticket).await.expect("$connect");
    assert_eq!(
        connect.status_code, 200,
        "the visitor's ticket opens the socket"
    );
    let again = s
        .ws_connect_visitor(&format!("conn-replay-{tag}"), &ticket)
        .await
        .expect("$connect");
    assert_eq!(again.status_code, 401, "a ticket is single use");
    let body_of = |r: &aws_lambda_events::event::apigw::ApiGatewayProxyResponse| -> Value {
        match &r.body {
            Some(aws_lambda_events::encodings::Body::Text(t)) => {
                serde_json::from_str(t).expect("JSON frame")
            }
            other => panic!("no text body: {other:?}"),
        }
    };
    let pong = s
        .ws_frame(&tab, r#"{"action":"ping"}"#)
        .await
        .expect("$default");
    assert_eq!(body_of(&pong)["type"], "pong");
    let hello = s
        .ws_frame(&tab, r#"{"action":"hello"}"#)
        .await
        .expect("$default");
    assert_eq!(
        body_of(&hello)["type"],
        "hello",
        "a visitor's hello names the visitor"
    );
    assert!(body_of(&hello)["visitor_id"].is_string());

    let question = format!("Do you ship to Lisbon? ({tag})");
    let msg = serde_json::json!({ "text": question, "client_id": format!("c-{tag}") }).to_string();
    let (status, sent) = s
        .web_request(
            "POST",
            "/web/v1/messages",
            Some(&visitor),
            Some(&msg),
            Some(WEB_ORIGIN),
        )
        .await
        .expect("POST /web/v1/messages");
    assert_eq!(status, StatusCode::CREATED, "{sent}");

    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    let seen: Vec<_> = s
        .connections
        .events(agent_conn, "message.created")
        .into_iter()
        .filter(|e| e["message"]["text"] == question.as_str())
        .collect();
    assert_eq!(seen.len(), 1, "the agent saw the widget message once");
    assert_eq!(seen[0]["message"]["channel"], "web");
    let conversation_id = seen[0]["conversation_id"].as_str().expect("id").to_owned();

    let answer = format!("Yes, in 3 days. ({tag})");
    let (status, body) = s
        .agent_reply(&conversation_id, agent_token, &answer, &format!("r-{tag}"))
        .await
        .expect("reply");
    assert!(status.is_success(), "reply answered {status}: {body}");
    assert_eq!(s.drain(QueueName::Outbound, 5).await.expect("sender"), 1);
    // The sender's delivery (the reply as sent) is what the widget is told: `message.updated`,
    // which it applies as an upsert (the agent API does not push to visitors).
    let on_widget: Vec<_> = s
        .connections
        .events(&tab, "message.updated")
        .into_iter()
        .filter(|e| e["message"]["text"] == answer.as_str())
        .collect();
    assert_eq!(
        on_widget.len(),
        1,
        "the reply reached the visitor's socket once: {:?}",
        s.connections.frames(&tab)
    );
    assert_eq!(on_widget[0]["message"]["author"]["kind"], "agent");
    assert_eq!(on_widget[0]["message"]["delivery"]["status"], "sent");
    assert!(
        s.connections
            .events(&tab, "message.created")
            .iter()
            .any(|e| e["message"]["text"] == question.as_str()),
        "the visitor's own message is echoed to their other tabs by the router"
    );
    assert!(
        s.connections
            .frames(&format!("conn-replay-{tag}"))
            .is_empty(),
        "nothing goes to the refused socket"
    );
    let (status, page) = s
        .web_request(
            "GET",
            "/web/v1/messages",
            Some(&visitor),
            None,
            Some(WEB_ORIGIN),
        )
        .await
        .expect("GET /web/v1/messages");
    assert_eq!(status, StatusCode::OK, "{page}");
    let texts: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(
        texts.contains(&question.as_str()) && texts.contains(&answer.as_str()),
        "{texts:?}"
    );

    let bye = s.ws_disconnect(&tab).await.expect("$disconnect");
    assert_eq!(bye.status_code, 200);
    let hello = s
        .ws_frame(&tab, r#"{"action":"hello"}"#)
        .await
        .expect("$default");
    assert_eq!(
        body_of(&hello)["type"],
        "error",
        "a disconnected visitor socket is forgotten"
    );
    conversation_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_widget_message_reaches_the_agent_and_the_reply_reaches_the_visitors_socket() {
    let s = skip_without_moto!(
        "a_widget_message_reaches_the_agent_and_the_reply_reaches_the_visitors_socket"
    );
    let (agent, token) = s.online_agent("wes@example.com").await.expect("agent");
    let connect = s.ws_connect("conn-wes", &token).await.expect("$connect");
    assert_eq!(connect.status_code, 200);
    let id = web_round_trip(&s, "conn-wes", &token, "e2e").await;
    let conv = s
        .store
        .get_conversation(id.parse().expect("conversation id"))
        .await
        .expect("read")
        .expect("the conversation is in DynamoDB");
    assert_eq!(
        conv.assignee_id,
        Some(agent.id),
        "assigned to the online agent"
    );
    // The agent's socket is still an agent's: its hello names the agent.
    let hello = s
        .ws_frame("conn-wes", r#"{"action":"hello"}"#)
        .await
        .expect("$default");
    let Some(aws_lambda_events::encodings::Body::Text(t)) = hello.body else {
        panic!("no body")
    };
    assert!(t.contains(&agent.id.to_string()), "{t}");
}

/// The IAM actions `template.yaml` grants the function resource `resource` (its `Policies`).
fn granted_actions(template: &str, resource: &str) -> std::collections::BTreeSet<String> {
    let header = format!("  {resource}:");
    let body = template
        .lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| {
            // Up to the next top-level resource (two-space indent, not a comment).
            !(l.starts_with("  ") && !l.starts_with("   ") && !l.trim_start().starts_with('#'))
        });
    body.flat_map(|l| {
        l.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-'))
            .filter(|t| {
                [
                    "dynamodb:",
                    "sqs:",
                    "ssm:",
                    "execute-api:",
                    "s3:",
                    "ses:",
                    "translate:",
                    "comprehend:",
                    "bedrock:",
                ]
                .iter()
                .any(|p| t.starts_with(p))
            })
            .map(str::to_owned)
            .collect::<Vec<_>>()
    })
    .collect()
}

/// The `Resource` text of the statements of `resource`'s policy that grant `action` (a
/// `Resource:` line and the list items under it).
fn resources_granting(template: &str, resource: &str, action: &str) -> String {
    let header = format!("  {resource}:");
    let body: Vec<&str> = template
        .lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| {
            !(l.starts_with("  ") && !l.starts_with("   ") && !l.trim_start().starts_with('#'))
        })
        .collect();
    let mut out = String::new();
    for statement in body.split(|l| l.trim_start().starts_with("- Sid:")) {
        let grants = statement.iter().any(|l| {
            l.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-'))
                .any(|t| t == action)
        });
        if grants {
            let mut under: Option<usize> = None;
            for l in statement.iter() {
                let indent = l.len() - l.trim_start().len();
                match under {
                    Some(key) if indent > key => {}
                    _ if l.contains("Resource") => under = Some(indent),
                    _ => {
                        under = None;
                        continue;
                    }
                }
                out.push_str(l.trim());
                out.push('\n');
            }
        }
    }
    out
}

/// The template's queue of a queue the stack created: `<prefix>-translate.fifo` is
/// `TranslateQueue`, `<prefix>-translate-dlq.fifo` `TranslateDeadLetterQueue`.
fn queue_resource(name: &str) -> String {
    let base = name.trim_end_matches(".fifo");
    let (base, dead_letter) = match base.strip_suffix("-dlq") {
        Some(b) => (b, true),
        None => (base, false),
    };
    let kind = base.rsplit('-').next().unwrap_or(base);
    let mut chars = kind.chars();
    let kind: String = chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .into_iter()
        .chain(chars)
        .collect();
    if dead_letter {
        format!("{kind}DeadLetterQueue")
    } else {
        format!("{kind}Queue")
    }
}

/// Every AWS action each `(function, resource)` calls is granted by the template's policy of
/// `resource`, and every SQS call names a queue its statement lists.
fn assert_granted(template: &str, tally: &Tally, functions: &[(&str, &str)]) {
    for (function, resource) in functions {
        let used = tally
            .iam_actions
            .get(*function)
            .cloned()
            .unwrap_or_default();
        assert!(!used.is_empty(), "{function} made no AWS request");
        let granted = granted_actions(template, resource);
        let missing: Vec<_> = used.difference(&granted).collect();
        assert!(
            missing.is_empty(),
            "{resource} in template.yaml does not grant {missing:?} (it uses {used:?})"
        );
        eprintln!("{function}: uses {used:?}");
        for call in tally.sqs_queues.get(*function).into_iter().flatten() {
            let (action, queue) = call.split_once(' ').expect("action and queue");
            let queue = queue_resource(queue);
            let resources = resources_granting(template, resource, action);
            assert!(
                resources.contains(&format!("{queue}.Arn")),
                "{resource} calls {action} on {queue}, which its statements for {action} do \
                 not list:\n{resources}"
            );
        }
    }
}

#[test]
fn queue_names_map_to_the_templates_queues() {
    assert_eq!(
        queue_resource("omnidesk-e2e-0a1b-translate.fifo"),
        "TranslateQueue"
    );
    assert_eq!(
        queue_resource("omnidesk-e2e-0a1b-translate-dlq.fifo"),
        "TranslateDeadLetterQueue"
    );
    assert_eq!(queue_resource("omnidesk-e2e-0a1b-timers"), "TimersQueue");
    let template = include_str!("../../../template.yaml");
    let sends = resources_granting(template, "RouterFunction", "sqs:SendMessage");
    assert!(
        sends.contains("TranslateQueue.Arn") && sends.contains("MediaQueue.Arn"),
        "a Resource list is read to its end: {sends}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_aws_action_a_function_calls_is_granted_by_its_policy_in_template_yaml() {
    let mut s = skip_without_moto!(
        "every_aws_action_a_function_calls_is_granted_by_its_policy_in_template_yaml"
    );
    s.router.settings.reassign_after = Some(Duration::from_secs(1));
    // Every path of every function: agents online and connected, a new contact and
    // conversation, a list page, a reply with a client id, the sender, a timer that reassigns,
    // and a body the router dead-letters.
    let (_, ann) = s.online_agent("ann@example.com").await.expect("agent");
    let (_, bob) = s.online_agent("bob@example.com").await.expect("agent");
    for (conn, token) in [("conn-ann", &ann), ("conn-bob", &bob)] {
        assert_eq!(
            s.ws_connect(conn, token)
                .await
                .expect("$connect")
                .status_code,
            200
        );
    }
    for (update, chat) in [(9201, 555_201), (9202, 555_202)] {
        let status = s
            .webhook_request(
                WEBHOOK_SECRET,
                &text_update(update, chat, 1, "help, please"),
            )
            .await
            .expect("webhook");
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 2);
    let (status, list) = s
        .api_request("GET", "/api/v1/conversations?status=all", Some(&ann), None)
        .await
        .expect("list");
    assert_eq!(status, StatusCode::OK, "{list}");
    let id = list["items"][0]["id"]
        .as_str()
        .expect("a conversation")
        .to_owned();
    let (status, body) = s
        .agent_reply(&id, &ann, "Here to help.", "iam-1")
        .await
        .expect("reply");
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(s.drain(QueueName::Outbound, 5).await.expect("sender"), 1);
    // A reply with a file: the agent API stores it in the bucket (and signs its link), the
    // sender reads it back and uploads it to Telegram.
    let (status, body) = s
        .agent_reply_with_file(
            &id,
            &ann,
            "The invoice",
            "iam-2",
            ("invoice.txt", "text/plain", "Invoice 1024: 12.50 EUR"),
        )
        .await
        .expect("reply with a file");
    assert!(status.is_success(), "{status}: {body}");
    assert!(
        body["attachments"][0]["url"].as_str().is_some(),
        "a signed link: {body}"
    );
    assert_eq!(s.drain(QueueName::Outbound, 5).await.expect("sender"), 1);
    let uploaded = s.telegram.files_sent();
    assert_eq!(
        uploaded
            .iter()
            .map(|f| (f.method.as_str(), f.bytes.as_slice()))
            .collect::<Vec<_>>(),
        [("sendDocument", b"Invoice 1024: 12.50 EUR".as_slice())],
        "the file reached Telegram by upload, read back from the bucket"
    );
    let mut timers = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        timers += s.drain(QueueName::Timers, 3).await.expect("timers");
        if timers >= 2 {
            break;
        }
    }
    assert_eq!(timers, 2, "both assignments' timers ran");
    s.queue
        .send(
            QueueName::Inbound,
            OutgoingMessage::fifo("poison", "poison-1", "not json".to_owned()),
        )
        .await
        .expect("send");
    let poll = s.poll(QueueName::Inbound).await.expect("poll");
    assert_eq!(
        (poll.received, poll.failed.len()),
        (1, 0),
        "dead-lettered, not failed"
    );

    // The website: the web-chat function, visitor sockets on agent-ws, pushes to visitors.
    web_round_trip(&s, "conn-ann", &ann, "iam").await;

    // The media function: a photo fetched into the bucket, pushed to the agents.
    s.telegram
        .put_file("iam-photo", b"\xFF\xD8\xFF\xE0 iam photo".to_vec());
    let status = s
        .webhook_request(
            WEBHOOK_SECRET,
            &omnidesk_aws_e2e::photo_update(9203, 555_203, 1, "iam-photo", 16),
        )
        .await
        .expect("webhook");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    assert!(s.run_media().await.expect("media").0 >= 1);

    // E-mail: SES stores and invokes email-inbound (S3 read, mailbox and thread look-ups, the
    // raw copy and files into the files bucket, the inbound queue), a missing object is
    // recorded, the agent answers by e-mail through SESv2.
    s.mail_domain().await.expect("mail domain");
    s.ses_stores(
        "ses-iam-1",
        &customer_mail("iam-1@example.org", None, "A question by mail"),
    )
    .await
    .expect("stored");
    let out = s
        .email_inbound(ses_event("ses-iam-1", "c@example.org", MAILBOX, "Q").expect("event"))
        .await
        .expect("email-inbound");
    let [Ingested::Queued { key, .. }] = out.as_slice() else {
        panic!("{out:?}");
    };
    s.email_inbound(ses_event("ses-iam-gone", "c@example.org", MAILBOX, "Q").expect("event"))
        .await
        .expect("kept");
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    let conv = s
        .store
        .conversation_by_key(key)
        .await
        .expect("read")
        .expect("conversation");
    let (status, body) = s
        .agent_reply(&conv.id.to_string(), &ann, "By mail.", "iam-mail-1")
        .await
        .expect("reply");
    assert!(status.is_success(), "{status}: {body}");
    assert!(s.drain(QueueName::Outbound, 5).await.expect("sender") >= 1);

    let template = include_str!("../../../template.yaml");
    let tally = s.counter.snapshot();
    assert_granted(
        template,
        &tally,
        &[
            ("telegram-webhook", "TelegramWebhookFunction"),
            ("router", "RouterFunction"),
            ("agent-api", "AgentApiFunction"),
            ("agent-ws", "AgentWsFunction"),
            ("sender", "SenderFunction"),
            ("web-chat", "WebChatFunction"),
            ("media", "MediaFunction"),
            ("email-inbound", "EmailInboundFunction"),
        ],
    );
    let used = tally.iam_actions;
    // The function that fetches Telegram files holds exactly the S3 actions it calls.
    let s3 = |actions: &std::collections::BTreeSet<String>| -> Vec<String> {
        actions
            .iter()
            .filter(|a| a.starts_with("s3:"))
            .cloned()
            .collect()
    };
    let sender_used = used.get("sender").cloned().unwrap_or_default();
    assert_eq!(
        s3(&sender_used),
        ["s3:GetObject"],
        "the sender reads agents' files"
    );
    assert!(
        sender_used.contains("ses:SendEmail"),
        "the sender sent the reply through SESv2: {sender_used:?}"
    );
    // The email-inbound function reads only the inbound bucket and writes only the files
    // bucket, and the template grants each on that bucket.
    let buckets = s.counter.snapshot().s3_buckets;
    let inbound_s3 = buckets.get("email-inbound").cloned().unwrap_or_default();
    let expected: std::collections::BTreeSet<String> = [
        format!("s3:GetObject {}", s.inbound_mail.bucket),
        format!("s3:PutObject {}", s.blobs.bucket()),
    ]
    .into();
    assert_eq!(inbound_s3, expected, "email-inbound's S3 calls");
    let reads = resources_granting(template, "EmailInboundFunction", "s3:GetObject");
    assert!(
        reads.contains("InboundMailBucket.Arn}/inbound/*") && !reads.contains("FilesBucket"),
        "s3:GetObject is granted on the inbound mail only: {reads}"
    );
    let writes = resources_granting(template, "EmailInboundFunction", "s3:PutObject");
    assert!(
        writes.contains("FilesBucket") && !writes.contains("InboundMailBucket"),
        "s3:PutObject is granted on the files bucket only: {writes}"
    );
    let sends = resources_granting(template, "SenderFunction", "ses:SendEmail");
    assert!(
        sends.contains("identity/${MailDomain}"),
        "ses:SendEmail on the mail domain's identity: {sends}"
    );
    let media_used = used.get("media").cloned().unwrap_or_default();
    assert_eq!(s3(&media_used), ["s3:PutObject"]);
    assert_eq!(
        s3(&granted_actions(template, "MediaFunction")),
        s3(&media_used),
        "MediaFunction's S3 grants are exactly what it calls"
    );
}

/// A stack translating with Amazon Translate (the local fake) for a team serving English and
/// Russian; a reply waits at most 3 s for its translation, a provider call at most 1 s.
fn translating() -> StackOptions {
    StackOptions {
        translation: Some(
            Translation::amazon("en,ru")
                .var("OMNIDESK_TRANSLATE_WAIT_SECS", "3")
                .var("OMNIDESK_TRANSLATE_TIMEOUT_SECS", "1"),
        ),
        ..StackOptions::default()
    }
}

/// The stored messages of the Telegram chat `chat`, oldest first.
async fn chat_messages(s: &Stack, chat: i64) -> (omnidesk_domain::Conversation, Vec<Message>) {
    let key = ConversationKey::telegram_private(
        omnidesk_domain::BotId::parse(&BOT_ID.to_string()).expect("bot id"),
        omnidesk_domain::TelegramChatId(chat),
    );
    let conv = s
        .store
        .conversation_by_key(&key)
        .await
        .expect("read")
        .expect("the conversation is in DynamoDB");
    let messages = s
        .store
        .list_messages(conv.id, &PageRequest::first(50))
        .await
        .expect("messages")
        .items;
    (conv, messages)
}

/// The translation path, with every AWS action its functions call checked against their
/// policies: a Russian customer's message (webhook → router → translate queue → translator,
/// Amazon Translate → the message's `translations` → pushes), the composer's preview and the
/// quota (agent API → Amazon Translate, usage), two replies held for their translation (agent
/// API → translate queue → translator → outbound queue → sender → Telegram in Russian), one
/// of them through a provider timeout and a retry, a message without words (not translated),
/// and a body the translator dead-letters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_aws_action_of_a_translated_conversation_is_granted_by_its_policy_in_template_yaml() {
    let s = skip_without_moto!(
        "every_aws_action_of_a_translated_conversation_is_granted_by_its_policy_in_template_yaml",
        translating()
    );
    let amazon = s
        .amazon_translate
        .as_ref()
        .expect("Amazon Translate's fake");
    let (_, ann) = s.online_agent("ann@example.com").await.expect("agent");
    for conn in ["conn-ann", "conn-ann-tab"] {
        assert_eq!(
            s.ws_connect(conn, &ann)
                .await
                .expect("$connect")
                .status_code,
            200
        );
    }

    // A Russian customer: the router stores the message waiting for its translation and queues
    // it on the translate queue.
    let update = text_update_in(9301, 555_301, 1, "Здравствуйте! Где мой заказ?", Some("ru"));
    let status = s
        .webhook_request(WEBHOOK_SECRET, &update)
        .await
        .expect("webhook");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    let (conv, messages) = chat_messages(&s, 555_301).await;
    assert_eq!(conv.language.as_ref().map(|l| l.as_str()), Some("ru"));
    let question = messages
        .iter()
        .find(|m| m.direction == Direction::Inbound)
        .expect("the customer's message")
        .clone();
    assert!(
        matches!(
            question.translation,
            Some(TranslationStatus::Pending { .. })
        ),
        "{:?}",
        question.translation
    );

    // The translator (the agent closed a tab meanwhile: its push finds it gone and removes it).
    s.connections.mark_gone("conn-ann-tab");
    assert_eq!(
        s.drain(QueueName::Translate, 5).await.expect("translator"),
        1
    );
    let translated = s
        .store
        .get_message(conv.id, question.id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        translated.translations,
        [omnidesk_domain::Translation {
            language: omnidesk_domain::LanguageTag::parse("en").expect("tag"),
            text: "Hello! Where is my order?".to_owned(),
            provider: "amazon".to_owned(),
        }],
        "the customer's message in the agents' language"
    );
    assert_eq!(
        translated.translation,
        Some(TranslationStatus::Done { target: None })
    );
    assert_eq!(
        amazon.last_request().expect("a TranslateText request"),
        serde_json::json!({
            "Text": "Здравствуйте! Где мой заказ?",
            "SourceLanguageCode": "ru",
            "TargetLanguageCode": "en"
        })
    );
    assert!(
        s.connections
            .events("conn-ann", "message.updated")
            .iter()
            .any(|e| e["message"]["translations"][0]["text"] == "Hello! Where is my order?"),
        "the agent saw the translation"
    );
    let left = omnidesk_core::ConnectionStore::list_connections(s.store.as_ref())
        .await
        .expect("connections");
    assert!(
        left.iter().all(|c| c.id.0 != "conn-ann-tab"),
        "the gone tab was removed: {left:?}"
    );

    // The composer's preview (Amazon Translate through the agent API) and the quota.
    let reply = "Thank you, your order has been shipped.";
    let in_russian = "Спасибо, ваш заказ отправлен.";
    let (status, preview) = s
        .api_request(
            "POST",
            &format!("/api/v1/conversations/{}/translation-preview", conv.id),
            Some(&ann),
            Some(&serde_json::json!({ "text": reply }).to_string()),
        )
        .await
        .expect("preview");
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        (&preview["needed"], &preview["language"], &preview["text"]),
        (
            &Value::Bool(true),
            &Value::from("ru"),
            &Value::from(in_russian)
        ),
        "{preview}"
    );
    let (status, info) = s
        .api_request("GET", "/api/v1/translation", Some(&ann), None)
        .await
        .expect("translation info");
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["providers"], serde_json::json!(["amazon"]));
    assert!(
        info["quota"][0]["used_today"].as_u64() > Some(0),
        "the characters sent are counted: {info}"
    );

    // The reply is held for its translation: it goes to the translate queue, not to the
    // sender; the translator finds the preview's translation in the table's cache (no second
    // provider call) and queues it for the sender, which sends it in Russian.
    let calls = amazon.calls();
    let (status, body) = s
        .agent_reply(&conv.id.to_string(), &ann, reply, "tr-1")
        .await
        .expect("reply");
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(
        s.drain(QueueName::Outbound, 2).await.expect("sender"),
        0,
        "held"
    );
    assert_eq!(
        s.drain(QueueName::Translate, 5).await.expect("translator"),
        1
    );
    assert_eq!(
        amazon.calls(),
        calls,
        "the preview's translation was reused"
    );
    assert_eq!(s.drain(QueueName::Outbound, 5).await.expect("sender"), 1);
    let sent = s.telegram.sent();
    assert_eq!(
        sent.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        [in_russian],
        "the customer received the reply in Russian"
    );

    // A provider that times out: the reply waits (the translator asks for it again a second
    // later), then goes out translated.
    amazon.set_delay(Duration::from_millis(1500));
    let (status, body) = s
        .agent_reply(
            &conv.id.to_string(),
            &ann,
            "Sorry, when will it arrive? Tomorrow.",
            "tr-2",
        )
        .await
        .expect("reply");
    assert!(status.is_success(), "{status}: {body}");
    let poll = s.poll(QueueName::Translate).await.expect("translator");
    assert_eq!(
        (poll.received, poll.failed.len()),
        (1, 1),
        "left on the queue"
    );
    amazon.set_delay(Duration::ZERO);
    let mut retried = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        retried += s.drain(QueueName::Translate, 2).await.expect("translator");
        if retried > 0 {
            break;
        }
    }
    assert_eq!(retried, 1, "the translator tried again once it was visible");
    assert_eq!(s.drain(QueueName::Outbound, 5).await.expect("sender"), 1);
    assert_eq!(
        s.telegram.sent().last().map(|m| m.text.clone()).as_deref(),
        Some("Извините, когда он прибудет? Завтра.")
    );

    // A customer writing no word: nothing to translate, no provider call.
    let calls = amazon.calls();
    let update = text_update_in(9302, 555_302, 1, "👍", None);
    assert_eq!(
        s.webhook_request(WEBHOOK_SECRET, &update)
            .await
            .expect("webhook"),
        StatusCode::OK
    );
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    assert_eq!(
        s.drain(QueueName::Translate, 5).await.expect("translator"),
        0
    );
    assert_eq!(amazon.calls(), calls, "no provider call");

    // A body that is not a translate job is dead-lettered.
    s.queue
        .send(
            QueueName::Translate,
            OutgoingMessage::fifo("poison", "poison-tr-1", "not json".to_owned()),
        )
        .await
        .expect("send");
    let poll = s.poll(QueueName::Translate).await.expect("translator");
    assert_eq!(
        (poll.received, poll.failed.len()),
        (1, 0),
        "dead-lettered, not failed"
    );

    let template = include_str!("../../../template.yaml");
    let tally = s.counter.snapshot();
    assert_granted(
        template,
        &tally,
        &[
            ("telegram-webhook", "TelegramWebhookFunction"),
            ("router", "RouterFunction"),
            ("agent-api", "AgentApiFunction"),
            ("agent-ws", "AgentWsFunction"),
            ("sender", "SenderFunction"),
            ("translator", "TranslatorFunction"),
        ],
    );
    // The translate queue: the router and the agent API send to it, the translator consumes it,
    // dead-letters into its DLQ and queues translated replies on the outbound queue.
    let urls = s.queue.urls();
    let name = |url: &str| url.rsplit('/').next().expect("name").to_owned();
    let translate = name(&urls.translate.url);
    let queues = |function: &str| tally.sqs_queues.get(function).cloned().unwrap_or_default();
    for function in ["router", "agent-api"] {
        assert!(
            queues(function).contains(&format!("sqs:SendMessage {translate}")),
            "{function} sends to the translate queue: {:?}",
            queues(function)
        );
    }
    let expected: std::collections::BTreeSet<String> = [
        format!("sqs:ReceiveMessage {translate}"),
        format!("sqs:DeleteMessage {translate}"),
        format!("sqs:ChangeMessageVisibility {translate}"),
        format!("sqs:SendMessage {}", name(&urls.translate.dead_letter_url)),
        format!("sqs:SendMessage {}", name(&urls.outbound.url)),
    ]
    .into();
    assert_eq!(
        queues("translator"),
        expected,
        "the translator's queue calls"
    );
    let used = |function: &str| tally.iam_actions.get(function).cloned().unwrap_or_default();
    assert!(
        used("agent-api").contains("translate:TranslateText"),
        "{:?}",
        used("agent-api")
    );
    // The translator holds exactly what it calls, but `sqs:GetQueueAttributes`, which only
    // its event source mapping calls.
    let mut granted = granted_actions(template, "TranslatorFunction");
    granted.remove("sqs:GetQueueAttributes");
    assert_eq!(
        used("translator"),
        granted,
        "TranslatorFunction's grants are what it calls"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_photo_reaches_s3_through_the_media_function_and_a_presigned_link_serves_it() {
    let s = skip_without_moto!(
        "a_telegram_photo_reaches_s3_through_the_media_function_and_a_presigned_link_serves_it"
    );
    let (_, token) = s.online_agent("pia@example.com").await.expect("agent");
    assert_eq!(
        s.ws_connect("conn-pia", &token)
            .await
            .expect("$connect")
            .status_code,
        200
    );
    let photo: Vec<u8> = b"\xFF\xD8\xFF\xE0\x00\x10JFIF"
        .iter()
        .copied()
        .chain((0..200_000u32).map(|i| (i % 251) as u8))
        .collect();
    s.telegram.put_file("AgACAgIAAxkBAAIBZ", photo.clone());
    let status = s
        .webhook_request(
            WEBHOOK_SECRET,
            &omnidesk_aws_e2e::photo_update(
                9401,
                555_401,
                1,
                "AgACAgIAAxkBAAIBZ",
                photo.len() as u64,
            ),
        )
        .await
        .expect("webhook");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    assert!(s.run_media().await.expect("media").0 >= 1);

    // The message now points at the object, which holds the photo.
    let conversations = s
        .store
        .list_conversations(&ConversationFilter::default(), &PageRequest::first(10))
        .await
        .expect("list");
    let conversation = &conversations.items[0];
    let messages = s
        .store
        .list_messages(conversation.id, &PageRequest::first(10))
        .await
        .expect("messages");
    let message = messages
        .items
        .iter()
        .find(|m| !m.attachments.is_empty())
        .expect("the photo message");
    let a = &message.attachments[0];
    let key = omnidesk_core::blob_key(&photo);
    assert_eq!(a.blob.as_deref(), Some(key.as_str()));
    assert_eq!(a.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(a.size_bytes, Some(photo.len() as u64));
    let head = s
        .blobs
        .client()
        .head_object()
        .bucket(s.blobs.bucket())
        .key(&key)
        .send()
        .await
        .expect("the object is in the bucket");
    assert_eq!(head.content_length(), Some(photo.len() as i64));
    assert_eq!(head.content_type(), Some("image/jpeg"));
    // The agent was told.
    let updated = s.connections.events("conn-pia", "message.updated");
    assert!(
        updated
            .iter()
            .any(|e| e["message"]["attachments"][0]["blob"] == key.as_str()),
        "{updated:?}"
    );

    // A presigned link serves the bytes from S3 (moto) with the forced type and disposition.
    use omnidesk_core::BlobStore;
    let url = s
        .blobs
        .signed_url(&omnidesk_core::LinkRequest {
            key: &key,
            file_name: Some("parcel.jpg"),
            content_type: "image/jpeg",
            now: omnidesk_domain::Timestamp::from_millis(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_millis() as i64,
            ),
            ttl: omnidesk_core::DEFAULT_LINK_TTL,
        })
        .await
        .expect("presign");
    assert!(url.starts_with(&s.endpoint), "{url}");
    let response = reqwest::get(&url).await.expect("GET the presigned link");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("inline; filename=\"parcel.jpg\"")
    );
    assert_eq!(
        response.bytes().await.expect("body").as_ref(),
        photo.as_slice()
    );
}

/// A customer's mail as SES stores it (CRLF, as received).
fn customer_mail(message_id: &str, in_reply_to: Option<&str>, body: &str) -> Vec<u8> {
    let mut m = format!(
        "From: Carol Customer <carol@example.org>\r\nTo: {MAILBOX}\r\nSubject: Order 42 is late\r\n\
         Message-ID: <{message_id}>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    );
    if let Some(parent) = in_reply_to {
        m.push_str(&format!(
            "In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"
        ));
    }
    m.push_str(&format!("\r\n{body}\r\n"));
    m.into_bytes()
}

/// The messages moto's SES backend holds (`/moto-api/data.json`, `ses.*Message`).
async fn moto_ses_messages(endpoint: &str) -> usize {
    let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .expect("moto data")
        .json()
        .await
        .expect("json");
    data["ses"]
        .as_object()
        .map(|ses| {
            ses.iter()
                .filter(|(k, _)| k.ends_with("Message"))
                .filter_map(|(_, v)| v.as_array())
                .map(Vec::len)
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_through_ses_reaches_the_agent_and_the_reply_threads_both_ways() {
    let s = skip_without_moto!(
        "an_email_through_ses_reaches_the_agent_and_the_reply_threads_both_ways"
    );
    s.mail_domain().await.expect("mail domain");
    let (agent, token) = s.online_agent("mia@example.com").await.expect("agent");
    assert_eq!(
        s.ws_connect("conn-mia", &token)
            .await
            .expect("$connect")
            .status_code,
        200
    );
    let ses_before = moto_ses_messages(&s.endpoint).await;

    // SES: the S3 action stores the raw mail, the Lambda action invokes email-inbound.
    let customer_id = "order-42-late@example.org";
    s.ses_stores(
        "ses-in-0001",
        &customer_mail(customer_id, None, "Hello, where is my order 42?"),
    )
    .await
    .expect("stored");
    let event = ses_event(
        "ses-in-0001",
        "Carol Customer <carol@example.org>",
        MAILBOX,
        "Order 42 is late",
    )
    .expect("event");
    let out = s.email_inbound(event).await.expect("email-inbound");
    let [
        Ingested::Queued {
            key,
            new_thread: true,
        },
    ] = out.as_slice()
    else {
        panic!("queued as a new thread: {out:?}");
    };
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    let conv = s
        .store
        .conversation_by_key(key)
        .await
        .expect("read")
        .expect("the e-mail conversation exists in DynamoDB");
    assert_eq!(conv.assignee_id, Some(agent.id), "assigned to the agent");
    assert!(
        s.connections
            .events("conn-mia", "message.created")
            .iter()
            .any(|e| e["message"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("where is my order 42"))),
        "the agent saw the mail"
    );
    // The router's acknowledgement of the new ticket, if it sends one, goes out first.
    s.drain(QueueName::Outbound, 5).await.expect("sender");

    // The agent's reply: agent API → outbound → sender → SESv2 on moto.
    let (status, body) = s
        .agent_reply(
            &conv.id.to_string(),
            &token,
            "It ships today.",
            "mail-reply-1",
        )
        .await
        .expect("reply");
    assert!(status.is_success(), "reply answered {status}: {body}");
    assert_eq!(s.drain(QueueName::Outbound, 5).await.expect("sender"), 1);
    let mails = s.mails.sent();
    assert_eq!(
        moto_ses_messages(&s.endpoint).await - ses_before,
        mails.len(),
        "every mail the sender composed went through SESv2 SendEmail on moto"
    );
    let (reply, sent) = mails
        .iter()
        .find(|(m, _)| String::from_utf8_lossy(&m.raw).contains("It ships today."))
        .expect("the reply was sent through SES");
    let raw = String::from_utf8_lossy(&reply.raw);
    assert!(
        raw.contains(&format!("In-Reply-To: <{customer_id}>")),
        "the reply answers the customer's Message-ID:\n{raw}"
    );
    assert_eq!(reply.to[0].as_str(), "carol@example.org");
    assert!(
        sent.message_id.ends_with("@email.amazonses.com"),
        "SES's own Message-ID (us-east-1): {}",
        sent.message_id
    );
    let calls = s.counter.snapshot().calls;
    assert!(
        calls.get("SESv2:SendEmail").copied().unwrap_or(0) >= 1,
        "{calls:?}"
    );

    // The customer answers SES's Message-ID: the same conversation.
    s.ses_stores(
        "ses-in-0002",
        &customer_mail(
            "order-42-thanks@example.org",
            Some(&sent.message_id),
            "Thanks! Tracking number?",
        ),
    )
    .await
    .expect("stored");
    let event = ses_event(
        "ses-in-0002",
        "Carol Customer <carol@example.org>",
        MAILBOX,
        "Re: Order 42 is late",
    )
    .expect("event");
    let out = s.email_inbound(event).await.expect("email-inbound");
    assert_eq!(
        out,
        [Ingested::Queued {
            key: key.clone(),
            new_thread: false
        }],
        "threaded by In-Reply-To"
    );
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    let messages = s
        .store
        .list_messages(conv.id, &PageRequest::first(20))
        .await
        .expect("messages")
        .items;
    let inbound: Vec<_> = messages
        .iter()
        .filter(|m| m.direction == Direction::Inbound)
        .map(|m| m.text.clone())
        .collect();
    assert_eq!(
        inbound.len(),
        2,
        "both mails in one conversation: {inbound:?}"
    );
    assert!(
        inbound.iter().any(|t| t.contains("Tracking number")),
        "{inbound:?}"
    );

    // A mail whose object is gone (expired, wrong key): kept for an operator, not retried.
    let event = ses_event("ses-in-missing", "x@example.org", MAILBOX, "Lost").expect("event");
    let out = s.email_inbound(event).await.expect("not an error");
    assert!(matches!(out.as_slice(), [Ingested::Kept { .. }]), "{out:?}");
}

/// The AI on AWS: a question the model answers (router → AI queue → ai-worker → Bedrock
/// Converse on the local fake, signed → outbound queue → sender → Telegram), an explicit ask for
/// a person (no AI job), the model's handoff (queued, assigned, timer, "a person is coming"),
/// and the agent API's FAQ editor, call log and assist — every AWS action each function calls
/// checked against its policy in template.yaml.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_aws_action_of_the_ai_path_is_granted_by_its_policy_in_template_yaml() {
    let s = skip_without_moto!(
        "every_aws_action_of_the_ai_path_is_granted_by_its_policy_in_template_yaml",
        StackOptions {
            ai: Some(AiOptions::mode("bedrock").var("OMNIDESK_AI_TIMEOUT_SECS", "2")),
            ..StackOptions::default()
        }
    );
    let bedrock = s.bedrock.as_ref().expect("Bedrock's fake");
    bedrock.set_responder(|req| {
        let text = req.to_string();
        if text.contains("running summary") {
            "The customer asked about a parcel.".to_owned()
        } else if text.contains("my parcel is damaged") {
            serde_json::json!({"action": "handoff", "reason": "a damaged parcel needs a person"})
                .to_string()
        } else {
            serde_json::json!({"action": "reply", "text": "You can reach us by phone or e-mail."})
                .to_string()
        }
    });
    let (_, token) = s.online_agent("ai@example.com").await.expect("agent");

    // Answered by the model.
    let update = text_update(9401, 555_401, 1, "how can I contact you?");
    assert_eq!(
        s.webhook_request(WEBHOOK_SECRET, &update)
            .await
            .expect("webhook"),
        StatusCode::OK
    );
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    assert_eq!(s.drain(QueueName::Ai, 5).await.expect("ai-worker"), 1);
    assert_eq!(s.drain(QueueName::Outbound, 5).await.expect("sender"), 1);
    let (conv, messages) = chat_messages(&s, 555_401).await;
    assert_eq!(conv.status, omnidesk_domain::ConversationStatus::Bot);
    assert!(
        messages
            .iter()
            .any(|m| m.author == omnidesk_domain::Author::Ai
                && m.text == "You can reach us by phone or e-mail."),
        "{messages:?}"
    );
    assert!(
        s.telegram
            .sent()
            .iter()
            .any(|m| m.text == "🤖 AI assistant: You can reach us by phone or e-mail."),
        "delivered"
    );
    assert!(bedrock.calls() >= 1);

    // An explicit ask: handed over by the router, no AI job.
    let update = text_update(9402, 555_402, 1, "operator please");
    s.webhook_request(WEBHOOK_SECRET, &update)
        .await
        .expect("webhook");
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    assert_eq!(s.drain(QueueName::Ai, 2).await.expect("ai-worker"), 0);

    // The model hands over: queued, assigned to the online agent, a timer, the customer told.
    let update = text_update(9403, 555_403, 1, "my parcel is damaged");
    s.webhook_request(WEBHOOK_SECRET, &update)
        .await
        .expect("webhook");
    assert_eq!(s.drain(QueueName::Inbound, 5).await.expect("router"), 1);
    assert_eq!(s.drain(QueueName::Ai, 5).await.expect("ai-worker"), 1);
    let (conv, messages) = chat_messages(&s, 555_403).await;
    assert_eq!(conv.status, omnidesk_domain::ConversationStatus::Assigned);
    assert!(
        messages.iter().any(|m| matches!(
            &m.event,
            Some(omnidesk_domain::SystemEvent::HandedOver { reason })
                if reason == "a damaged parcel needs a person"
        )),
        "{messages:?}"
    );
    assert!(conv.summary.is_some(), "the agent's card");

    // The agent API: the FAQ editor, the call log, a summary and a suggestion (Bedrock).
    let (status, entry) = s
        .api_request(
            "POST",
            "/api/v1/faq",
            Some(&token),
            Some(r#"{"questions":["How can I contact you?"],"answer":"By phone or e-mail.","language":"en"}"#),
        )
        .await
        .expect("faq");
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    let (status, faq) = s
        .api_request("GET", "/api/v1/faq", Some(&token), None)
        .await
        .expect("faq list");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(faq["entries"].as_array().map(Vec::len), Some(1), "{faq}");
    let (status, calls) = s
        .api_request("GET", "/api/v1/ai/calls?limit=10", Some(&token), None)
        .await
        .expect("calls");
    assert_eq!(status, StatusCode::OK);
    assert!(
        calls["calls"].as_array().is_some_and(|c| c.len() >= 2),
        "{calls}"
    );
    let id = conv.id.to_string();
    let (status, summary) = s
        .api_request(
            "POST",
            &format!("/api/v1/conversations/{id}/assist/summary"),
            Some(&token),
            None,
        )
        .await
        .expect("summary");
    assert_eq!(status, StatusCode::OK, "{summary}");
    let (status, suggestion) = s
        .api_request(
            "POST",
            &format!("/api/v1/conversations/{id}/assist/suggestion"),
            Some(&token),
            None,
        )
        .await
        .expect("suggestion");
    assert_eq!(status, StatusCode::OK, "{suggestion}");
    let (status, view) = s
        .api_request(
            "POST",
            &format!("/api/v1/conversations/{id}/hand-back"),
            Some(&token),
            None,
        )
        .await
        .expect("hand back");
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "bot");

    let template = include_str!("../../../template.yaml");
    let tally = s.counter.snapshot();
    assert_granted(
        template,
        &tally,
        &[
            ("telegram-webhook", "TelegramWebhookFunction"),
            ("router", "RouterFunction"),
            ("agent-api", "AgentApiFunction"),
            ("sender", "SenderFunction"),
            ("ai-worker", "AiWorkerFunction"),
        ],
    );
    let used = |function: &str| tally.iam_actions.get(function).cloned().unwrap_or_default();
    for function in ["ai-worker", "agent-api"] {
        assert!(
            used(function).contains("bedrock:InvokeModel"),
            "{function} calls Bedrock: {:?}",
            used(function)
        );
    }
    // The AI queue: the router sends to it, the ai-worker consumes it.
    let urls = s.queue.urls();
    let name = |url: &str| url.rsplit('/').next().expect("name").to_owned();
    let ai = name(&urls.ai.url);
    let queues = |function: &str| tally.sqs_queues.get(function).cloned().unwrap_or_default();
    assert!(
        queues("router").contains(&format!("sqs:SendMessage {ai}")),
        "{:?}",
        queues("router")
    );
    for op in ["ReceiveMessage", "DeleteMessage"] {
        assert!(
            queues("ai-worker").contains(&format!("sqs:{op} {ai}")),
            "{:?}",
            queues("ai-worker")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_stays_signed_in_on_aws_with_a_secure_refresh_cookie_in_dynamodb() {
    let s = skip_without_moto!(
        "an_agent_stays_signed_in_on_aws_with_a_secure_refresh_cookie_in_dynamodb"
    );
    let (_agent, _token) = s.online_agent("ivy@example.com").await.expect("agent");
    let login = r#"{"email":"ivy@example.com","password":"correct horse battery"}"#;
    let (status, body, set) = s
        .api_request_with_cookies("POST", "/api/v1/auth/login", Some(login), &[])
        .await
        .expect("login");
    assert_eq!(status, StatusCode::OK, "{body}");
    // API Gateway speaks HTTPS (X-Forwarded-Proto): the cookie is Secure.
    assert_eq!(set.len(), 1, "{set:?}");
    for part in ["omnidesk_refresh=", "HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(set[0].contains(part), "{part} in {set:?}");
    }
    let first = set[0].split(';').next().unwrap().to_owned();
    // The cookie comes back in the event's `cookies`, among others; the token is in DynamoDB.
    let (status, body, set) = s
        .api_request_with_cookies(
            "POST",
            "/api/v1/auth/refresh",
            None,
            &["theme=dark", &first],
        )
        .await
        .expect("refresh");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["token"].as_str().is_some_and(|t| !t.is_empty()));
    let second = set[0].split(';').next().unwrap().to_owned();
    assert_ne!(first, second);
    // Used once: the first one is refused and cleared.
    let (status, body, set) = s
        .api_request_with_cookies("POST", "/api/v1/auth/refresh", None, &[&first])
        .await
        .expect("refresh again");
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "no_session");
    assert!(set[0].contains("Max-Age=0"), "{set:?}");
    // Signing out with the cookie alone ends the session.
    let (status, _, _) = s
        .api_request_with_cookies("POST", "/api/v1/auth/logout", None, &[&second])
        .await
        .expect("logout");
    assert_eq!(status, StatusCode::NO_CONTENT);
}
