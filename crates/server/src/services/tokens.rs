//! Issuing tenant and app access tokens (wire contract §2).
//!
//! A token's text is derived from the server secret, so the store keeps only its hash
//! and the server can still hand the same token out again while it has time left:
//! `t-` + HMAC-SHA256(secret, "tenant|app_id|issued_at_ms"), hex.

use crate::error::ApiError;
use crate::secret::{same_secret, token_hash};
use crate::state::AppState;
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::AppCredentials;
use feishu_media_store::{AccessToken, Batch, StoredTokenKind};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A token handed out: its text and the seconds it has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub token: String,
    pub expire_secs: i64,
}

fn derive(secret: &[u8; 32], kind: StoredTokenKind, app_id: &str, issued_at_ms: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(format!("{}|{app_id}|{issued_at_ms}", kind.as_str()).as_bytes());
    let digest = mac.finalize().into_bytes();
    let prefix = match kind {
        StoredTokenKind::Tenant => "t-",
        StoredTokenKind::App => "a-",
        StoredTokenKind::User => "u-",
    };
    format!("{prefix}{}", hex::encode(&digest[..20]))
}

/// Checks the credentials and returns the app's current token of `kind`, or a new one
/// when the current one has less than the refresh window left. Bad credentials answer
/// with HTTP 200 and a Feishu code, as Feishu does.
pub async fn issue(
    state: &AppState,
    creds: &AppCredentials,
    kind: StoredTokenKind,
) -> Result<Issued, ApiError> {
    let app = state
        .meta
        .app(&creds.app_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidParam))?;
    if !same_secret(&app.app_secret, &creds.app_secret) {
        return Err(ApiError::new(ErrorCode::AppSecretInvalid));
    }
    let now = state.clock.unix_ms();
    let window = state.config.token_refresh_window.as_millis() as i64;
    if let Some(current) = state.meta.latest_token(&app.app_id, kind).await?
        && current.expires_at_ms - now >= window
        && current.tenant_key == app.tenant_key
    {
        let token = derive(&state.secret, kind, &app.app_id, current.issued_at_ms);
        // A token derived from another secret (the data dir's secret was replaced) is
        // not this one; fall through and issue a fresh one.
        if token_hash(&token) == current.hash {
            return Ok(Issued {
                token,
                expire_secs: (current.expires_at_ms - now) / 1000,
            });
        }
    }
    let ttl_ms = state.config.token_ttl.as_millis() as i64;
    let token = derive(&state.secret, kind, &app.app_id, now);
    let record = AccessToken {
        hash: token_hash(&token),
        kind,
        app_id: app.app_id.clone(),
        tenant_key: app.tenant_key.clone(),
        user_id: None,
        scopes: None,
        issued_at_ms: now,
        expires_at_ms: now + ttl_ms,
    };
    state
        .meta
        .apply(&Batch {
            tokens: vec![record],
            ..Default::default()
        })
        .await?;
    // Old tokens stay valid until they expire; those long gone are dropped here, where
    // tokens are written anyway.
    state
        .meta
        .purge_expired_tokens(now - 24 * 3600 * 1000)
        .await?;
    Ok(Issued {
        token,
        expire_secs: ttl_ms / 1000,
    })
}
