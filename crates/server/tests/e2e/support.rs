//! The world every test shares, and helpers that check envelopes the same way each time.

use feishu_media_proto::envelope::ErrorEnvelope;
pub use feishu_media_testkit::{Backend, TestServer};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// 100 bytes whose value is their offset: any misplaced byte shows.
pub fn hundred() -> Vec<u8> {
    (0u8..100).collect()
}

pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot-really-a-png";

pub fn world() -> Value {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    json!({
        "apps": [
            {"app_id": "cli_a", "app_secret": "sec-a", "tenant_key": "acme",
             "scopes": ["drive:drive:readonly", "bitable:app"], "rate_limit": null},
            {"app_id": "cli_noscope", "app_secret": "sec-n", "tenant_key": "acme",
             "scopes": ["contact:user:readonly", "docs:document.media:upload"]},
            {"app_id": "cli_other", "app_secret": "sec-o", "tenant_key": "globex", "scopes": ["drive:drive"]},
            {"app_id": "cli_stranger", "app_secret": "sec-s", "tenant_key": "acme", "scopes": ["drive:drive"]},
            {"app_id": "cli_viewer", "app_secret": "sec-v", "tenant_key": "acme", "scopes": ["bitable:app:readonly"]},
                        {"app_id": "cli_up", "app_secret": "sec-u", "tenant_key": "acme", "scopes": ["drive:drive"], "rate_limit": null},
            {"app_id": "cli_lim", "app_secret": "sec-l", "tenant_key": "acme", "scopes": ["drive:drive"]},
            {"app_id": "cli_lim2", "app_secret": "sec-l2", "tenant_key": "acme", "scopes": ["drive:drive"],
             "rate_limit": {"per_second": 2, "per_day": 3}}
        ],
        "users": [
            {"user_id": "ou_alice", "tenant_key": "acme", "name": "Alice"},
                        {"user_id": "ou_bob", "tenant_key": "acme"},
            {"user_id": "ou_lim", "tenant_key": "acme"}
        ],
        "user_tokens": [
            {"token": "u-alice", "app_id": "cli_a", "user_id": "ou_alice", "scopes": ["docs:doc:readonly"]},
            {"token": "eyJalice", "app_id": "cli_a", "user_id": "ou_alice", "scopes": ["drive:drive"]},
            {"token": "u-expired", "app_id": "cli_a", "user_id": "ou_alice", "scopes": ["drive:drive"], "expires_in": -10},
            {"token": "u-noscope", "app_id": "cli_a", "user_id": "ou_alice", "scopes": ["docs:document.media:upload"]},
                        {"token": "u-bob", "app_id": "cli_a", "user_id": "ou_bob", "scopes": ["drive:drive"]},
            {"token": "u-lim", "app_id": "cli_lim", "user_id": "ou_alice", "scopes": ["drive:drive"]}
        ],
        "documents": [
            {"token": "doxA", "type": "docx", "tenant_key": "acme", "owner": "user:ou_alice",
             "members": [{"principal": "app:cli_a", "role": "view"}, {"principal": "app:cli_noscope", "role": "edit"},
                         {"principal": "app:cli_up", "role": "edit"}, {"principal": "app:cli_lim", "role": "edit"},
                         {"principal": "app:cli_lim2", "role": "view"}]},
            {"token": "shtA", "type": "sheet", "tenant_key": "acme",
             "members": [{"principal": "app:cli_up", "role": "edit"}]},
            {"token": "basA", "type": "bitable", "tenant_key": "acme", "owner": "user:ou_alice",
             "advanced_permission": true,
             "members": [{"principal": "app:cli_a", "role": "manage"}, {"principal": "app:cli_viewer", "role": "view"},
                         {"principal": "app:cli_up", "role": "manage"}]},
            {"token": "basOpen", "type": "bitable", "tenant_key": "acme",
             "members": [{"principal": "app:cli_a", "role": "view"}]},
            {"token": "doxG", "type": "docx", "tenant_key": "globex", "owner": "app:cli_other"}
        ],
        "media": [
            {"file_token": "boxHundred", "document": "doxA", "parent_type": "docx_file",
             "file_name": "hundred.bin", "content_base64": b64(&hundred())},
            {"file_token": "boxCn", "document": "doxA", "parent_type": "docx_image",
             "file_name": "架构图 \"v2\".png", "content_base64": b64(PNG)},
            {"file_token": "boxReport", "document": "doxA", "parent_type": "docx_file",
             "file_name": "季度报告 Q3.pdf", "content_text": "%PDF-1.4 report"},
            {"file_token": "boxEmpty", "document": "doxA", "parent_type": "docx_file",
             "file_name": "empty.txt", "content_text": ""},
            {"file_token": "boxDeleted", "document": "doxA", "parent_type": "docx_file",
             "file_name": "gone.txt", "content_text": "gone", "deleted": true},
            {"file_token": "boxBit", "document": "basA", "parent_type": "bitable_file",
             "file_name": "q3.xlsx", "content_text": "bitable bytes",
             "bitable": {"table_id": "tbl1", "field_id": "fld1", "record_id": "rec1"}},
            {"file_token": "boxOpenBit", "document": "basOpen", "parent_type": "bitable_image",
             "file_name": "open.png", "content_text": "open bitable",
             "bitable": {"table_id": "tbl2", "field_id": "fld2", "record_id": "rec2"}},
            {"file_token": "boxG", "document": "doxG", "parent_type": "docx_file",
             "file_name": "globex.txt", "content_text": "globex"}
        ]
    })
}

