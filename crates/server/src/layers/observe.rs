//! The outermost layer: a log id in, `X-Tt-Logid` out, one log line per request, its
//! metrics and its entry in the request log; and the body cut or slowed down as a fault
//! rule asked.

use super::{Matched, Request, Response};
use crate::error::FeishuCode;
use crate::request_log::LoggedRequest;
use crate::state::AppState;
use axum::http::{HeaderName, HeaderValue, Method, header};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the layers and handlers learn about a request that its log line reports (who
/// called, which media). Shared through the request's extensions.
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

pub type NotesSlot = Arc<Mutex<RequestNotes>>;

/// Records a note if the request carries a slot (router tests without the layer do not).
pub fn note(extensions: &axum::http::Extensions, f: impl FnOnce(&mut RequestNotes)) {
    if let Some(slot) = extensions.get::<NotesSlot>()
        && let Ok(mut notes) = slot.lock()
    {
        f(&mut notes);
    }
}

/// The notes so far.
pub fn noted<T>(
    extensions: &axum::http::Extensions,
    f: impl FnOnce(&RequestNotes) -> T,
) -> Option<T> {
    let slot = extensions.get::<NotesSlot>()?;
    slot.lock().ok().map(|n| f(&n))
}

const LOG_ID_HEADER: HeaderName = HeaderName::from_static("x-tt-logid");

/// What [`start`] took from a request, for [`Observed::finish`].
pub struct Observed {
    started: Instant,
    log_id: String,
    slot: NotesSlot,
    endpoint: &'static str,
    method: Method,
    path: String,
}

/// Gives the request its log id and its notes slot.
pub fn start(state: &AppState, req: &mut Request) -> Observed {
    let started = Instant::now();
    let log_id = crate::log_id::new(state.clock.unix_ms());
    let slot = NotesSlot::default();
    let endpoint = Matched::of(req).map_or("other", |m| m.spec().name);
    if let Some(token) = Matched::of(req).and_then(|m| m.param.clone()) {
        slot.lock().expect("new").file_token = Some(token);
    }
    req.extensions_mut().insert(slot.clone());
    Observed {
        started,
        log_id,
        slot,
        endpoint,
        method: req.method().clone(),
        path: req.uri().path().to_owned(),
    }
}

impl Observed {
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// Marks the answer with the log id, shapes its body as a fault rule asked, and
    /// counts and logs the request.
    pub fn finish(self, state: &AppState, mut resp: Response) -> Response {
        let Observed {
            started,
            log_id,
            slot,
            endpoint,
            method,
            path,
        } = self;
        if let Ok(v) = HeaderValue::from_str(&log_id) {
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
        // Taken, not cloned: nothing reads the notes after this layer.
        let (notes, shape) = slot
            .lock()
            .map(|mut n| {
                (
                    (n.app_id.take(), n.file_token.take(), n.cut_after_bytes),
                    (n.first_byte_ms, n.bandwidth_bytes_per_s),
                )
            })
            .unwrap_or_default();
        let status = resp.status().as_u16();
        let took = started.elapsed();
        state.metrics.request(endpoint, status, bytes, took);
        let entry = LoggedRequest {
            time_ms: state.clock.unix_ms() - took.as_millis() as i64,
            method: method.as_str().to_owned(),
            path,
            endpoint,
            app_id: notes.0,
            file_token: notes.1,
            status,
            code,
            bytes,
            duration_ms: took.as_secs_f64() * 1000.0,
            log_id,
        };
        if shape != (None, None) {
            resp = resp.map(|body| body.shaped(shape.0, shape.1));
        }
        if let Some(limit) = notes.2 {
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
