//! `POST /open-apis/auth/v3/{tenant,app}_access_token/internal`.

use super::json::Json;
use crate::error::{ApiError, json_response};
use crate::services::tokens::issue;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::{
    AppAccessTokenResponse, AppCredentials, TenantAccessTokenResponse,
};
use feishu_media_store::StoredTokenKind;

/// A body that is not `{"app_id","app_secret"}` answers like an unknown app (HTTP 200,
/// 10003) [ours: Feishu's answer to a malformed body is not documented].
fn credentials(body: Result<Json<AppCredentials>, ApiError>) -> Result<AppCredentials, ApiError> {
    body.map(|Json(c)| c).map_err(|e| {
        let why = e.troubleshooter.clone().unwrap_or_default();
        ApiError::new(ErrorCode::InvalidParam)
            .hint(format!("body must be {{\"app_id\",\"app_secret\"}}: {why}"))
    })
}

pub async fn tenant_access_token(
    State(state): State<AppState>,
    body: Result<Json<AppCredentials>, ApiError>,
) -> Result<Response, ApiError> {
    let issued = issue(&state, &credentials(body)?, StoredTokenKind::Tenant).await?;
    Ok(json_response(
        StatusCode::OK,
        &TenantAccessTokenResponse {
            code: 0,
            msg: "ok".into(),
            tenant_access_token: issued.token,
            expire: issued.expire_secs,
        },
    ))
}

pub async fn app_access_token(
    State(state): State<AppState>,
    body: Result<Json<AppCredentials>, ApiError>,
) -> Result<Response, ApiError> {
    let issued = issue(&state, &credentials(body)?, StoredTokenKind::App).await?;
    Ok(json_response(
        StatusCode::OK,
        &AppAccessTokenResponse {
            code: 0,
            msg: "ok".into(),
            app_access_token: issued.token,
            expire: issued.expire_secs,
        },
    ))
}
