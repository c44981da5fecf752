//! The bitable `extra` parameter: anything parses or is refused, never a panic.
#![no_main]

use feishu_media_proto::extra::Extra;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    if let Ok(extra) = Extra::parse(value) {
        let _ = extra.names("tbl", "fld", "rec", "boxcnA");
        let _ = extra.lists("boxcnA");
    }
});
