//! Wire contract §5: temporary download URLs and the links they hand out.

use crate::support::*;
use reqwest::Method;
use serde_json::Value;

fn batch_url(s: &TestServer, tokens: &[&str]) -> String {
    let q: Vec<String> = tokens.iter().map(|t| format!("file_tokens={t}")).collect();
    s.url(&format!(
        "/open-apis/drive/v1/medias/batch_get_tmp_download_url?{}",
        q.join("&")
    ))
}

/// The temporary link of one media.
pub async fn link(s: &TestServer, token: &str, file_token: &str) -> String {
    links(s, token, &[file_token]).await[0]["tmp_download_url"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn links(s: &TestServer, token: &str, tokens: &[&str]) -> Vec<Value> {
    let d = expect_data(get(&batch_url(s, tokens), token, &[]).await).await;
    d["tmp_download_urls"].as_array().unwrap().clone()
}

async fn fetch(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    call(Method::GET, url, None, headers).await
}

#[tokio::test]
async fn links_serve_without_authorization_like_a_download() {
    let s = server().await;
    let token = s.tenant_token("cli_a", "sec-a").await;
    let urls = links(&s, &token, &["boxHundred", "boxCn"]).await;
    assert_eq!(urls.len(), 2);
    assert_eq!(urls[0]["file_token"], "boxHundred");
    assert_eq!(urls[1]["file_token"], "boxCn");
    let link = urls[0]["tmp_download_url"].as_str().unwrap();
    assert!(
        link.starts_with(&format!(
            "{}/space/api/box/stream/download/authcode/?code=",
            s.base
        )),
        "{link}"
    );

    let whole = fetch(link, &[]).await;
    assert_eq!(whole.status(), 200);
    let download = get(&s.download_url("boxHundred"), &token, &[]).await;
    for name in [
        "etag",
        "content-type",
        "content-disposition",
        "content-length",
        "accept-ranges",
    ] {
        assert_eq!(
            whole.headers().get(name),
            download.headers().get(name),
            "{name}"
        );
    }
    assert_eq!(whole.bytes().await.unwrap(), hundred());

    let part = fetch(link, &[("Range", "bytes=10-14")]).await;
    assert_eq!(part.status(), 206);
    assert_eq!(
        header(part.headers(), "content-range"),
        Some("bytes 10-14/100")
    );
    assert_eq!(part.bytes().await.unwrap(), hundred()[10..15]);
    let head = call(Method::HEAD, link, None, &[]).await;
    assert_eq!(head.status(), 200);
    assert_eq!(header(head.headers(), "content-length"), Some("100"));

    let cn = fetch(urls[1]["tmp_download_url"].as_str().unwrap(), &[]).await;
    assert_eq!(cn.bytes().await.unwrap(), PNG);
}

#[tokio::test]
async fn batch_rules() {
    let s = server().await;
    let token = s.tenant_token("cli_a", "sec-a").await;
    expect_error(get(&batch_url(&s, &[]), &token, &[]).await, 400, 1061002).await;
    expect_error(
        get(&batch_url(&s, &["boxHundred"; 6]), &token, &[]).await,
        400,
        1061002,
    )
    .await;
    assert_eq!(links(&s, &token, &["boxHundred"; 5]).await.len(), 5);
    // The first token that fails answers for the whole call.
    expect_error(
        get(&batch_url(&s, &["boxHundred", "boxNoSuch"]), &token, &[]).await,
        404,
        1061003,
    )
    .await;
    expect_error(
        get(&batch_url(&s, &["boxHundred", "boxDeleted"]), &token, &[]).await,
        404,
        1061007,
    )
    .await;
    let stranger = s.tenant_token("cli_stranger", "sec-s").await;
    expect_error(
        get(&batch_url(&s, &["boxHundred"]), &stranger, &[]).await,
        403,
        1061004,
    )
    .await;
    // Token and scope checks as for a download.
    expect_error(
        call(Method::GET, &batch_url(&s, &["boxHundred"]), None, &[]).await,
        400,
        99991661,
    )
    .await;
    let noscope = s.tenant_token("cli_noscope", "sec-n").await;
    expect_error(
        get(&batch_url(&s, &["boxHundred"]), &noscope, &[]).await,
        400,
        99991672,
    )
    .await;
    // Bitable advanced permissions: extra is honoured.
    expect_error(
        get(&batch_url(&s, &["boxBit"]), &token, &[]).await,
        400,
        1061002,
    )
    .await;
    let extra = percent_encoding::utf8_percent_encode(
        r#"{"bitablePerm":{"tableId":"tbl1","attachments":{"fld1":{"rec1":["boxBit"]}}}}"#,
        percent_encoding::NON_ALPHANUMERIC,
    );
    let d = expect_data(
        get(
            &format!("{}&extra={extra}", batch_url(&s, &["boxBit"])),
            &token,
            &[],
        )
        .await,
    )
    .await;
    let link = d["tmp_download_urls"][0]["tmp_download_url"]
        .as_str()
        .unwrap();
    assert_eq!(
        fetch(link, &[]).await.bytes().await.unwrap(),
        "bitable bytes"
    );
}

#[tokio::test]
async fn tampered_truncated_expired_and_missing_codes_are_refused() {
    let s = server().await;
    let token = s.tenant_token("cli_a", "sec-a").await;
    let link = link(&s, &token, "boxHundred").await;
    let code = link.split("code=").nth(1).unwrap().to_owned();
    let base = s.url("/space/api/box/stream/download/authcode/");
    let forged_payload = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("99999999999.boxCn")
    };
    let tag = code.split('.').nth(1).unwrap();
    // Signed genuinely, but it expired a second ago by the server's clock.
    let expired = feishu_media_server::services::links::sign(
        &s.state.secret,
        "boxHundred",
        s.state.clock.unix_secs() - 1,
    );
    for bad in [
        format!("{base}?code={}", &code[..code.len() - 3]),
        format!("{base}?code={}A", code),
        format!("{base}?code={forged_payload}.{tag}"),
        format!("{base}?code={expired}"),
        format!("{base}?code=garbage"),
        format!("{base}?code="),
        base.clone(),
    ] {
        let (_, env) = expect_error(fetch(&bad, &[]).await, 403, 1061004).await;
        assert_eq!(env.msg, "forbidden.", "{bad}");
    }
    // The genuine link still works, and answers 404/1061007 once the media is deleted.
    assert_eq!(fetch(&link, &[]).await.status(), 200);
    let mut m = s.state.meta.media("boxHundred").await.unwrap().unwrap();
    m.deleted = true;
    s.state
        .meta
        .apply(&feishu_media_store::Batch {
            media: vec![m],
            ..Default::default()
        })
        .await
        .unwrap();
    expect_error(fetch(&link, &[]).await, 404, 1061007).await;
}

#[tokio::test]
async fn links_survive_a_restart_and_use_the_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(Backend::Embedded, dir.path(), world()).await;
    let token = s.tenant_token("cli_a", "sec-a").await;
    let link = link(&s, &token, "boxHundred").await;
    let path = link.trim_start_matches(&s.base).to_owned();
    s.stop().await;
    let s = TestServer::start_in(Backend::Embedded, dir.path(), serde_json::json!({})).await;
    // Same secret from the data dir: the old code is still good on the new server.
    let resp = fetch(&s.url(&path), &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), hundred());
}

#[tokio::test]
async fn curl_fetches_a_link_with_and_without_range() {
    let s = server().await;
    let token = s.tenant_token("cli_a", "sec-a").await;
    let link = link(&s, &token, "boxHundred").await;
    let out = tokio::task::spawn_blocking(move || {
        let whole = std::process::Command::new("curl")
            .args(["-sS", "-f", &link])
            .output()
            .unwrap();
        let part = std::process::Command::new("curl")
            .args(["-sS", "-f", "-r", "95-", &link])
            .output()
            .unwrap();
        (whole, part)
    })
    .await
    .unwrap();
    assert!(out.0.status.success());
    assert_eq!(out.0.stdout, hundred());
    assert_eq!(out.1.stdout, hundred()[95..]);
}
