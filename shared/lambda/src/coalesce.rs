//! One WebSocket message per connection per Lambda invocation.
//!
//! API Gateway bills every `PostToConnection` (per started 32 KB), and a step of the router or
//! the sender pushes several frames to every agent, each after listing the connections.
//! [`CoalescingPush`] wraps the real [`Push`] and [`ConnectionStore`]: between
//! [`begin`](CoalescingPush::begin) and [`flush`](CoalescingPush::flush) it lists the
//! connections once, buffers every frame per connection, and at the flush posts each
//! connection's frames packed into as few `{"type":"batch","events":[…]}` frames as fit in
//! [`BILLING_UNIT_BYTES`]. Outside begin/flush it passes everything straight through.
//!
//! Website visitors' sockets go through the same wrapper ([`CoalescingPush::with_visitors`]):
//! it is also the function's `VisitorConnectionStore`, passing lookups through and noting
//! which connection ids are visitors', so that a visitor's frames are buffered and packed per
//! connection like an agent's (only to the connections the lookup named) and a visitor socket
//! found gone at the flush is removed from the visitor connections, not the agents'.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use omnidesk_core::{
    Connection, ConnectionId, ConnectionStore, Push, PushError, PushOutcome, StoreError,
    StoreResult, VisitorConnection, VisitorConnectionStore, check_push_size,
};
use omnidesk_domain::VisitorId;
use parking_lot::Mutex;

/// API Gateway meters WebSocket messages per started 32 KB.
pub const BILLING_UNIT_BYTES: usize = 32 * 1024;

/// How `ServerEvent::Batch` serialises: these two around the comma-separated events.
const BATCH_PREFIX: &str = r#"{"type":"batch","events":["#;
const BATCH_SUFFIX: &str = "]}";

/// What a [`CoalescingPush::flush`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlushReport {
    /// Frames handed to live connections.
    pub delivered: usize,
    /// Connections found gone (and removed from the store).
    pub gone: usize,
    /// Frames whose post failed (logged; the events are stored, dashboards catch up).
    pub failed: usize,
}

/// A [`Push`] + [`ConnectionStore`] that buffers between [`begin`](Self::begin) and
/// [`flush`](Self::flush) (see the module docs). Give the same instance to a function as both
/// its `connections` and its `push`.
///
/// While buffering, `post` answers `Delivered` at once (a gone connection is found, and
/// removed, at the flush); a frame over the 128 KB limit is still refused as `Permanent`.
pub struct CoalescingPush {
    push: Arc<dyn Push>,
    store: Arc<dyn ConnectionStore>,
    max_frame_bytes: usize,
    /// `Some` while buffering: the frames of each connection, in post order.
    frames: Mutex<Option<BTreeMap<ConnectionId, Vec<String>>>>,
    /// The connection list of the current batch, read at most once (the lock is held across
    /// the read so concurrent steps of a batch wait for it instead of listing again).
    listed: tokio::sync::Mutex<Option<Vec<Connection>>>,
    /// Visitors' live connections, when the function pushes to website visitors.
    visitors: Option<Arc<dyn VisitorConnectionStore>>,
    /// Connection ids that visitor lookups of the current batch returned.
    visitor_ids: Mutex<HashSet<ConnectionId>>,
}

impl CoalescingPush {
    /// Wraps the real push and connection store; frames are packed up to
    /// [`BILLING_UNIT_BYTES`].
    pub fn new(push: Arc<dyn Push>, store: Arc<dyn ConnectionStore>) -> Self {
        Self {
            push,
            store,
            max_frame_bytes: BILLING_UNIT_BYTES,
            frames: Mutex::new(None),
            listed: tokio::sync::Mutex::new(None),
            visitors: None,
            visitor_ids: Mutex::new(HashSet::new()),
        }
    }

