//! Wire contract §3: the download answer, the permission checks in order, conditional
//! requests and HEAD.

use crate::support::*;
use reqwest::Method;

fn extra(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn whole_download_has_every_header() {
    let s = server().await;
    let token = s.tenant_token("cli_a", "sec-a").await;
    let resp = get(&s.download_url("boxCn"), &token, &[]).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(
        header(&h, "content-type"),
        Some("image/png"),
        "guessed from the name"
    );
    assert_eq!(
        header(&h, "content-length"),
        Some(PNG.len().to_string().as_str())
    );
    assert_eq!(header(&h, "accept-ranges"), Some("bytes"));
    let etag = header(&h, "etag").unwrap();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "{etag}"
    );
    assert!(httpdate::parse_http_date(header(&h, "last-modified").unwrap()).is_ok());
    assert!(header(&h, "x-tt-logid").is_some_and(|v| v.len() >= 20));
    // Raw UTF-8 in filename= (what Feishu sends and the Python SDK reads), and filename*.
    let cd = h.get("content-disposition").unwrap().as_bytes();
    let expected = "attachment; filename=\"架构图 \\\"v2\\\".png\"; filename*=UTF-8''%E6%9E%B6%E6%9E%84%E5%9B%BE%20%22v2%22.png";
    assert_eq!(std::str::from_utf8(cd).unwrap(), expected);
    assert_eq!(
        feishu_media_proto::disposition::file_name(cd).as_deref(),
        Some("架构图 \"v2\".png")
    );
    assert_eq!(resp.bytes().await.unwrap(), PNG);
}

#[tokio::test]
async fn empty_media_downloads_as_zero_bytes() {
    let s = server().await;
    let resp = get(&s.download_url("boxEmpty"), "u-alice", &[]).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(resp.headers(), "content-length"), Some("0"));
    assert!(resp.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn missing_and_deleted_media() {
    let s = server().await;
    let token = s.tenant_token("cli_a", "sec-a").await;
    let (_, env) = expect_error(
        get(&s.download_url("boxNoSuch"), &token, &[]).await,
        404,
        1061003,
    )
    .await;
    assert_eq!(env.msg, "not found.");
    let (_, env) = expect_error(
        get(&s.download_url("boxDeleted"), &token, &[]).await,
        404,
        1061007,
    )
    .await;
    assert_eq!(env.msg, "file has been delete.");
}

#[tokio::test]
async fn hostile_file_tokens_are_just_unknown() {
    let s = server().await;
    let token = s.tenant_token("cli_a", "sec-a").await;
    let long = "A".repeat(4000);
    for t in [
        "",
        "a%2Fb",
        "%2F",
        "..%2F..%2Fmeta.sqlite",
        "%00",
        "%FF%FE",
        "%zz",
        &long,
        "boxHundred%20",
        "%E6%9E%B6",
    ] {
        let url = s.download_url(t);
        expect_error(get(&url, &token, &[]).await, 404, 1061003).await;
    }
    // Dot segments that an HTTP client would normalize away, sent raw.
    for t in ["..", "%2E%2E", ".", "..%2F..%2F"] {
        let (status, head, body) = raw_request(
            &s.base,
            &format!("GET /open-apis/drive/v1/medias/{t}/download HTTP/1.1\r\nAuthorization: Bearer {token}\r\n"),
        )
        .await;
        assert_eq!(status, 404, "{t}");
        assert!(head.contains("application/json"), "{t}: {head}");
        let env: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(env["code"], 1061003, "{t}");
    }
    // A percent-encoded token that decodes to a real one is that media.
    let resp = get(&s.download_url("box%48undred"), &token, &[]).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn other_tenant_is_forbidden() {
    let s = server().await;
    let token = s.tenant_token("cli_other", "sec-o").await;
    let (_, env) = expect_error(
        get(&s.download_url("boxHundred"), &token, &[]).await,
        403,
        1061004,
    )
    .await;
    assert_eq!(env.msg, "forbidden.");
    // ...while its own tenant's media is fine.
    assert_eq!(
        get(&s.download_url("boxG"), &token, &[]).await.status(),
        200
    );
}

#[tokio::test]
async fn document_permission_is_checked_for_apps_and_users() {
    let s = server().await;
    let stranger = s.tenant_token("cli_stranger", "sec-s").await;
    let (_, env) = expect_error(
        get(&s.download_url("boxHundred"), &stranger, &[]).await,
        403,
        1061004,
    )
    .await;
    let v = env.error.unwrap().permission_violations;
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].subject, "doxA");
    // Bob holds a scope but no role on doxA; Alice owns it (user tokens count the user).
    expect_error(
        get(&s.download_url("boxHundred"), "u-bob", &[]).await,
        403,
        1061004,
    )
    .await;
    assert_eq!(
        get(&s.download_url("boxHundred"), "u-alice", &[])
            .await
            .status(),
        200
    );
    assert_eq!(
        get(&s.download_url("boxHundred"), "eyJalice", &[])
            .await
            .status(),
        200
    );
    // The check order: a missing media answers 404 before any permission question.
    expect_error(
        get(&s.download_url("boxNoSuch"), &stranger, &[]).await,
        404,
        1061003,
    )
    .await;
}

