//! Hostile input over real sockets: valid requests of every kind, mutated at random
//! (bytes flipped, cut short, spliced, lengths that lie), and plain noise, each on its own
//! connection. The server must answer each with HTTP or close it, never answer 500 (the
//! client's bytes are never the server's fault), never panic, and keep serving the same
//! bytes afterwards.

use crate::support::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Panics seen on this test's threads or on the runtime's worker threads.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("");
            // Other tests' own assertion failures happen on threads named after them.
            if name.contains("hostile") || !name.contains("::") {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            before(info);
        }));
    });
}

/// A small deterministic generator (splitmix64): the same cases on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Requests of every kind the server takes, whole and valid.
fn templates(addr: &str, token: &str, code: &str) -> Vec<Vec<u8>> {
    let auth = format!("Authorization: Bearer {token}\r\n");
    let (ct, form) = multipart(&[
        ("file_name", None, b"x.bin"),
        ("parent_type", None, b"docx_file"),
        ("parent_node", None, b"blk"),
        ("size", None, b"5"),
        ("extra", None, br#"{"drive_route_token":"doxA"}"#),
        ("file", Some("x.bin"), b"hello"),
    ]);
    let mut upload = format!(
        "POST /open-apis/drive/v1/medias/upload_all HTTP/1.1\r\nHost: {addr}\r\n{auth}\
         Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
        form.len()
    )
    .into_bytes();
    upload.extend_from_slice(&form);
    let json = |path: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    vec![
        format!(
            "GET /open-apis/drive/v1/medias/boxHundred/download HTTP/1.1\r\nHost: {addr}\r\n{auth}\
             Range: bytes=10-19,30-\r\nIf-None-Match: \"x\"\r\n\r\n"
        )
        .into_bytes(),
        format!(
            "GET /open-apis/drive/v1/medias/boxBit/download?extra=%7B%22bitablePerm%22%3A%7B%22tableId%22%3A%22tbl1%22%7D%7D HTTP/1.1\r\n\
             Host: {addr}\r\n{auth}\r\n"
        )
        .into_bytes(),
        format!("HEAD /space/api/box/stream/download/authcode/?code={code} HTTP/1.1\r\nHost: {addr}\r\n\r\n")
            .into_bytes(),
        format!(
            "GET /open-apis/drive/v1/medias/batch_get_tmp_download_url?file_tokens=boxHundred&file_tokens=boxCn HTTP/1.1\r\n\
             Host: {addr}\r\n{auth}\r\n"
        )
        .into_bytes(),
        json(
            "/open-apis/auth/v3/tenant_access_token/internal",
            r#"{"app_id":"cli_up","app_secret":"sec-u"}"#,
        ),
        json(
            "/open-apis/drive/v1/medias/upload_prepare",
            r#"{"file_name":"p.bin","parent_type":"docx_file","parent_node":"blk","size":5,"extra":"{\"drive_route_token\":\"doxA\"}"}"#,
        ),
        json(
            "/open-apis/drive/v1/medias/upload_finish",
            r#"{"upload_id":"0123456789abcdef","block_num":1}"#,
        ),
        upload,
        format!(
            "POST /open-apis/drive/v1/medias/upload_all HTTP/1.1\r\nHost: {addr}\r\n{auth}\
             Content-Type: multipart/form-data; boundary=zz\r\nTransfer-Encoding: chunked\r\n\r\n\
             5\r\n--zz\r\n\r\n0\r\n\r\n"
        )
        .into_bytes(),
    ]
}

/// One way of spoiling a request.
fn mutate(rng: &mut Rng, mut req: Vec<u8>) -> Vec<u8> {
    match rng.below(7) {
        // A few bytes flipped anywhere (the method, a header name, a length, the body).
        0 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(req.len());
                req[i] = rng.next() as u8;
            }
        }
        // Cut short.
        1 => req.truncate(rng.below(req.len())),
        // Noise spliced in.
        2 => {
            let i = rng.below(req.len());
            let n = 1 + rng.below(64);
            let noise = rng.bytes(n);
            req.splice(i..i, noise);
        }
        // A header line made very long, or many headers.
        3 => {
            let i = req.windows(2).position(|w| w == b"\r\n").unwrap_or(0) + 2;
            let line = if rng.below(2) == 0 {
                format!("X-Long: {}\r\n", "a".repeat(1 + rng.below(40_000)))
            } else {
                "X-Many: 1\r\n".repeat(1 + rng.below(200))
            };
            req.splice(i..i, line.into_bytes());
        }
        // A Content-Length that lies.
        4 => {
            let text = String::from_utf8_lossy(&req).into_owned();
            let lie = ["0", "1", "99999999", "-1", "1, 2", "18446744073709551616"][rng.below(6)];
            let text = match text.find("Content-Length: ") {
                Some(at) => {
                    let end = text[at..].find("\r\n").map_or(text.len(), |e| at + e);
                    format!("{}Content-Length: {lie}{}", &text[..at], &text[end..])
                }
                None => text.replacen("\r\n", &format!("\r\nContent-Length: {lie}\r\n"), 1),
            };
            req = text.into_bytes();
        }
        // Headers that select odd paths: ranges, conditions, encodings, upgrades.
        5 => {
            let i = req.windows(2).position(|w| w == b"\r\n").unwrap_or(0) + 2;
            let h = [
                "Range: bytes=-0,-,5-1,18446744073709551615-\r\n",
                "Range: bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,14-14,15-15,16-16\r\n",
                "If-Range: \"nope\"\r\nRange: bytes=0-1\r\n",
                "If-Modified-Since: yesterday\r\n",
                "Transfer-Encoding: gzip, chunked\r\n",
                "Expect: 100-continue\r\n",
                "Upgrade: h2c\r\nConnection: Upgrade\r\n",
                "Authorization: Bearer \r\n",
                "Authorization: Bearer t-\u{0}\r\n",
                "Content-Type: multipart/form-data; boundary=\r\n",
            ][rng.below(10)];
            req.splice(i..i, h.bytes());
        }
        // Another request pipelined behind, itself spoiled.
        _ => {
            let mut tail = req.clone();
            let cut = rng.below(tail.len());
            tail.truncate(cut);
            req.extend_from_slice(&tail);
        }
    }
    req
}

