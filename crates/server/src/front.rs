//! The HTTP/1.1 front door of every connection.
//!
//! Downloads (GET or HEAD, HTTP/1.1, no request body, on the two download paths) are
//! answered here, so that a body that is a blob file goes out with `sendfile(2)`: the
//! bytes move from the page cache to the socket without passing through user space.
//! Measured before this existed (bench C, `perf record -e cpu-clock`): a third of the
//! server's CPU went to copying each 300 KB body into the socket, and it served 0.74× of
//! nginx's (sendfile on) requests per second.
//!
//! A plain download (the usual GET: see [`crate::plain`]) is answered from the head's
//! bytes without `http`'s types; one that is not a 200 or a one-range 206 is declined, and
//! its head is read again into `http`'s types and answered through the app like the rest.
//!
//! Any other request (uploads, tokens, admin, a head this code does not take) hands the
//! connection, with every byte read from it so far, to hyper for the rest of its life.
//! So this is not a second HTTP server: it only parses bodiless request heads (httparse)
//! and writes response heads the way hyper does (Title-Case names, `Date`,
//! `Content-Length` or chunked, `Connection: close` when closing).

use crate::app::App;
use crate::body::ServedBody;
use crate::gateway::Refusal;
use crate::head_lines::{http_date_now, put_header, put_line, put_named, says_close};
use crate::layers::Matched;
use crate::log_id::LogId;
use crate::plain::{self, Answered, PlainGet};
use axum::body::Body;
use axum::http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, header,
};
use bytes::{Buf, Bytes, BytesMut};
use feishu_media_proto::decimal::Decimal;
use feishu_media_proto::endpoint::Endpoint;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// The longest request head taken (431 past it), and the longest request line (414).
const HEAD_MAX: usize = 16 * 1024;
const REQUEST_LINE_MAX: usize = 8 * 1024;
const MAX_HEADERS: usize = 64;
/// Bodies up to this size go out in the same write as the head.
const COALESCE_MAX: usize = crate::send::COALESCE_MAX;

/// How long a connection may take to send its requests.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For each request head, counted once (not per read).
    pub head: Duration,
    /// Between two pieces of a request body.
    pub body_idle: Duration,
}

