//! `upload_all`, `upload_prepare`, `upload_part`, `upload_finish`.

use crate::auth::{Authed, UploadAll, UploadFinish, UploadPart, UploadPrepare};
use crate::error::{ApiError, json_response};
use crate::state::AppState;
use crate::upload::Fields;
use crate::upload::{FormReader, check_received, create_media, resolve_target, staging_error};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::SuccessEnvelope;
use feishu_media_proto::upload::{
    BLOCK_SIZE, FileTokenData, FinishRequest, PrepareData, PrepareRequest, UPLOAD_ALL_MAX,
    block_len, block_num, file_name_problem,
};
use feishu_media_store::{UploadSession, now_ms};
use serde_json::json;

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

fn ok(data: &impl serde::Serialize) -> Response {
    json_response(StatusCode::OK, &SuccessEnvelope::new(data))
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::params(format!("malformed JSON body: {e}")))
}

pub async fn upload_all(
    State(state): State<AppState>,
    auth: Authed<UploadAll>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut form = FormReader::new(content_type(&headers), body)?;
    let mut file = form
        .next_file()
        .await?
        .ok_or_else(|| ApiError::params("the file part is required"))?;
    let staged = state
        .blobs
        .stage(file.reader(), UPLOAD_ALL_MAX)
        .await
        .map_err(staging_error(ErrorCode::FileTooLarge))?;
    let adler = file.adler();
    drop(file);
    let f = &form.finish().await?;
    let file_name = f.file_name()?;
    let parent_type = f.required("parent_type")?;
    if f.number("size")? > UPLOAD_ALL_MAX {
        return Err(ApiError::new(ErrorCode::FileTooLarge)
            .hint("upload_all takes at most 20 MiB; use the chunked upload"));
    }
    let target = resolve_target(
        &state,
        &auth.caller,
        parent_type,
        f.get("parent_node"),
        f.get("extra"),
    )
    .await?;
    check_received(f, staged.info().size, adler, None)?;
    let media = create_media(&state, &auth.caller, target, parent_type, file_name, staged).await?;
    Ok(ok(&FileTokenData {
        file_token: media.file_token,
    }))
}

pub async fn upload_prepare(
    State(state): State<AppState>,
    auth: Authed<UploadPrepare>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: PrepareRequest = json_body(&body)?;
    if let Some(why) = file_name_problem(&req.file_name) {
        return Err(ApiError::new(ErrorCode::FileNameInvalid).hint(why));
    }
    let size =
        u64::try_from(req.size).map_err(|_| ApiError::params("size must not be negative"))?;
    let node = Some(req.parent_node.as_str()).filter(|n| !n.is_empty());
    let extra = req.extra.as_deref().filter(|e| !e.is_empty());
    let target = resolve_target(&state, &auth.caller, &req.parent_type, node, extra).await?;
    let now = now_ms();
    let session = UploadSession {
        upload_id: hex::encode(rand::random::<[u8; 16]>()),
        app_id: auth.caller.app_id.clone(),
        tenant_key: auth.caller.tenant_key.clone(),
        principal: auth.caller.principal.clone(),
        file_name: req.file_name,
        parent_type: req.parent_type,
        parent_node: target.parent_node,
        document: target.document,
        size,
        block_num: block_num(size),
        created_at_ms: now,
        expires_at_ms: now + state.config.upload_ttl.as_millis() as i64,
        file_token: None,
    };
    state.meta.put_upload(&session).await?;
    Ok(ok(&PrepareData {
        upload_id: session.upload_id,
        block_size: BLOCK_SIZE,
        block_num: session.block_num,
    }))
}

/// The session `upload_id` names, if it is alive and the caller's.
async fn own_session(
    state: &AppState,
    auth_principal: &feishu_media_store::Principal,
    upload_id: &str,
) -> Result<UploadSession, ApiError> {
    let session = state
        .meta
        .upload(upload_id)
        .await?
        .filter(|s| s.expires_at_ms > now_ms())
        .ok_or_else(|| ApiError::new(ErrorCode::UploadIdExpired))?;
    if &session.principal != auth_principal {
        return Err(ApiError::new(ErrorCode::UploadUserMismatch));
    }
    Ok(session)
}

/// The token of the media upload `upload_id` became, once it is finished.
async fn finished_token(state: &AppState, upload_id: &str) -> Result<Option<String>, ApiError> {
    Ok(state
        .meta
        .upload(upload_id)
        .await?
        .and_then(|s| s.file_token))
}

/// [`own_session`], still taking blocks: not finished.
async fn open_session(
    state: &AppState,
    auth_principal: &feishu_media_store::Principal,
    upload_id: &str,
) -> Result<UploadSession, ApiError> {
    let session = own_session(state, auth_principal, upload_id).await?;
    if session.file_token.is_some() {
        return Err(ApiError::new(ErrorCode::UploadIdExpired)
            .hint("this upload is finished; it takes no more blocks"));
    }
    Ok(session)
}

