//! The manifest's schema (`../shared/spec/seed-manifest.md`), its parser, and what a
//! load reports. Types only: [`super`] applies them.

use feishu_media_store::{BitableLocation, RateLimit};
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub apps: Vec<AppSpec>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    #[serde(default)]
    pub user_tokens: Vec<UserTokenSpec>,
    #[serde(default)]
    pub documents: Vec<DocumentSpec>,
    #[serde(default)]
    pub media: Vec<MediaSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub app_id: String,
    pub app_secret: String,
    pub tenant_key: String,
    pub scopes: Vec<String>,
    /// Absent: Feishu's default; `null`: no limits.
    #[serde(default, deserialize_with = "present")]
    pub rate_limit: Option<Option<RateLimit>>,
    /// Where OAuth may send this app's codes.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub user_id: String,
    pub tenant_key: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserTokenSpec {
    pub token: String,
    pub app_id: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    /// Seconds; zero or negative makes a token that exists but has expired.
    #[serde(default)]
    pub expires_in: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSpec {
    pub token: String,
    #[serde(rename = "type")]
    pub doc_type: String,
    pub tenant_key: String,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub members: Vec<MemberSpec>,
    #[serde(default)]
    pub advanced_permission: Option<bool>,
    /// What `GET /open-apis/docx/v1/documents/{id}` answers as the title.
    #[serde(default)]
    pub title: Option<String>,
    /// docx: the body, in order.
    #[serde(default)]
    pub blocks: Option<Vec<BlockSpec>>,
    /// sheet: the sheets and their cells.
    #[serde(default)]
    pub sheets: Option<Vec<SheetSpec>>,
    /// bitable: the tables, fields and records.
    #[serde(default)]
    pub tables: Option<Vec<TableSpec>>,
    /// Drive files (`type` `file`): the name, type and bytes, as a media's.
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub content_text: Option<String>,
    #[serde(default)]
    pub content_base64: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockSpec {
    pub block_id: String,
    /// `text`, `heading1`…`heading9`, `image` or `file`.
    #[serde(rename = "type")]
    pub block_type: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub file_token: Option<String>,
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SheetSpec {
    pub sheet_id: String,
    #[serde(default)]
    pub title: Option<String>,
    /// A1 address → a string, a number, `{"attachment": token}` or `{"image": token}`.
    #[serde(default)]
    pub cells: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    pub table_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    #[serde(default)]
    pub records: Vec<RecordSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub field_id: String,
    pub name: String,
    /// `text`, `number` or `attachment`.
    #[serde(rename = "type")]
    pub field_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    pub record_id: String,
    /// Values by field name.
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    pub principal: String,
    pub role: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSpec {
    pub file_token: String,
    pub document: String,
    pub parent_type: String,
    #[serde(default)]
    pub parent_node: Option<String>,
    pub file_name: String,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub content_text: Option<String>,
    #[serde(default)]
    pub content_base64: Option<String>,
    #[serde(default)]
    pub bitable: Option<BitableLocation>,
    #[serde(default)]
    pub deleted: Option<bool>,
}

/// Tells an absent key (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A manifest refused: the JSON path of the first fault and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SeedError {
    pub path: String,
    pub message: String,
}

impl SeedError {
    pub(crate) fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// What a load wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SeedReport {
    pub apps: usize,
    pub users: usize,
    pub user_tokens: usize,
    pub documents: usize,
    pub media: usize,
}

/// Parses manifest JSON; errors name the JSON path (`documents[2].members[0].role`).
pub fn parse(bytes: &[u8]) -> Result<Manifest, SeedError> {
    crate::json_path::from_slice(bytes).map_err(|(path, message)| SeedError::at(path, message))
}
