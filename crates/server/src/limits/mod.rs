//! Feishu's rate limits (wire contract §6): per (app, tenant, endpoint), a per-second
//! window (a burst of `per_second`, then one every 1/`per_second` s: [`gcra`]) and a
//! daily count that resets at midnight in the configured time zone (UTC+8 like Feishu).
//!
//! The counting is a [`RateCounter`]: [`Local`] in process (the default), or [`Shared`]
//! in Redis for a fleet of replicas. When Redis does not answer, requests are counted
//! in process until it does (with a warning line): the service goes on, each replica
//! holding the limits alone meanwhile.

mod counter;
mod gcra;
mod local;
mod redis;

pub use counter::{Hit, Now, RateCounter};
pub use local::Local;
pub use redis::Shared;

use crate::caller::Caller;
use crate::clock::Clock;
use crate::config::LimitsBackend;
use crate::error::ApiError;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use feishu_media_proto::ErrorCode;
use feishu_media_store::{MetaStore, RateLimit, StoreResult};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Limits {
    clock: Clock,
    /// Hours east of UTC where the day ends (Feishu: 8).
    day_offset_hours: i64,
    local: Local,
    shared: Option<Shared>,
    /// When Redis last failed, to warn once a minute at most.
    warned: Mutex<Option<Instant>>,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

impl Limits {
    pub fn new(clock: Clock, day_offset_hours: i64) -> Self {
        Self {
            clock,
            day_offset_hours,
            local: Local::default(),
            shared: None,
            warned: Mutex::new(None),
        }
    }

    /// The limits `backend` names; Redis must answer now (the error says why not).
    pub async fn open(
        backend: &LimitsBackend,
        clock: Clock,
        day_offset_hours: i64,
    ) -> Result<Self, String> {
        let mut limits = Self::new(clock, day_offset_hours);
        if let LimitsBackend::Redis(url) = backend {
            limits.shared = Some(Shared::connect(url, day_offset_hours).await?);
        }
        Ok(limits)
    }

    fn now(&self) -> Now {
        let unix_ms = self.clock.unix_ms();
        let local_ms = unix_ms + self.day_offset_hours * 3600 * 1000;
        let left_ms = DAY_MS - local_ms.rem_euclid(DAY_MS);
        Now {
            unix_ms,
            day: local_ms.div_euclid(DAY_MS),
            secs_to_day_end: (left_ms as u64).div_ceil(1000),
        }
    }

    /// The rate-limit key of an app's calls to an endpoint.
    pub fn key(app_id: &str, tenant_key: &str, endpoint: &str) -> String {
        format!("{app_id}|{tenant_key}|{endpoint}")
    }

    /// Today's count of `key` (Redis's when limits are shared and it answers).
    pub async fn today(&self, meta: &dyn MetaStore, key: &str) -> StoreResult<u64> {
        let day = self.now().day;
        if let Some(shared) = &self.shared
            && let Ok(n) = shared.day_count(key, day).await
        {
            return Ok(n);
        }
        self.local.day_count(key, day, meta).await
    }

    /// Counts one request of `caller` to `endpoint`, whose per-second rate is `times`
    /// the app's, or refuses it with 429.
    pub async fn check(
        &self,
        meta: &dyn MetaStore,
        caller: &Caller,
        endpoint: &str,
        times: u32,
    ) -> Result<(), ApiError> {
        let Some(mut limit) = caller.rate_limit else {
            return Ok(());
        };
        limit.per_second = limit.per_second.saturating_mul(times.max(1));
        let key = Self::key(caller.app_id(), caller.tenant_key(), endpoint);
        let now = self.now();
        let hit = match &self.shared {
            Some(shared) => match shared.hit(&key, limit, now, meta).await {
                Ok(hit) => hit,
                Err(e) => {
                    self.warn(&e);
                    self.local.hit(&key, limit, now, meta).await?
                }
            },
            None => self.local.hit(&key, limit, now, meta).await?,
        };
        match hit {
            Hit::Allowed => Ok(()),
            Hit::OverSecond { retry_after_ms } => Err(too_many(
                limit.per_second,
                retry_after_ms.div_ceil(1000).max(1),
            )),
            Hit::OverDay { retry_after_secs } => Err(too_many(limit.per_day, retry_after_secs)),
        }
    }

    fn warn(&self, e: &feishu_media_store::StoreError) {
        let mut last = self.warned.lock().expect("not poisoned");
        if last.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
            *last = Some(Instant::now());
            tracing::warn!(
                error = %e,
                "rate limits: Redis does not answer; counting in this replica until it does"
            );
        }
    }

    /// Where requests are counted now: `"in-process"` (configured so), `"shared"`
    /// (Redis answers) or `"per-replica"` (Redis does not: each replica counts alone
    /// until it does).
    pub async fn mode(&self) -> &'static str {
        match &self.shared {
            None => "in-process",
            Some(shared) if shared.ping().await => "shared",
            Some(_) => "per-replica",
        }
    }

    /// Writes changed in-process daily counts to the store.
    pub async fn flush(&self, meta: &dyn MetaStore) -> StoreResult<()> {
        self.local.flush(meta).await
    }

    /// Forgets every count (the admin API's reset), in Redis too.
    pub async fn clear(&self) -> StoreResult<()> {
        self.local.clear().await?;
        if let Some(shared) = &self.shared {
            shared.clear().await?;
        }
        Ok(())
    }
}

