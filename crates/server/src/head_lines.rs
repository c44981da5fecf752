//! The lines of a response head as this server writes them on the wire: `name: value`,
//! names in Title-Case as hyper's `title_case_headers` writes them (the Python SDK reads
//! response headers from a case-sensitive dict), and `Date` written once a second.
//!
//! A leaf: the front writes every head it answers with these, and a media's rendered
//! headers are kept as these lines (see `services::media`), so both agree byte for byte.

use crate::http_date;
use axum::http::{HeaderName, header};

/// `name: value\r\n`, the name in Title-Case.
pub fn put_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    let start = out.len();
    put_line(out, name, value);
    // Copied whole, then each word's first letter raised: a push per byte was the
    // largest cost of writing a head (callgrind, bench B's request).
    let mut upper = true;
    for b in &mut out[start..start + name.len()] {
        if upper {
            b.make_ascii_uppercase();
        }
        upper = *b == b'-';
    }
}

/// `name: value\r\n`, the name as given.
pub fn put_line(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.reserve(name.len() + value.len() + 4);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The names a media answer carries, already in Title-Case.
pub static TITLED: [(HeaderName, &str); 12] = [
    (header::ACCEPT_RANGES, "Accept-Ranges"),
    (header::CONTENT_DISPOSITION, "Content-Disposition"),
    (header::CONTENT_LENGTH, "Content-Length"),
    (header::CONTENT_RANGE, "Content-Range"),
    (header::CONTENT_TYPE, "Content-Type"),
    (header::DATE, "Date"),
    (header::ETAG, "Etag"),
    (header::LAST_MODIFIED, "Last-Modified"),
    (header::X_CONTENT_TYPE_OPTIONS, "X-Content-Type-Options"),
    (header::CACHE_CONTROL, "Cache-Control"),
    (header::LOCATION, "Location"),
    (HeaderName::from_static("x-tt-logid"), "X-Tt-Logid"),
];

/// [`put_header`] for a name of a map: a common one is copied already titled.
pub fn put_named(out: &mut Vec<u8>, name: &HeaderName, value: &[u8]) {
    match TITLED.iter().find(|(known, _)| known == name) {
        Some((_, titled)) => put_line(out, titled, value),
        None => put_header(out, name.as_str(), value),
    }
}

/// `Date`'s value for now: written once a second per thread, not for every answer.
pub fn http_date_now() -> [u8; http_date::LEN] {
    thread_local! {
        static NOW: std::cell::Cell<(u64, [u8; http_date::LEN])> =
            const { std::cell::Cell::new((u64::MAX, [0; http_date::LEN])) };
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    NOW.with(|cell| {
        let (at, date) = cell.get();
        if at == secs {
            return date;
        }
        let date = http_date::imf_fixdate(secs);
        cell.set((secs, date));
        date
    })
}

/// Whether a `Connection` value names `close` among its tokens.
pub fn says_close(connection: &[u8]) -> bool {
    connection
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_title_case() {
        let mut out = Vec::new();
        put_header(&mut out, "content-disposition", b"attachment");
        put_header(&mut out, "x-tt-logid", b"1");
        assert_eq!(out, b"Content-Disposition: attachment\r\nX-Tt-Logid: 1\r\n");
        // The table of titled names says what put_header would.
        for (name, titled) in &TITLED {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            put_named(&mut a, name, b"v");
            put_header(&mut b, name.as_str(), b"v");
            assert_eq!(a, b, "{titled}");
        }
    }

    #[test]
    fn close_among_the_tokens() {
        assert!(says_close(b"close"));
        assert!(says_close(b"keep-alive, Close"));
        assert!(!says_close(b"keep-alive"));
        assert!(!says_close(b"closed"));
    }
}