    /// Also the visitors' connection store (see the module docs): give the same instance to
    /// a function as its `visitors`.
    pub fn with_visitors(mut self, visitors: Arc<dyn VisitorConnectionStore>) -> Self {
        self.visitors = Some(visitors);
        self
    }

    /// Starts buffering (a `begin` while buffering keeps what is buffered).
    pub fn begin(&self) {
        let mut frames = self.frames.lock();
        if frames.is_none() {
            *frames = Some(BTreeMap::new());
        }
    }

    /// Runs one invocation's work (`work`, e.g. the batch driver) with pushes buffered, then
    /// flushes them: what a Lambda handler wraps its batch in.
    pub async fn during<F: std::future::Future>(&self, work: F) -> F::Output {
        self.begin();
        let out = work.await;
        let report = self.flush().await;
        tracing::debug!(?report, "pushes flushed");
        out
    }

    /// Whether frames are being buffered.
    pub fn is_buffering(&self) -> bool {
        self.frames.lock().is_some()
    }

    /// Stops buffering and posts what was buffered: per connection, in order, packed into
    /// `batch` frames of at most 32 KB (a lone frame is posted as it is; a frame over 32 KB
    /// goes alone). A gone connection is removed from the store and gets nothing more; a failed
    /// post is logged and the connection's next frames are still tried. Connections are flushed
    /// concurrently. Without a `begin`, does nothing.
    pub async fn flush(&self) -> FlushReport {
        let buffered = self.frames.lock().take();
        *self.listed.lock().await = None;
        let visitor_ids = std::mem::take(&mut *self.visitor_ids.lock());
        let Some(buffered) = buffered else {
            return FlushReport::default();
        };
        let reports = futures_util::future::join_all(buffered.into_iter().map(|(conn, frames)| {
            let visitor = visitor_ids.contains(&conn);
            self.flush_connection(conn, frames, visitor)
        }))
        .await;
        reports
            .into_iter()
            .fold(FlushReport::default(), |acc, r| FlushReport {
                delivered: acc.delivered + r.delivered,
                gone: acc.gone + r.gone,
                failed: acc.failed + r.failed,
            })
    }

    async fn flush_connection(
        &self,
        conn: ConnectionId,
        frames: Vec<String>,
        visitor: bool,
    ) -> FlushReport {
        let mut report = FlushReport::default();
        for frame in pack(frames, self.max_frame_bytes) {
            match self.push.post(&conn, &frame).await {
                Ok(PushOutcome::Delivered) => report.delivered += 1,
                Ok(PushOutcome::Gone) => {
                    tracing::debug!(connection = %conn, visitor, "removing gone connection");
                    let removed = match (&self.visitors, visitor) {
                        (Some(visitors), true) => visitors.remove_visitor_connection(&conn).await,
                        _ => self.store.remove_connection(&conn).await,
                    };
                    if let Err(e) = removed {
                        tracing::warn!(connection = %conn, error = %e, "cannot remove gone connection");
                    }
                    report.gone += 1;
                    break;
                }
                Err(e) => {
                    tracing::warn!(connection = %conn, error = %e, "push failed");
                    report.failed += 1;
                }
            }
        }
        report
    }
}

#[async_trait]
impl Push for CoalescingPush {
    async fn post(
        &self,
        connection: &ConnectionId,
        payload: &str,
    ) -> Result<PushOutcome, PushError> {
        check_push_size(payload)?;
        {
            let mut frames = self.frames.lock();
            if let Some(buffer) = frames.as_mut() {
                buffer
                    .entry(connection.clone())
                    .or_default()
                    .push(payload.to_owned());
                return Ok(PushOutcome::Delivered);
            }
        }
        self.push.post(connection, payload).await
    }
}

