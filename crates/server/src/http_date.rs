//! HTTP dates (RFC 9110 §5.6.7, the IMF-fixdate form) written in place.
//!
//! Every media answer carries `Last-Modified` (and every answer `Date`); `httpdate`'s
//! writer goes through `fmt` and a `String`, which was a tenth of the server's own work
//! on a small ranged GET (callgrind, bench B's request). Reading dates stays with
//! `httpdate`.

/// `Sun, 06 Nov 1994 08:49:37 GMT`: always 29 ASCII bytes.
pub const LEN: usize = 29;

/// The IMF-fixdate of `secs` seconds after the Unix epoch (years past 9999 are clamped
/// to its last second, as `httpdate` refuses them).
pub fn imf_fixdate(secs: u64) -> [u8; LEN] {
    const MAX: u64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let secs = secs.min(MAX);
    let days = secs / 86_400;
    let in_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let year = year as u32;
    // 1970-01-01 was a Thursday.
    let weekday = &b"ThuFriSatSunMonTueWed"[(days % 7) as usize * 3..][..3];
    let month_name = &b"JanFebMarAprMayJunJulAugSepOctNovDec"[(month as usize - 1) * 3..][..3];
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(weekday);
    two_digits(&mut out[5..7], day);
    out[8..11].copy_from_slice(month_name);
    two_digits(&mut out[12..14], year / 100);
    two_digits(&mut out[14..16], year % 100);
    two_digits(&mut out[17..19], (in_day / 3600) as u32);
    two_digits(&mut out[20..22], (in_day / 60 % 60) as u32);
    two_digits(&mut out[23..25], (in_day % 60) as u32);
    out
}

fn two_digits(out: &mut [u8], n: u32) {
    out[0] = b'0' + (n / 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Year, month (1–12) and day (1–31) of a count of days since 1970-01-01, proleptic
/// Gregorian (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn httpdate_of(secs: u64) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn writes_what_httpdate_writes() {
        let mut secs = 0u64;
        // Every day of 1970–2100 at a varying time, and the edges.
        while secs < 4_102_444_800 {
            assert_eq!(
                std::str::from_utf8(&imf_fixdate(secs)).unwrap(),
                httpdate_of(secs),
                "{secs}"
            );
            secs += 86_400 + 3_607;
        }
        for secs in [0, 951_782_400, 4_107_542_400, 253_402_300_799] {
            assert_eq!(
                std::str::from_utf8(&imf_fixdate(secs)).unwrap(),
                httpdate_of(secs)
            );
        }
        assert_eq!(imf_fixdate(u64::MAX), imf_fixdate(253_402_300_799));
    }
}
