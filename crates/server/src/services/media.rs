//! The answer to a permitted download (media downloads and temporary links alike):
//! conditional requests (304), `If-Range`, Range (206, multipart, 416), HEAD, and the
//! body as the blob store holds it (a file range goes out with `sendfile(2)`).

use crate::body::ServedBody;
use crate::error::ApiError;
use crate::head_lines::put_line;
use crate::http_date;
use crate::row_memo::RowMemo;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use bytes::Bytes;
use feishu_media_proto::disposition;
use feishu_media_proto::range::{self, ByteRange, ContentRange, RangeDecision};
use feishu_media_store::{ByteStream, Media};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::UNIX_EPOCH;

/// The validators of one media's current bytes, as the header values they are sent as.
struct Validators {
    /// Strong: the first 128 bits of the SHA-256, so it changes exactly when the bytes do.
    etag: HeaderValue,
    last_modified_secs: u64,
    last_modified: HeaderValue,
}

impl Validators {
    fn of(row: &RowValues<'_>) -> Self {
        Self {
            etag: HeaderValue::from_bytes(row.etag()).unwrap_or(HeaderValue::from_static("\"\"")),
            last_modified_secs: row.last_modified_secs,
            last_modified: HeaderValue::from_bytes(&row.last_modified).expect("ASCII"),
        }
    }

    fn etag(&self) -> &str {
        self.etag.to_str().expect("made from a str")
    }

    /// Whether `If-Match` (strong comparison, RFC 9110 §13.1.1), or else
    /// `If-Unmodified-Since`, fails: the client's copy is not this one (412).
    fn precondition_fails(&self, headers: &HeaderMap) -> bool {
        let mut im = headers.get_all(header::IF_MATCH).iter().peekable();
        if im.peek().is_some() {
            return !im
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|tag| {
                    let tag = tag.trim();
                    tag == "*" || tag == self.etag()
                });
        }
        headers
            .get(header::IF_UNMODIFIED_SINCE)
            .and_then(|v| http_date_secs(v.as_bytes()))
            .is_some_and(|since| self.last_modified_secs > since)
    }

    /// `If-None-Match` (weak comparison, RFC 9110 §13.1.2), else `If-Modified-Since`.
    fn not_modified(&self, headers: &HeaderMap) -> bool {
        let mut inm = headers.get_all(header::IF_NONE_MATCH).iter().peekable();
        if inm.peek().is_some() {
            let ours = self.etag().trim_start_matches("W/");
            return inm
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|tag| {
                    let tag = tag.trim();
                    tag == "*" || tag.trim_start_matches("W/") == ours
                });
        }
        headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| http_date_secs(v.as_bytes()))
            .is_some_and(|since| self.last_modified_secs <= since)
    }

    /// `If-Range` (RFC 9110 §13.1.5): a strong ETag equal to ours, or our exact date.
    fn if_range_holds(&self, value: &HeaderValue) -> bool {
        let Ok(v) = value.to_str() else { return false };
        let v = v.trim();
        if v.starts_with("W/") {
            false
        } else if v.starts_with('"') {
            v == self.etag()
        } else {
            http_date_secs(v.as_bytes()) == Some(self.last_modified_secs)
        }
    }
}

/// What a media's answers say of its row, each value checked as `http` checks a header
/// value (any byte but controls) and written in place: the one rendering that both an
/// answer's map ([`Rendered`]) and a plain answer's lines ([`RowValues::put_lines`]) are
/// made from.
struct RowValues<'a> {
    /// `"…"`: the first 128 bits of the hex digest, quoted (a strong ETag).
    etag: [u8; 34],
    etag_len: usize,
    last_modified_secs: u64,
    last_modified: [u8; http_date::LEN],
    disposition: Vec<u8>,
    content_type: &'a [u8],
}

/// Whether `http` takes these bytes as a header value.
fn valid_value(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| (b >= 32 && b != 127) || b == b'\t')
}

