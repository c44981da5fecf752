//! Uploads (wire contract §4): where an upload goes and whether the caller may put it
//! there, the whole-file and chunked calls, and media creation once the bytes are
//! durable. Handlers extract, call one function here, and answer what it returns.

use super::form::{FORM_ALLOWANCE, Fields, FormLimits, FormReader};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::names::{guess_mime, new_file_token, new_upload_id};
use crate::state::AppState;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::PermissionViolation;
use feishu_media_proto::parent::ParentType;
use feishu_media_proto::upload::{
    BLOCK_SIZE, FinishRequest, PrepareData, PrepareRequest, UPLOAD_ALL_MAX, UploadExtra, block_len,
    block_num, file_name_problem, parse_checksum,
};
use feishu_media_store::{
    Batch, BlobInfo, Document, Media, PrincipalRef, Role, StoreError, UploadSession,
};

/// `upload_all`'s whole body: the 20 MiB file and its fields.
pub const UPLOAD_ALL_FORM: FormLimits = FormLimits {
    body_max: UPLOAD_ALL_MAX + FORM_ALLOWANCE,
    too_large: ErrorCode::FileTooLarge,
};

/// `upload_part`'s whole body: one 4 MiB block and its fields.
pub const PART_FORM: FormLimits = FormLimits {
    body_max: BLOCK_SIZE + FORM_ALLOWANCE,
    too_large: ErrorCode::SizeMismatch,
};

/// Where an upload goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub parent_type: ParentType,
    /// The document token; empty for `ccm_import_open`.
    pub document: String,
    pub parent_node: Option<String>,
}

/// Resolves `parent_type` / `parent_node` / `extra` to a document and checks that the
/// caller may edit it.
pub async fn resolve_target(
    state: &AppState,
    caller: &Caller,
    parent_type: &str,
    parent_node: Option<&str>,
    extra: Option<&str>,
) -> Result<Target, ApiError> {
    let parent_type = ParentType::parse(parent_type)
        .filter(|p| p.is_media())
        .ok_or_else(|| ApiError::params(format!("unknown parent_type {parent_type:?}")))?;
    let node = parent_node.map(str::to_owned);
    let Some(doc_type) = parent_type.doc_type() else {
        return Ok(Target {
            parent_type,
            document: String::new(),
            parent_node: node,
        });
    };
    let document = if parent_type.node_is_block() {
        if node.is_none() {
            return Err(ApiError::params("parent_node (the block id) is required"));
        }
        let extra = extra.ok_or_else(|| {
            ApiError::params(
                "extra {\"drive_route_token\":\"<document token>\"} is required for docx uploads",
            )
        })?;
        let extra: UploadExtra = serde_json::from_str(extra).map_err(|e| {
            ApiError::params(format!(
                "extra must be {{\"drive_route_token\":\"…\"}}: {e}"
            ))
        })?;
        extra.drive_route_token
    } else {
        node.clone()
            .ok_or_else(|| ApiError::params("parent_node is required"))?
    };
    let doc = state
        .meta
        .document(&document)
        .await?
        .filter(|d| d.doc_type == doc_type)
        .ok_or_else(|| ApiError::new(ErrorCode::ParentNodeNotExist))?;
    may_edit(caller, &doc)?;
    Ok(Target {
        parent_type,
        document: doc.token,
        parent_node: node,
    })
}

/// Whether `caller` may add media to `doc`: same tenant, and at least *edit*.
fn may_edit(caller: &Caller, doc: &Document) -> Result<(), ApiError> {
    if doc.tenant_key != caller.tenant_key() {
        return Err(
            ApiError::new(ErrorCode::Forbidden).hint("the document belongs to another tenant")
        );
    }
    if doc.role_of(caller.principal()) < Some(Role::Edit) {
        return Err(ApiError::new(ErrorCode::Forbidden)
            .hint(format!(
                "{} needs edit permission on the document {}",
                caller.principal(),
                doc.token
            ))
            .violation(PermissionViolation::document(&doc.token)));
    }
    Ok(())
}

/// A new media for bytes just stored (its MIME type guessed from the name).
fn new_media(
    target: Target,
    file_name: &str,
    uploader: PrincipalRef<'_>,
    info: BlobInfo,
    now_ms: i64,
) -> Media {
    Media {
        file_token: new_file_token(),
        document: target.document,
        parent_type: target.parent_type,
        parent_node: target.parent_node,
        file_name: file_name.to_owned(),
        mime_type: guess_mime(file_name),
        size: info.size,
        digest: info.digest,
        bitable: None,
        uploader: Some(uploader.to_owned()),
        deleted: false,
        created_at_ms: now_ms,
        modified_at_ms: now_ms,
    }
}

