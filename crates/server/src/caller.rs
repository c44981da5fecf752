//! Who is calling, once the token and scope checks passed.

use feishu_media_store::{Principal, RateLimit};

/// Left in a request's extensions by the authentication layer; the rate-limit and fault
/// layers and the handlers read it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub app_id: String,
    pub tenant_key: String,
    /// The app for tenant tokens, the user for user tokens: whose document roles count.
    pub principal: Principal,
    /// The app's rate limit; `None`: no limits.
    pub rate_limit: Option<RateLimit>,
}

/// What a temporary link's verified code grants: one media, to whoever holds the link.
#[derive(Debug, Clone)]
pub struct LinkGrant {
    pub file_token: String,
}
