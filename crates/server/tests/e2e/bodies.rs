//! Bounded bodies: every request body is limited before it is held, and refused with the
//! code its endpoint answers (`10003` for the token calls, `1061002` for JSON calls,
//! `1061043` for `upload_all`, `1062009` for `upload_part`).

use crate::support::*;
use serde_json::json;

fn all_url(s: &TestServer) -> String {
    s.url("/open-apis/drive/v1/medias/upload_all")
}

#[tokio::test]
async fn json_bodies_are_cut_at_64_kib() {
    let s = server().await;
    let huge = format!(
        r#"{{"app_id":"cli_a","app_secret":"sec-a","pad":"{}"}}"#,
        "x".repeat(300_000)
    );
    let resp = client()
        .post(s.url("/open-apis/auth/v3/tenant_access_token/internal"))
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["code"], 10003, "{v}");
    assert!(
        v["error"]["troubleshooter"]
            .as_str()
            .unwrap()
            .contains("65536"),
        "{v}"
    );

    let token = s.tenant_token("cli_up", "sec-u").await;
    let prepare = json!({"file_name": "a", "parent_type": "ccm_import_open", "parent_node": "",
                         "size": 1, "extra": "x".repeat(70_000)});
    let resp = post_json(
        &s.url("/open-apis/drive/v1/medias/upload_prepare"),
        &token,
        &prepare,
    )
    .await;
    let why = expect_hint(resp, 413, 1061002).await;
    assert!(why.contains("65536"), "{why}");
}

#[tokio::test]
async fn json_errors_name_the_json_path() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let resp = post_json(
        &s.url("/open-apis/drive/v1/medias/upload_prepare"),
        &token,
        &json!({"file_name": "a", "parent_type": "ccm_import_open", "parent_node": "", "size": "ten"}),
    )
    .await;
    let why = expect_hint(resp, 400, 1061002).await;
    assert!(why.starts_with("size: "), "{why}");
}

#[tokio::test]
async fn an_upload_all_body_declared_too_long_is_refused_before_it_is_read() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let before = s.state.meta.list_media().await.unwrap().len();
    // 22 MiB declared: over the 20 MiB file limit and the 1 MiB allowance for fields.
    let body = vec![b'-'; 22 * 1024 * 1024];
    let resp = client()
        .post(all_url(&s))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "multipart/form-data; boundary=XX")
        .body(body)
        .send()
        .await
        .unwrap();
    let why = expect_hint(resp, 400, 1061043).await;
    assert!(why.contains("22020096"), "{why}");
    assert_eq!(s.state.meta.list_media().await.unwrap().len(), before);
    assert!(temp_files(&s).is_empty());
}

#[tokio::test]
async fn a_form_of_thousands_of_fields_is_refused() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let field = vec![b'a'; 60 * 1024];
    let names: Vec<String> = (0..3000).map(|i| format!("f{i}")).collect();
    let parts: Vec<(&str, Option<&str>, &[u8])> = names
        .iter()
        .map(|n| (n.as_str(), None, &field[..]))
        .collect();
    // 184 MB declared: refused before a byte of it is read.
    let why = expect_hint(
        post_multipart(&all_url(&s), &token, &parts).await,
        400,
        1061043,
    )
    .await;
    assert!(why.contains("larger than"), "{why}");
    // The same without a declared length (chunked): refused after 32 parts.
    let (ct, body) = multipart(&parts);
    let stream = futures_util::stream::iter(
        body.chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let resp = client()
        .post(all_url(&s))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", ct)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    let why = expect_hint(resp, 400, 1061002).await;
    assert!(why.contains("32 parts"), "{why}");
}

#[tokio::test]
async fn an_upload_part_body_over_one_block_is_refused() {
    let s = server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let resp = client()
        .post(s.url("/open-apis/drive/v1/medias/upload_part"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "multipart/form-data; boundary=XX")
        .body(vec![b'-'; 6 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, 1062009).await;
}
