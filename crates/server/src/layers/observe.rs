//! The outermost layer: a log id in, `X-Tt-Logid` out, one log line per request, its
//! metrics and its entry in the request log; and the body cut or slowed down as a fault
//! rule asked.

use super::{Matched, Request, Response};
use crate::error::FeishuCode;
use crate::log_id::LogId;
use crate::request_log::LoggedRequest;
use crate::state::AppState;
use axum::http::{HeaderName, HeaderValue, Method, header};
use std::time::Instant;

/// What the layers learn about a request that its log line reports (who called, which
/// media) and that shapes its answer. Owned by [`crate::app::App::handle`], lent to each
/// check: a shared slot in the request's extensions (an `Arc<Mutex<_>>` and a map entry)
/// cost three allocations and two locks per request.
#[derive(Debug, Default)]
pub struct RequestNotes {
    pub app_id: Option<String>,
    pub file_token: Option<String>,
    /// Set by a fault rule: close the connection after this many body bytes.
    pub cut_after_bytes: Option<u64>,
    /// Set by a fault rule: a wait before the first body byte, and a bandwidth.
    pub first_byte_ms: Option<u64>,
    pub bandwidth_bytes_per_s: Option<u64>,
}

const LOG_ID_HEADER: HeaderName = HeaderName::from_static("x-tt-logid");

/// What [`start`] took from a request, for [`Observed::finish`].
pub struct Observed {
    started: Instant,
    log_id: LogId,
    endpoint: &'static str,
    method: Method,
    path: String,
}

/// Gives the request its log id, and the notes it starts with.
pub fn start(state: &AppState, req: &Request) -> (Observed, RequestNotes) {
    let started = Instant::now();
    let matched = Matched::of(req);
    let notes = RequestNotes {
        file_token: matched.and_then(|m| m.param.clone()),
        ..RequestNotes::default()
    };
    let observed = Observed {
        started,
        log_id: crate::log_id::new(state.clock.unix_ms()),
        endpoint: matched.map_or("other", |m| m.spec().name),
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
    };
    (observed, notes)
}

impl Observed {
    pub fn log_id(&self) -> LogId {
        self.log_id
    }

    /// Marks the answer with the log id, shapes its body as a fault rule asked, and
    /// counts and logs the request.
    pub fn finish(self, state: &AppState, notes: RequestNotes, mut resp: Response) -> Response {
        let Observed {
            started,
            log_id,
            endpoint,
            method,
            path,
        } = self;
        if let Ok(v) = HeaderValue::from_str(log_id.as_str()) {
            resp.headers_mut().insert(LOG_ID_HEADER, v);
        }
        let code = resp.extensions().get::<FeishuCode>().map_or(0, |c| c.0);
        let bytes = resp
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| http_body::Body::size_hint(resp.body()).exact())
            .unwrap_or(0);
        let shape = (notes.first_byte_ms, notes.bandwidth_bytes_per_s);
        let status = resp.status().as_u16();
        let took = started.elapsed();
        state.metrics.request(endpoint, status, bytes, took);
        let entry = LoggedRequest {
            time_ms: state.clock.unix_ms() - took.as_millis() as i64,
            method,
            path,
            endpoint,
            app_id: notes.app_id,
            file_token: notes.file_token,
            status,
            code,
            bytes,
            duration_ms: took.as_secs_f64() * 1000.0,
            log_id,
        };
        if shape != (None, None) {
            resp = resp.map(|body| body.shaped(shape.0, shape.1));
        }
        if let Some(limit) = notes.cut_after_bytes {
            resp = resp.map(|body| body.cut(limit));
        }
        tracing::info!(
            target: "feishu_media::request",
            method = %entry.method,
            path = %entry.path,
            app = entry.app_id.as_deref().unwrap_or("-"),
            file_token = entry.file_token.as_deref().unwrap_or("-"),
            status,
            code,
            bytes,
            duration_ms = entry.duration_ms,
            log_id = %entry.log_id,
            "request"
        );
        state.requests.push(entry);
        resp
    }
}
