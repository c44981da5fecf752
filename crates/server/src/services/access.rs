//! Who may read which media: existence, tenant, document role, bitable `extra`
//! (wire contract §3, checks 4 to 7, in that order).

use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::PermissionViolation;
use feishu_media_proto::extra::Extra;
use feishu_media_store::{DocType, Media, ParentType, Role};
use std::sync::Arc;

/// The media `file_token`, if `caller` may download it with this `extra` (shared: as
/// the metadata cache holds it).
pub async fn readable_media(
    state: &AppState,
    caller: &Caller,
    file_token: &str,
    extra: Option<&str>,
) -> Result<Arc<Media>, ApiError> {
    let media = state
        .media_row(file_token)
        .await?
        // A drive file's bytes are downloaded as a file, never as a media [ours].
        .filter(|m| m.parent_type != ParentType::Explorer)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    if media.deleted {
        return Err(ApiError::new(ErrorCode::Deleted));
    }
    if media.document.is_empty() {
        // Uploaded for import (`ccm_import_open`): in no document, so only its uploader
        // may read it [ours].
        return if media
            .uploader
            .as_ref()
            .is_some_and(|u| *u == caller.principal())
        {
            Ok(media)
        } else {
            Err(ApiError::new(ErrorCode::Forbidden)
                .hint("an import upload is readable by its uploader only"))
        };
    }
    let doc = state.document_row(&media.document).await?.ok_or_else(|| {
        ApiError::internal(format!(
            "media {} points at missing document {}",
            media.file_token, media.document
        ))
    })?;
    if doc.tenant_key != caller.tenant_key() {
        return Err(ApiError::new(ErrorCode::Forbidden)
            .hint("the media belongs to a document of another tenant"));
    }
    let role = doc.role_of(caller.principal()).ok_or_else(|| {
        ApiError::new(ErrorCode::Forbidden)
            .hint(format!(
                "{} must be added to the document {} (any role)",
                caller.principal(),
                doc.token
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
                    caller.principal(),
                    doc.token
                ))
                .violation(PermissionViolation::document(&doc.token)));
        }
    }
    Ok(media)
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    async fn download(token: &str, file_token: &str, extra: Option<&str>) -> (u16, i64) {
        let s = state().await;
        let token = if token.starts_with("u-") {
            token.to_owned()
        } else {
            let (app, secret) = token.split_once(':').unwrap();
            tenant_token(&s, app, secret).await
        };
        let mut uri = format!("/open-apis/drive/v1/medias/{file_token}/download");
        if let Some(e) = extra {
            uri += &format!(
                "?extra={}",
                percent_encoding::utf8_percent_encode(e, percent_encoding::NON_ALPHANUMERIC)
            );
        }
        let auth = format!("Bearer {token}");
        status_and_code(call(&s, get(&uri, &[("authorization", &auth)])).await).await
    }

    const EXTRA: &str =
        r#"{"bitablePerm":{"tableId":"tblA","attachments":{"fldA":{"recA":["boxBit"]}}}}"#;

    #[tokio::test]
    async fn checks_four_to_seven_in_order() {
        for (who, token, extra, want) in [
            ("cli_a:sec-a", "boxNope", None, (404, 1061003)),
            ("cli_a:sec-a", "boxGone", None, (404, 1061007)),
            ("cli_far:sec-f", "boxA", None, (403, 1061004)),
            ("cli_out:sec-o", "boxA", None, (403, 1061004)),
            ("cli_a:sec-a", "boxA", None, (200, 0)),
            ("u-good", "boxA", None, (200, 0)),
            ("cli_bit:sec-b", "boxBit", None, (400, 1061002)),
            ("cli_bit:sec-b", "boxBit", Some("{not json"), (400, 1061002)),
            (
                "cli_bit:sec-b",
                "boxBit",
                Some(r#"{"bitablePerm":{"tableId":"tblB"}}"#),
                (400, 1061002),
            ),
            ("cli_bit:sec-b", "boxBit", Some(EXTRA), (200, 0)),
            (
                "cli_bit:sec-b",
                "boxBit",
                Some(r#"{"bitablePerm":{"tableId":"tblA"}}"#),
                (200, 0),
            ),
            ("cli_a:sec-a", "boxBit", Some(EXTRA), (403, 1061004)),
        ] {
            assert_eq!(
                download(who, token, extra).await,
                want,
                "{who} {token} {extra:?}"
            );
        }
    }
}
