//! `omnidesk bench`: the whole system in-process on loopback, a fake Telegram Bot API, one
//! agent on a WebSocket, and website visitors with their widget sockets open. For each channel
//! (`--channel telegram|web|both`, each on a fresh system) it fires customer messages over HTTP
//! (at a rate, or flat out) across many chats, and measures the ingest answer's latency (the
//! Telegram webhook's ack, the widget's `POST /web/v1/messages`, each next to a bare 200 route
//! of the same server at the same rate), inbound → agent WebSocket latency, agent reply →
//! customer latency (the fake Telegram's `sendMessage`, the visitor's WebSocket), sustained
//! throughput, lost / duplicated messages, and the load average around the run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use omnidesk_core::{BotConfig, BotMode, BotStore, Secret, WebStore, Website};
use omnidesk_domain::{BotId, WebsiteId};
use omnidesk_telegram::fake::FakeTelegram;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::app::{self, App};
use crate::config::Config;

const BOT_TOKEN: &str = "4242424242:AAbenchmarkTokenForTheFakeBotApi_x";
const SECRET: &str = "bench-secret";
const ORIGIN: &str = "https://shop.bench.example";

/// Which channel the customers write from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchChannel {
    /// Telegram webhook updates.
    Telegram,
    /// Website widget messages (`POST /web/v1/messages`).
    Web,
    /// Both, one after the other, each on a fresh system; reported side by side.
    Both,
    /// E-mail over SMTP into the embedded listener (each mail ~3 KB, text + HTML with a
    /// quoted history); replies land in the outbox folder.
    Email,
}

/// Benchmark parameters.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Customer messages to send per channel (bounded).
    #[arg(long, default_value_t = 5000)]
    pub updates: u64,
    /// Messages per second; 0 = flat out (closed loop with `--concurrency` clients).
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// Distinct chats (Telegram chats, website visitors) the messages are spread over.
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
    /// The channel customers write from.
    #[arg(long, value_enum, default_value_t = BenchChannel::Both)]
    pub channel: BenchChannel,
    /// Telegram: the share (0–100) of messages that carry a 200 KB photo, fetched into blob
    /// storage by the media worker off the webhook's path.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=100))]
    pub photo_percent: u64,
    /// The team's languages (`OMNIDESK_LANGUAGES`): every message's language is detected
    /// among them. Default: the agent's (none) plus English.
    #[arg(long, value_delimiter = ',')]
    pub languages: Vec<String>,
}

/// Size of a benchmark photo.
const PHOTO_BYTES: usize = 200 * 1024;
/// Distinct photo files the fake Bot API serves (later photos reuse them).
const PHOTO_FILES: u64 = 256;

/// Whether message `seq` carries a photo (spread evenly: `percent` of every 100).
fn carries_photo(seq: u64, percent: u64) -> bool {
    (seq.wrapping_mul(37)) % 100 < percent
}

