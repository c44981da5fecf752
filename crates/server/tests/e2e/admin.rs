//! The admin API: its authentication, seed and reset, and every object route.

use crate::support::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn data(resp: reqwest::Response) -> Value {
    expect_data(resp).await
}

#[tokio::test]
async fn off_without_a_token_and_closed_to_everyone_else() {
    let off = server().await;
    let resp = client()
        .get(off.url("/_admin/v1/apps"))
        .header("Authorization", "Bearer anything")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.text().await.unwrap(), "404 page not found");

    let s = admin_server().await;
    let url = s.url("/_admin/v1/apps");
    let (_, env) = expect_error(client().get(&url).send().await.unwrap(), 401, 1069401).await;
    assert_eq!(env.msg, "admin token missing or wrong");
    expect_error(
        client()
            .get(&url)
            .header("Authorization", "Bearer wrong")
            .send()
            .await
            .unwrap(),
        401,
        1069401,
    )
    .await;
    expect_error(
        client()
            .get(&url)
            .header("Authorization", format!("Bearer {ADMIN}x"))
            .send()
            .await
            .unwrap(),
        401,
        1069401,
    )
    .await;
    // A valid tenant or app token of the API is no admin token.
    for t in [
        s.tenant_token("cli_a", "sec-a").await,
        s.app_token("cli_a", "sec-a").await,
    ] {
        expect_error(
            client()
                .get(&url)
                .header("Authorization", format!("Bearer {t}"))
                .send()
                .await
                .unwrap(),
            401,
            1069401,
        )
        .await;
    }
    // Every route refuses without the token, whatever the method.
    for (m, p) in [
        (Method::POST, "/seed"),
        (Method::POST, "/reset"),
        (Method::PUT, "/faults"),
        (Method::DELETE, "/media/boxHundred"),
    ] {
        let resp = client()
            .request(m, s.url(&format!("/_admin/v1{p}")))
            .send()
            .await
            .unwrap();
        expect_error(resp, 401, 1069401).await;
    }
    assert_eq!(
        get(&s.download_url("boxHundred"), "u-alice", &[])
            .await
            .status(),
        200,
        "nothing was deleted"
    );
}

#[tokio::test]
async fn seed_merges_and_refuses_whole_with_the_json_path() {
    let s = admin_server().await;
    let manifest = json!({"media": [{"file_token": "boxSeeded", "document": "doxA", "parent_type": "docx_file",
        "file_name": "s.txt", "content_text": "seeded"}]});
    let report = data(admin(&s, Method::POST, "/seed", Some(manifest)).await).await;
    assert_eq!(report["media"], 1);
    assert_eq!(
        get(&s.download_url("boxSeeded"), "u-alice", &[])
            .await
            .text()
            .await
            .unwrap(),
        "seeded"
    );

    let bad = json!({"media": [{"file_token": "boxNew", "document": "doxA", "parent_type": "docx_file",
        "file_name": "n.txt", "content_text": "x"}],
        "documents": [{"token": "doxZ", "type": "docx", "tenant_key": "acme",
            "members": [{"principal": "app:cli_nope", "role": "view"}]}]});
    let (_, env) = expect_error(
        admin(&s, Method::POST, "/seed", Some(bad)).await,
        400,
        1061002,
    )
    .await;
    let hint = env.error.unwrap().troubleshooter.unwrap();
    assert!(
        hint.starts_with("documents[0].members[0].principal: no app or user"),
        "{hint}"
    );
    expect_error(
        get(&s.download_url("boxNew"), "u-alice", &[]).await,
        404,
        1061003,
    )
    .await;
    let resp = client()
        .post(s.url("/_admin/v1/seed"))
        .header("Authorization", format!("Bearer {ADMIN}"))
        .body("{")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, 1061002).await;
}

