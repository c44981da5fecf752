//! What the server refuses before a handler runs, as a gateway would, always in the wire
//! envelope: heads too slow or too long, too many connections, uploads too large.

use crate::support::*;
use crate::uploads::prepare;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(s: &TestServer) -> TcpStream {
    TcpStream::connect(s.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Everything the server sends until it closes (or `wait` passes).
async fn read_all(conn: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut out = Vec::new();
    tokio::time::timeout(wait, conn.read_to_end(&mut out))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn a_head_that_trickles_in_gets_one_deadline_not_one_per_byte() {
    let s = TestServer::start_with_config(world(), |c| c.head_timeout = Duration::from_millis(800))
        .await;
    let mut conn = connect(&s).await;
    let started = Instant::now();
    let head = b"GET /open-apis/drive/v1/medias/boxHundred/download HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for b in head.iter() {
        if conn.write_all(&[*b]).await.is_err() {
            break; // closed on us: what the test waits for
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if started.elapsed() > Duration::from_secs(6) {
            panic!("still open after 6 s of a byte every 50 ms");
        }
    }
    let closed = read_all(&mut conn, Duration::from_secs(3)).await;
    assert_eq!(closed.as_deref(), Some(""), "closed without an answer");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// One whole answer off a kept-alive connection: its head and `Content-Length` bytes.
async fn read_answer(conn: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(n > 0, "closed before a whole answer: {got:?}");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

/// The head timer is one per connection, re-armed lazily: each head's deadline still
/// runs from the end of the answer before it (or from the connection's start), so a
/// later head gets its whole time, not what is left of the timer armed for the first,
/// and a head that stalls is still cut at its own deadline.
#[tokio::test]
async fn each_head_on_a_kept_connection_gets_its_own_deadline() {
    let s = TestServer::start_with_config(world(), |c| c.head_timeout = Duration::from_millis(800))
        .await;
    let mut conn = connect(&s).await;
    let head = b"GET /open-apis/drive/v1/medias/boxHundred/download HTTP/1.1\r\nHost: x\r\n\r\n";
    let (first, rest) = head.split_at(20);
    // The first head 500 ms in: the timer armed at the start fires 800 ms in.
    tokio::time::sleep(Duration::from_millis(500)).await;
    conn.write_all(head).await.unwrap();
    assert!(read_answer(&mut conn).await.starts_with("HTTP/1.1 "));
    // The second head ends 1.1 s in: past that timer, inside its own deadline (1.3 s).
    conn.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    conn.write_all(rest).await.unwrap();
    let second = read_answer(&mut conn).await;
    assert!(second.starts_with("HTTP/1.1 "), "{second}");
    // A third head that never ends is cut 800 ms after the second answer.
    let started = Instant::now();
    conn.write_all(first).await.unwrap();
    let closed = read_all(&mut conn, Duration::from_secs(4)).await;
    assert_eq!(closed.as_deref(), Some(""), "closed without an answer");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_millis(2500),
        "{took:?}"
    );
}

#[tokio::test]
async fn heads_and_request_lines_too_long_are_refused_in_the_envelope() {
    let s = server().await;
    for (head, status) in [
        (
            format!(
                "GET /healthz HTTP/1.1\r\nX-Big: {}\r\n\r\n",
                "a".repeat(17_000)
            ),
            431,
        ),
        (format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9_000)), 414),
    ] {
        let mut conn = connect(&s).await;
        conn.write_all(head.as_bytes()).await.unwrap();
        let answer = read_all(&mut conn, Duration::from_secs(5))
            .await
            .expect("an answer, then a close");
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{answer}"
        );
        let lower = answer.to_lowercase();
        assert!(lower.contains("x-tt-logid: "), "{answer}");
        assert!(lower.contains("content-type: application/json"), "{answer}");
        assert!(answer.contains("\"code\":1061002"), "{answer}");
    }
    // Both are counted like any answer.
    let metrics = client()
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"feishu_media_requests_total{endpoint="other",status="431"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_wait_and_old_ones_are_served() {
    let s = TestServer::start_with_config(world(), |c| c.max_connections = 3).await;
    let request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = connect(&s).await;
        c.write_all(request.as_bytes()).await.unwrap();
        let mut buf = [0u8; 512];
        let n = c.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(c);
    }
    // The fourth connects (the kernel's backlog takes it) but is not served yet.
    let mut fourth = connect(&s).await;
    fourth.write_all(request.as_bytes()).await.unwrap();
    let mut buf = [0u8; 512];
    let early = tokio::time::timeout(Duration::from_millis(500), fourth.read(&mut buf)).await;
    assert!(early.is_err(), "served past the cap");
    // Those it has are still served.
    held[0].write_all(request.as_bytes()).await.unwrap();
    let n = held[0].read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // One ends: the fourth is served.
    drop(held.remove(1));
    let n = tokio::time::timeout(Duration::from_secs(5), fourth.read(&mut buf))
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
}

