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
use feishu_media_store::{Principal, RateLimit, StoredTokenKind, now_ms};
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
    /// The app's rate limit; `None`: no limits.
    pub rate_limit: Option<RateLimit>,
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
        // Check 3 of the contract's order: after token and scope, before anything else.
        if let Err(e) = state
            .limits
            .check(state.meta.as_ref(), &caller, E::NAME)
            .await
        {
            state.metrics.rate_limited(E::NAME);
            return Err(e);
        }
        let file_token = crate::routes::file_token_of(parts);
        inject_fault(
            state,
            &parts.extensions,
            E::NAME,
            Some(&caller.app_id),
            file_token.as_deref(),
        )
        .await?;
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
                rate_limit: app.rate_limit,
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
            // A user token counts against its app's limits.
            let app = state
                .meta
                .app(&record.app_id)
                .await?
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidUserToken))?;
            Ok(Caller {
                app_id: record.app_id,
                tenant_key: record.tenant_key,
                principal: Principal::User(user_id),
                rate_limit: app.rate_limit,
            })
        }
    }
}

/// Applies the fault rule that fires for this request, if any: a delay, an answer in
/// place of the real one, or a note that the body is to be cut.
pub async fn inject_fault(
    state: &AppState,
    extensions: &axum::http::Extensions,
    endpoint: &'static str,
    app_id: Option<&str>,
    file_token: Option<&str>,
) -> Result<(), ApiError> {
    let Some(action) = state.faults.decide(endpoint, app_id, file_token) else {
        return Ok(());
    };
    state.metrics.fault_fired(endpoint);
    if let Some(ms) = action.delay_ms {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    if let Some(bytes) = action.cut_after_bytes {
        note(extensions, |n| n.cut_after_bytes = Some(bytes));
    }
    match action.error() {
        Some(e) => Err(e),
        None => Ok(()),
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