/// The 429 answer, with the headers Feishu's gateway sends and `Retry-After`.
fn too_many(limit: u32, reset_secs: u64) -> ApiError {
    let mut e = ApiError::new(ErrorCode::RateLimited);
    let value = |n: u64| HeaderValue::from_str(&n.to_string()).expect("digits");
    e.status = Some(StatusCode::TOO_MANY_REQUESTS);
    e.headers.push((
        HeaderName::from_static("x-ogw-ratelimit-limit"),
        value(u64::from(limit)),
    ));
    e.headers.push((
        HeaderName::from_static("x-ogw-ratelimit-reset"),
        value(reset_secs),
    ));
    e.headers
        .push((axum::http::header::RETRY_AFTER, value(reset_secs)));
    e
}

/// The suite every [`RateCounter`] passes, on real time (Redis counts on its own clock):
/// a burst, the refusal and its wait, one more after it, the daily limit, keys apart,
/// and a reset. Takes about a second.
#[doc(hidden)]
pub async fn counter_suite(counter: &impl RateCounter, meta: &dyn MetaStore, key: &str) {
    let clock = Clock::default();
    let limits = Limits::new(clock.clone(), 8);
    let now = || limits.now();
    let limit = RateLimit {
        per_second: 4,
        per_day: 6,
    };
    for i in 0..4 {
        let hit = counter.hit(key, limit, now(), meta).await.unwrap();
        assert_eq!(hit, Hit::Allowed, "burst {i}");
    }
    let Hit::OverSecond { retry_after_ms } = counter.hit(key, limit, now(), meta).await.unwrap()
    else {
        panic!("the fifth in a burst of four");
    };
    assert!((1..=250).contains(&retry_after_ms), "{retry_after_ms}");
    let other = format!("{key}-other");
    assert_eq!(
        counter.hit(&other, limit, now(), meta).await.unwrap(),
        Hit::Allowed,
        "another key counts apart"
    );
    tokio::time::sleep(Duration::from_millis(retry_after_ms + 20)).await;
    assert_eq!(
        counter.hit(key, limit, now(), meta).await.unwrap(),
        Hit::Allowed
    );
    tokio::time::sleep(Duration::from_millis(270)).await;
    assert_eq!(
        counter.hit(key, limit, now(), meta).await.unwrap(),
        Hit::Allowed
    );
    tokio::time::sleep(Duration::from_millis(270)).await;
    match counter.hit(key, limit, now(), meta).await.unwrap() {
        Hit::OverDay { retry_after_secs } => {
            assert!((1..=86_400).contains(&retry_after_secs));
            let want = now().secs_to_day_end;
            assert!(
                retry_after_secs.abs_diff(want) <= 2,
                "{retry_after_secs} vs {want}"
            );
        }
        other => panic!("the seventh of a day of six: {other:?}"),
    }
    counter.clear().await.unwrap();
    assert_eq!(
        counter.hit(key, limit, now(), meta).await.unwrap(),
        Hit::Allowed,
        "a reset forgets"
    );
    counter.clear().await.unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_in_process_counter_passes_the_suite() {
        let meta = feishu_media_store::memory::MemoryMeta::new();
        counter_suite(&Local::default(), &meta, "cli|t|download").await;
    }
}
