//! The latest requests, in memory, for the admin API (`GET /_admin/v1/requests`).

use crate::log_id::LogId;
use crate::sharded::Sharded;
use axum::http::Method;
use serde::Serialize;
use std::collections::VecDeque;
use std::time::Instant;

/// How many requests are kept.
pub const CAPACITY: usize = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    /// Unix milliseconds when the request arrived.
    pub time_ms: i64,
    #[serde(serialize_with = "method_name")]
    pub method: Method,
    pub path: String,
    pub endpoint: &'static str,
    pub app_id: Option<String>,
    pub file_token: Option<String>,
    pub status: u16,
    pub code: i64,
    pub bytes: u64,
    pub duration_ms: f64,
    pub log_id: LogId,
}

fn method_name<S: serde::Serializer>(method: &Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(method.as_str())
}

/// Kept per thread (see [`Sharded`]): each copy holds up to [`CAPACITY`] requests, so
/// the latest [`CAPACITY`] are always there (at most `CAPACITY` per copy in memory), and
/// [`RequestLog::latest`] merges the copies by when each request was logged.
#[derive(Default)]
pub struct RequestLog {
    entries: Sharded<VecDeque<(Instant, LoggedRequest)>>,
}

impl RequestLog {
    /// Logs `entry`, answered at `at`.
    pub fn push(&self, entry: LoggedRequest, at: Instant) {
        let mut e = self.entries.mine();
        if e.len() == CAPACITY {
            e.pop_front();
        }
        e.push_back((at, entry));
    }

    /// The latest `limit` requests, newest first.
    pub fn latest(&self, limit: usize) -> Vec<LoggedRequest> {
        let mut all: Vec<(Instant, LoggedRequest)> = Vec::new();
        for shard in self.entries.each() {
            all.extend(shard.iter().rev().take(limit).cloned());
        }
        all.sort_by_key(|e| std::cmp::Reverse(e.0));
        all.truncate(limit);
        all.into_iter().map(|(_, e)| e).collect()
    }

    pub fn clear(&self) {
        for mut shard in self.entries.each() {
            shard.clear();
        }
    }
}