/// Sends `req`, half-closes, and reads what comes back (at most 1 MiB, 5 s).
async fn exchange(addr: &str, req: &[u8]) -> Vec<u8> {
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = conn.write_all(req).await;
    let _ = conn.shutdown().await;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while got.len() < 1 << 20 {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            Ok(_) => break, // closed, or reset
            Err(_) => panic!(
                "no answer and no close within 5 s for {:?}",
                String::from_utf8_lossy(req)
            ),
        }
    }
    got
}

#[tokio::test]
async fn hostile_requests_get_http_answers_and_change_nothing() {
    count_panics();
    let s = server().await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let token = s.tenant_token("cli_up", "sec-u").await;
    let links = get(
        &s.url("/open-apis/drive/v1/medias/batch_get_tmp_download_url?file_tokens=boxHundred"),
        &token,
        &[],
    )
    .await
    .json::<serde_json::Value>()
    .await
    .unwrap();
    let link = links["data"]["tmp_download_urls"][0]["tmp_download_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = link.split("code=").nth(1).unwrap().to_owned();
    let templates = templates(&addr, &token, &code);

    let mut rng = Rng(0x5eed);
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    for case in 0..600 {
        let req = match case % 10 {
            9 => {
                let n = 1 + rng.below(2000);
                rng.bytes(n)
            }
            _ => {
                let t = templates[rng.below(templates.len())].clone();
                // Now and then twice spoiled.
                let once = mutate(&mut rng, t);
                if rng.below(4) == 0 {
                    mutate(&mut rng, once)
                } else {
                    once
                }
            }
        };
        let got = exchange(&addr, &req).await;
        let status = if got.is_empty() {
            "closed".to_owned()
        } else {
            let line = String::from_utf8_lossy(&got[..got.len().min(12)]).into_owned();
            assert!(
                line.starts_with("HTTP/1.1 ") || line.starts_with("HTTP/1.0 "),
                "case {case}: not an HTTP answer: {:?} for {:?}",
                String::from_utf8_lossy(&got[..got.len().min(200)]),
                String::from_utf8_lossy(&req[..req.len().min(300)])
            );
            line[9..12].to_owned()
        };
        assert!(
            !status.starts_with('5'),
            "case {case}: {status} for {:?}: {:?}",
            String::from_utf8_lossy(&req[..req.len().min(300)]),
            String::from_utf8_lossy(&got[..got.len().min(400)])
        );
        *statuses.entry(status).or_default() += 1;
    }
    eprintln!("answers: {statuses:?}");
    // The cases reached the handlers, not only the parsers.
    assert!(
        statuses.get("200").copied().unwrap_or(0) > 10,
        "{statuses:?}"
    );
    assert!(
        statuses.get("400").copied().unwrap_or(0) > 10,
        "{statuses:?}"
    );
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "the server panicked");

    // Still serving the same bytes, on both paths.
    let resp = get(&s.download_url("boxHundred"), &token, &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), hundred());
    let resp = client().get(&link).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap(), hundred());
}