#[async_trait]
impl ConnectionStore for CoalescingPush {
    async fn add_connection(&self, connection: &Connection) -> StoreResult<()> {
        self.store.add_connection(connection).await?;
        if let Some(listed) = self.listed.lock().await.as_mut() {
            listed.retain(|c| c.id != connection.id);
            listed.push(connection.clone());
        }
        Ok(())
    }

    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<()> {
        self.store.remove_connection(id).await?;
        if let Some(listed) = self.listed.lock().await.as_mut() {
            listed.retain(|c| c.id != *id);
        }
        if let Some(buffer) = self.frames.lock().as_mut() {
            buffer.remove(id);
        }
        Ok(())
    }

    async fn list_connections(&self) -> StoreResult<Vec<Connection>> {
        if !self.is_buffering() {
            return self.store.list_connections().await;
        }
        let mut listed = self.listed.lock().await;
        if let Some(connections) = listed.as_ref() {
            return Ok(connections.clone());
        }
        let connections = self.store.list_connections().await?;
        *listed = Some(connections.clone());
        Ok(connections)
    }
}

#[async_trait]
impl VisitorConnectionStore for CoalescingPush {
    async fn add_visitor_connection(&self, connection: &VisitorConnection) -> StoreResult<()> {
        match &self.visitors {
            Some(v) => v.add_visitor_connection(connection).await,
            None => Err(StoreError::Unavailable(
                "this function keeps no visitor connections".to_owned(),
            )),
        }
    }

    async fn remove_visitor_connection(&self, id: &ConnectionId) -> StoreResult<()> {
        if let Some(v) = &self.visitors {
            v.remove_visitor_connection(id).await?;
        }
        self.visitor_ids.lock().remove(id);
        if let Some(buffer) = self.frames.lock().as_mut() {
            buffer.remove(id);
        }
        Ok(())
    }

    async fn visitor_connections(&self, visitor: VisitorId) -> StoreResult<Vec<ConnectionId>> {
        let Some(v) = &self.visitors else {
            return Ok(Vec::new());
        };
        let ids = v.visitor_connections(visitor).await?;
        if self.is_buffering() {
            self.visitor_ids.lock().extend(ids.iter().cloned());
        }
        Ok(ids)
    }

    async fn visitor_connection(
        &self,
        id: &ConnectionId,
    ) -> StoreResult<Option<VisitorConnection>> {
        match &self.visitors {
            Some(v) => v.visitor_connection(id).await,
            None => Ok(None),
        }
    }
}

/// One buffered frame as a piece of a batch: the frame itself (one event), or the events
/// inside a `batch` frame (flattened, so batches never nest).
struct Piece {
    text: String,
    /// The text is one event (not the inside of a batch).
    single: bool,
}

impl Piece {
    fn of(frame: String) -> Option<Piece> {
        match frame
            .strip_prefix(BATCH_PREFIX)
            .and_then(|rest| rest.strip_suffix(BATCH_SUFFIX))
        {
            Some("") => None,
            Some(inner) => Some(Piece {
                text: inner.to_owned(),
                single: false,
            }),
            None => Some(Piece {
                text: frame,
                single: true,
            }),
        }
    }
}

/// Packs frames (in order) into as few frames as fit in `max` bytes each: consecutive frames
/// are joined into one `batch`; one frame alone is kept as it is; a frame that does not fit
/// with others goes alone (even when it is larger than `max`).
pub fn pack(frames: Vec<String>, max: usize) -> Vec<String> {
    let overhead = BATCH_PREFIX.len() + BATCH_SUFFIX.len();
    let mut out = Vec::new();
    let mut group: Vec<Piece> = Vec::new();
    let mut group_len = overhead;
    for piece in frames.into_iter().filter_map(Piece::of) {
        let added = piece.text.len() + usize::from(!group.is_empty());
        if !group.is_empty() && group_len + added > max {
            out.push(close(std::mem::take(&mut group)));
            group_len = overhead;
        }
        group_len += piece.text.len() + usize::from(!group.is_empty());
        group.push(piece);
    }
    if !group.is_empty() {
        out.push(close(group));
    }
    out
}

