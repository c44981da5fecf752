//! Wire contract §4: upload_all and the chunked upload, every field rule and error code.

use crate::support::*;
use feishu_media_proto::upload::{Adler32, BLOCK_SIZE};
use serde_json::json;

const DOCX_EXTRA: &str = r#"{"drive_route_token":"doxA"}"#;

fn all_url(s: &TestServer) -> String {
    s.url("/open-apis/drive/v1/medias/upload_all")
}

/// The fields of a valid docx upload of `data`, file first (as some SDKs send it).
fn docx_parts<'a>(
    name: &'a str,
    size: &'a str,
    data: &'a [u8],
) -> Vec<(&'a str, Option<&'a str>, &'a [u8])> {
    vec![
        ("file", None, data),
        ("file_name", None, name.as_bytes()),
        ("parent_type", None, b"docx_file"),
        ("parent_node", None, b"blk1"),
        ("size", None, size.as_bytes()),
        ("extra", None, DOCX_EXTRA.as_bytes()),
    ]
}

async fn media_count(s: &TestServer) -> usize {
    s.state.meta.list_media().await.unwrap().len()
}

#[tokio::test]
async fn upload_all_then_download_byte_identical() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let checksum = Adler32::of(&data).to_string();
    let size = data.len().to_string();
    let mut parts = docx_parts("报告 final.pdf", &size, &data);
    parts.push(("checksum", None, checksum.as_bytes()));
    let data_json = expect_data(post_multipart(&all_url(&s), &token, &parts).await).await;
    let file_token = data_json["file_token"].as_str().unwrap();
    assert!(
        file_token.starts_with("boxcn") && file_token.len() == 27,
        "{file_token}"
    );

    let resp = get(&s.download_url(file_token), &token, &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(resp.headers(), "content-type"),
        Some("application/pdf")
    );
    let cd = resp
        .headers()
        .get("content-disposition")
        .unwrap()
        .as_bytes()
        .to_vec();
    assert_eq!(
        feishu_media_proto::disposition::file_name(&cd).as_deref(),
        Some("报告 final.pdf")
    );
    assert_eq!(resp.bytes().await.unwrap(), data);
    assert!(temp_files(&s).is_empty());
}

#[tokio::test]
async fn upload_all_accepts_what_sdks_send() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    // Fields first, a filename and content type on the file part, empty checksum = absent.
    let parts: Vec<(&str, Option<&str>, &[u8])> = vec![
        ("file_name", None, b"a.txt"),
        ("parent_type", None, b"sheet_image"),
        ("parent_node", None, b"shtA"),
        ("size", None, b"5"),
        ("checksum", None, b""),
        ("extra", None, b""),
        ("file", Some("a.txt"), b"hello"),
    ];
    let d = expect_data(post_multipart(&all_url(&s), &token, &parts).await).await;
    let resp = get(
        &s.download_url(d["file_token"].as_str().unwrap()),
        &token,
        &[],
    )
    .await;
    assert_eq!(resp.bytes().await.unwrap(), "hello");

    // Empty files, and the import parent type that names no document.
    let parts: Vec<(&str, Option<&str>, &[u8])> = vec![
        ("file_name", None, b"empty.csv"),
        ("parent_type", None, b"ccm_import_open"),
        ("size", None, b"0"),
        ("file", None, b""),
    ];
    let d = expect_data(post_multipart(&all_url(&s), &token, &parts).await).await;
    let import_token = d["file_token"].as_str().unwrap();
    let resp = get(&s.download_url(import_token), &token, &[]).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.unwrap().is_empty());
    // ...readable by its uploader only.
    let other = s.tenant_token("cli_a", "sec-a").await;
    expect_error(
        get(&s.download_url(import_token), &other, &[]).await,
        403,
        1061004,
    )
    .await;
}

