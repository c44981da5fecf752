//! Request bodies that a handler drops unread are read to their end in the background.
//!
//! An upload refused before its body is read (a bad token, a scope, a rate limit, a fault
//! rule) is answered at once while the client is still sending. If the server then closed
//! the connection with the client's bytes unread, the kernel would reset it, and the reset
//! can destroy the answer before the client reads it: the client sees "connection reset",
//! not the 400 or 429, and retries blindly (RFC 9112 §9.6 warns of exactly this). Reading
//! the rest keeps the answer intact and the connection reusable. The CLI's resume test
//! caught it on CI: a refused block came back as a transport error and was retried.

use super::Request;
use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// At most this much of a dropped body is read (a refused `upload_all` is 20 MiB at most).
const DRAIN_MAX: usize = 64 * 1024 * 1024;
/// And for at most this long.
const DRAIN_TIME: Duration = Duration::from_secs(30);

/// Wraps every request body that has bytes to come. Bodiless requests, every download
/// among them, pass unwrapped: no allocation on that path.
pub fn wrap(req: &mut Request) {
    if http_body::Body::is_end_stream(req.body()) {
        return;
    }
    let body = std::mem::take(req.body_mut());
    *req.body_mut() = Body::new(DrainOnDrop(Some(body)));
}

struct DrainOnDrop(Option<Body>);

impl http_body::Body for DrainOnDrop {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.0.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let Some(body) = self.0.take() else { return };
        if http_body::Body::is_end_stream(&body) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(drain(body));
        }
    }
}

async fn drain(body: Body) {
    use futures_util::StreamExt;
    let mut data = body.into_data_stream();
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    let mut read = 0;
    while read <= DRAIN_MAX {
        match tokio::time::timeout_at(deadline, data.next()).await {
            Ok(Some(Ok(chunk))) => read += chunk.len(),
            _ => return,
        }
    }
}
