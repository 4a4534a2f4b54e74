//! aws-cost: runs inbound Telegram messages and website widget messages (and agent replies to
//! each) through the Lambda handlers on
//! moto, counts every AWS request by category with an SDK interceptor, prices them with the
//! us-east-1 list prices of FACTS.md §7–10 and prints a breakdown, then (last line) one JSON
//! object with `usd_per_100k` (inbound pipeline, per 100k inbound messages) and
//! `requests_per_message`.
//!
//! Time is simulated: the functions run on a clock that starts on a whole minute and moves
//! `--gap-secs` (default 5) per wave of one message per chat, so which messages fall into a new
//! minute of their conversation (re-keying its two activity-index entries) is the same every
//! run.
//!
//! The media path: `--photo-percent P` (default 10) of `--messages` more messages are photos of
//! `--photo-kb K` (default 200) KB, fetched by the media function into S3; priced as the
//! increment over a text message (media invocation at 512 MB with `--telegram-ms T`, default
//! 250, of Telegram `getFile` + download time added to the measured handler time, which only
//! waited on a loopback fake; SQS standard requests; S3 `PUT`; DynamoDB; pushes) plus a month of
//! S3 storage of the bytes.
//!
//! The e-mail path: `--emails E` (default 100) mails from `--chats` customers (each one's
//! first mail opens a thread, the later ones answer it), stored in the inbound bucket as the
//! SES receipt rule's S3 action would, then the SES Lambda action's event through the
//! email-inbound handler (512 MB), the router, and the sender for the router's
//! acknowledgements; then one agent reply per e-mail conversation through SESv2 `SendEmail`.
//! Priced with the SES fees of <https://aws.amazon.com/ses/pricing/> ($0.10 per 1,000 mails
//! received, $0.10 per 1,000 sent; the per-256 KB incoming-chunk fee and the outgoing data
//! fee are left out: a few-KB mail is one chunk and a few KB) and S3 request prices.
//!
//! The translation path (a second stack with `OMNIDESK_TRANSLATOR=amazon`, the team serving
//! English and Russian, agents reading English): the same waves of `--messages` inbound
//! messages, where the customers of `--translate-percent P` (default 30) of the chats write
//! Russian; the router queues those on the translate FIFO queue, the translator (256 MB, the
//! template's default) translates them into English through the translation cache (in process,
//! then the table's `TXC` items) and Amazon Translate (the local fake), counts its usage
//! (`TXU` items) and pushes the result. Each Russian message gets an agent reply in English,
//! held by the agent API on the translate queue, translated into Russian by the translator,
//! queued for the sender. `--repeat-percent R` (default 40) of the customers' messages and of
//! the replies are stock phrases (greetings, "where is my order #…" with its number protected,
//! stock answers), the rest are unique, so the cache's hit ratio is measured, not assumed.
//! Characters are priced at Amazon Translate's $15, DeepL's €20 (≈ $21.6) and Google's $20 per
//! million (FACTS.md §11), with the cache and without it (every text sent).
//!
//! Usage: `aws-cost [--messages N] [--chats C] [--replies R] [--agents A] [--gap-secs G]
//! [--photo-percent P] [--photo-kb K] [--telegram-ms T] [--emails E] [--translate-percent P]
//! [--repeat-percent R]` with
//! `OMNIDESK_TEST_AWS_ENDPOINT` set to a moto server on 127.0.0.1 (`infra/bench/aws-cost`
//! starts one).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::http::StatusCode;
use omnidesk_aws_e2e::{
    AiOptions, BOT_ID, Function, LambdaMeter, Stack, StackOptions, Tally, Translation, WEB_ORIGIN,
    WEBHOOK_SECRET, moto_endpoint, text_update, text_update_in,
};
use omnidesk_core::testing::ManualClock;
use omnidesk_core::{ConversationFilter, ConversationStore, PageRequest, QueueName};
use omnidesk_domain::{BotId, ConversationKey, TelegramChatId, Timestamp};
use serde_json::json;

// us-east-1 list prices (FACTS.md §7–10), free tiers ignored.
const HTTP_API_PER_M: f64 = 1.00;
/// Lambda function URLs (the webhook's endpoint) cost nothing beyond the invocation.
const FUNCTION_URL_PER_M: f64 = 0.0;
const LAMBDA_REQ_PER_M: f64 = 0.20;
const LAMBDA_ARM_GB_S: f64 = 0.000_013_333_4;
const LAMBDA_MEMORY_GB: f64 = 128.0 / 1024.0;
const SQS_FIFO_PER_M: f64 = 0.50;
const WRU_PER_M: f64 = 0.625;
const RRU_PER_M: f64 = 0.125;
const WS_MSG_PER_M: f64 = 1.00;
const SQS_STANDARD_PER_M: f64 = 0.40;
/// S3 Standard: PUT/COPY/POST/LIST per 1,000 requests, storage per GB-month (first 50 TB).
const S3_PUT_PER_K: f64 = 0.005;
const S3_GB_MONTH: f64 = 0.023;
/// The media function's memory (template.yaml).
const MEDIA_MEMORY_GB: f64 = 512.0 / 1024.0;
/// The email-inbound function's memory (template.yaml).
const EMAIL_INBOUND_MEMORY_GB: f64 = 512.0 / 1024.0;
/// S3 Standard GET per 1,000 requests.
const S3_GET_PER_K: f64 = 0.0004;
/// SES: per 1,000 mails received, per 1,000 mails sent (https://aws.amazon.com/ses/pricing/).
const SES_RECEIVED_PER_K: f64 = 0.10;
const SES_SENT_PER_K: f64 = 0.10;
/// The translator's memory (template.yaml sets none for it: the Globals' 256 MB).
const TRANSLATOR_MEMORY_GB: f64 = 256.0 / 1024.0;
/// The ai-worker's memory (the Globals' 256 MB).
const AI_WORKER_MEMORY_GB: f64 = 256.0 / 1024.0;
/// A model's answer time assumed for the Lambda time it bills (the fake answers at once).
const MODEL_LATENCY_SECS: f64 = 1.5;
/// Per million input / output tokens, us-east-1 on-demand list prices: Claude 3 Haiku on
/// Bedrock $0.25 / $1.25; gpt-4o-mini on OpenAI $0.15 / $0.60.
const MODELS_PER_M: [(&str, f64, f64); 2] = [
    ("bedrock-claude-3-haiku", 0.25, 1.25),
    ("openai-gpt-4o-mini", 0.15, 0.60),
];
/// Per million characters (FACTS.md §11): Amazon Translate $15; DeepL API Pro €20 (€0.00002 a
/// character, its €4.99 monthly base left out) at ≈ $1.08 per euro; Google v2 $20 (its free
/// 500k characters a month left out).
const PROVIDERS_PER_M: [(&str, f64); 3] = [("amazon", 15.0), ("deepl", 21.6), ("google", 20.0)];

/// The reassignment delay in this run.
const TIMER_DELAY: Duration = Duration::from_secs(1);