#[tokio::test]
async fn upload_all_field_errors() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let before = media_count(&s).await;
    let url = all_url(&s);

    // Each required field missing in turn.
    for missing in ["file", "file_name", "parent_type", "size"] {
        let parts: Vec<_> = docx_parts("a.txt", "5", b"hello")
            .into_iter()
            .filter(|p| p.0 != missing)
            .collect();
        expect_error(post_multipart(&url, &token, &parts).await, 400, 1061002).await;
    }
    // Bad names (the empty name counts as absent).
    let long = "名".repeat(251);
    for name in ["a/b", "..", "a\u{1}b", "x\\y", long.as_str()] {
        let (_, env) = expect_error(
            post_multipart(&url, &token, &docx_parts(name, "5", b"hello")).await,
            400,
            1061008,
        )
        .await;
        assert!(env.error.unwrap().troubleshooter.is_some());
    }
    expect_error(
        post_multipart(&url, &token, &docx_parts("", "5", b"hello")).await,
        400,
        1061002,
    )
    .await;
    // Size that lies, checksums that lie or are not numbers.
    expect_error(
        post_multipart(&url, &token, &docx_parts("a.txt", "6", b"hello")).await,
        400,
        1062009,
    )
    .await;
    expect_error(
        post_multipart(&url, &token, &docx_parts("a.txt", "five", b"hello")).await,
        400,
        1061002,
    )
    .await;
    for checksum in ["12345", "abc", "-1"] {
        let mut parts = docx_parts("a.txt", "5", b"hello");
        parts.push(("checksum", None, checksum.as_bytes()));
        expect_error(post_multipart(&url, &token, &parts).await, 400, 1062008).await;
    }
    // A second file part.
    let mut parts = docx_parts("a.txt", "5", b"hello");
    parts.push(("file", None, b"again"));
    expect_error(post_multipart(&url, &token, &parts).await, 400, 1061002).await;

    assert_eq!(media_count(&s).await, before, "nothing was stored");
    assert!(temp_files(&s).is_empty(), "{:?}", temp_files(&s));
}

