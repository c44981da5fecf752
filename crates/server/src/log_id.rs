//! Log ids: every request gets one, sent back as `X-Tt-Logid`, written into error
//! envelopes and named in the request's log line.

tokio::task_local! {
    /// The current request's log id; handlers and error rendering run inside its scope.
    static LOG_ID: String;
}

/// Runs `fut` with `id` as the current log id.
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    LOG_ID.scope(id, fut).await
}

/// The log id of the request being served (a fresh one outside any request, so an
/// error rendered in a unit test still carries an id).
pub fn current() -> String {
    LOG_ID.try_with(Clone::clone).unwrap_or_else(|_| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        new(now)
    })
}

/// Feishu's log ids start with the UTC time (`yyyymmddHHMMSS`) and go on with random
/// hex; ours do the same, so people can read off when a request was made.
pub fn new(unix_ms: i64) -> String {
    let secs = unix_ms.max(0) / 1000;
    let (y, mo, d) = civil_from_days(secs / 86_400);
    let s = secs % 86_400;
    format!(
        "{y:04}{mo:02}{d:02}{:02}{:02}{:02}{}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        hex::encode_upper(rand::random::<[u8; 8]>())
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn log_ids_are_distinct_and_start_with_the_date() {
        let (a, b) = (new(1_704_067_200_000), new(1_704_067_200_000));
        assert_ne!(a, b);
        assert_eq!(a.len(), 14 + 16);
        assert!(a.starts_with("20240101000000"), "{a}");
    }
}
