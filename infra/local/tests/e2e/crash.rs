//! kill -9 the server during a stream of updates, restart it, and every update that was
//! acked reaches the agent exactly once.

use std::collections::{BTreeSet, HashMap};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use omnidesk_telegram::fake::FakeTelegram;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::harness::{BOT_TOKEN, SECRET, bot_id, private_update};

const UPDATES: u64 = 600;
const CHATS: u64 = 25;

struct Server {
    bin: &'static str,
    dir: std::path::PathBuf,
    telegram: String,
    listen: String,
}

impl Server {
    fn command(&self) -> Command {
        let mut c = Command::new(self.bin);
        c.env("OMNIDESK_DATA_DIR", &self.dir)
            .env("OMNIDESK_LISTEN", &self.listen)
            .env("TELEGRAM_API_URL", &self.telegram)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    async fn admin(&self, args: &[&str]) {
        let out = self.command().args(args).output().await.unwrap();
        assert!(
            out.status.success(),
            "omnidesk {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    async fn serve(&self, http: &reqwest::Client) -> Child {
        let child = self
            .command()
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if http
                .get(format!("http://{}/healthz", self.listen))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return child;
            }
            assert!(Instant::now() < deadline, "server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn send(http: &reqwest::Client, listen: &str, seq: u64) -> bool {
    let body = private_update(seq, 20_000 + (seq % CHATS) as i64, &format!("crash {seq}"));
    http.post(format!("http://{listen}/telegram/{}/webhook", bot_id()))
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acked_update_survives_a_kill_9_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTelegram::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server {
        bin: env!("CARGO_BIN_EXE_omnidesk"),
        dir: dir.path().to_path_buf(),
        telegram: fake.url().to_string(),
        listen: format!("127.0.0.1:{port}"),
    };
    server
        .admin(&[
            "bot",
            "add",
            "--token",
            BOT_TOKEN,
            "--webhook-secret",
            SECRET,
            "--no-verify",
        ])
        .await;
    server
        .admin(&[
            "agent",
            "add",
            "--email",
            "crash@example.com",
            "--name",
            "Crash",
            "--password",
            "crash-test-pw",
        ])
        .await;
    let http = reqwest::Client::new();
    let mut child = server.serve(&http).await;

    // A stream of updates from 8 concurrent senders; kill -9 in the middle of it.
    let acked: Arc<Mutex<BTreeSet<u64>>> = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let mut senders = Vec::new();
    for _ in 0..8 {
        let (http, acked, next, listen) = (
            http.clone(),
            acked.clone(),
            next.clone(),
            server.listen.clone(),
        );
        senders.push(tokio::spawn(async move {
            loop {
                let seq = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if seq > UPDATES {
                    return;
                }
                if send(&http, &listen, seq).await {
                    acked.lock().insert(seq);
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().len() < (UPDATES / 3) as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    for s in senders {
        s.await.unwrap();
    }
    let acked_before_restart = acked.lock().clone();
    assert!(acked_before_restart.len() >= (UPDATES / 3) as usize);
    assert!(
        acked_before_restart.len() < UPDATES as usize,
        "the kill must interrupt the stream"
    );

    // Restart; Telegram redelivers what was not acked (and may redeliver acked ones too).
    let _child = server.serve(&http).await;
    for seq in 1..=UPDATES {
        if !acked_before_restart.contains(&seq) || seq % 10 == 0 {
            assert!(
                send(&http, &server.listen, seq).await,
                "update {seq} accepted after restart"
            );
        }
    }

    // The agent sees every update exactly once.
    let token = crate::harness::sign_in(
        &http,
        &format!("http://{}", server.listen),
        "crash@example.com",
        "crash-test-pw",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let counts = loop {
        let counts = inbound_counts(&http, &server.listen, &token).await;
        if counts.len() as u64 == UPDATES || Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for seq in &acked_before_restart {
        assert_eq!(
            counts.get(seq),
            Some(&1),
            "acked update {seq} must be stored exactly once"
        );
    }
    let missing: Vec<u64> = (1..=UPDATES).filter(|s| !counts.contains_key(s)).collect();
    assert!(missing.is_empty(), "missing after redelivery: {missing:?}");
    let doubled: Vec<(&u64, &usize)> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(doubled.is_empty(), "duplicated: {doubled:?}");
}

/// seq → how many inbound messages with text `crash <seq>` the agent API lists.
async fn inbound_counts(http: &reqwest::Client, listen: &str, token: &str) -> HashMap<u64, usize> {
    let mut counts = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("status", "all".to_owned()), ("limit", "100".to_owned())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let url = format!("http://{listen}/api/v1/conversations");
        let page: Value = http
            .get(url)
            .query(&query)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for conv in page["items"].as_array().unwrap() {
            let id = conv["id"].as_str().unwrap();
            let mut mcursor: Option<String> = None;
            loop {
                let mut query = vec![("limit", "100".to_owned())];
                if let Some(c) = &mcursor {
                    query.push(("cursor", c.clone()));
                }
                let url = format!("http://{listen}/api/v1/conversations/{id}/messages");
                let msgs: Value = http
                    .get(url)
                    .query(&query)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                for m in msgs["items"].as_array().unwrap() {
                    if let Some(seq) = m["text"]
                        .as_str()
                        .and_then(|t| t.strip_prefix("crash "))
                        .and_then(|s| s.parse().ok())
                    {
                        *counts.entry(seq).or_insert(0) += 1;
                    }
                }
                mcursor = msgs["next_cursor"].as_str().map(str::to_owned);
                if mcursor.is_none() {
                    break;
                }
            }
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            return counts;
        }
    }
}
