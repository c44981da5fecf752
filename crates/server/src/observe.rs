//! Every request gets a log id, sent back as `X-Tt-Logid`, written into error envelopes,
//! and named in the one structured log line the request leaves.

use crate::metrics::endpoint_of;
use crate::request_log::LoggedRequest;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, Mutex};
use std::time::Instant;

tokio::task_local! {
    /// The current request's log id; handlers and error rendering run inside its scope.
    static LOG_ID: String;
}

/// The log id of the request being served (a fresh one outside any request, so an
/// error rendered in a unit test still carries an id).
pub fn current_log_id() -> String {
    LOG_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| new_log_id())
}

/// Feishu's log ids start with the UTC time (`yyyymmddHHMMSS`) and go on with random
/// hex; ours do the same, so people can read off when a request was made.
pub fn new_log_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}{mo:02}{d:02}{:02}{:02}{:02}{}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        hex::encode_upper(rand::random::<[u8; 8]>())
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The Feishu code of an answer, left by [`crate::ApiError`] for the log line.
#[derive(Debug, Clone, Copy)]
pub struct FeishuCode(pub i64);

/// What handlers learn about a request that the log line reports (who called, which
/// media). Shared through the request's extensions.
#[derive(Debug, Default)]
pub struct RequestNotes {
    pub app_id: Option<String>,
    pub file_token: Option<String>,
    /// Set by a fault rule: close the connection after this many body bytes.
    pub cut_after_bytes: Option<u64>,
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

/// The outermost layer: log id in, `X-Tt-Logid` out, one log line per request.
pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let log_id = new_log_id();
    let slot = NotesSlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();

    let mut resp = LOG_ID.scope(log_id.clone(), next.run(req)).await;

    if let Ok(v) = HeaderValue::from_str(&log_id) {
        resp.headers_mut().insert("x-tt-logid", v);
    }
    let code = resp.extensions().get::<FeishuCode>().map_or(0, |c| c.0);
    let bytes = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| http_body::Body::size_hint(resp.body()).exact())
        .unwrap_or(0);
    let notes = slot
        .lock()
        .map(|n| (n.app_id.clone(), n.file_token.clone(), n.cut_after_bytes))
        .unwrap_or_default();
    let status = resp.status().as_u16();
    let took = started.elapsed();
    let endpoint = endpoint_of(&path);
    state.metrics.request(endpoint, status, bytes, took);
    state.requests.push(LoggedRequest {
        time_ms: state.clock.unix_ms() - took.as_millis() as i64,
        method: method.to_string(),
        path: path.clone(),
        endpoint: endpoint.to_owned(),
        app_id: notes.0.clone(),
        file_token: notes.1.clone(),
        status,
        code,
        bytes,
        duration_ms: took.as_secs_f64() * 1000.0,
        log_id: log_id.clone(),
    });
    if let Some(limit) = notes.2 {
        resp = cut_body(resp, limit);
    }
    tracing::info!(
        target: "feishu_media::request",
        method = %method,
        path = %path,
        app = notes.0.as_deref().unwrap_or("-"),
        file_token = notes.1.as_deref().unwrap_or("-"),
        status,
        code,
        bytes,
        duration_ms = took.as_secs_f64() * 1000.0,
        log_id = %log_id,
        "request"
    );
    resp
}

/// Passes the first `limit` body bytes, then fails the body so the connection is closed
/// mid-stream, as a flaky network would (the `Content-Length` promised more).
fn cut_body(resp: Response, limit: u64) -> Response {
    use futures_util::StreamExt;
    let (mut parts, body) = resp.into_parts();
    // The body below replaces the file: the front must not send the file instead.
    parts.extensions.remove::<crate::front::FileBody>();
    let allowed = body.into_data_stream().scan(limit, |left, chunk| {
        let out = match chunk {
            _ if *left == 0 => None,
            Err(e) => Some(Err(std::io::Error::other(e))),
            Ok(chunk) => {
                let keep = chunk.slice(..chunk.len().min(*left as usize));
                *left -= keep.len() as u64;
                Some(Ok(keep))
            }
        };
        std::future::ready(out)
    });
    // Then the break: after a pause, so what was allowed is on the wire first (a body
    // that failed at once could take the unsent head and bytes down with it).
    let tail = futures_util::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Err(std::io::Error::other("cut by a fault rule"))
    });
    Response::from_parts(parts, axum::body::Body::from_stream(allowed.chain(tail)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn log_ids_are_distinct_and_start_with_the_date() {
        let (a, b) = (new_log_id(), new_log_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 14 + 16);
        assert!(a.starts_with("20"));
    }
}
