//! The endpoint handlers (thin: extract, call, return) and the router that wires them.

mod admin;
mod download;
mod health;
mod tmp_url;
mod tokens;
mod upload;

use crate::observe::observe;
use crate::state::AppState;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

/// The whole API as a router, with the request-observing layer outermost.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/open-apis/auth/v3/tenant_access_token/internal",
            post(tokens::tenant_access_token),
        )
        .route(
            "/open-apis/auth/v3/app_access_token/internal",
            post(tokens::app_access_token),
        )
        .route(
            "/open-apis/drive/v1/medias/{file_token}/download",
            get(download::download),
        )
        .route(
            "/open-apis/drive/v1/medias/upload_all",
            post(upload::upload_all),
        )
        .route(
            "/open-apis/drive/v1/medias/upload_prepare",
            post(upload::upload_prepare),
        )
        .route(
            "/open-apis/drive/v1/medias/upload_part",
            post(upload::upload_part),
        )
        .route(
            "/open-apis/drive/v1/medias/upload_finish",
            post(upload::upload_finish),
        )
        .route(
            "/open-apis/drive/v1/medias/batch_get_tmp_download_url",
            get(tmp_url::batch_get_tmp_download_url),
        )
        .route(
            feishu_media_proto::tmp_url::LINK_PATH,
            get(tmp_url::download_by_code),
        )
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(health::openapi))
        .nest("/_admin/v1", admin::router())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(state.clone())
        .layer(axum::middleware::map_request(crate::drain::drain_unread))
        // Upload bodies are streamed by the handlers, which enforce their own limits.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(state, observe))
}

/// Feishu's gateway answers unknown paths and methods with Go's plain-text 404.
pub(crate) async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found",
    )
}

/// The `{file_token}` of a `…/medias/{file_token}/download` path, percent-decoded (lossily:
/// a token that is not UTF-8 names no media, and says so with 404).
pub fn file_token_of(parts: &axum::http::request::Parts) -> Option<String> {
    let path = parts.uri.path();
    let rest = path
        .strip_prefix("/open-apis/drive/v1/medias/")?
        .strip_suffix("/download")?;
    Some(
        percent_encoding::percent_decode_str(rest)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// The first value of query parameter `name`, decoded (`+` as space, `%XX`, lossy UTF-8).
fn query_param(uri: &axum::http::Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