struct Args {
    messages: usize,
    chats: usize,
    replies: usize,
    agents: usize,
    gap_secs: usize,
    photo_percent: usize,
    photo_kb: usize,
    telegram_ms: usize,
    emails: usize,
    translate_percent: usize,
    repeat_percent: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        messages: 200,
        chats: 20,
        replies: 20,
        agents: 1,
        gap_secs: 5,
        photo_percent: 10,
        photo_kb: 200,
        telegram_ms: 250,
        emails: 100,
        translate_percent: 30,
        repeat_percent: 40,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value: usize = it
            .next()
            .with_context(|| format!("{flag} needs a value"))?
            .parse()
            .with_context(|| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--messages" => a.messages = value.clamp(1, 10_000),
            "--chats" => a.chats = value.clamp(1, 1_000),
            "--replies" => a.replies = value.min(1_000),
            "--agents" => a.agents = value.clamp(1, 20),
            "--gap-secs" => a.gap_secs = value.min(3_600),
            "--photo-percent" => a.photo_percent = value.min(100),
            "--photo-kb" => a.photo_kb = value.clamp(1, 20 * 1024),
            "--telegram-ms" => a.telegram_ms = value.min(60_000),
            "--emails" => a.emails = value.clamp(1, 10_000),
            "--translate-percent" => a.translate_percent = value.clamp(1, 100),
            "--repeat-percent" => a.repeat_percent = value.min(100),
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(a)
}

/// One priced line.
struct Line {
    component: String,
    per_message: f64,
    unit: &'static str,
    usd_per_100k: f64,
}

/// The HTTP front door of a path: its name and price per million requests.
struct Front(&'static str, f64);

fn lines(
    tally: &Tally,
    meter: &LambdaMeter,
    n: f64,
    front: &Front,
    functions: &[Function],
) -> Vec<Line> {
    let per = |x: f64| x / n;
    let mut out = Vec::new();
    let http = meter.http_requests as f64;
    out.push(Line {
        component: front.0.to_owned(),
        per_message: per(http),
        unit: "req",
        usd_per_100k: per(http) * 1e5 * front.1 / 1e6,
    });
    for f in functions {
        let Some(inv) = meter.by_function.get(f) else {
            continue;
        };
        let count = inv.count as f64;
        out.push(Line {
            component: format!("Lambda {} invocations", f.name()),
            per_message: per(count),
            unit: "inv",
            usd_per_100k: per(count) * 1e5 * LAMBDA_REQ_PER_M / 1e6,
        });
        let memory_gb = match f {
            Function::EmailInbound => EMAIL_INBOUND_MEMORY_GB,
            Function::Translator => TRANSLATOR_MEMORY_GB,
            Function::AiWorker => AI_WORKER_MEMORY_GB,
            _ => LAMBDA_MEMORY_GB,
        };
        let gb_s = inv.billed_ms as f64 / 1000.0 * memory_gb;
        out.push(Line {
            component: format!(
                "Lambda {} GB-s ({:.1} ms avg/inv)",
                f.name(),
                inv.total.as_secs_f64() * 1000.0 / count.max(1.0)
            ),
            per_message: per(gb_s),
            unit: "GB-s",
            usd_per_100k: per(gb_s) * 1e5 * LAMBDA_ARM_GB_S,
        });
    }
    let sqs = tally.sqs_requests as f64;
    // Timers go through a standard queue ($0.40 per million): priced as FIFO, a slight
    // over-estimate.
    out.push(Line {
        component: "SQS requests (FIFO price)".to_owned(),
        per_message: per(sqs),
        unit: "req",
        usd_per_100k: per(sqs) * 1e5 * SQS_FIFO_PER_M / 1e6,
    });
    out.push(Line {
        component: "DynamoDB write units".to_owned(),
        per_message: per(tally.wru),
        unit: "WRU",
        usd_per_100k: per(tally.wru) * 1e5 * WRU_PER_M / 1e6,
    });
    out.push(Line {
        component: "DynamoDB read units".to_owned(),
        per_message: per(tally.rru),
        unit: "RRU",
        usd_per_100k: per(tally.rru) * 1e5 * RRU_PER_M / 1e6,
    });
    let ws = tally.ws_messages as f64;
    out.push(Line {
        component: "WebSocket messages (PostToConnection)".to_owned(),
        per_message: per(ws),
        unit: "msg",
        usd_per_100k: per(ws) * 1e5 * WS_MSG_PER_M / 1e6,
    });
    out
}

fn print_table(title: &str, lines: &[Line], tally: &Tally, n: f64) -> f64 {
    let total: f64 = lines.iter().map(|l| l.usd_per_100k).sum();
    println!("\n== {title} (per message; USD per 100k messages) ==");
    println!(
        "{:<48} {:>10} {:<5} {:>10} {:>6}",
        "component", "per msg", "unit", "USD/100k", "share"
    );
    for l in lines {
        println!(
            "{:<48} {:>10.4} {:<5} {:>10.4} {:>5.1}%",
            l.component,
            l.per_message,
            l.unit,
            l.usd_per_100k,
            if total > 0.0 {
                100.0 * l.usd_per_100k / total
            } else {
                0.0
            }
        );
    }
    println!("{:<48} {:>10} {:<5} {:>10.4}", "TOTAL", "", "", total);
    println!("  AWS API calls per message, by operation:");
    for (op, count) in &tally.calls {
        let units = match (tally.wru_by_op.get(op), tally.rru_by_op.get(op)) {
            (Some(w), _) => format!("  {:>6.2} WRU", w / n),
            (None, Some(r)) => format!("  {:>6.2} RRU", r / n),
            _ => String::new(),
        };
        println!("    {:<44} {:>8.3}{units}", op, *count as f64 / n);
    }
    println!("  DynamoDB write units per message, by request and item (partition/sort prefix):");
    for (what, units) in &tally.wru_by_item {
        println!("    {:<44} {:>8.3} WRU", what, units / n);
    }
    total
}

/// Requests per message: HTTP (function URL or HTTP API) + Lambda invocations + SQS + DynamoDB calls + WS.
fn requests(tally: &Tally, meter: &LambdaMeter) -> f64 {
    let invocations: u64 = meter.by_function.values().map(|i| i.count).sum();
    (meter.http_requests
        + invocations
        + tally.sqs_requests
        + tally.service_calls("DynamoDB")
        + tally.ws_messages) as f64
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let endpoint = moto_endpoint()?.with_context(|| {
        format!(
            "{} is not set: run infra/bench/aws-cost, which starts moto",
            omnidesk_aws_e2e::ENDPOINT_VAR
        )
    })?;
    let started = std::time::Instant::now();
    // 2026-11-22T00:00:00Z: a whole minute.
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_795_305_600_000)));
    let mut s = Stack::start_with_clock(&endpoint, clock.clone()).await?;
    // Every automatic assignment schedules a reassignment check (300 s in production): shortened
    // so that the run fires them too, and they are priced with the inbound pipeline.
    s.router.settings.reassign_after = Some(TIMER_DELAY);
    let mut tokens = Vec::new();
    for i in 0..args.agents {
        let (_agent, token) = s.online_agent(&format!("agent{i}@example.com")).await?;
        let r = s.ws_connect(&format!("conn-{i}"), &token).await?;
        if r.status_code != 200 {
            bail!("$connect answered {}", r.status_code);
        }
        tokens.push(token);
    }

    // Inbound: waves of one message per chat, each wave drained by the event source mapping.
    let (t0, m0) = (s.counter.snapshot(), s.meter());
    let mut sent = 0usize;
    let mut processed = 0usize;
    let mut polls = 0usize;
    while sent < args.messages {
        let wave = args.chats.min(args.messages - sent);
        for c in 0..wave {
            let i = sent + c;
            let chat = 700_000 + (c as i64);
            let update = text_update(
                1_000_000 + i as i64,
                chat,
                i as i64 + 1,
                &format!("message {i}: where is my order? it should have arrived by now"),
            );
            let status = s.webhook_request(WEBHOOK_SECRET, &update).await?;
            if status != StatusCode::OK {
                bail!("webhook answered {status}");
            }
        }
        sent += wave;
        clock.advance(Duration::from_secs(args.gap_secs as u64));
        for _ in 0..(wave * 2 + 5) {
            let poll = s.poll(QueueName::Inbound).await?;
            if poll.received == 0 {
                break;
            }
            polls += 1;
            processed += poll.received - poll.failed.len();
        }
    }
    let (t1, m1) = (s.counter.snapshot(), s.meter());
    if processed != args.messages {
        bail!(
            "the router processed {processed} of {} messages",
            args.messages
        );
    }

    // Agent replies: one per conversation (up to --replies), drained by the sender.
    let convs = s
        .store
        .list_conversations(&ConversationFilter::default(), &PageRequest::first(100))
        .await?;
    let token = tokens.first().context("no agent")?;
    let mut replies = 0usize;
    for (i, c) in convs.items.iter().take(args.replies).enumerate() {
        let (status, body) = s
            .agent_reply(
                &c.id.to_string(),
                token,
                "Thanks, it ships today.",
                &format!("r{i}"),
            )
            .await?;
        if !status.is_success() {
            bail!("reply answered {status}: {body}");
        }
        replies += 1;
    }
    let sent_ok = s.drain(QueueName::Outbound, replies * 2 + 5).await?;
    let (t2, m2) = (s.counter.snapshot(), s.meter());
    if sent_ok != replies || s.telegram.sent_count() != replies {
        bail!(
            "the sender delivered {sent_ok} (Telegram saw {}) of {replies} replies",
            s.telegram.sent_count()
        );
    }

    // The reassignment timers of the inbound pipeline, once due, after the replies (agents who
    // answer in time: a timer of an answered conversation only reads; run with --replies 0 for
    // nobody answering). One per invocation: in production they fall due spread over time.
    tokio::time::sleep(TIMER_DELAY + Duration::from_millis(500)).await;
    let timers = s.drain_by(QueueName::Timers, 1, args.chats * 4 + 5).await?;
    let (t3, m3) = (s.counter.snapshot(), s.meter());

    // The website: one visitor per chat with the widget open (session, ticket and `$connect`
    // are per visit, not per message: before the measurement), the same waves of messages
    // through the web-chat function, then one agent reply per conversation to the widget.
    let mut visitors = Vec::new();
    for c in 0..args.chats {
        let body = json!({ "website_id": s.website.id.to_string() }).to_string();
        let (status, created) = s
            .web_request(
                "POST",
                "/web/v1/sessions",
                None,
                Some(&body),
                Some(WEB_ORIGIN),
            )
            .await?;
        if status != StatusCode::CREATED {
            bail!("POST /web/v1/sessions answered {status}: {created}");
        }
        let token = created["visitor_token"]
            .as_str()
            .context("token")?
            .to_owned();
        let (_, ticket) = s
            .web_request(
                "POST",
                "/web/v1/ws-ticket",
                Some(&token),
                None,
                Some(WEB_ORIGIN),
            )
            .await?;
        let ticket = ticket["ticket"].as_str().context("ticket")?;
        let r = s
            .ws_connect_visitor(&format!("visitor-{c}"), ticket)
            .await?;
        if r.status_code != 200 {
            bail!("visitor $connect answered {}", r.status_code);
        }
        visitors.push(token);
    }
    let (t4, m4) = (s.counter.snapshot(), s.meter());
    let (mut web_sent, mut web_processed) = (0usize, 0usize);
    while web_sent < args.messages {
        let wave = args.chats.min(args.messages - web_sent);
        for (c, token) in visitors.iter().enumerate().take(wave) {
            let i = web_sent + c;
            let msg = json!({
                "text": format!("message {i}: where is my order? it should have arrived by now"),
                "client_id": format!("w{i}"),
            })
            .to_string();
            let (status, body) = s
                .web_request(
                    "POST",
                    "/web/v1/messages",
                    Some(token),
                    Some(&msg),
                    Some(WEB_ORIGIN),
                )
                .await?;
            if status != StatusCode::CREATED {
                bail!("POST /web/v1/messages answered {status}: {body}");
            }
        }
        web_sent += wave;
        clock.advance(Duration::from_secs(args.gap_secs as u64));
        for _ in 0..(wave * 2 + 5) {
            let poll = s.poll(QueueName::Inbound).await?;
            if poll.received == 0 {
                break;
            }
            web_processed += poll.received - poll.failed.len();
        }
    }
    if web_processed != args.messages {
        bail!(
            "the router processed {web_processed} of {} widget messages",
            args.messages
        );
    }
    tokio::time::sleep(TIMER_DELAY + Duration::from_millis(500)).await;
    s.drain_by(QueueName::Timers, 1, args.chats * 4 + 5).await?;
    let (t5, m5) = (s.counter.snapshot(), s.meter());
    let web_convs: Vec<String> = s
        .store
        .list_conversations(&ConversationFilter::default(), &PageRequest::first(100))
        .await?
        .items
        .iter()
        .filter(|c| c.key_on(omnidesk_domain::Channel::Web).is_some())
        .map(|c| c.id.to_string())
        .collect();
    let mut web_replies = 0usize;
    for (i, id) in web_convs.iter().take(args.replies).enumerate() {
        let (status, body) = s
            .agent_reply(id, token, "Thanks, it ships today.", &format!("wr{i}"))
            .await?;
        if !status.is_success() {
            bail!("reply answered {status}: {body}");
        }
        web_replies += 1;
    }
    let web_delivered = s.drain(QueueName::Outbound, web_replies * 2 + 5).await?;
    let (t6, m6) = (s.counter.snapshot(), s.meter());
    if web_delivered != web_replies {
        bail!("the sender delivered {web_delivered} of {web_replies} replies to the widget");
    }
    let on_widgets: usize = (0..args.chats)
        .map(|c| {
            s.connections
                .events(&format!("visitor-{c}"), "message.updated")
                .len()
        })
        .sum();
    if on_widgets < web_replies {
        bail!("only {on_widgets} of {web_replies} replies reached a widget");
    }

    let inbound_tally = t1.since(&t0).plus(&t3.since(&t2));
    let inbound_meter = m1.since(&m0).plus(&m3.since(&m2));
    let reply_tally = t2.since(&t1);
    let reply_meter = m2.since(&m1);
    let n = args.messages as f64;
    let router_inv = inbound_meter
        .by_function
        .get(&Function::Router)
        .map_or(0, |i| i.count);
    println!(
        "aws-cost: {} inbound messages across {} chats ({} s apart in a chat), {} agent(s) \
         connected, {} replies; router invoked {} times ({} inbound polls, {} reassignment timers)",
        args.messages, args.chats, args.gap_secs, args.agents, replies, router_inv, polls, timers
    );
    let inbound_lines = lines(
        &inbound_tally,
        &inbound_meter,
        n,
        &Front("Lambda function URL requests (webhook)", FUNCTION_URL_PER_M),
        &[Function::TelegramWebhook, Function::Router],
    );
    let usd = print_table(
        "Inbound: Telegram → webhook → SQS → router → DynamoDB → WebSocket",
        &inbound_lines,
        &inbound_tally,
        n,
    );
    let r = replies.max(1) as f64;
    let reply_lines = lines(
        &reply_tally,
        &reply_meter,
        r,
        &Front("HTTP API requests (agent API)", HTTP_API_PER_M),
        &[Function::AgentApi, Function::Sender],
    );
    let reply_usd = print_table(
        "Agent reply: agent API → SQS → sender → Telegram",
        &reply_lines,
        &reply_tally,
        r,
    );
    println!(
        "\nAssumptions: arm64 128 MB, GB-s from the measured handler time (this host, moto as \
         the backend; INIT not included), ESM receives 10/batch and deletes with \
         DeleteMessageBatch (its empty long polls are not counted), DynamoDB units estimated from \
         item sizes on the wire (see counter.rs), free tiers ignored."
    );
    println!("elapsed: {:.1} s", started.elapsed().as_secs_f64());
    let web_tally = t5.since(&t4);
    let web_meter = m5.since(&m4);
    let web_lines = lines(
        &web_tally,
        &web_meter,
        n,
        &Front("HTTP API requests (widget API)", HTTP_API_PER_M),
        &[Function::WebChat, Function::Router],
    );
    let web_usd = print_table(
        "Web inbound: widget → web-chat → SQS → router → DynamoDB → WebSocket (agent + widget)",
        &web_lines,
        &web_tally,
        n,
    );
    let wr = web_replies.max(1) as f64;
    let web_reply_tally = t6.since(&t5);
    let web_reply_meter = m6.since(&m5);
    let web_reply_lines = lines(
        &web_reply_tally,
        &web_reply_meter,
        wr,
        &Front("HTTP API requests (agent API)", HTTP_API_PER_M),
        &[Function::AgentApi, Function::Sender],
    );
    let web_reply_usd = print_table(
        "Agent reply to the widget: agent API → SQS → sender → WebSocket (widget + agents)",
        &web_reply_lines,
        &web_reply_tally,
        wr,
    );
    // The media path: photos in the same chats, through webhook and router, then the media
    // function fetches each into S3.
    let photos = (args.messages * args.photo_percent).div_ceil(100).max(1);
    let (t7, m7) = (s.counter.snapshot(), s.meter());
    for i in 0..photos {
        let file_id = format!("AgACAgIAAxkBAAI-{i}");
        let bytes: Vec<u8> = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"
            .iter()
            .copied()
            .chain((i as u32).to_be_bytes())
            .chain((0..args.photo_kb * 1024).map(|b| (b % 251) as u8))
            .collect();
        let size = bytes.len() as u64;
        s.telegram.put_file(file_id.clone(), bytes);
        let chat = 700_000 + (i % args.chats) as i64;
        let update = omnidesk_aws_e2e::photo_update(
            2_000_000 + i as i64,
            chat,
            100_000 + i as i64,
            &file_id,
            size,
        );
        let status = s.webhook_request(WEBHOOK_SECRET, &update).await?;
        if status != StatusCode::OK {
            bail!("webhook answered {status}");
        }
    }
    clock.advance(Duration::from_secs(args.gap_secs as u64));
    let stored = s.drain(QueueName::Inbound, photos * 2 + 5).await?;
    if stored != photos {
        bail!("the router stored {stored} of {photos} photos");
    }
    // Outside the measured window: which messages wait, and whether the router queued their
    // jobs itself (else they are queued here, as the router, inside the window).
    let pending = s.pending_media_jobs().await?;
    let waiting = s
        .sqs
        .get_queue_attributes()
        .queue_url(&s.queue.urls().media.url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let queued_here = if waiting == 0 { pending.len() } else { 0 };
    let (t8, m8) = (s.counter.snapshot(), s.meter());
    if queued_here > 0 {
        s.enqueue_media(&pending).await?;
    }
    // Batches of 4, as the media event source mapping in template.yaml.
    let fetched = s.drain_by(QueueName::Media, 4, photos + 5).await?;
    let (t9, m9) = (s.counter.snapshot(), s.meter());
    if fetched < photos || t9.since(&t8).calls.get("S3:PutObject").copied() != Some(photos as u64) {
        bail!("the media function fetched {fetched} of {photos} photos");
    }
    let media_tally = t9.since(&t8);
    let media_meter = m9.since(&m8);
    let p = photos as f64;
    let media_inv = media_meter
        .by_function
        .get(&Function::Media)
        .cloned()
        .unwrap_or_default();
    // The router's SendMessage to the media queue: in the measured window when queued here,
    // else one per photo during the router's run.
    let media_sqs = media_tally.sqs_requests as f64 + (photos - queued_here.min(photos)) as f64;
    let media_ms = media_inv.billed_ms as f64 + p * args.telegram_ms as f64;
    let media_lines = vec![
        Line {
            component: "Lambda media invocations".to_owned(),
            per_message: media_inv.count as f64 / p,
            unit: "inv",
            usd_per_100k: media_inv.count as f64 / p * 1e5 * LAMBDA_REQ_PER_M / 1e6,
        },
        Line {
            component: format!(
                "Lambda media GB-s ({:.1} ms measured + {} ms Telegram /photo, 512 MB)",
                media_inv.total.as_secs_f64() * 1000.0 / p,
                args.telegram_ms
            ),
            per_message: media_ms / 1000.0 * MEDIA_MEMORY_GB / p,
            unit: "GB-s",
            usd_per_100k: media_ms / 1000.0 * MEDIA_MEMORY_GB / p * 1e5 * LAMBDA_ARM_GB_S,
        },
        Line {
            component: "SQS requests (standard: enqueue, receive, delete)".to_owned(),
            per_message: media_sqs / p,
            unit: "req",
            usd_per_100k: media_sqs / p * 1e5 * SQS_STANDARD_PER_M / 1e6,
        },
        Line {
            component: "S3 PUT".to_owned(),
            per_message: media_tally.service_calls("S3") as f64 / p,
            unit: "req",
            usd_per_100k: media_tally.service_calls("S3") as f64 / p * 1e5 * S3_PUT_PER_K / 1e3,
        },
        Line {
            component: "DynamoDB write units".to_owned(),
            per_message: media_tally.wru / p,
            unit: "WRU",
            usd_per_100k: media_tally.wru / p * 1e5 * WRU_PER_M / 1e6,
        },
        Line {
            component: "DynamoDB read units".to_owned(),
            per_message: media_tally.rru / p,
            unit: "RRU",
            usd_per_100k: media_tally.rru / p * 1e5 * RRU_PER_M / 1e6,
        },
        Line {
            component: "WebSocket messages (message.updated)".to_owned(),
            per_message: media_tally.ws_messages as f64 / p,
            unit: "msg",
            usd_per_100k: media_tally.ws_messages as f64 / p * 1e5 * WS_MSG_PER_M / 1e6,
        },
    ];
    let per_photo_usd_100k = print_table(
        "Media: photo → media function → Telegram getFile + download → S3 (per photo)",
        &media_lines,
        &media_tally,
        p,
    );
    let photo_share = args.photo_percent as f64 / 100.0;
    let media_usd = per_photo_usd_100k * photo_share;
    let gb_per_photo = media_tally.s3_bytes_put as f64 / p / (1024.0 * 1024.0 * 1024.0);
    let storage_usd_month = 1e5 * photo_share * gb_per_photo * S3_GB_MONTH;
    let photo_inbound = lines(
        &t8.since(&t7),
        &m8.since(&m7),
        p,
        &Front("Lambda function URL requests (webhook)", FUNCTION_URL_PER_M),
        &[Function::TelegramWebhook, Function::Router],
    );
    let photo_inbound_usd: f64 = photo_inbound.iter().map(|l| l.usd_per_100k).sum();
    println!(
        "\nPer 100k messages with {}% photos of {} KB ({} photos run): media path ${:.4} \
         (= {:.0}k photos x ${:.4} per 100k photos), S3 storage ${:.4} per month they are \
         kept ({:.2} GB); a photo's own inbound (webhook + router) costs ${:.4} per 100k \
         (a text's: ${:.4}).",
        args.photo_percent,
        args.photo_kb,
        photos,
        media_usd,
        100.0 * photo_share,
        per_photo_usd_100k,
        storage_usd_month,
        1e5 * photo_share * gb_per_photo,
        photo_inbound_usd,
        usd,
    );

    let email = email_path(&s, &args, &clock, token).await?;
    let tr = Box::pin(translation_path(&endpoint, &args, &clock)).await?;
    let ai_model = Box::pin(ai_path(&endpoint, &args, &clock, "bedrock")).await?;
    let ai_kb = Box::pin(ai_path(&endpoint, &args, &clock, "kb")).await?;
    let round4 = |x: f64| (x * 1e4).round() / 1e4;
    let by_provider = |usd: &dyn Fn(f64) -> f64| -> BTreeMap<&str, f64> {
        PROVIDERS_PER_M
            .iter()
            .map(|(name, per_m)| (*name, round4(usd(*per_m))))
            .collect()
    };

    let breakdown: BTreeMap<String, f64> = inbound_lines
        .iter()
        .map(|l| (l.component.clone(), (l.usd_per_100k * 1e4).round() / 1e4))
        .collect();
    let mut out = json!({
        "usd_per_100k": (usd * 1e4).round() / 1e4,
        "requests_per_message": (requests(&inbound_tally, &inbound_meter) / n * 100.0).round() / 100.0,
        "messages": args.messages,
        "chats": args.chats,
        "agents_connected": args.agents,
        "gap_secs": args.gap_secs,
        "avg_router_batch": (n / polls.max(1) as f64 * 10.0).round() / 10.0,
        "reassignment_timers": timers,
        "wru_per_message": (inbound_tally.wru / n * 100.0).round() / 100.0,
        "rru_per_message": (inbound_tally.rru / n * 100.0).round() / 100.0,
        "sqs_requests_per_message": (inbound_tally.sqs_requests as f64 / n * 100.0).round() / 100.0,
        "ws_messages_per_message": (inbound_tally.ws_messages as f64 / n * 100.0).round() / 100.0,
        "reply_usd_per_100k": (reply_usd * 1e4).round() / 1e4,
        "reply_requests_per_message": (requests(&reply_tally, &reply_meter) / r * 100.0).round() / 100.0,
        "breakdown_usd_per_100k": breakdown,
        "web_usd_per_100k": (web_usd * 1e4).round() / 1e4,
        "web_requests_per_message": (requests(&web_tally, &web_meter) / n * 100.0).round() / 100.0,
        "web_reply_usd_per_100k": (web_reply_usd * 1e4).round() / 1e4,
        "web_reply_requests_per_message": (requests(&web_reply_tally, &web_reply_meter) / wr * 100.0).round() / 100.0,
        "photo_percent": args.photo_percent,
        "photo_kb": args.photo_kb,
        "media_usd_per_100k_messages": (media_usd * 1e4).round() / 1e4,
        "media_usd_per_100k_photos": (per_photo_usd_100k * 1e4).round() / 1e4,
        "media_storage_usd_per_month_per_100k_messages": (storage_usd_month * 1e4).round() / 1e4,
    "email_usd_per_100k": (email.inbound_usd * 1e4).round() / 1e4,
        "email_pipeline_usd_per_100k": (email.pipeline_usd * 1e4).round() / 1e4,
        "email_requests_per_message": (email.requests * 100.0).round() / 100.0,
        "email_reply_usd_per_100k": (email.reply_usd * 1e4).round() / 1e4,
        "email_storage_usd_per_month_per_100k": (email.storage_usd_month * 1e4).round() / 1e4,
        "usd_per_100k_with_photos": (((1.0 - photo_share) * usd + photo_share * photo_inbound_usd + media_usd) * 1e4).round() / 1e4,
    });
    // The translation row (a second object: one json! of every field passes its recursion
    // limit).
    let translation = json!({
        "translate_percent": args.translate_percent,
        "translate_share": (tr.share * 1e3).round() / 1e3,
        "repeat_percent": args.repeat_percent,
        "translate_usd_per_100k": round4(tr.inbound_infra_usd + tr.inbound_provider_usd(PROVIDERS_PER_M[0].1)),
        "translate_usd_per_100k_by_provider": by_provider(&|p| tr.inbound_infra_usd + tr.inbound_provider_usd(p)),
        "translate_infra_usd_per_100k": round4(tr.inbound_infra_usd),
        "translate_provider_usd_per_100k": by_provider(&|p| tr.inbound_provider_usd(p)),
        "translate_provider_usd_per_100k_without_cache": by_provider(&|p| tr.inbound_provider_usd_uncached(p)),
        "translate_provider_usd_per_100k_warm_cache": by_provider(&|p| tr.inbound_provider_usd_warm(p)),
        "translate_provider_share": (tr.inbound_provider_usd(PROVIDERS_PER_M[0].1) / (tr.inbound_infra_usd + tr.inbound_provider_usd(PROVIDERS_PER_M[0].1)) * 1e3).round() / 1e3,
        "translate_requests_per_message": (tr.inbound_requests * 100.0).round() / 100.0,
        "translate_reply_usd_per_100k": round4(tr.reply_infra_usd + tr.reply_provider_usd(PROVIDERS_PER_M[0].1)),
        "translate_reply_usd_per_100k_by_provider": by_provider(&|p| tr.reply_infra_usd + tr.reply_provider_usd(p)),
        "translate_reply_requests_per_message": (tr.reply_requests * 100.0).round() / 100.0,
        "translate_with_replies_usd_per_100k": round4(tr.with_replies_usd(PROVIDERS_PER_M[0].1)),
        "translate_with_replies_usd_per_100k_by_provider": by_provider(&|p| tr.with_replies_usd(p)),
        "translate_cache_hit_ratio": (tr.hit_ratio() * 1e3).round() / 1e3,
        "translate_cache_hit_ratio_inbound": (tr.inbound.hit_ratio() * 1e3).round() / 1e3,
        "translate_cache_hit_ratio_replies": (tr.replies.hit_ratio() * 1e3).round() / 1e3,
        "translate_texts": tr.inbound.texts + tr.replies.texts,
        "translate_provider_calls": tr.inbound.calls + tr.replies.calls,
        "translate_chars_billed": tr.inbound.chars_billed + tr.replies.chars_billed,
        "translate_chars_without_cache": tr.inbound.chars_asked + tr.replies.chars_asked,
        "translate_chars_warm_cache": tr.inbound.chars_unique + tr.replies.chars_unique,
    });
    if let (Some(all), serde_json::Value::Object(more)) = (out.as_object_mut(), translation) {
        all.extend(more);
    }
    let model_usd = |input: f64, output: f64| -> BTreeMap<&str, f64> {
        MODELS_PER_M
            .iter()
            .map(|(name, i, o)| (*name, round4(1e5 * (input * i + output * o) / 1e6)))
            .collect()
    };
    let ai = json!({
        "ai_answers": ai_model.answers,
        "ai_usd_per_100k": round4(ai_model.infra_usd),
        "ai_usd_per_100k_with_model_wait": round4(ai_model.infra_usd + ai_model.model_wait_usd),
        "ai_model_wait_secs_assumed": MODEL_LATENCY_SECS,
        "ai_requests_per_message": (ai_model.requests * 100.0).round() / 100.0,
        "ai_worker_ms_per_answer": (ai_model.worker_ms * 10.0).round() / 10.0,
        "ai_input_tokens_per_answer": ai_model.input_tokens.round(),
        "ai_output_tokens_per_answer": ai_model.output_tokens.round(),
        "ai_model_usd_per_100k": model_usd(ai_model.input_tokens, ai_model.output_tokens),
        "ai_kb_usd_per_100k": round4(ai_kb.infra_usd),
        "ai_kb_requests_per_message": (ai_kb.requests * 100.0).round() / 100.0,
        "ai_kb_worker_ms_per_answer": (ai_kb.worker_ms * 10.0).round() / 10.0,
    });
    if let (Some(all), serde_json::Value::Object(more)) = (out.as_object_mut(), ai) {
        all.extend(more);
    }
    println!("{out}");
    Ok(())
}

