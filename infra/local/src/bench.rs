//! `omnidesk bench`: the whole system in-process on loopback, a fake Telegram Bot API, one
//! agent on a WebSocket. Fires webhook updates over HTTP (at a rate, or flat out) across many
//! chats, and measures ack latency (with a bare 200 route of the same server as the baseline,
//! at the same rate in the same run), inbound → agent WebSocket latency, agent reply → fake
//! Telegram latency, sustained throughput, and lost / duplicated updates.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use futures_util::StreamExt;
use omnidesk_core::{BotConfig, BotMode, BotStore, Secret};
use omnidesk_domain::BotId;
use omnidesk_telegram::fake::FakeTelegram;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::app;
use crate::config::Config;

const BOT_TOKEN: &str = "4242424242:AAbenchmarkTokenForTheFakeBotApi_x";
const SECRET: &str = "bench-secret";

/// Benchmark parameters.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Webhook updates to send (bounded).
    #[arg(long, default_value_t = 5000)]
    pub updates: u64,
    /// Updates per second; 0 = flat out (closed loop with `--concurrency` clients).
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// Distinct Telegram chats the updates are spread over.
    #[arg(long, default_value_t = 500)]
    pub chats: u64,
    /// In-flight HTTP requests (flat out: the number of clients; paced: the cap).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Messages each queue worker processes concurrently (OMNIDESK_WORKERS of `serve`).
    #[arg(long, default_value_t = crate::config::DEFAULT_WORKERS)]
    pub workers: usize,
    /// Agent replies to send (one per conversation, paced under Telegram's 30/s per bot).
    #[arg(long, default_value_t = 100)]
    pub replies: u64,
}