impl<'a> RowValues<'a> {
    fn of(media: &'a Media) -> Self {
        let tag = media.digest.get(..32).unwrap_or(&media.digest).as_bytes();
        let mut etag = [b'"'; 34];
        // (A digest is hex; anything else would make an ETag that is not a `str`.)
        let etag_len = if tag.len() <= 32 && tag.iter().all(u8::is_ascii_graphic) {
            etag[1..=tag.len()].copy_from_slice(tag);
            tag.len() + 2
        } else {
            2
        };
        let last_modified_secs = u64::try_from(media.modified_at_ms / 1000).unwrap_or(0);
        let mut disposition = disposition::attachment(&media.file_name);
        if !valid_value(&disposition) {
            disposition = b"attachment".to_vec();
        }
        let content_type = media.mime_type.as_bytes();
        Self {
            etag,
            etag_len,
            last_modified_secs,
            last_modified: http_date::imf_fixdate(last_modified_secs),
            disposition,
            content_type: if valid_value(content_type) {
                content_type
            } else {
                b"application/octet-stream"
            },
        }
    }

    fn etag(&self) -> &[u8] {
        &self.etag[..self.etag_len]
    }

    fn put_lines(&self, out: &mut Vec<u8>) {
        put_row_lines(
            out,
            self.etag(),
            &self.last_modified,
            &self.disposition,
            self.content_type,
        );
    }
}

/// A row's headers as the lines of a response head, in the order of
/// [`Rendered::headers`] and titled as the front writes that map.
fn put_row_lines(
    out: &mut Vec<u8>,
    etag: &[u8],
    last_modified: &[u8],
    disposition: &[u8],
    content_type: &[u8],
) {
    put_line(out, "Accept-Ranges", b"bytes");
    put_line(out, "Etag", etag);
    put_line(out, "Last-Modified", last_modified);
    // The bytes are the uploader's: a browser must not guess them into HTML.
    put_line(out, "X-Content-Type-Options", b"nosniff");
    put_line(out, "Content-Disposition", disposition);
    put_line(out, "Content-Type", content_type);
}

fn http_date_secs(v: &[u8]) -> Option<u64> {
    let t = httpdate::parse_http_date(std::str::from_utf8(v).ok()?).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// The request headers a download reads, found in one pass over the few a request has:
/// six hashed lookups, most of them for headers that are not there, cost more.
#[derive(Default)]
struct Asked<'a> {
    /// Any of `If-Match`, `If-None-Match`, `If-Modified-Since`, `If-Unmodified-Since`.
    conditional: bool,
    /// The first `Range` and `If-Range`, as `HeaderMap::get` would give them.
    range: Option<&'a HeaderValue>,
    if_range: Option<&'a HeaderValue>,
}

impl<'a> Asked<'a> {
    fn of(headers: &'a HeaderMap) -> Self {
        let mut asked = Self::default();
        for (name, value) in headers {
            if name == header::RANGE {
                asked.range.get_or_insert(value);
            } else if name == header::IF_RANGE {
                asked.if_range.get_or_insert(value);
            } else if name == header::IF_MATCH
                || name == header::IF_NONE_MATCH
                || name == header::IF_MODIFIED_SINCE
                || name == header::IF_UNMODIFIED_SINCE
            {
                asked.conditional = true;
            }
        }
        asked
    }
}

/// What to send for this request, with `Range`, `If-Range` and HEAD taken into account.
fn decide(media: &Media, v: &Validators, method: &Method, asked: &Asked<'_>) -> RangeDecision {
    // HEAD ignores Range: it answers the headers of the whole representation.
    if method == Method::HEAD {
        return RangeDecision::Full;
    }
    let Some(range) = asked.range else {
        return RangeDecision::Full;
    };
    if let Some(if_range) = asked.if_range
        && !v.if_range_holds(if_range)
    {
        return RangeDecision::Full;
    }
    range::resolve(Some(range.as_bytes()), media.size)
}

const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
/// The headers of a media answer (at most 9) and the log id the outermost layer adds.
const ANSWER_HEADERS: usize = 10;

/// The headers of a media's answers that depend on its row alone, rendered once per row
/// (see [`RENDERED`]).
pub struct Rendered {
    v: Validators,
    content_type: HeaderValue,
    disposition: HeaderValue,
    /// Whether an answer was made from this already: the maps below are built for a
    /// row's second answer, not its first. Drawn from 100 000 media (bench B100k) nearly
    /// every answer misses the memo, and building two maps for a row answered once cost
    /// more than the inserts they save.
    answered: AtomicBool,
    maps: OnceLock<Maps>,
    /// The same headers as the wire lines the front writes (for [`respond_plain`]; made
    /// the first time a plain answer asks).
    lines: OnceLock<Box<[u8]>>,
}

