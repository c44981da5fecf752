//! The endpoints that answer with a media's bytes: `GET|HEAD …/medias/{file_token}/download`
//! (the seed endpoint) and the temporary links. Their answers may be file ranges, which
//! the front sends with `sendfile(2)`, so they return a [`crate::body::ServedBody`]
//! rather than going through axum.

use crate::error::ApiError;
use crate::gateway::query_param;
use crate::layers::{RequestContext, Response};
use crate::services::access::readable_media;
use crate::services::media::respond;
use crate::state::AppState;
use axum::http::request::Parts;
use feishu_media_proto::ErrorCode;

/// `GET|HEAD /open-apis/drive/v1/medias/{file_token}/download`.
pub async fn download(
    state: &AppState,
    req: &Parts,
    ctx: &RequestContext,
) -> Result<Response, ApiError> {
    let caller = ctx.require_caller()?;
    let extra = query_param(&req.uri, "extra");
    let media = readable_media(state, caller, ctx.param(), extra.as_deref()).await?;
    respond(state, &media, &req.method, &req.headers).await
}

/// `GET|HEAD /space/api/box/stream/download/authcode/?code=…`: no `Authorization`, the
/// signed code (checked by the authentication layer) is the permission.
pub async fn tmp_link(
    state: &AppState,
    req: &Parts,
    ctx: &RequestContext,
) -> Result<Response, ApiError> {
    let grant = ctx
        .grant
        .as_ref()
        .ok_or_else(|| ApiError::internal("link without a grant"))?;
    let media = state
        .media_row(&grant.file_token)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    if media.deleted {
        return Err(ApiError::new(ErrorCode::Deleted));
    }
    respond(state, &media, &req.method, &req.headers).await
}
