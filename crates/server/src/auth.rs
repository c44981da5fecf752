//! Bearer tokens and scopes. Each endpoint declares its scopes by a marker type; the
//! [`Authed`] extractor checks token then scope, once, before the handler runs.

use crate::error::ApiError;
use crate::observe::note;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::PermissionViolation;
use feishu_media_proto::scope;
use feishu_media_proto::token::{TokenKind, bearer};
use feishu_media_store::{Principal, StoredTokenKind, now_ms};
use sha2::{Digest, Sha256};
use std::marker::PhantomData;

/// What an endpoint requires of its caller.
pub trait Endpoint: Send + Sync + 'static {
    /// The endpoint's name in logs and (later) rate-limit keys.
    const NAME: &'static str;
    /// Holding any one of these is enough.
    const SCOPES: &'static [&'static str];
}

/// `GET /open-apis/drive/v1/medias/{file_token}/download`.
pub struct Download;

impl Endpoint for Download {
    const NAME: &'static str = "download";
    const SCOPES: &'static [&'static str] = scope::DOWNLOAD;
}

/// `POST /open-apis/drive/v1/medias/upload_all`.
pub struct UploadAll;

impl Endpoint for UploadAll {
    const NAME: &'static str = "upload_all";
    const SCOPES: &'static [&'static str] = scope::UPLOAD;
}

/// `POST /open-apis/drive/v1/medias/upload_prepare`.
pub struct UploadPrepare;

impl Endpoint for UploadPrepare {
    const NAME: &'static str = "upload_prepare";
    const SCOPES: &'static [&'static str] = scope::UPLOAD;
}

/// `POST /open-apis/drive/v1/medias/upload_part`.
pub struct UploadPart;

impl Endpoint for UploadPart {
    const NAME: &'static str = "upload_part";
    const SCOPES: &'static [&'static str] = scope::UPLOAD;
}

/// `POST /open-apis/drive/v1/medias/upload_finish`.
pub struct UploadFinish;

impl Endpoint for UploadFinish {
    const NAME: &'static str = "upload_finish";
    const SCOPES: &'static [&'static str] = scope::UPLOAD;
}

/// `GET /open-apis/drive/v1/medias/batch_get_tmp_download_url`: the download scopes.
pub struct TmpDownloadUrl;

impl Endpoint for TmpDownloadUrl {
    const NAME: &'static str = "batch_get_tmp_download_url";
    const SCOPES: &'static [&'static str] = scope::DOWNLOAD;
}

/// Who is calling, once the token and scope checks passed.
#[derive(Debug, Clone)]
pub struct Caller {
    pub app_id: String,
    pub tenant_key: String,
    /// The app for tenant tokens, the user for user tokens: whose document roles count.
    pub principal: Principal,
}

/// A caller that passed the checks of endpoint `E`.
pub struct Authed<E> {
    pub caller: Caller,
    _endpoint: PhantomData<E>,
}

/// SHA-256 of a token's text, hex: how tokens are stored and looked up.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl<E: Endpoint> FromRequestParts<AppState> for Authed<E> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state, E::SCOPES).await?;
        note(&parts.extensions, |n| {
            n.app_id = Some(caller.app_id.clone())
        });
        Ok(Self {
            caller,
            _endpoint: PhantomData,
        })
    }
}

/// The token table of wire contract §1, then the scope check.
async fn authenticate(
    parts: &Parts,
    state: &AppState,
    accepted: &[&str],
) -> Result<Caller, ApiError> {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| bearer(v.as_bytes()))
        .ok_or_else(|| ApiError::new(ErrorCode::MissingAccessToken))?;
    let kind = TokenKind::of(token).ok_or_else(|| ApiError::new(ErrorCode::InvalidTokenForm))?;
    let now = now_ms();
    let record = state.meta.token(&token_hash(token)).await?;
    match kind {
        // An app token is never accepted where tenant or user tokens are required.
        TokenKind::App => Err(ApiError::new(ErrorCode::InvalidTenantToken)),
        TokenKind::Tenant => {
            let record = record
                .filter(|r| r.kind == StoredTokenKind::Tenant && r.expires_at_ms > now)
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidTenantToken))?;
            // Scopes are the app's current grants, so a change applies to live tokens.
            let app = state
                .meta
                .app(&record.app_id)
                .await?
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidTenantToken))?;
            if !scope::grants(&app.scopes, accepted) {
                return Err(scope_error(ErrorCode::AppScopeMissing, accepted));
            }
            Ok(Caller {
                principal: Principal::App(app.app_id.clone()),
                app_id: app.app_id,
                tenant_key: record.tenant_key,
            })
        }
        TokenKind::User => {
            let record = record
                .filter(|r| r.kind == StoredTokenKind::User)
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidUserToken))?;
            if record.expires_at_ms <= now {
                return Err(ApiError::new(ErrorCode::UserTokenExpired));
            }
            let user_id = record
                .user_id
                .clone()
                .ok_or_else(|| ApiError::internal("user token without a user"))?;
            if !scope::grants(record.scopes.as_deref().unwrap_or_default(), accepted) {
                return Err(scope_error(ErrorCode::UserScopeMissing, accepted));
            }
            Ok(Caller {
                app_id: record.app_id,
                tenant_key: record.tenant_key,
                principal: Principal::User(user_id),
            })
        }
    }
}

fn scope_error(code: ErrorCode, accepted: &[&str]) -> ApiError {
    let mut e = ApiError::new(code);
    e.msg = Some(format!("{} {}", code.message(), scope::bracketed(accepted)));
    e.violations = accepted
        .iter()
        .map(|s| PermissionViolation::scope(s))
        .collect();
    e
}
