//! Router tests: the whole [`crate::app()`] called in process with `oneshot`, on the
//! in-memory store, so a rule is checked in milliseconds without a socket.

use crate::config::{ServerConfig, Storage};
use crate::layers::Response;
use crate::state::AppState;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A small world: two apps of one tenant, one of another, users, documents, media.
pub fn world() -> Value {
    json!({
        "apps": [
            {"app_id": "cli_a", "app_secret": "sec-a", "tenant_key": "acme",
             "scopes": ["drive:drive:readonly"], "rate_limit": null},
            {"app_id": "cli_bit", "app_secret": "sec-b", "tenant_key": "acme",
             "scopes": ["bitable:app"], "rate_limit": null},
            {"app_id": "cli_none", "app_secret": "sec-n", "tenant_key": "acme",
             "scopes": ["contact:user:readonly"]},
            {"app_id": "cli_out", "app_secret": "sec-o", "tenant_key": "acme", "scopes": ["drive:drive"]},
            {"app_id": "cli_far", "app_secret": "sec-f", "tenant_key": "globex", "scopes": ["drive:drive"]}
        ],
        "users": [{"user_id": "ou_a", "tenant_key": "acme"}],
        "user_tokens": [
            {"token": "u-good", "app_id": "cli_a", "user_id": "ou_a", "scopes": ["docs:doc:readonly"]},
            {"token": "u-noscope", "app_id": "cli_a", "user_id": "ou_a", "scopes": ["contact:user:readonly"]}
        ],
        "documents": [
            {"token": "doxA", "type": "docx", "tenant_key": "acme", "owner": "user:ou_a",
             "members": [{"principal": "app:cli_a", "role": "view"}, {"principal": "app:cli_none", "role": "view"},
                         {"principal": "app:cli_far", "role": "view"}]},
            {"token": "basA", "type": "bitable", "tenant_key": "acme", "advanced_permission": true,
             "members": [{"principal": "app:cli_a", "role": "view"}, {"principal": "app:cli_bit", "role": "manage"}]}
        ],
        "media": [
            {"file_token": "boxA", "document": "doxA", "parent_type": "docx_file",
             "file_name": "a.txt", "content_text": "0123456789"},
            {"file_token": "boxGone", "document": "doxA", "parent_type": "docx_file",
             "file_name": "g.txt", "content_text": "gone", "deleted": true},
            {"file_token": "boxBit", "document": "basA", "parent_type": "bitable_file",
             "file_name": "b.csv", "content_text": "a,b\n",
             "bitable": {"table_id": "tblA", "field_id": "fldA", "record_id": "recA"}}
        ]
    })
}

/// A state on the in-memory store, seeded with `manifest`, its clock frozen.
pub async fn state_with(manifest: Value, configure: impl FnOnce(&mut ServerConfig)) -> AppState {
    let mut config = ServerConfig {
        storage: Storage::memory(),
        frozen_clock: true,
        ..ServerConfig::default()
    };
    configure(&mut config);
    let state = AppState::open(config).await.expect("memory store");
    let manifest = crate::seed::parse(manifest.to_string().as_bytes()).expect("manifest");
    crate::seed::apply(&state, &manifest, None)
        .await
        .expect("manifest applies");
    state
}

pub async fn state() -> AppState {
    state_with(world(), |_| {}).await
}

/// A tenant token of `app_id`, issued as the token endpoint would.
pub async fn tenant_token(state: &AppState, app_id: &str, secret: &str) -> String {
    let creds = feishu_media_proto::envelope::AppCredentials {
        app_id: app_id.into(),
        app_secret: secret.into(),
    };
    crate::services::tokens::issue(state, &creds, feishu_media_store::StoredTokenKind::Tenant)
        .await
        .expect("credentials")
        .token
}

/// Calls the whole app once.
pub async fn call(state: &AppState, req: Request<Body>) -> Response {
    crate::app(state.clone())
        .oneshot(req)
        .await
        .expect("infallible")
}

/// A GET of `uri` with these headers.
pub fn get(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::get(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::empty()).expect("request")
}

/// The status and body of an answer.
pub async fn answer(resp: Response) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(Body::new(body), usize::MAX)
        .await
        .expect("body");
    (parts.status, parts.headers, bytes.to_vec())
}

/// The status and Feishu code of an answer (0 for a body that is not an envelope).
pub async fn status_and_code(resp: Response) -> (u16, i64) {
    let (status, _, body) = answer(resp).await;
    let code = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["code"].as_i64())
        .unwrap_or(0);
    (status.as_u16(), code)
}