#[tokio::test]
async fn reset_returns_to_the_start_up_world() {
    let s = admin_server().await;
    let up = s.tenant_token("cli_up", "sec-u").await;
    let (ct, body) = multipart(&[
        ("file_name", None, b"a.txt"),
        ("parent_type", None, b"ccm_import_open"),
        ("size", None, b"1"),
        ("file", None, b"a"),
    ]);
    let resp = client()
        .post(s.url("/open-apis/drive/v1/medias/upload_all"))
        .header("Authorization", format!("Bearer {up}"))
        .header("Content-Type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let uploaded = expect_data(resp).await["file_token"]
        .as_str()
        .unwrap()
        .to_owned();
    data(admin(&s, Method::POST, "/media/boxHundred/delete", None).await).await;
    data(
        admin(
            &s,
            Method::PUT,
            "/faults",
            Some(json!([{"endpoint": "download", "action": {"delay_ms": 1}}])),
        )
        .await,
    )
    .await;

    let report = data(admin(&s, Method::POST, "/reset", None).await).await;
    assert_eq!(report["media"], world()["media"].as_array().unwrap().len());
    assert_eq!(
        get(&s.download_url("boxHundred"), "u-alice", &[])
            .await
            .bytes()
            .await
            .unwrap(),
        hundred()
    );
    let up = s.tenant_token("cli_up", "sec-u").await; // tenant tokens were wiped too
    expect_error(
        get(&s.download_url(&uploaded), &up, &[]).await,
        404,
        1061003,
    )
    .await;
    assert_eq!(
        data(admin(&s, Method::GET, "/faults", None).await).await,
        json!([])
    );
    assert!(
        feishu_media_store::blob::all_keys(&*s.state.blobs)
            .await
            .unwrap()
            .len()
            <= world()["media"].as_array().unwrap().len()
    );
}

#[tokio::test]
async fn apps_users_and_user_tokens() {
    let s = admin_server().await;
    let apps = data(admin(&s, Method::GET, "/apps", None).await).await;
    assert!(
        apps["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["app_id"] == "cli_a")
    );
    let app = data(
        admin(
            &s,
            Method::POST,
            "/apps",
            Some(json!({"app_id": "cli_new", "app_secret": "n",
        "tenant_key": "acme", "scopes": ["drive:drive"]})),
        )
        .await,
    )
    .await;
    assert_eq!(
        app["rate_limit"],
        json!({"per_second": 5, "per_day": 10000})
    );
    assert_eq!(
        data(admin(&s, Method::GET, "/apps/cli_new", None).await).await["app_secret"],
        "n"
    );
    let t = s.tenant_token("cli_new", "n").await;
    assert!(t.starts_with("t-"));
    // PUT replaces (and refuses an id that disagrees with the path).
    data(
        admin(
            &s,
            Method::PUT,
            "/apps/cli_new",
            Some(json!({"app_id": "cli_new", "app_secret": "n2",
        "tenant_key": "acme", "scopes": [], "rate_limit": null})),
        )
        .await,
    )
    .await;
    let app = data(admin(&s, Method::GET, "/apps/cli_new", None).await).await;
    assert_eq!(
        (app["app_secret"].as_str(), &app["rate_limit"]),
        (Some("n2"), &Value::Null)
    );
    expect_error(
        admin(
            &s,
            Method::PUT,
            "/apps/cli_other_id",
            Some(json!({"app_id": "cli_new", "app_secret": "n",
        "tenant_key": "acme", "scopes": []})),
        )
        .await,
        400,
        1061002,
    )
    .await;
    let (_, env) = expect_error(
        admin(
            &s,
            Method::POST,
            "/apps",
            Some(json!({"app_id": "cli_x", "app_secret": "",
        "tenant_key": "acme", "scopes": []})),
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
            .starts_with("app_secret"),
        "path relative to the object"
    );
    expect_error(
        admin(&s, Method::POST, "/apps", Some(json!({"app_id": 5}))).await,
        400,
        1061002,
    )
    .await;
    data(admin(&s, Method::DELETE, "/apps/cli_new", None).await).await;
    expect_error(
        admin(&s, Method::GET, "/apps/cli_new", None).await,
        404,
        1069404,
    )
    .await;
    expect_error(
        admin(&s, Method::DELETE, "/apps/cli_new", None).await,
        404,
        1069404,
    )
    .await;

    data(
        admin(
            &s,
            Method::POST,
            "/users",
            Some(json!({"user_id": "ou_new", "tenant_key": "acme", "name": "New"})),
        )
        .await,
    )
    .await;
    assert_eq!(
        data(admin(&s, Method::GET, "/users/ou_new", None).await).await["name"],
        "New"
    );
    assert!(
        data(admin(&s, Method::GET, "/users", None).await).await["items"]
            .as_array()
            .unwrap()
            .len()
            >= 3
    );

    let tok = data(
        admin(
            &s,
            Method::POST,
            "/user_tokens",
            Some(json!({"token": "u-new", "app_id": "cli_a",
        "user_id": "ou_alice", "scopes": ["drive:drive"]})),
        )
        .await,
    )
    .await;
    assert_eq!(tok["user_id"], "ou_alice");
    assert!(tok.get("token").is_none(), "only the hash is kept: {tok}");
    assert_eq!(
        get(&s.download_url("boxHundred"), "u-new", &[])
            .await
            .status(),
        200
    );
    let listed = data(admin(&s, Method::GET, "/user_tokens", None).await).await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["hash"] == tok["hash"])
    );
    data(admin(&s, Method::DELETE, "/user_tokens/u-new", None).await).await;
    expect_error(
        get(&s.download_url("boxHundred"), "u-new", &[]).await,
        400,
        99991668,
    )
    .await;
    data(admin(&s, Method::DELETE, "/users/ou_new", None).await).await;
    expect_error(
        admin(&s, Method::GET, "/users/ou_new", None).await,
        404,
        1069404,
    )
    .await;
}

#[tokio::test]
async fn documents_and_members_change_who_may_download() {
    let s = admin_server().await;
    let stranger = s.tenant_token("cli_stranger", "sec-s").await;
    let url = s.download_url("boxHundred");
    expect_error(get(&url, &stranger, &[]).await, 403, 1061004).await;
    let doc = data(
        admin(
            &s,
            Method::POST,
            "/documents/doxA/members",
            Some(json!({"principal": "app:cli_stranger", "role": "view"})),
        )
        .await,
    )
    .await;
    assert!(
        doc["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["principal"] == "app:cli_stranger")
    );
    assert_eq!(get(&url, &stranger, &[]).await.status(), 200);
    data(
        admin(
            &s,
            Method::DELETE,
            "/documents/doxA/members/app:cli_stranger",
            None,
        )
        .await,
    )
    .await;
    expect_error(get(&url, &stranger, &[]).await, 403, 1061004).await;
    expect_error(
        admin(
            &s,
            Method::POST,
            "/documents/doxA/members",
            Some(json!({"principal": "app:nope", "role": "view"})),
        )
        .await,
        400,
        1061002,
    )
    .await;
    expect_error(
        admin(
            &s,
            Method::POST,
            "/documents/doxA/members",
            Some(json!({"principal": "app:cli_a", "role": "owner"})),
        )
        .await,
        400,
        1061002,
    )
    .await;
    expect_error(
        admin(
            &s,
            Method::DELETE,
            "/documents/doxA/members/app:nobody",
            None,
        )
        .await,
        404,
        1069404,
    )
    .await;

    data(
        admin(
            &s,
            Method::POST,
            "/documents",
            Some(
                json!({"token": "doxNew", "type": "docx", "tenant_key": "acme",
        "owner": "app:cli_stranger"}),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(
        data(admin(&s, Method::GET, "/documents/doxNew", None).await).await["owner"],
        "app:cli_stranger"
    );
    assert!(
        data(admin(&s, Method::GET, "/documents", None).await).await["items"]
            .as_array()
            .unwrap()
            .len()
            >= 5
    );
    // A document that holds media is not deleted from under them.
    expect_error(
        admin(&s, Method::DELETE, "/documents/doxA", None).await,
        400,
        1061002,
    )
    .await;
    data(admin(&s, Method::DELETE, "/documents/doxNew", None).await).await;
    expect_error(
        admin(&s, Method::GET, "/documents/doxNew", None).await,
        404,
        1069404,
    )
    .await;
}

#[tokio::test]
async fn media_create_soft_delete_undelete_and_delete() {
    let s = admin_server().await;
    let m = data(
        admin(
            &s,
            Method::POST,
            "/media",
            Some(json!({"file_token": "boxAdm", "document": "doxA",
        "parent_type": "docx_file", "file_name": "adm.txt", "content_text": "from admin"})),
        )
        .await,
    )
    .await;
    assert_eq!(m["size"], 10);
    assert_eq!(
        data(admin(&s, Method::GET, "/media/boxAdm", None).await).await["file_name"],
        "adm.txt"
    );
    assert!(
        data(admin(&s, Method::GET, "/media", None).await).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["file_token"] == "boxAdm")
    );
    let url = s.download_url("boxAdm");
    assert_eq!(
        get(&url, "u-alice", &[]).await.text().await.unwrap(),
        "from admin"
    );
    assert_eq!(
        data(admin(&s, Method::POST, "/media/boxAdm/delete", None).await).await["deleted"],
        true
    );
    expect_error(get(&url, "u-alice", &[]).await, 404, 1061007).await;
    data(admin(&s, Method::POST, "/media/boxAdm/undelete", None).await).await;
    assert_eq!(get(&url, "u-alice", &[]).await.status(), 200);
    data(admin(&s, Method::DELETE, "/media/boxAdm", None).await).await;
    expect_error(get(&url, "u-alice", &[]).await, 404, 1061003).await;
    expect_error(
        admin(&s, Method::POST, "/media/boxAdm/delete", None).await,
        404,
        1069404,
    )
    .await;
    expect_error(
        admin(
            &s,
            Method::POST,
            "/media",
            Some(json!({"file_token": "boxBad", "document": "doxA",
        "parent_type": "docx_file", "file_name": "x"})),
        )
        .await,
        400,
        1061002,
    )
    .await;
}

#[tokio::test]
async fn the_request_log_lists_the_latest_requests() {
    let s = admin_server().await;
    let _ = get(&s.download_url("boxHundred"), "u-alice", &[]).await;
    let failed = get(&s.download_url("boxNoSuch"), "u-alice", &[]).await;
    let failed_log_id = header(failed.headers(), "x-tt-logid").unwrap().to_owned();
    let log = data(admin(&s, Method::GET, "/requests?limit=2", None).await).await;
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["log_id"], failed_log_id, "newest first");
    assert_eq!(log[0]["status"], 404);
    assert_eq!(log[0]["code"], 1061003);
    assert_eq!(log[0]["app_id"], "cli_a");
    assert_eq!(log[0]["file_token"], "boxNoSuch");
    assert_eq!(log[0]["endpoint"], "download");
    assert_eq!(log[1]["status"], 200);
    assert_eq!(log[1]["bytes"], 100);
    for key in ["time_ms", "method", "path", "duration_ms"] {
        assert!(log[0].get(key).is_some(), "{key}");
    }
    expect_error(
        admin(&s, Method::GET, "/requests?limit=x", None).await,
        400,
        1061002,
    )
    .await;
}

#[tokio::test]
async fn listings_page_with_page_size_and_page_token() {
    let s = admin_server().await;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            None => "/apps?page_size=3".to_owned(),
            Some(t) => format!("/apps?page_size=3&page_token={t}"),
        };
        let page = data(admin(&s, Method::GET, &path, None).await).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|a| a["app_id"].as_str().unwrap().to_owned()),
        );
        if page["has_more"] == true {
            token = Some(page["page_token"].as_str().unwrap().to_owned());
        } else {
            assert!(page.get("page_token").is_none(), "{page}");
            break;
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "in order, none twice");
    assert_eq!(
        seen.len(),
        world()["apps"].as_array().unwrap().len(),
        "every app once"
    );
    for bad in [
        "/apps?page_size=0",
        "/apps?page_size=1001",
        "/apps?page_token=%%%",
        "/media?page_size=x",
    ] {
        let resp = admin(&s, Method::GET, bad, None).await;
        expect_error(resp, 400, 1061002).await;
    }
}

#[tokio::test]
async fn the_console_is_served_only_with_the_admin_api_and_its_links_download() {
    let s = admin_server().await;
    let resp = client().get(s.url("/console")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let csp = header(resp.headers(), "content-security-policy")
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("Admin token") && !page.contains("boxHundred"),
        "no data in the page"
    );
    for (path, kind) in [
        ("/console/app.js", "text/javascript"),
        ("/console/app.css", "text/css"),
    ] {
        let r = client().get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            header(r.headers(), "content-type")
                .unwrap()
                .starts_with(kind)
        );
    }
    assert_eq!(
        client()
            .get(s.url("/console/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let link = expect_data(admin(&s, Method::POST, "/media/boxHundred/link", None).await).await;
    let url = link["url"].as_str().unwrap();
    let bytes = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], &hundred()[..]);
    let e = admin(&s, Method::POST, "/media/boxNope/link", None).await;
    expect_error(e, 404, 1069404).await;

    let off = server().await;
    assert_eq!(
        client()
            .get(off.url("/console"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
