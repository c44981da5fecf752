//! Content-Disposition: any file name the server writes, a client reads back exactly
//! (from `filename*`), and reading any header value never panics.
#![no_main]

use feishu_media_proto::disposition::{attachment, file_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &[u8])| {
    let (name, raw) = input;
    let header = attachment(name);
    if !name.is_empty() {
        assert_eq!(
            file_name(&header).as_deref(),
            Some(name),
            "{:?}",
            String::from_utf8_lossy(&header)
        );
    }
    let _ = file_name(raw);
});
