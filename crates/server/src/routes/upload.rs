//! `upload_all`, `upload_prepare`, `upload_part`, `upload_finish`: extract, call
//! [`crate::services::uploads`], answer.

use super::json::Json;
use crate::error::{ApiError, json_response};
use crate::layers::auth::Authed;
use crate::services::form::{FormLimits, FormReader};
use crate::services::uploads;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use feishu_media_proto::envelope::SuccessEnvelope;
use feishu_media_proto::upload::{FileTokenData, FinishRequest, PrepareRequest};
use serde_json::json;

fn form(headers: &HeaderMap, body: Body, limits: FormLimits) -> Result<FormReader, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    FormReader::new(content_type, content_length, body, limits)
}

fn ok(data: &impl serde::Serialize) -> Response {
    json_response(StatusCode::OK, &SuccessEnvelope::new(data))
}

pub async fn upload_all(
    State(state): State<AppState>,
    Authed(caller): Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let _under_way = state.uploads.start();
    let form = form(&headers, body, uploads::UPLOAD_ALL_FORM)?;
    let file_token = uploads::upload_all(&state, &caller, form).await?;
    Ok(ok(&FileTokenData { file_token }))
}

pub async fn upload_prepare(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Json(req): Json<PrepareRequest>,
) -> Result<Response, ApiError> {
    Ok(ok(&uploads::prepare(&state, &caller, req).await?))
}

pub async fn upload_part(
    State(state): State<AppState>,
    Authed(caller): Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let _under_way = state.uploads.start();
    uploads::part(&state, &caller, form(&headers, body, uploads::PART_FORM)?).await?;
    Ok(ok(&json!({})))
}

pub async fn upload_finish(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Json(req): Json<FinishRequest>,
) -> Result<Response, ApiError> {
    let file_token = uploads::finish(&state, &caller, req).await?;
    Ok(ok(&FileTokenData { file_token }))
}
