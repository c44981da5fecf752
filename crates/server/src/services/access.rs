//! Who may read which media: existence, tenant, document role, bitable `extra`
//! (wire contract §3, checks 4 to 7, in that order).

use crate::caller::Caller;
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
    if media.document.is_empty() {
        // Uploaded for import (`ccm_import_open`): in no document, so only its uploader
        // may read it [ours].
        return if media.uploader.as_ref() == Some(&caller.principal) {
            Ok(media)
        } else {
            Err(ApiError::new(ErrorCode::Forbidden)
                .hint("an import upload is readable by its uploader only"))
        };
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
        let extra = extra.filter(|e| !e.is_empty()).ok_or_else(|| {
            ApiError::params(
                "this bitable has advanced permissions: the extra query parameter is required",
            )
        })?;
        let extra = Extra::parse(extra).map_err(|e| ApiError::params(e.to_string()))?;
        let named = match &media.bitable {
            Some(at) => extra.names(&at.table_id, &at.field_id, &at.record_id, &media.file_token),
            // Uploaded but not yet placed in a record: an extra that lists it anywhere,
            // or an older form naming a whole table [ours].
            None => extra.lists(&media.file_token),
        };
        if !named {
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
