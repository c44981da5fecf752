//! The seed manifest: refused whole with the JSON path at fault, or applied idempotently.

use crate::support::*;
use feishu_media_server::seed;
use serde_json::{Value, json};

async fn refused(s: &TestServer, manifest: Value) -> String {
    let parsed = match seed::parse(manifest.to_string().as_bytes()) {
        Ok(m) => m,
        Err(e) => return e.to_string(),
    };
    seed::apply(&s.state, &parsed, Some(&s.dir))
        .await
        .expect_err("manifest must be refused")
        .to_string()
}

#[tokio::test]
async fn faults_are_named_by_json_path_and_nothing_is_written() {
    let s = TestServer::start(json!({})).await;
    let app = json!({"app_id": "cli_x", "app_secret": "s", "tenant_key": "t", "scopes": []});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"apps": [{"app_id": "cli_x"}]}), "apps[0]"),
        (json!({"apps": [app, app]}), "apps[1].app_id: duplicate app"),
        (json!({"apps": [app], "bogus": 1}), "unknown field `bogus`"),
        (
            json!({"apps": [app], "documents": [{"token": "d", "type": "docx", "tenant_key": "t",
            "members": [{"principal": "app:cli_nope", "role": "view"}]}]}),
            "documents[0].members[0].principal: no app or user \"app:cli_nope\"",
        ),
        (
            json!({"apps": [app], "documents": [{"token": "d", "type": "docx", "tenant_key": "t",
            "members": [{"principal": "app:cli_x", "role": "owner"}]}]}),
            "documents[0].members[0].role",
        ),
        (
            json!({"documents": [{"token": "d", "type": "wiki", "tenant_key": "t"}]}),
            "documents[0].type",
        ),
        (
            json!({"documents": [{"token": "d", "type": "docx", "tenant_key": "t", "advanced_permission": true}]}),
            "documents[0].advanced_permission",
        ),
        (
            json!({"documents": [{"token": "d", "type": "docx", "tenant_key": "t"}],
            "media": [{"file_token": "m", "document": "nope", "parent_type": "docx_file", "file_name": "a", "content_text": ""}]}),
            "media[0].document: no document \"nope\"",
        ),
        (
            json!({"documents": [{"token": "d", "type": "docx", "tenant_key": "t"}],
            "media": [{"file_token": "m", "document": "d", "parent_type": "docx_file", "file_name": "a"}]}),
            "media[0]: give exactly one of",
        ),
        (
            json!({"documents": [{"token": "d", "type": "docx", "tenant_key": "t"}],
            "media": [{"file_token": "m", "document": "d", "parent_type": "docx_file", "file_name": "a",
                       "content_text": "", "content_base64": ""}]}),
            "media[0]: give exactly one of",
        ),
        (
            json!({"documents": [{"token": "d", "type": "docx", "tenant_key": "t"}],
            "media": [{"file_token": "m", "document": "d", "parent_type": "docx_file", "file_name": "a", "path": "missing.bin"}]}),
            "media[0].path: no file",
        ),
        (
            json!({"documents": [{"token": "d", "type": "docx", "tenant_key": "t"}],
            "media": [{"file_token": "m", "document": "d", "parent_type": "docx_file", "file_name": "a", "content_base64": "!!"}]}),
            "media[0].content_base64",
        ),
        (
            json!({"documents": [{"token": "d", "type": "docx", "tenant_key": "t"}],
            "media": [{"file_token": "m", "document": "d", "parent_type": "sheet_file", "file_name": "a", "content_text": ""}]}),
            "media[0].parent_type",
        ),
        (
            json!({"documents": [{"token": "d", "type": "bitable", "tenant_key": "t"}],
            "media": [{"file_token": "m", "document": "d", "parent_type": "bitable_file", "file_name": "a", "content_text": ""}]}),
            "media[0].bitable: required",
        ),
        (
            json!({"apps": [app], "users": [{"user_id": "ou", "tenant_key": "t"}],
            "user_tokens": [{"token": "t-notuser", "app_id": "cli_x", "user_id": "ou", "scopes": []}]}),
            "user_tokens[0].token",
        ),
        (
            json!({"apps": [app], "user_tokens": [{"token": "u-x", "app_id": "cli_x", "user_id": "ou_nope", "scopes": []}]}),
            "user_tokens[0].user_id: no user",
        ),
        (
            json!({"apps": [{"app_id": "cli_x", "app_secret": "s", "tenant_key": "t", "scopes": [],
            "rate_limit": {"per_second": 0, "per_day": 1}}]}),
            "apps[0].rate_limit",
        ),
        (json!({"media": 5}), "media"),
    ];
    for (manifest, want) in cases {
        let err = refused(&s, manifest.clone()).await;
        assert!(
            err.contains(want),
            "{manifest}\n  gave {err:?}\n  want {want:?}"
        );
    }
    // Nothing of any refused manifest was written.
    assert_eq!(s.state.meta.app("cli_x").await.unwrap(), None);
    assert_eq!(s.state.meta.document("d").await.unwrap(), None);
    assert_eq!(s.state.meta.media("m").await.unwrap(), None);
    assert!(
        seed::parse(b"not json")
            .unwrap_err()
            .to_string()
            .starts_with('$')
    );
}