pub async fn server() -> TestServer {
    TestServer::start(world()).await
}

pub fn client() -> reqwest::Client {
    feishu_media_testkit::http()
}

/// GET (or another method) with a bearer token and extra headers.
pub async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = client().request(method, url);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request")
}

pub async fn get(url: &str, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    call(reqwest::Method::GET, url, Some(token), headers).await
}

/// Asserts a JSON error envelope with this status and code, whose log id is the one in
/// `X-Tt-Logid`; returns it for further checks.
pub async fn expect_error(
    resp: reqwest::Response,
    status: u16,
    code: i64,
) -> (HeaderMap, ErrorEnvelope) {
    let headers = resp.headers().clone();
    let got_status = resp.status().as_u16();
    let body = resp.bytes().await.expect("body");
    let text = String::from_utf8_lossy(&body);
    assert_eq!(got_status, status, "status; body {text}");
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json; charset=utf-8"),
        "error content type"
    );
    let env: ErrorEnvelope =
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(env.code, code, "code; body {text}");
    let log_id = headers
        .get("x-tt-logid")
        .and_then(|v| v.to_str().ok())
        .expect("X-Tt-Logid");
    assert_eq!(
        env.error.as_ref().map(|e| e.log_id.as_str()),
        Some(log_id),
        "log id in body and header"
    );
    (headers, env)
}

/// [`expect_error`], and the refusal's reason (`error.troubleshooter`).
pub async fn expect_hint(resp: reqwest::Response, status: u16, code: i64) -> String {
    let (_, env) = expect_error(resp, status, code).await;
    env.error
        .and_then(|e| e.troubleshooter)
        .expect("a troubleshooter hint")
}

pub fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// One raw HTTP/1.1 request, exactly as written (no client normalizes the path).
/// Returns the status line's code, the head (lower-cased) and the body.
pub async fn raw_request(base: &str, request_line_and_headers: &str) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("{request_line_and_headers}Host: {addr}\r\nConnection: close\r\n\r\n");
    conn.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    (status, head, raw[split + 4..].to_vec())
}

/// A `multipart/form-data` body built by hand, to pin exactly what goes on the wire:
/// `(name, filename, bytes)` per part, in order. Returns (content type, body).
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----feishuMediaTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (name, filename, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// POSTs a multipart body with a bearer token.
pub async fn post_multipart(
    url: &str,
    token: &str,
    parts: &[(&str, Option<&str>, &[u8])],
) -> reqwest::Response {
    let (ct, body) = multipart(parts);
    client()
        .post(url)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", ct)
        .body(body)
        .send()
        .await
        .expect("request")
}

/// POSTs JSON with a bearer token.
pub async fn post_json(url: &str, token: &str, body: &Value) -> reqwest::Response {
    client()
        .post(url)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

/// The `data` of a success envelope; panics (showing the body) on anything else.
pub async fn expect_data(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let body: Value = resp.json().await.expect("JSON body");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], 0, "{body}");
    assert_eq!(body["msg"], "success", "{body}");
    body["data"].clone()
}

/// Files in the data dir's temp folder (should be none between requests).
pub fn temp_files(s: &TestServer) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(s.dir.join("tmp"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

pub const ADMIN: &str = "adm-test-token";

/// The shared world with the admin API on (token [`ADMIN`]).
pub async fn admin_server() -> TestServer {
    TestServer::start_with_config(world(), |c| {
        c.admin_token = Some(ADMIN.into());
        // Rate limits in these tests count requests, not how fast the machine sends them.
        c.frozen_clock = true;
    })
    .await
}

/// An admin API call.
pub async fn admin(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = client()
        .request(method, s.url(&format!("/_admin/v1{path}")))
        .header("Authorization", format!("Bearer {ADMIN}"));
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    req.send().await.expect("admin request")
}
