//! `GET /healthz` (the process answers) and `GET /readyz` (its storage answers too).

use crate::error::json_response;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.meta.ping().await {
        Ok(()) => json_response(StatusCode::OK, &json!({"status": "ready"})),
        Err(e) => {
            tracing::warn!(error = %e, "storage not ready");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"status": "unavailable"}),
            )
        }
    }
}

/// `GET /metrics`, Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut resp = state.metrics.render().into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// The OpenAPI 3 document of the public endpoints (a test holds it to the real routes).
pub const OPENAPI: &str = include_str!("../openapi.json");

pub async fn openapi() -> Response {
    let mut resp = OPENAPI.into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}
