//! The shared counter (`--limits redis://…`): every replica counts in one Redis, one
//! round trip per request (`redis.lua`), on Redis's clock; daily keys expire after the
//! day ends. Replicas then hold 5/s and 10 000/day for the fleet together.
//!
//! **Leases, at high rates only.** A key whose requests arrive at this replica faster
//! than one per [`LEASE_WINDOW`] takes permits in small batches: one round trip grants
//! up to the number of requests it had in the last window (never more than a tenth of
//! the burst), and the replica spends them locally for that window. Redis counts a
//! lease as that many requests arriving at once, so the fleet never admits more than the
//! limit; a lease's unused permits lapse (and count against the day: at most one lease
//! per key and replica). At Feishu's rates (5/s) a lease is always one permit: every
//! request is one round trip, exactly as before. A refusal over the second is kept until
//! the wait Redis named has passed (exact: the window only fills meanwhile), so a client
//! past its limit costs no round trips either.

use super::counter::{Hit, Now, RateCounter};
use feishu_media_store::{MetaStore, RateLimit, StoreError, StoreResult};
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a lease lasts, and the window its size is judged on.
const LEASE_WINDOW: Duration = Duration::from_millis(20);
/// Past this many keys, leases that lapsed are dropped.
const LEASES_MAX: usize = 10_000;

pub struct Shared {
    conn: ConnectionManager,
    script: redis::Script,
    leases: Mutex<HashMap<String, Lease>>,
    /// The day's offset east of UTC, in ms (Feishu: 8 h).
    offset_ms: i64,
    /// Where the server's keys are (`fm:rl:`), so a reset drops its keys only.
    prefix: String,
}

/// Permits of one key held by this replica, and its recent demand.
struct Lease {
    left: u64,
    until: Instant,
    /// Requests since `since` (the start of the current window): the demand a new
    /// lease is sized on, with `last` (the requests of the window before, per window).
    asked: u64,
    since: Instant,
    last: u64,
    /// Refused by Redis until then (over the second): refused here too, without asking.
    /// Exact: the window only fills further meanwhile.
    refused_until: Option<Instant>,
}

/// How long a call to Redis may take before the request goes on without it.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(500);

fn redis_error(e: redis::RedisError) -> StoreError {
    StoreError::Backend(format!("redis: {e}"))
}

impl Shared {
    /// Requests counted for `key` on `day` (days in the limits' time zone).
    pub async fn day_count(&self, key: &str, day: i64) -> StoreResult<u64> {
        let mut conn = self.conn.clone();
        let day_key = format!("{}{{{key}}}:day:{day}", self.prefix);
        let get = async move {
            let n: Option<u64> = redis::cmd("GET")
                .arg(day_key)
                .query_async(&mut conn)
                .await?;
            Ok::<u64, redis::RedisError>(n.unwrap_or_default())
        };
        tokio::time::timeout(ANSWER_TIMEOUT, get)
            .await
            .map_err(|_| StoreError::Unavailable("redis did not answer".into()))?
            .map_err(redis_error)
    }

    /// Connects to `url` and checks that Redis answers. The error names the host and
    /// port only (a URL may hold a password).
    pub async fn connect(url: &str, day_offset_hours: i64) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("not a Redis URL: {e}"))?;
        let where_ = client.get_connection_info().addr().to_string();
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(ANSWER_TIMEOUT));
        let mut conn = tokio::time::timeout(
            Duration::from_secs(3),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| format!("{where_} did not answer within 3 s"))?
        .map_err(|e| format!("cannot reach {where_}: {}", e))?;
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("{where_} does not answer PING: {}", e))?;
        if pong != "PONG" {
            return Err(format!("{where_} answered PING with {pong:?}"));
        }
        Ok(Self {
            conn,
            script: redis::Script::new(include_str!("redis.lua")),
            leases: Mutex::new(HashMap::new()),
            offset_ms: day_offset_hours * 3600 * 1000,
            prefix: "fm:rl:".into(),
        })
    }
}

