//! Temporary-link codes: no code verifies unless it was signed, and none panics.
#![no_main]

use feishu_media_server::services::links::{sign, verify};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [7; 32];

fuzz_target!(|code: &str| {
    if let Ok(token) = verify(&KEY, code, 0) {
        // Whatever verified must be exactly what signing it gives back.
        let (payload, _) = code.split_once('.').expect("a verified code has a tag");
        let expiry = code_expiry(payload);
        assert_eq!(sign(&KEY, &token, expiry), code);
    }
});

fn code_expiry(payload: &str) -> u64 {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("verified");
    let text = String::from_utf8(raw).expect("verified");
    text.split_once('.')
        .expect("verified")
        .0
        .parse()
        .expect("verified")
}
