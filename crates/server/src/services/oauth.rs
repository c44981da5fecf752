//! User tokens by OAuth (authen v2, documents-and-oauth §11): the consent step that
//! turns a seeded user's "yes" into a code, and the exchange of codes and refresh
//! tokens for user access tokens. Codes and refresh tokens are [`Grant`]s, kept by hash
//! and spent once (the store marks them atomically, so of two racing exchanges one wins).

use crate::secret::{same_secret, token_hash};
use crate::state::AppState;
use feishu_media_proto::oauth::{OAuthError, TokenAnswer, pkce_matches};
use feishu_media_proto::scope::OFFLINE_ACCESS;
use feishu_media_store::{AccessToken, App, Batch, Grant, GrantKind, StoreError, StoredTokenKind};

/// A code lives five minutes [doc].
pub const CODE_TTL_MS: i64 = 5 * 60 * 1000;
/// User access tokens live two hours, refresh tokens a week [doc].
pub const ACCESS_TTL_SECS: i64 = 7200;
pub const REFRESH_TTL_SECS: i64 = 604_800;

/// An OAuth failure: the code, and a description more precise than the default.
#[derive(Debug)]
pub struct Refused {
    pub error: OAuthError,
    pub description: Option<String>,
    /// Storage trouble (answered 500, details in the log only).
    pub internal: Option<StoreError>,
}

impl From<OAuthError> for Refused {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            description: None,
            internal: None,
        }
    }
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Self {
            error: OAuthError::MissingParameter,
            description: None,
            internal: Some(e),
        }
    }
}

fn refused(error: OAuthError, why: impl Into<String>) -> Refused {
    Refused {
        error,
        description: Some(why.into()),
        internal: None,
    }
}

/// What `authorize` was asked, checked far enough to know where to send the answer.
#[derive(Debug, Clone)]
pub struct Consent {
    pub app: App,
    pub redirect_uri: String,
    pub state: Option<String>,
    /// The scopes to grant: those asked for that the app has (all of its scopes when
    /// none are asked for).
    pub scopes: Vec<String>,
    pub code_challenge: Option<String>,
    pub challenge_method: Option<String>,
}

/// Random text for codes and tokens: 32 bytes, URL-safe.
fn random_text() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The scopes of `asked` (space-separated) that `held` has; all of `held` when nothing
/// is asked.
pub fn narrow(asked: Option<&str>, held: &[String]) -> Vec<String> {
    match asked.map(str::split_whitespace) {
        Some(words) => {
            let mut out: Vec<String> = Vec::new();
            for w in words {
                if held.iter().any(|h| h == w) && !out.iter().any(|o| o == w) {
                    out.push(w.to_owned());
                }
            }
            if out.is_empty() && asked.is_some_and(|a| a.trim().is_empty()) {
                return held.to_vec();
            }
            out
        }
        None => held.to_vec(),
    }
}

/// Issues a code for `user_id` (a user of the app's tenant: the caller checked).
pub async fn grant_code(
    state: &AppState,
    consent: &Consent,
    user_id: &str,
) -> Result<String, StoreError> {
    let code = random_text();
    let now = state.clock.unix_ms();
    state
        .meta
        .put_grant(&Grant {
            hash: token_hash(&code),
            kind: GrantKind::Code,
            app_id: consent.app.app_id.clone(),
            tenant_key: consent.app.tenant_key.clone(),
            user_id: user_id.to_owned(),
            scopes: consent.scopes.clone(),
            redirect_uri: Some(consent.redirect_uri.clone()),
            code_challenge: consent.code_challenge.clone(),
            challenge_method: consent.challenge_method.clone(),
            issued_at_ms: now,
            expires_at_ms: now + CODE_TTL_MS,
            used_at_ms: None,
        })
        .await?;
    Ok(code)
}

/// A token request's parameters, from a JSON or a form body.
pub type Params = std::collections::HashMap<String, String>;

fn required<'a>(p: &'a Params, name: &str) -> Result<&'a str, Refused> {
    p.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| refused(OAuthError::MissingParameter, format!("{name} is required")))
}