#[derive(Default)]
struct Seen {
    /// seq → when the agent's WebSocket got `message.created` for it.
    at: HashMap<u64, Instant>,
    duplicates: u64,
    /// chat → conversation id.
    conversations: HashMap<i64, String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

fn update_body(seq: u64, chat: i64) -> String {
    json!({
        "update_id": seq,
        "message": {
            "message_id": seq,
            "date": 1_763_780_000,
            "chat": {"id": chat, "type": "private", "first_name": "Bench"},
            "from": {"id": chat, "is_bot": false, "first_name": "Bench", "last_name": format!("{chat}"), "language_code": "en"},
            "text": format!("bench {seq}")
        }
    })
    .to_string()
}

/// Runs the benchmark and prints a table and, last, one JSON line.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.updates == 0 || args.chats == 0 || args.concurrency == 0 || args.workers == 0 {
        bail!("--updates, --chats, --concurrency and --workers must be positive");
    }
    let dir = tempfile::tempdir().context("temp dir")?;
    let fake = FakeTelegram::start().await;
    let mut config = Config::for_test(dir.path().to_path_buf(), fake.url().to_string());
    config.workers = std::env::var("BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let server = app::start(&config).await?;
    let base = format!("http://{}", server.addr);
    let store = server.adapters.store.clone();

    let bot_id = BotId::from_token(BOT_TOKEN).map_err(|e| anyhow::anyhow!("{e}"))?;
    store
        .put_bot(&BotConfig {
            id: bot_id,
            token: Secret::new(BOT_TOKEN),
            webhook_secret: Secret::new(SECRET),
            username: Some("bench_bot".to_owned()),
            mode: BotMode::Webhook,
            poll_offset: None,
            created_at: server.adapters.clock.now(),
        })
        .await?;
    crate::admin::agent_add(
        &config,
        "bench@omnidesk.local",
        "Bench Agent",
        "bench-password",
        Some(1_000_000),
    )
    .await?;

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()?;
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "bench@omnidesk.local", "password": "bench-password"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = login["token"]
        .as_str()
        .context("login answered without a token")?
        .to_owned();
    http.put(format!("{base}/api/v1/agents/me/status"))
        .bearer_auth(&token)
        .json(&json!({"status": "online"}))
        .send()
        .await?
        .error_for_status()?;

    // The agent's WebSocket.
    let (ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws?token={token}", server.addr)).await?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (_ws_tx, mut ws_rx) = ws.split();
    let seen_ws = seen.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(frame)) = ws_rx.next().await {
            let tokio_tungstenite::tungstenite::Message::Text(text) = frame else {
                continue;
            };
            let now = Instant::now();
            let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
                continue;
            };
            if v["type"] != "message.created" || v["message"]["direction"] != "inbound" {
                continue;
            }
            let Some(seq) = v["message"]["text"]
                .as_str()
                .and_then(|t| t.strip_prefix("bench "))
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let mut s = seen_ws.lock();
            if s.at.insert(seq, now).is_some() {
                s.duplicates += 1;
            }
            if let (Some(chat), Some(conv)) = (
                v["message"]["channel_ref"]["chat_id"].as_i64(),
                v["conversation_id"].as_str(),
            ) {
                s.conversations
                    .entry(chat)
                    .or_insert_with(|| conv.to_owned());
            }
        }
    });

    // Fire the updates (and the bare route at the same rate).
    let webhook = format!("{base}/telegram/{bot_id}/webhook");
    let bare = format!("{base}/healthz");
    let sent_at: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let acks: Arc<Mutex<Vec<f64>>> = Arc::default();
    let bares: Arc<Mutex<Vec<f64>>> = Arc::default();
    let failed: Arc<Mutex<u64>> = Arc::default();
    let limit = Arc::new(Semaphore::new(args.concurrency));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(args.updates as usize);
    for seq in 1..=args.updates {
        if args.rate > 0 {
            let due = start + Duration::from_secs_f64((seq - 1) as f64 / args.rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let permit = limit.clone().acquire_owned().await?;
        let chat = 10_000 + (seq % args.chats) as i64;
        let (http, webhook, bare) = (http.clone(), webhook.clone(), bare.clone());
        let (sent_at, acks, bares, failed) =
            (sent_at.clone(), acks.clone(), bares.clone(), failed.clone());
        let with_bare = args.rate > 0;
        handles.push(tokio::spawn(async move {
            let body = update_body(seq, chat);
            let t0 = Instant::now();
            sent_at.lock().insert(seq, t0);
            let res = http
                .post(&webhook)
                .header("content-type", "application/json")
                .header("x-telegram-bot-api-secret-token", SECRET)
                .body(body)
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => {
                    acks.lock().push(t0.elapsed().as_secs_f64() * 1e3)
                }
                _ => *failed.lock() += 1,
            }
            if with_bare {
                let t1 = Instant::now();
                if http
                    .get(&bare)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    bares.lock().push(t1.elapsed().as_secs_f64() * 1e3);
                }
            }
            drop(permit);
        }));
    }
    for h in handles {
        h.await?;
    }
    let send_done = start.elapsed();

    // Wait for every acked update to reach the agent (bounded).
    let acked = acks.lock().len() as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while (seen.lock().at.len() as u64) < acked && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await; // late duplicates, if any
    let (e2e, last_seen, duplicates, conversations) = {
        let s = seen.lock();
        let sent = sent_at.lock();
        let e2e: Vec<f64> =
            s.at.iter()
                .filter_map(|(seq, at)| {
                    sent.get(seq)
                        .map(|t0| at.duration_since(*t0).as_secs_f64() * 1e3)
                })
                .collect();
        let last = s.at.values().max().copied().unwrap_or(start);
        (e2e, last, s.duplicates, s.conversations.clone())
    };
    let delivered = e2e.len() as u64;
    let lost = acked.saturating_sub(delivered);
    let elapsed = last_seen.duration_since(start).max(send_done);
    let throughput = delivered as f64 / elapsed.as_secs_f64();

    // Agent replies → fake Telegram, paced under the 30 messages/s per-bot limit.
    let mut reply_lat = Vec::new();
    let targets: Vec<(i64, String)> = conversations
        .into_iter()
        .take(args.replies as usize)
        .collect();
    let mut posted: HashMap<String, Instant> = HashMap::new();
    let reply_start = Instant::now();
    for (k, (_chat, conv)) in targets.iter().enumerate() {
        let due = reply_start + Duration::from_millis(40 * k as u64);
        tokio::time::sleep_until(due.into()).await;
        let text = format!("reply {k}");
        posted.insert(text.clone(), Instant::now());
        http.post(format!("{base}/api/v1/conversations/{conv}/messages"))
            .bearer_auth(&token)
            .json(&json!({"text": text}))
            .send()
            .await?
            .error_for_status()?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake
        .sent()
        .iter()
        .filter(|m| m.text.starts_with("reply "))
        .count()
        < posted.len()
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for m in fake.sent() {
        if let Some(t0) = posted.get(&m.text) {
            reply_lat.push(m.at.duration_since(*t0).as_secs_f64() * 1e3);
        }
    }
    let replies_lost = posted.len() as u64 - reply_lat.len() as u64;

    reader.abort();
    server.shutdown().await;

    let acks = sorted(acks.lock().clone());
    let bares = sorted(bares.lock().clone());
    let e2e = sorted(e2e);
    let reply_lat = sorted(reply_lat);
    let failed = *failed.lock();
    let rate = if args.rate == 0 {
        "flat out".to_owned()
    } else {
        format!("{}/s", args.rate)
    };
    println!(
        "omnidesk bench — {} updates over {} chats at {rate}, {} replies",
        args.updates,
        args.chats,
        targets.len()
    );
    println!(
        "{:<34} {:>9} {:>9} {:>9}",
        "latency (ms)", "p50", "p99", "max"
    );
    let row = |name: &str, v: &[f64]| {
        println!(
            "{:<34} {:>9.2} {:>9.2} {:>9.2}",
            name,
            percentile(v, 50.0),
            percentile(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN)
        );
    };
    row("webhook ack", &acks);
    if args.rate > 0 {
        row("bare 200 route (baseline)", &bares);
    }
    row("inbound -> agent WebSocket", &e2e);
    row("agent reply -> Telegram", &reply_lat);
    println!(
        "sustained throughput: {throughput:.0} updates/s (acked {acked}, failed {failed}, delivered {delivered})"
    );
    println!("lost: {lost}  duplicated: {duplicates}  replies lost: {replies_lost}");
    let ratio = percentile(&acks, 99.0) / percentile(&bares, 99.0);
    let out = json!({
        "updates": args.updates,
        "rate": args.rate,
        "chats": args.chats,
        "ack_p50_ms": percentile(&acks, 50.0),
        "ack_p99_ms": percentile(&acks, 99.0),
        "ack_max_ms": acks.last().copied(),
        "bare_p50_ms": percentile(&bares, 50.0),
        "bare_p99_ms": percentile(&bares, 99.0),
        "ack_p99_over_bare_p99": if ratio.is_finite() { Some(ratio) } else { None },
        "e2e_p50_ms": percentile(&e2e, 50.0),
        "e2e_p99_ms": percentile(&e2e, 99.0),
        "reply_p50_ms": percentile(&reply_lat, 50.0),
        "reply_p99_ms": percentile(&reply_lat, 99.0),
        "throughput_per_s": throughput,
        "acked": acked,
        "failed": failed,
        "lost": lost,
        "duplicated": duplicates,
        "replies_lost": replies_lost,
    });
    println!("{out}");
    Ok(())
}
