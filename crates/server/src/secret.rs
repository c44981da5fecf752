//! Secrets compared and stored: tokens are kept as hashes, and secrets compared in
//! constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// SHA-256 of a token's text, hex: how tokens are stored and looked up.
pub fn token_hash(token: &str) -> String {
    let mut hex = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(token.as_bytes()), &mut hex).expect("64 digits");
    std::str::from_utf8(&hex).expect("hex digits").to_owned()
}

/// Whether two secrets are equal, in time independent of where they differ (the length
/// may show).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(same_secret("", ""));
        assert_eq!(token_hash("t-x").len(), 64);
        assert_eq!(token_hash("t-x"), hex::encode(Sha256::digest(b"t-x")));
    }
}