/// `POST /open-apis/authen/v2/oauth/token`.
pub async fn token(state: &AppState, p: &Params) -> Result<TokenAnswer, Refused> {
    let grant_type = required(p, "grant_type")?;
    if grant_type != "authorization_code" && grant_type != "refresh_token" {
        return Err(refused(
            OAuthError::UnsupportedGrantType,
            format!("grant_type {grant_type:?}: use authorization_code or refresh_token"),
        ));
    }
    let client_id = required(p, "client_id")?;
    let client_secret = required(p, "client_secret")?;
    let app = state
        .meta
        .app(client_id)
        .await?
        .filter(|a| same_secret(&a.app_secret, client_secret))
        .ok_or_else(|| {
            refused(
                OAuthError::BadClientSecret,
                "client_id or client_secret is wrong",
            )
        })?;
    let now = state.clock.unix_ms();
    let grant = if grant_type == "authorization_code" {
        let code = required(p, "code")?;
        let g = state
            .meta
            .spend_grant(&token_hash(code), now)
            .await?
            .filter(|g| g.kind == GrantKind::Code)
            .ok_or(OAuthError::CodeNotFound)?;
        if g.used_at_ms.is_some() {
            return Err(refused(OAuthError::CodeNotFound, "the code has been used"));
        }
        if g.expires_at_ms <= now {
            return Err(OAuthError::CodeExpired.into());
        }
        if g.app_id != app.app_id {
            return Err(OAuthError::ClientMismatch.into());
        }
        if let Some(want) = &g.redirect_uri
            && p.get("redirect_uri") != Some(want)
        {
            return Err(refused(
                OAuthError::RedirectUriMismatch,
                "redirect_uri must be the one given to authorize",
            ));
        }
        if let Some(challenge) = &g.code_challenge {
            let verifier = required(p, "code_verifier")?;
            let method = g.challenge_method.as_deref().unwrap_or("plain");
            if !pkce_matches(method, challenge, verifier) {
                return Err(OAuthError::PkceFailed.into());
            }
        }
        g
    } else {
        let refresh = required(p, "refresh_token")?;
        let g = state
            .meta
            .spend_grant(&token_hash(refresh), now)
            .await?
            .filter(|g| g.kind == GrantKind::Refresh)
            .ok_or(OAuthError::RefreshTokenInvalid)?;
        if g.used_at_ms.is_some() {
            return Err(OAuthError::RefreshTokenUsed.into());
        }
        if g.expires_at_ms <= now {
            return Err(OAuthError::RefreshTokenExpired.into());
        }
        if g.app_id != app.app_id {
            return Err(OAuthError::ClientMismatch.into());
        }
        g
    };
    // The user must still be in the tenant the grant was made in.
    let user = state.meta.user(&grant.user_id).await?;
    if user.is_none_or(|u| u.tenant_key != grant.tenant_key) || app.tenant_key != grant.tenant_key {
        return Err(OAuthError::RefreshTokenRevoked.into());
    }
    let scopes = match p.get("scope").map(String::as_str) {
        None | Some("") => grant.scopes.clone(),
        Some(asked) => {
            let narrowed = narrow(Some(asked), &grant.scopes);
            if asked
                .split_whitespace()
                .any(|w| !grant.scopes.iter().any(|s| s == w))
            {
                return Err(refused(
                    OAuthError::MissingParameter,
                    "scope may only narrow what the user granted",
                ));
            }
            narrowed
        }
    };
    issue(state, &grant, scopes).await
}

/// A user access token (and, with `offline_access`, a refresh token) for `grant`.
async fn issue(
    state: &AppState,
    grant: &Grant,
    scopes: Vec<String>,
) -> Result<TokenAnswer, Refused> {
    let now = state.clock.unix_ms();
    let access = format!("u-{}", random_text());
    state
        .meta
        .apply(&Batch {
            tokens: vec![AccessToken {
                hash: token_hash(&access),
                kind: StoredTokenKind::User,
                app_id: grant.app_id.clone(),
                tenant_key: grant.tenant_key.clone(),
                user_id: Some(grant.user_id.clone()),
                scopes: Some(scopes.clone()),
                issued_at_ms: now,
                expires_at_ms: now + ACCESS_TTL_SECS * 1000,
            }],
            ..Default::default()
        })
        .await?;
    let refresh = if scopes.iter().any(|s| s == OFFLINE_ACCESS) {
        let text = format!("ur-{}", random_text());
        state
            .meta
            .put_grant(&Grant {
                hash: token_hash(&text),
                kind: GrantKind::Refresh,
                app_id: grant.app_id.clone(),
                tenant_key: grant.tenant_key.clone(),
                user_id: grant.user_id.clone(),
                scopes: scopes.clone(),
                redirect_uri: None,
                code_challenge: None,
                challenge_method: None,
                issued_at_ms: now,
                expires_at_ms: now + REFRESH_TTL_SECS * 1000,
                used_at_ms: None,
            })
            .await?;
        Some(text)
    } else {
        None
    };
    Ok(TokenAnswer {
        code: 0,
        access_token: access,
        expires_in: ACCESS_TTL_SECS,
        refresh_token_expires_in: refresh.is_some().then_some(REFRESH_TTL_SECS),
        refresh_token: refresh,
        scope: scopes.join(" "),
        token_type: "Bearer".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::narrow;

    #[test]
    fn narrowing_keeps_what_is_held_in_the_order_asked() {
        let held = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        assert_eq!(narrow(None, &held), held);
        assert_eq!(narrow(Some("c a x a"), &held), ["c", "a"]);
        assert_eq!(narrow(Some("  "), &held), held);
        assert!(narrow(Some("x"), &held).is_empty());
    }
}
