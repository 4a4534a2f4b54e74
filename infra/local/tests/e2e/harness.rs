use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use omnidesk::app::{self, App};
use omnidesk::config::Config;
use omnidesk_core::{BotConfig, BotMode, BotStore, Secret};
use omnidesk_domain::BotId;
use omnidesk_telegram::fake::FakeTelegram;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub const BOT_TOKEN: &str = "777000111:AAtestTokenForTheFakeBotApi_abcdefgh";
pub const SECRET: &str = "test-secret_123";

/// Signs in at `base` (`http://host:port`) over HTTP: the access token.
pub async fn sign_in(http: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["token"]
        .as_str()
        .unwrap_or_else(|| panic!("signed in as {email}: {login}"))
        .to_owned()
}

pub fn bot_id() -> BotId {
    BotId::from_token(BOT_TOKEN).unwrap()
}

/// Every file under `dir` (folders included) whose bytes hold one of `needles`, ignoring ASCII
/// case, as "<path> holds <needle>".
pub fn files_holding(dir: &std::path::Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap_or_default();
            for needle in needles {
                if bytes
                    .windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
                {
                    found.push(format!("{} holds {needle}", path.display()));
                }
            }
        }
    }
    found
}

pub fn private_update(update_id: u64, chat: i64, text: &str) -> String {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_763_780_000,
            "chat": {"id": chat, "type": "private", "first_name": "Ann", "last_name": "Lee", "username": "ann"},
            "from": {"id": chat, "is_bot": false, "first_name": "Ann", "last_name": "Lee", "username": "ann", "language_code": "en"},
            "text": text
        }
    })
    .to_string()
}

pub struct Harness {
    pub app: Option<App>,
    pub fake: FakeTelegram,
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
    pub config: Config,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// A running server with one webhook bot and one online agent.
    pub async fn start() -> Self {
        Self::start_with(BotMode::Webhook).await
    }

    pub async fn start_with(mode: BotMode) -> Self {
        Self::start_configured(mode, |_| {}).await
    }

    /// [`Harness::start_with`], with `configure` applied to the test configuration first.
    pub async fn start_configured(mode: BotMode, configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeTelegram::start().await;
        let mut config = Config::for_test(dir.path().to_path_buf(), fake.url().to_string());
        configure(&mut config);
        // Bots and agents exist before the server starts (pollers start for stored bots).
        let adapters = app::Adapters::open(&config).unwrap();
        adapters
            .store
            .put_bot(&BotConfig {
                id: bot_id(),
                token: Secret::new(BOT_TOKEN),
                webhook_secret: Secret::new(SECRET),
                username: Some("shop_bot".to_owned()),
                mode,
                poll_offset: None,
                created_at: adapters.clock.now(),
            })
            .await
            .unwrap();
        drop(adapters);
        omnidesk::admin::agent_add(
            &config,
            "ann.agent@example.com",
            "Agent Ann",
            "correct-horse",
            None,
        )
        .await
        .unwrap();
        let app = app::start(&config).await.unwrap();
        let base = format!("http://{}", app.addr);
        let http = reqwest::Client::new();
        let token = sign_in(&http, &base, "ann.agent@example.com", "correct-horse").await;
        let h = Self {
            app: Some(app),
            fake,
            base,
            http,
            token,
            config,
            _dir: dir,
        };
        let status = h
            .put("/api/v1/agents/me/status", json!({"status": "online"}))
            .await;
        assert_eq!(status.status(), 200);
        h
    }

    pub async fn webhook(&self, body: &str, secret: Option<&str>) -> reqwest::StatusCode {
        let mut req = self
            .http
            .post(format!("{}/telegram/{}/webhook", self.base, bot_id()))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        req.send().await.unwrap().status()
    }

    pub async fn get(&self, path: &str) -> Value {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.json().await.unwrap()
    }

    pub async fn put(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .put(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn connect_ws(&self) -> Ws {
        let url = format!(
            "ws://{}/ws?token={}",
            self.app.as_ref().unwrap().addr,
            self.token
        );
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut ws = Ws {
            inner: ws,
            pending: VecDeque::new(),
        };
        let hello = ws
            .next_event(Duration::from_secs(5))
            .await
            .expect("hello frame");
        assert_eq!(hello["type"], "hello");
        ws
    }

    /// A website "Shop" allowing `origin` (continued on `bot` when given) and a new visitor
    /// session on it; returns the visitor token.
    pub async fn web_visitor(&self, origin: &str, bot: Option<&str>) -> String {
        let site = omnidesk::admin::website_add(
            &omnidesk::admin::Target::local(&self.config).unwrap(),
            "Shop",
            &[origin.to_owned()],
            bot,
            None,
            false,
        )
        .await
        .unwrap();
        let session: Value = self
            .http
            .post(format!("{}/web/v1/sessions", self.base))
            .header("origin", origin)
            .json(&json!({"website_id": site.id.to_string()}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        session["visitor_token"]
            .as_str()
            .expect("a visitor token")
            .to_owned()
    }

    /// Polls `GET path` until `pred` holds (bounded).
    pub async fn eventually(
        &self,
        path: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.get(path).await;
            if pred(&v) || Instant::now() > deadline {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub struct Ws {
    inner: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// Events of a `batch` frame not returned yet.
    pending: VecDeque<Value>,
}

impl Ws {
    /// The next event; a `batch` frame's events come one by one, in order.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some(ev);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.inner.next()).await {
                Ok(Some(Ok(WsMessage::Text(t)))) => {
                    let v: Value = serde_json::from_str(t.as_str()).ok()?;
                    if v["type"] != "batch" {
                        return Some(v);
                    }
                    self.pending
                        .extend(v["events"].as_array().cloned().unwrap_or_default());
                }
                Ok(Some(Ok(_))) => continue,
                _ => return None,
            }
        }
    }

    /// The first event matching `pred` within `timeout`.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let ev = self.next_event(left).await?;
            if pred(&ev) {
                return Some(ev);
            }
        }
        None
    }

    pub async fn send_text(&mut self, text: &str) {
        self.inner
            .send(WsMessage::Text(text.to_owned().into()))
            .await
            .unwrap();
    }
}
