//! Live principals: deleting or moving an app or a user takes effect on its tokens and
//! roles at once, and an upload is finished only while its permission still holds.

use crate::support::*;
use crate::uploads::prepared_with_its_block;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_deleted_user_cannot_download_with_its_token_nor_revive_it() {
    let s = admin_server().await;
    let url = s.download_url("boxHundred");
    assert_eq!(get(&url, "u-alice", &[]).await.status(), 200);
    assert_eq!(
        admin(&s, Method::DELETE, "/users/ou_alice", None)
            .await
            .status(),
        200
    );
    expect_error(get(&url, "u-alice", &[]).await, 400, 99991668).await;
    // Re-created under the same id, the user has neither the old token nor the old roles.
    let back = admin(
        &s,
        Method::POST,
        "/users",
        Some(json!({"user_id": "ou_alice", "tenant_key": "acme"})),
    )
    .await;
    assert_eq!(back.status(), 200);
    expect_error(get(&url, "u-alice", &[]).await, 400, 99991668).await;
    let doc = admin(&s, Method::GET, "/documents/doxA", None).await;
    let doc: serde_json::Value = doc.json().await.unwrap();
    assert!(doc["data"]["owner"].is_null(), "{doc}");
}

#[tokio::test]
async fn a_user_moved_to_another_tenant_loses_its_old_tokens() {
    let s = admin_server().await;
    let url = s.download_url("boxHundred");
    let moved = admin(
        &s,
        Method::PUT,
        "/users/ou_alice",
        Some(json!({"user_id": "ou_alice", "tenant_key": "globex"})),
    )
    .await;
    assert_eq!(moved.status(), 200);
    expect_error(get(&url, "u-alice", &[]).await, 400, 99991668).await;
}

#[tokio::test]
async fn a_deleted_app_loses_its_tokens_and_roles_and_a_recreated_one_starts_afresh() {
    let s = admin_server().await;
    let url = s.download_url("boxHundred");
    let token = s.tenant_token("cli_a", "sec-a").await;
    assert_eq!(get(&url, &token, &[]).await.status(), 200);
    assert_eq!(
        admin(&s, Method::DELETE, "/apps/cli_a", None)
            .await
            .status(),
        200
    );
    expect_error(get(&url, &token, &[]).await, 400, 99991663).await;
    let back = admin(
        &s,
        Method::POST,
        "/apps",
        Some(
            json!({"app_id": "cli_a", "app_secret": "sec-a", "tenant_key": "acme",
                    "scopes": ["drive:drive:readonly"], "rate_limit": null}),
        ),
    )
    .await;
    assert_eq!(back.status(), 200);
    expect_error(get(&url, &token, &[]).await, 400, 99991663).await;
    // A fresh token works, but the app is no member of the document any more. (Token
    // texts derive from their issue time, and this server's clock is frozen: a second
    // passes first, as it always has between two real issues.)
    s.state.clock.advance(std::time::Duration::from_secs(1));
    let fresh = s.tenant_token("cli_a", "sec-a").await;
    assert_ne!(fresh, token);
    expect_error(get(&url, &fresh, &[]).await, 403, 1061004).await;
}

#[tokio::test]
async fn an_app_moved_to_another_tenant_loses_its_old_tokens() {
    let s = admin_server().await;
    let url = s.download_url("boxHundred");
    let token = s.tenant_token("cli_a", "sec-a").await;
    let moved = admin(
        &s,
        Method::PUT,
        "/apps/cli_a",
        Some(
            json!({"app_id": "cli_a", "app_secret": "sec-a", "tenant_key": "globex",
                    "scopes": ["drive:drive:readonly"], "rate_limit": null}),
        ),
    )
    .await;
    assert_eq!(moved.status(), 200);
    expect_error(get(&url, &token, &[]).await, 400, 99991663).await;
}

#[tokio::test]
async fn upload_finish_checks_the_edit_permission_again() {
    let s = admin_server().await;
    let token = s.tenant_token("cli_up", "sec-u").await;
    let id = prepared_with_its_block(&s, &token).await;
    let removed = admin(
        &s,
        Method::DELETE,
        "/documents/doxA/members/app:cli_up",
        None,
    )
    .await;
    assert_eq!(removed.status(), 200);
    let before = s.state.meta.list_media().await.unwrap().len();
    let finish = post_json(
        &s.url("/open-apis/drive/v1/medias/upload_finish"),
        &token,
        &json!({"upload_id": id, "block_num": 1}),
    )
    .await;
    expect_error(finish, 403, 1061004).await;
    assert_eq!(
        s.state.meta.list_media().await.unwrap().len(),
        before,
        "no media"
    );
}

