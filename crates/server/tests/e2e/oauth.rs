//! User tokens by OAuth (documents-and-oauth §11): authorize → code → token with PKCE →
//! a call with the new token → refresh, by raw HTTP, and every refusal on the way.

use crate::support::*;
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:3000/callback";
/// RFC 7636, appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn world() -> Value {
    json!({
        "apps": [
            {"app_id": "cli_o", "app_secret": "sec-o", "tenant_key": "acme",
             "scopes": ["docx:document:readonly", "drive:drive:readonly", "offline_access"],
             "redirect_uris": [REDIRECT, "https://example.com/cb?keep=1"]},
            {"app_id": "cli_o2", "app_secret": "sec-o2", "tenant_key": "acme",
             "scopes": ["drive:drive:readonly"], "redirect_uris": [REDIRECT]}
        ],
        "users": [
            {"user_id": "ou_alice", "tenant_key": "acme", "name": "Alice <b>&</b>"},
            {"user_id": "ou_bob", "tenant_key": "acme", "name": "Bob"},
            {"user_id": "ou_far", "tenant_key": "globex"}
        ],
        "documents": [
            {"token": "doxO", "type": "docx", "tenant_key": "acme", "owner": "user:ou_alice",
             "blocks": [{"block_id": "blkI", "type": "image", "file_token": "boxO"}]}
        ],
        "media": [
            {"file_token": "boxO", "document": "doxO", "parent_type": "docx_image", "parent_node": "blkI",
             "file_name": "o.png", "content_base64": "iVBORw0KGgo="}
        ]
    })
}

