//! [`Hub`]: the in-process WebSocket hub behind the [`Push`] port.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use omnidesk_core::{
    Connection, ConnectionId, ConnectionStore, Push, PushError, PushOutcome, StoreResult,
    VisitorConnection, VisitorConnectionStore, check_push_size,
};
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
///
/// The hub is also the local [`ConnectionStore`]: local connections live only as long as this
/// process, so they are kept in memory next to their sockets instead of being read from SQLite
/// on every push.
#[derive(Clone, Default)]
pub struct Hub {
    connections: Arc<RwLock<HashMap<ConnectionId, mpsc::Sender<String>>>>,
    agents: Arc<RwLock<HashMap<ConnectionId, Connection>>>,
    visitors: Arc<RwLock<HashMap<ConnectionId, VisitorConnection>>>,
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
        self.agents.write().remove(id);
        self.visitors.write().remove(id);
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
        check_push_size(payload)?;
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

#[async_trait]
impl ConnectionStore for Hub {
    async fn add_connection(&self, connection: &Connection) -> StoreResult<()> {
        self.agents
            .write()
            .insert(connection.id.clone(), connection.clone());
        Ok(())
    }

    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<()> {
        self.agents.write().remove(id);
        Ok(())
    }

    async fn list_connections(&self) -> StoreResult<Vec<Connection>> {
        let mut all: Vec<Connection> = self.agents.read().values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }
}

#[async_trait]
impl VisitorConnectionStore for Hub {
    async fn add_visitor_connection(&self, connection: &VisitorConnection) -> StoreResult<()> {
        self.visitors
            .write()
            .insert(connection.id.clone(), connection.clone());
        Ok(())
    }

    async fn remove_visitor_connection(&self, id: &ConnectionId) -> StoreResult<()> {
        self.visitors.write().remove(id);
        Ok(())
    }

    async fn visitor_connections(
        &self,
        visitor: omnidesk_domain::VisitorId,
    ) -> StoreResult<Vec<ConnectionId>> {
        Ok(self
            .visitors
            .read()
            .values()
            .filter(|c| c.visitor_id == visitor)
            .map(|c| c.id.clone())
            .collect())
    }

    async fn visitor_connection(
        &self,
        id: &ConnectionId,
    ) -> StoreResult<Option<VisitorConnection>> {
        Ok(self.visitors.read().get(id).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_hub_is_the_connection_store_of_its_sockets() {
        let hub = Hub::new();
        let id = ConnectionId("c1".to_owned());
        let _rx = hub.register(id.clone());
        let conn = Connection {
            id: id.clone(),
            agent_id: omnidesk_domain::AgentId::from_uuid(uuid::Uuid::now_v7()),
            connected_at: omnidesk_domain::Timestamp::from_millis(0),
            viewer: None,
        };
        hub.add_connection(&conn).await.unwrap();
        assert_eq!(hub.list_connections().await.unwrap(), vec![conn]);
        hub.unregister(&id);
        assert!(
            hub.list_connections().await.unwrap().is_empty(),
            "a closed socket is not listed"
        );
        hub.remove_connection(&id).await.unwrap();
    }
}
