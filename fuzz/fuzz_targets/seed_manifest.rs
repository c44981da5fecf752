//! The seed manifest: parsed and, when it parses, validated and applied to an in-memory
//! world, which it must leave as it was when refused.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    feishu_media_server::fuzzing::seed_manifest(bytes);
});
