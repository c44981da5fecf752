//! `GET /console`: the web console, three files built into the binary (no build step,
//! no CDN). The page holds no data; its script asks the admin API with the token the
//! tester types. Served only while the admin API is on.

use crate::state::AppState;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/app.js");
const STYLE: &str = include_str!("../console/app.css");

/// Scripts and styles from this origin only, never inline; images from this origin (the
/// temporary links) and `blob:`; calls to this origin; no frames, no forms elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

pub async fn console(State(state): State<AppState>, parts: Parts) -> Response {
    if state.config.admin_token.is_none() {
        return crate::gateway::not_found();
    }
    let (body, kind) = match parts.uri.path() {
        "/console" | "/console/" | "/console/index.html" => (INDEX, "text/html; charset=utf-8"),
        "/console/app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "/console/app.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return crate::gateway::not_found(),
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
