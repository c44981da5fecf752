//! What a rate counter is: one atomic hit that counts a request in both windows.

use feishu_media_store::{MetaStore, RateLimit, StoreResult};
use std::future::Future;

/// What one request's hit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    Allowed,
    OverSecond { retry_after_ms: u64 },
    OverDay { retry_after_secs: u64 },
}

/// A moment as the limits see it, from the server's clock.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub unix_ms: i64,
    /// Days since the epoch in the limits' time zone.
    pub day: i64,
    pub secs_to_day_end: u64,
}

/// Counts requests in both windows with one atomic hit.
pub trait RateCounter: Send + Sync {
    /// Counts one request of `key` under `limit`, unless a window is full (then nothing
    /// is counted).
    fn hit(
        &self,
        key: &str,
        limit: RateLimit,
        now: Now,
        meta: &dyn MetaStore,
    ) -> impl Future<Output = StoreResult<Hit>> + Send;

    /// Forgets every count (the admin API's reset).
    fn clear(&self) -> impl Future<Output = StoreResult<()>> + Send;
}
