//! The outermost layer: a log id in, `X-Tt-Logid` out, one log line per request, its
//! metrics and its entry in the request log; and the body cut or slowed down as a fault
//! rule asked.

use super::{Request, RequestContext, Response};
use crate::error::FeishuCode;
use crate::log_id::LogId;
use crate::request_log::Logged;
use crate::state::AppState;
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use std::time::Instant;

const LOG_ID_HEADER: HeaderName = HeaderName::from_static("x-tt-logid");

/// What [`start`] took from a request, for [`Observed::finish`].
pub struct Observed {
    started: Instant,
    log_id: LogId,
    endpoint: &'static str,
    method: Method,
    /// The request's URI, kept for its path: a clone shares the bytes it was read into.
    uri: Uri,
}

/// Marks `resp` with `X-Tt-Logid`.
pub fn mark(resp: &mut Response, log_id: LogId) {
    if let Ok(v) = HeaderValue::from_bytes(log_id.as_bytes()) {
        resp.headers_mut().insert(LOG_ID_HEADER, v);
    }
}

/// Gives the request its log id.
pub fn start(state: &AppState, req: &Request, ctx: &RequestContext) -> Observed {
    Observed {
        started: Instant::now(),
        log_id: crate::log_id::new(state.clock.unix_ms()),
        endpoint: ctx.spec().map_or("other", |s| s.name),
        method: req.method().clone(),
        uri: req.uri().clone(),
    }
}

impl Observed {
    pub fn log_id(&self) -> LogId {
        self.log_id
    }

    /// Shapes the answer's body as a fault rule asked, and counts and logs the request
    /// (the answer is marked with its log id by [`mark`], or by the front as it writes).
    pub fn finish(self, state: &AppState, ctx: RequestContext, mut resp: Response) -> Response {
        let Observed {
            started,
            log_id,
            endpoint,
            method,
            uri,
        } = self;
        let code = resp.extensions().get::<FeishuCode>().map_or(0, |c| c.0);
        let bytes = resp
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| http_body::Body::size_hint(resp.body()).exact())
            .unwrap_or(0);
        let shape = (ctx.first_byte_ms, ctx.bandwidth_bytes_per_s);
        let status = resp.status().as_u16();
        let now = Instant::now();
        let took = now - started;
        let entry = Logged {
            time_ms: state.clock.unix_ms() - took.as_millis() as i64,
            method: &method,
            path: uri.path(),
            endpoint,
            app_id: ctx.caller.as_ref().map(|c| c.app_id()),
            file_token: ctx.file_token(),
            status,
            code,
            bytes,
            duration_ms: took.as_secs_f64() * 1000.0,
            log_id,
        };
        if (shape != (None, None) || ctx.cut_after_bytes.is_some())
            && !resp.headers().contains_key(header::CONTENT_LENGTH)
            && let Some(n) = http_body::Body::size_hint(resp.body()).exact()
        {
            // A shaped or cut body no longer states its size: the answer keeps it (a cut
            // answer must still promise the whole length, and then break it).
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
        if shape != (None, None) {
            resp = resp.map(|body| body.shaped(shape.0, shape.1));
        }
        if let Some(limit) = ctx.cut_after_bytes {
            resp = resp.map(|body| body.cut(limit));
        }
        record(state, &entry, took, now);
        resp
    }
}

/// Counts and logs a request that ended at `now`, `took` after it began: its metrics,
/// its log line and its entry in the request log. Every answer passes here once, whether
/// [`Observed::finish`] or the front's plain downloads (`crate::plain`) made it.
pub fn record(state: &AppState, entry: &Logged<'_>, took: std::time::Duration, now: Instant) {
    state
        .metrics
        .request(entry.endpoint, entry.status, entry.bytes, took);
    tracing::info!(
        target: "feishu_media::request",
        method = %entry.method,
        path = %entry.path,
        app = entry.app_id.unwrap_or("-"),
        file_token = entry.file_token.unwrap_or("-"),
        status = entry.status,
        code = entry.code,
        bytes = entry.bytes,
        duration_ms = entry.duration_ms,
        log_id = %entry.log_id,
        "request"
    );
    state.requests.push(*entry, now);
}
