//! The upload form reader (multipart, streamed) on any body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    feishu_media_server::fuzzing::upload_form(bytes);
});
