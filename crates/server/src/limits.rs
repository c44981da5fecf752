//! Feishu's rate limits (wire contract §6): per (app, tenant, endpoint), a per-second
//! quota (governor's GCRA, so a burst of `per_second` then one every 1/`per_second` s) and
//! a daily count that resets at midnight in the configured time zone (UTC+8 like Feishu).
//!
//! Daily counts live in memory and are flushed to the store every second and at
//! shutdown, so a restart keeps them without a database write on every request.

use crate::caller::Caller;
use crate::clock::Clock;
use crate::error::ApiError;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use feishu_media_proto::ErrorCode;
use feishu_media_store::{MetaStore, RateLimit, StoreResult};
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

type Limiter = RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    Clock,
    governor::middleware::NoOpMiddleware<std::time::Duration>,
>;

#[derive(Debug, Clone, Copy)]
struct DayCount {
    day: i64,
    count: u64,
    dirty: bool,
}

pub struct Limits {
    clock: Clock,
    /// Hours east of UTC where the day ends (Feishu: 8).
    day_offset_hours: i64,
    per_second: Mutex<HashMap<String, (RateLimit, Arc<Limiter>)>>,
    days: Mutex<HashMap<String, DayCount>>,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

impl Limits {
    pub fn new(clock: Clock, day_offset_hours: i64) -> Self {
        Self {
            clock,
            day_offset_hours,
            per_second: Mutex::default(),
            days: Mutex::default(),
        }
    }

    /// The day number (days since the epoch in the limit's time zone) and the seconds
    /// until it ends.
    fn today(&self) -> (i64, u64) {
        let local_ms = self.clock.unix_ms() + self.day_offset_hours * 3600 * 1000;
        let day = local_ms.div_euclid(DAY_MS);
        let left_ms = DAY_MS - local_ms.rem_euclid(DAY_MS);
        (day, (left_ms as u64).div_ceil(1000))
    }

    /// Counts one request of `caller` to `endpoint`, or refuses it with 429.
    pub async fn check(
        &self,
        meta: &dyn MetaStore,
        caller: &Caller,
        endpoint: &str,
    ) -> Result<(), ApiError> {
        let Some(limit) = caller.rate_limit else {
            return Ok(());
        };
        let key = format!("{}|{}|{endpoint}", caller.app_id, caller.tenant_key);
        let limiter = self.limiter(&key, limit);
        if let Err(not_until) = limiter.check() {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(&self.clock));
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(too_many(limit.per_second, secs.max(1)));
        }
        let (day, secs_left) = self.today();
        let known = self
            .days
            .lock()
            .expect("not poisoned")
            .get(&key)
            .copied()
            .filter(|d| d.day == day);
        let current = match known {
            Some(d) => d,
            None => {
                // First request of the day for this key since start: read what a
                // previous run counted.
                let stored = meta.day_count(&key, day).await?;
                DayCount {
                    day,
                    count: stored,
                    dirty: false,
                }
            }
        };
        let mut days = self.days.lock().expect("not poisoned");
        let entry = days.entry(key).or_insert(current);
        if entry.day != day {
            *entry = current;
        }
        if entry.count >= u64::from(limit.per_day) {
            return Err(too_many(limit.per_day, secs_left));
        }
        entry.count += 1;
        entry.dirty = true;
        Ok(())
    }

    fn limiter(&self, key: &str, limit: RateLimit) -> Arc<Limiter> {
        let mut map = self.per_second.lock().expect("not poisoned");
        match map.get(key) {
            Some((l, limiter)) if *l == limit => limiter.clone(),
            _ => {
                let per_second = NonZeroU32::new(limit.per_second).unwrap_or(NonZeroU32::MIN);
                let limiter = Arc::new(RateLimiter::direct_with_clock(
                    Quota::per_second(per_second),
                    self.clock.clone(),
                ));
                map.insert(key.to_owned(), (limit, limiter.clone()));
                limiter
            }
        }
    }

    /// Writes changed daily counts to the store.
    pub async fn flush(&self, meta: &dyn MetaStore) -> StoreResult<()> {
        let dirty: Vec<(String, i64, u64)> = {
            let mut days = self.days.lock().expect("not poisoned");
            days.iter_mut()
                .filter(|(_, d)| d.dirty)
                .map(|(k, d)| {
                    d.dirty = false;
                    (k.clone(), d.day, d.count)
                })
                .collect()
        };
        if !dirty.is_empty() {
            meta.save_day_counts(&dirty).await?;
        }
        Ok(())
    }

    /// Forgets every count (the admin API's reset).
    pub fn clear(&self) {
        self.per_second.lock().expect("not poisoned").clear();
        self.days.lock().expect("not poisoned").clear();
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
