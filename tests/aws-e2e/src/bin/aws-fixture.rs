//! aws-fixture: prepares moto for the cold-start bench. Creates the table, queues and the JWT
//! SSM parameter, registers the bot and an online agent with a connection, runs 10 chats through
//! the pipeline (so conversations exist), and writes into `<out dir>`:
//! - `env`: `KEY=VALUE` lines of the Lambdas' configuration (`omnidesk_lambda::VARIABLES`);
//! - `<function>.json`: a JSON array of the events one run of that function handles: 10 API
//!   Gateway v2 events (telegram-webhook, agent-api), 10 `$connect` events (agent-ws), one SQS
//!   event of 10 real records received from the queue (router, sender).
//!
//! Usage: `aws-fixture <out dir> <stub base url>` with `OMNIDESK_TEST_AWS_ENDPOINT` set; the
//! stub base URL serves the fake Telegram API and `/prod/@connections`.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use omnidesk_aws_e2e::{
    JWT_KEY, Stack, WEBHOOK_SECRET, api_event, moto_endpoint, sdk_config, sqs_event, text_update,
    webhook_event, ws_connect_event,
};
use omnidesk_core::{ConversationFilter, ConversationStore, PageRequest, QueueName};
use serde_json::{Value, json};

const JWT_PARAM: &str = "/omnidesk/bench/jwt";

async fn receive_all(s: &Stack, queue: QueueName, n: usize) -> anyhow::Result<Value> {
    let url = s.queue.urls().get(queue).url.clone();
    let mut messages = Vec::new();
    for _ in 0..10 {
        let out = s
            .sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await?;
        messages.extend(out.messages.unwrap_or_default());
        if messages.len() >= n {
            break;
        }
    }
    if messages.len() < n {
        bail!("received {} of {n} messages from {queue}", messages.len());
    }
    Ok(serde_json::to_value(sqs_event(&messages, &url))?)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out: PathBuf = args
        .next()
        .context("usage: aws-fixture <out dir> <stub url>")?
        .into();
    let stub = args
        .next()
        .context("usage: aws-fixture <out dir> <stub url>")?;
    let endpoint = moto_endpoint()?.context("OMNIDESK_TEST_AWS_ENDPOINT is not set")?;
    let s = Stack::start(&endpoint).await?;
    aws_sdk_ssm::Client::new(&sdk_config(&endpoint).await)
        .put_parameter()
        .name(JWT_PARAM)
        .value(JWT_KEY)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .context("PutParameter")?;
    let (_agent, token) = s.online_agent("bench@example.com").await?;
    if s.ws_connect("bench-conn", &token).await?.status_code != 200 {
        bail!("$connect refused");
    }
    // 10 chats through webhook + router.
    for c in 0..10i64 {
        s.webhook_request(
            WEBHOOK_SECRET,
            &text_update(10 + c, 800_000 + c, 1, "hello"),
        )
        .await?;
    }
    s.drain(QueueName::Inbound, 10).await?;
    // Router input: 10 more updates, received raw (not processed).
    for c in 0..10i64 {
        s.webhook_request(
            WEBHOOK_SECRET,
            &text_update(100 + c, 800_000 + c, 2, "a follow-up question"),
        )
        .await?;
    }
    let router = json!([receive_all(&s, QueueName::Inbound, 10).await?]);
    // Sender input: 10 agent replies, received raw.
    let convs = s
        .store
        .list_conversations(&ConversationFilter::default(), &PageRequest::first(10))
        .await?;
    for (i, c) in convs.items.iter().enumerate() {
        let (status, body) = s
            .api_request(
                "POST",
                &format!("/api/v1/conversations/{}/messages", c.id),
                Some(&token),
                Some(&json!({"text": "Thanks, on it.", "client_id": format!("b{i}")}).to_string()),
            )
            .await?;
        if !status.is_success() {
            bail!("reply answered {status}: {body}");
        }
    }
    let sender = json!([receive_all(&s, QueueName::Outbound, 10).await?]);
    let webhook: Vec<Value> = (0..10i64)
        .map(|i| {
            webhook_event(
                WEBHOOK_SECRET,
                &text_update(1000 + i, 800_000 + i, 3, "and another"),
            )
        })
        .collect::<anyhow::Result<_>>()?;
    let api: Vec<Value> = (0..10)
        .map(|_| api_event("GET", "/api/v1/conversations", Some(&token), None))
        .collect::<anyhow::Result<_>>()?;
    let ws: Vec<Value> = (0..10)
        .map(|i| ws_connect_event(&format!("bench-conn-{i}"), &token))
        .collect::<anyhow::Result<_>>()?;

    std::fs::create_dir_all(&out)?;
    for (name, events) in [
        ("telegram-webhook", Value::from(webhook)),
        ("agent-api", Value::from(api)),
        ("agent-ws", Value::from(ws)),
        ("router", router),
        ("sender", sender),
        (
            "hello",
            json!((0..10).map(|i| json!({"n": i})).collect::<Vec<_>>()),
        ),
    ] {
        std::fs::write(out.join(format!("{name}.json")), events.to_string())?;
    }
    let urls = s.queue.urls();
    let env = [
        ("TABLE_NAME", s.store.table_name().to_owned()),
        ("INBOUND_QUEUE_URL", urls.inbound.url.clone()),
        ("INBOUND_DLQ_URL", urls.inbound.dead_letter_url.clone()),
        ("OUTBOUND_QUEUE_URL", urls.outbound.url.clone()),
        ("OUTBOUND_DLQ_URL", urls.outbound.dead_letter_url.clone()),
        ("TIMERS_QUEUE_URL", urls.timers.url.clone()),
        ("TIMERS_DLQ_URL", urls.timers.dead_letter_url.clone()),
        ("MEDIA_QUEUE_URL", urls.media.url.clone()),
        ("MEDIA_DLQ_URL", urls.media.dead_letter_url.clone()),
        ("TRANSLATE_QUEUE_URL", urls.translate.url.clone()),
        ("TRANSLATE_DLQ_URL", urls.translate.dead_letter_url.clone()),
        ("AI_QUEUE_URL", urls.ai.url.clone()),
        ("AI_DLQ_URL", urls.ai.dead_letter_url.clone()),
        ("WEBSOCKET_API_ENDPOINT", format!("{stub}/prod")),
        ("JWT_SECRET_PARAM", JWT_PARAM.to_owned()),
        // Read at cold start, called by no function of the bench.
        ("FILES_BUCKET", "omnidesk-files-fixture".to_owned()),
        ("TELEGRAM_API_URL", stub.clone()),
    ];
    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(out.join("env"), text)?;
    println!("fixture written to {}", out.display());
    Ok(())
}
