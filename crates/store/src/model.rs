//! What the store keeps. Plain data; the rules that tie it together live in the server.

use serde::{Deserialize, Serialize};

/// A Feishu app: credentials, the tenant it is installed in, and the scopes it was granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub app_id: String,
    pub app_secret: String,
    pub tenant_key: String,
    /// Free strings as on Feishu; only those an endpoint accepts grant anything.
    pub scopes: Vec<String>,
    /// `None`: no limits at all for this app (load tests).
    pub rate_limit: Option<RateLimit>,
    /// Where OAuth may send this app's authorization codes.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

/// Requests allowed per (app, tenant, endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_second: u32,
    pub per_day: u32,
}

impl Default for RateLimit {
    /// Feishu's documented limit for the media API: 5 QPS, 10 000 a day.
    fn default() -> Self {
        Self {
            per_second: 5,
            per_day: 10_000,
        }
    }
}

/// A person in a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub user_id: String,
    pub tenant_key: String,
    pub name: Option<String>,
}

/// The kinds of token the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredTokenKind {
    Tenant,
    App,
    User,
}

impl StoredTokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::App => "app",
            Self::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tenant" => Some(Self::Tenant),
            "app" => Some(Self::App),
            "user" => Some(Self::User),
            _ => None,
        }
    }
}

/// An access token, kept only as a hash: a leaked database hands out no credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// SHA-256 of the token text, hex.
    pub hash: String,
    pub kind: StoredTokenKind,
    pub app_id: String,
    pub tenant_key: String,
    /// Set for user tokens.
    pub user_id: Option<String>,
    /// A user token's own grants; tenant and app tokens use the app's current scopes.
    pub scopes: Option<Vec<String>>,
    pub issued_at_ms: i64,
    pub expires_at_ms: i64,
}

pub use feishu_media_proto::parent::{DocType, ParentType};

/// A role on a document; each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    View,
    Edit,
    Manage,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "view" => Some(Self::View),
            "edit" => Some(Self::Edit),
            "manage" => Some(Self::Manage),
            _ => None,
        }
    }
}

/// Who holds a role: an app (tenant token) or a user (user token).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Principal {
    App(String),
    User(String),
}

impl Principal {
    /// `app:<app_id>` or `user:<user_id>`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.split_once(':') {
            Some(("app", id)) if !id.is_empty() => Some(Self::App(id.into())),
            Some(("user", id)) if !id.is_empty() => Some(Self::User(id.into())),
            _ => None,
        }
    }
}

impl Principal {
    /// This principal, borrowed.
    pub fn borrowed(&self) -> PrincipalRef<'_> {
        match self {
            Self::App(id) => PrincipalRef::App(id),
            Self::User(id) => PrincipalRef::User(id),
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.borrowed().fmt(f)
    }
}

/// A [`Principal`] whose id is borrowed: a request's caller names itself with the ids
/// of its cached token row, without copying them for each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalRef<'a> {
    App(&'a str),
    User(&'a str),
}

impl PrincipalRef<'_> {
    pub fn to_owned(self) -> Principal {
        match self {
            Self::App(id) => Principal::App(id.to_owned()),
            Self::User(id) => Principal::User(id.to_owned()),
        }
    }
}

impl<'a> From<&'a Principal> for PrincipalRef<'a> {
    fn from(p: &'a Principal) -> Self {
        p.borrowed()
    }
}

impl PartialEq<PrincipalRef<'_>> for Principal {
    fn eq(&self, other: &PrincipalRef<'_>) -> bool {
        self.borrowed() == *other
    }
}

impl std::fmt::Display for PrincipalRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::App(id) => write!(f, "app:{id}"),
            Self::User(id) => write!(f, "user:{id}"),
        }
    }
}

impl From<Principal> for String {
    fn from(p: Principal) -> String {
        p.to_string()
    }
}

impl TryFrom<String> for Principal {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Principal::parse(&s).ok_or_else(|| format!("not app:<id> or user:<id>: {s:?}"))
    }
}

/// A principal's role on a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub principal: Principal,
    pub role: Role,
}

/// A cloud document: the unit of permission for the media inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub token: String,
    pub doc_type: DocType,
    pub tenant_key: String,
    /// The owner holds `manage`.
    pub owner: Option<Principal>,
    /// Bitables only: downloads then need `extra` and `manage`.
    pub advanced_permission: bool,
    pub members: Vec<Member>,
    /// What the document holds besides media bytes (its title, blocks, cells, tables).
    #[serde(default)]
    pub content: Content,
}

impl Document {
    /// The strongest role `who` holds, if any.
    pub fn role_of<'a>(&self, who: impl Into<PrincipalRef<'a>>) -> Option<Role> {
        let who = who.into();
        let owner = self
            .owner
            .as_ref()
            .is_some_and(|o| *o == who)
            .then_some(Role::Manage);
        let member = self
            .members
            .iter()
            .filter(|m| m.principal == who)
            .map(|m| m.role)
            .max();
        owner.max(member)
    }

    /// This document without `who` as its owner or a member, if `who` was either (a
    /// deleted app or user loses its roles with it).
    pub fn without(&self, who: &Principal) -> Option<Document> {
        self.role_of(who)?;
        let mut d = self.clone();
        if d.owner.as_ref() == Some(who) {
            d.owner = None;
        }
        d.members.retain(|m| &m.principal != who);
        Some(d)
    }
}