#[tokio::test]
async fn loading_twice_changes_nothing_and_a_change_is_applied() {
    let s = server().await;
    let before = s.state.meta.media("boxHundred").await.unwrap().unwrap();
    let token_before = s
        .state
        .meta
        .token(&feishu_media_server::secret::token_hash("u-alice"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let m = seed::parse(world().to_string().as_bytes()).unwrap();
    seed::apply(&s.state, &m, Some(&s.dir)).await.unwrap();
    assert_eq!(
        s.state.meta.media("boxHundred").await.unwrap().unwrap(),
        before
    );
    assert_eq!(
        s.state
            .meta
            .token(&feishu_media_server::secret::token_hash("u-alice"))
            .await
            .unwrap(),
        token_before
    );

    // New bytes for the same token: new ETag, and the download serves them.
    let etag_before = header(
        get(&s.download_url("boxHundred"), "u-alice", &[])
            .await
            .headers(),
        "etag",
    )
    .unwrap()
    .to_owned();
    let mut w = world();
    w["media"][0]["content_base64"] = json!("bmV3");
    seed::apply(
        &s.state,
        &seed::parse(w.to_string().as_bytes()).unwrap(),
        Some(&s.dir),
    )
    .await
    .unwrap();
    let resp = get(&s.download_url("boxHundred"), "u-alice", &[]).await;
    assert_ne!(header(resp.headers(), "etag").unwrap(), etag_before);
    assert_eq!(resp.bytes().await.unwrap(), "new");
}

#[tokio::test]
async fn media_from_a_path_beside_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fixtures")).unwrap();
    std::fs::write(dir.path().join("fixtures/a.bin"), b"from a file").unwrap();
    let mut w = world();
    w["media"]
        .as_array_mut()
        .unwrap()
        .push(json!({"file_token": "boxFile", "document": "doxA",
        "parent_type": "docx_file", "file_name": "a.bin", "path": "fixtures/a.bin"}));
    std::fs::write(dir.path().join("manifest.json"), w.to_string()).unwrap();
    let s = TestServer::start(json!({})).await;
    let report = seed::load_file(&s.state, &dir.path().join("manifest.json"))
        .await
        .unwrap();
    assert_eq!(report.media, 9);
    let resp = get(&s.download_url("boxFile"), "u-alice", &[]).await;
    assert_eq!(resp.bytes().await.unwrap(), "from a file");
}

#[tokio::test]
async fn a_reseed_writes_again_only_the_bytes_the_store_lost() {
    let s = TestServer::start(json!({})).await;
    let manifest = json!({
        "apps": [{"app_id": "cli_r", "app_secret": "s", "tenant_key": "t", "scopes": ["drive:drive"], "rate_limit": null}],
        "documents": [{"token": "doxR", "type": "docx", "tenant_key": "t",
                       "members": [{"principal": "app:cli_r", "role": "view"}]}],
        "media": [{"file_token": "boxR", "document": "doxR", "parent_type": "docx_file",
                   "file_name": "r.txt", "content_text": "reseeded bytes"}]
    });
    let load = async || {
        let m = seed::parse(manifest.to_string().as_bytes()).unwrap();
        seed::apply(&s.state, &m, Some(&s.dir)).await.unwrap();
    };
    load().await;
    let digest = s.state.meta.media("boxR").await.unwrap().unwrap().digest;
    // Unchanged: the same blob, still there.
    load().await;
    assert_eq!(
        s.state.meta.media("boxR").await.unwrap().unwrap().digest,
        digest
    );
    // The store lost the bytes (a sweep, a hand): the next load writes them again.
    s.state.blobs.delete(&digest).await.unwrap();
    load().await;
    assert_eq!(s.state.blobs.size(&digest).await.unwrap(), Some(14));
    let t = s.tenant_token("cli_r", "s").await;
    let body = get(&s.download_url("boxR"), &t, &[])
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&body[..], b"reseeded bytes");
}