/// What an AI answer costs: a customer's question through the webhook, the router, the AI
/// queue, the ai-worker (Bedrock Converse on the local fake, or the knowledge base) and the
/// sender.
struct AiCost {
    answers: u64,
    /// Functions, queues, table and pushes per 100k answered messages (no model).
    infra_usd: f64,
    /// The ai-worker's Lambda time while a model answers in [`MODEL_LATENCY_SECS`].
    model_wait_usd: f64,
    requests: f64,
    worker_ms: f64,
    input_tokens: f64,
    output_tokens: f64,
}

/// Customers' questions the AI answers (the knowledge base has them as entries).
const AI_QUESTIONS: [&str; 5] = [
    "How long does delivery take?",
    "What are your opening hours?",
    "How do I reset my password?",
    "Do you ship abroad?",
    "How can I pay for my order?",
];

async fn ai_path(
    endpoint: &str,
    args: &Args,
    clock: &Arc<ManualClock>,
    mode: &str,
) -> anyhow::Result<AiCost> {
    let mut s = Stack::start_with(
        endpoint,
        StackOptions {
            clock: clock.clone(),
            // Every question of a chat is answered (no handover after 5 turns).
            ai: Some(AiOptions::mode(mode).var("OMNIDESK_AI_MAX_TURNS", "1000")),
            ..StackOptions::default()
        },
    )
    .await?;
    s.sender.limiter = Arc::new(omnidesk_sender::RateLimiter::new(Duration::ZERO, 1_000));
    // About 60 words: a typical answer.
    let answer = "Thanks for asking! Orders ship from our warehouse and you can follow every \
                  step from the link in your confirmation e-mail. If anything looks wrong \
                  there, reply here with your order number and the address you used, and we \
                  will look into it with you right away. Is there anything else I can help \
                  you with today?";
    if let Some(b) = &s.bedrock {
        b.set_responder(move |_| json!({"action": "reply", "text": answer}).to_string());
    }
    for (i, q) in AI_QUESTIONS.iter().enumerate() {
        let (status, body) = s
            .api_request(
                "POST",
                "/api/v1/faq",
                Some(&s.online_agent(&format!("faq{i}@example.com")).await?.1),
                Some(&json!({"questions": [q], "answer": answer, "language": "en"}).to_string()),
            )
            .await?;
        if status != StatusCode::CREATED {
            bail!("FAQ entry: {status} {body}");
        }
    }
    for i in 0..args.agents {
        let (_agent, t) = s.online_agent(&format!("aiagent{i}@example.com")).await?;
        let r = s.ws_connect(&format!("aiconn-{i}"), &t).await?;
        if r.status_code != 200 {
            bail!("$connect answered {}", r.status_code);
        }
    }
    let n = args.messages.min(200);
    let (t0, m0) = (s.counter.snapshot(), s.meter());
    let mut sent = 0;
    while sent < n {
        let wave = args.chats.min(n - sent);
        for c in 0..wave {
            let i = sent + c;
            // The baseline's mix: `--chats` ongoing chats, each asking again (the first
            // question of a chat also creates its contact and conversation).
            let update = text_update(
                6_000_000 + i as i64,
                900_000 + (i % args.chats) as i64,
                (i / args.chats) as i64 + 1,
                AI_QUESTIONS[i % AI_QUESTIONS.len()],
            );
            let status = s.webhook_request(WEBHOOK_SECRET, &update).await?;
            if status != StatusCode::OK {
                bail!("webhook answered {status}");
            }
        }
        sent += wave;
        clock.advance(Duration::from_secs(args.gap_secs as u64));
        s.drain(QueueName::Inbound, wave * 2 + 5).await?;
        let answered = s.drain(QueueName::Ai, wave * 2 + 5).await?;
        let delivered = s.drain(QueueName::Outbound, wave * 2 + 5).await?;
        if answered != wave || delivered != wave {
            bail!(
                "of {wave} questions ({mode}), {answered} were answered and {delivered} delivered"
            );
        }
    }
    let (t1, m1) = (s.counter.snapshot(), s.meter());
    let (tally, meter) = (t1.since(&t0), m1.since(&m0));
    let nf = n as f64;
    let lines = lines(
        &tally,
        &meter,
        nf,
        &Front("Lambda function URL requests (webhook)", FUNCTION_URL_PER_M),
        &[
            Function::TelegramWebhook,
            Function::Router,
            Function::AiWorker,
            Function::Sender,
        ],
    );
    let infra_usd = print_table(
        &format!(
            "AI answer ({mode}): webhook → router → AI queue → ai-worker → sender (per answer)"
        ),
        &lines,
        &tally,
        nf,
    );
    let worker = meter.by_function.get(&Function::AiWorker);
    let worker_ms = worker.map_or(0.0, |w| w.total.as_secs_f64() * 1000.0 / nf);
    let calls = omnidesk_core::AiStore::ai_calls(s.store.as_ref(), None, 200).await?;
    let answers: Vec<_> = calls.iter().filter(|c| c.kind == "answer").collect();
    let per = |f: &dyn Fn(&omnidesk_core::AiCall) -> u32| {
        answers.iter().map(|c| f(c) as f64).sum::<f64>() / answers.len().max(1) as f64
    };
    let model_wait_usd = if mode == "kb" {
        0.0
    } else {
        1e5 * MODEL_LATENCY_SECS * AI_WORKER_MEMORY_GB * LAMBDA_ARM_GB_S
    };
    Ok(AiCost {
        answers: n as u64,
        infra_usd,
        model_wait_usd,
        requests: requests(&tally, &meter) / nf,
        worker_ms,
        input_tokens: per(&|c| c.usage.input),
        output_tokens: per(&|c| c.usage.output),
    })
}