#[tokio::test]
async fn upload_all_targets_and_permissions() {
    let s = server().await;
    let up = s.tenant_token("cli_up", "sec-u").await;
    let url = all_url(&s);
    let with = |parent_type: &'static str,
                node: &'static str,
                extra: &'static str|
     -> Vec<(&'static str, Option<&'static str>, &'static [u8])> {
        vec![
            ("file_name", None, b"a.txt"),
            ("parent_type", None, parent_type.as_bytes()),
            ("parent_node", None, node.as_bytes()),
            ("size", None, b"5"),
            ("extra", None, extra.as_bytes()),
            ("file", None, b"hello"),
        ]
    };
    expect_error(
        post_multipart(&url, &up, &with("wiki_image", "x", "")).await,
        400,
        1061002,
    )
    .await;
    expect_error(
        post_multipart(&url, &up, &with("sheet_file", "shtNope", "")).await,
        400,
        1061044,
    )
    .await;
    // A sheet token where a bitable is expected names no bitable.
    expect_error(
        post_multipart(&url, &up, &with("bitable_file", "shtA", "")).await,
        400,
        1061044,
    )
    .await;
    expect_error(
        post_multipart(&url, &up, &with("docx_image", "blk1", "")).await,
        400,
        1061002,
    )
    .await;
    expect_error(
        post_multipart(&url, &up, &with("docx_image", "blk1", "{not json")).await,
        400,
        1061002,
    )
    .await;
    expect_error(
        post_multipart(
            &url,
            &up,
            &with("docx_image", "blk1", r#"{"drive_route_token":"shtA"}"#),
        )
        .await,
        400,
        1061044,
    )
    .await;
    // View is not enough; another tenant is refused; no upload scope is refused first.
    let viewer = s.tenant_token("cli_a", "sec-a").await;
    let (_, env) = expect_error(
        post_multipart(&url, &viewer, &with("docx_image", "blk1", DOCX_EXTRA)).await,
        403,
        1061004,
    )
    .await;
    assert_eq!(env.error.unwrap().permission_violations[0].subject, "doxA");
    let other = s.tenant_token("cli_other", "sec-o").await;
    expect_error(
        post_multipart(&url, &other, &with("docx_image", "blk1", DOCX_EXTRA)).await,
        403,
        1061004,
    )
    .await;
    let noscope = s.tenant_token("cli_viewer", "sec-v").await;
    let (_, env) = expect_error(
        post_multipart(&url, &noscope, &with("docx_image", "blk1", DOCX_EXTRA)).await,
        400,
        99991672,
    )
    .await;
    assert!(
        env.msg.contains("docs:document.media:upload"),
        "{}",
        env.msg
    );
    // A bitable upload by a manager works, and its download then needs extra like any.
    let d = expect_data(post_multipart(&url, &up, &with("bitable_image", "basA", "")).await).await;
    let t = d["file_token"].as_str().unwrap();
    expect_error(get(&s.download_url(t), &up, &[]).await, 400, 1061002).await;
    let extra = format!(
        r#"{{"bitablePerm":{{"tableId":"tblNew","attachments":{{"fldX":{{"recX":["{t}"]}}}}}}}}"#
    );
    let q = percent_encoding::utf8_percent_encode(&extra, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    assert_eq!(
        get(&format!("{}?extra={q}", s.download_url(t)), &up, &[])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn upload_all_size_limit() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let max = 20 * 1024 * 1024;
    let data = vec![b'x'; max + 1];
    let size = max.to_string();
    expect_error(
        post_multipart(&all_url(&s), &token, &docx_parts("big.bin", &size, &data)).await,
        400,
        1061043,
    )
    .await;
    let over = (max + 1).to_string();
    expect_error(
        post_multipart(
            &all_url(&s),
            &token,
            &docx_parts("big.bin", &over, &data[..5]),
        )
        .await,
        400,
        1061043,
    )
    .await;
    let d = expect_data(
        post_multipart(
            &all_url(&s),
            &token,
            &docx_parts("big.bin", &size, &data[..max]),
        )
        .await,
    )
    .await;
    let resp = get(
        &s.download_url(d["file_token"].as_str().unwrap()),
        &token,
        &[("Range", "bytes=-3")],
    )
    .await;
    assert_eq!(resp.bytes().await.unwrap(), "xxx");
    assert!(temp_files(&s).is_empty());
}

#[tokio::test]
async fn malformed_and_truncated_bodies() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let url = all_url(&s);
    let before = media_count(&s).await;
    // Not multipart at all.
    let resp = client()
        .post(&url)
        .header("Authorization", format!("Bearer {token}"))
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, 1061002).await;
    let resp = client()
        .post(&url)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "multipart/form-data")
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, 1061002).await;
    // A body cut in the middle of the file part (the length is honest, the multipart is not).
    let (ct, body) = multipart(&docx_parts("a.txt", "100000", &[9u8; 100_000]));
    let cut = body[..body.len() / 2].to_vec();
    let resp = client()
        .post(&url)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", ct)
        .body(cut)
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, 1061002).await;
    assert_eq!(media_count(&s).await, before);
    assert!(temp_files(&s).is_empty());
}

#[tokio::test]
async fn a_client_that_disconnects_mid_upload_leaves_nothing() {
    use tokio::io::AsyncWriteExt;
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let before = media_count(&s).await;
    let (ct, body) = multipart(&docx_parts("a.bin", "3000000", &vec![1u8; 3_000_000]));
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /open-apis/drive/v1/medias/upload_all HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body[..1_500_000]).await.unwrap();
    conn.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    drop(conn);
    // The server notices, drops the staged bytes, and goes on serving.
    let mut waited = 0;
    while !temp_files(&s).is_empty() && waited < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        waited += 1;
    }
    assert!(temp_files(&s).is_empty(), "{:?}", temp_files(&s));
    assert_eq!(media_count(&s).await, before);
    assert_eq!(
        get(&s.download_url("boxHundred"), "u-alice", &[])
            .await
            .status(),
        200
    );
}

// --- chunked ---------------------------------------------------------------------------

pub async fn prepare(s: &TestServer, token: &str, name: &str, size: u64) -> reqwest::Response {
    post_json(
        &s.url("/open-apis/drive/v1/medias/upload_prepare"),
        token,
        &json!({"file_name": name, "parent_type": "docx_file", "parent_node": "blk1", "size": size, "extra": DOCX_EXTRA}),
    )
    .await
}

