//! Reading rows back into the model, the same for every SQL engine.
//!
//! [`Cols`] is the handful of column reads the readers need; each engine's row type gets
//! it from one macro line, so the readers below are written once.

use crate::error::{StoreError, StoreResult};
use crate::model::*;

/// Typed reads of a row's columns by name.
pub(crate) trait Cols {
    fn text(&self, col: &str) -> StoreResult<String>;
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>>;
    fn int(&self, col: &str) -> StoreResult<i64>;
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>>;
    fn flag(&self, col: &str) -> StoreResult<bool>;
}

macro_rules! cols_for {
    ($row:ty) => {
        impl Cols for $row {
            fn text(&self, col: &str) -> StoreResult<String> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn int(&self, col: &str) -> StoreResult<i64> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
            fn flag(&self, col: &str) -> StoreResult<bool> {
                Ok(sqlx::Row::try_get(self, col)?)
            }
        }
    };
}

cols_for!(sqlx::sqlite::SqliteRow);
cols_for!(sqlx::postgres::PgRow);

/// Whether a key can be stored at all: PostgreSQL's text holds no NUL, so no stored key
/// has one, and a lookup of such a key finds nothing (rather than failing).
pub(crate) fn storable(key: &str) -> bool {
    !key.contains('\0')
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    Ok(serde_json::to_string(v)?)
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    Ok(serde_json::from_str(s)?)
}

fn opt_json<T: serde::de::DeserializeOwned>(s: Option<String>) -> StoreResult<Option<T>> {
    s.map(|s| from_json(&s)).transpose()
}

fn principal(p: String) -> StoreResult<Principal> {
    Principal::parse(&p).ok_or_else(|| StoreError::Corrupt(format!("principal {p:?}")))
}

pub(crate) fn u64_of(v: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v}")))
}

/// A size or count as the engines store it (a signed 64-bit integer).
pub(crate) fn i64_of(v: u64, what: &str) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("{what} {v} too large")))
}

fn parent_type_of(s: String) -> StoreResult<ParentType> {
    ParentType::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("parent_type {s:?}")))
}

pub(crate) fn upload_row(r: &impl Cols) -> StoreResult<UploadSession> {
    Ok(UploadSession {
        upload_id: r.text("upload_id")?,
        app_id: r.text("app_id")?,
        tenant_key: r.text("tenant_key")?,
        principal: principal(r.text("principal")?)?,
        file_name: r.text("file_name")?,
        parent_type: parent_type_of(r.text("parent_type")?)?,
        parent_node: r.opt_text("parent_node")?,
        document: r.text("document")?,
        size: u64_of(r.int("size")?, "size")?,
        block_num: u64_of(r.int("block_num")?, "block_num")?,
        created_at_ms: r.int("created_at_ms")?,
        expires_at_ms: r.int("expires_at_ms")?,
        file_token: r.opt_text("file_token")?,
    })
}

pub(crate) fn app_row(r: &impl Cols) -> StoreResult<App> {
    Ok(App {
        app_id: r.text("app_id")?,
        app_secret: r.text("app_secret")?,
        tenant_key: r.text("tenant_key")?,
        scopes: from_json(&r.text("scopes")?)?,
        rate_limit: opt_json(r.opt_text("rate_limit")?)?,
        redirect_uris: from_json(&r.text("redirect_uris")?)?,
    })
}

pub(crate) fn user_row(r: &impl Cols) -> StoreResult<User> {
    Ok(User {
        user_id: r.text("user_id")?,
        tenant_key: r.text("tenant_key")?,
        name: r.opt_text("name")?,
    })
}

pub(crate) fn token_row(r: &impl Cols) -> StoreResult<AccessToken> {
    let kind = r.text("kind")?;
    Ok(AccessToken {
        hash: r.text("hash")?,
        kind: StoredTokenKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("token kind {kind:?}")))?,
        app_id: r.text("app_id")?,
        tenant_key: r.text("tenant_key")?,
        user_id: r.opt_text("user_id")?,
        scopes: opt_json(r.opt_text("scopes")?)?,
        issued_at_ms: r.int("issued_at_ms")?,
        expires_at_ms: r.int("expires_at_ms")?,
    })
}

pub(crate) fn document_row(r: &impl Cols) -> StoreResult<Document> {
    let doc_type = r.text("doc_type")?;
    Ok(Document {
        token: r.text("token")?,
        doc_type: DocType::parse(&doc_type)
            .ok_or_else(|| StoreError::Corrupt(format!("document type {doc_type:?}")))?,
        tenant_key: r.text("tenant_key")?,
        owner: r.opt_text("owner")?.map(principal).transpose()?,
        advanced_permission: r.flag("advanced_permission")?,
        members: from_json(&r.text("members")?)?,
        content: from_json(&r.text("content")?)?,
    })
}

pub(crate) fn grant_row(r: &impl Cols) -> StoreResult<Grant> {
    let kind = r.text("kind")?;
    Ok(Grant {
        hash: r.text("hash")?,
        kind: GrantKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("grant kind {kind:?}")))?,
        app_id: r.text("app_id")?,
        tenant_key: r.text("tenant_key")?,
        user_id: r.text("user_id")?,
        scopes: from_json(&r.text("scopes")?)?,
        redirect_uri: r.opt_text("redirect_uri")?,
        code_challenge: r.opt_text("code_challenge")?,
        challenge_method: r.opt_text("challenge_method")?,
        issued_at_ms: r.int("issued_at_ms")?,
        expires_at_ms: r.int("expires_at_ms")?,
        used_at_ms: r.opt_int("used_at_ms")?,
    })
}

pub(crate) fn media_row(r: &impl Cols) -> StoreResult<Media> {
    Ok(Media {
        file_token: r.text("file_token")?,
        document: r.text("document")?,
        parent_type: parent_type_of(r.text("parent_type")?)?,
        parent_node: r.opt_text("parent_node")?,
        file_name: r.text("file_name")?,
        mime_type: r.text("mime_type")?,
        size: u64_of(r.int("size")?, "size")?,
        digest: r.text("digest")?,
        bitable: opt_json(r.opt_text("bitable")?)?,
        uploader: r.opt_text("uploader")?.map(principal).transpose()?,
        deleted: r.flag("deleted")?,
        created_at_ms: r.int("created_at_ms")?,
        modified_at_ms: r.int("modified_at_ms")?,
    })
}
