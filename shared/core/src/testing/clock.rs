use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use omnidesk_domain::Timestamp;
use uuid::Uuid;

use crate::{Clock, IdGen};

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: Timestamp) -> Self {
        Self {
            ms: AtomicI64::new(now.millis()),
        }
    }

    /// Sets the time (tests may move it backwards; production clocks never do).
    pub fn set(&self, now: Timestamp) {
        self.ms.store(now.millis(), Ordering::SeqCst);
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.ms.load(Ordering::SeqCst))
    }
}

/// Predictable ids: 1, 2, 3, … as UUIDs (they sort by creation like UUIDv7).
#[derive(Debug, Default)]
pub struct SeqIds {
    next: AtomicU64,
}

impl SeqIds {
    /// Starts at 1.
    pub fn new() -> Self {
        Self::default()
    }
}

impl IdGen for SeqIds {
    fn uuid(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.next.fetch_add(1, Ordering::SeqCst) + 1))
    }
}
