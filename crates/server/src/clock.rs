//! The server's one clock: real time plus an offset that tests can advance. Everything
//! that expires or counts reads it (access tokens, upload sessions, temporary links,
//! rate limits and their day boundary, sweeps, the request log, log ids), so a test moves
//! time forward instead of sleeping or seeding negative lifetimes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub struct Clock {
    start: Instant,
    start_unix_ms: i64,
    /// Added to every reading; only tests move it.
    offset_ms: Arc<AtomicU64>,
    /// Real time does not pass (tests).
    frozen: bool,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            start_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            offset_ms: Arc::default(),
            frozen: false,
        }
    }
}

impl Clock {
    /// A clock that stands still until [`advance`](Self::advance)d: tests of time-based
    /// rules then do not depend on how fast the machine runs them.
    pub fn frozen() -> Self {
        Self {
            frozen: true,
            ..Self::default()
        }
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as u64, Ordering::Relaxed);
    }

    /// Monotonic time since the clock was made.
    pub fn elapsed(&self) -> Duration {
        let real = if self.frozen {
            Duration::ZERO
        } else {
            self.start.elapsed()
        };
        real + Duration::from_millis(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Wall-clock milliseconds since the Unix epoch.
    pub fn unix_ms(&self) -> i64 {
        self.start_unix_ms + self.elapsed().as_millis() as i64
    }

    /// Wall-clock seconds since the Unix epoch.
    pub fn unix_secs(&self) -> u64 {
        u64::try_from(self.unix_ms() / 1000).unwrap_or(0)
    }
}
