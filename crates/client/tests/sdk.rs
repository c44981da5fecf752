//! The SDK against a real server on 127.0.0.1:0: byte-identical downloads, retries as
//! few as the faults force, the quota, single-flight tokens, uploads, hostile names.

use feishu_media_client::quota::Quota;
use feishu_media_client::retry::RetryPolicy;
use feishu_media_client::upload::UploadTarget;
use feishu_media_client::{Client, DownloadOptions, Error, download::NoProgress};
use feishu_media_server::faults::parse_rules;
use feishu_media_testkit::TestServer;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn bytes_of(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// An app with no server limits and one with Feishu's defaults, media of many sizes.
fn world(media: &[(&str, &str, &[u8])]) -> serde_json::Value {
    let media: Vec<serde_json::Value> = media
        .iter()
        .map(|(token, name, bytes)| {
            json!({"file_token": token, "document": "dox", "parent_type": "docx_file", "file_name": name,
                   "content_base64": b64(bytes)})
        })
        .collect();
    json!({
        "apps": [
            {"app_id": "cli_free", "app_secret": "s", "tenant_key": "t", "scopes": ["drive:drive"], "rate_limit": null},
            {"app_id": "cli_std", "app_secret": "s", "tenant_key": "t", "scopes": ["drive:drive"]}
        ],
        "documents": [{"token": "dox", "type": "docx", "tenant_key": "t", "owner": "app:cli_free",
                       "members": [{"principal": "app:cli_std", "role": "edit"}]}],
        "media": media
    })
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..Default::default()
    }
}

fn client(s: &TestServer, app: &str) -> Client {
    let quota = if app == "cli_free" {
        Quota {
            per_second: 0,
            per_day: 1_000_000,
        }
    } else {
        Quota::default()
    };
    Client::builder(&s.base)
        .app_credentials(app, "s")
        .quota(quota)
        .retry(fast_retries())
        .build()
        .unwrap()
}

fn requests_to(
    s: &TestServer,
    endpoint: &str,
) -> Vec<feishu_media_server::request_log::LoggedRequest> {
    s.state
        .requests
        .latest(1000)
        .into_iter()
        .filter(|r| r.endpoint == endpoint)
        .collect()
}

async fn fetch(
    c: &Client,
    token: &str,
    opts: DownloadOptions,
) -> (Vec<u8>, feishu_media_client::Downloaded) {
    let dir = tempfile::tempdir().unwrap();
    let d = c
        .download_to_dir(token, dir.path(), &opts, Arc::new(NoProgress))
        .await
        .unwrap();
    let bytes = std::fs::read(&d.path).unwrap();
    assert!(d.path.starts_with(dir.path()));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no part or state file left: {leftovers:?}"
    );
    (bytes, d)
}

#[tokio::test]
async fn byte_identical_single_and_segmented() {
    let big = bytes_of(9 * 1024 * 1024 + 77, 1);
    let s = TestServer::start(world(&[
        ("boxEmpty", "empty.bin", b""),
        ("boxOne", "one.bin", b"x"),
        ("boxSmall", "small.txt", b"hello world"),
        ("boxBig", "big.bin", &big),
    ]))
    .await;
    let c = client(&s, "cli_free");
    for (token, want) in [
        ("boxEmpty", &b""[..]),
        ("boxOne", b"x"),
        ("boxSmall", b"hello world"),
    ] {
        let (got, d) = fetch(&c, token, DownloadOptions::default()).await;
        assert_eq!(got, want, "{token}");
        assert_eq!(d.size, want.len() as u64);
    }
    // One request for the whole file, then in 1 MiB chunks over 4 connections.
    let (got, d) = fetch(
        &c,
        "boxBig",
        DownloadOptions {
            chunk_size: Some(16 << 20),
            ..Default::default()
        },
    )
    .await;
    assert!(got == big);
    assert_eq!(d.bytes_transferred, big.len() as u64);
    let before = requests_to(&s, "download").len();
    let (got, _) = fetch(
        &c,
        "boxBig",
        DownloadOptions {
            chunk_size: Some(1 << 20),
            connections: Some(4),
            ..Default::default()
        },
    )
    .await;
    assert!(got == big);
    assert_eq!(
        requests_to(&s, "download").len() - before,
        10,
        "one request per 1 MiB chunk"
    );
}

/// How many download requests the server saw.
fn ranges_asked(s: &TestServer) -> usize {
    requests_to(s, "download").len()
}