impl Shared {
    /// Whether Redis answers now.
    pub async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .is_ok()
    }
}

/// How many permits to ask for: the requests of the last window (`asked` over `elapsed`,
/// scaled to one [`LEASE_WINDOW`]), at most a tenth of the burst, at least one.
fn lease_size(asked: u64, elapsed: Duration, limit: RateLimit) -> u64 {
    let window = elapsed.max(LEASE_WINDOW).as_secs_f64();
    let per_window = asked as f64 * LEASE_WINDOW.as_secs_f64() / window;
    (per_window.floor() as u64).clamp(1, cap(limit))
}

/// The largest lease: a tenth of the burst (one permit at 5/s).
fn cap(limit: RateLimit) -> u64 {
    (u64::from(limit.per_second) / 10).max(1)
}

impl RateCounter for Shared {
    async fn hit(
        &self,
        key: &str,
        limit: RateLimit,
        _: Now,
        _: &dyn MetaStore,
    ) -> StoreResult<Hit> {
        let now = Instant::now();
        // A permit of this replica's lease, or the size of the lease to ask for.
        let want = {
            let mut leases = self.leases.lock().expect("not poisoned");
            match leases.get_mut(key) {
                Some(Lease {
                    refused_until: Some(until),
                    ..
                }) if now < *until => {
                    let wait = until.duration_since(now).as_millis() as u64;
                    return Ok(Hit::OverSecond {
                        retry_after_ms: wait.max(1),
                    });
                }
                Some(l) if l.left > 0 && now < l.until => {
                    l.left -= 1;
                    l.asked += 1;
                    return Ok(Hit::Allowed);
                }
                Some(l) => {
                    l.asked += 1;
                    lease_size(l.asked, now.duration_since(l.since), limit)
                        .max(l.last.clamp(1, cap(limit)))
                }
                None => 1,
            }
        };
        let mut conn = self.conn.clone();
        // One hash tag per key, so both of its keys live in one slot.
        let (kind, value): (i64, i64) = self
            .script
            .key(format!("{}{{{key}}}:tat", self.prefix))
            .key(format!("{}{{{key}}}:day:", self.prefix))
            .arg(limit.per_second.max(1))
            .arg(limit.per_day)
            .arg(self.offset_ms)
            .arg(want)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_error)?;
        let value = u64::try_from(value).unwrap_or(1);
        if kind == 1 {
            let mut leases = self.leases.lock().expect("not poisoned");
            if let Some(l) = leases.get_mut(key) {
                l.refused_until = Some(now + Duration::from_millis(value));
            }
        }
        if kind == 0 {
            let mut leases = self.leases.lock().expect("not poisoned");
            if leases.len() >= LEASES_MAX {
                leases.retain(|_, l| now < l.until);
            }
            let (asked, since, last) = leases
                .get(key)
                .map_or((1, now, 0), |l| (l.asked, l.since, l.last));
            // A window ends: its demand, per window, sizes the next leases.
            let elapsed = now.duration_since(since);
            let fresh = elapsed >= LEASE_WINDOW;
            leases.insert(
                key.to_owned(),
                Lease {
                    left: value.saturating_sub(1),
                    until: now + LEASE_WINDOW,
                    asked: if fresh { 0 } else { asked },
                    since: if fresh { now } else { since },
                    last: if fresh {
                        lease_size(asked, elapsed, limit)
                    } else {
                        last
                    },
                    refused_until: None,
                },
            );
        }
        Ok(match kind {
            0 => Hit::Allowed,
            1 => Hit::OverSecond {
                retry_after_ms: value,
            },
            _ => Hit::OverDay {
                retry_after_secs: value,
            },
        })
    }

    async fn clear(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.prefix))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(redis_error)?;
            if !keys.is_empty() {
                let _: () = redis::cmd("DEL")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await
                    .map_err(redis_error)?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}