/// The bytes of benchmark photo `n`: a JPEG header and distinct filler.
fn photo_bytes(n: u64) -> Vec<u8> {
    let mut bytes = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00".to_vec();
    bytes.extend((0..PHOTO_BYTES as u64).map(|i| (i.wrapping_mul(31) ^ n) as u8));
    bytes
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

fn ms_since(t0: Instant, t: Instant) -> f64 {
    t.duration_since(t0).as_secs_f64() * 1e3
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`), when the system has them.
fn loadavg() -> Option<[f64; 3]> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = s.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// The events of one WebSocket text frame (a `batch` frame carries several).
fn events_of(text: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) if v["type"] == "batch" => match v["events"].take() {
            Value::Array(events) => events,
            _ => Vec::new(),
        },
        Ok(v) => vec![v],
        Err(_) => Vec::new(),
    }
}

/// The sequence number of a benchmark message (`bench <seq>`).
fn bench_seq(text: &str) -> Option<u64> {
    text.strip_prefix("bench ")?.parse().ok()
}

fn update_body(seq: u64, chat: i64, photo: bool) -> String {
    let mut update = json!({
        "update_id": seq,
        "message": {
            "message_id": seq,
            "date": 1_763_780_000,
            "chat": {"id": chat, "type": "private", "first_name": "Bench"},
            "from": {"id": chat, "is_bot": false, "first_name": "Bench", "last_name": format!("{chat}"), "language_code": "en"},
            "text": format!("bench {seq}")
        }
    });
    if photo {
        let message = &mut update["message"];
        message["caption"] = message["text"].take();
        message.as_object_mut().map(|m| m.remove("text"));
        let file = seq % PHOTO_FILES;
        message["photo"] = json!([
            {"file_id": format!("bench-thumb-{file}"), "file_unique_id": format!("t{file}"), "width": 90, "height": 68, "file_size": 1500},
            {"file_id": format!("bench-photo-{file}"), "file_unique_id": format!("p{file}"), "width": 1280, "height": 960, "file_size": PHOTO_BYTES + 11}
        ]);
    }
    update.to_string()
}

/// What the agent's WebSocket saw.
#[derive(Default)]
struct AgentSeen {
    /// seq → when `message.created` of the customer's message arrived.
    at: HashMap<u64, Instant>,
    duplicates: u64,
    /// seq → its conversation.
    conversations: HashMap<u64, String>,
    /// seq → when `message.updated` showed its photo stored (a blob key on the attachment).
    stored: HashMap<u64, Instant>,
}

/// What the visitors' WebSockets saw of the agent's replies.
#[derive(Default)]
struct VisitorSeen {
    /// reply text → when a visitor's socket first showed it.
    at: HashMap<String, Instant>,
    /// `message.created` frames of a reply seen more than once.
    duplicates: u64,
    created: HashMap<String, u32>,
}

/// One channel's measurements.
struct Report {
    channel: &'static str,
    acks: Vec<f64>,
    bares: Vec<f64>,
    e2e: Vec<f64>,
    replies: Vec<f64>,
    replies_sent: u64,
    replies_lost: u64,
    replies_duplicated: u64,
    /// Photos sent and stored, and inbound → photo stored (the media worker's `message.updated`).
    photos_sent: u64,
    photos: Vec<f64>,
    throughput: f64,
    sent: u64,
    acked: u64,
    failed: u64,
    delivered: u64,
    lost: u64,
    duplicated: u64,
    load_before: Option<[f64; 3]>,
    load_after: Option<[f64; 3]>,
}

/// A fresh system: data dir, fake Telegram, server, one online agent with its socket open.
struct System {
    _dir: tempfile::TempDir,
    config: Config,
    fake: FakeTelegram,
    server: App,
    base: String,
    http: reqwest::Client,
    token: String,
    seen: Arc<Mutex<AgentSeen>>,
    reader: tokio::task::JoinHandle<()>,
}

impl System {
    async fn start(args: &BenchArgs) -> anyhow::Result<Self> {
        Self::start_with(args, |_| {}).await
    }

    async fn start_with(
        args: &BenchArgs,
        configure: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temp dir")?;
        let fake = FakeTelegram::start().await;
        let mut config = Config::for_test(dir.path().to_path_buf(), fake.url().to_string());
        config.workers = args.workers;
        if !args.languages.is_empty() {
            let codes: Vec<&str> = args.languages.iter().map(String::as_str).collect();
            config.router.detector =
                Some(omnidesk_language::Detector::new(&codes).map_err(anyhow::Error::msg)?);
        }
        configure(&mut config);
        let server = app::start(&config).await?;
        let base = format!("http://{}", server.addr);
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
            tokio_tungstenite::connect_async(format!("ws://{}/ws?token={token}", server.addr))
                .await?;
        let seen = Arc::new(Mutex::new(AgentSeen::default()));
        let (_ws_tx, mut ws_rx) = ws.split();
        let seen_ws = seen.clone();
        let reader = tokio::spawn(async move {
            let _keep_open = _ws_tx;
            while let Some(Ok(frame)) = ws_rx.next().await {
                let tokio_tungstenite::tungstenite::Message::Text(text) = frame else {
                    continue;
                };
                let now = Instant::now();
                for v in events_of(text.as_str()) {
                    if v["message"]["direction"] != "inbound" {
                        continue;
                    }
                    let Some(seq) = v["message"]["text"].as_str().and_then(bench_seq) else {
                        continue;
                    };
                    let mut s = seen_ws.lock();
                    if v["message"]["attachments"][0]["blob"].is_string() {
                        s.stored.entry(seq).or_insert(now);
                    }
                    if v["type"] != "message.created" {
                        continue;
                    }
                    if s.at.insert(seq, now).is_some() {
                        s.duplicates += 1;
                    }
                    if let Some(conv) = v["conversation_id"].as_str() {
                        s.conversations.insert(seq, conv.to_owned());
                    }
                }
            }
        });
        Ok(Self {
            _dir: dir,
            config,
            fake,
            server,
            base,
            http,
            token,
            seen,
            reader,
        })
    }

    async fn stop(self) {
        self.reader.abort();
        self.server.shutdown().await;
    }

    /// One conversation per chat (`seq % chats`), at most `n`, in chat order.
    fn reply_targets(&self, chats: u64, n: u64) -> Vec<String> {
        let s = self.seen.lock();
        let mut by_chat: HashMap<u64, &String> = HashMap::new();
        for (seq, conv) in &s.conversations {
            by_chat.entry(seq % chats).or_insert(conv);
        }
        let mut chats: Vec<_> = by_chat.into_iter().collect();
        chats.sort_by_key(|(chat, _)| *chat);
        chats
            .into_iter()
            .take(usize::try_from(n).unwrap_or(usize::MAX))
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// Posts one agent reply per target, 40 ms apart (under Telegram's 30/s per bot); returns
    /// when each was posted, by text.
    async fn post_replies(&self, targets: &[String]) -> anyhow::Result<HashMap<String, Instant>> {
        let mut posted = HashMap::new();
        let start = Instant::now();
        for (k, conv) in targets.iter().enumerate() {
            let due = start + Duration::from_millis(40 * k as u64);
            tokio::time::sleep_until(due.into()).await;
            let text = format!("reply {k}");
            posted.insert(text.clone(), Instant::now());
            self.http
                .post(format!(
                    "{}/api/v1/conversations/{conv}/messages",
                    self.base
                ))
                .bearer_auth(&self.token)
                .json(&json!({"text": text}))
                .send()
                .await?
                .error_for_status()?;
        }
        Ok(posted)
    }
}

/// Waits (bounded) until `done` holds.
async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A request of the load: the message with sequence number `seq`.
type MakeRequest = Arc<dyn Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync>;

/// What the load phase measured.
struct Load {
    sent_at: HashMap<u64, Instant>,
    acks: Vec<f64>,
    bares: Vec<f64>,
    failed: u64,
    start: Instant,
    send_done: Duration,
}

/// Sends `args.updates` requests at `args.rate` (or flat out), each followed by the bare
/// route when paced; the ingest answer's latency is measured to its status line.
async fn fire(
    args: &BenchArgs,
    http: &reqwest::Client,
    bare: String,
    request: MakeRequest,
) -> anyhow::Result<Load> {
    let sent_at: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let acks: Arc<Mutex<Vec<f64>>> = Arc::default();
    let bares: Arc<Mutex<Vec<f64>>> = Arc::default();
    let failed: Arc<Mutex<u64>> = Arc::default();
    let limit = Arc::new(Semaphore::new(args.concurrency));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(usize::try_from(args.updates).unwrap_or(0));
    for seq in 1..=args.updates {
        if args.rate > 0 {
            let due = start + Duration::from_secs_f64((seq - 1) as f64 / args.rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let permit = limit.clone().acquire_owned().await?;
        let (http, bare, request) = (http.clone(), bare.clone(), request.clone());
        let (sent_at, acks, bares, failed) =
            (sent_at.clone(), acks.clone(), bares.clone(), failed.clone());
        let with_bare = args.rate > 0;
        handles.push(tokio::spawn(async move {
            let req = request(&http, seq);
            let t0 = Instant::now();
            sent_at.lock().insert(seq, t0);
            match req.send().await {
                Ok(r) if r.status().is_success() => {
                    acks.lock().push(t0.elapsed().as_secs_f64() * 1e3);
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
    let sent_at = std::mem::take(&mut *sent_at.lock());
    let acks = std::mem::take(&mut *acks.lock());
    let bares = std::mem::take(&mut *bares.lock());
    let failed = *failed.lock();
    Ok(Load {
        sent_at,
        acks,
        bares,
        failed,
        start,
        send_done,
    })
}

/// Waits for every acked message at the agent (bounded) and counts what arrived.
async fn settle(sys: &System, args: &BenchArgs, load: Load, channel: &'static str) -> Report {
    let acked = load.acks.len() as u64;
    wait_until(Duration::from_secs(60), || {
        sys.seen.lock().at.len() as u64 >= acked
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // late duplicates, if any
    let load_after = loadavg();
    let s = sys.seen.lock();
    let e2e: Vec<f64> =
        s.at.iter()
            .filter_map(|(seq, at)| load.sent_at.get(seq).map(|t0| ms_since(*t0, *at)))
            .collect();
    let last = s.at.values().max().copied().unwrap_or(load.start);
    let delivered = e2e.len() as u64;
    let elapsed = last.duration_since(load.start).max(load.send_done);
    Report {
        channel,
        acks: sorted(load.acks),
        bares: sorted(load.bares),
        e2e: sorted(e2e),
        replies: Vec::new(),
        replies_sent: 0,
        replies_lost: 0,
        replies_duplicated: 0,
        photos_sent: 0,
        photos: Vec::new(),
        throughput: delivered as f64 / elapsed.as_secs_f64(),
        sent: args.updates,
        acked,
        failed: load.failed,
        delivered,
        lost: acked.saturating_sub(delivered),
        duplicated: s.duplicates,
        load_before: None,
        load_after,
    }
}

/// Telegram: webhook updates over `--chats` chats, replies to the fake Bot API.
async fn run_telegram(args: &BenchArgs) -> anyhow::Result<Report> {
    let sys = System::start(args).await?;
    let bot_id = BotId::from_token(BOT_TOKEN).map_err(|e| anyhow::anyhow!("{e}"))?;
    sys.server
        .adapters
        .store
        .put_bot(&BotConfig {
            id: bot_id,
            token: Secret::new(BOT_TOKEN),
            webhook_secret: Secret::new(SECRET),
            username: Some("bench_bot".to_owned()),
            mode: BotMode::Webhook,
            poll_offset: None,
            created_at: sys.server.adapters.clock.now(),
        })
        .await?;

    let webhook = format!("{}/telegram/{bot_id}/webhook", sys.base);
    let chats = args.chats;
    let percent = args.photo_percent;
    let photos_sent = (1..=args.updates)
        .filter(|seq| carries_photo(*seq, percent))
        .count() as u64;
    let files: std::collections::BTreeSet<u64> = (1..=args.updates)
        .filter(|seq| carries_photo(*seq, percent))
        .map(|seq| seq % PHOTO_FILES)
        .collect();
    for n in files {
        sys.fake
            .put_file(format!("bench-photo-{n}"), photo_bytes(n));
    }
    let request: MakeRequest = Arc::new(move |http, seq| {
        let chat = 10_000 + (seq % chats) as i64;
        http.post(&webhook)
            .header("content-type", "application/json")
            .header("x-telegram-bot-api-secret-token", SECRET)
            .body(update_body(seq, chat, carries_photo(seq, percent)))
    });
    let load_before = loadavg();
    let load = fire(args, &sys.http, format!("{}/healthz", sys.base), request).await?;
    let sent_at = load.sent_at.clone();
    let mut report = settle(&sys, args, load, "telegram").await;
    report.load_before = load_before;
    if photos_sent > 0 {
        wait_until(Duration::from_secs(60), || {
            sys.seen.lock().stored.len() as u64 >= photos_sent
        })
        .await;
        let seen = sys.seen.lock();
        report.photos_sent = photos_sent;
        report.photos = sorted(
            seen.stored
                .iter()
                .filter_map(|(seq, at)| sent_at.get(seq).map(|t0| ms_since(*t0, *at)))
                .collect(),
        );
    }

    // Agent replies → fake Telegram.
    let targets = sys.reply_targets(args.chats, args.replies);
    let posted = sys.post_replies(&targets).await?;
    let fake = &sys.fake;
    let count = || {
        fake.sent()
            .iter()
            .filter(|m| posted.contains_key(&m.text))
            .count()
    };
    wait_until(Duration::from_secs(30), || count() >= posted.len()).await;
    let mut per_text: HashMap<&str, u64> = HashMap::new();
    let sent = fake.sent();
    for m in &sent {
        if let Some(t0) = posted.get(&m.text) {
            let n = per_text.entry(m.text.as_str()).or_default();
            *n += 1;
            if *n == 1 {
                report.replies.push(ms_since(*t0, m.at));
            }
        }
    }
    report.replies_duplicated = per_text.values().map(|n| n - 1).sum();
    finish_replies(&mut report, posted.len());
    sys.stop().await;
    Ok(report)
}

fn finish_replies(report: &mut Report, posted: usize) {
    report.replies = sorted(std::mem::take(&mut report.replies));
    report.replies_sent = posted as u64;
    report.replies_lost = report
        .replies_sent
        .saturating_sub(report.replies.len() as u64);
}

/// A website visitor of the benchmark: their token and their open widget socket's reader.
struct Visitor {
    token: String,
    reader: tokio::task::JoinHandle<()>,
}

/// Opens a visitor session and its widget socket (`POST /web/v1/ws-ticket`, `GET /ws?ticket`).
async fn open_visitor(
    sys: &System,
    website: WebsiteId,
    seen: Arc<Mutex<VisitorSeen>>,
) -> anyhow::Result<Visitor> {
    let session: Value = sys
        .http
        .post(format!("{}/web/v1/sessions", sys.base))
        .header("origin", ORIGIN)
        .json(&json!({"website_id": website.to_string()}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = session["visitor_token"]
        .as_str()
        .context("session without a visitor_token")?
        .to_owned();
    let ticket: Value = sys
        .http
        .post(format!("{}/web/v1/ws-ticket", sys.base))
        .header("origin", ORIGIN)
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let ticket = ticket["ticket"].as_str().context("no ticket")?;
    let (ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws?ticket={ticket}", sys.server.addr))
            .await?;
    let (tx, mut rx) = ws.split();
    let reader = tokio::spawn(async move {
        let _keep_open = tx;
        while let Some(Ok(frame)) = rx.next().await {
            let tokio_tungstenite::tungstenite::Message::Text(text) = frame else {
                continue;
            };
            let now = Instant::now();
            for v in events_of(text.as_str()) {
                let kind = v["type"].as_str().unwrap_or_default();
                if !matches!(kind, "message.created" | "message.updated")
                    || v["message"]["direction"] != "outbound"
                {
                    continue;
                }
                let Some(text) = v["message"]["text"].as_str() else {
                    continue;
                };
                if !text.starts_with("reply ") {
                    continue;
                }
                let mut s = seen.lock();
                s.at.entry(text.to_owned()).or_insert(now);
                if kind == "message.created" {
                    let n = s.created.entry(text.to_owned()).or_default();
                    *n += 1;
                    if *n > 1 {
                        s.duplicates += 1;
                    }
                }
            }
        }
    });
    Ok(Visitor { token, reader })
}

/// Web: `--chats` visitors with their widget open, messages through `POST /web/v1/messages`,
/// replies to the visitors' sockets.
async fn run_web(args: &BenchArgs) -> anyhow::Result<Report> {
    let sys = System::start(args).await?;
    let website = Website {
        id: WebsiteId::from_uuid(sys.server.adapters.ids.uuid()),
        name: "Bench shop".to_owned(),
        origins: vec![ORIGIN.to_owned()],
        bot_id: None,
        identity_secret: None,
        prechat: false,
        created_at: sys.server.adapters.clock.now(),
    };
    sys.server.adapters.store.put_website(&website).await?;

    let visitor_seen = Arc::new(Mutex::new(VisitorSeen::default()));
    let mut visitors = Vec::with_capacity(usize::try_from(args.chats).unwrap_or(0));
    for _ in 0..args.chats {
        visitors.push(open_visitor(&sys, website.id, visitor_seen.clone()).await?);
    }
    let tokens: Arc<Vec<String>> = Arc::new(visitors.iter().map(|v| v.token.clone()).collect());

    let url = format!("{}/web/v1/messages", sys.base);
    let chats = args.chats;
    let request: MakeRequest = Arc::new(move |http, seq| {
        let token = &tokens[usize::try_from(seq % chats).unwrap_or(0)];
        http.post(&url)
            .header("origin", ORIGIN)
            .bearer_auth(token)
            .json(&json!({"text": format!("bench {seq}"), "client_id": format!("bench-{seq}")}))
    });
    let load_before = loadavg();
    let load = fire(args, &sys.http, format!("{}/healthz", sys.base), request).await?;
    let mut report = settle(&sys, args, load, "web").await;
    report.load_before = load_before;

    // Agent replies → the visitors' widget sockets.
    let targets = sys.reply_targets(args.chats, args.replies);
    let posted = sys.post_replies(&targets).await?;
    wait_until(Duration::from_secs(30), || {
        visitor_seen.lock().at.len() >= posted.len()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    {
        let s = visitor_seen.lock();
        for (text, at) in &s.at {
            if let Some(t0) = posted.get(text) {
                report.replies.push(ms_since(*t0, *at));
            }
        }
        report.replies_duplicated = s.duplicates;
    }
    finish_replies(&mut report, posted.len());
    for v in visitors {
        v.reader.abort();
    }
    sys.stop().await;
    Ok(report)
}

/// A benchmark mail: ~3 KB, text and HTML, with a quoted history the parser folds away.
fn bench_mail(seq: u64, chat: u64) -> String {
    let reply = if seq > chat {
        format!("In-Reply-To: <bench-first-{chat}@customer.example>\r\n")
    } else {
        String::new()
    };
    let id = if seq == chat {
        format!("bench-first-{chat}@customer.example")
    } else {
        format!("bench-{seq}@customer.example")
    };
    let quoted: String = (0..20)
        .map(|i| {
            format!("> line {i} of the earlier message in this thread, quoted by the client\r\n")
        })
        .collect();
    format!(
        "From: Bench Customer {chat} <bench-{chat}@customer.example>\r\n\
         To: support@bench.example\r\n\
         Subject: Order question {chat}\r\n\
         Message-ID: <{id}>\r\n\
         {reply}MIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         bench {seq}\r\n\r\nOn Mon, 30 Nov 2026 at 10:00, Support <support@bench.example> wrote:\r\n\
         {quoted}\r\n\
         --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <html><body><p>bench {seq}</p><div class=\"gmail_quote\"><blockquote>{}</blockquote></div>\
         <script>alert(1)</script></body></html>\r\n\
         --b--\r\n",
        quoted.replace("> ", "").replace("\r\n", "<br>")
    )
}

/// One SMTP client connection of the benchmark.
struct SmtpClient {
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl SmtpClient {
    async fn connect(addr: std::net::SocketAddr) -> anyhow::Result<Self> {
        use tokio::io::AsyncBufReadExt;
        let stream = tokio::net::TcpStream::connect(addr).await?;
        // A mail client writes the body and the final dot separately: without this, the
        // dot waits for the body's ACK (Nagle + delayed ACK, 40 ms on Linux).
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        let mut c = Self {
            lines: tokio::io::BufReader::new(read).lines(),
            write,
        };
        c.expect("220").await?;
        c.command("EHLO bench.customer.example", "250").await?;
        Ok(c)
    }

    /// Reads one reply (its last line) and checks its code.
    async fn expect(&mut self, code: &str) -> anyhow::Result<()> {
        loop {
            let line = self
                .lines
                .next_line()
                .await?
                .context("the SMTP server closed the connection")?;
            if line.len() >= 4 && line.as_bytes()[3] == b'-' {
                continue;
            }
            if !line.starts_with(code) {
                bail!("expected {code}, got {line}");
            }
            return Ok(());
        }
    }

    async fn command(&mut self, cmd: &str, code: &str) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.write
            .write_all(format!("{cmd}\r\n").as_bytes())
            .await?;
        self.expect(code).await
    }

    /// Sends one mail; returns when the server answered 250 to its end of data.
    async fn send(&mut self, from: &str, to: &str, raw: &str) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.command(&format!("MAIL FROM:<{from}>"), "250").await?;
        self.command(&format!("RCPT TO:<{to}>"), "250").await?;
        self.command("DATA", "354").await?;
        self.write.write_all(raw.as_bytes()).await?;
        self.write.write_all(b".\r\n").await?;
        self.expect("250").await
    }
}

/// E-mail: `--updates` mails over `--concurrency` SMTP connections (at `--rate`, or flat
/// out), one thread per `--chats` sender (the first mail opens it, the rest reply to it);
/// ingest answer = DATA's end to 250 (parsed, files and HTML stored, queued), inbound → agent
/// measured from that 250; replies → `.eml` written in the outbox.
async fn run_email(args: &BenchArgs) -> anyhow::Result<Report> {
    let outbox = tempfile::tempdir().context("temp dir")?;
    let outbox_dir = outbox.path().to_path_buf();
    let sys = System::start_with(args, |c| {
        c.smtp_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        c.outbox_dir = Some(outbox_dir.clone());
        // One acknowledgement per thread, however many threads a sender opens.
        c.router.auto_mail_per_hour = u64::MAX;
    })
    .await?;
    let smtp = sys.server.smtp_addr.context("no SMTP listener")?;
    let target = crate::admin::Target::local(&sys.config)?;
    crate::admin::mailbox_add(&target, "support@bench.example", None, None).await?;

    let (tx, rx) = tokio::sync::mpsc::channel::<u64>(args.concurrency * 2);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let sent_at: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let acks: Arc<Mutex<Vec<f64>>> = Arc::default();
    let failed: Arc<Mutex<u64>> = Arc::default();
    let chats = args.chats;
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (rx, sent_at, acks, failed) =
            (rx.clone(), sent_at.clone(), acks.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut client = None;
            loop {
                let Some(seq) = rx.lock().await.recv().await else {
                    return;
                };
                if client.is_none() {
                    client = SmtpClient::connect(smtp).await.ok();
                }
                let Some(c) = client.as_mut() else {
                    *failed.lock() += 1;
                    continue;
                };
                let chat = (seq - 1) % chats + 1;
                let raw = bench_mail(seq, chat);
                let t0 = Instant::now();
                match c
                    .send(
                        &format!("bench-{chat}@customer.example"),
                        "support@bench.example",
                        &raw,
                    )
                    .await
                {
                    Ok(()) => {
                        let accepted = Instant::now();
                        sent_at.lock().insert(seq, accepted);
                        acks.lock().push(ms_since(t0, accepted));
                    }
                    Err(_) => {
                        *failed.lock() += 1;
                        client = None;
                    }
                }
            }
        }));
    }
    let load_before = loadavg();
    let start = Instant::now();
    for seq in 1..=args.updates {
        if args.rate > 0 {
            let due = start + Duration::from_secs_f64((seq - 1) as f64 / args.rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        tx.send(seq).await?;
    }
    drop(tx);
    for w in workers {
        w.await?;
    }
    let load = Load {
        sent_at: std::mem::take(&mut *sent_at.lock()),
        acks: std::mem::take(&mut *acks.lock()),
        bares: Vec::new(),
        failed: *failed.lock(),
        start,
        send_done: start.elapsed(),
    };
    let mut report = settle(&sys, args, load, "email").await;
    report.load_before = load_before;

    // Agent replies → `.eml` files in the outbox, watched while the replies are posted.
    let targets = sys.reply_targets(args.chats, args.replies);
    let expected: Vec<String> = (0..targets.len()).map(|k| format!("reply {k}")).collect();
    let dir = outbox.path().to_path_buf();
    let watcher = tokio::spawn(async move {
        let mut seen_files = std::collections::HashSet::new();
        let mut found: HashMap<String, Instant> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while found.len() < expected.len() && Instant::now() < deadline {
            let entries: Vec<_> = std::fs::read_dir(&dir)
                .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
                .unwrap_or_default();
            for path in entries {
                if !seen_files.insert(path.clone()) {
                    continue;
                }
                let now = Instant::now();
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if let Some(k) = expected
                    .iter()
                    .find(|k| text.contains(&format!("\r\n{k}\r\n")))
                {
                    found.entry(k.clone()).or_insert(now);
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        found
    });
    let posted = sys.post_replies(&targets).await?;
    let found = watcher.await?;
    for (text, at) in &found {
        if let Some(t0) = posted.get(text) {
            report.replies.push(ms_since(*t0, *at));
        }
    }
    finish_replies(&mut report, posted.len());
    sys.stop().await;
    Ok(report)
}

/// Runs the benchmark and prints a table and, last, one JSON line.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.updates == 0 || args.chats == 0 || args.concurrency == 0 || args.workers == 0 {
        bail!("--updates, --chats, --concurrency and --workers must be positive");
    }
    let mut reports = Vec::new();
    if matches!(args.channel, BenchChannel::Telegram | BenchChannel::Both) {
        reports.push(run_telegram(&args).await?);
    }
    if matches!(args.channel, BenchChannel::Web | BenchChannel::Both) {
        reports.push(run_web(&args).await?);
    }
    if args.channel == BenchChannel::Email {
        reports.push(run_email(&args).await?);
    }
    print_reports(&args, &reports);
    Ok(())
}

fn print_reports(args: &BenchArgs, reports: &[Report]) {
    let rate = if args.rate == 0 {
        "flat out".to_owned()
    } else {
        format!("{}/s", args.rate)
    };
    println!(
        "omnidesk bench — {} messages per channel over {} chats at {rate}, {} workers, {} replies",
        args.updates, args.chats, args.workers, args.replies
    );
    const W: usize = 36;
    let mut head = format!("{:<W$}", "latency (ms)");
    let mut cols = format!("{:<W$}", "");
    for r in reports {
        head.push_str(&format!(" | {:^35}", r.channel));
        cols.push_str(&format!(
            " | {:>8}{:>9}{:>9}{:>9}",
            "p50", "p90", "p99", "max"
        ));
    }
    println!("{head}");
    println!("{cols}");
    let row = |name: &str, pick: &dyn Fn(&Report) -> &[f64]| {
        let mut line = format!("{name:<W$}");
        for r in reports {
            let v = pick(r);
            line.push_str(&format!(
                " | {:>8.2}{:>9.2}{:>9.2}{:>9.2}",
                percentile(v, 50.0),
                percentile(v, 90.0),
                percentile(v, 99.0),
                v.last().copied().unwrap_or(f64::NAN)
            ));
        }
        println!("{line}");
    };
    row("ingest answer (ack / POST / SMTP 250)", &|r| &r.acks);
    if args.rate > 0 {
        row("bare 200 route (baseline)", &|r| &r.bares);
    }
    row("inbound -> agent WebSocket", &|r| &r.e2e);
    row("agent reply -> customer", &|r| &r.replies);
    if args.photo_percent > 0 {
        row("inbound -> photo stored (media)", &|r| &r.photos);
    }
    let text_row = |name: &str, cell: &dyn Fn(&Report) -> String| {
        let mut line = format!("{name:<W$}");
        for r in reports {
            line.push_str(&format!(" | {:<35}", cell(r)));
        }
        println!("{line}");
    };
    text_row("sustained throughput (msg/s)", &|r| {
        format!("{:.0}", r.throughput)
    });
    text_row("sent / acked / failed / delivered", &|r| {
        format!("{} / {} / {} / {}", r.sent, r.acked, r.failed, r.delivered)
    });
    text_row("lost / duplicated", &|r| {
        format!("{} / {}", r.lost, r.duplicated)
    });
    if args.photo_percent > 0 {
        text_row("photos sent / stored", &|r| {
            format!("{} / {}", r.photos_sent, r.photos.len())
        });
    }
    text_row("replies sent / lost / duplicated", &|r| {
        format!(
            "{} / {} / {}",
            r.replies_sent, r.replies_lost, r.replies_duplicated
        )
    });
    let load = |l: Option<[f64; 3]>| l.map_or_else(|| "-".to_owned(), |l| format!("{:.2}", l[0]));
    text_row("load average (1 min) before / after", &|r| {
        format!("{} / {}", load(r.load_before), load(r.load_after))
    });

    let mut channels = serde_json::Map::new();
    for r in reports {
        let ratio = percentile(&r.acks, 99.0) / percentile(&r.bares, 99.0);
        channels.insert(
            r.channel.to_owned(),
            json!({
                "ack_p50_ms": percentile(&r.acks, 50.0),
                "ack_p99_ms": percentile(&r.acks, 99.0),
                "ack_max_ms": r.acks.last().copied(),
                "bare_p50_ms": percentile(&r.bares, 50.0),
                "bare_p99_ms": percentile(&r.bares, 99.0),
                "ack_p99_over_bare_p99": if ratio.is_finite() { Some(ratio) } else { None },
                "e2e_p50_ms": percentile(&r.e2e, 50.0),
                "e2e_p90_ms": percentile(&r.e2e, 90.0),
                "e2e_p99_ms": percentile(&r.e2e, 99.0),
                "e2e_max_ms": r.e2e.last().copied(),
                "reply_p50_ms": percentile(&r.replies, 50.0),
                "reply_p99_ms": percentile(&r.replies, 99.0),
                "reply_max_ms": r.replies.last().copied(),
                "throughput_per_s": r.throughput,
                "sent": r.sent,
                "acked": r.acked,
                "failed": r.failed,
                "delivered": r.delivered,
                "lost": r.lost,
                "duplicated": r.duplicated,
                "replies": r.replies_sent,
                "replies_lost": r.replies_lost,
                "replies_duplicated": r.replies_duplicated,
                "photos_sent": r.photos_sent,
                "photos_stored": r.photos.len(),
                "photo_stored_p50_ms": percentile(&r.photos, 50.0),
                "photo_stored_p99_ms": percentile(&r.photos, 99.0),
                "loadavg_before": r.load_before,
                "loadavg_after": r.load_after,
            }),
        );
    }
    let out = json!({
        "updates": args.updates,
        "rate": args.rate,
        "chats": args.chats,
        "workers": args.workers,
        "photo_percent": args.photo_percent,
        "channels": channels,
    });
    println!("{out}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(channel: BenchChannel) -> BenchArgs {
        BenchArgs {
            updates: 40,
            rate: 200,
            chats: 5,
            concurrency: 8,
            workers: 8,
            replies: 3,
            channel,
            photo_percent: 0,
            languages: Vec::new(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn photos_are_acked_like_texts_and_every_one_is_stored_by_the_media_worker() {
        let args = BenchArgs {
            photo_percent: 25,
            ..small(BenchChannel::Telegram)
        };
        let r = run_telegram(&args).await.unwrap();
        assert_eq!((r.acked, r.failed, r.delivered), (40, 0, 40));
        let expected = (1..=40).filter(|seq| carries_photo(*seq, 25)).count() as u64;
        assert!((8..=12).contains(&expected), "about 25% of 40: {expected}");
        assert_eq!(r.photos_sent, expected);
        assert_eq!(
            r.photos.len() as u64,
            expected,
            "every photo reached blob storage"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_run_of_each_channel_delivers_every_message_and_reply_once() {
        for (report, name) in [
            (
                run_telegram(&small(BenchChannel::Telegram)).await,
                "telegram",
            ),
            (run_web(&small(BenchChannel::Web)).await, "web"),
            (run_email(&small(BenchChannel::Email)).await, "email"),
        ] {
            let r = report.unwrap();
            assert_eq!(r.channel, name);
            assert_eq!((r.acked, r.failed), (40, 0), "{name}: every message acked");
            assert_eq!(r.delivered, 40, "{name}: every message reached the agent");
            assert_eq!((r.lost, r.duplicated), (0, 0), "{name}");
            assert_eq!(r.e2e.len(), 40, "{name}");
            assert_eq!(r.replies_sent, 3, "{name}: one reply per conversation");
            assert_eq!(
                (r.replies_lost, r.replies_duplicated),
                (0, 0),
                "{name}: every reply reached the customer once"
            );
        }
    }

    #[test]
    fn batch_frames_are_read_event_by_event() {
        let events = events_of(
            r#"{"type":"batch","events":[{"type":"message.created"},{"type":"presence"}]}"#,
        );
        assert_eq!(events.len(), 2);
        assert_eq!(events_of(r#"{"type":"pong"}"#).len(), 1);
        assert!(events_of("not json").is_empty());
        assert_eq!(bench_seq("bench 42"), Some(42));
        assert_eq!(bench_seq("reply 42"), None);
    }
}
