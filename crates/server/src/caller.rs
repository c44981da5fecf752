//! Who is calling, once the token and scope checks passed.

use feishu_media_store::{AccessToken, PrincipalRef, RateLimit, StoredTokenKind};
use std::sync::Arc;

/// Left in a request's extensions by the authentication layer; the rate-limit and fault
/// layers and the handlers read it.
///
/// It holds the token's row (shared with the store's memory, so a request copies no id
/// out of it) and the app's limit as read when the token was checked.
#[derive(Debug, Clone)]
pub struct Caller {
    token: Arc<AccessToken>,
    /// The app's rate limit; `None`: no limits.
    pub rate_limit: Option<RateLimit>,
}

impl Caller {
    /// A tenant token's or a user token's caller. The authentication layer checked
    /// that a user token's row names its user.
    pub fn new(token: Arc<AccessToken>, rate_limit: Option<RateLimit>) -> Self {
        Self { token, rate_limit }
    }

    pub fn app_id(&self) -> &str {
        &self.token.app_id
    }

    pub fn tenant_key(&self) -> &str {
        &self.token.tenant_key
    }

    /// The app for tenant tokens, the user for user tokens: whose document roles count.
    pub fn principal(&self) -> PrincipalRef<'_> {
        match (self.token.kind, &self.token.user_id) {
            (StoredTokenKind::User, Some(user_id)) => PrincipalRef::User(user_id),
            _ => PrincipalRef::App(&self.token.app_id),
        }
    }
}

/// What a temporary link's verified code grants: one media, to whoever holds the link.
#[derive(Debug, Clone)]
pub struct LinkGrant {
    pub file_token: String,
}
