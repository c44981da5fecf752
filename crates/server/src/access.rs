//! Who may read which media: existence, tenant, document role, bitable `extra`
//! (wire contract §3, checks 4 to 7, in that order).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::PermissionViolation;
use feishu_media_proto::extra::Extra;
use feishu_media_store::{DocType, Media, Role};

/// The media `file_token`, if `caller` may download it with this `extra`.
pub async fn readable_media(
    state: &AppState,
    caller: &Caller,
    file_token: &str,
    extra: Option<&str>,
) -> Result<Media, ApiError> {
    let media = state
        .meta
        .media(file_token)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    if media.deleted {
        return Err(ApiError::new(ErrorCode::Deleted));
    }
    let doc = state.meta.document(&media.document).await?.ok_or_else(|| {
        ApiError::internal(format!(
            "media {} points at missing document {}",
            media.file_token, media.document
        ))
    })?;
    if doc.tenant_key != caller.tenant_key {
        return Err(ApiError::new(ErrorCode::Forbidden)
            .hint("the media belongs to a document of another tenant"));
    }
    let role = doc.role_of(&caller.principal).ok_or_else(|| {
        ApiError::new(ErrorCode::Forbidden)
            .hint(format!(
                "{} must be added to the document {} (any role)",
                caller.principal, doc.token
            ))
            .violation(PermissionViolation::document(&doc.token))
    })?;
    if doc.doc_type == DocType::Bitable && doc.advanced_permission {
        let location = media.bitable.as_ref().ok_or_else(|| {
            ApiError::internal(format!(
                "bitable media {} has no table location",
                media.file_token
            ))
        })?;
        let extra = extra.filter(|e| !e.is_empty()).ok_or_else(|| {
            ApiError::params(
                "this bitable has advanced permissions: the extra query parameter is required",
            )
        })?;
        let extra = Extra::parse(extra).map_err(|e| ApiError::params(e.to_string()))?;
        if !extra.names(
            &location.table_id,
            &location.field_id,
            &location.record_id,
            &media.file_token,
        ) {
            return Err(ApiError::params(
                "extra does not name this media's table, field, record and token",
            ));
        }
        if role < Role::Manage {
            return Err(ApiError::new(ErrorCode::Forbidden)
                .hint(format!(
                    "{} needs manage permission on the bitable {}",
                    caller.principal, doc.token
                ))
                .violation(PermissionViolation::document(&doc.token)));
        }
    }
    Ok(media)
}
