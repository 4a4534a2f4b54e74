//! Trust over the real wire: failed sign-ins lock the account (and an unknown account the
//! same way) with 429 and `Retry-After`, before the password is checked; security headers.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Harness;

async fn login(h: &Harness, email: &str, password: &str) -> reqwest::Response {
    h.http
        .post(format!("{}/api/v1/auth/login", h.base))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_sixth_wrong_password_within_a_minute_is_refused_429_and_so_is_an_unknown_account() {
    let h = Harness::start().await;
    for account in ["ann.agent@example.com", "nobody@example.com"] {
        // The counts are per calendar minute: six attempts split by a minute's end would be
        // five and one. Start them well inside a minute.
        let into_minute = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 60;
        if into_minute >= 50 {
            tokio::time::sleep(std::time::Duration::from_secs(61 - into_minute)).await;
        }
        for attempt in 1..=5 {
            let r = login(&h, account, "wrong-guess-1").await;
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "{account} attempt {attempt}"
            );
        }
        let r = login(&h, account, "wrong-guess-1").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{account}");
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "Retry-After {wait}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "too_many_attempts");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("too many failed sign-ins; try again in "),
            "{body}"
        );
    }
    // While locked, the right password gets no token either (a lock cannot be guessed through).
    let r = login(&h, "ann.agent@example.com", "correct-horse").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another account from the same address is not locked by these ten failures.
    assert!(
        omnidesk::admin::agent_add(&h.config, "bea@example.com", "Bea", "amber-kettle-9", None)
            .await
            .is_ok()
    );
    let r = login(&h, "bea@example.com", "amber-kettle-9").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_dashboard_is_served_under_a_strict_policy_and_every_answer_is_nosniff() {
    let dashboard = tempfile::tempdir().unwrap();
    std::fs::write(
        dashboard.path().join("index.html"),
        "<!doctype html><title>t</title><script type=module src=/assets/app.js></script>",
    )
    .unwrap();
    let dir = dashboard.path().to_path_buf();
    let h = Harness::start_configured(omnidesk_core::BotMode::Webhook, move |c| {
        c.dashboard_dir = dir;
    })
    .await;
    // The page and a client-side route: the policy, never framed.
    for path in ["/", "/conversations/abc"] {
        let r = h
            .http
            .get(format!("{}{path}", h.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-eval"), "{csp}");
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
        assert!(r.headers().get("strict-transport-security").is_none());
    }
    // The API (JSON, no page policy) and the widget's script: nosniff.
    let r = h
        .http
        .get(format!("{}/api/v1/agents/me", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers().get("content-security-policy").is_none());
    // Behind a proxy that terminates HTTPS: HSTS.
    let r = h
        .http
        .get(format!("{}/", h.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
}

#[tokio::test]
async fn the_dashboard_socket_connects_with_a_single_use_ticket_not_its_token() {
    let h = Harness::start().await;
    let ticket = |h: &Harness| {
        let req = h
            .http
            .post(format!("{}/api/v1/auth/ws-ticket", h.base))
            .bearer_auth(&h.token)
            .send();
        async move {
            let body: serde_json::Value = req.await.unwrap().json().await.unwrap();
            body["ticket"].as_str().unwrap().to_owned()
        }
    };
    let t = ticket(&h).await;
    let addr = h.app.as_ref().unwrap().addr;
    let url = format!("ws://{addr}/ws?agent_ticket={t}");
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    use futures_util::StreamExt;
    let hello = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(hello.to_text().unwrap().contains("\"hello\""), "{hello:?}");
    // The same URL again (a replay from a log): refused before any socket.
    let replay = tokio_tungstenite::connect_async(&url).await;
    match replay {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("a replayed ticket must get 401, got {other:?}"),
    }
}
