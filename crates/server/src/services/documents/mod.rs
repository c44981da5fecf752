//! The documents that hold the media (documents-and-oauth §7–10): who may read one,
//! and each kind's content as its endpoint answers it, built from what the document
//! declares plus the media placed in it.
//!
//! - [`docx`]: a docx's blocks (image blocks 27, file blocks 23).
//! - [`sheets`]: A1 ranges and a spreadsheet's cell values.
//! - [`bitable`]: a bitable's tables and records, searched and paged.
//!
//! Each endpoint family answers its own error codes; [`Family`] names them.

pub mod bitable;
pub mod docx;
pub mod sheets;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::PermissionViolation;
use feishu_media_store::{DocType, Document, Media};

/// An endpoint family's kind of document and its error codes.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub doc_type: DocType,
    pub not_found: ErrorCode,
    pub forbidden: ErrorCode,
}

pub const DOCX: Family = Family {
    doc_type: DocType::Docx,
    not_found: ErrorCode::DocxNotFound,
    forbidden: ErrorCode::DocxForbidden,
};

pub const SHEET: Family = Family {
    doc_type: DocType::Sheet,
    not_found: ErrorCode::SheetsNotFound,
    forbidden: ErrorCode::SheetsForbidden,
};

pub const BITABLE: Family = Family {
    doc_type: DocType::Bitable,
    not_found: ErrorCode::BitableAppNotFound,
    forbidden: ErrorCode::BitableForbidden,
};

pub const DRIVE_FILE: Family = Family {
    doc_type: DocType::File,
    not_found: ErrorCode::NotFound,
    forbidden: ErrorCode::Forbidden,
};

/// The document `token` of `family`'s kind, if `caller` holds any role on it in its own
/// tenant. Another kind of document is not found, as on Feishu.
pub async fn readable_document(
    state: &AppState,
    caller: &Caller,
    token: &str,
    family: Family,
) -> Result<Document, ApiError> {
    let doc = state
        .meta
        .document(token)
        .await?
        .filter(|d| d.doc_type == family.doc_type)
        .ok_or_else(|| {
            ApiError::new(family.not_found).hint(format!(
                "no {} with the token {token:?}",
                family.doc_type.as_str()
            ))
        })?;
    if doc.tenant_key != caller.tenant_key() {
        return Err(ApiError::new(family.forbidden).hint("the document belongs to another tenant"));
    }
    if doc.role_of(caller.principal()).is_none() {
        return Err(ApiError::new(family.forbidden)
            .hint(format!(
                "{} must be added to the document {} (any role)",
                caller.principal(),
                doc.token
            ))
            .violation(PermissionViolation::document(&doc.token)));
    }
    Ok(doc)
}

/// A document's revision [ours]: 1, plus one for each media placed in it (uploads
/// change it, as edits do on Feishu).
pub fn revision(media: &[Media]) -> u64 {
    1 + media.len() as u64
}

/// A page of `items` of at most `size`, from the item whose id is `token` (`None`: the
/// first); the next page's token when more follow. `None` when `token` names no item.
pub fn page<T>(
    items: Vec<T>,
    size: usize,
    token: Option<&str>,
    id: impl Fn(&T) -> &str,
) -> Option<(Vec<T>, Option<String>)> {
    let start = match token {
        None => 0,
        Some(t) => items.iter().position(|i| id(i) == t)?,
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let next = rest.get(size).map(|i| id(i).to_owned());
    rest.truncate(size);
    Some((rest, next))
}

/// A query's `page_size`: absent gives `default`; otherwise 1 to `max`.
pub fn page_size(value: Option<&str>, default: usize, max: usize) -> Result<usize, String> {
    match value {
        None | Some("") => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!("page_size must be 1 to {max}, not {v:?}")),
        },
    }
}
