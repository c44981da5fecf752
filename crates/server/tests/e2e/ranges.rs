//! Wire contract §3, Range: a table of cases (many from Go's net/http and nginx's
//! range.t), each checked for status, Content-Range and the exact bytes.

use crate::support::*;

/// What a case expects.
enum Want {
    /// 200 with the whole file.
    Full,
    /// 206 with `start..=end`.
    Part(u64, u64),
    /// 206 multipart with these parts, in this order.
    Parts(&'static [(u64, u64)]),
    /// 416 with `bytes */size`.
    Unsatisfiable,
}

const CASES: &[(&str, Want)] = &[
    ("bytes=0-1024", Want::Part(0, 99)),
    ("bytes=0-0", Want::Part(0, 0)),
    ("bytes=0-9", Want::Part(0, 9)),
    ("bytes=10-19", Want::Part(10, 19)),
    ("bytes=99-99", Want::Part(99, 99)),
    ("bytes=99-", Want::Part(99, 99)),
    ("bytes=-1", Want::Part(99, 99)),
    ("bytes=-10", Want::Part(90, 99)),
    ("bytes=-100", Want::Part(0, 99)),
    ("bytes=-1000", Want::Part(0, 99)),
    ("bytes=50-", Want::Part(50, 99)),
    ("bytes=0-", Want::Part(0, 99)),
    ("bytes=0-99999999999999999999999", Want::Part(0, 99)),
    ("Bytes=0-4", Want::Part(0, 4)),
    ("bytes= 0-4", Want::Part(0, 4)),
    ("bytes=0-5,3-9", Want::Part(0, 9)),
    ("bytes=0-4,5-9", Want::Part(0, 9)),
    ("bytes=0-1,200-300", Want::Part(0, 1)),
    ("bytes=0-1,,2-3", Want::Part(0, 3)),
    ("bytes=100-", Want::Unsatisfiable),
    ("bytes=100-200", Want::Unsatisfiable),
    ("bytes=-0", Want::Unsatisfiable),
    ("bytes=abc", Want::Unsatisfiable),
    ("bytes=5-1", Want::Unsatisfiable),
    ("bytes=", Want::Unsatisfiable),
    ("bytes=1-2-3", Want::Unsatisfiable),
    ("bytes=--5", Want::Unsatisfiable),
    ("bytes=200-300,400-500", Want::Unsatisfiable),
    ("bytes 0-4", Want::Unsatisfiable),
    ("items=0-5", Want::Full),
    ("0-5", Want::Full),
    ("bytes=0-,0-", Want::Full),
    ("bytes=0-50,40-99,10-20", Want::Full),
    ("bytes=0-1,3-4", Want::Parts(&[(0, 1), (3, 4)])),
    ("bytes=90-95,0-4", Want::Parts(&[(0, 4), (90, 95)])),
    ("bytes=0-4, 10-14", Want::Parts(&[(0, 4), (10, 14)])),
    ("bytes=-5,0-1", Want::Parts(&[(0, 1), (95, 99)])),
    (
        "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30",
        Want::Parts(&[
            (0, 0),
            (2, 2),
            (4, 4),
            (6, 6),
            (8, 8),
            (10, 10),
            (12, 12),
            (14, 14),
            (16, 16),
            (18, 18),
            (20, 20),
            (22, 22),
            (24, 24),
            (26, 26),
            (28, 28),
            (30, 30),
        ]),
    ),
    (
        "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30,32-32",
        Want::Full,
    ),
];

/// Splits a `multipart/byteranges` body into (Content-Range, bytes) parts.
fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("boundary")
        .trim_matches('"');
    let delim = format!("\r\n--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let start = find(rest, delim.as_bytes()).expect("first delimiter");
    assert_eq!(start, 0, "the body starts with the first delimiter");
    rest = &rest[delim.len()..];
    loop {
        if rest.starts_with(b"--\r\n") {
            assert_eq!(rest.len(), 4, "nothing after the close delimiter");
            break;
        }
        let head_end = find(rest, b"\r\n\r\n").expect("part head");
        let head = String::from_utf8(rest[..head_end].to_vec()).unwrap();
        let content_range = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Range: "))
            .expect("part Content-Range")
            .to_owned();
        assert!(
            head.contains("Content-Type: application/octet-stream"),
            "{head}"
        );
        rest = &rest[head_end + 4..];
        let end = find(rest, delim.as_bytes()).expect("next delimiter");
        parts.push((content_range, rest[..end].to_vec()));
        rest = &rest[end + delim.len()..];
    }
    parts
}

#[tokio::test]
async fn range_table() {
    assert!(CASES.len() >= 30);
    let s = server().await;
    let url = s.download_url("boxHundred");
    let data = hundred();
    for (range, want) in CASES {
        let resp = get(&url, "u-alice", &[("Range", range)]).await;
        let status = resp.status().as_u16();
        let h = resp.headers().clone();
        if let Want::Unsatisfiable = want {
            let (h, _) = expect_error(resp, 416, 1061002).await;
            assert_eq!(header(&h, "content-range"), Some("bytes */100"), "{range}");
            continue;
        }
        let body = resp.bytes().await.unwrap();
        assert!(header(&h, "etag").is_some(), "{range}");
        assert!(header(&h, "content-disposition").is_some(), "{range}");
        assert_eq!(
            header(&h, "content-length"),
            Some(body.len().to_string().as_str()),
            "{range}"
        );
        match want {
            Want::Full => {
                assert_eq!(status, 200, "{range}");
                assert_eq!(header(&h, "content-range"), None, "{range}");
                assert_eq!(body, data, "{range}");
            }
            Want::Part(a, b) => {
                assert_eq!(status, 206, "{range}");
                assert_eq!(
                    header(&h, "content-range"),
                    Some(format!("bytes {a}-{b}/100").as_str()),
                    "{range}"
                );
                assert_eq!(
                    header(&h, "content-type"),
                    Some("application/octet-stream"),
                    "{range}"
                );
                assert_eq!(body, data[*a as usize..=*b as usize], "{range}");
            }
            Want::Parts(parts) => {
                assert_eq!(status, 206, "{range}");
                let ct = header(&h, "content-type").unwrap();
                assert!(
                    ct.starts_with("multipart/byteranges; boundary="),
                    "{range}: {ct}"
                );
                let got = parse_multipart(ct, &body);
                assert_eq!(got.len(), parts.len(), "{range}");
                for ((cr, bytes), (a, b)) in got.iter().zip(parts.iter()) {
                    assert_eq!(cr, &format!("bytes {a}-{b}/100"), "{range}");
                    assert_eq!(bytes[..], data[*a as usize..=*b as usize], "{range}");
                }
            }
            Want::Unsatisfiable => unreachable!(),
        }
    }
}

#[tokio::test]
async fn any_range_on_an_empty_media_is_416() {
    let s = server().await;
    let url = s.download_url("boxEmpty");
    for range in ["bytes=0-0", "bytes=0-", "bytes=-5", "bytes=-0"] {
        let (h, _) = expect_error(
            get(&url, "u-alice", &[("Range", range)]).await,
            416,
            1061002,
        )
        .await;
        assert_eq!(header(&h, "content-range"), Some("bytes */0"), "{range}");
    }
    let resp = get(&url, "u-alice", &[("Range", "items=0-1")]).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn range_answers_keep_the_media_headers() {
    let s = server().await;
    let url = s.download_url("boxCn");
    let whole = get(&url, "u-alice", &[]).await;
    let part = get(&url, "u-alice", &[("Range", "bytes=0-3")]).await;
    assert_eq!(part.status(), 206);
    for name in [
        "content-type",
        "content-disposition",
        "etag",
        "last-modified",
        "accept-ranges",
    ] {
        assert_eq!(
            part.headers().get(name),
            whole.headers().get(name),
            "{name}"
        );
    }
    assert_eq!(part.bytes().await.unwrap(), PNG[..4]);
}
