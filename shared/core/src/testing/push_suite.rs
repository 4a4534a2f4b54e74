//! Conformance suite of the [`Push`] port. Every push adapter runs [`run_all`] with one live
//! connection it can read from and one connection that is gone.

use std::time::Duration;

use uuid::Uuid;

use crate::{ConnectionId, MAX_PUSH_BYTES, Push, PushError, PushOutcome};

/// How long frames may take to reach the reader of the live connection.
const PATIENCE: Duration = Duration::from_secs(5);

/// Every push property.
///
/// `live` is an open connection; `read_live` returns every frame it has received so far, in
/// order (a WebSocket client would collect them from a reader task). `gone` is a connection
/// that no longer exists (closed, or never opened).
pub async fn run_all(
    push: &dyn Push,
    live: &ConnectionId,
    gone: &ConnectionId,
    read_live: impl Fn() -> Vec<String>,
) {
    delivers_in_order(push, live, &read_live).await;
    gone_is_not_an_error(push, gone).await;
    oversized_is_permanent(push, live).await;
}

/// Frames posted to a live connection are `Delivered` and arrive in call order.
pub async fn delivers_in_order(
    push: &dyn Push,
    live: &ConnectionId,
    read_live: &dyn Fn() -> Vec<String>,
) {
    let marker = Uuid::now_v7().simple().to_string();
    let frames: Vec<String> = (0..3)
        .map(|n| format!(r#"{{"type":"suite","marker":"{marker}","n":{n}}}"#))
        .collect();
    for frame in &frames {
        let outcome = push
            .post(live, frame)
            .await
            .unwrap_or_else(|e| panic!("post to a live connection failed: {e}"));
        assert_eq!(
            outcome,
            PushOutcome::Delivered,
            "a post to a live connection is Delivered"
        );
    }
    let until = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mine: Vec<String> = read_live()
            .into_iter()
            .filter(|f| f.contains(marker.as_str()))
            .collect();
        if mine.len() >= frames.len() || tokio::time::Instant::now() >= until {
            assert_eq!(
                mine, frames,
                "the live connection must receive every delivered frame once, in call order"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A post to a gone connection is `Ok(Gone)`, never an error.
pub async fn gone_is_not_an_error(push: &dyn Push, gone: &ConnectionId) {
    match push.post(gone, r#"{"type":"suite"}"#).await {
        Ok(PushOutcome::Gone) => {}
        other => panic!("a post to a gone connection must be Ok(Gone), got {other:?}"),
    }
}

/// A frame over [`MAX_PUSH_BYTES`] is refused as `Permanent`.
pub async fn oversized_is_permanent(push: &dyn Push, live: &ConnectionId) {
    let frame = format!(
        r#"{{"type":"suite","padding":"{}"}}"#,
        "x".repeat(MAX_PUSH_BYTES)
    );
    match push.post(live, &frame).await {
        Err(PushError::Permanent(_)) => {}
        other => panic!(
            "a frame of {} bytes (over {MAX_PUSH_BYTES}) must be Err(Permanent), got {other:?}",
            frame.len()
        ),
    }
}
