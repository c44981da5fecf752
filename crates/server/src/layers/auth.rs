//! Authentication: the endpoint's [`Access`], checked once before anything else. Bearer
//! tokens and scopes follow the token table of wire contract §1; a temporary link's
//! signed code is checked here too, and the admin token.

use super::{Checked, Request, RequestContext, served};
use crate::caller::{Caller, LinkGrant};
use crate::error::ApiError;
use crate::secret::{presented_token_hash, same_secret};
use crate::services::links;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::endpoint::Access;
use feishu_media_proto::envelope::PermissionViolation;
use feishu_media_proto::scope;
use feishu_media_proto::token::{TokenKind, bearer};
use feishu_media_store::StoredTokenKind;

/// The endpoint's access rule, leaving what it found (a caller, a link's grant) in the
/// request's context.
/// (`&mut` only because a request body is not `Sync`: a shared borrow could not be held
/// across an await of a `Send` future.)
pub async fn check(state: &AppState, req: &mut Request, ctx: &mut RequestContext) -> Checked {
    // Two of these could be read one way here and another way by a proxy in front.
    for name in [header::AUTHORIZATION, header::HOST] {
        if req.headers().get_all(&name).iter().nth(1).is_some() {
            let e = ApiError::params(format!("the request has more than one {name} header"));
            return Err(served(e.into_response()));
        }
    }
    let Some(access) = ctx.spec().map(|s| s.access) else {
        return Ok(());
    };
    match access {
        Access::Public | Access::AppCredentials => {}
        Access::Token(_) | Access::UserToken => {
            let scopes = match access {
                Access::Token(scopes) => Some(scopes),
                _ => None,
            };
            let authorization = req.headers().get(header::AUTHORIZATION);
            match caller(state, authorization.map(|v| v.as_bytes()), scopes).await {
                Ok(caller) => ctx.caller = Some(caller),
                Err(e) => return Err(served(e.into_response())),
            }
        }
        Access::SignedLink => {
            let code = crate::gateway::query_param(req.uri(), "code").unwrap_or_default();
            match links::verify(&state.secret, &code, state.clock.unix_secs()) {
                Ok(file_token) => ctx.grant = Some(LinkGrant { file_token }),
                Err(why) => {
                    let e = ApiError::new(ErrorCode::Forbidden)
                        .hint(format!("the link's code is not valid ({why:?})"));
                    return Err(served(e.into_response()));
                }
            }
        }
        Access::AdminToken => {
            let Some(expected) = &state.config.admin_token else {
                // Switched off: the admin API does not exist.
                return Err(served(crate::gateway::not_found()));
            };
            let given = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| bearer(v.as_bytes()));
            if !given.is_some_and(|t| same_secret(t, expected)) {
                return Err(served(
                    ApiError::new(ErrorCode::AdminUnauthorized).into_response(),
                ));
            }
        }
    }
    Ok(())
}

/// The caller the authentication layer let through, for axum handlers (put in the
/// request's extensions by [`crate::routes::Dispatch`]).
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

/// The token table of wire contract §1, then the scope check, for the request's (one)
/// `Authorization` value. `accepted: None` takes a user token and no tenant token,
/// whatever its scopes (`user_info`).
pub async fn caller(
    state: &AppState,
    authorization: Option<&[u8]>,
    accepted: Option<&[&str]>,
) -> Result<Caller, ApiError> {
    let token = authorization
        .and_then(bearer)
        .ok_or_else(|| ApiError::new(ErrorCode::MissingAccessToken))?;
    let kind = TokenKind::of(token).ok_or_else(|| ApiError::new(ErrorCode::InvalidTokenForm))?;
    let now = state.clock.unix_ms();
    let record = state
        .token_row(presented_token_hash(token).as_str())
        .await?;
    match kind {
        // An app token is never accepted where tenant or user tokens are required.
        TokenKind::App => Err(ApiError::new(ErrorCode::InvalidTenantToken)),
        // Only a user has a `user_info` [ours: the invalid-token answer].
        TokenKind::Tenant if accepted.is_none() => {
            Err(ApiError::new(ErrorCode::InvalidUserToken)
                .hint("user_info takes a user access token"))
        }
        TokenKind::Tenant => {
            let accepted = accepted.unwrap_or_default();
            let record = record
                .filter(|r| r.kind == StoredTokenKind::Tenant && r.expires_at_ms > now)
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidTenantToken))?;
            // Scopes are the app's current grants, so a change applies to live tokens.
            let app = state
                .app_row(&record.app_id)
                .await?
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidTenantToken))?;
            // An app moved to another tenant since: its old tokens are not for this one.
            if app.tenant_key != record.tenant_key {
                return Err(ApiError::new(ErrorCode::InvalidTenantToken));
            }
            if !scope::grants(&app.scopes, accepted) {
                return Err(scope_error(ErrorCode::AppScopeMissing, accepted));
            }
            Ok(Caller::new(record, app.rate_limit))
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
                .as_deref()
                .ok_or_else(|| ApiError::internal("user token without a user"))?;
            // The user must still exist, in the tenant the token was issued in.
            let user = state.meta.user(user_id).await?;
            if user.is_none_or(|u| u.tenant_key != record.tenant_key) {
                return Err(ApiError::new(ErrorCode::InvalidUserToken));
            }
            if let Some(accepted) = accepted
                && !scope::grants(record.scopes.as_deref().unwrap_or_default(), accepted)
            {
                return Err(scope_error(ErrorCode::UserScopeMissing, accepted));
            }
            // A user token counts against its app's limits.
            let app = state
                .meta
                .app(&record.app_id)
                .await?
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidUserToken))?;
            Ok(Caller::new(record, app.rate_limit))
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

