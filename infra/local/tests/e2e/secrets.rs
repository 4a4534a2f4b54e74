//! Secrets at rest and in logs, on the real binary: a bot (token, webhook secret), a website
//! (identity secret), an agent (password, then a TOTP secret) and an SMTP relay (password) are
//! configured with
//! the CLI, `omnidesk serve` runs at debug level and is used (webhooks with the right and a
//! wrong secret, a sign-in, the API); then no secret is found in anything any process printed,
//! nor as plain text in any file of the data directory.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use omnidesk_telegram::fake::FakeTelegram;
use serde_json::{Value, json};

const TOKEN: &str = "7301234567:AAsealedTokenNeverInPlainText_xyz987";
const WEBHOOK_SECRET: &str = "webhook-secret-never-in-plain-text-42";
const IDENTITY_SECRET: &str = "identity-secret-never-in-plain-text-77";
const PASSWORD: &str = "agent password never logged 5";
const RELAY_PASSWORD: &str = "relay-password-never-logged-9";

fn omnidesk(dir: &Path, telegram: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .args(args)
        .env("OMNIDESK_DATA_DIR", dir)
        .env("TELEGRAM_API_URL", telegram)
        .env("RUST_LOG", "debug")
        .env_remove("OMNIDESK_AWS_TABLE")
        .output()
        .expect("the omnidesk binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

// Multi-threaded: the CLI commands block this thread while the fake Telegram answers them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_stored_in_plain_text_or_printed_by_any_process() {
    let fake = FakeTelegram::start().await;
    let telegram = fake.url().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut printed = String::new();
    for args in [
        vec![
            "bot",
            "add",
            "--token",
            TOKEN,
            "--webhook-secret",
            WEBHOOK_SECRET,
        ],
        vec![
            "website",
            "add",
            "--name",
            "Shop",
            "--origin",
            "https://shop.example.com",
            "--identity-secret",
            IDENTITY_SECRET,
        ],
        vec![
            "agent",
            "add",
            "--email",
            "ann@example.com",
            "--name",
            "Ann",
            "--password",
            PASSWORD,
        ],
    ] {
        let (ok, text) = omnidesk(&data, &telegram, &args);
        assert!(ok, "{args:?}: {text}");
        printed.push_str(&text);
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("serve.log");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_omnidesk"))
        .arg("serve")
        .env("OMNIDESK_DATA_DIR", &data)
        .env("OMNIDESK_LISTEN", format!("127.0.0.1:{port}"))
        .env("TELEGRAM_API_URL", &telegram)
        .env(
            "OMNIDESK_SMTP_RELAY",
            format!("smtp://mailer:{RELAY_PASSWORD}@127.0.0.1:9"),
        )
        .env("RUST_LOG", "debug")
        .env_remove("OMNIDESK_AWS_TABLE")
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(
            std::fs::File::options().append(true).open(&log).unwrap(),
        ))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bot_id = TOKEN.split(':').next().unwrap();
    let update = crate::harness::private_update(1, 4401, "hello");
    for (secret, want) in [(WEBHOOK_SECRET, 200), ("a-wrong-secret", 401)] {
        let status = http
            .post(format!("{base}/telegram/{bot_id}/webhook"))
            .header("content-type", "application/json")
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .body(update.clone())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(
            status.as_u16(),
            want,
            "the webhook checks the stored secret"
        );
    }
    let token = crate::harness::sign_in(&http, &base, "ann@example.com", PASSWORD).await;
    let bots = http
        .get(format!("{base}/api/v1/bots"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(bots.contains(bot_id), "{bots}");
    // A TOTP secret set up through the API is stored sealed too.
    let setup: Value = http
        .post(format!("{base}/api/v1/agents/me/totp"))
        .bearer_auth(&token)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let totp_secret = setup["secret"].as_str().expect("a TOTP secret").to_owned();
    // The bot answers the customer through the fake Telegram: the token was opened to send.
    fake.wait_for_sent(1, Duration::from_secs(10)).await;
    serve.kill().unwrap();
    serve.wait().unwrap();
    printed.push_str(&std::fs::read_to_string(&log).unwrap());
    assert!(
        printed.contains("DEBUG"),
        "the processes logged at debug level"
    );

    let secrets = [
        TOKEN,
        WEBHOOK_SECRET,
        IDENTITY_SECRET,
        PASSWORD,
        RELAY_PASSWORD,
        totp_secret.as_str(),
    ];
    for s in secrets {
        assert!(!printed.contains(s), "a process printed {s}");
    }
    // The token's secret part alone neither.
    assert!(!printed.contains(TOKEN.split(':').nth(1).unwrap()));
    assert_eq!(
        crate::harness::files_holding(
            &data,
            &[
                TOKEN,
                WEBHOOK_SECRET,
                IDENTITY_SECRET,
                PASSWORD,
                totp_secret.as_str()
            ]
        ),
        Vec::<String>::new()
    );
}