/// A document's content, as declared (a manifest, the admin API). Media placed in the
/// document are added to it when it is read (`parent_node`, `bitable`), so this holds
/// only what cannot be derived. Kept whole as JSON: read and written with its document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    /// The title `GET /open-apis/docx/v1/documents/{id}` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A docx's body, in order, under its page block.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Block>,
    /// A spreadsheet's sheets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sheets: Vec<Sheet>,
    /// A bitable's tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
}

impl Content {
    pub fn is_empty(&self) -> bool {
        self == &Content::default()
    }
}

/// One block of a docx body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub block_id: String,
    #[serde(flatten)]
    pub kind: BlockKind,
}

/// What a block is; the manifest's `type` key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockKind {
    Text {
        text: String,
    },
    /// `heading1` … `heading9`.
    Heading {
        level: u8,
        text: String,
    },
    Image {
        file_token: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        width: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        height: Option<u32>,
    },
    File {
        file_token: String,
    },
}

/// One sheet of a spreadsheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sheet {
    pub sheet_id: String,
    pub title: String,
    /// A1-style address → value.
    pub cells: std::collections::BTreeMap<String, Cell>,
}

/// A cell's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    Text(String),
    Number(serde_json::Number),
    Attachment { attachment: String },
    Image { image: String },
}

/// One table of a bitable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub table_id: String,
    pub name: String,
    pub fields: Vec<Field>,
    pub records: Vec<Record>,
}

/// A bitable field (column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub field_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Number,
    Attachment,
}

impl FieldKind {
    /// Feishu's numeric field type (1 text, 2 number, 17 attachment).
    pub fn code(self) -> u32 {
        match self {
            Self::Text => 1,
            Self::Number => 2,
            Self::Attachment => 17,
        }
    }
}

/// A bitable record: its declared values by field name (attachments come from media).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub record_id: String,
    pub fields: std::collections::BTreeMap<String, serde_json::Value>,
}

/// Where a bitable attachment sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BitableLocation {
    pub table_id: String,
    pub field_id: String,
    pub record_id: String,
}

/// One media: its metadata, and the key of its bytes in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    pub file_token: String,
    /// The token of the document that holds it; empty for `ccm_import_open` uploads.
    pub document: String,
    pub parent_type: ParentType,
    pub parent_node: Option<String>,
    pub file_name: String,
    pub mime_type: String,
    pub size: u64,
    /// The bytes' digest (`blob::digest_of`): the blob key, and the source of the ETag.
    pub digest: String,
    pub bitable: Option<BitableLocation>,
    /// Who uploaded it (`None` for media declared by a manifest). Media outside any
    /// document (`ccm_import_open`) are readable by their uploader only.
    pub uploader: Option<Principal>,
    pub deleted: bool,
    pub created_at_ms: i64,
    /// Changes only when the bytes change; the source of `Last-Modified`.
    pub modified_at_ms: i64,
}

/// A chunked upload between `upload_prepare` and `upload_finish`. Its blocks live in the
/// blob store under the upload id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadSession {
    pub upload_id: String,
    pub app_id: String,
    pub tenant_key: String,
    /// Only the caller that prepared the upload may send parts and finish it.
    pub principal: Principal,
    pub file_name: String,
    pub parent_type: ParentType,
    pub parent_node: Option<String>,
    /// The document the media will belong to (empty for `ccm_import_open`).
    pub document: String,
    pub size: u64,
    pub block_num: u64,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// The media's token once the upload is finished. The session stays until it
    /// expires, so that a finish repeated after a lost answer gets the same token.
    pub file_token: Option<String>,
}

/// What an OAuth grant is: an authorization code or a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    Code,
    Refresh,
}

impl GrantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Refresh => "refresh",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "code" => Some(Self::Code),
            "refresh" => Some(Self::Refresh),
            _ => None,
        }
    }
}

/// An OAuth authorization code or refresh token: single-use, kept by hash like tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// SHA-256 of the code or refresh token, hex.
    pub hash: String,
    pub kind: GrantKind,
    pub app_id: String,
    pub tenant_key: String,
    pub user_id: String,
    /// What the user granted; a token from this grant gets these (or fewer).
    pub scopes: Vec<String>,
    /// Codes: the `redirect_uri` given at authorize, which the exchange must repeat.
    pub redirect_uri: Option<String>,
    /// Codes: the PKCE challenge and its method (`S256` or `plain`).
    pub code_challenge: Option<String>,
    pub challenge_method: Option<String>,
    pub issued_at_ms: i64,
    pub expires_at_ms: i64,
    /// When it was spent; a grant is spent once.
    pub used_at_ms: Option<i64>,
}
