use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A live WebSocket connection (API Gateway connection id, or the local hub's id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionId(pub String);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What happened to one pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Handed to the connection.
    Delivered,
    /// The connection no longer exists (API Gateway `GoneException`, or a closed local socket).
    /// Not an error: the caller removes the stale connection.
    Gone,
}

/// A push failed for a reason other than a gone connection.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Throttled, timed out or the endpoint is unavailable: retrying can help.
    #[error("push temporarily failed: {0}")]
    Transient(String),
    /// The payload was refused (too large, malformed): retrying cannot help.
    #[error("push refused: {0}")]
    Permanent(String),
}

/// Sends one frame to one WebSocket connection.
///
/// Guarantees:
/// - `Delivered` means the frame was handed to the connection's transport, in call order per
///   connection (frames to one connection from one caller are not reordered).
/// - A connection that is gone yields `Ok(Gone)`, never an error, and never blocks.
/// - Frames are UTF-8 JSON text of at most 128 KB (API Gateway's limit); larger is `Permanent`.
#[async_trait]
pub trait Push: Send + Sync {
    /// Posts `payload` (a JSON text frame) to `connection`.
    async fn post(
        &self,
        connection: &ConnectionId,
        payload: &str,
    ) -> Result<PushOutcome, PushError>;
}

/// API Gateway's WebSocket message payload limit.
pub const MAX_PUSH_BYTES: usize = 128 * 1024;

/// The size rule every [`Push`] adapter applies first: a frame over [`MAX_PUSH_BYTES`] is
/// refused as `Permanent` (retrying cannot make it fit).
pub fn check_push_size(payload: &str) -> Result<(), PushError> {
    if payload.len() > MAX_PUSH_BYTES {
        return Err(PushError::Permanent(format!(
            "frame of {} bytes is over the {MAX_PUSH_BYTES}-byte limit",
            payload.len()
        )));
    }
    Ok(())
}
