//! Wire contract §2: tenant and app access tokens.

use crate::support::*;
use serde_json::Value;

async fn post_token(s: &TestServer, kind: &str, body: &str) -> (u16, Value) {
    let resp = client()
        .post(s.url(&format!("/open-apis/auth/v3/{kind}/internal")))
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_eq!(
        header(resp.headers(), "content-type"),
        Some("application/json; charset=utf-8")
    );
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn tenant_token_is_flat_and_reused_while_fresh() {
    let s = server().await;
    let body = r#"{"app_id":"cli_a","app_secret":"sec-a"}"#;
    let (status, first) = post_token(&s, "tenant_access_token", body).await;
    assert_eq!(status, 200);
    assert_eq!(first["code"], 0);
    assert_eq!(first["msg"], "ok");
    assert!(first.get("data").is_none(), "flat answer: {first}");
    let token = first["tenant_access_token"].as_str().unwrap();
    assert!(token.starts_with("t-"), "{token}");
    let expire = first["expire"].as_i64().unwrap();
    assert!((7190..=7200).contains(&expire), "{expire}");

    let (_, second) = post_token(&s, "tenant_access_token", body).await;
    assert_eq!(
        second["tenant_access_token"], first["tenant_access_token"],
        "same token while > 30 min left"
    );
    assert!(second["expire"].as_i64().unwrap() <= expire);

    // The token works.
    let resp = get(&s.download_url("boxHundred"), token, &[]).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn app_token_is_flat_and_starts_with_a() {
    let s = server().await;
    let (status, v) = post_token(
        &s,
        "app_access_token",
        r#"{"app_id":"cli_a","app_secret":"sec-a"}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["code"], 0);
    assert!(v["app_access_token"].as_str().unwrap().starts_with("a-"));
    assert!(v["expire"].as_i64().unwrap() > 600);
}

#[tokio::test]
async fn bad_credentials_answer_200_with_a_code() {
    let s = server().await;
    for kind in ["tenant_access_token", "app_access_token"] {
        let (status, v) = post_token(&s, kind, r#"{"app_id":"cli_nope","app_secret":"x"}"#).await;
        assert_eq!(
            (status, v["code"].as_i64(), v["msg"].as_str()),
            (200, Some(10003), Some("invalid param"))
        );
        let (status, v) = post_token(&s, kind, r#"{"app_id":"cli_a","app_secret":"wrong"}"#).await;
        assert_eq!(
            (status, v["code"].as_i64(), v["msg"].as_str()),
            (200, Some(10014), Some("app secret invalid"))
        );
        for body in ["", "{", "[]", r#"{"app_id":"cli_a"}"#, "\u{0}\u{1}"] {
            let (status, v) = post_token(&s, kind, body).await;
            assert_eq!(
                (status, v["code"].as_i64()),
                (200, Some(10003)),
                "body {body:?}"
            );
        }
    }
}

#[tokio::test]
async fn tokens_survive_a_restart_on_the_same_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(Backend::Embedded, dir.path(), world()).await;
    let token = s.tenant_token("cli_a", "sec-a").await;
    s.stop().await;
    let s = TestServer::start_in(Backend::Embedded, dir.path(), world()).await;
    assert_eq!(
        get(&s.download_url("boxHundred"), &token, &[])
            .await
            .status(),
        200
    );
    assert_eq!(
        s.tenant_token("cli_a", "sec-a").await,
        token,
        "the same token is handed out again"
    );
}