pub async fn upload_part(
    State(state): State<AppState>,
    auth: Authed<UploadPart>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = &auth.caller.principal;
    let mut form = FormReader::new(content_type(&headers), body)?;
    let mut file = form
        .next_file()
        .await?
        .ok_or_else(|| ApiError::params("the file part is required"))?;
    // The SDKs send `upload_id` and `seq` before the file: the block is then checked
    // first and written straight into its place. Else it waits in a temp file.
    let early = form.fields();
    let staged = match (early.get("upload_id"), early.get("seq")) {
        (Some(upload_id), Some(_)) => {
            let checked = match open_session(&state, principal, upload_id).await {
                Ok(session) => block_seq(&early, &session).map(|seq| (session, seq)),
                Err(e) => Err(e),
            };
            let (session, seq) = match checked {
                Ok(checked) => checked,
                Err(e) => {
                    // Read what the client is still sending (one block at most), so that
                    // it gets this answer rather than a connection reset mid-send.
                    let mut rest = tokio::io::AsyncReadExt::take(file.reader(), BLOCK_SIZE + 1);
                    let _ = tokio::io::copy(&mut rest, &mut tokio::io::sink()).await;
                    return Err(e);
                }
            };
            state
                .blobs
                .stage_part(
                    upload_id,
                    seq,
                    seq * BLOCK_SIZE,
                    file.reader(),
                    block_len(session.size, seq),
                )
                .await
        }
        _ => state.blobs.stage_block(file.reader(), BLOCK_SIZE).await,
    }
    .map_err(staging_error(ErrorCode::SizeMismatch))?;
    let adler = file.adler();
    drop(file);
    let f = &form.finish().await?;
    let session = open_session(&state, principal, f.required("upload_id")?).await?;
    let seq = block_seq(f, &session)?;
    check_received(
        f,
        staged.info().size,
        adler,
        Some(block_len(session.size, seq)),
    )?;
    staged
        .commit_part(&session.upload_id, seq, seq * BLOCK_SIZE)
        .await
        .map_err(staging_error(ErrorCode::SizeMismatch))?;
    Ok(ok(&json!({})))
}

/// The block number a form names, checked against its upload.
fn block_seq(f: &Fields, session: &UploadSession) -> Result<u64, ApiError> {
    let seq = f.number("seq")?;
    if seq >= session.block_num {
        return Err(ApiError::new(ErrorCode::BlockNumOutOfBounds)
            .hint(format!("seq {seq} is outside 0..{}", session.block_num)));
    }
    Ok(seq)
}

pub async fn upload_finish(
    State(state): State<AppState>,
    auth: Authed<UploadFinish>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: FinishRequest = json_body(&body)?;
    let session = own_session(&state, &auth.caller.principal, &req.upload_id).await?;
    if u64::try_from(req.block_num).ok() != Some(session.block_num) {
        return Err(ApiError::new(ErrorCode::BlockNumOutOfBounds)
            .hint(format!("this upload has {} blocks", session.block_num)));
    }
    // Finished already, and the answer was lost (or two finishes raced): the same token.
    if let Some(file_token) = session.file_token {
        return Ok(ok(&FileTokenData { file_token }));
    }
    let have = state.blobs.part_sizes(&session.upload_id).await?;
    if let Some(missing) = (0..session.block_num).find(|seq| !have.contains_key(seq)) {
        // A concurrent finish may have won meanwhile and cleared the blocks away.
        if let Some(file_token) = finished_token(&state, &session.upload_id).await? {
            return Ok(ok(&FileTokenData { file_token }));
        }
        return Err(ApiError::new(ErrorCode::BlockMissing)
            .hint(format!("block {missing} was never uploaded")));
    }
    let staged = state
        .blobs
        .assemble(&session.upload_id, session.block_num)
        .await?;
    if staged.info().size != session.size {
        return Err(ApiError::internal(format!(
            "upload {} assembled to {} bytes, expected {}",
            session.upload_id,
            staged.info().size,
            session.size
        )));
    }
    let info = staged.commit().await?;
    let media = crate::upload::media_for_session(&session, info);
    if !state.meta.finish_upload(&session.upload_id, &media).await? {
        // A concurrent finish won; this one created nothing. Its token is the answer.
        return match finished_token(&state, &session.upload_id).await? {
            Some(file_token) => Ok(ok(&FileTokenData { file_token })),
            None => Err(ApiError::new(ErrorCode::UploadIdExpired)),
        };
    }
    state.blobs.discard_parts(&session.upload_id).await?;
    Ok(ok(&FileTokenData {
        file_token: media.file_token,
    }))
}
