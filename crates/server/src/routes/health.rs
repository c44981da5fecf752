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

/// Ready when the metadata and the blobs answer (each asked at once, for at most 2 s).
/// The rate limits never make a replica unready: without Redis each replica counts
/// alone (`"limits": "per-replica"`), and taking every replica out of a proxy because
/// their shared Redis is down would stop the service that the fallback keeps up.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let within = |f| tokio::time::timeout(std::time::Duration::from_secs(2), f);
    let (meta, blobs, limits) = tokio::join!(
        within(state.meta.ping()),
        within(state.blobs.ping()),
        state.limits.mode()
    );
    let answer = |r: Result<feishu_media_store::StoreResult<()>, _>, what: &str| match r {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "{what} not ready");
            "unavailable"
        }
        Err(_) => {
            tracing::warn!("{what} not ready: no answer within 2 s");
            "unavailable"
        }
    };
    let (meta, blobs) = (answer(meta, "metadata"), answer(blobs, "blobs"));
    let ready = meta == "ok" && blobs == "ok";
    json_response(
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        &json!({
            "status": if ready { "ready" } else { "unavailable" },
            "metadata": meta,
            "blobs": blobs,
            "limits": limits,
        }),
    )
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