#[tokio::test]
async fn with_no_connections_given_a_slow_link_is_split_and_a_fast_one_is_not() {
    let data = bytes_of(6 * 1024 * 1024, 5);
    let s = TestServer::start(world(&[("boxS", "s.bin", &data)])).await;
    let c = client(&s, "cli_std"); // Feishu's 5 requests/s
    // Fast (loopback): the first answer is the whole media.
    let (got, d) = fetch(&c, "boxS", DownloadOptions::default()).await;
    assert!(got == data);
    assert_eq!(d.bytes_transferred, data.len() as u64);
    assert_eq!(ranges_asked(&s), 1, "a fast link is not split");

    // 3 MB/s a connection after 100 ms: one would take 2.2 s; split, each byte once.
    s.state.faults.set(
        parse_rules(
            br#"[{"endpoint":"download","action":{"first_byte_ms":100,"bandwidth_bytes_per_s":3000000}}]"#,
        )
        .unwrap(),
    );
    s.state.requests.clear();
    let (got, d) = fetch(&c, "boxS", DownloadOptions::default()).await;
    assert!(got == data);
    assert_eq!(
        d.bytes_transferred,
        data.len() as u64,
        "no byte is fetched twice"
    );
    let asked = ranges_asked(&s);
    assert!((3..=16).contains(&asked), "{asked} requests");
    // Every one of them a range.
    let statuses: Vec<u16> = requests_to(&s, "download")
        .iter()
        .map(|r| r.status)
        .collect();
    assert!(statuses.iter().all(|st| *st == 206), "{statuses:?}");
}

#[tokio::test]
async fn a_measured_first_answer_that_breaks_off_is_continued() {
    let data = bytes_of(6 * 1024 * 1024, 6);
    let s = TestServer::start(world(&[("boxC", "c.bin", &data)])).await;
    let c = client(&s, "cli_std");
    // The first answer breaks after 1 MB, after it was measured; every answer is slow.
    s.state.faults.set(
        parse_rules(
            br#"[{"endpoint":"download","times":1,"action":{"cut_after_bytes":1000000,"bandwidth_bytes_per_s":3000000}},
                 {"endpoint":"download","action":{"bandwidth_bytes_per_s":3000000}}]"#,
        )
        .unwrap(),
    );
    let (got, _) = fetch(&c, "boxC", DownloadOptions::default()).await;
    assert!(got == data);
    assert!(ranges_asked(&s) >= 3);
}

#[tokio::test]
async fn faults_are_survived_with_as_few_retries_as_they_force() {
    let data = bytes_of(3 * 1024 * 1024, 2);
    let s = TestServer::start(world(&[("boxF", "f.bin", &data)])).await;
    let c = client(&s, "cli_free");
    let opts = DownloadOptions {
        chunk_size: Some(1 << 20),
        connections: Some(2),
        ..Default::default()
    };
    for (rules, extra_requests) in [
        (
            r#"[{"endpoint":"download","times":2,"action":{"cut_after_bytes":1000}}]"#,
            2,
        ),
        (
            r#"[{"endpoint":"download","times":2,"action":{"status":500,"code":1061001}}]"#,
            2,
        ),
        (
            r#"[{"endpoint":"download","times":1,"action":{"status":200,"code":1061045}}]"#,
            1,
        ),
        (
            r#"[{"endpoint":"download","times":2,"action":{"status":503,"code":1061045}}]"#,
            2,
        ),
        (
            r#"[{"endpoint":"download","times":2,"action":{"delay_ms":200}}]"#,
            0,
        ),
        (
            r#"[{"endpoint":"download","times":1,"action":{"status":429,"code":99991400}}]"#,
            1,
        ),
    ] {
        s.state.faults.set(parse_rules(rules.as_bytes()).unwrap());
        s.state.requests.clear();
        let (got, _) = fetch(&c, "boxF", opts.clone()).await;
        assert!(got == data, "{rules}");
        assert_eq!(
            requests_to(&s, "download").len(),
            3 + extra_requests,
            "{rules}"
        );
    }
}

