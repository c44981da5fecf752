//! Fault injection, each action seen from a raw client.

use crate::support::*;
use reqwest::Method;
use serde_json::json;

async fn set_faults(s: &TestServer, rules: serde_json::Value) {
    expect_data(admin(s, Method::PUT, "/faults", Some(rules)).await).await;
}

#[tokio::test]
async fn status_actions_fire_the_next_n_times() {
    let s = admin_server().await;
    let url = s.download_url("boxHundred");
    set_faults(
        &s,
        json!([{"endpoint": "download", "file_token": "boxHundred", "times": 2,
        "action": {"status": 500, "code": 1061001}}]),
    )
    .await;
    for _ in 0..2 {
        let (_, env) = expect_error(get(&url, "u-alice", &[]).await, 500, 1061001).await;
        assert_eq!(env.msg, "internal error.");
    }
    assert_eq!(get(&url, "u-alice", &[]).await.status(), 200);
    // Another token did not match the rule.
    assert_eq!(
        get(&s.download_url("boxCn"), "u-alice", &[]).await.status(),
        200
    );
    let rules = expect_data(admin(&s, Method::GET, "/faults", None).await).await;
    assert_eq!(
        (rules[0]["matched"].as_u64(), rules[0]["fired"].as_u64()),
        (Some(3), Some(2))
    );
}

#[tokio::test]
async fn a_429_and_a_200_with_an_error_code() {
    let s = admin_server().await;
    let url = s.download_url("boxHundred");
    set_faults(&s, json!([
        {"endpoint": "download", "app_id": "cli_a", "times": 1, "action": {"status": 429, "code": 99991400}},
        {"endpoint": "*", "times": 1, "action": {"status": 200, "code": 1061045}}
    ])).await;
    let (_, env) = expect_error(get(&url, "u-alice", &[]).await, 429, 99991400).await;
    assert_eq!(env.msg, "request trigger frequency limit");
    let resp = get(&url, "u-alice", &[]).await;
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (v["code"].as_i64(), v["msg"].as_str()),
        (Some(1061045), Some("can retry."))
    );
    assert_eq!(get(&url, "u-alice", &[]).await.status(), 200);
}

#[tokio::test]
async fn every_nth_and_seeded_probability() {
    let s = admin_server().await;
    let url = s.download_url("boxHundred");
    set_faults(
        &s,
        json!([{"endpoint": "download", "every": 3, "action": {"status": 503, "code": 1061045}}]),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(get(&url, "u-alice", &[]).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 503, 200, 200, 503]);

    let rule = json!([{"endpoint": "download", "probability": 0.5, "seed": 42, "action": {"status": 500, "code": 1061001}}]);
    let mut runs = Vec::new();
    for _ in 0..2 {
        set_faults(&s, rule.clone()).await;
        let mut run = Vec::new();
        for _ in 0..16 {
            run.push(get(&url, "u-alice", &[]).await.status().as_u16());
        }
        runs.push(run);
    }
    assert_eq!(runs[0], runs[1], "the same seed fires on the same requests");
    assert!(
        runs[0].contains(&500) && runs[0].contains(&200),
        "{:?}",
        runs[0]
    );
}

#[tokio::test]
async fn a_delay_holds_the_answer_back() {
    let s = admin_server().await;
    set_faults(
        &s,
        json!([{"endpoint": "download", "times": 1, "action": {"delay_ms": 300}}]),
    )
    .await;
    let started = std::time::Instant::now();
    let resp = get(&s.download_url("boxHundred"), "u-alice", &[]).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(
        resp.bytes().await.unwrap(),
        hundred(),
        "then the real answer"
    );
}

#[tokio::test]
async fn a_cut_closes_the_connection_mid_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = admin_server().await;
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    use base64::Engine;
    let manifest = json!({"media": [{"file_token": "boxBig", "document": "doxA", "parent_type": "docx_file",
        "file_name": "big.bin", "content_base64": base64::engine::general_purpose::STANDARD.encode(&big)}]});
    expect_data(admin(&s, Method::POST, "/seed", Some(manifest)).await).await;
    set_faults(
        &s,
        json!([{"endpoint": "download", "times": 1, "action": {"cut_after_bytes": 1000}}]),
    )
    .await;

    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    conn.write_all(format!("GET /open-apis/drive/v1/medias/boxBig/download HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer u-alice\r\n\r\n").as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        conn.read_to_end(&mut raw),
    )
    .await
    .expect("the server closed the connection");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-length: 300000"), "{head}");
    let body = &raw[split + 4..];
    assert_eq!(
        body.len(),
        1000,
        "exactly the allowed bytes, then the close"
    );
    assert_eq!(body, &big[..1000]);
    // The next request is whole again.
    assert_eq!(
        get(&s.download_url("boxBig"), "u-alice", &[])
            .await
            .bytes()
            .await
            .unwrap(),
        big
    );
}