/// 4 096 clients connecting at once (bench L) used to overflow the 1 024 handshakes
/// tokio's `bind` lets the kernel queue: a dropped handshake costs its client a SYN
/// retransmission, a second or three before its first byte. The kernel caps the queue
/// at `net.core.somaxconn`; where that is 1 024 or less, this cannot tell the two apart.
#[tokio::test]
async fn a_burst_of_connections_past_1024_waits_in_the_backlog_not_dropped() {
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024);
    let burst = somaxconn.min(2048) - 8;
    // One descriptor per connection: more than the usual soft limit of 1 024.
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    setrlimit(Resource::Nofile, limit).expect("raise the descriptor limit");
    let have = limit.current.unwrap_or(u64::MAX);
    assert!(
        have > burst as u64 + 256,
        "this test needs {} descriptors, the hard limit is {have}",
        burst + 256
    );
    // Past the cap of one, nothing is accepted: every other connection waits queued.
    let s = TestServer::start_with_config(world(), |c| c.max_connections = 1).await;
    let first = connect(&s).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut queued = Vec::with_capacity(burst);
    for i in 0..burst {
        // Under the first SYN retransmission (1 s): a handshake the kernel took at once.
        match tokio::time::timeout(Duration::from_millis(800), TcpStream::connect(&addr)).await {
            Ok(Ok(c)) => queued.push(c),
            Ok(Err(e)) => panic!("connection {i} of {burst} failed: {e}"),
            Err(_) => panic!("connection {i} of {burst} was not taken in (somaxconn {somaxconn})"),
        }
    }
    drop(first);
    // Once the first ends, the next in the queue is served.
    let mut next = queued.remove(0);
    next.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), next.read(&mut buf))
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
}

#[tokio::test]
async fn upload_prepare_refuses_files_and_totals_over_the_caps() {
    let s = TestServer::start_with_config(world(), |c| {
        c.max_upload_size = 100;
        c.max_open_uploads = 2;
        c.max_open_upload_bytes = 150;
    })
    .await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    expect_error(prepare(&s, &token, "big.bin", 101).await, 400, 1061043).await;
    expect_data(prepare(&s, &token, "a.bin", 100).await).await;
    let why = expect_hint(prepare(&s, &token, "b.bin", 60).await, 400, 1061043).await;
    assert!(why.contains("160 bytes"), "{why}");
    expect_data(prepare(&s, &token, "b.bin", 50).await).await;
    let why = expect_hint(prepare(&s, &token, "c.bin", 0).await, 400, 1061043).await;
    assert!(why.contains("2 chunked uploads open"), "{why}");
    // Once they expire, the app may prepare again.
    s.state.clock.advance(Duration::from_secs(24 * 3600));
    let token = s.tenant_token("cli_up", "sec-u").await;
    expect_data(prepare(&s, &token, "c.bin", 0).await).await;
}

#[tokio::test]
async fn a_304_carries_no_content_length_on_either_path() {
    let s = server().await;
    let resp = get(&s.download_url("boxHundred"), "u-alice", &[]).await;
    let etag = header(resp.headers(), "etag").unwrap().to_owned();
    for version in ["HTTP/1.1", "HTTP/1.0"] {
        // HTTP/1.0 goes to hyper; HTTP/1.1 is answered by the sendfile front.
        let (status, head, _) = raw_request(
            &s.base,
            &format!(
                "GET /open-apis/drive/v1/medias/boxHundred/download {version}\r\nAuthorization: Bearer u-alice\r\nIf-None-Match: {etag}\r\n"
            ),
        )
        .await;
        assert_eq!(status, 304, "{version}");
        assert!(!head.contains("content-length"), "{version}: {head}");
    }
}

#[tokio::test]
async fn the_log_line_of_a_429_names_its_file_token() {
    let s = TestServer::start_with_config(world(), |c| {
        c.admin_token = Some(ADMIN.into());
        c.frozen_clock = true;
    })
    .await;
    let token = s.tenant_token("cli_lim", "sec-l").await;
    let url = s.download_url("boxHundred");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(get(&url, &token, &[]).await.status().as_u16());
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let logged = s.state.requests.latest(1);
    assert_eq!(logged[0].status, 429);
    assert_eq!(logged[0].file_token.as_deref(), Some("boxHundred"));
}
