//! The client-side quota: every request of a client waits its turn so a batch never
//! provokes a 429 by itself, and the daily count stops at the daily limit.
//!
//! Feishu counts each endpoint apart (5/s and 10 000/day for the download, as many
//! again for each listing call), so a client keeps one limiter per endpoint: listing a
//! document does not slow its downloads.

use crate::error::{Error, Result};
use feishu_media_proto::endpoint::{Endpoint, Limit};
use governor::{DefaultDirectRateLimiter, Quota as GQuota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

/// Feishu's media API: 5 requests/s and 10 000/day per app.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub per_second: u32,
    pub per_day: u32,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            per_second: 5,
            per_day: 10_000,
        }
    }
}

pub(crate) struct Limiter {
    quota: Quota,
    per_second: Option<DefaultDirectRateLimiter>,
    /// (day number in UTC+8, requests counted).
    today: Mutex<(i64, u32)>,
}

impl Limiter {
    /// `per_second` 0 switches the per-second wait off (for servers without limits).
    pub fn new(quota: Quota) -> Self {
        // A burst of 1: requests leave evenly spaced, so even a server that counts per
        // calendar second never sees more than `per_second` in one.
        let per_second = NonZeroU32::new(quota.per_second).map(|n| {
            let period = std::time::Duration::from_secs(1) / n.get();
            RateLimiter::direct(
                GQuota::with_period(period)
                    .expect("non-zero period")
                    .allow_burst(NonZeroU32::MIN),
            )
        });
        Self {
            quota,
            per_second,
            today: Mutex::new((0, 0)),
        }
    }

    /// Waits for a turn, then counts the request against today's quota.
    pub async fn acquire(&self) -> Result<()> {
        if let Some(l) = &self.per_second {
            l.until_ready().await;
        }
        let day = {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            (now_ms + 8 * 3600 * 1000).div_euclid(86_400_000)
        };
        let mut today = self.today.lock().expect("not poisoned");
        if today.0 != day {
            *today = (day, 0);
        }
        if today.1 >= self.quota.per_day {
            return Err(Error::DailyQuota(self.quota.per_day));
        }
        today.1 += 1;
        Ok(())
    }

    /// Requests counted today by this client.
    pub fn used_today(&self) -> u32 {
        self.today.lock().expect("not poisoned").1
    }

    /// The time between two requests (zero without a per-second limit).
    pub fn spacing(&self) -> std::time::Duration {
        match self.quota.per_second {
            0 => std::time::Duration::ZERO,
            n => std::time::Duration::from_secs(1) / n,
        }
    }
}

/// One [`Limiter`] per endpoint, made when first used: the quota given for the media API,
/// with each endpoint family's own multiple of its per-second rate (the bitable calls
/// allow four times the media API's).
pub(crate) struct Limiters {
    quota: Quota,
    by_endpoint: Mutex<HashMap<Endpoint, Arc<Limiter>>>,
}

impl Limiters {
    pub fn new(quota: Quota) -> Self {
        Self {
            quota,
            by_endpoint: Mutex::new(HashMap::new()),
        }
    }

    /// The limiter of `endpoint`.
    pub fn of(&self, endpoint: Endpoint) -> Arc<Limiter> {
        let mut map = self.by_endpoint.lock().expect("not poisoned");
        map.entry(endpoint)
            .or_insert_with(|| {
                let times = match endpoint.spec().limit {
                    Limit::PerApp { times, .. } => times.max(1),
                    Limit::None => 1,
                };
                Arc::new(Limiter::new(Quota {
                    per_second: self.quota.per_second.saturating_mul(times),
                    per_day: self.quota.per_day,
                }))
            })
            .clone()
    }

    /// Requests counted today, all endpoints together.
    pub fn used_today(&self) -> u32 {
        let map = self.by_endpoint.lock().expect("not poisoned");
        map.values().map(|l| l.used_today()).sum()
    }
}
