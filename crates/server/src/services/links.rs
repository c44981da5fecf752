//! Temporary download links (wire contract §5): a code signed with the server secret
//! over the file token and the expiry, so links need no storage and survive restarts.
//!
//! `code` = base64url(`<expiry unix secs>.<file_token>`) `.` base64url(HMAC-SHA256).

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The base of links: `--public-url`, else the Host the caller used.
pub fn public_base(public_url: Option<&str>, headers: &HeaderMap) -> String {
    match public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    }
}

fn mac(secret: &[u8; 32], payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    // Domain separation: a code can never be confused with an access token's HMAC.
    mac.update(b"tmp-download-url\0");
    mac.update(payload);
    mac
}

/// The code for `file_token`, valid until `expires_at` (unix seconds).
pub fn sign(secret: &[u8; 32], file_token: &str, expires_at: u64) -> String {
    let payload = format!("{expires_at}.{file_token}");
    let tag = mac(secret, payload.as_bytes()).finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Why a code is refused (all answered 403 1061004).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeError {
    Malformed,
    BadSignature,
    Expired,
}

/// The file token a code grants, if it is genuine and `now` (unix seconds) is before
/// its expiry.
pub fn verify(secret: &[u8; 32], code: &str, now: u64) -> Result<String, CodeError> {
    let (payload, tag) = code.split_once('.').ok_or(CodeError::Malformed)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| CodeError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| CodeError::Malformed)?;
    mac(secret, &payload)
        .verify_slice(&tag)
        .map_err(|_| CodeError::BadSignature)?;
    let payload = String::from_utf8(payload).map_err(|_| CodeError::Malformed)?;
    let (expires_at, file_token) = payload.split_once('.').ok_or(CodeError::Malformed)?;
    let expires_at: u64 = expires_at.parse().map_err(|_| CodeError::Malformed)?;
    if now >= expires_at {
        return Err(CodeError::Expired);
    }
    Ok(file_token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn round_trip_and_expiry() {
        let code = sign(&KEY, "boxcnA.b", 1000);
        assert_eq!(verify(&KEY, &code, 999), Ok("boxcnA.b".into()));
        assert_eq!(verify(&KEY, &code, 1000), Err(CodeError::Expired));
        assert_eq!(verify(&[8; 32], &code, 0), Err(CodeError::BadSignature));
    }

    #[test]
    fn tampering_is_refused() {
        let code = sign(&KEY, "boxcnA", 1000);
        let (payload, tag) = code.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode("99999999999.boxcnA");
        assert_eq!(
            verify(&KEY, &format!("{forged}.{tag}"), 0),
            Err(CodeError::BadSignature)
        );
        // A truncated tag is either not base64 any more or the wrong tag.
        for cut in 1..4 {
            assert!(matches!(
                verify(&KEY, &code[..code.len() - cut], 0),
                Err(CodeError::BadSignature | CodeError::Malformed)
            ));
        }
        assert_eq!(verify(&KEY, payload, 0), Err(CodeError::Malformed));
        for junk in ["", ".", "!!.!!", "a.b.c", &"x".repeat(10_000)] {
            assert!(verify(&KEY, junk, 0).is_err(), "{junk}");
        }
    }

    proptest::proptest! {
        /// Any change to one character of a code makes it worthless: it never grants the
        /// file it was signed for, nor any other.
        #[test]
        fn one_changed_character_spoils_a_code(
            token in "[a-zA-Z0-9]{1,30}",
            expires in 1u64..u64::MAX,
            at in proptest::prelude::any::<proptest::sample::Index>(),
            with in proptest::prelude::any::<char>(),
        ) {
            let code = sign(&KEY, &token, expires);
            proptest::prop_assert_eq!(verify(&KEY, &code, 0), Ok(token.clone()));
            let i = at.index(code.chars().count());
            let old = code.chars().nth(i).unwrap();
            proptest::prop_assume!(old != with);
            let forged: String = code.chars().enumerate().map(|(j, c)| if j == i { with } else { c }).collect();
            proptest::prop_assert!(verify(&KEY, &forged, 0).is_err(), "{} accepted", forged);
        }

        #[test]
        fn verifying_anything_never_panics(code in ".{0,120}") {
            let _ = verify(&KEY, &code, 0);
        }
    }
}
