//! Log ids: every request gets one, sent back as `X-Tt-Logid`, written into error
//! envelopes and named in the request's log line.

tokio::task_local! {
    /// The current request's log id; handlers and error rendering run inside its scope.
    static LOG_ID: LogId;
}

/// Feishu's log ids start with the UTC time (`yyyymmddHHMMSS`) and go on with random
/// hex; ours do the same, so people can read off when a request was made.
///
/// Held in place (it is copied into the scope, the answer's header and the request
/// log): as a `String` it was three allocations per request.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogId([u8; LEN]);

/// `yyyymmddHHMMSS` and 16 hex digits.
const LEN: usize = 30;

impl LogId {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII digits")
    }

    /// The id's ASCII bytes, as a head carries them (no UTF-8 check).
    pub fn as_bytes(&self) -> &[u8; LEN] {
        &self.0
    }
}

impl std::fmt::Display for LogId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for LogId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl serde::Serialize for LogId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Runs `fut` with `id` as the current log id.
///
/// Not an `async fn`: that would hold `fut` twice (as its argument and inside the
/// scope), and a request's future is allocated and copied whole for every request.
pub fn scope<F: std::future::Future>(
    id: LogId,
    fut: F,
) -> impl std::future::Future<Output = F::Output> {
    LOG_ID.scope(id, fut)
}

/// The log id of the request being served (a fresh one outside any request, so an
/// error rendered in a unit test still carries an id).
pub fn current() -> LogId {
    LOG_ID.try_with(|id| *id).unwrap_or_else(|_| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        new(now)
    })
}

/// A new log id for a request made at `unix_ms`.
pub fn new(unix_ms: i64) -> LogId {
    let mut id = [0u8; LEN];
    id[..14].copy_from_slice(&date_digits(unix_ms.max(0) / 1000));
    let bits = next_random();
    for (i, digit) in id[14..].iter_mut().enumerate() {
        *digit = b"0123456789ABCDEF"[(bits >> (60 - 4 * i)) as usize & 0xf];
    }
    LogId(id)
}

/// 64 random bits from a per-thread wyrand stream seeded from the OS's randomness: a log
/// id needs to be distinct, not secret, and `rand`'s cryptographic generator plus hex
/// encoding were ~300 instructions of every request (callgrind, bench B).
fn next_random() -> u64 {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(rand::random());
    }
    STATE.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        (t >> 64) as u64 ^ t as u64
    })
}

/// `yyyymmddHHMMSS` of `secs`, worked out once a second per thread.
fn date_digits(secs: i64) -> [u8; 14] {
    thread_local! {
        static LAST: std::cell::Cell<(i64, [u8; 14])> = const { std::cell::Cell::new((-1, [0; 14])) };
    }
    LAST.with(|last| {
        let (at, digits) = last.get();
        if at == secs {
            return digits;
        }
        let (y, mo, d) = crate::http_date::civil_from_days(secs / 86_400);
        let s = secs % 86_400;
        let mut digits = [0u8; 14];
        for (at, n, width) in [
            (0, y, 4),
            (4, i64::from(mo), 2),
            (6, i64::from(d), 2),
            (8, s / 3600, 2),
            (10, s / 60 % 60, 2),
            (12, s % 60, 2),
        ] {
            put_digits(&mut digits[at..at + width], n);
        }
        last.set((secs, digits));
        digits
    })
}

/// `n` in exactly `out.len()` decimal digits (the lowest ones; 0-padded).
fn put_digits(out: &mut [u8], mut n: i64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + n.rem_euclid(10) as u8;
        n /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ids_are_distinct_and_start_with_the_date() {
        let (a, b) = (new(1_704_067_200_000), new(1_704_067_200_000));
        assert_ne!(a, b);
        // Distinct across many, and across threads (each has its own stream).
        let many: std::collections::HashSet<LogId> = (0..10_000)
            .map(|_| new(0))
            .chain(
                std::thread::spawn(|| (0..10_000).map(|_| new(0)).collect::<Vec<_>>())
                    .join()
                    .unwrap(),
            )
            .collect();
        assert_eq!(many.len(), 20_000);
        let a = a.as_str();
        assert_eq!(a.len(), 14 + 16);
        assert!(a.starts_with("20240101000000"), "{a}");
        let hex = &a[14..];
        assert!(
            hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F')),
            "{a}"
        );
        // 01:02:03 on 2024-12-31, then the second after (a new date in the same thread).
        let c = new(1_735_603_200_000 + 3_723_000);
        assert!(c.as_str().starts_with("20241231010203"), "{c}");
        let d = new(1_735_603_200_000 + 3_724_000);
        assert!(d.as_str().starts_with("20241231010204"), "{d}");
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{d}\""));
    }
}