/// A chunked upload of 10 bytes, prepared and its one block sent; its upload id.
pub async fn prepared_with_its_block(s: &TestServer, token: &str) -> String {
    let id = expect_data(prepare(s, token, "x.bin", 10).await).await["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_data(part(s, token, &id, 0, &[1u8; 10], None).await).await;
    id
}

pub async fn part(
    s: &TestServer,
    token: &str,
    upload_id: &str,
    seq: u64,
    data: &[u8],
    checksum: Option<u32>,
) -> reqwest::Response {
    let seq = seq.to_string();
    let size = data.len().to_string();
    let checksum = checksum.map(|c| c.to_string());
    let mut parts: Vec<(&str, Option<&str>, &[u8])> = vec![
        ("upload_id", None, upload_id.as_bytes()),
        ("seq", None, seq.as_bytes()),
        ("size", None, size.as_bytes()),
    ];
    if let Some(c) = &checksum {
        parts.push(("checksum", None, c.as_bytes()));
    }
    parts.push(("file", Some("blob"), data));
    post_multipart(
        &s.url("/open-apis/drive/v1/medias/upload_part"),
        token,
        &parts,
    )
    .await
}

pub async fn finish(
    s: &TestServer,
    token: &str,
    upload_id: &str,
    block_num: u64,
) -> reqwest::Response {
    post_json(
        &s.url("/open-apis/drive/v1/medias/upload_finish"),
        token,
        &json!({"upload_id": upload_id, "block_num": block_num}),
    )
    .await
}

#[tokio::test]
async fn chunked_upload_in_any_order_with_a_retried_block() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let size = 2 * BLOCK_SIZE + 1234;
    let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
    let d = expect_data(prepare(&s, &token, "大文件.bin", size).await).await;
    assert_eq!(d["block_size"], BLOCK_SIZE);
    assert_eq!(d["block_num"], 3);
    let id = d["upload_id"].as_str().unwrap().to_owned();
    let block =
        |seq: u64| &data[(seq * BLOCK_SIZE) as usize..((seq + 1) * BLOCK_SIZE).min(size) as usize];

    expect_data(part(&s, &token, &id, 2, block(2), Some(Adler32::of(block(2)))).await).await;
    // Block 0 first with wrong bytes of the right length, then again with the right ones.
    let wrong = vec![0u8; BLOCK_SIZE as usize];
    expect_data(part(&s, &token, &id, 0, &wrong, None).await).await;
    expect_data(part(&s, &token, &id, 0, block(0), None).await).await;
    // A resend that fails its checksum leaves the block that arrived whole.
    expect_error(
        part(&s, &token, &id, 0, &wrong, Some(1)).await,
        400,
        1062008,
    )
    .await;
    // Finishing with a block missing is refused and keeps the session.
    expect_error(finish(&s, &token, &id, 3).await, 400, 1062010).await;
    // The file part before the fields that place it (the block waits in a temp file).
    let (seq, len) = ("1".to_owned(), block(1).len().to_string());
    expect_data(
        post_multipart(
            &s.url("/open-apis/drive/v1/medias/upload_part"),
            &token,
            &[
                ("file", Some("blob"), block(1)),
                ("upload_id", None, id.as_bytes()),
                ("seq", None, seq.as_bytes()),
                ("size", None, len.as_bytes()),
            ],
        )
        .await,
    )
    .await;
    expect_error(finish(&s, &token, &id, 2).await, 400, 1062011).await;
    let d = expect_data(finish(&s, &token, &id, 3).await).await;
    let file_token = d["file_token"].as_str().unwrap();

    let resp = get(&s.download_url(file_token), &token, &[]).await;
    assert_eq!(resp.bytes().await.unwrap(), data);
    // A finish repeated (its answer lost, say) gets the same token and creates nothing;
    // the finished upload takes no more blocks, and nothing is left behind.
    let media = media_count(&s).await;
    let again = expect_data(finish(&s, &token, &id, 3).await).await;
    assert_eq!(again["file_token"].as_str(), Some(file_token));
    assert_eq!(media_count(&s).await, media);
    expect_error(finish(&s, &token, &id, 2).await, 400, 1062011).await;
    let other = s.tenant_token("cli_noscope", "sec-n").await;
    expect_error(finish(&s, &other, &id, 3).await, 400, 1062007).await;
    expect_error(part(&s, &token, &id, 0, block(0), None).await, 400, 1061021).await;
    assert!(s.state.parts.part_sizes(&id).await.unwrap().is_empty());
    assert!(temp_files(&s).is_empty());
}

