//! The latest requests, in memory, for the admin API (`GET /_admin/v1/requests`).

use crate::log_id::LogId;
use axum::http::Method;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;

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

#[derive(Default)]
pub struct RequestLog {
    entries: Mutex<VecDeque<LoggedRequest>>,
}

impl RequestLog {
    pub fn push(&self, entry: LoggedRequest) {
        let mut e = self.entries.lock().expect("not poisoned");
        if e.len() == CAPACITY {
            e.pop_front();
        }
        e.push_back(entry);
    }

    /// The latest `limit` requests, newest first.
    pub fn latest(&self, limit: usize) -> Vec<LoggedRequest> {
        self.entries
            .lock()
            .expect("not poisoned")
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.entries.lock().expect("not poisoned").clear();
    }
}