/// What the translations of one phase asked and what the provider was sent.
#[derive(Debug, Default, Clone, Copy)]
struct TranslatedTexts {
    /// Texts the translator translated (one target each here: English or Russian).
    texts: u64,
    /// Provider calls (cache misses).
    calls: u64,
    /// Characters sent to the provider: what it bills.
    chars_billed: u64,
    /// Characters of every text as it would be sent (spans protected): what it would bill
    /// without the cache.
    chars_asked: u64,
    /// Characters of the texts that are not stock phrases: what it bills once the stock
    /// phrases are in the cache from earlier days (its entries live 30 days).
    chars_unique: u64,
}

impl TranslatedTexts {
    fn hit_ratio(&self) -> f64 {
        if self.texts == 0 {
            return 0.0;
        }
        1.0 - self.calls as f64 / self.texts as f64
    }
}

/// The translation row's totals, per 100k inbound messages of the mix (or per 100k replies).
struct TranslationCost {
    /// The share of inbound messages that were translated.
    share: f64,
    /// Functions, queues, table and pushes per 100k inbound messages (no provider).
    inbound_infra_usd: f64,
    inbound_requests: f64,
    /// The same per 100k agent replies translated back.
    reply_infra_usd: f64,
    reply_requests: f64,
    /// Inbound messages of the mix, and translated replies.
    messages: u64,
    inbound: TranslatedTexts,
    replies: TranslatedTexts,
}

