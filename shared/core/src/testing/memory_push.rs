use std::collections::HashMap;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::{ConnectionId, Push, PushError, PushOutcome, check_push_size};

/// WebSocket pushes in memory: records the frames posted to each connected connection.
/// A connection that was never connected, or was disconnected, is `Gone`.
#[derive(Default)]
pub struct MemoryPush {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Frames of every connection ever connected; `connected` says which are live.
    frames: HashMap<ConnectionId, Vec<String>>,
    connected: HashMap<ConnectionId, bool>,
    /// Connections whose posts fail with `Transient` (as a throttled endpoint would).
    failing: HashMap<ConnectionId, bool>,
}

impl MemoryPush {
    /// No connections.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens a connection (frames posted from now on are recorded).
    pub fn connect(&self, id: &ConnectionId) {
        let mut inner = self.inner.lock();
        inner.connected.insert(id.clone(), true);
        inner.frames.entry(id.clone()).or_default();
    }

    /// Closes a connection: later posts return `Ok(Gone)`. Its frames stay readable.
    pub fn disconnect(&self, id: &ConnectionId) {
        self.inner.lock().connected.insert(id.clone(), false);
    }

    /// Makes posts to `id` fail with `PushError::Transient` (or succeed again).
    pub fn set_failing(&self, id: &ConnectionId, failing: bool) {
        self.inner.lock().failing.insert(id.clone(), failing);
    }

    /// Whether `id` is connected.
    pub fn is_connected(&self, id: &ConnectionId) -> bool {
        self.inner
            .lock()
            .connected
            .get(id)
            .copied()
            .unwrap_or(false)
    }

    /// Every frame delivered to `id`, in order.
    pub fn frames(&self, id: &ConnectionId) -> Vec<String> {
        self.inner
            .lock()
            .frames
            .get(id)
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait]
impl Push for MemoryPush {
    async fn post(
        &self,
        connection: &ConnectionId,
        payload: &str,
    ) -> Result<PushOutcome, PushError> {
        check_push_size(payload)?;
        let mut inner = self.inner.lock();
        if !inner.connected.get(connection).copied().unwrap_or(false) {
            return Ok(PushOutcome::Gone);
        }
        if inner.failing.get(connection).copied().unwrap_or(false) {
            return Err(PushError::Transient(format!(
                "connection {connection} is failing"
            )));
        }
        inner
            .frames
            .entry(connection.clone())
            .or_default()
            .push(payload.to_owned());
        Ok(PushOutcome::Delivered)
    }
}