/// `upload_all`: the file is staged as it arrives, then the fields that came after it
/// are read, checked, and the media created. Returns its token.
pub async fn upload_all(
    state: &AppState,
    caller: &Caller,
    mut form: FormReader,
) -> Result<String, ApiError> {
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
    if f.number("size")? > UPLOAD_ALL_MAX {
        return Err(ApiError::new(ErrorCode::FileTooLarge)
            .hint("upload_all takes at most 20 MiB; use the chunked upload"));
    }
    let target = resolve_target(
        state,
        caller,
        f.required("parent_type")?,
        f.get("parent_node"),
        f.get("extra"),
    )
    .await?;
    check_received(f, staged.info().size, adler, None)?;
    // The bytes first, then the media: a token exists only once both are durable.
    let info = staged.commit().await?;
    let media = new_media(
        target,
        file_name,
        caller.principal(),
        info,
        state.clock.unix_ms(),
    );
    state
        .meta
        .apply(&Batch {
            media: vec![media.clone()],
            ..Default::default()
        })
        .await?;
    Ok(media.file_token)
}

/// `upload_prepare`: a session for the caller, permission checked now.
pub async fn prepare(
    state: &AppState,
    caller: &Caller,
    req: PrepareRequest,
) -> Result<PrepareData, ApiError> {
    if let Some(why) = file_name_problem(&req.file_name) {
        return Err(ApiError::new(ErrorCode::FileNameInvalid).hint(why));
    }
    let size =
        u64::try_from(req.size).map_err(|_| ApiError::params("size must not be negative"))?;
    let max = state.config.max_upload_size;
    if size > max {
        return Err(ApiError::new(ErrorCode::FileTooLarge)
            .hint(format!("this server takes files of at most {max} bytes")));
    }
    let node = Some(req.parent_node.as_str()).filter(|n| !n.is_empty());
    let extra = req.extra.as_deref().filter(|e| !e.is_empty());
    let target = resolve_target(state, caller, &req.parent_type, node, extra).await?;
    let now = state.clock.unix_ms();
    let (open, announced) = state.meta.open_uploads(caller.app_id(), now).await?;
    let config = &state.config;
    if open >= config.max_open_uploads {
        return Err(ApiError::new(ErrorCode::FileTooLarge).hint(format!(
            "{} has {open} chunked uploads open, the most one app may: finish or let some expire",
            caller.app_id()
        )));
    }
    if announced.saturating_add(size) > config.max_open_upload_bytes {
        return Err(ApiError::new(ErrorCode::FileTooLarge).hint(format!(
            "{}'s open chunked uploads would announce {} bytes, more than the {} one app may",
            caller.app_id(),
            announced.saturating_add(size),
            config.max_open_upload_bytes
        )));
    }
    let session = UploadSession {
        upload_id: new_upload_id(),
        app_id: caller.app_id().to_owned(),
        tenant_key: caller.tenant_key().to_owned(),
        principal: caller.principal().to_owned(),
        file_name: req.file_name,
        parent_type: target.parent_type,
        parent_node: target.parent_node,
        document: target.document,
        size,
        block_num: block_num(size),
        created_at_ms: now,
        expires_at_ms: now + state.config.upload_ttl.as_millis() as i64,
        file_token: None,
    };
    state.meta.put_upload(&session).await?;
    Ok(PrepareData {
        upload_id: session.upload_id,
        block_size: BLOCK_SIZE,
        block_num: session.block_num,
    })
}

