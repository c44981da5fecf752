//! Plain downloads: the request a media service mostly gets, answered by the front from
//! the request head's bytes, without `http`'s request and response types.
//!
//! A plain download is a bodiless HTTP/1.1 `GET /open-apis/drive/v1/medias/{file_token}/download`
//! (no query, no `%` in the token) with one `Authorization`, at most one `Host` and one
//! `Range`, and no other header than `Connection`, `User-Agent`, `Accept`,
//! `Accept-Encoding` and `Accept-Language`. It is answered here when its answer is a 200
//! or a 206 of one range, from an app without rate limits on a server without fault
//! rules. It runs the same checks as the general way, through the same functions (the
//! token table [`auth::caller`], checks 4–7 [`readable_media`], the range
//! [`media::respond_plain`]), and writes the head the general way would, byte for byte
//! but for `Date` and `X-Tt-Logid` (the end-to-end suite sends requests both ways and
//! compares them).
//!
//! Anything else is declined before anything is counted or written, and the general way
//! ([`crate::app::App::handle`]) answers it: every error, every conditional request,
//! every limit and fault has one implementation, there.
//!
//! Why a second way for one request: with `http`'s types, a cached 4 KiB ranged GET
//! spent half of its user-space instructions building and dropping them (the head's
//! `Uri` and `HeaderMap`, the request, the answer's map and its lines), and under bench
//! B the gap to nginx was user time alone (`bench/cpu-vs-nginx.sh`).

use crate::app::App;
use crate::body::ServedBody;
use crate::head_lines::{http_date_now, put_header, put_line, says_close};
use crate::layers::{auth, observe};
use crate::request_log::Logged;
use crate::services::access::readable_media;
use crate::services::media;
use axum::http::Method;
use bytes::Bytes;
use feishu_media_proto::decimal::Decimal;
use feishu_media_proto::endpoint::{Access, Endpoint};
use std::ops::Range;
use std::time::Instant;

/// A plain download's head: the bytes it was read into, and where its parts are.
pub(crate) struct PlainGet {
    buf: Bytes,
    /// Bytes of the head, up to and including the empty line.
    pub len: usize,
    /// The request target, which is the path.
    path: Range<usize>,
    file_token: Range<usize>,
    authorization: Range<usize>,
    range: Option<Range<usize>>,
    /// `Connection: close`.
    pub close: bool,
}

/// The head's headers a plain download may carry besides `Authorization`, `Host`,
/// `Range` and `Connection`: none of them changes a download's answer.
const IGNORED: [&str; 4] = ["user-agent", "accept", "accept-encoding", "accept-language"];

impl PlainGet {
    /// The plain download `req` (parsed from `buf`, `len` bytes of head) is, if it is one.
    pub(crate) fn of(req: &httparse::Request<'_, '_>, buf: &Bytes, len: usize) -> Option<Self> {
        if req.method != Some("GET") || req.version != Some(1) {
            return None;
        }
        let path = req.path?;
        // Origin-form with nothing to decode: the target is the `Uri`'s path.
        let safe = |b: &u8| b.is_ascii_alphanumeric() || b"/-_.".contains(b);
        if !path.starts_with('/') || !path.bytes().all(|b| safe(&b)) {
            return None;
        }
        let m = Endpoint::find("GET", path)?;
        if m.endpoint != Endpoint::Download || m.second.is_some() {
            return None;
        }
        let at = |s: &[u8]| {
            let start = s.as_ptr() as usize - buf.as_ptr() as usize;
            start..start + s.len()
        };
        let mut plain = Self {
            buf: buf.clone(),
            len,
            path: at(path.as_bytes()),
            file_token: at(m.param?.as_bytes()),
            authorization: 0..0,
            range: None,
            close: false,
        };
        let (mut authorizations, mut hosts) = (0, 0);
        for h in req.headers.iter() {
            let name = h.name;
            if name.eq_ignore_ascii_case("authorization") {
                authorizations += 1;
                plain.authorization = at(h.value);
            } else if name.eq_ignore_ascii_case("range") {
                if plain.range.is_some() {
                    return None;
                }
                plain.range = Some(at(h.value));
            } else if name.eq_ignore_ascii_case("host") {
                hosts += 1;
            } else if name.eq_ignore_ascii_case("connection") {
                plain.close |= says_close(h.value);
            } else if !IGNORED.iter().any(|i| name.eq_ignore_ascii_case(i)) {
                return None;
            }
        }
        (authorizations == 1 && hosts <= 1).then_some(plain)
    }

