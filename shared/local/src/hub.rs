//! [`Hub`]: the in-process WebSocket hub behind the [`Push`] port.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use omnidesk_core::{ConnectionId, MAX_PUSH_BYTES, Push, PushError, PushOutcome};
use parking_lot::RwLock;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

/// Frames buffered per connection before a client counts as too slow and is dropped.
pub const HUB_BUFFER: usize = 1024;

/// Live local WebSocket connections. The socket task of each connection calls
/// [`Hub::register`], forwards what the receiver yields to its socket, and calls
/// [`Hub::unregister`] when the socket closes. Any function pushes through [`Push::post`],
/// which never does I/O and never waits: a client whose buffer of [`HUB_BUFFER`] frames is full
/// is disconnected (its receiver ends) and is `Gone` from then on, like a stale API Gateway
/// connection. Cheap to clone; clones share the connections.
#[derive(Clone, Default)]
pub struct Hub {
    connections: Arc<RwLock<HashMap<ConnectionId, mpsc::Sender<String>>>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("connections", &self.connections.read().len())
            .finish()
    }
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a connection and returns the frames posted to it, in post order. Registering
    /// an id again replaces the earlier registration (whose receiver then ends).
    pub fn register(&self, id: ConnectionId) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel(HUB_BUFFER);
        self.connections.write().insert(id, tx);
        rx
    }

    /// Forgets a connection; later posts to it are `Gone`. Unknown ids are ignored.
    pub fn unregister(&self, id: &ConnectionId) {
        self.connections.write().remove(id);
    }

    /// Whether `id` is registered and its receiver is still open.
    pub fn is_connected(&self, id: &ConnectionId) -> bool {
        self.connections
            .read()
            .get(id)
            .is_some_and(|tx| !tx.is_closed())
    }

    /// Number of registered connections.
    pub fn len(&self) -> usize {
        self.connections.read().len()
    }

    /// Whether no connection is registered.
    pub fn is_empty(&self) -> bool {
        self.connections.read().is_empty()
    }

    /// Drops `id` only if it is still the registration `tx` (not a newer one).
    fn drop_if_same(&self, id: &ConnectionId, tx: &mpsc::Sender<String>) {
        let mut map = self.connections.write();
        if map.get(id).is_some_and(|cur| cur.same_channel(tx)) {
            map.remove(id);
        }
    }
}

#[async_trait]
impl Push for Hub {
    async fn post(
        &self,
        connection: &ConnectionId,
        payload: &str,
    ) -> Result<PushOutcome, PushError> {
        if payload.len() > MAX_PUSH_BYTES {
            return Err(PushError::Permanent(format!(
                "frame of {} bytes exceeds {MAX_PUSH_BYTES}",
                payload.len()
            )));
        }
        let Some(tx) = self.connections.read().get(connection).cloned() else {
            return Ok(PushOutcome::Gone);
        };
        match tx.try_send(payload.to_owned()) {
            Ok(()) => Ok(PushOutcome::Delivered),
            Err(TrySendError::Full(_)) => {
                tracing::warn!(connection = %connection, "WebSocket client too slow, disconnecting");
                self.drop_if_same(connection, &tx);
                Ok(PushOutcome::Gone)
            }
            Err(TrySendError::Closed(_)) => {
                self.drop_if_same(connection, &tx);
                Ok(PushOutcome::Gone)
            }
        }
    }
}