#[tokio::test]
async fn the_admin_api_reads_no_files() {
    let s = admin_server().await;
    let secret = s.dir.join("secret");
    for path in ["/etc/passwd", secret.to_str().unwrap(), "secret", "../x"] {
        let resp = admin(
            &s,
            Method::POST,
            "/media",
            Some(
                json!({"file_token": "boxEvil", "document": "doxA", "parent_type": "docx_file",
                        "file_name": "p", "path": path}),
            ),
        )
        .await;
        let why = expect_hint(resp, 400, 1061002).await;
        assert!(
            why.starts_with("path: the admin API reads no files"),
            "{why}"
        );
    }
    assert_eq!(s.state.meta.media("boxEvil").await.unwrap(), None);
    // File tokens are letters and digits.
    let resp = admin(
        &s,
        Method::POST,
        "/media",
        Some(
            json!({"file_token": "box/../x", "document": "doxA", "parent_type": "docx_file",
                    "file_name": "p", "content_text": "x"}),
        ),
    )
    .await;
    expect_error(resp, 400, 1061002).await;
}

#[tokio::test]
async fn with_a_fixtures_dir_the_admin_api_reads_inside_it_only() {
    let fixtures = tempfile::tempdir().unwrap();
    std::fs::write(fixtures.path().join("ok.bin"), b"fixture bytes").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", fixtures.path().join("link")).unwrap();
    std::os::unix::fs::symlink("/etc", fixtures.path().join("etc")).unwrap();
    std::fs::create_dir(fixtures.path().join("sub")).unwrap();
    std::fs::write(fixtures.path().join("sub/in.bin"), b"nested").unwrap();
    std::os::unix::fs::symlink("../ok.bin", fixtures.path().join("sub/up")).unwrap();
    let dir = fixtures.path().to_owned();
    let s = TestServer::start_with_config(world(), |c| {
        c.admin_token = Some(ADMIN.into());
        c.fixtures_dir = Some(dir);
    })
    .await;
    let put = |path: &str| {
        admin(
            &s,
            Method::POST,
            "/media",
            Some(
                json!({"file_token": "boxFix", "document": "doxA", "parent_type": "docx_file",
                        "file_name": "f.bin", "path": path}),
            ),
        )
    };
    // Out by an absolute path, `..`, a linked file, a linked folder; `sub` is a folder.
    for outside in [
        "/etc/passwd",
        "../secret",
        "link",
        "etc/passwd",
        "sub",
        "ok.bin/.",
    ] {
        let why = expect_hint(put(outside).await, 400, 1061002).await;
        assert!(why.starts_with("path: "), "{outside}: {why}");
    }
    // Links and `..` that stay inside are followed.
    for inside in ["sub/in.bin", "sub/up", "sub/../ok.bin", "./sub/in.bin"] {
        assert_eq!(put(inside).await.status(), 200, "{inside}");
    }
    assert_eq!(put("ok.bin").await.status(), 200);
    let got = get(&s.download_url("boxFix"), "u-alice", &[]).await;
    assert_eq!(got.bytes().await.unwrap(), "fixture bytes");
}

#[tokio::test]
async fn a_seed_manifest_reads_inside_its_own_folder_only() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("world");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(root.path().join("outside.bin"), b"not yours").unwrap();
    let mut w = world();
    w["media"]
        .as_array_mut()
        .unwrap()
        .push(json!({"file_token": "boxOut", "document": "doxA",
        "parent_type": "docx_file", "file_name": "o.bin", "path": "../outside.bin"}));
    std::fs::write(folder.join("manifest.json"), w.to_string()).unwrap();
    let s = TestServer::start(json!({})).await;
    let e = feishu_media_server::seed::load_file(&s.state, &folder.join("manifest.json"))
        .await
        .unwrap_err();
    assert!(e.path.ends_with("].path"), "{e}");
    assert!(e.message.contains("outside"), "{e}");
    assert_eq!(s.state.meta.media("boxOut").await.unwrap(), None);
}