/// The headers every answer of one row starts with, in the order they are sent. An
/// answer clones a map: six inserts, each hashing its name and probing, were a fifth of
/// making a cached 4 KiB download's answer (callgrind).
struct Maps {
    whole: HeaderMap,
    /// `whole` and a `Content-Range` to be replaced: a clone holds exactly its entries,
    /// so adding one to a clone of `whole` grew (reallocated) its list on every 206.
    ranged: HeaderMap,
}

impl Rendered {
    fn of(media: &Media) -> Self {
        let row = RowValues::of(media);
        Self {
            v: Validators::of(&row),
            content_type: HeaderValue::from_bytes(row.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            disposition: HeaderValue::from_maybe_shared(Bytes::from(row.disposition))
                .unwrap_or(HeaderValue::from_static("attachment")),
            answered: AtomicBool::new(false),
            maps: OnceLock::new(),
            lines: OnceLock::new(),
        }
    }

    /// [`Rendered::headers`] as the lines of a response head, as the front writes them.
    pub fn lines(&self) -> &[u8] {
        self.lines.get_or_init(|| {
            let mut out = Vec::with_capacity(320);
            put_row_lines(
                &mut out,
                self.v.etag.as_bytes(),
                self.v.last_modified.as_bytes(),
                self.disposition.as_bytes(),
                self.content_type.as_bytes(),
            );
            out.into_boxed_slice()
        })
    }

    /// The row's headers in a new map, with room for the answer's others (so that adding
    /// them neither rehashes nor grows it).
    fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(ANSWER_HEADERS);
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(header::ETAG, self.v.etag.clone());
        h.insert(header::LAST_MODIFIED, self.v.last_modified.clone());
        // The bytes are the uploader's: a browser must not guess them into HTML.
        h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
        h.insert(header::CONTENT_DISPOSITION, self.disposition.clone());
        h.insert(header::CONTENT_TYPE, self.content_type.clone());
        h
    }

    /// The map an answer starts from; `ranged`: with a `Content-Range` to replace.
    fn answer_headers(&self, ranged: bool) -> HeaderMap {
        if !self.answered.swap(true, Ordering::Relaxed) {
            return self.headers();
        }
        let maps = self.maps.get_or_init(|| {
            let whole = self.headers();
            let mut ranged = whole.clone();
            ranged.insert(header::CONTENT_RANGE, HeaderValue::from_static("bytes */0"));
            Maps { whole, ranged }
        });
        if ranged {
            maps.ranged.clone()
        } else {
            maps.whole.clone()
        }
    }
}

/// The rendered headers of recently answered media, by row. Rendering them (the
/// validators, the date, the RFC 6266 name) was a sixth of a cached 4 KiB download's
/// instructions and six of its allocations (bench B, callgrind); now a hit clones five
/// shared values. One per process: a row's address is unique in the process, whichever
/// server's store handed it out. 8 192 slots hold at most that many rows (a few MiB).
static RENDERED: LazyLock<RowMemo<Media, Rendered>> = LazyLock::new(|| RowMemo::new(8192));

/// Builds the whole answer for `media`, whose access was already checked.
pub async fn respond(
    state: &AppState,
    media: &Arc<Media>,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response<ServedBody>, ApiError> {
    let rendered = RENDERED.get_or(media, Rendered::of);
    let v = &rendered.v;
    // RFC 9110 §13.2.2's order: If-Match / If-Unmodified-Since, then If-None-Match /
    // If-Modified-Since, then If-Range and Range.
    let asked = Asked::of(headers);
    if asked.conditional && v.precondition_fails(headers) {
        return Err(ApiError::precondition_failed(format!(
            "If-Match or If-Unmodified-Since does not hold: the media is now {}",
            v.etag()
        ))
        .header(header::ETAG, v.etag.clone()));
    }
    if asked.conditional && v.not_modified(headers) {
        return Ok(Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, v.etag.clone())
            .header(header::LAST_MODIFIED, v.last_modified.clone())
            .header(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF)
            .body(ServedBody::empty())
            .expect("valid response"));
    }
    let decision = decide(media, v, method, &asked);
    let mut out = rendered.answer_headers(matches!(decision, RangeDecision::Single(_)));
    let head = method == Method::HEAD;
    let (status, length, body) = match decision {
        RangeDecision::Unsatisfiable => return Err(ApiError::range_not_satisfiable(media.size)),
        RangeDecision::Full => {
            let body = if head {
                ServedBody::empty()
            } else {
                ServedBody::from_payload(state.blob(&media.digest, 0, media.size).await?)
            };
            (StatusCode::OK, media.size, body)
        }
        RangeDecision::Single(r) => {
            out.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_bytes(r.content_range(media.size).as_bytes()).expect("ASCII"),
            );
            let payload = state.blob(&media.digest, r.start, r.end + 1).await?;
            (
                StatusCode::PARTIAL_CONTENT,
                r.len(),
                ServedBody::from_payload(payload),
            )
        }
        RangeDecision::Multi(ranges) => {
            let boundary = hex::encode(rand::random::<[u8; 12]>());
            out.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}"))
                    .expect("ASCII"),
            );
            let (length, body) =
                multipart(state, media, &rendered.content_type, &boundary, &ranges).await?;
            let body = ServedBody::Body(Body::from_stream(body));
            (StatusCode::PARTIAL_CONTENT, length, body)
        }
    };
    // A body that states its exact size gets its `Content-Length` from it as the answer
    // is written (the front, hyper, the layer that cuts a body: see `observe`); HEAD's
    // empty body and a multipart stream cannot, so they carry the header.
    if head || http_body::Body::size_hint(&body).exact() != Some(length) {
        out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = out;
    Ok(resp)
}

