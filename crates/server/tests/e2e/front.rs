//! The connection front (`front.rs`): downloads answered with sendfile(2) on the same
//! keep-alive connection as anything else, pipelined requests, the hand-over to hyper.

use crate::support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads one HTTP/1.1 response with a `Content-Length` (or none, for HEAD and 304) off
/// `conn`, keeping what follows it in `rest`. Returns the lower-cased head and the body.
async fn read_response(
    conn: &mut tokio::net::TcpStream,
    rest: &mut Vec<u8>,
    is_head: bool,
) -> (String, Vec<u8>) {
    let split = loop {
        if let Some(i) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut buf = [0u8; 8192];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(
            n > 0,
            "closed before a whole head: {:?}",
            String::from_utf8_lossy(rest)
        );
        rest.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&rest[..split]).to_lowercase();
    let len: usize = if is_head || head.starts_with("http/1.1 304") {
        0
    } else {
        head.lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .expect("content-length")
            .trim()
            .parse()
            .unwrap()
    };
    rest.drain(..split + 4);
    while rest.len() < len {
        let mut buf = [0u8; 8192];
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed mid-body");
        rest.extend_from_slice(&buf[..n]);
    }
    let body = rest.drain(..len).collect();
    (head, body)
}

#[tokio::test]
async fn pipelined_downloads_then_an_upload_on_one_connection() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let dl = "/open-apis/drive/v1/medias/boxHundred/download";
    let auth = "Authorization: Bearer u-alice\r\n";
    // Four requests in one write: whole, a range, HEAD, and an unknown media.
    let pipelined = format!(
        "GET {dl} HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n\
         GET {dl} HTTP/1.1\r\nHost: {addr}\r\n{auth}Range: bytes=10-19\r\n\r\n\
         HEAD {dl} HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n\
         GET /open-apis/drive/v1/medias/boxNope/download HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n"
    );
    conn.write_all(pipelined.as_bytes()).await.unwrap();
    let mut rest = Vec::new();
    let (head, body) = read_response(&mut conn, &mut rest, false).await;
    assert!(head.starts_with("http/1.1 200 ok"), "{head}");
    assert!(head.contains("\r\ndate: "), "{head}");
    assert_eq!(body, hundred());
    let (head, body) = read_response(&mut conn, &mut rest, false).await;
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert!(head.contains("content-range: bytes 10-19/100"), "{head}");
    assert_eq!(body, &hundred()[10..20]);
    let (head, _) = read_response(&mut conn, &mut rest, true).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-length: 100"), "{head}");
    let (head, body) = read_response(&mut conn, &mut rest, false).await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    let env: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(env["code"], 1061003);
    assert!(rest.is_empty(), "nothing more was sent");

    // An upload on the same connection: hyper takes it over, body and all. The upload is
    // large enough that its download goes out with sendfile.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let size = big.len().to_string();
    let (content_type, form) = multipart(&[
        ("file_name", None, b"f.bin"),
        ("parent_type", None, b"docx_file"),
        ("parent_node", None, b"blk"),
        ("extra", None, br#"{"drive_route_token":"doxA"}"#),
        ("size", None, size.as_bytes()),
        ("file", Some("f.bin"), &big),
    ]);
    let upload = format!(
        "POST /open-apis/drive/v1/medias/upload_all HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        form.len()
    );
    let mut bytes = upload.into_bytes();
    bytes.extend_from_slice(&form);
    conn.write_all(&bytes).await.unwrap();
    let (head, body) = read_response(&mut conn, &mut rest, false).await;
    assert!(
        head.starts_with("http/1.1 200"),
        "{head}: {}",
        String::from_utf8_lossy(&body)
    );
    let env: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(env["code"], 0, "{env}");
    let new = env["data"]["file_token"].as_str().unwrap();
    // Hyper keeps a connection it took over, so the front's sendfile path is seen on a
    // new one.
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mine = format!("Authorization: Bearer {token}\r\n");
    let dl_new = format!("/open-apis/drive/v1/medias/{new}/download");
    conn.write_all(
        format!(
            "GET {dl_new} HTTP/1.1\r\nHost: {addr}\r\n{mine}\r\n\
             GET {dl_new} HTTP/1.1\r\nHost: {addr}\r\n{mine}Range: bytes=70000-199998\r\n\r\n\
             GET {dl} HTTP/1.1\r\nHost: {addr}\r\n{auth}Range: bytes=-1\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (head, body) = read_response(&mut conn, &mut rest, false).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(body == big, "the whole file, byte for byte");
    let (head, body) = read_response(&mut conn, &mut rest, false).await;
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert!(
        head.contains("content-range: bytes 70000-199998/200000"),
        "{head}"
    );
    assert!(body == big[70000..199999], "the range, byte for byte");
    let (head, body) = read_response(&mut conn, &mut rest, false).await;
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert_eq!(body, [99]);
}

#[tokio::test]
async fn connection_close_is_honoured_and_said() {
    let s = server().await;
    let (status, head, body) = raw_request(
        &s.base,
        "GET /open-apis/drive/v1/medias/boxHundred/download HTTP/1.1\r\nAuthorization: Bearer u-alice\r\n",
    )
    .await;
    // raw_request sends `Connection: close` and reads to the end: the server must close.
    assert_eq!(status, 200);
    assert!(head.contains("\r\nconnection: close"), "{head}");
    assert_eq!(body, hundred());
}

#[tokio::test]
async fn a_head_split_across_writes_and_http10_are_served() {
    let s = server().await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "GET /open-apis/drive/v1/medias/boxHundred/download HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer u-alice\r\n\r\n"
    );
    let (a, b) = req.split_at(20);
    conn.write_all(a.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    conn.write_all(b.as_bytes()).await.unwrap();
    let mut rest = Vec::new();
    let (head, body) = read_response(&mut conn, &mut rest, false).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, hundred());

    // HTTP/1.0 goes to hyper, which answers and closes.
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    conn.write_all(
        b"GET /open-apis/drive/v1/medias/boxHundred/download HTTP/1.0\r\nAuthorization: Bearer u-alice\r\n\r\n",
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert!(
        raw.starts_with(b"HTTP/1.0 200"),
        "{:?}",
        String::from_utf8_lossy(&raw[..split])
    );
    assert_eq!(&raw[split + 4..], hundred());
}

/// One request on a connection of its own, read to its end: the answer's bytes with the
/// `Date` line and the log id (in `X-Tt-Logid` and anywhere after, e.g. an envelope)
/// blanked, the two parts that differ between any two answers.
async fn answer_masked(addr: &str, head: &str) -> String {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_end(&mut raw),
    )
    .await
    .expect("an answer in time")
    .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let log_id = text
        .split("\r\n")
        .find_map(|l| l.strip_prefix("X-Tt-Logid: "))
        .unwrap_or_else(|| panic!("no X-Tt-Logid: {text:?}"))
        .to_owned();
    text.split("\r\n")
        .map(|l| {
            if l.starts_with("Date: ") {
                "Date: …"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        .replace(&log_id, "…")
}

/// The front answers plain downloads (a bare GET with a token and at most a Range: see
/// `crates/server/src/plain.rs`) without the app's request types; any other header sends
/// the same request the general way. Both must put the same bytes on the wire.
#[tokio::test]
async fn plain_downloads_answer_what_the_general_way_answers() {
    let s = server().await;
    let tenant = s.tenant_token("cli_a", "sec-a").await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut cases = Vec::new();
    for token in [tenant.as_str(), "eyJalice"] {
        for file in ["boxHundred", "boxCn", "boxReport", "boxEmpty"] {
            cases.push((token, file, String::new()));
        }
        for range in [
            "bytes=10-19",
            "bytes=-7",
            "bytes=95-",
            "bytes=0-1000",
            "nonsense",
        ] {
            cases.push((token, "boxHundred", format!("Range: {range}\r\n")));
        }
        cases.push((token, "boxCn", "Range: bytes=2-5\r\n".to_owned()));
    }
    // What the plain way declines gives the general way's answer whichever way it came.
    for (file, more) in [
        ("boxNope", ""),
        ("boxDeleted", ""),
        ("boxBit", ""),
        ("boxG", ""),
        ("boxEmpty", "Range: bytes=0-0\r\n"),
        ("boxHundred", "Range: bytes=100-\r\n"),
    ] {
        cases.push((tenant.as_str(), file, more.to_owned()));
    }
    cases.push(("u-noscope", "boxHundred", String::new()));
    cases.push(("t-nope", "boxHundred", String::new()));
    let mut statuses = Vec::new();
    for (token, file, more) in &cases {
        let head = |extra: &str| {
            format!(
                "GET /open-apis/drive/v1/medias/{file}/download HTTP/1.1\r\nHost: {addr}\r\n\
                 Authorization: Bearer {token}\r\n{more}{extra}Connection: close\r\n\r\n"
            )
        };
        let plain = answer_masked(&addr, &head("")).await;
        let general = answer_masked(&addr, &head("X-Not-Plain: 1\r\n")).await;
        assert_eq!(plain, general, "{file} {more:?} with {token}");
        statuses.push(plain[9..12].to_owned());
    }
    // The table covers what it means to: whole answers, ranges, and refusals.
    for status in ["200", "206", "400", "403", "404", "416"] {
        assert!(
            statuses.iter().any(|s| s == status),
            "no {status}: {statuses:?}"
        );
    }
}
