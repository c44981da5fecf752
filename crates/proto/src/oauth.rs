//! OAuth (authen v2, documents-and-oauth §11): the token endpoint's flat answers and its
//! error codes, which are not the envelope's.

use serde::{Deserialize, Serialize};

/// Defines [`OAuthError`] from one table: code, OAuth `error` string, description.
macro_rules! oauth_errors {
    ($( $(#[$doc:meta])* $name:ident = ($code:expr, $error:expr, $desc:expr), )*) => {
        /// An error of `POST /open-apis/authen/v2/oauth/token`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum OAuthError {
            $( $(#[$doc])* $name, )*
        }

        impl OAuthError {
            /// The number in the answer's `code`.
            pub const fn code(self) -> i64 {
                match self { $( Self::$name => $code, )* }
            }

            /// RFC 6749's `error` string.
            pub const fn error(self) -> &'static str {
                match self { $( Self::$name => $error, )* }
            }

            /// The default `error_description`.
            pub const fn description(self) -> &'static str {
                match self { $( Self::$name => $desc, )* }
            }
        }

        /// Every OAuth error, for lookups and tests.
        pub const ALL: &[OAuthError] = &[ $( OAuthError::$name, )* ];
    };
}

oauth_errors! {
    /// A required parameter is missing or malformed.
    MissingParameter = (20001, "invalid_request", "The request is missing a required parameter."),
    /// Wrong `client_secret`, or no such `client_id`.
    BadClientSecret = (20002, "invalid_client", "Client authentication failed."),
    /// No such code, or it was used already.
    CodeNotFound = (20003, "invalid_grant", "The authorization code is not found or has been used."),
    /// The code is older than five minutes.
    CodeExpired = (20004, "invalid_grant", "The authorization code has expired."),
    /// The code or refresh token was issued to another client.
    ClientMismatch = (20024, "invalid_grant", "The grant was issued to another client."),
    /// No such refresh token.
    RefreshTokenInvalid = (20026, "invalid_grant", "The refresh token is invalid."),
    /// `grant_type` is neither `authorization_code` nor `refresh_token`.
    UnsupportedGrantType = (20036, "unsupported_grant_type", "The grant type is not supported."),
    /// The refresh token is older than its lifetime.
    RefreshTokenExpired = (20037, "invalid_grant", "The refresh token has expired."),
    /// The `code_verifier` does not match the `code_challenge`.
    PkceFailed = (20049, "invalid_grant", "PKCE verification failed."),
    /// The refresh token was revoked (its user or app is gone).
    RefreshTokenRevoked = (20064, "invalid_grant", "The refresh token has been revoked."),
    /// `redirect_uri` is not the one the code was issued for.
    RedirectUriMismatch = (20071, "invalid_grant", "The redirect_uri does not match."),
    /// The refresh token was used already (they are single-use and rotate).
    RefreshTokenUsed = (20073, "invalid_grant", "The refresh token has been used."),
}

impl OAuthError {
    pub fn from_code(code: i64) -> Option<Self> {
        ALL.iter().copied().find(|e| e.code() == code)
    }
}

/// A successful token answer: flat, with no `data` \[doc\].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenAnswer {
    pub code: i64,
    pub access_token: String,
    pub expires_in: i64,
    /// Only when `offline_access` was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_in: Option<i64>,
    /// The granted scopes, space-separated.
    pub scope: String,
    pub token_type: String,
}

/// A failed token answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    pub code: i64,
    pub error: String,
    pub error_description: String,
}

/// PKCE (RFC 7636): whether `verifier` matches `challenge` under `method` (`S256`, or
/// `plain`, the default).
pub fn pkce_matches(method: &str, challenge: &str, verifier: &str) -> bool {
    use base64::Engine;
    match method {
        "S256" => {
            let digest = sha256(verifier.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) == challenge
        }
        "plain" | "" => verifier == challenge,
        _ => false,
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut codes: Vec<_> = ALL.iter().map(|e| e.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        assert_eq!(
            OAuthError::from_code(20073),
            Some(OAuthError::RefreshTokenUsed)
        );
    }

    #[test]
    fn pkce_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches("S256", challenge, verifier));
        assert!(!pkce_matches("S256", challenge, "other"));
        assert!(pkce_matches("plain", "abc", "abc"));
        assert!(!pkce_matches("plain", "abc", "abd"));
        assert!(!pkce_matches("S512", challenge, verifier));
    }
}
