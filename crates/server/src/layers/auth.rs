//! Authentication: the endpoint's [`Access`], checked once before anything else. Bearer
//! tokens and scopes follow the token table of wire contract §1; a temporary link's
//! signed code is checked here too, and the admin token.

use super::observe::note;
use super::{Inner, Matched, Next, Request, Response, Step, served};
use crate::caller::{Caller, LinkGrant};
use crate::error::ApiError;
use crate::secret::{same_secret, token_hash};
use crate::services::links;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::endpoint::Access;
use feishu_media_proto::envelope::PermissionViolation;
use feishu_media_proto::scope;
use feishu_media_proto::token::{TokenKind, bearer};
use feishu_media_store::{Principal, StoredTokenKind};

#[derive(Clone)]
pub struct Auth;

impl Step for Auth {
    async fn run<S: Inner>(&self, state: &AppState, mut req: Request, next: Next<S>) -> Response {
        let Some(access) = Matched::of(&req).map(|m| m.spec().access) else {
            return next.run(req).await;
        };
        match access {
            Access::Public | Access::AppCredentials => {}
            Access::Token(scopes) => match caller(state, req.headers(), scopes).await {
                Ok(caller) => {
                    note(req.extensions(), |n| n.app_id = Some(caller.app_id.clone()));
                    req.extensions_mut().insert(caller);
                }
                Err(e) => return served(e.into_response()),
            },
            Access::SignedLink => {
                let code = crate::gateway::query_param(req.uri(), "code").unwrap_or_default();
                match links::verify(&state.secret, &code, state.clock.unix_secs()) {
                    Ok(file_token) => {
                        note(req.extensions(), |n| {
                            n.file_token = Some(file_token.clone())
                        });
                        req.extensions_mut().insert(LinkGrant { file_token });
                    }
                    Err(why) => {
                        let e = ApiError::new(ErrorCode::Forbidden)
                            .hint(format!("the link's code is not valid ({why:?})"));
                        return served(e.into_response());
                    }
                }
            }
            Access::AdminToken => {
                let Some(expected) = &state.config.admin_token else {
                    // Switched off: the admin API does not exist.
                    return served(crate::gateway::not_found());
                };
                let given = req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| bearer(v.as_bytes()));
                if !given.is_some_and(|t| same_secret(t, expected)) {
                    return served(ApiError::new(ErrorCode::AdminUnauthorized).into_response());
                }
            }
        }
        next.run(req).await
    }
}

/// The caller the authentication layer let through, for handlers.
pub struct Authed(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Authed)
            .ok_or_else(|| ApiError::internal("no caller: the endpoint's row takes no token"))
    }
}

/// The token table of wire contract §1, then the scope check.
pub async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    accepted: &[&str],
) -> Result<Caller, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| bearer(v.as_bytes()))
        .ok_or_else(|| ApiError::new(ErrorCode::MissingAccessToken))?;
    let kind = TokenKind::of(token).ok_or_else(|| ApiError::new(ErrorCode::InvalidTokenForm))?;
    let now = state.clock.unix_ms();
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

fn scope_error(code: ErrorCode, accepted: &[&str]) -> ApiError {
    let mut e = ApiError::new(code);
    e.msg = Some(format!("{} {}", code.message(), scope::bracketed(accepted)));
    e.violations = accepted
        .iter()
        .map(|s| PermissionViolation::scope(s))
        .collect();
    e
}