#[tokio::test]
async fn client_errors_are_not_retried_and_carry_the_log_id() {
    let s = TestServer::start(world(&[])).await;
    let c = client(&s, "cli_free");
    let dir = tempfile::tempdir().unwrap();
    let e = c
        .download_to_dir(
            "boxNope",
            dir.path(),
            &DownloadOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap_err();
    let Error::Api {
        status,
        code,
        log_id,
        ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!((*status, *code), (404, 1061003));
    assert!(log_id.as_ref().is_some_and(|l| l.len() >= 20));
    assert_eq!(requests_to(&s, "download").len(), 1, "404 is not retried");
    assert!(e.hint().is_some());
    let bad = Client::builder(&s.base)
        .app_credentials("cli_free", "wrong")
        .build()
        .unwrap();
    let e = bad
        .download_to_dir(
            "boxNope",
            dir.path(),
            &DownloadOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(10014));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[tokio::test]
async fn one_token_fetch_for_many_concurrent_requests() {
    let s = TestServer::start(world(&[("boxA", "a.txt", b"aaa")])).await;
    let c = client(&s, "cli_free");
    let dir = tempfile::tempdir().unwrap();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (c, out) = (c.clone(), dir.path().join(i.to_string()));
        tasks.push(tokio::spawn(async move {
            c.download_to_dir(
                "boxA",
                &out,
                &DownloadOptions::default(),
                Arc::new(NoProgress),
            )
            .await
            .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(requests_to(&s, "tenant_access_token").len(), 1);
}

#[tokio::test]
async fn thirty_files_within_five_per_second_and_no_429() {
    let files: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| (format!("boxQ{i}"), bytes_of(1000 + i, i as u32)))
        .collect();
    let media: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(t, b)| (t.as_str(), t.as_str(), b.as_slice()))
        .collect();
    let s = TestServer::start(world(&media)).await;
    let c = client(&s, "cli_std"); // the server enforces 5/s for this app
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (token, _) in &files {
        let (c, token, out) = (c.clone(), token.clone(), dir.path().to_owned());
        tasks.push(tokio::spawn(async move {
            c.download_to_dir(
                &token,
                &out,
                &DownloadOptions::default(),
                Arc::new(NoProgress),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let took = started.elapsed();
    let downloads = requests_to(&s, "download");
    assert_eq!(downloads.len(), 30);
    assert!(
        downloads.iter().all(|r| r.status == 206),
        "no 429: {:?}",
        downloads.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    // 30 requests at 5/s: a little under 6 s, never much over.
    assert!(
        took >= Duration::from_millis(5400) && took <= Duration::from_secs(9),
        "{took:?}"
    );
    for (token, bytes) in &files {
        assert_eq!(std::fs::read(dir.path().join(token)).unwrap(), *bytes);
    }
}

#[tokio::test]
async fn hostile_names_are_saved_inside_the_folder() {
    let long = format!("{}.txt", "名".repeat(1000));
    let names = [
        "../../x",
        "a/b",
        "CON",
        long.as_str(),
        "tab\tand\nnewline",
        "..",
        "/etc/passwd",
    ];
    let media: Vec<(String, String)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("boxH{i}"), n.to_string()))
        .collect();
    let refs: Vec<(&str, &str, &[u8])> = media
        .iter()
        .map(|(t, n)| (t.as_str(), n.as_str(), &b"hostile"[..]))
        .collect();
    let s = TestServer::start(world(&refs)).await;
    let c = client(&s, "cli_free");
    let dir = tempfile::tempdir().unwrap();
    for (token, name) in &media {
        let d = c
            .download_to_dir(
                token,
                dir.path(),
                &DownloadOptions::default(),
                Arc::new(NoProgress),
            )
            .await
            .unwrap();
        assert_eq!(
            d.path.parent(),
            Some(dir.path()),
            "{name:?} -> {:?}",
            d.path
        );
        let file = d.path.file_name().unwrap().to_str().unwrap();
        assert!(
            !file.contains('/') && !file.contains('\\') && !file.chars().any(char::is_control),
            "{file:?}"
        );
        assert!(file.len() <= 200 && !file.is_empty() && file != "..");
        assert_eq!(std::fs::read(&d.path).unwrap(), b"hostile");
    }
    // And an existing file is not overwritten without force.
    let e = c
        .download_to_dir(
            "boxH2",
            dir.path(),
            &DownloadOptions::default(),
            Arc::new(NoProgress),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Exists(_)), "{e}");
    c.download_to_dir(
        "boxH2",
        dir.path(),
        &DownloadOptions {
            force: true,
            ..Default::default()
        },
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
}

/// Uploads into the manifest's document.
fn docx_target() -> UploadTarget {
    UploadTarget {
        parent_type: "docx_file".into(),
        parent_node: "blk".into(),
        extra: Some(r#"{"drive_route_token":"dox"}"#.into()),
    }
}

#[tokio::test]
async fn uploads_of_every_size_come_back_identical() {
    let s = TestServer::start(world(&[])).await;
    let c = client(&s, "cli_free");
    let target = docx_target();
    let dir = tempfile::tempdir().unwrap();
    let twenty = 20 * 1024 * 1024;
    for (name, size) in [
        ("zero.bin", 0usize),
        ("twenty.bin", twenty),
        ("twenty-plus.bin", twenty + 1),
        ("nine.bin", 9 * 1024 * 1024 + 5),
    ] {
        let data = bytes_of(size, size as u32);
        let path = dir.path().join(name);
        std::fs::write(&path, &data).unwrap();
        let sent = std::sync::atomic::AtomicU64::new(0);
        let token = c
            .upload_file(&path, name, &target, &|n| {
                sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            })
            .await
            .unwrap();
        assert_eq!(sent.into_inner(), size as u64, "{name}");
        let (got, d) = fetch(
            &c,
            &token,
            DownloadOptions {
                chunk_size: Some(4 << 20),
                ..Default::default()
            },
        )
        .await;
        assert!(got == data, "{name}");
        assert_eq!(d.file_name, name);
    }
    // Up to 20 MiB goes whole (0 B, 20 MiB, 9 MiB); 20 MiB + 1 goes in 6 blocks.
    assert_eq!(requests_to(&s, "upload_all").len(), 3);
    assert_eq!(requests_to(&s, "upload_part").len(), 6);
    let links = c.tmp_download_urls(&[], None).await.unwrap_err();
    assert_eq!(links.code(), Some(1061002));
}

/// An `upload_finish` whose answer is cut is retried, and the retry gets the token the
/// first call created: the upload succeeds, with one media.
#[tokio::test]
async fn a_finish_whose_answer_was_lost_answers_its_token_again() {
    let s = TestServer::start(world(&[])).await;
    let c = client(&s, "cli_free");
    let target = docx_target();
    s.state.faults.set(
        parse_rules(br#"[{"endpoint":"upload_finish","times":1,"action":{"cut_after_bytes":10}}]"#)
            .unwrap(),
    );
    let data = bytes_of(20 * 1024 * 1024 + 1, 9);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    std::fs::write(&path, &data).unwrap();
    let media_before = s.state.meta.list_media().await.unwrap().len();
    let token = c
        .upload_file(&path, "big.bin", &target, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        requests_to(&s, "upload_finish").len(),
        2,
        "the cut answer is retried"
    );
    assert_eq!(
        s.state.meta.list_media().await.unwrap().len(),
        media_before + 1
    );
    let (got, _) = fetch(&c, &token, DownloadOptions::default()).await;
    assert!(got == data);
}

/// A chunked upload cut short resumes from its journal: a second call sends only the
/// blocks the server did not acknowledge, and reports exactly the file's size in all.
/// A journal whose upload the server has forgotten starts over.
#[tokio::test]
async fn an_interrupted_chunked_upload_resumes_with_only_the_missing_blocks() {
    let s = TestServer::start(world(&[])).await;
    let c = client(&s, "cli_free");
    let target = docx_target();
    let data = bytes_of(5 * 4 * 1024 * 1024 + 100, 11); // 6 blocks
    let dir = tempfile::tempdir().unwrap();
    let journals = dir.path().join("journals");
    let path = dir.path().join("six.bin");
    std::fs::write(&path, &data).unwrap();
    let reported = std::sync::atomic::AtomicU64::new(0);
    let on_bytes = |n: u64| {
        reported.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    };
    let journal_files = || std::fs::read_dir(&journals).map_or(0, |d| d.count());
    // Every third block is refused (a 400 is not retried): the first run fails with two
    // blocks missing.
    let refuse_every_third = || {
        s.state.faults.set(
            parse_rules(
                br#"[{"endpoint":"upload_part","every":3,"action":{"status":400,"code":1062009}}]"#,
            )
            .unwrap(),
        )
    };
    refuse_every_third();
    let cut = c
        .upload_file_resumable(&path, "six.bin", &target, &journals, &on_bytes)
        .await
        .unwrap_err();
    assert_eq!(cut.code(), Some(1062009));
    assert_eq!(journal_files(), 1);
    // A refused block is sometimes retried (the refusal can come before the whole block
    // was sent), so which blocks went through is read from the journal.
    let acked = journal_acked(&journals);
    assert!((3..6).contains(&acked), "{acked} blocks acknowledged");
    s.state.faults.set(Vec::new());
    s.state.requests.clear();
    reported.store(0, std::sync::atomic::Ordering::Relaxed);

    let token = c
        .upload_file_resumable(&path, "six.bin", &target, &journals, &on_bytes)
        .await
        .unwrap();
    assert_eq!(
        requests_to(&s, "upload_prepare").len(),
        0,
        "the same upload id"
    );
    assert_eq!(
        requests_to(&s, "upload_part").len(),
        6 - acked,
        "only the missing blocks"
    );
    assert_eq!(requests_to(&s, "upload_finish").len(), 1);
    assert_eq!(reported.into_inner(), data.len() as u64);
    assert_eq!(journal_files(), 0, "the journal goes with the upload");
    let (got, _) = fetch(&c, &token, DownloadOptions::default()).await;
    assert!(got == data);

    // Cut short again, then the server forgets the upload (it expired): starting over.
    refuse_every_third();
    c.upload_file_resumable(&path, "six.bin", &target, &journals, &|_| {})
        .await
        .unwrap_err();
    let acked = journal_acked(&journals);
    s.state.faults.set(Vec::new());
    // Every session the server holds (its expiry sweep lists them all at i64::MAX).
    for id in s.state.meta.expired_uploads(i64::MAX).await.unwrap() {
        let mut expired = s.state.meta.upload(&id).await.unwrap().unwrap();
        expired.expires_at_ms = 1;
        s.state.meta.put_upload(&expired).await.unwrap();
    }
    s.state.requests.clear();
    let token = c
        .upload_file_resumable(&path, "six.bin", &target, &journals, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        requests_to(&s, "upload_prepare").len(),
        1,
        "a new upload id"
    );
    assert_eq!(
        requests_to(&s, "upload_part").len(),
        6 - acked + 6,
        "the missing ones refused, then all"
    );
    let (got, _) = fetch(&c, &token, DownloadOptions::default()).await;
    assert!(got == data);
    assert_eq!(journal_files(), 0);
}

/// A block refused before the server read it gets its refusal, not a reset: with no
/// retries at all, every failed upload reports the server's code.
#[tokio::test]
async fn refused_blocks_are_answered_not_reset() {
    let s = TestServer::start(world(&[])).await;
    let c = Client::builder(&s.base)
        .app_credentials("cli_free", "s")
        .quota(Quota {
            per_second: 0,
            per_day: 1_000_000,
        })
        .retry(RetryPolicy {
            max_attempts: 1,
            ..fast_retries()
        })
        .build()
        .unwrap();
    s.state.faults.set(
        parse_rules(br#"[{"endpoint":"upload_part","action":{"status":400,"code":1062009}}]"#)
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    std::fs::write(&path, bytes_of(20 * 1024 * 1024 + 1, 3)).unwrap();
    for _ in 0..8 {
        let e = c
            .upload_file(&path, "big.bin", &docx_target(), &|_| {})
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(1062009), "{e}");
    }
}

/// How many blocks the one upload journal in `dir` has acknowledged.
fn journal_acked(dir: &std::path::Path) -> usize {
    let entry = std::fs::read_dir(dir).unwrap().next().unwrap().unwrap();
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
    journal["done"].as_array().unwrap().len()
}

/// A server that lies about ranges: the SDK must stop rather than write wrong bytes.
#[tokio::test]
async fn a_wrong_content_range_stops_the_download() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let resp = if req.starts_with("POST") {
                    let body = r#"{"code":0,"msg":"ok","tenant_access_token":"t-x","expire":7200}"#;
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                } else if req.contains("Range: bytes=0-") || req.contains("range: bytes=0-") {
                    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-3/8\r\nContent-Length: 4\r\nETag: \"e\"\r\n\r\nabcd".to_owned()
                } else {
                    // Asked for 4-7, answers 0-3.
                    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-3/8\r\nContent-Length: 4\r\nETag: \"e\"\r\n\r\nabcd".to_owned()
                };
                let _ = conn.write_all(resp.as_bytes()).await;
            });
        }
    });
    let c = Client::builder(&base)
        .app_credentials("a", "b")
        .quota(Quota {
            per_second: 0,
            per_day: 100,
        })
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = DownloadOptions {
        chunk_size: Some(64 * 1024),
        ..Default::default()
    };
    // The chunk is 64 KiB, so the first answer must cover 0-7; it covers 0-3.
    let e = c
        .download_to_dir("boxLie", dir.path(), &opts, Arc::new(NoProgress))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Inconsistent(_)), "{e}");
    assert!(!dir.path().join("boxLie").exists());
}