impl TranslationCost {
    fn provider_usd(chars: u64, per: u64, per_m: f64) -> f64 {
        chars as f64 / per.max(1) as f64 * 1e5 * per_m / 1e6
    }

    fn inbound_provider_usd(&self, per_m: f64) -> f64 {
        Self::provider_usd(self.inbound.chars_billed, self.messages, per_m)
    }

    fn inbound_provider_usd_uncached(&self, per_m: f64) -> f64 {
        Self::provider_usd(self.inbound.chars_asked, self.messages, per_m)
    }

    fn inbound_provider_usd_warm(&self, per_m: f64) -> f64 {
        Self::provider_usd(self.inbound.chars_unique, self.messages, per_m)
    }

    fn reply_provider_usd(&self, per_m: f64) -> f64 {
        Self::provider_usd(self.replies.chars_billed, self.replies.texts, per_m)
    }

    /// Per 100k inbound messages of the mix, with one translated reply per translated message.
    fn with_replies_usd(&self, per_m: f64) -> f64 {
        self.inbound_infra_usd
            + self.inbound_provider_usd(per_m)
            + self.share * (self.reply_infra_usd + self.reply_provider_usd(per_m))
    }

    fn hit_ratio(&self) -> f64 {
        TranslatedTexts {
            texts: self.inbound.texts + self.replies.texts,
            calls: self.inbound.calls + self.replies.calls,
            ..TranslatedTexts::default()
        }
        .hit_ratio()
    }
}