/// Serves one connection until the client closes it, an error ends it, or `stop` turns
/// true (a request in progress is answered first).
pub async fn serve_connection(
    mut stream: TcpStream,
    app: App,
    http: hyper::server::conn::http1::Builder,
    timeouts: Timeouts,
    stop: watch::Receiver<bool>,
) {
    // Empty between requests: an idle connection holds no buffer (see `read_more`).
    let mut buf = BytesMut::new();
    // One wait for the stop signal and one timer for the whole connection, not one of
    // each per head: registering and dropping them for every request took ~1 000
    // instructions of a cached 4 KiB GET (callgrind) and two locks shared with every
    // other connection. The timer is re-armed lazily: when it fires before the current
    // head's deadline (set for an earlier head), it is moved to that deadline then.
    let mut stop_wait = stop.clone();
    let stopping = stopped(&mut stop_wait);
    tokio::pin!(stopping);
    let timer = tokio::time::sleep(timeouts.head);
    tokio::pin!(timer);
    loop {
        // One deadline for the whole head, however its bytes trickle in.
        let deadline = tokio::time::Instant::now() + timeouts.head;
        let head = loop {
            // Frozen, so that the head's values are slices of what was read, not copies.
            let bytes = std::mem::take(&mut buf).freeze();
            let parsed = parse_head(&bytes);
            let head_len = match &parsed {
                Parsed::Complete(head) => head.len,
                Parsed::Plain(plain) => plain.len,
                Parsed::Partial => bytes.len(),
                // Hyper answers what this front cannot parse.
                Parsed::NotOurs => {
                    buf = into_mut(bytes);
                    break None;
                }
            };
            if request_line_len(&bytes[..head_len]) > REQUEST_LINE_MAX {
                let why = "the request line is longer than 8 KiB";
                return Box::pin(refuse(stream, app, StatusCode::URI_TOO_LONG, why)).await;
            }
            if head_len > HEAD_MAX {
                let why = "the request head is longer than 16 KiB";
                return Box::pin(refuse(
                    stream,
                    app,
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    why,
                ))
                .await;
            }
            if let Parsed::Plain(plain) = parsed {
                if bytes.len() > plain.len {
                    buf = BytesMut::from(&bytes[plain.len..]);
                }
                break Some(Taken::Plain(plain));
            }
            if let Parsed::Complete(head) = parsed {
                let Some(matched) = head.ours() else {
                    // Hyper reads this head again, from the start.
                    drop(head);
                    buf = into_mut(bytes);
                    break None;
                };
                // What follows the head (a pipelined request) is read on from a copy:
                // the head keeps the buffer it was read into until it is answered.
                if bytes.len() > head.len {
                    buf = BytesMut::from(&bytes[head.len..]);
                }
                break Some(Taken::Head(head, matched));
            }
            buf = into_mut(bytes);
            let read = tokio::select! {
                biased;
                read = read_more(&mut stream, &mut buf) => read,
                () = &mut timer => {
                    if tokio::time::Instant::now() >= deadline {
                        return; // too slow to send a head
                    }
                    timer.as_mut().reset(deadline);
                    continue;
                }
                () = &mut stopping => return,
            };
            match read {
                Ok(n) if n > 0 => {}
                _ => return, // closed or failed
            }
        };
        let Some(taken) = head else {
            let io = TokioIo::new(Prefixed {
                prefix: buf.freeze(),
                stream,
            });
            let app = tower::ServiceBuilder::new()
                .layer(RequestBodyTimeoutLayer::new(timeouts.body_idle))
                .service(app);
            // Boxed: only connections handed over pay for hyper's connection state.
            let mut conn = Box::pin(http.serve_connection(io, TowerToHyperService::new(app)));
            let ended = tokio::select! {
                ended = conn.as_mut() => ended,
                () = &mut stopping => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            return;
        };
        let (head, matched) = match taken {
            Taken::Head(head, matched) => (head, matched),
            Taken::Plain(plain) => {
                let close = plain.close || *stop.borrow();
                // Boxed, as the general answer below.
                match Box::pin(plain::answer(&mut stream, &app, plain, close)).await {
                    Ok(Answered::Yes) if close => {
                        let _ = stream.shutdown().await;
                        return;
                    }
                    Ok(Answered::Yes) => continue,
                    Ok(Answered::Declined(plain)) => match general(&plain) {
                        Some(taken) => taken,
                        None => return,
                    },
                    Err(e) => {
                        tracing::debug!(error = %e, "connection ended while answering");
                        return;
                    }
                }
            }
        };
        let close = head.close || *stop.borrow();
        // Boxed: the answer's state lives only while it is made, not in every idle
        // connection's task (1.9 KiB of it when it was inline).
        if let Err(e) = Box::pin(answer(&mut stream, &app, *head, matched, close)).await {
            tracing::debug!(error = %e, "connection ended while answering");
            return;
        }
        if close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// A complete request head this front answers: a plain download (see [`plain`]), or any
/// other through the app.
enum Taken {
    Plain(PlainGet),
    Head(Box<Head>, Matched),
}

/// A declined plain download's head, read again for the general way (the same bytes, so
/// always a head this front takes; `None` would be a bug, and ends the connection).
fn general(plain: &PlainGet) -> Option<(Box<Head>, Matched)> {
    match parse_head_as(plain.head_bytes(), false) {
        Parsed::Complete(head) => {
            let matched = head.ours()?;
            Some((head, matched))
        }
        _ => None,
    }
}

/// Answers `plain` the general way, as a declined plain download is (for tests that
/// compare the two ways).
#[cfg(test)]
pub(crate) async fn answer_generally(
    stream: &mut TcpStream,
    app: &App,
    plain: &PlainGet,
    close: bool,
) -> io::Result<()> {
    let (head, matched) = general(plain).expect("a plain head is a head");
    answer(stream, app, *head, matched, close).await
}

/// Answers one request head this front takes, through the app.
async fn answer(
    stream: &mut TcpStream,
    app: &App,
    head: Head,
    matched: Matched,
    close: bool,
) -> io::Result<()> {
    let is_head = head.method == Method::HEAD;
    let (resp, log_id) = app
        .handle_unmarked(head.into_request(), Some(matched))
        .await;
    write_response(stream, resp, Some(log_id), is_head, close).await
}

/// Reads what has come into `buf`. Between requests `buf` is empty, and the connection
/// then holds no buffer at all while it waits: it takes one (1 KiB, doubled as a long
/// head needs) once bytes are there to read. With an 8 KiB buffer kept, an idle
/// keep-alive connection cost ~10 KiB (bench Lmem); nginx frees its buffers the same way.
async fn read_more(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    if buf.is_empty() {
        *buf = BytesMut::new();
        stream.readable().await?;
    }
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(1024);
    }
    stream.read_buf(buf).await
}

/// Back to a buffer to read more into: without a copy while nothing else holds a slice
/// of it (a head that was not complete or not ours gave none out).
fn into_mut(bytes: Bytes) -> BytesMut {
    bytes
        .try_into_mut()
        .unwrap_or_else(|shared| BytesMut::from(&shared[..]))
}

/// The head parser and the front's decision on it, for the fuzz target.
pub(crate) fn fuzz_head(bytes: &[u8]) {
    let _ = request_line_len(bytes);
    match parse_head(&Bytes::copy_from_slice(bytes)) {
        Parsed::Complete(head) => {
            assert!(head.len <= bytes.len());
            if head.ours().is_some() {
                let _ = head.into_request();
            }
        }
        // A plain download is a download the general way takes too, if declined.
        Parsed::Plain(plain) => {
            assert!(plain.len <= bytes.len());
            let (head, matched) = general(&plain).expect("a plain head is a head");
            assert_eq!(head.len, plain.len);
            assert_eq!(matched.endpoint, Endpoint::Download);
        }
        _ => {}
    }
}

/// The length of the request line so far (all of `buf` while no line end has come).
fn request_line_len(buf: &[u8]) -> usize {
    buf.windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(buf.len())
}

/// Answers a head this front will not take with the gateway's refusal, through the app
/// (so it has a log id, the envelope, a log line), and closes the connection.
async fn refuse(mut stream: TcpStream, app: App, status: StatusCode, why: &'static str) {
    let mut req = Request::new(Body::empty());
    req.extensions_mut().insert(Refusal { status, why });
    let resp = app.handle(req, None).await;
    if write_response(&mut stream, resp, None, false, true)
        .await
        .is_err()
    {
        return;
    }
    // Closing with the client's bytes unread would reset the connection and could take
    // the answer with it (RFC 9112 §9.6): say we are done, then read what is still
    // coming, briefly.
    let _ = stream.shutdown().await;
    let mut sink = vec![0u8; 16 * 1024];
    let drain = async {
        let mut left: usize = 1024 * 1024;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(n) if n > 0 => left = left.saturating_sub(n),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// Resolves once `stop` turns true (never, if its sender is gone without saying so).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

struct Head {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    /// Bytes of the head, up to and including the empty line.
    len: usize,
    /// HTTP/1.1 and bodiless: the other conditions of [`Head::ours`].
    simple: bool,
    close: bool,
}

enum Parsed {
    /// A plain download (see [`plain`]), left in the bytes it was read into.
    Plain(PlainGet),
    Complete(Box<Head>),
    Partial,
    /// Not a head this front can represent (bad syntax, a header `http` refuses, too
    /// many headers): hyper answers it.
    NotOurs,
}

/// Parses the head at the start of `buf`; its URI and header values are slices of `buf`.
fn parse_head(buf: &Bytes) -> Parsed {
    parse_head_as(buf, true)
}

/// [`parse_head`]; `plain`: a plain download is told apart (else it is a `Head` too).
fn parse_head_as(buf: &Bytes, plain: bool) -> Parsed {
    // Left uninitialized (httparse writes those it fills), not 2 KiB of empty slots
    // written before every parse.
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::NotOurs,
    };
    if plain && let Some(plain) = PlainGet::of(&req, buf, len) {
        return Parsed::Plain(plain);
    }
    let (Some(method), Some(path), Some(version)) = (req.method, req.path, req.version) else {
        return Parsed::NotOurs;
    };
    let (Ok(method), Ok(uri)) = (
        Method::from_bytes(method.as_bytes()),
        Uri::from_maybe_shared(buf.slice_ref(path.as_bytes())),
    ) else {
        return Parsed::NotOurs;
    };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    let mut simple = version == 1;
    let mut close = false;
    for h in req.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_maybe_shared(buf.slice_ref(h.value)),
        ) else {
            return Parsed::NotOurs;
        };
        if name == header::CONTENT_LENGTH {
            simple &= h.value == b"0";
        } else if name == header::TRANSFER_ENCODING
            || name == header::UPGRADE
            || name == header::EXPECT
        {
            simple = false;
        } else if name == header::CONNECTION {
            close |= says_close(h.value);
        }
        headers.append(name, value);
    }
    Parsed::Complete(Box::new(Head {
        method,
        uri,
        headers,
        len,
        simple,
        close,
    }))
}

impl Head {
    /// The endpoint of a head this front answers: a bodiless HTTP/1.1 GET or HEAD of an
    /// endpoint whose row says the front may answer it. The match travels on with the
    /// request, so nothing matches it again.
    fn ours(&self) -> Option<Matched> {
        if !self.simple || !(self.method == Method::GET || self.method == Method::HEAD) {
            return None;
        }
        let m = Endpoint::find(self.method.as_str(), self.uri.path())?;
        m.endpoint.spec().front.then(|| Matched::new(m))
    }

    fn into_request(self) -> Request<Body> {
        let mut req = Request::new(Body::empty());
        *req.method_mut() = self.method;
        *req.uri_mut() = self.uri;
        *req.headers_mut() = self.headers;
        req
    }
}

/// Writes `resp` as hyper would, its body with `sendfile(2)` when it is a file range;
/// with `X-Tt-Logid: log_id` when the answer is not marked with it already.
async fn write_response(
    stream: &mut TcpStream,
    resp: Response<ServedBody>,
    log_id: Option<LogId>,
    is_head: bool,
    close: bool,
) -> io::Result<()> {
    let (parts, body) = resp.into_parts();
    let status = parts.status;
    let bodiless = is_head
        || status == axum::http::StatusCode::NOT_MODIFIED
        || status == axum::http::StatusCode::NO_CONTENT
        || status.is_informational();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let exact = http_body::Body::size_hint(&body).exact();
    let length = declared.or(exact);
    let chunked = !bodiless && length.is_none();

    // Room for the head and, when it goes in the same write, a small streamed body.
    let inline = exact.filter(|n| {
        *n <= COALESCE_MAX as u64 && matches!(body, ServedBody::Body(_) | ServedBody::Paced(_))
    });
    let mut out = Vec::with_capacity(640 + inline.unwrap_or(0) as usize);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::CONNECTION || name == header::TRANSFER_ENCODING {
            continue; // this writer decides those
        }
        put_named(&mut out, name, value.as_bytes());
    }
    if let Some(id) = log_id {
        put_line(&mut out, "X-Tt-Logid", id.as_bytes());
    }
    if declared.is_none()
        && let Some(n) = exact
        && !(status == axum::http::StatusCode::NOT_MODIFIED
            || status == axum::http::StatusCode::NO_CONTENT)
    {
        // Written into the head itself: no string of its own.
        put_line(&mut out, "Content-Length", Decimal::of(n).as_bytes());
    }
    if !parts.headers.contains_key(header::DATE) {
        put_header(&mut out, "date", &http_date_now());
    }
    if chunked {
        put_header(&mut out, "transfer-encoding", b"chunked");
    }
    if close {
        put_header(&mut out, "connection", b"close");
    }
    out.extend_from_slice(b"\r\n");

    if bodiless {
        return stream.write_all(&out).await;
    }
    crate::send::send_with_head(stream, out, body, length, chunked).await
}

