//! The Range parser: any header value against any size resolves without panicking, and
//! what it resolves to lies inside the media.
#![no_main]

use feishu_media_proto::range::{RangeDecision, resolve};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u64, &[u8])| {
    let (size, value) = input;
    let size = size % (1 << 50);
    match resolve(Some(value), size) {
        RangeDecision::Single(r) => assert!(r.start <= r.end && r.end < size),
        RangeDecision::Multi(rs) => {
            assert!(rs.len() > 1);
            for w in rs.windows(2) {
                assert!(w[0].end < w[1].start, "sorted, apart: {rs:?}");
            }
            assert!(rs.iter().all(|r| r.start <= r.end && r.end < size));
        }
        RangeDecision::Full | RangeDecision::Unsatisfiable => {}
    }
});
