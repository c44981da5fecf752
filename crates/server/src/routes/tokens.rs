//! `POST /open-apis/auth/v3/{tenant,app}_access_token/internal`.

use crate::error::{ApiError, json_response};
use crate::state::AppState;
use crate::tokens::issue;
use axum::body::Bytes;
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
fn credentials(body: &[u8]) -> Result<AppCredentials, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(ErrorCode::InvalidParam)
            .hint(format!("body must be {{\"app_id\",\"app_secret\"}}: {e}"))
    })
}

pub async fn tenant_access_token(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let issued = issue(&state, &credentials(&body)?, StoredTokenKind::Tenant).await?;
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
    body: Bytes,
) -> Result<Response, ApiError> {
    let issued = issue(&state, &credentials(&body)?, StoredTokenKind::App).await?;
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