#[tokio::test]
async fn chunked_upload_errors() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let size = BLOCK_SIZE + 10;
    let id = expect_data(prepare(&s, &token, "x.bin", size).await).await["upload_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = vec![5u8; 10];

    expect_error(part(&s, &token, &id, 2, &last, None).await, 400, 1062011).await;
    expect_error(
        part(&s, &token, &id, 1, &last[..9], None).await,
        400,
        1062009,
    )
    .await;
    expect_error(part(&s, &token, &id, 0, &last, None).await, 400, 1062009).await;
    expect_error(part(&s, &token, &id, 1, &last, Some(1)).await, 400, 1062008).await;
    expect_error(
        part(&s, &token, "0123456789abcdef", 0, &last, None).await,
        400,
        1061021,
    )
    .await;
    expect_error(
        part(&s, &token, "../../etc", 0, &last, None).await,
        400,
        1061021,
    )
    .await;
    // Another caller (same app, user token) may not touch this upload.
    expect_error(
        part(&s, "u-alice", &id, 1, &last, None).await,
        400,
        99991679,
    )
    .await;
    let other = s.tenant_token("cli_noscope", "sec-n").await;
    expect_error(part(&s, &other, &id, 1, &last, None).await, 400, 1062007).await;
    expect_error(finish(&s, &other, &id, 2).await, 400, 1062007).await;
    expect_error(finish(&s, &token, "nope", 2).await, 400, 1061021).await;
    // A block larger than a block is refused while it arrives.
    expect_error(
        part(
            &s,
            &token,
            &id,
            0,
            &vec![0u8; BLOCK_SIZE as usize + 1],
            None,
        )
        .await,
        400,
        1062009,
    )
    .await;

    // Expired sessions answer like unknown ones (the token is renewed: it expires too).
    s.state
        .clock
        .advance(std::time::Duration::from_secs(24 * 3600));
    let token = s.tenant_token("cli_up", "sec-u").await;
    expect_error(part(&s, &token, &id, 1, &last, None).await, 400, 1061021).await;
    assert!(temp_files(&s).is_empty());
}

#[tokio::test]
async fn prepare_validates_and_an_empty_upload_works() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    expect_error(prepare(&s, &token, "a/b", 5).await, 400, 1061008).await;
    let url = s.url("/open-apis/drive/v1/medias/upload_prepare");
    expect_error(
        post_json(
            &url,
            &token,
            &json!({"file_name": "a", "parent_type": "docx_file", "size": -1}),
        )
        .await,
        400,
        1061002,
    )
    .await;
    expect_error(
        post_json(&url, &token, &json!({"file_name": "a"})).await,
        400,
        1061002,
    )
    .await;
    let resp = client()
        .post(&url)
        .header("Authorization", format!("Bearer {token}"))
        .body("{")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, 1061002).await;
    let view = s.tenant_token("cli_a", "sec-a").await;
    expect_error(prepare(&s, &view, "a", 5).await, 403, 1061004).await;

    let d = expect_data(prepare(&s, &token, "empty.txt", 0).await).await;
    assert_eq!(d["block_num"], 0);
    let d = expect_data(finish(&s, &token, d["upload_id"].as_str().unwrap(), 0).await).await;
    let resp = get(
        &s.download_url(d["file_token"].as_str().unwrap()),
        &token,
        &[],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn sweeps_remove_expired_sessions_orphan_blocks_and_orphan_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(Backend::Embedded, dir.path(), world()).await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let id = prepared_with_its_block(&s, &token).await;
    s.state
        .clock
        .advance(std::time::Duration::from_secs(24 * 3600));
    // Blocks of an upload whose session is gone, and a blob no media points at.
    s.state
        .parts
        .stage_block(&mut &b"orphan block"[..], 100)
        .await
        .unwrap()
        .commit("deadbeef", 0, 0)
        .await
        .unwrap();
    let orphan = s
        .state
        .blobs
        .put(&mut &b"no media points here"[..])
        .await
        .unwrap();

    let swept = feishu_media_server::services::sweep::sweep(&s.state, false)
        .await
        .unwrap();
    assert_eq!(
        (
            swept.upload_sessions,
            swept.orphan_part_sets,
            swept.orphan_blobs
        ),
        (1, 1, 0)
    );
    assert_eq!(s.state.meta.upload(&id).await.unwrap(), None);
    assert!(s.state.parts.part_uploads().await.unwrap().is_empty());
    assert!(
        s.state.blobs.size(&orphan.digest).await.unwrap().is_some(),
        "not while serving"
    );
    s.stop().await;

    // At start-up, unreferenced blobs go too; referenced ones stay.
    let s = TestServer::start_in(Backend::Embedded, dir.path(), serde_json::json!({})).await;
    assert_eq!(s.state.blobs.size(&orphan.digest).await.unwrap(), None);
    assert_eq!(
        get(&s.download_url("boxHundred"), "u-alice", &[])
            .await
            .bytes()
            .await
            .unwrap(),
        hundred()
    );
}

