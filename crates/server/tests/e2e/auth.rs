//! Wire contract §1: every row of the token and scope table, on the download endpoint.

use crate::support::*;
use reqwest::Method;

const MISSING: &str =
    "Missing access token for authorization. Please make a request with token attached.";

#[tokio::test]
async fn missing_or_malformed_authorization() {
    let s = server().await;
    let url = s.download_url("boxHundred");
    let (_, env) = expect_error(call(Method::GET, &url, None, &[]).await, 400, 99991661).await;
    assert_eq!(env.msg, MISSING);
    for value in [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "t-abc",
        "Bearer a b",
        "Token t-abc",
    ] {
        let resp = client()
            .get(&url)
            .header("Authorization", value)
            .send()
            .await
            .unwrap();
        expect_error(resp, 400, 99991661).await;
    }
    // Not even a UTF-8 header value.
    let resp = client()
        .get(&url)
        .header(
            "Authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, 99991661).await;
}

#[tokio::test]
async fn unknown_expired_and_foreign_tokens() {
    let s = server().await;
    let url = s.download_url("boxHundred");
    let (_, env) = expect_error(get(&url, "t-unknown", &[]).await, 400, 99991663).await;
    assert_eq!(
        env.msg,
        "Invalid access token for authorization. Please make a request with token attached"
    );
    let (_, env) = expect_error(get(&url, "u-unknown", &[]).await, 400, 99991668).await;
    assert_eq!(
        env.msg,
        "Invalid access token for authorization. Please make a request with token attached."
    );
    expect_error(get(&url, "eyJunknown", &[]).await, 400, 99991668).await;
    let (_, env) = expect_error(get(&url, "u-expired", &[]).await, 400, 99991677).await;
    assert_eq!(env.msg, "token expire");
    let (_, env) = expect_error(get(&url, "x-whatever", &[]).await, 400, 99991671).await;
    assert_eq!(env.msg, "Invalid token: must start with t-/u-");
    // A real, valid app token is still not accepted here.
    let app_token = s.app_token("cli_a", "sec-a").await;
    expect_error(get(&url, &app_token, &[]).await, 400, 99991663).await;
    // A tenant token's text used as a user token and the other way round.
    let tenant = s.tenant_token("cli_a", "sec-a").await;
    expect_error(
        get(&url, &format!("u-{}", &tenant[2..]), &[]).await,
        400,
        99991668,
    )
    .await;
    // A very long token is just unknown.
    expect_error(
        get(&url, &format!("t-{}", "x".repeat(8000)), &[]).await,
        400,
        99991663,
    )
    .await;
}

#[tokio::test]
async fn scope_errors_list_every_accepted_scope() {
    let s = server().await;
    let url = s.download_url("boxHundred");
    let token = s.tenant_token("cli_noscope", "sec-n").await;
    let (_, env) = expect_error(get(&url, &token, &[]).await, 400, 99991672).await;
    assert!(
        env.msg
            .starts_with("Access denied. One of the following scopes is required: ["),
        "{}",
        env.msg
    );
    let violations = env.error.unwrap().permission_violations;
    assert_eq!(violations.len(), feishu_media_proto::scope::DOWNLOAD.len());
    for scope in feishu_media_proto::scope::DOWNLOAD {
        assert!(env.msg.contains(scope), "{scope} in {}", env.msg);
        assert!(
            violations
                .iter()
                .any(|v| v.kind == "action_scope_required" && v.subject == *scope)
        );
    }

    let (_, env) = expect_error(get(&url, "u-noscope", &[]).await, 400, 99991679).await;
    assert!(
        env.msg
            .starts_with("Unauthorized. You do not have permission"),
        "{}",
        env.msg
    );
    assert!(env.msg.contains("drive:drive:readonly"));
    assert_eq!(
        env.error.unwrap().permission_violations.len(),
        feishu_media_proto::scope::DOWNLOAD.len()
    );
}

#[tokio::test]
async fn token_errors_come_before_missing_media() {
    let s = server().await;
    // Check 1 (token) before check 4 (the media exists).
    expect_error(
        get(&s.download_url("boxNoSuch"), "t-unknown", &[]).await,
        400,
        99991663,
    )
    .await;
    // Check 2 (scope) before check 4.
    let token = s.tenant_token("cli_noscope", "sec-n").await;
    expect_error(
        get(&s.download_url("boxNoSuch"), &token, &[]).await,
        400,
        99991672,
    )
    .await;
}