    /// The head, for the general way when this one is declined.
    pub(crate) fn head_bytes(&self) -> &Bytes {
        &self.buf
    }

    fn str(&self, r: &Range<usize>) -> &str {
        // Checked ASCII by `of` (the path) or by `bearer` (the token).
        std::str::from_utf8(&self.buf[r.clone()]).unwrap_or_default()
    }
}

/// What became of a plain download.
pub(crate) enum Answered {
    /// Answered and written.
    Yes,
    /// Not a plain answer: the general way answers it (nothing was counted or written).
    Declined(PlainGet),
}

/// Answers `plain` on `stream`, or declines it.
pub(crate) async fn answer(
    stream: &mut tokio::net::TcpStream,
    app: &App,
    plain: PlainGet,
    close: bool,
) -> std::io::Result<Answered> {
    let state = app.state();
    let started = Instant::now();
    let spec = Endpoint::Download.spec();
    let Access::Token(scopes) = spec.access else {
        return Ok(Answered::Declined(plain));
    };
    if state.faults.armed() {
        return Ok(Answered::Declined(plain));
    }
    let authorization = &plain.buf[plain.authorization.clone()];
    let caller = match auth::caller(state, Some(authorization), Some(scopes)).await {
        Ok(caller) if caller.rate_limit.is_none() => caller,
        _ => return Ok(Answered::Declined(plain)),
    };
    let file_token = plain.str(&plain.file_token);
    let Ok(row) = readable_media(state, &caller, file_token, None).await else {
        return Ok(Answered::Declined(plain));
    };
    let range = plain.range.clone().map(|r| &plain.buf[r]);
    let Some(answer) = media::respond_plain(state, &row, range).await else {
        return Ok(Answered::Declined(plain));
    };

    let log_id = crate::log_id::new(state.clock.unix_ms());
    let mut out = Vec::with_capacity(512);
    let status: u16 = if answer.content_range.is_some() {
        out.extend_from_slice(b"HTTP/1.1 206 Partial Content\r\n");
        206
    } else {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        200
    };
    answer.put_row_lines(&row, &mut out);
    if let Some(content_range) = &answer.content_range {
        put_line(&mut out, "Content-Range", content_range.as_bytes());
    }
    let length = Decimal::of(answer.length);
    if answer.length_stated {
        put_line(&mut out, "Content-Length", length.as_bytes());
    }
    put_line(&mut out, "X-Tt-Logid", log_id.as_bytes());
    if !answer.length_stated {
        put_line(&mut out, "Content-Length", length.as_bytes());
    }
    put_header(&mut out, "date", &http_date_now());
    if close {
        put_header(&mut out, "connection", b"close");
    }
    out.extend_from_slice(b"\r\n");

    let now = Instant::now();
    let took = now - started;
    let entry = Logged {
        time_ms: state.clock.unix_ms() - took.as_millis() as i64,
        method: &Method::GET,
        path: plain.str(&plain.path),
        endpoint: spec.name,
        app_id: Some(caller.app_id()),
        file_token: Some(file_token),
        status,
        code: 0,
        bytes: answer.length,
        duration_ms: took.as_secs_f64() * 1000.0,
        log_id,
    };
    observe::record(state, &entry, took, now);
    let body: ServedBody = answer.body;
    crate::send::send_with_head(stream, out, body, Some(answer.length), false).await?;
    Ok(Answered::Yes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(raw: &str) -> Option<PlainGet> {
        let buf = Bytes::copy_from_slice(raw.as_bytes());
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut req = httparse::Request::new(&mut headers);
        let Ok(httparse::Status::Complete(len)) = req.parse(&buf) else {
            panic!("not a head: {raw:?}");
        };
        PlainGet::of(&req, &buf, len)
    }

    const DL: &str = "/open-apis/drive/v1/medias/boxA/download";

    /// What `answer` does with `raw` on a real loopback connection: its bytes if it
    /// answered, `None` if it declined.
    async fn plain_way(app: &App, raw: &str) -> Option<Vec<u8>> {
        let (mut server, mut client) = connected().await;
        let p = plain(raw).expect("a plain head");
        let close = p.close;
        match answer(&mut server, app, p, close).await.expect("written") {
            Answered::Yes => {}
            Answered::Declined(_) => return None,
        }
        drop(server);
        Some(read_all(&mut client).await)
    }

    /// The general way's bytes for `raw` (the app, then the front's writer).
    async fn general_way(app: &App, raw: &str) -> Vec<u8> {
        let (mut server, mut client) = connected().await;
        let p = plain(raw).expect("a plain head");
        let close = p.close;
        crate::front::answer_generally(&mut server, app, &p, close)
            .await
            .expect("written");
        drop(server);
        read_all(&mut client).await
    }

    async fn connected() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (accepted.unwrap().0, client.unwrap())
    }

    async fn read_all(client: &mut tokio::net::TcpStream) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        out
    }

    /// An answer with its `Date` and its log id (in `X-Tt-Logid` and anywhere after)
    /// blanked: the two parts that differ between any two answers.
    fn masked(answer: &[u8]) -> String {
        let text = String::from_utf8_lossy(answer).into_owned();
        let log_id = text
            .split("\r\n")
            .find_map(|l| l.strip_prefix("X-Tt-Logid: "))
            .unwrap_or_else(|| panic!("no X-Tt-Logid in {text:?}"))
            .to_owned();
        let (head, body) = text.split_once("\r\n\r\n").expect("a whole head");
        let head: Vec<&str> = head
            .split("\r\n")
            .map(|l| {
                if l.starts_with("Date: ") {
                    "Date: …"
                } else {
                    l
                }
            })
            .collect();
        format!("{}\r\n\r\n{body}", head.join("\r\n")).replace(&log_id, "…")
    }

    /// The test world, and a media too large to be kept in memory (a blob file, sent
    /// with `sendfile(2)`, on the embedded store).
    fn world() -> serde_json::Value {
        use base64::Engine;
        let mut world = crate::testing::world();
        let big: Vec<u8> = (0..(3u32 << 19)).map(|i| (i % 251) as u8).collect();
        world["media"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "file_token": "boxBig", "document": "doxA", "parent_type": "docx_file",
                "file_name": "大.bin",
                "content_base64": base64::engine::general_purpose::STANDARD.encode(&big)
            }));
        world
    }

    /// On the in-memory store (its blobs are streams: `Content-Length` is among the
    /// answer's own headers) and on the embedded one (bytes in memory, and files).
    #[tokio::test]
    async fn answers_as_the_general_way_would_or_declines() {
        let memory = crate::testing::state_with(world(), |_| {}).await;
        both_ways(memory).await;
        let dir = tempfile::tempdir().unwrap();
        let files = crate::testing::state_with(world(), |c| {
            c.storage = crate::config::Storage::data_dir(dir.path());
        })
        .await;
        both_ways(files).await;
    }

    async fn both_ways(state: crate::state::AppState) {
        let app = crate::app(state.clone());
        let tenant = crate::testing::tenant_token(&state, "cli_a", "sec-a").await;
        let out = crate::testing::tenant_token(&state, "cli_out", "sec-o").await;
        let get = |token: &str, file: &str, more: &str| {
            format!(
                "GET /open-apis/drive/v1/medias/{file}/download HTTP/1.1\r\nHost: h\r\n\
                 Authorization: Bearer {token}\r\n{more}\r\n"
            )
        };
        let mut taken = vec![
            get("u-good", "boxA", ""),
            get(&tenant, "boxA", ""),
            get(&tenant, "boxA", "Connection: close\r\n"),
            get(
                &tenant,
                "boxA",
                "User-Agent: x\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n",
            ),
        ];
        for range in [
            "bytes=2-3",
            "bytes=-3",
            "bytes=7-",
            "bytes=0-100",
            "bytes=0-0",
        ] {
            taken.push(get(&tenant, "boxA", &format!("Range: {range}\r\n")));
        }
        // Not a valid Range: the whole media, either way.
        taken.push(get(&tenant, "boxA", "Range: pages=1\r\n"));
        taken.push(get(&tenant, "boxBig", ""));
        taken.push(get(&tenant, "boxBig", "Range: bytes=1000-1500999\r\n"));
        for raw in &taken {
            let plain = plain_way(&app, raw)
                .await
                .unwrap_or_else(|| panic!("declined {raw:?}"));
            let general = general_way(&app, raw).await;
            assert_eq!(masked(&plain), masked(&general), "{raw:?}");
            // Each way made its own log id, and logged its request.
            assert_ne!(plain, general, "{raw:?}");
        }
        let logged = state.requests.latest(1000);
        assert_eq!(logged.len(), taken.len() * 2);
        assert!(logged.iter().all(|r| r.status == 200 || r.status == 206));

        // Everything else is declined (and the general way answers it).
        for raw in [
            get(&out, "boxA", ""),                            // an app with rate limits
            get(&tenant, "boxGone", ""),                      // 404, deleted
            get(&tenant, "boxNope", ""),                      // 404
            get(&tenant, "boxBit", ""),                       // bitable `extra` needed
            get("u-noscope", "boxA", ""),                     // scope
            get("t-unknown", "boxA", ""),                     // token
            get(&tenant, "boxA", "Range: bytes=20-\r\n"),     // 416
            get(&tenant, "boxA", "Range: bytes=0-1,4-5\r\n"), // multipart
        ] {
            assert!(plain_way(&app, &raw).await.is_none(), "taken: {raw:?}");
        }
        // Nothing declined was counted or logged.
        assert_eq!(state.requests.latest(1000).len(), taken.len() * 2);

        // A fault rule, however narrow, sends every download the general way.
        state.faults.set(
            crate::faults::parse_rules(
                br#"[{"endpoint": "*", "file_token": "boxZ", "action": {"delay_ms": 1}}]"#,
            )
            .expect("a rule"),
        );
        assert!(plain_way(&app, &taken[1]).await.is_none());
    }

    #[test]
    fn takes_plain_gets_only() {
        let p = plain(&format!(
            "GET {DL} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t-1\r\nRange: bytes=0-1\r\n\
             User-Agent: curl\r\nAccept: */*\r\nConnection: keep-alive, close\r\n\r\n"
        ))
        .expect("plain");
        assert_eq!(p.str(&p.path), DL);
        assert_eq!(p.str(&p.file_token), "boxA");
        assert_eq!(p.str(&p.authorization), "Bearer t-1");
        assert_eq!(p.range.clone().map(|r| &p.buf[r]), Some(&b"bytes=0-1"[..]));
        assert!(p.close);
        assert!(plain(&format!("GET {DL} HTTP/1.1\r\nauthorization: x\r\n\r\n")).is_some());

        let auth = "Authorization: Bearer t-1\r\n";
        for not in [
            format!("GET {DL} HTTP/1.1\r\n\r\n"),
            format!("HEAD {DL} HTTP/1.1\r\n{auth}\r\n"),
            format!("GET {DL} HTTP/1.0\r\n{auth}\r\n"),
            format!("GET {DL}?extra=%7B%7D HTTP/1.1\r\n{auth}\r\n"),
            format!("GET {DL}?x HTTP/1.1\r\n{auth}\r\n"),
            format!("GET /open-apis/drive/v1/medias/box%41/download HTTP/1.1\r\n{auth}\r\n"),
            format!("GET http://x{DL} HTTP/1.1\r\n{auth}\r\n"),
            format!("GET {DL} HTTP/1.1\r\n{auth}{auth}\r\n"),
            format!("GET {DL} HTTP/1.1\r\n{auth}Host: a\r\nHost: b\r\n\r\n"),
            format!("GET {DL} HTTP/1.1\r\n{auth}Range: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n"),
            format!("GET {DL} HTTP/1.1\r\n{auth}If-None-Match: \"x\"\r\n\r\n"),
            format!("GET {DL} HTTP/1.1\r\n{auth}If-Range: \"x\"\r\n\r\n"),
            format!("GET {DL} HTTP/1.1\r\n{auth}Content-Length: 0\r\n\r\n"),
            format!("GET {DL} HTTP/1.1\r\n{auth}X-Anything: 1\r\n\r\n"),
            format!("GET /open-apis/drive/v1/files/boxA/download HTTP/1.1\r\n{auth}\r\n"),
            format!("GET /space/api/box/stream/download/authcode/ HTTP/1.1\r\n{auth}\r\n"),
            format!("GET /healthz HTTP/1.1\r\n{auth}\r\n"),
        ] {
            assert!(plain(&not).is_none(), "{not:?}");
        }
    }
}