/// Customers' stock messages (greetings, thanks, the usual question; `{n}`: an order number,
/// protected from translation, so every number shares one cached translation).
const RU_STOCK: [&str; 8] = [
    "Здравствуйте!",
    "Добрый день! Где мой заказ?",
    "Где мой заказ #{n}?",
    "Спасибо!",
    "Большое спасибо, до свидания",
    "Когда он прибудет?",
    "Мне нужна помощь",
    "Привет, где моя посылка?",
];
const RU_ITEMS: [&str; 12] = [
    "чайник",
    "кофемолку",
    "пылесос",
    "утюг",
    "фен",
    "блендер",
    "тостер",
    "миксер",
    "весы",
    "лампу",
    "плед",
    "рюкзак",
];
const RU_CITIES: [&str; 12] = [
    "Москву",
    "Казань",
    "Самару",
    "Тверь",
    "Пермь",
    "Уфу",
    "Сочи",
    "Омск",
    "Томск",
    "Курск",
    "Липецк",
    "Калугу",
];
const RU_PROBLEMS: [&str; 8] = [
    "посылка так и не пришла",
    "курьер не позвонил",
    "коробка пришла мятой",
    "трек-номер не работает",
    "в заказе не хватает детали",
    "пришёл не тот цвет",
    "доставку перенесли дважды",
    "оплата списалась два раза",
];
const NAMES: [&str; 20] = [
    "Анна",
    "Борис",
    "Вера",
    "Глеб",
    "Дарья",
    "Егор",
    "Жанна",
    "Зоя",
    "Иван",
    "Кира",
    "Лев",
    "Мария",
    "Нина",
    "Олег",
    "Павел",
    "Роза",
    "Семён",
    "Тамара",
    "Ульяна",
    "Фёдор",
];
/// Agents' stock answers.
const EN_STOCK: [&str; 5] = [
    "Hello! How can I help you?",
    "Thank you, your order has been shipped.",
    "Sorry, your order will arrive tomorrow.",
    "Your order #{n} has been shipped, track it at https://track.example.com/{n}",
    "Thank you very much, goodbye!",
];
const EN_ITEMS: [&str; 12] = [
    "kettle",
    "coffee grinder",
    "vacuum cleaner",
    "iron",
    "hair dryer",
    "blender",
    "toaster",
    "mixer",
    "scale",
    "lamp",
    "blanket",
    "backpack",
];
const EN_STATUS: [&str; 8] = [
    "left our warehouse on Monday",
    "is with the courier now",
    "was delayed at the sorting centre",
    "was sent to the wrong pickup point",
    "is waiting at the post office",
    "was returned to us by mistake",
    "has a new delivery slot",
    "is being replaced with a new one",
];
const EN_NEXT: [&str; 6] = [
    "the courier will call you before delivery",
    "you will get a text with the new date",
    "we have refunded the delivery fee",
    "a replacement ships today",
    "you can pick it up with your passport",
    "we will send you the new tracking link",
];

/// Whether the `k`-th text of a kind is a stock one: `repeat_percent` of every 100 in a row,
/// spread out (61 is prime to 100).
fn is_stock(k: usize, repeat_percent: usize) -> bool {
    (k * 61) % 100 < repeat_percent
}

/// The `k`-th customer's message in Russian (`stock`: the `stock`-th stock one) and a number.
fn ru_message(k: usize, stock: Option<usize>) -> String {
    if let Some(j) = stock {
        return RU_STOCK[j % RU_STOCK.len()].replace("{n}", &(40_000 + k).to_string());
    }
    let (item, k) = (RU_ITEMS[k % 12], k / 12);
    let (city, k) = (RU_CITIES[k % 12], k / 12);
    let (problem, k) = (RU_PROBLEMS[k % 8], k / 8);
    let name = NAMES[k % 20];
    format!(
        "Здравствуйте, я заказал {item} с доставкой в {city}, но {problem}. Подскажите, \
         пожалуйста, что делать? {name}"
    )
}

/// The `k`-th agent's reply to a Russian customer, in English.
fn en_reply(k: usize, stock: Option<usize>) -> String {
    if let Some(j) = stock {
        return EN_STOCK[j % EN_STOCK.len()].replace("{n}", &(40_000 + k).to_string());
    }
    let (item, k) = (EN_ITEMS[k % 12], k / 12);
    let (status, k) = (EN_STATUS[k % 8], k / 8);
    let (next, k) = (EN_NEXT[k % 6], k / 6);
    let name = NAMES[k % 20];
    format!("{name}, I checked your order: the {item} {status}, and {next}. Sorry for the wait.")
}

/// Characters of `text` as the translator sends it (protected spans as placeholders).
fn chars_sent(text: &str) -> u64 {
    omnidesk_language::protect(text, &[]).text.chars().count() as u64
}

/// Characters of the `Text` of Amazon Translate requests.
fn request_chars(requests: &[serde_json::Value]) -> u64 {
    requests
        .iter()
        .filter_map(|r| r["Text"].as_str())
        .map(|t| t.chars().count() as u64)
        .sum()
}