#[tokio::test]
async fn an_upload_in_flight_does_not_block_downloads() {
    use tokio::io::AsyncWriteExt;
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let (ct, body) = multipart(&docx_parts("slow.bin", "2000000", &vec![3u8; 2_000_000]));
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /open-apis/drive/v1/medias/upload_all HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body[..1_000_000]).await.unwrap();
    conn.flush().await.unwrap();
    // Half the upload is in; the rest waits. Downloads go on meanwhile.
    for _ in 0..20 {
        let resp = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            get(&s.download_url("boxHundred"), "u-alice", &[]),
        )
        .await
        .expect("a download waited on an upload");
        assert_eq!(resp.bytes().await.unwrap(), hundred());
    }
    // Then the upload completes and is answered.
    conn.write_all(&body[1_000_000..]).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    use tokio::io::AsyncReadExt;
    while !answer.windows(10).any(|w| w == b"file_token") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }
}

/// An upload refused before its body was read (a bad token, a rate limit, a fault rule)
/// is answered at once, and the server still reads the rest of the body: the connection
/// stays usable, so a client still sending is not reset (which could destroy the answer
/// before it is read) and can send its next request on the same connection.
#[tokio::test]
async fn an_upload_refused_early_gets_its_answer_not_a_reset() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = server().await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = vec![7u8; 2 * 1024 * 1024];
    let head = format!(
        "POST /open-apis/drive/v1/medias/upload_all HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer t-not-a-token\r\nContent-Type: multipart/form-data; boundary=b\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body[..64 * 1024]).await.unwrap();
    // The refusal is on its way before most of the body is sent.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    conn.write_all(&body[64 * 1024..]).await.expect("not reset");
    conn.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    while !String::from_utf8_lossy(&got).contains(r#"{"status":"ok"}"#) {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("both answers in time")
            .expect("not reset");
        assert!(n > 0, "closed after: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("99991663"), "{text}");
    assert_eq!(text.matches("HTTP/1.1 ").count(), 2, "{text}");
}

#[tokio::test]
async fn a_body_that_stalls_is_abandoned_after_the_idle_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = TestServer::start_with_config(world(), |c| {
        c.body_idle_timeout = std::time::Duration::from_millis(500)
    })
    .await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let before = media_count(&s).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /open-apis/drive/v1/medias/upload_all HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary=XX\r\n\
         Content-Length: 100000\r\n\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"a\"\r\n\r\nsome bytes, then nothing"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_end(&mut answer),
    )
    .await
    .expect("the server gives up on the body, not the test")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("1061002"), "{answer}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(400));
    assert_eq!(media_count(&s).await, before, "nothing stored");
    assert!(temp_files(&s).is_empty(), "nothing staged is left");
}
