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

/// A request as it is logged, borrowed from the request that ends: once the log is
/// full, [`RequestLog::push`] copies it into the strings of the entry it replaces, so
/// logging allocates nothing and frees nothing. (Moving owned strings in and dropping
/// the evicted entry's was a twentieth of a cached 4 KiB download's CPU under `perf`,
/// most of it in `free`.)
#[derive(Debug, Clone, Copy)]
pub struct Logged<'a> {
    pub time_ms: i64,
    pub method: &'a Method,
    pub path: &'a str,
    pub endpoint: &'static str,
    pub app_id: Option<&'a str>,
    pub file_token: Option<&'a str>,
    pub status: u16,
    pub code: i64,
    pub bytes: u64,
    pub duration_ms: f64,
    pub log_id: LogId,
}

impl LoggedRequest {
    fn of(r: &Logged<'_>) -> Self {
        Self {
            time_ms: r.time_ms,
            method: r.method.clone(),
            path: r.path.to_owned(),
            endpoint: r.endpoint,
            app_id: r.app_id.map(str::to_owned),
            file_token: r.file_token.map(str::to_owned),
            status: r.status,
            code: r.code,
            bytes: r.bytes,
            duration_ms: r.duration_ms,
            log_id: r.log_id,
        }
    }

    /// Becomes `r`, in the strings it has.
    fn overwrite(&mut self, r: &Logged<'_>) {
        fn copy(to: &mut String, from: &str) {
            to.clear();
            to.push_str(from);
        }
        fn copy_opt(to: &mut Option<String>, from: Option<&str>) {
            match (to.as_mut(), from) {
                (Some(to), Some(from)) => copy(to, from),
                (_, from) => *to = from.map(str::to_owned),
            }
        }
        self.time_ms = r.time_ms;
        if self.method != *r.method {
            self.method = r.method.clone();
        }
        copy(&mut self.path, r.path);
        self.endpoint = r.endpoint;
        copy_opt(&mut self.app_id, r.app_id);
        copy_opt(&mut self.file_token, r.file_token);
        self.status = r.status;
        self.code = r.code;
        self.bytes = r.bytes;
        self.duration_ms = r.duration_ms;
        self.log_id = r.log_id;
    }
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
    pub fn push(&self, entry: Logged<'_>, at: Instant) {
        let mut e = self.entries.mine();
        let kept = if e.len() == CAPACITY {
            e.pop_front().map(|(_, mut oldest)| {
                oldest.overwrite(&entry);
                oldest
            })
        } else {
            None
        };
        e.push_back((at, kept.unwrap_or_else(|| LoggedRequest::of(&entry))));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn logged<'a>(i: usize, path: &'a str, app: Option<&'a str>) -> Logged<'a> {
        Logged {
            time_ms: i as i64,
            method: if i.is_multiple_of(2) {
                &Method::GET
            } else {
                &Method::HEAD
            },
            path,
            endpoint: "download",
            app_id: app,
            file_token: i.is_multiple_of(3).then_some("boxA"),
            status: 200,
            code: 0,
            bytes: i as u64,
            duration_ms: 1.0,
            log_id: crate::log_id::new(0),
        }
    }

    /// Once full, each request logged takes the place of the oldest, in its strings:
    /// what is read back is the request logged, whatever the entry held before (longer
    /// or shorter strings, an app or none).
    #[test]
    fn a_full_log_keeps_the_latest_as_they_were() {
        let log = RequestLog::default();
        let long = "/open-apis/drive/v1/medias/".to_owned() + &"x".repeat(300);
        for i in 0..CAPACITY {
            log.push(logged(i, &long, Some("cli_long_app_id")), Instant::now());
        }
        let paths: Vec<String> = (0..CAPACITY + 10).map(|i| format!("/p/{i}")).collect();
        for (i, path) in paths.iter().enumerate() {
            let app = i.is_multiple_of(2).then_some("cli_a");
            log.push(logged(CAPACITY + i, path, app), Instant::now());
        }
        let latest = log.latest(CAPACITY);
        assert_eq!(latest.len(), CAPACITY);
        for (k, e) in latest.iter().enumerate() {
            let i = CAPACITY + paths.len() - 1 - k;
            let j = i - CAPACITY;
            assert_eq!(e.path, paths[j]);
            assert_eq!(e.app_id.as_deref(), j.is_multiple_of(2).then_some("cli_a"));
            assert_eq!(
                e.file_token.as_deref(),
                i.is_multiple_of(3).then_some("boxA")
            );
            assert_eq!(
                e.method,
                if i.is_multiple_of(2) {
                    Method::GET
                } else {
                    Method::HEAD
                }
            );
            assert_eq!((e.time_ms, e.bytes), (i as i64, i as u64));
        }
    }
}