/// The translation path on a stack of its own (translation on): waves of one message per
/// chat, the Russian chats' messages translated, an agent reply to each translated back; the
/// inbound phase (webhook, router, translator, timers) and the reply phase (agent API,
/// translator, sender) measured apart.
async fn translation_path(
    endpoint: &str,
    args: &Args,
    clock: &Arc<ManualClock>,
) -> anyhow::Result<TranslationCost> {
    let mut s = Stack::start_with(
        endpoint,
        StackOptions {
            clock: clock.clone(),
            translation: Some(Translation::amazon("en,ru")),
            ai: None,
        },
    )
    .await?;
    s.router.settings.reassign_after = Some(TIMER_DELAY);
    // A chat's replies are `--gap-secs` apart on the simulated clock but milliseconds apart
    // here, and the sender's limiter keeps Telegram's 1 message/s per chat in real time: its
    // waits would be billed as handler time. No per-chat wait, as in production at that pace.
    s.sender.limiter = Arc::new(omnidesk_sender::RateLimiter::new(Duration::ZERO, 1_000));
    let amazon = s
        .amazon_translate
        .as_ref()
        .context("the stack has no Amazon Translate")?;
    let mut token = String::new();
    for i in 0..args.agents {
        let (_agent, t) = s.online_agent(&format!("tagent{i}@example.com")).await?;
        let r = s.ws_connect(&format!("tconn-{i}"), &t).await?;
        if r.status_code != 200 {
            bail!("$connect answered {}", r.status_code);
        }
        if i == 0 {
            token = t;
        }
    }
    let russian_chats = (args.chats * args.translate_percent).div_ceil(100).max(1);
    let bot = BotId::parse(&BOT_ID.to_string())?;
    let mut conversations: HashMap<i64, String> = HashMap::new();
    let (mut inbound_tally, mut inbound_meter) = (Tally::default(), LambdaMeter::default());
    let (mut reply_tally, mut reply_meter) = (Tally::default(), LambdaMeter::default());
    let (mut inbound, mut replies) = (TranslatedTexts::default(), TranslatedTexts::default());
    let (mut ru_stock, mut en_stock) = (0usize, 0usize);
    let (mut sent, mut processed) = (0usize, 0usize);
    while sent < args.messages {
        let wave = args.chats.min(args.messages - sent);
        let (t0, m0, r0) = (s.counter.snapshot(), s.meter(), amazon.requests().len());
        let mut russian = Vec::new();
        for c in 0..wave {
            let i = sent + c;
            let chat = 800_000 + c as i64;
            let update = if c < russian_chats {
                let k = inbound.texts as usize;
                let stock = is_stock(k, args.repeat_percent).then(|| {
                    ru_stock += 1;
                    ru_stock - 1
                });
                let text = ru_message(k, stock);
                inbound.texts += 1;
                inbound.chars_asked += chars_sent(&text);
                if stock.is_none() {
                    inbound.chars_unique += chars_sent(&text);
                }
                russian.push(chat);
                text_update_in(4_000_000 + i as i64, chat, i as i64 + 1, &text, Some("ru"))
            } else {
                text_update(
                    4_000_000 + i as i64,
                    chat,
                    i as i64 + 1,
                    &format!("message {i}: where is my order? it should have arrived by now"),
                )
            };
            let status = s.webhook_request(WEBHOOK_SECRET, &update).await?;
            if status != StatusCode::OK {
                bail!("webhook answered {status}");
            }
        }
        sent += wave;
        clock.advance(Duration::from_secs(args.gap_secs as u64));
        for _ in 0..(wave * 2 + 5) {
            let poll = s.poll(QueueName::Inbound).await?;
            if poll.received == 0 {
                break;
            }
            processed += poll.received - poll.failed.len();
        }
        let translated = s.drain(QueueName::Translate, wave * 2 + 5).await?;
        if translated != russian.len() {
            bail!(
                "the translator translated {translated} of {} messages",
                russian.len()
            );
        }
        let (t1, m1) = (s.counter.snapshot(), s.meter());
        let requests = amazon.requests();
        inbound.calls += (requests.len() - r0) as u64;
        inbound.chars_billed += request_chars(&requests[r0..]);
        inbound_tally = inbound_tally.plus(&t1.since(&t0));
        inbound_meter = inbound_meter.plus(&m1.since(&m0));

        // Outside the measured windows: the conversations the agents answer.
        for chat in &russian {
            if !conversations.contains_key(chat) {
                let key = ConversationKey::telegram_private(bot, TelegramChatId(*chat));
                let c = s
                    .store
                    .conversation_by_key(&key)
                    .await?
                    .context("a Russian customer's conversation")?;
                conversations.insert(*chat, c.id.to_string());
            }
        }
        let (t1, m1, r1) = (s.counter.snapshot(), s.meter(), amazon.requests().len());
        for chat in &russian {
            let k = replies.texts as usize;
            let stock = is_stock(k, args.repeat_percent).then(|| {
                en_stock += 1;
                en_stock - 1
            });
            let text = en_reply(k, stock);
            replies.texts += 1;
            replies.chars_asked += chars_sent(&text);
            if stock.is_none() {
                replies.chars_unique += chars_sent(&text);
            }
            let (status, body) = s
                .agent_reply(&conversations[chat], &token, &text, &format!("tr{k}"))
                .await?;
            if !status.is_success() {
                bail!("reply answered {status}: {body}");
            }
        }
        let translated = s.drain(QueueName::Translate, russian.len() * 2 + 5).await?;
        let delivered = s.drain(QueueName::Outbound, russian.len() * 2 + 5).await?;
        if translated != russian.len() || delivered != russian.len() {
            bail!(
                "of {} replies, {translated} were translated and {delivered} delivered",
                russian.len()
            );
        }
        let (t2, m2) = (s.counter.snapshot(), s.meter());
        let requests = amazon.requests();
        replies.calls += (requests.len() - r1) as u64;
        replies.chars_billed += request_chars(&requests[r1..]);
        reply_tally = reply_tally.plus(&t2.since(&t1));
        reply_meter = reply_meter.plus(&m2.since(&m1));
    }
    if processed != args.messages {
        bail!(
            "the router processed {processed} of {} messages",
            args.messages
        );
    }
    // The reassignment timers, as in the inbound row.
    tokio::time::sleep(TIMER_DELAY + Duration::from_millis(500)).await;
    let (t0, m0) = (s.counter.snapshot(), s.meter());
    s.drain_by(QueueName::Timers, 1, args.chats * 4 + 5).await?;
    let (t1, m1) = (s.counter.snapshot(), s.meter());
    inbound_tally = inbound_tally.plus(&t1.since(&t0));
    inbound_meter = inbound_meter.plus(&m1.since(&m0));
    // Every reply reached Telegram translated.
    let cyrillic = s
        .telegram
        .sent()
        .iter()
        .filter(|m| m.text.chars().any(|c| matches!(c, '\u{0400}'..='\u{04FF}')))
        .count();
    if cyrillic as u64 != replies.texts {
        bail!(
            "{cyrillic} of {} replies reached Telegram in Russian",
            replies.texts
        );
    }

    let n = args.messages as f64;
    let share = inbound.texts as f64 / n;
    let amazon_per_m = PROVIDERS_PER_M[0].1;
    let provider_line = |chars: u64, per: f64| Line {
        component: format!("Amazon Translate characters (${amazon_per_m} per million)"),
        per_message: chars as f64 / per,
        unit: "char",
        usd_per_100k: chars as f64 / per * 1e5 * amazon_per_m / 1e6,
    };
    println!(
        "\naws-cost translation: {} inbound messages across {} chats, {} of them Russian ({} \
         chats, {:.0}%), {}% stock phrases; {} replies translated back",
        args.messages,
        args.chats,
        inbound.texts,
        russian_chats.min(args.chats),
        100.0 * share,
        args.repeat_percent,
        replies.texts
    );
    let mut inbound_lines = lines(
        &inbound_tally,
        &inbound_meter,
        n,
        &Front("Lambda function URL requests (webhook)", FUNCTION_URL_PER_M),
        &[
            Function::TelegramWebhook,
            Function::Router,
            Function::Translator,
        ],
    );
    inbound_lines.push(provider_line(inbound.chars_billed, n));
    let inbound_usd = print_table(
        "Inbound with translation: Telegram → webhook → SQS → router → translate FIFO → translator (256 MB) → Amazon Translate → DynamoDB → WebSocket (per inbound message of the mix)",
        &inbound_lines,
        &inbound_tally,
        n,
    );
    let r = replies.texts.max(1) as f64;
    let mut reply_lines = lines(
        &reply_tally,
        &reply_meter,
        r,
        &Front("HTTP API requests (agent API)", HTTP_API_PER_M),
        &[Function::AgentApi, Function::Translator, Function::Sender],
    );
    reply_lines.push(provider_line(replies.chars_billed, r));
    let reply_usd = print_table(
        "Translated agent reply: agent API → translate FIFO → translator → Amazon Translate → outbound FIFO → sender → Telegram",
        &reply_lines,
        &reply_tally,
        r,
    );
    let inbound_infra_usd = inbound_usd - inbound_lines.last().map_or(0.0, |l| l.usd_per_100k);
    let reply_infra_usd = reply_usd - reply_lines.last().map_or(0.0, |l| l.usd_per_100k);
    let lookups =
        inbound_tally.item_requests("GetItem", "TXC") + reply_tally.item_requests("GetItem", "TXC");
    let cache_writes =
        inbound_tally.item_requests("PutItem", "TXC") + reply_tally.item_requests("PutItem", "TXC");
    let texts = inbound.texts + replies.texts;
    let calls = inbound.calls + replies.calls;
    println!(
        "Translation cache: {texts} texts, {calls} provider calls: hit ratio {:.1}% (customers' \
         messages {:.1}%, replies {:.1}%; {} hits in the translator's memory, {} from the \
         table's cache items, {lookups} table look-ups, {cache_writes} cache writes). \
         Characters billed {} of {} ({:.1} a translated text; {:.1} without the cache; {} \
         with the stock phrases cached from earlier days).",
        100.0 * (1.0 - calls as f64 / texts.max(1) as f64),
        100.0 * inbound.hit_ratio(),
        100.0 * replies.hit_ratio(),
        texts.saturating_sub(lookups),
        lookups.saturating_sub(calls),
        inbound.chars_billed + replies.chars_billed,
        inbound.chars_asked + replies.chars_asked,
        (inbound.chars_billed + replies.chars_billed) as f64 / texts.max(1) as f64,
        (inbound.chars_asked + replies.chars_asked) as f64 / texts.max(1) as f64,
        inbound.chars_unique + replies.chars_unique,
    );
    let cost = TranslationCost {
        share,
        inbound_infra_usd,
        inbound_requests: requests(&inbound_tally, &inbound_meter) / n,
        reply_infra_usd,
        reply_requests: requests(&reply_tally, &reply_meter) / r,
        messages: args.messages as u64,
        inbound,
        replies,
    };
    println!(
        "Per 100k inbound messages, {:.0}% translated (infrastructure ${:.4}): provider, this \
         run (cache empty at its start) | total | share | provider without the cache | provider \
         with the stock phrases cached from earlier days | total with one translated reply per \
         translated message",
        100.0 * share,
        cost.inbound_infra_usd
    );
    for (name, per_m) in PROVIDERS_PER_M {
        let total = cost.inbound_infra_usd + cost.inbound_provider_usd(per_m);
        println!(
            "  {name:<7} ${per_m:>5.2}/M chars: ${:.4} | ${total:.4} | {:.1}% | ${:.4} | ${:.4} | ${:.4}",
            cost.inbound_provider_usd(per_m),
            100.0 * cost.inbound_provider_usd(per_m) / total,
            cost.inbound_provider_usd_uncached(per_m),
            cost.inbound_provider_usd_warm(per_m),
            cost.with_replies_usd(per_m),
        );
    }
    Ok(cost)
}