/// `upload_part`: one block, checked and kept (a repeated `seq` replaces the block).
pub async fn part(state: &AppState, caller: &Caller, mut form: FormReader) -> Result<(), ApiError> {
    let principal = caller.principal();
    let mut file = form
        .next_file()
        .await?
        .ok_or_else(|| ApiError::params("the file part is required"))?;
    // The SDKs send `upload_id` and `seq` before the file: the block is then checked
    // first and written straight into its place. Else it waits in a temp file.
    let early = form.fields();
    let staged = match (early.get("upload_id"), early.get("seq")) {
        (Some(upload_id), Some(_)) => {
            let checked = match open_session(state, principal, upload_id).await {
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
                .parts
                .stage_part(
                    upload_id,
                    seq,
                    seq * BLOCK_SIZE,
                    file.reader(),
                    block_len(session.size, seq),
                )
                .await
        }
        _ => state.parts.stage_block(file.reader(), BLOCK_SIZE).await,
    }
    .map_err(staging_error(ErrorCode::SizeMismatch))?;
    let adler = file.adler();
    drop(file);
    let f = &form.finish().await?;
    let session = open_session(state, principal, f.required("upload_id")?).await?;
    let seq = block_seq(f, &session)?;
    check_received(f, staged.size(), adler, Some(block_len(session.size, seq)))?;
    staged
        .commit(&session.upload_id, seq, seq * BLOCK_SIZE)
        .await
        .map_err(staging_error(ErrorCode::SizeMismatch))?;
    Ok(())
}

/// `upload_finish`: the blocks become the media. A finish repeated (its answer was lost)
/// or raced by another answers the same token and creates nothing.
pub async fn finish(
    state: &AppState,
    caller: &Caller,
    req: FinishRequest,
) -> Result<String, ApiError> {
    let session = own_session(state, caller.principal(), &req.upload_id).await?;
    if u64::try_from(req.block_num).ok() != Some(session.block_num) {
        return Err(ApiError::new(ErrorCode::BlockNumOutOfBounds)
            .hint(format!("this upload has {} blocks", session.block_num)));
    }
    if let Some(file_token) = session.file_token {
        return Ok(file_token);
    }
    // The permission checked at prepare may be gone since (a role removed, the
    // document deleted): the media is only created while it holds.
    if !session.document.is_empty() {
        let doc = state
            .meta
            .document(&session.document)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::ParentNodeNotExist))?;
        may_edit(caller, &doc)?;
    }
    let have = state.parts.part_sizes(&session.upload_id).await?;
    if let Some(missing) = (0..session.block_num).find(|seq| !have.contains_key(seq)) {
        // A concurrent finish may have won meanwhile and cleared the blocks away.
        if let Some(file_token) = finished_token(state, &session.upload_id).await? {
            return Ok(file_token);
        }
        return Err(ApiError::new(ErrorCode::BlockMissing)
            .hint(format!("block {missing} was never uploaded")));
    }
    let staged = state
        .parts
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
    let target = Target {
        parent_type: session.parent_type,
        document: session.document.clone(),
        parent_node: session.parent_node.clone(),
    };
    let media = new_media(
        target,
        &session.file_name,
        session.principal.borrowed(),
        info,
        state.clock.unix_ms(),
    );
    if !state.meta.finish_upload(&session.upload_id, &media).await? {
        // A concurrent finish won; this one created nothing. Its token is the answer.
        return finished_token(state, &session.upload_id)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::UploadIdExpired));
    }
    state.parts.discard_parts(&session.upload_id).await?;
    Ok(media.file_token)
}

/// The session `upload_id` names, if it is alive and the caller's.
async fn own_session(
    state: &AppState,
    principal: PrincipalRef<'_>,
    upload_id: &str,
) -> Result<UploadSession, ApiError> {
    let now = state.clock.unix_ms();
    let session = state
        .meta
        .upload(upload_id)
        .await?
        .filter(|s| s.expires_at_ms > now)
        .ok_or_else(|| ApiError::new(ErrorCode::UploadIdExpired))?;
    if session.principal != principal {
        return Err(ApiError::new(ErrorCode::UploadUserMismatch));
    }
    Ok(session)
}

/// [`own_session`], still taking blocks: not finished.
async fn open_session(
    state: &AppState,
    principal: PrincipalRef<'_>,
    upload_id: &str,
) -> Result<UploadSession, ApiError> {
    let session = own_session(state, principal, upload_id).await?;
    if session.file_token.is_some() {
        return Err(ApiError::new(ErrorCode::UploadIdExpired)
            .hint("this upload is finished; it takes no more blocks"));
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

/// The block number a form names, checked against its upload.
fn block_seq(f: &Fields, session: &UploadSession) -> Result<u64, ApiError> {
    let seq = f.number("seq")?;
    if seq >= session.block_num {
        return Err(ApiError::new(ErrorCode::BlockNumOutOfBounds)
            .hint(format!("seq {seq} is outside 0..{}", session.block_num)));
    }
    Ok(seq)
}

/// The checks shared by whole files and blocks: the declared size, then the checksum.
fn check_received(
    fields: &Fields,
    received: u64,
    adler: u32,
    expected_len: Option<u64>,
) -> Result<(), ApiError> {
    let declared = fields.number("size")?;
    if declared != received || expected_len.is_some_and(|want| want != received) {
        return Err(ApiError::new(ErrorCode::SizeMismatch)
            .hint(format!("size says {declared}, {received} bytes arrived")));
    }
    if let Some(checksum) = fields.get("checksum") {
        let want = parse_checksum(checksum).ok_or_else(|| {
            ApiError::new(ErrorCode::ChecksumInvalid)
                .hint("checksum must be the Adler-32 as a decimal number")
        })?;
        if want != adler {
            return Err(ApiError::new(ErrorCode::ChecksumInvalid).hint(format!(
                "checksum says {want}, the bytes have Adler-32 {adler}"
            )));
        }
    }
    Ok(())
}

/// Maps a staging failure of the file part: too large is `too_large`, a body that ended
/// early is the client's, anything else the store's.
fn staging_error(too_large: ErrorCode) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::TooLarge(max) => {
            ApiError::new(too_large).hint(format!("the file part is larger than {max} bytes"))
        }
        StoreError::Source(why) => ApiError::params(format!("the file part ended early: {why}")),
        StoreError::UploadClosed(_) => ApiError::new(ErrorCode::UploadIdExpired)
            .hint("this upload is finished; it takes no more blocks"),
        other => ApiError::internal(other),
    }
}