/// The connection handed to hyper: first the bytes already read from it, then the rest.
struct Prefixed {
    prefix: Bytes,
    stream: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.is_empty() {
            return Pin::new(&mut self.stream).poll_read(cx, buf);
        }
        let n = self.prefix.len().min(buf.remaining());
        buf.put_slice(&self.prefix[..n]);
        self.prefix.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Head {
        match parse_head(&Bytes::copy_from_slice(raw.as_bytes())) {
            Parsed::Complete(h) => *h,
            _ => panic!("not complete: {raw:?}"),
        }
    }

    #[test]
    fn takes_only_bodiless_http11_downloads() {
        let dl = "/open-apis/drive/v1/medias/boxA/download";
        assert!(
            head(&format!(
                "GET {dl}?extra=%7B%7D HTTP/1.1\r\nHost: x\r\n\r\n"
            ))
            .ours()
            .is_some()
        );
        assert!(
            head(&format!("HEAD {dl} HTTP/1.1\r\n\r\n"))
                .ours()
                .is_some()
        );
        assert!(
            head("GET /space/api/box/stream/download/authcode/?code=a HTTP/1.1\r\n\r\n")
                .ours()
                .is_some()
        );
        assert!(
            head(&format!("GET {dl} HTTP/1.1\r\nContent-Length: 0\r\n\r\n"))
                .ours()
                .is_some()
        );
        for not in [
            format!("GET {dl} HTTP/1.0\r\n\r\n"),
            format!("POST {dl} HTTP/1.1\r\n\r\n"),
            format!("GET {dl} HTTP/1.1\r\nContent-Length: 3\r\n\r\n"),
            format!("GET {dl} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            format!("GET {dl} HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"),
            format!("GET {dl} HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"),
            "GET /healthz HTTP/1.1\r\n\r\n".to_owned(),
            "GET /open-apis/drive/v1/medias/batch_get_tmp_download_url HTTP/1.1\r\n\r\n".to_owned(),
        ] {
            assert!(head(&not).ours().is_none(), "{not:?}");
        }
    }

    #[test]
    fn heads_in_pieces_and_bad_heads() {
        assert!(matches!(
            parse_head(&Bytes::from_static(b"GET / HTTP/1.1\r\nHost")),
            Parsed::Partial
        ));
        assert!(matches!(
            parse_head(&Bytes::from_static(b"")),
            Parsed::Partial
        ));
        assert!(matches!(
            parse_head(&Bytes::from_static(
                b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"
            )),
            Parsed::NotOurs
        ));
        assert!(matches!(
            parse_head(&Bytes::from_static(b"\x00\x01\x02 / HTTP/1.1\r\n\r\n")),
            Parsed::NotOurs
        ));
        let h = head("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\nGET /next");
        assert!(h.close);
        assert_eq!(
            h.len,
            "GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n".len()
        );
    }
}