/// The answer to a plain download (see `crate::plain`): a 200, or a 206 of one range.
pub struct PlainAnswer {
    /// The row's headers, kept from an earlier answer (`None`: the row's first plain
    /// answer, whose lines are written afresh and not kept).
    rendered: Option<Arc<Rendered>>,
    /// `Some` for a 206.
    pub content_range: Option<ContentRange>,
    /// The body's length, as `Content-Length` states it.
    pub length: u64,
    /// Whether `Content-Length` is among the answer's own headers, after its
    /// `Content-Range` (as [`respond`] puts it there), rather than written from the
    /// body's exact size after the log id: a body that states no exact size of its own
    /// (an S3 stream), or another size than promised.
    pub length_stated: bool,
    pub body: ServedBody,
}

impl PlainAnswer {
    /// Writes the row's headers as the lines of the answer's head (`media`: the row
    /// answered).
    pub fn put_row_lines(&self, media: &Media, out: &mut Vec<u8>) {
        match &self.rendered {
            Some(kept) => out.extend_from_slice(kept.lines()),
            None => RowValues::of(media).put_lines(out),
        }
    }
}

/// What [`respond`] answers to a GET with at most this `Range` and no conditional or
/// `If-Range` header, when that is a 200 or a 206 of one range; `None` for anything
/// else (a 416, several ranges, a blob that cannot be read), which [`respond`] answers.
pub async fn respond_plain(
    state: &AppState,
    media: &Arc<Media>,
    range: Option<&[u8]>,
) -> Option<PlainAnswer> {
    let (start, end, content_range) = match range.map(|r| range::resolve(Some(r), media.size)) {
        None | Some(RangeDecision::Full) => (0, media.size, None),
        Some(RangeDecision::Single(r)) => (r.start, r.end + 1, Some(r.content_range(media.size))),
        Some(RangeDecision::Multi(_) | RangeDecision::Unsatisfiable) => return None,
    };
    let body = ServedBody::from_payload(state.blob(&media.digest, start, end).await.ok()?);
    let length = end - start;
    Some(PlainAnswer {
        rendered: RENDERED.get_if_seen(media, Rendered::of),
        content_range,
        length,
        length_stated: http_body::Body::size_hint(&body).exact() != Some(length),
        body,
    })
}

/// A `multipart/byteranges` body (RFC 9110 §14.6) and its exact length. Every part's
/// stream is opened before the answer starts, so a missing blob is a clean 500.
async fn multipart(
    state: &AppState,
    media: &Media,
    content_type: &HeaderValue,
    boundary: &str,
    ranges: &[ByteRange],
) -> Result<(u64, ByteStream), ApiError> {
    let content_type = String::from_utf8_lossy(content_type.as_bytes()).into_owned();
    let mut length = 0u64;
    let mut pieces: Vec<ByteStream> = Vec::with_capacity(ranges.len() * 2 + 1);
    for r in ranges {
        let head = format!(
            "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
            r.content_range(media.size)
        );
        length += head.len() as u64 + r.len();
        pieces.push(once(head));
        pieces.push(
            state
                .blobs
                .get(&media.digest, r.start, r.end + 1)
                .await?
                .into_stream(),
        );
    }
    let tail = format!("\r\n--{boundary}--\r\n");
    length += tail.len() as u64;
    pieces.push(once(tail));
    Ok((
        length,
        Box::pin(futures_util::stream::iter(pieces).flatten()),
    ))
}

