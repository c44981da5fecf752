//! What Feishu's gateway does by itself: the plain-text 404 of unknown paths and
//! methods, refusals of requests it cannot take, and query parameters read the way it
//! reads them.

use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;

/// Feishu's gateway answers unknown paths and methods with Go's plain-text 404.
pub fn not_found() -> axum::response::Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found",
    )
        .into_response()
}

/// The first value of query parameter `name`, decoded (`+` as space, `%XX`, lossy UTF-8).
pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A request the connection front refuses before it is a request (its head too long):
/// it still goes through the app, so the answer has a log id, the wire envelope, a log
/// line and its metrics, like every other answer.
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    pub status: StatusCode,
    pub why: &'static str,
}
