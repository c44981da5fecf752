//! The connection front's request-head parser on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    feishu_media_server::fuzzing::request_head(bytes);
});