fn once(s: String) -> ByteStream {
    Box::pin(futures_util::stream::once(
        async move { Ok(Bytes::from(s)) },
    ))
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    async fn fetch(
        s: &crate::state::AppState,
        method: &str,
        headers: &[(&str, &str)],
    ) -> (u16, axum::http::HeaderMap, Vec<u8>) {
        let mut req = get("/open-apis/drive/v1/medias/boxA/download", headers);
        *req.method_mut() = method.parse().unwrap();
        req.headers_mut()
            .insert("authorization", "Bearer u-good".parse().unwrap());
        let (status, h, body) = answer(call(s, req).await).await;
        (status.as_u16(), h, body)
    }

    /// A row's first answer renders its headers afresh, later ones clone the maps kept
    /// for it: the same head in the same order either way, whole and ranged.
    #[tokio::test]
    async fn first_and_later_answers_carry_the_same_head() {
        async fn head(s: &crate::state::AppState, range: Option<&str>) -> Vec<String> {
            let headers: Vec<(&str, &str)> = range.map(|r| ("range", r)).into_iter().collect();
            let mut req = get("/open-apis/drive/v1/medias/boxA/download", &headers);
            req.headers_mut()
                .insert("authorization", "Bearer u-good".parse().unwrap());
            let (status, h, body) = answer(call(s, req).await).await;
            let mut lines = vec![format!("{status} {}", body.len())];
            lines.extend(
                h.iter()
                    .filter(|(n, _)| *n != "x-tt-logid" && *n != "date")
                    .map(|(n, v)| format!("{n}: {v:?}")),
            );
            lines
        }
        let (a, b) = (state().await, state().await);
        let whole_first = head(&a, None).await;
        let ranged_first = head(&b, Some("bytes=2-3")).await;
        assert!(
            whole_first.iter().any(|l| l.starts_with("etag")),
            "{whole_first:?}"
        );
        assert!(
            ranged_first.iter().any(|l| l.starts_with("content-range")),
            "{ranged_first:?}"
        );
        for _ in 0..2 {
            assert_eq!(head(&a, None).await, whole_first);
            assert_eq!(head(&a, Some("bytes=2-3")).await, ranged_first);
            assert_eq!(head(&b, Some("bytes=2-3")).await, ranged_first);
            assert_eq!(head(&b, None).await, whole_first);
        }
    }

    /// A row's lines are the front's writing of its map: the same names, titled alike.
    #[tokio::test]
    async fn a_rows_lines_are_its_map_written() {
        let s = state().await;
        let media = s.media_row("boxA").await.unwrap().unwrap();
        let odd = |f: &dyn Fn(&mut feishu_media_store::Media)| {
            let mut m = (*media).clone();
            f(&mut m);
            m
        };
        for row in [
            (*media).clone(),
            odd(&|m| m.mime_type = "text/plain\u{1}".into()),
            odd(&|m| m.mime_type = String::new()),
            odd(&|m| m.mime_type = "image/png; name=\"图\"".into()),
            odd(&|m| m.file_name = "季度 \"报告\"\t\r\n.pdf".into()),
            odd(&|m| m.digest = "abc".into()),
            odd(&|m| m.digest = "é".repeat(40)),
            odd(&|m| m.modified_at_ms = -5),
        ] {
            let rendered = super::Rendered::of(&row);
            let mut written = Vec::new();
            for (name, value) in &rendered.headers() {
                crate::head_lines::put_named(&mut written, name, value.as_bytes());
            }
            assert_eq!(
                String::from_utf8_lossy(rendered.lines()),
                String::from_utf8_lossy(&written)
            );
            let mut fresh = Vec::new();
            super::RowValues::of(&row).put_lines(&mut fresh);
            assert_eq!(fresh, written);
            assert!(written.starts_with(b"Accept-Ranges: bytes\r\nEtag: \""));
            if row.mime_type.contains('\u{1}') {
                let text = String::from_utf8_lossy(&written);
                assert!(text.contains("\r\nContent-Type: application/octet-stream\r\n"));
            }
        }
    }

    #[tokio::test]
    async fn validators_in_order() {
        // One world for every request: each new one is seeded at the current second, so
        // the dates below would not hold across a second's boundary.
        let s = state().await;
        let (status, h, body) = fetch(&s, "GET", &[]).await;
        assert_eq!((status, body.as_slice()), (200, &b"0123456789"[..]));
        let etag = h["etag"].to_str().unwrap().to_owned();
        let date = h["last-modified"].to_str().unwrap().to_owned();
        let weak = format!("W/{etag}");

        // If-None-Match (weak comparison) wins over If-Modified-Since, and over Range.
        assert_eq!(fetch(&s, "GET", &[("if-none-match", &weak)]).await.0, 304);
        assert_eq!(
            fetch(&s, "GET", &[("if-none-match", "\"x\", *")]).await.0,
            304
        );
        assert_eq!(
            fetch(
                &s,
                "GET",
                &[("if-none-match", &etag), ("range", "bytes=0-1")]
            )
            .await
            .0,
            304
        );
        assert_eq!(
            fetch(
                &s,
                "GET",
                &[("if-none-match", "\"other\""), ("if-modified-since", &date)]
            )
            .await
            .0,
            200
        );
        assert_eq!(
            fetch(&s, "GET", &[("if-modified-since", &date)]).await.0,
            304
        );
        assert_eq!(
            fetch(
                &s,
                "GET",
                &[("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT")]
            )
            .await
            .0,
            200
        );

        // If-Range: a strong match or the exact date keeps the Range; else the whole file.
        let (status, _, body) =
            fetch(&s, "GET", &[("range", "bytes=2-3"), ("if-range", &etag)]).await;
        assert_eq!((status, body.as_slice()), (206, &b"23"[..]));
        assert_eq!(
            fetch(&s, "GET", &[("range", "bytes=2-3"), ("if-range", &date)])
                .await
                .0,
            206
        );
        for stale in [weak.as_str(), "\"other\"", "Thu, 01 Jan 1970 00:00:00 GMT"] {
            let (status, _, body) =
                fetch(&s, "GET", &[("range", "bytes=2-3"), ("if-range", stale)]).await;
            assert_eq!((status, body.len()), (200, 10), "{stale}");
        }

        // If-Match (strong) and If-Unmodified-Since come first: 412 before 304 or Range.
        for (k, v, want) in [
            ("if-match", etag.as_str(), 206),
            ("if-match", "*", 206),
            ("if-match", "\"other\", \"more\"", 412),
            ("if-match", weak.as_str(), 412),
            ("if-unmodified-since", date.as_str(), 206),
            ("if-unmodified-since", "Thu, 01 Jan 1970 00:00:00 GMT", 412),
            ("if-unmodified-since", "not a date", 206),
        ] {
            assert_eq!(
                fetch(&s, "GET", &[(k, v), ("range", "bytes=0-1")]).await.0,
                want,
                "{k}: {v}"
            );
        }
        let both = [("if-match", "\"other\""), ("if-none-match", etag.as_str())];
        let (status, h, _) = fetch(&s, "GET", &both).await;
        assert_eq!(status, 412, "If-Match is evaluated before If-None-Match");
        assert_eq!(h["etag"], etag.as_str());
        let old = "Thu, 01 Jan 1970 00:00:00 GMT";
        let (status, _, _) = fetch(
            &s,
            "GET",
            &[("if-match", &etag), ("if-unmodified-since", old)],
        )
        .await;
        assert_eq!(
            status, 200,
            "If-Unmodified-Since is ignored beside If-Match"
        );

        // Every answer with the bytes (or about them) forbids sniffing.
        for headers in [
            &[][..],
            &[("range", "bytes=0-1")][..],
            &[("if-none-match", etag.as_str())][..],
        ] {
            let (_, h, _) = fetch(&s, "GET", headers).await;
            assert_eq!(h["x-content-type-options"], "nosniff", "{headers:?}");
        }

        // HEAD answers the whole representation's headers, whatever the Range.
        let (status, h, body) = fetch(&s, "HEAD", &[("range", "bytes=2-3")]).await;
        assert_eq!((status, body.len()), (200, 0));
        assert_eq!(h["content-length"], "10");
        assert_eq!(fetch(&s, "GET", &[("range", "bytes=10-")]).await.0, 416);
    }
}