#[tokio::test]
async fn bitable_with_advanced_permission_needs_extra_and_manage() {
    let s = server().await;
    let token = s.tenant_token("cli_a", "sec-a").await;
    let url = s.download_url("boxBit");
    let good = r#"{"bitablePerm":{"tableId":"tbl1","attachments":{"fld1":{"rec1":["boxBit"]}}}}"#;

    let (_, env) = expect_error(get(&url, &token, &[]).await, 400, 1061002).await;
    assert_eq!(env.msg, "params error.");
    expect_error(
        get(&format!("{url}?extra="), &token, &[]).await,
        400,
        1061002,
    )
    .await;
    for bad in [
        "not json",
        "{}",
        r#"{"bitablePerm":{"tableId":"tblOther"}}"#,
        r#"{"bitablePerm":{"tableId":"tbl1","attachments":{"fld1":{"rec1":["boxOther"]}}}}"#,
        r#"{"bitablePerm":{"tableId":"tbl1","attachments":{"fldX":{"rec1":["boxBit"]}}}}"#,
        r#"{"bitablePerm":{"tableId":"tbl1","attachments":{}}}"#,
    ] {
        let resp = get(&format!("{url}?extra={}", extra(bad)), &token, &[]).await;
        expect_error(resp, 400, 1061002).await;
    }
    for ok in [
        good,
        r#"{"bitablePerm":{"tableId":"tbl1","rev":5}}"#,
        r#"{"bitablePerm":{"tableId":"tbl1"}}"#,
    ] {
        let resp = get(&format!("{url}?extra={}", extra(ok)), &token, &[]).await;
        assert_eq!(resp.status(), 200, "{ok}");
        assert_eq!(resp.bytes().await.unwrap(), "bitable bytes");
    }
    // Double-encoded, as some clients send it.
    let resp = get(&format!("{url}?extra={}", extra(&extra(good))), &token, &[]).await;
    assert_eq!(resp.status(), 200);

    // A viewer with a good extra still lacks manage.
    let viewer = s.tenant_token("cli_viewer", "sec-v").await;
    let (_, env) = expect_error(
        get(&format!("{url}?extra={}", extra(good)), &viewer, &[]).await,
        403,
        1061004,
    )
    .await;
    assert_eq!(env.error.unwrap().permission_violations[0].subject, "basA");
    // A stranger is refused at the document check, before extra is looked at.
    let stranger = s.tenant_token("cli_stranger", "sec-s").await;
    expect_error(get(&url, &stranger, &[]).await, 403, 1061004).await;

    // Without advanced permissions no extra is needed.
    assert_eq!(
        get(&s.download_url("boxOpenBit"), &token, &[])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn head_answers_the_headers_of_get_and_ignores_range() {
    let s = server().await;
    let url = s.download_url("boxHundred");
    let head = call(
        Method::HEAD,
        &url,
        Some("u-alice"),
        &[("Range", "bytes=0-9")],
    )
    .await;
    assert_eq!(head.status(), 200);
    let get = get(&url, "u-alice", &[]).await;
    for name in [
        "content-length",
        "content-type",
        "content-disposition",
        "etag",
        "last-modified",
        "accept-ranges",
    ] {
        assert_eq!(head.headers().get(name), get.headers().get(name), "{name}");
    }
    assert_eq!(header(head.headers(), "content-length"), Some("100"));
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn conditional_requests() {
    let s = server().await;
    let url = s.download_url("boxHundred");
    let first = get(&url, "u-alice", &[]).await;
    let etag = header(first.headers(), "etag").unwrap().to_owned();
    let lm = header(first.headers(), "last-modified").unwrap().to_owned();

    for (name, value) in [
        ("If-None-Match", etag.clone()),
        ("If-None-Match", format!("W/{etag}")),
        ("If-None-Match", format!("\"other\", {etag}")),
        ("If-None-Match", "*".to_owned()),
        ("If-Modified-Since", lm.clone()),
        (
            "If-Modified-Since",
            "Fri, 31 Dec 2100 23:59:59 GMT".to_owned(),
        ),
    ] {
        let resp = get(&url, "u-alice", &[(name, &value), ("Range", "bytes=0-1")]).await;
        assert_eq!(resp.status(), 304, "{name}: {value}");
        assert_eq!(header(resp.headers(), "etag"), Some(etag.as_str()));
        assert!(resp.bytes().await.unwrap().is_empty());
    }
    for (name, value) in [
        ("If-None-Match", "\"other\"".to_owned()),
        (
            "If-Modified-Since",
            "Thu, 01 Jan 1970 00:00:00 GMT".to_owned(),
        ),
        ("If-Modified-Since", "not a date".to_owned()),
    ] {
        assert_eq!(
            get(&url, "u-alice", &[(name, &value)]).await.status(),
            200,
            "{name}: {value}"
        );
    }
    // If-None-Match wins over If-Modified-Since when both are there.
    let resp = get(
        &url,
        "u-alice",
        &[("If-None-Match", "\"other\""), ("If-Modified-Since", &lm)],
    )
    .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn if_range_guards_a_resume() {
    let s = server().await;
    let url = s.download_url("boxHundred");
    let first = get(&url, "u-alice", &[]).await;
    let etag = header(first.headers(), "etag").unwrap().to_owned();
    let lm = header(first.headers(), "last-modified").unwrap().to_owned();
    let ranged = |if_range: String| {
        let url = url.clone();
        async move {
            get(
                &url,
                "u-alice",
                &[("Range", "bytes=10-19"), ("If-Range", &if_range)],
            )
            .await
        }
    };
    let resp = ranged(etag.clone()).await;
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap(), hundred()[10..20]);
    assert_eq!(ranged(lm).await.status(), 206);
    for stale in [
        "\"stale\"".to_owned(),
        format!("W/{etag}"),
        "Thu, 01 Jan 1970 00:00:00 GMT".into(),
        "garbage".into(),
    ] {
        let resp = ranged(stale.clone()).await;
        assert_eq!(resp.status(), 200, "{stale}");
        assert_eq!(
            resp.bytes().await.unwrap(),
            hundred(),
            "whole file on a mismatch"
        );
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_the_plain_404() {
    let s = server().await;
    for (method, path) in [
        (Method::GET, "/nope".to_owned()),
        (
            Method::GET,
            "/open-apis/drive/v1/medias/boxHundred".to_owned(),
        ),
        (
            Method::POST,
            "/open-apis/drive/v1/medias/boxHundred/download".to_owned(),
        ),
        (
            Method::DELETE,
            "/open-apis/drive/v1/medias/boxHundred/download".to_owned(),
        ),
        (
            Method::GET,
            "/open-apis/auth/v3/tenant_access_token/internal".to_owned(),
        ),
    ] {
        let resp = call(method.clone(), &s.url(&path), Some("u-alice"), &[]).await;
        assert_eq!(resp.status(), 404, "{method} {path}");
        assert_eq!(
            header(resp.headers(), "content-type"),
            Some("text/plain; charset=utf-8"),
            "{method} {path}"
        );
        assert!(resp.headers().contains_key("x-tt-logid"));
        assert_eq!(resp.text().await.unwrap(), "404 page not found");
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let s = server().await;
    let resp = client().get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client().get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );
}

#[tokio::test]
async fn a_lost_blob_is_a_500_with_the_log_id_and_no_details() {
    // Embedded: the blob is lost by removing its file.
    let dir = tempfile::tempdir().unwrap();
    let s =
        TestServer::start_in(feishu_media_testkit::Backend::Embedded, dir.path(), world()).await;
    let media = s.state.meta.media("boxHundred").await.unwrap().unwrap();
    let path = s
        .dir
        .join("blobs")
        .join(&media.digest[..2])
        .join(&media.digest);
    std::fs::remove_file(&path).unwrap();
    let (_, env) = expect_error(
        get(&s.download_url("boxHundred"), "u-alice", &[]).await,
        500,
        1061001,
    )
    .await;
    assert_eq!(env.msg, "internal error.");
    let text = serde_json::to_string(&env).unwrap();
    assert!(
        !text.contains(&media.digest[..16]) && !text.contains("blob"),
        "no internals leak: {text}"
    );
}

/// A raw HTTP/1.1 exchange, to see exactly what goes on the wire.
#[tokio::test]
async fn raw_wire_bytes_of_a_ranged_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = server().await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "GET /open-apis/drive/v1/medias/boxHundred/download HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer u-alice\r\nRange: bytes=-3\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let exact = String::from_utf8_lossy(&raw[..split]).into_owned();
    // Title-Case names, as Feishu sends them: the Python SDK looks them up case-sensitively.
    for name in [
        "Content-Range",
        "Content-Length",
        "Content-Type",
        "Content-Disposition",
        "X-Tt-Logid",
        "Etag",
    ] {
        assert!(
            exact.contains(&format!("\r\n{name}: ")),
            "{name} in {exact}"
        );
    }
    let head = exact.to_lowercase();
    assert!(head.starts_with("http/1.1 206 partial content"), "{head}");
    assert!(
        head.contains("\r\ncontent-range: bytes 97-99/100"),
        "{head}"
    );
    assert!(head.contains("\r\ncontent-length: 3"), "{head}");
    assert!(
        !head.contains("transfer-encoding"),
        "a known length is sent as Content-Length: {head}"
    );
    assert_eq!(&raw[split + 4..], &[97, 98, 99]);
}