fn no_redirects() -> reqwest::Client {
    let _ = client();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `authorize` with these query pairs; the answer, unfollowed.
async fn authorize(s: &TestServer, pairs: &[(&str, &str)]) -> reqwest::Response {
    no_redirects()
        .get(s.url("/open-apis/authen/v1/authorize"))
        .query(pairs)
        .send()
        .await
        .unwrap()
}

/// The query pairs of a redirect's `Location`, which must point at `REDIRECT`.
fn location(resp: &reqwest::Response) -> Vec<(String, String)> {
    assert_eq!(resp.status(), 302);
    let loc = header(resp.headers(), "location").unwrap();
    let (base, query) = loc.split_once('?').unwrap();
    assert_eq!(base, REDIRECT);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn get_pair<'a>(pairs: &'a [(String, String)], k: &str) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

async fn code_for(s: &TestServer, user: &str, scope: &str, pkce: bool) -> String {
    let mut q = vec![
        ("client_id", "cli_o"),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", scope),
        ("state", "st-1"),
        ("user_id", user),
    ];
    if pkce {
        q.push(("code_challenge", CHALLENGE));
        q.push(("code_challenge_method", "S256"));
    }
    let pairs = location(&authorize(s, &q).await);
    assert_eq!(get_pair(&pairs, "state"), Some("st-1"));
    get_pair(&pairs, "code").expect("a code").to_owned()
}

/// POSTs to the token endpoint as JSON; (status, body).
async fn token(s: &TestServer, body: Value) -> (u16, Value) {
    let resp = client()
        .post(s.url("/open-apis/authen/v2/oauth/token"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn exchange(code: &str, verifier: Option<&str>) -> Value {
    let mut b = json!({"grant_type": "authorization_code", "client_id": "cli_o", "client_secret": "sec-o",
                       "code": code, "redirect_uri": REDIRECT});
    if let Some(v) = verifier {
        b["code_verifier"] = json!(v);
    }
    b
}

fn refresh(refresh_token: &str) -> Value {
    json!({"grant_type": "refresh_token", "client_id": "cli_o", "client_secret": "sec-o",
           "refresh_token": refresh_token})
}

async fn oauth_error(s: &TestServer, body: Value, code: i64) {
    let (status, b) = token(s, body.clone()).await;
    assert_eq!(
        (status, b["code"].as_i64()),
        (400, Some(code)),
        "{body}: {b}"
    );
    assert!(
        b["error"].is_string() && b["error_description"].is_string(),
        "{b}"
    );
}

#[tokio::test]
async fn a_round_trip_with_pkce_and_a_rotating_refresh_token() {
    let s = TestServer::start(world()).await;
    let code = code_for(
        &s,
        "ou_alice",
        "docx:document:readonly offline_access",
        true,
    )
    .await;
    let (status, t) = token(&s, exchange(&code, Some(VERIFIER))).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["code"], 0);
    assert!(t.get("data").is_none(), "flat: {t}");
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 7200);
    assert_eq!(t["refresh_token_expires_in"], 604800);
    assert_eq!(t["scope"], "docx:document:readonly offline_access");
    let access = t["access_token"].as_str().unwrap().to_owned();
    assert!(access.starts_with("u-"));

    // The new token works, with exactly the scopes granted.
    let info = expect_data(get(&s.url("/open-apis/authen/v1/user_info"), &access, &[]).await).await;
    assert_eq!(info["open_id"], "ou_alice");
    assert_eq!(info["name"], "Alice <b>&</b>");
    assert_eq!(info["tenant_key"], "acme");
    let blocks = expect_data(
        get(
            &s.url("/open-apis/docx/v1/documents/doxO/blocks"),
            &access,
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(blocks["items"][1]["image"]["token"], "boxO");
    // drive:drive:readonly was not asked for: the media download needs it.
    expect_error(
        get(&s.download_url("boxO"), &access, &[]).await,
        400,
        99991679,
    )
    .await;

    // The code is single-use.
    oauth_error(&s, exchange(&code, Some(VERIFIER)), 20003).await;

    // Refresh: a new pair, and the old refresh token is refused after.
    let old = t["refresh_token"].as_str().unwrap().to_owned();
    let (status, t2) = token(&s, refresh(&old)).await;
    assert_eq!(status, 200, "{t2}");
    let new_refresh = t2["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, old);
    assert_ne!(t2["access_token"], t["access_token"]);
    oauth_error(&s, refresh(&old), 20073).await;
    // Narrowed on refresh: no offline_access, so no refresh token.
    let mut narrow = refresh(new_refresh);
    narrow["scope"] = json!("docx:document:readonly");
    let (status, t3) = token(&s, narrow).await;
    assert_eq!(status, 200, "{t3}");
    assert_eq!(t3["scope"], "docx:document:readonly");
    assert!(t3.get("refresh_token").is_none(), "{t3}");
    let a3 = t3["access_token"].as_str().unwrap();
    expect_data(get(&s.url("/open-apis/docx/v1/documents/doxO"), a3, &[]).await).await;

    // The tokens die with their user.
    let admin =
        TestServer::start_with_config(world(), |c| c.admin_token = Some(ADMIN.into())).await;
    let code = code_for(
        &admin,
        "ou_alice",
        "docx:document:readonly offline_access",
        false,
    )
    .await;
    let (_, t) = token(&admin, exchange(&code, None)).await;
    let access = t["access_token"].as_str().unwrap().to_owned();
    let gone =
        crate::support::admin(&admin, reqwest::Method::DELETE, "/users/ou_alice", None).await;
    assert!(gone.status().is_success(), "{}", gone.status());
    expect_error(
        get(&admin.url("/open-apis/authen/v1/user_info"), &access, &[]).await,
        400,
        99991668,
    )
    .await;
    oauth_error(&admin, refresh(t["refresh_token"].as_str().unwrap()), 20026).await;
}

#[tokio::test]
async fn without_offline_access_no_refresh_token_and_form_bodies_work() {
    let s = TestServer::start(world()).await;
    let code = code_for(&s, "ou_bob", "drive:drive:readonly", false).await;
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("client_id", "cli_o"),
            ("client_secret", "sec-o"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .finish();
    let resp = client()
        .post(s.url("/open-apis/authen/v2/oauth/token"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let t: Value = resp.json().await.unwrap();
    assert!(t.get("refresh_token").is_none(), "{t}");
    let access = t["access_token"].as_str().unwrap();
    // No role on doxO for Bob: the document check applies to OAuth tokens too.
    expect_error(
        get(&s.download_url("boxO"), access, &[]).await,
        403,
        1061004,
    )
    .await;
    // A tenant token is not a user's.
    let tenant = s.tenant_token("cli_o", "sec-o").await;
    expect_error(
        get(&s.url("/open-apis/authen/v1/user_info"), &tenant, &[]).await,
        400,
        99991668,
    )
    .await;
}

#[tokio::test]
async fn every_refusal_of_the_token_endpoint() {
    let s = TestServer::start(world()).await;
    let code = code_for(&s, "ou_alice", "docx:document:readonly", true).await;
    // A wrong verifier spends the code: a code is tried once.
    oauth_error(
        &s,
        exchange(&code, Some("wrong-verifier-wrong-verifier-wrong-verifier")),
        20049,
    )
    .await;
    oauth_error(&s, exchange(&code, Some(VERIFIER)), 20003).await;

    let code = code_for(&s, "ou_alice", "docx:document:readonly", true).await;
    oauth_error(&s, exchange(&code, None), 20001).await;
    let code = code_for(&s, "ou_alice", "docx:document:readonly", false).await;
    let mut other_uri = exchange(&code, None);
    other_uri["redirect_uri"] = json!("http://127.0.0.1:3000/other");
    oauth_error(&s, other_uri, 20071).await;
    let code = code_for(&s, "ou_alice", "docx:document:readonly", false).await;
    let mut other_client = exchange(&code, None);
    other_client["client_id"] = json!("cli_o2");
    other_client["client_secret"] = json!("sec-o2");
    oauth_error(&s, other_client, 20024).await;
    let mut bad_secret = exchange("whatever", None);
    bad_secret["client_secret"] = json!("nope");
    oauth_error(&s, bad_secret, 20002).await;
    oauth_error(&s, exchange("not-a-code", None), 20003).await;
    oauth_error(
        &s,
        json!({"grant_type": "password", "client_id": "cli_o", "client_secret": "sec-o"}),
        20036,
    )
    .await;
    oauth_error(
        &s,
        json!({"client_id": "cli_o", "client_secret": "sec-o"}),
        20001,
    )
    .await;
    oauth_error(
        &s,
        json!({"grant_type": "authorization_code", "client_id": "cli_o", "client_secret": "sec-o"}),
        20001,
    )
    .await;
    oauth_error(&s, refresh("ur-not-ours"), 20026).await;
    let code = code_for(&s, "ou_alice", "docx:document:readonly", false).await;
    let mut wider = exchange(&code, None);
    wider["scope"] = json!("docx:document:readonly drive:drive");
    oauth_error(&s, wider, 20001).await;
    let raw = client()
        .post(s.url("/open-apis/authen/v2/oauth/token"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let b: Value = raw.json().await.unwrap();
    assert_eq!(b["code"], 20001);
}

#[tokio::test]
async fn authorize_checks_the_client_and_its_redirect_uri() {
    let s = TestServer::start(world()).await;
    let base = [
        ("client_id", "cli_o"),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
    ];

    // A foreign redirect_uri, or none, or an unknown client: a page, never a redirect.
    for q in [
        vec![
            ("client_id", "cli_o"),
            ("response_type", "code"),
            ("redirect_uri", "http://evil.example/cb"),
        ],
        vec![("client_id", "cli_o"), ("response_type", "code")],
        vec![
            ("client_id", "cli_nope"),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
        ],
    ] {
        let resp = authorize(&s, &q).await;
        assert_eq!(resp.status(), 400, "{q:?}");
        assert!(resp.headers().get("location").is_none());
    }

    // Deny: access_denied back at the client, with its state.
    let mut q = base.to_vec();
    q.extend([
        ("state", "s2"),
        ("user_id", "ou_alice"),
        ("decision", "deny"),
    ]);
    let pairs = location(&authorize(&s, &q).await);
    assert_eq!(get_pair(&pairs, "error"), Some("access_denied"));
    assert_eq!(get_pair(&pairs, "state"), Some("s2"));
    assert_eq!(get_pair(&pairs, "code"), None);

    // Errors after the redirect_uri is known go back to it.
    let q = [
        ("client_id", "cli_o"),
        ("response_type", "token"),
        ("redirect_uri", REDIRECT),
    ];
    let pairs = location(&authorize(&s, &q).await);
    assert_eq!(get_pair(&pairs, "error"), Some("unsupported_response_type"));
    let mut q = base.to_vec();
    q.extend([("code_challenge", "x"), ("code_challenge_method", "S512")]);
    assert_eq!(
        get_pair(&location(&authorize(&s, &q).await), "error"),
        Some("invalid_request")
    );

    // A user of another tenant cannot grant.
    let mut q = base.to_vec();
    q.push(("user_id", "ou_far"));
    assert_eq!(authorize(&s, &q).await.status(), 400);

    // A redirect_uri with a query of its own keeps it.
    let q = [
        ("client_id", "cli_o"),
        ("response_type", "code"),
        ("redirect_uri", "https://example.com/cb?keep=1"),
        ("user_id", "ou_bob"),
    ];
    let resp = authorize(&s, &q).await;
    let loc = header(resp.headers(), "location").unwrap();
    assert!(
        loc.starts_with("https://example.com/cb?keep=1&code="),
        "{loc}"
    );

    // Without user_id: the page, listing the tenant's users as text, with a CSP.
    let resp = authorize(&s, &base).await;
    assert_eq!(resp.status(), 200);
    assert!(
        header(resp.headers(), "content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Alice &lt;b&gt;&amp;&lt;/b&gt; (ou_alice)"),
        "{html}"
    );
    assert!(html.contains("value=\"ou_bob\""));
    assert!(
        !html.contains("ou_far"),
        "another tenant's user is not offered"
    );
    assert!(html.contains("name=\"decision\" value=\"grant\""));
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let s = TestServer::start_with_config(world(), |c| c.frozen_clock = true).await;
    let code = code_for(&s, "ou_alice", "docx:document:readonly", false).await;
    s.state.clock.advance(std::time::Duration::from_secs(301));
    oauth_error(&s, exchange(&code, None), 20004).await;
}
