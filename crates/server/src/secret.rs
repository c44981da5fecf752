//! Secrets compared and stored: tokens are kept as hashes, and secrets compared in
//! constant time.

use sha2::{Digest, Sha256};
use std::cell::RefCell;
use subtle::ConstantTimeEq;

/// SHA-256 of a token's text, hex: how tokens are stored and looked up.
pub fn token_hash(token: &str) -> String {
    let mut hex = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(token.as_bytes()), &mut hex).expect("64 digits");
    std::str::from_utf8(&hex).expect("hex digits").to_owned()
}

/// A token's hash, hex, on the stack: what [`presented_token_hash`] gives.
#[derive(Clone, Copy)]
pub struct TokenHash([u8; 64]);

impl TokenHash {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits")
    }
}

/// How many presented tokens each thread remembers the hash of.
const RECENT_SLOTS: usize = 16;
/// Longer tokens are hashed every time (none that we issue is this long).
const RECENT_TOKEN_MAX: usize = 128;

/// The hash of a token a request presents, as [`token_hash`] computes it, remembered per
/// thread for the last few tokens: callers send the same token request after request,
/// and hashing it was a tenth of a cached 4 KiB download's instructions (bench B,
/// callgrind; portable SHA-256 there, SHA-NI is cheaper but still the largest single
/// function of the auth check under `perf`). The hash depends on the text alone, so a
/// remembered one is never stale; the text is compared in constant time.
pub fn presented_token_hash(token: &str) -> TokenHash {
    type Slot = Option<(Box<str>, TokenHash)>;
    thread_local! {
        static RECENT: RefCell<[Slot; RECENT_SLOTS]> = const { RefCell::new([const { None }; RECENT_SLOTS]) };
    }
    let hash = || {
        let mut hex = [0u8; 64];
        hex::encode_to_slice(Sha256::digest(token.as_bytes()), &mut hex).expect("64 digits");
        TokenHash(hex)
    };
    if token.len() > RECENT_TOKEN_MAX {
        return hash();
    }
    // FNV-1a: which slot, not a secret's digest.
    let slot = token.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) as usize
        % RECENT_SLOTS;
    RECENT.with_borrow_mut(|recent| {
        if let Some((text, h)) = &recent[slot]
            && same_secret(text, token)
        {
            return *h;
        }
        let h = hash();
        recent[slot] = Some((token.into(), h));
        h
    })
}

/// Whether two secrets are equal, in time independent of where they differ (the length
/// may show).
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    // Eight bytes at a time: `subtle`'s byte slices take one opaque step per byte, and a
    // remembered token's compare was half of `presented_token_hash` (callgrind, bench B).
    // Each step's result goes through `black_box`, so no early exit can be compiled in.
    let (mut wa, mut wb) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut diff = 0u64;
    for (x, y) in (&mut wa).zip(&mut wb) {
        let word = |w: &[u8]| u64::from_ne_bytes(w.try_into().expect("8 bytes"));
        diff = std::hint::black_box(diff | (word(x) ^ word(y)));
    }
    for (x, y) in wa.remainder().iter().zip(wb.remainder()) {
        diff = std::hint::black_box(diff | u64::from(x ^ y));
    }
    diff.ct_eq(&0).into()
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
        // A difference anywhere, in the words or the tail, is one.
        for len in 1..40 {
            let a = "a".repeat(len);
            assert!(same_secret(&a, &a.clone()));
            for at in 0..len {
                let mut b = a.clone().into_bytes();
                b[at] = b'b';
                assert!(
                    !same_secret(&a, std::str::from_utf8(&b).unwrap()),
                    "{len} {at}"
                );
            }
        }
        assert_eq!(token_hash("t-x").len(), 64);
        assert_eq!(token_hash("t-x"), hex::encode(Sha256::digest(b"t-x")));
    }

    /// Remembered or not, a presented token's hash is its own: tokens that share a slot
    /// (17 tokens, 16 slots) and a token past the remembered length included.
    #[test]
    fn a_presented_token_hashes_as_stored() {
        let long = "t-".to_owned() + &"x".repeat(200);
        let mut tokens: Vec<String> = (0..17).map(|i| format!("t-{i:040}")).collect();
        tokens.push(long);
        for _ in 0..3 {
            for t in &tokens {
                assert_eq!(presented_token_hash(t).as_str(), token_hash(t), "{t}");
            }
        }
    }
}