fn close(mut group: Vec<Piece>) -> String {
    if group.len() == 1 && group[0].single {
        return group.pop().map(|p| p.text).unwrap_or_default();
    }
    let inner: Vec<&str> = group.iter().map(|p| p.text.as_str()).collect();
    format!("{BATCH_PREFIX}{}{BATCH_SUFFIX}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use omnidesk_core::ServerEvent;
    use omnidesk_core::testing::{MemoryPush, MemoryStore};
    use omnidesk_core::usecases::push_to_agents;
    use omnidesk_domain::{AgentId, Timestamp};
    use serde_json::Value;

    use super::*;

    /// A connection store that counts its listings.
    struct CountingStore {
        inner: MemoryStore,
        lists: AtomicUsize,
    }

    #[async_trait]
    impl ConnectionStore for CountingStore {
        async fn add_connection(&self, connection: &Connection) -> StoreResult<()> {
            self.inner.add_connection(connection).await
        }
        async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<()> {
            self.inner.remove_connection(id).await
        }
        async fn list_connections(&self) -> StoreResult<Vec<Connection>> {
            self.lists.fetch_add(1, Ordering::SeqCst);
            self.inner.list_connections().await
        }
    }

    struct Fixture {
        push: Arc<MemoryPush>,
        store: Arc<CountingStore>,
        co: CoalescingPush,
    }

    fn conn(name: &str) -> ConnectionId {
        ConnectionId(name.to_owned())
    }

    /// `live` are registered and open; `stale` are registered but their sockets are gone.
    async fn fixture(live: &[&str], stale: &[&str]) -> Fixture {
        let push = Arc::new(MemoryPush::new());
        let store = Arc::new(CountingStore {
            inner: MemoryStore::default(),
            lists: AtomicUsize::new(0),
        });
        let now = Timestamp::from_millis(
            i64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or_default(),
            )
            .unwrap_or_default(),
        );
        for (i, name) in live.iter().chain(stale).enumerate() {
            let c = Connection {
                id: conn(name),
                agent_id: AgentId::from_uuid(uuid::Uuid::from_u128(i as u128 + 1)),
                connected_at: now,
                viewer: None,
            };
            store
                .add_connection(&c)
                .await
                .unwrap_or_else(|e| panic!("add: {e}"));
        }
        for name in live {
            push.connect(&conn(name));
        }
        let co = CoalescingPush::new(push.clone(), store.clone());
        Fixture { push, store, co }
    }

    fn event(n: usize, pad: usize) -> ServerEvent {
        ServerEvent::Error {
            message: format!("{n}:{}", "x".repeat(pad)),
        }
    }

    /// The events a connection received, batches unpacked, in order.
    fn received(push: &MemoryPush, id: &ConnectionId) -> Vec<ServerEvent> {
        push.frames(id)
            .iter()
            .flat_map(|f| {
                match serde_json::from_str::<ServerEvent>(f).unwrap_or_else(|e| panic!("{e}")) {
                    ServerEvent::Batch { events } => events,
                    e => vec![e],
                }
            })
            .collect()
    }

    #[tokio::test]
    async fn ten_events_to_two_connections_are_two_posts_after_one_listing() {
        let f = fixture(&["a", "b"], &[]).await;
        f.co.begin();
        for n in 0..10 {
            let reached = push_to_agents(&f.co, &f.store.inner, &f.co, &event(n, 10))
                .await
                .unwrap_or_else(|e| panic!("push: {e}"));
            assert_eq!(reached, 2);
        }
        assert!(
            f.push.frames(&conn("a")).is_empty(),
            "nothing posted before the flush"
        );
        let report = f.co.flush().await;
        assert_eq!(
            report,
            FlushReport {
                delivered: 2,
                gone: 0,
                failed: 0
            }
        );
        assert_eq!(f.store.lists.load(Ordering::SeqCst), 1);
        let expected: Vec<ServerEvent> = (0..10).map(|n| event(n, 10)).collect();
        for id in [conn("a"), conn("b")] {
            let frames = f.push.frames(&id);
            assert_eq!(frames.len(), 1);
            let v: Value = serde_json::from_str(&frames[0]).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(v["type"], "batch");
            assert_eq!(received(&f.push, &id), expected);
        }
    }

    #[tokio::test]
    async fn thirty_three_kilobytes_of_events_go_out_as_two_frames_in_order() {
        let f = fixture(&["a"], &[]).await;
        f.co.begin();
        let events: Vec<ServerEvent> = (0..33).map(|n| event(n, 1000)).collect();
        let total: usize = events.iter().map(|e| e.to_json().len()).sum();
        assert!(total > 33 * 1000 && total < 2 * BILLING_UNIT_BYTES);
        for e in &events {
            push_to_agents(&f.co, &f.store.inner, &f.co, e)
                .await
                .unwrap_or_else(|e| panic!("push: {e}"));
        }
        f.co.flush().await;
        let frames = f.push.frames(&conn("a"));
        assert_eq!(frames.len(), 2);
        assert!(frames.iter().all(|fr| fr.len() <= BILLING_UNIT_BYTES));
        assert_eq!(received(&f.push, &conn("a")), events);
    }

    #[tokio::test]
    async fn a_gone_connection_is_removed_at_the_flush_and_the_others_still_get_theirs() {
        let f = fixture(&["a"], &["gone"]).await;
        f.co.begin();
        for n in 0..3 {
            push_to_agents(&f.co, &f.store.inner, &f.co, &event(n, 10))
                .await
                .unwrap_or_else(|e| panic!("push: {e}"));
        }
        let report = f.co.flush().await;
        assert_eq!(report.gone, 1);
        assert_eq!(report.delivered, 1);
        let left: Vec<ConnectionId> = f
            .store
            .list_connections()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(left, vec![conn("a")]);
        assert_eq!(received(&f.push, &conn("a")).len(), 3);
    }

    #[tokio::test]
    async fn a_lone_frame_is_posted_as_it_is_and_batches_are_flattened() {
        let f = fixture(&["a", "b"], &[]).await;
        f.co.begin();
        let single = event(1, 5).to_json();
        f.co.post(&conn("a"), &single)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let inner = ServerEvent::Batch {
            events: vec![event(2, 5), event(3, 5)],
        };
        f.co.post(&conn("b"), &event(1, 5).to_json())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        f.co.post(&conn("b"), &inner.to_json())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        f.co.flush().await;
        assert_eq!(f.push.frames(&conn("a")), vec![single]);
        let b = f.push.frames(&conn("b"));
        assert_eq!(b.len(), 1);
        assert_eq!(
            serde_json::from_str::<ServerEvent>(&b[0]).unwrap_or_else(|e| panic!("{e}")),
            ServerEvent::Batch {
                events: vec![event(1, 5), event(2, 5), event(3, 5)]
            }
        );
    }

    #[tokio::test]
    async fn a_frame_over_32_kilobytes_goes_alone_between_its_neighbours() {
        let f = fixture(&["a"], &[]).await;
        f.co.begin();
        let events = [event(1, 10), event(2, 40 * 1024), event(3, 10)];
        for e in &events {
            f.co.post(&conn("a"), &e.to_json())
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        f.co.flush().await;
        let frames = f.push.frames(&conn("a"));
        assert_eq!(
            frames,
            events.iter().map(ServerEvent::to_json).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn outside_begin_and_flush_everything_passes_straight_through() {
        let f = fixture(&["a"], &["gone"]).await;
        let reached = push_to_agents(&f.co, &f.store.inner, &f.co, &event(1, 1))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reached, 1);
        assert_eq!(f.push.frames(&conn("a")), vec![event(1, 1).to_json()]);
        push_to_agents(&f.co, &f.store.inner, &f.co, &event(2, 1))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.store.lists.load(Ordering::SeqCst), 2);
        assert_eq!(f.co.flush().await, FlushReport::default());
        assert_eq!(f.push.frames(&conn("a")).len(), 2);
    }

    #[tokio::test]
    async fn connections_added_or_removed_while_buffering_update_the_cached_list() {
        let f = fixture(&["a", "b"], &[]).await;
        f.co.begin();
        push_to_agents(&f.co, &f.store.inner, &f.co, &event(1, 1))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        f.co.remove_connection(&conn("b"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let listed =
            f.co.list_connections()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(listed.len(), 1);
        f.co.flush().await;
        assert_eq!(f.push.frames(&conn("a")).len(), 1);
        assert!(
            f.push.frames(&conn("b")).is_empty(),
            "buffered frames dropped"
        );
        assert_eq!(f.store.lists.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_oversized_frame_is_refused_while_buffering() {
        let f = fixture(&["a"], &[]).await;
        f.co.begin();
        let huge = event(1, omnidesk_core::MAX_PUSH_BYTES).to_json();
        let result = f.co.post(&conn("a"), &huge).await;
        assert!(matches!(result, Err(PushError::Permanent(_))));
    }

    #[tokio::test]
    async fn visitor_frames_reach_only_the_visitors_connections_and_a_gone_one_is_forgotten() {
        use omnidesk_core::{VisitorConnection, VisitorConnectionStore};
        use omnidesk_domain::{VisitorId, WebsiteId};
        let f = fixture(&["agent"], &[]).await;
        let visitors = Arc::new(MemoryStore::default());
        let co =
            CoalescingPush::new(f.push.clone(), f.store.clone()).with_visitors(visitors.clone());
        let visitor = VisitorId::from_uuid(uuid::Uuid::from_u128(7));
        let other = VisitorId::from_uuid(uuid::Uuid::from_u128(8));
        let now = Timestamp::from_millis(
            i64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or_default(),
            )
            .unwrap_or_default(),
        );
        for (id, v) in [("tab1", visitor), ("tab2", visitor), ("elsewhere", other)] {
            visitors
                .add_visitor_connection(&VisitorConnection {
                    id: conn(id),
                    website_id: WebsiteId::from_uuid(uuid::Uuid::from_u128(1)),
                    visitor_id: v,
                    connected_at: now,
                })
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        f.push.connect(&conn("tab1"));
        f.push.connect(&conn("elsewhere"));
        // "tab2" is registered but its socket is gone.
        co.begin();
        for n in 0..2 {
            let frame = event(n, 5).to_json();
            for id in co
                .visitor_connections(visitor)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
            {
                co.post(&id, &frame).await.unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let report = co.flush().await;
        assert_eq!((report.delivered, report.gone), (1, 1));
        assert_eq!(
            received(&f.push, &conn("tab1")),
            vec![event(0, 5), event(1, 5)],
            "one packed frame with both events"
        );
        assert_eq!(f.push.frames(&conn("tab1")).len(), 1);
        assert!(f.push.frames(&conn("elsewhere")).is_empty());
        assert!(f.push.frames(&conn("agent")).is_empty());
        assert_eq!(
            visitors
                .visitor_connections(visitor)
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            vec![conn("tab1")],
            "the gone visitor socket is removed from the visitor connections"
        );
        assert_eq!(
            f.store
                .list_connections()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .len(),
            1,
            "the agents' connections are untouched"
        );
    }

    #[test]
    fn packing_nothing_gives_nothing_and_empty_batches_vanish() {
        assert!(pack(Vec::new(), BILLING_UNIT_BYTES).is_empty());
        let empty = ServerEvent::Batch { events: Vec::new() }.to_json();
        assert!(pack(vec![empty], BILLING_UNIT_BYTES).is_empty());
    }
}