/// The e-mail row's totals.
struct EmailCost {
    /// Per 100k inbound mails, SES receiving fee included.
    inbound_usd: f64,
    /// The same without SES's fee: what omnidesk's functions, queues, table and buckets cost.
    pipeline_usd: f64,
    /// AWS requests per inbound mail (invocations, SQS, DynamoDB, S3).
    requests: f64,
    /// Per 100k agent replies by e-mail, SES sending fee included.
    reply_usd: f64,
    /// S3 storage of 100k mails' bytes (raw in the inbound bucket, raw copy and parts in the
    /// files bucket) for one month.
    storage_usd_month: f64,
}

/// A customer's mail, as SES stores it.
fn raw_mail(i: usize, chat: usize, parent: Option<&str>) -> Vec<u8> {
    let mut m = format!(
        "From: Customer {chat} <customer{chat}@example.org>\r\nTo: {}\r\n\
         Subject: Order {chat} is late\r\nMessage-ID: <bench-{i}@example.org>\r\n\
         Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n",
        omnidesk_aws_e2e::MAILBOX
    );
    if let Some(p) = parent {
        m.push_str(&format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"));
    }
    m.push_str(&format!(
        "\r\nHello,\r\n\r\nmessage {i}: where is my order? It should have arrived by now.\r\n\
         Order number {chat}, placed last week.\r\n\r\nThanks,\r\nCustomer {chat}\r\n"
    ));
    m.into_bytes()
}

/// S3 request lines of a tally (every `PutObject`, SES's own write included, and `GetObject`).
fn s3_lines(tally: &Tally, n: f64) -> Vec<Line> {
    let put = tally.calls.get("S3:PutObject").copied().unwrap_or(0) as f64;
    let get = tally.calls.get("S3:GetObject").copied().unwrap_or(0) as f64;
    vec![
        Line {
            component: "S3 PUT (SES's raw mail, raw copy and parts)".to_owned(),
            per_message: put / n,
            unit: "req",
            usd_per_100k: put / n * 1e5 * S3_PUT_PER_K / 1e3,
        },
        Line {
            component: "S3 GET (raw mail)".to_owned(),
            per_message: get / n,
            unit: "req",
            usd_per_100k: get / n * 1e5 * S3_GET_PER_K / 1e3,
        },
    ]
}

/// The e-mail path: inbound mails through SES → S3 → email-inbound → router (+ the
/// acknowledgements through the sender), then agent replies through SESv2.
async fn email_path(
    s: &Stack,
    args: &Args,
    clock: &ManualClock,
    token: &str,
) -> anyhow::Result<EmailCost> {
    s.mail_domain().await?;
    let (t0, m0) = (s.counter.snapshot(), s.meter());
    let sends0 = s.mails.sent().len();
    let mut first: Vec<Option<String>> = vec![None; args.chats];
    let (mut sent, mut routed) = (0usize, 0usize);
    let mut keys = BTreeMap::new();
    while sent < args.emails {
        let wave = args.chats.min(args.emails - sent);
        for (c, parent) in first.iter_mut().enumerate().take(wave) {
            let i = sent + c;
            let ses_id = format!("bench-ses-{i:06}");
            let raw = raw_mail(i, c, parent.as_deref());
            s.ses_stores(&ses_id, &raw).await?;
            let event = omnidesk_aws_e2e::ses_event(
                &ses_id,
                &format!("Customer {c} <customer{c}@example.org>"),
                omnidesk_aws_e2e::MAILBOX,
                &format!("Order {c} is late"),
            )?;
            let out = s
                .email_inbound(event)
                .await
                .map_err(|e| anyhow::anyhow!("email-inbound: {e}"))?;
            match out.as_slice() {
                [omnidesk_email_inbound::Ingested::Queued { key, .. }] => {
                    keys.insert(key.to_string(), key.clone());
                }
                other => bail!("mail {i} was not queued: {other:?}"),
            }
            parent.get_or_insert_with(|| format!("bench-{i}@example.org"));
        }
        sent += wave;
        clock.advance(Duration::from_secs(args.gap_secs as u64));
        routed += s.drain(QueueName::Inbound, wave * 2 + 5).await?;
        s.drain(QueueName::Outbound, wave * 2 + 5).await?;
    }
    if routed != args.emails || keys.len() != args.chats.min(args.emails) {
        bail!(
            "the router stored {routed} of {} mails in {} threads",
            args.emails,
            keys.len()
        );
    }
    let (t1, m1) = (s.counter.snapshot(), s.meter());
    let acks = s.mails.sent().len() - sends0;

    // One agent reply per e-mail conversation, by e-mail.
    let mut conversations = Vec::new();
    for key in keys.values() {
        if let Some(c) = s.store.conversation_by_key(key).await? {
            conversations.push(c.id.to_string());
        }
    }
    let mut replies = 0usize;
    for (i, id) in conversations.iter().take(args.replies.max(1)).enumerate() {
        let (status, body) = s
            .agent_reply(id, token, "Thanks, it ships today.", &format!("er{i}"))
            .await?;
        if !status.is_success() {
            bail!("reply answered {status}: {body}");
        }
        replies += 1;
    }
    let delivered = s.drain(QueueName::Outbound, replies * 2 + 5).await?;
    let (t2, m2) = (s.counter.snapshot(), s.meter());
    let reply_sends = s.mails.sent().len() - sends0 - acks;
    if delivered != replies || reply_sends != replies {
        bail!(
            "the sender delivered {delivered} ({reply_sends} through SES) of {replies} e-mail replies"
        );
    }

    let n = args.emails as f64;
    let tally = t1.since(&t0);
    let meter = m1.since(&m0);
    let mut inbound = lines(
        &tally,
        &meter,
        n,
        &Front("SES receiving ($0.10 per 1,000 mails)", 0.0),
        &[Function::EmailInbound, Function::Router, Function::Sender],
    );
    inbound[0] = Line {
        component: "SES receiving ($0.10 per 1,000 mails)".to_owned(),
        per_message: 1.0,
        unit: "mail",
        usd_per_100k: 1e5 * SES_RECEIVED_PER_K / 1e3,
    };
    let ses_sent = tally.calls.get("SESv2:SendEmail").copied().unwrap_or(0) as f64;
    inbound.push(Line {
        component: "SES sending (acknowledgements)".to_owned(),
        per_message: ses_sent / n,
        unit: "mail",
        usd_per_100k: ses_sent / n * 1e5 * SES_SENT_PER_K / 1e3,
    });
    inbound.extend(s3_lines(&tally, n));
    println!(
        "\naws-cost e-mail: {} mails from {} customers ({} threads), {} acknowledgements sent, \
         {} agent replies by e-mail",
        args.emails,
        args.chats.min(args.emails),
        keys.len(),
        acks,
        replies
    );
    let inbound_usd = print_table(
        "E-mail inbound: SES → S3 → email-inbound (512 MB) → SQS → router → DynamoDB → WebSocket (+ acknowledgements)",
        &inbound,
        &tally,
        n,
    );
    let ses_fees: f64 = inbound
        .iter()
        .filter(|l| l.component.starts_with("SES "))
        .map(|l| l.usd_per_100k)
        .sum();
    let r = replies as f64;
    let reply_tally = t2.since(&t1);
    let reply_meter = m2.since(&m1);
    let mut reply_lines = lines(
        &reply_tally,
        &reply_meter,
        r,
        &Front("HTTP API requests (agent API)", HTTP_API_PER_M),
        &[Function::AgentApi, Function::Sender],
    );
    let reply_sent = reply_tally
        .calls
        .get("SESv2:SendEmail")
        .copied()
        .unwrap_or(0) as f64;
    reply_lines.push(Line {
        component: "SES sending ($0.10 per 1,000 mails)".to_owned(),
        per_message: reply_sent / r,
        unit: "mail",
        usd_per_100k: reply_sent / r * 1e5 * SES_SENT_PER_K / 1e3,
    });
    reply_lines.extend(s3_lines(&reply_tally, r));
    let reply_usd = print_table(
        "E-mail reply: agent API → SQS → sender → SESv2 SendEmail",
        &reply_lines,
        &reply_tally,
        r,
    );
    let gb_per_mail = tally.s3_bytes_put as f64 / n / (1024.0 * 1024.0 * 1024.0);
    let storage_usd_month = 1e5 * gb_per_mail * S3_GB_MONTH;
    let s3_requests = (tally.service_calls("S3")) as f64;
    let invocations: u64 = meter.by_function.values().map(|i| i.count).sum();
    let requests = (invocations as f64
        + tally.sqs_requests as f64
        + tally.service_calls("DynamoDB") as f64
        + s3_requests
        + tally.ws_messages as f64)
        / n;
    println!(
        "E-mail: ${:.4} per 100k inbound mails (${:.4} without SES's fees), ${:.4} per 100k \
         e-mail replies; S3 storage ${:.5} per month per 100k mails kept ({:.3} GB)",
        inbound_usd,
        inbound_usd - ses_fees,
        reply_usd,
        storage_usd_month,
        1e5 * gb_per_mail
    );
    Ok(EmailCost {
        inbound_usd,
        pipeline_usd: inbound_usd - ses_fees,
        requests,
        reply_usd,
        storage_usd_month,
    })
}
