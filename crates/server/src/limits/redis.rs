//! The shared counter (`--limits redis://…`): every replica counts in one Redis, one
//! round trip per request (`redis.lua`), on Redis's clock; daily keys expire after the
//! day ends. Replicas then hold 5/s and 10 000/day for the fleet together.

use super::counter::{Hit, Now, RateCounter};
use feishu_media_store::{MetaStore, RateLimit, StoreError, StoreResult};
use redis::aio::ConnectionManager;
use std::time::Duration;

pub struct Shared {
    conn: ConnectionManager,
    script: redis::Script,
    /// The day's offset east of UTC, in ms (Feishu: 8 h).
    offset_ms: i64,
    /// Where the server's keys are (`fm:rl:`), so a reset drops its keys only.
    prefix: String,
}

/// How long a call to Redis may take before the request goes on without it.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(500);

fn redis_error(e: redis::RedisError) -> StoreError {
    StoreError::Backend(format!("redis: {e}"))
}

impl Shared {
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

impl RateCounter for Shared {
    async fn hit(
        &self,
        key: &str,
        limit: RateLimit,
        _: Now,
        _: &dyn MetaStore,
    ) -> StoreResult<Hit> {
        let mut conn = self.conn.clone();
        // One hash tag per key, so both of its keys live in one slot.
        let (kind, value): (i64, i64) = self
            .script
            .key(format!("{}{{{key}}}:tat", self.prefix))
            .key(format!("{}{{{key}}}:day:", self.prefix))
            .arg(limit.per_second.max(1))
            .arg(limit.per_day)
            .arg(self.offset_ms)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_error)?;
        let value = u64::try_from(value).unwrap_or(1);
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