#[tokio::test]
async fn bad_rules_are_refused_whole_and_upload_and_link_endpoints_match() {
    let s = admin_server().await;
    set_faults(
        &s,
        json!([{"endpoint": "tmp_link", "action": {"status": 500, "code": 1061001}}]),
    )
    .await;
    let (_, env) = expect_error(
        admin(
            &s,
            Method::PUT,
            "/faults",
            Some(json!([
                {"endpoint": "download", "action": {"delay_ms": 1}},
                {"endpoint": "download", "action": {"status": 500}}
            ])),
        )
        .await,
        400,
        1061002,
    )
    .await;
    assert!(
        env.error
            .unwrap()
            .troubleshooter
            .unwrap()
            .starts_with("[1].action")
    );
    let rules = expect_data(admin(&s, Method::GET, "/faults", None).await).await;
    assert_eq!(rules.as_array().unwrap().len(), 1, "the old rules stay");
    assert_eq!(rules[0]["endpoint"], "tmp_link");

    // The tmp-link rule fires on links only.
    let token = s.tenant_token("cli_a", "sec-a").await;
    let d = expect_data(
        get(
            &s.url("/open-apis/drive/v1/medias/batch_get_tmp_download_url?file_tokens=boxHundred"),
            &token,
            &[],
        )
        .await,
    )
    .await;
    let link = d["tmp_download_urls"][0]["tmp_download_url"]
        .as_str()
        .unwrap();
    expect_error(call(Method::GET, link, None, &[]).await, 500, 1061001).await;

    set_faults(
        &s,
        json!([{"endpoint": "upload_prepare", "action": {"status": 400, "code": 1061044}}]),
    )
    .await;
    let up = s.tenant_token("cli_up", "sec-u").await;
    let body = json!({"file_name": "a", "parent_type": "docx_file", "parent_node": "b", "size": 1, "extra": r#"{"drive_route_token":"doxA"}"#});
    expect_error(
        post_json(
            &s.url("/open-apis/drive/v1/medias/upload_prepare"),
            &up,
            &body,
        )
        .await,
        400,
        1061044,
    )
    .await;
    expect_data(admin(&s, Method::DELETE, "/faults", None).await).await;
    expect_data(
        post_json(
            &s.url("/open-apis/drive/v1/medias/upload_prepare"),
            &up,
            &body,
        )
        .await,
    )
    .await;
}

/// Reads a download on a raw connection: (time to the head, time to the first body
/// byte, time to the last, the body), all from when the request was written.
async fn timed_download(
    s: &TestServer,
    token: &str,
) -> (
    std::time::Duration,
    std::time::Duration,
    std::time::Duration,
    Vec<u8>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = std::time::Instant::now();
    conn.write_all(
        format!("GET /open-apis/drive/v1/medias/{token}/download HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer u-alice\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let (mut head_at, mut first_at, mut last_at) = (None, None, started.elapsed());
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut body_from = None;
    loop {
        let n = conn.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if body_from.is_none()
            && let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n")
        {
            body_from = Some(p + 4);
            head_at = Some(started.elapsed());
        }
        if let Some(b) = body_from
            && raw.len() > b
        {
            first_at.get_or_insert(started.elapsed());
            last_at = started.elapsed();
        }
    }
    let b = body_from.expect("a head");
    (
        head_at.unwrap(),
        first_at.unwrap(),
        last_at,
        raw[b..].to_vec(),
    )
}

#[tokio::test]
async fn slow_links_shape_the_body_to_their_rate_and_first_byte() {
    let s = admin_server().await;
    let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    use base64::Engine;
    let manifest = json!({"media": [{"file_token": "boxSlow", "document": "doxA", "parent_type": "docx_file",
        "file_name": "slow.bin", "content_base64": base64::engine::general_purpose::STANDARD.encode(&big)}]});
    expect_data(admin(&s, Method::POST, "/seed", Some(manifest)).await).await;

    // 2 MB at 2 MB/s: a second from the first byte to the last.
    set_faults(
        &s,
        json!([{"endpoint": "download", "file_token": "boxSlow",
                "action": {"bandwidth_bytes_per_s": 2_000_000}}]),
    )
    .await;
    let (_, first, last, body) = timed_download(&s, "boxSlow").await;
    assert_eq!(body, big, "every byte, in order");
    let rate = big.len() as f64 / (last - first).as_secs_f64();
    assert!(
        (1_600_000.0..=2_400_000.0).contains(&rate),
        "{rate:.0} bytes/s, not 2 MB/s within 20%"
    );

    // A wait before the first byte (the head comes first), combined with a rate.
    set_faults(
        &s,
        json!([{"endpoint": "download", "file_token": "boxSlow",
                "action": {"first_byte_ms": 400, "bandwidth_bytes_per_s": 8_000_000}}]),
    )
    .await;
    let (head, first, last, body) = timed_download(&s, "boxSlow").await;
    assert_eq!(body, big);
    assert!(
        head < std::time::Duration::from_millis(300),
        "head after {head:?}"
    );
    let wait = first.as_secs_f64() * 1000.0;
    assert!(
        (320.0..=480.0).contains(&wait),
        "first byte after {wait:.0} ms, not 400 within 20%"
    );
    let rate = big.len() as f64 / (last - first).as_secs_f64();
    assert!(
        (6_400_000.0..=9_600_000.0).contains(&rate),
        "{rate:.0} bytes/s"
    );

    // Without a rule, no shaping; bad values are refused with their path.
    set_faults(&s, json!([])).await;
    let (_, _, last, _) = timed_download(&s, "boxSlow").await;
    assert!(
        last < std::time::Duration::from_millis(500),
        "{last:?} unshaped"
    );
    for (rules, path) in [
        (
            json!([{"endpoint": "download", "action": {"bandwidth_bytes_per_s": 0}}]),
            "[0].action.bandwidth_bytes_per_s",
        ),
        (
            json!([{"endpoint": "download", "action": {"first_byte_ms": 600001}}]),
            "[0].action.first_byte_ms",
        ),
        (
            json!([{"endpoint": "download", "action": {"first_byte_ms": 5, "status": 500, "code": 1061001}}]),
            "[0].action",
        ),
    ] {
        let hint = expect_hint(
            admin(&s, Method::PUT, "/faults", Some(rules)).await,
            400,
            1061002,
        )
        .await;
        assert!(hint.starts_with(path), "{hint}");
    }
}