#[cfg(test)]
mod tests {
    use crate::testing::*;

    const URL: &str = "/open-apis/drive/v1/medias/boxA/download";

    async fn code_for(auth: Option<&str>) -> (u16, i64) {
        let s = state().await;
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        status_and_code(call(&s, get(URL, &headers)).await).await
    }

    #[tokio::test]
    async fn the_token_table() {
        for (auth, want) in [
            (None, (400, 99991661)),
            (Some("Basic abc"), (400, 99991661)),
            (Some("Bearer"), (400, 99991661)),
            (Some("Bearer x-123"), (400, 99991671)),
            (Some("Bearer a-123"), (400, 99991663)),
            (Some("Bearer t-unknown"), (400, 99991663)),
            (Some("Bearer u-unknown"), (400, 99991668)),
            (Some("Bearer eyJunknown"), (400, 99991668)),
            (Some("Bearer u-noscope"), (400, 99991679)),
            (Some("bearer u-good"), (200, 0)),
        ] {
            assert_eq!(code_for(auth).await, want, "{auth:?}");
        }
    }

    #[tokio::test]
    async fn two_authorization_or_two_host_headers_are_refused() {
        let s = state().await;
        for name in ["authorization", "host"] {
            let mut req = get(URL, &[("authorization", "Bearer u-good"), ("host", "a")]);
            req.headers_mut()
                .append(name, "Bearer u-good".parse().unwrap());
            assert_eq!(
                status_and_code(call(&s, req).await).await,
                (400, 1061002),
                "{name}"
            );
        }
        let one = get(URL, &[("authorization", "Bearer u-good"), ("host", "a")]);
        assert_eq!(status_and_code(call(&s, one).await).await, (200, 0));
    }

    #[tokio::test]
    async fn tenant_tokens_need_a_scope_and_expire() {
        let s = state().await;
        let none = tenant_token(&s, "cli_none", "sec-n").await;
        let (status, _, body) = answer(
            call(
                &s,
                get(URL, &[("authorization", &format!("Bearer {none}"))]),
            )
            .await,
        )
        .await;
        let env: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (status.as_u16(), env["code"].as_i64()),
            (400, Some(99991672))
        );
        assert!(
            env["msg"]
                .as_str()
                .unwrap()
                .contains("drive:drive:readonly")
        );
        assert_eq!(
            env["error"]["permission_violations"]
                .as_array()
                .unwrap()
                .len(),
            feishu_media_proto::scope::DOWNLOAD.len()
        );
        let good = format!("Bearer {}", tenant_token(&s, "cli_a", "sec-a").await);
        assert_eq!(
            status_and_code(call(&s, get(URL, &[("authorization", &good)])).await).await,
            (200, 0)
        );
        s.clock.advance(std::time::Duration::from_secs(7200));
        assert_eq!(
            status_and_code(call(&s, get(URL, &[("authorization", &good)])).await).await,
            (400, 99991663)
        );
    }

    #[tokio::test]
    async fn the_admin_api_is_absent_unless_configured_then_needs_its_token() {
        let off = state().await;
        let (status, headers, body) = answer(call(&off, get("/_admin/v1/apps", &[])).await).await;
        assert_eq!(status, 404);
        assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
        assert_eq!(body, b"404 page not found");
        let on = state_with(world(), |c| c.admin_token = Some("adm".into())).await;
        for auth in [None, Some("Bearer nope"), Some("Bearer adm2")] {
            let headers: Vec<(&str, &str)> =
                auth.map(|a| ("authorization", a)).into_iter().collect();
            assert_eq!(
                status_and_code(call(&on, get("/_admin/v1/apps", &headers)).await).await,
                (401, 1069401)
            );
        }
        let (status, _) = status_and_code(
            call(
                &on,
                get("/_admin/v1/apps", &[("authorization", "Bearer adm")]),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn temporary_links_are_checked_before_anything_else() {
        let s = state().await;
        let link = |code: &str| {
            get(
                &format!("/space/api/box/stream/download/authcode/?code={code}"),
                &[],
            )
        };
        assert_eq!(
            status_and_code(call(&s, link("garbage")).await).await,
            (403, 1061004)
        );
        let good = crate::services::links::sign(&s.secret, "boxA", s.clock.unix_secs() + 10);
        assert_eq!(status_and_code(call(&s, link(&good)).await).await, (200, 0));
        let gone = crate::services::links::sign(&s.secret, "boxGone", s.clock.unix_secs() + 10);
        assert_eq!(
            status_and_code(call(&s, link(&gone)).await).await,
            (404, 1061007)
        );
        s.clock.advance(std::time::Duration::from_secs(10));
        assert_eq!(
            status_and_code(call(&s, link(&good)).await).await,
            (403, 1061004)
        );
    }
}
