//! The per-second window's arithmetic (GCRA, the generic cell rate algorithm): a burst
//! of `per_second` requests, then one every 1/`per_second` s. The in-process counter
//! runs it here; `redis.lua` runs the same steps inside Redis, so both count alike.

/// Whether a request at `now_ms` passes, given the key's theoretical arrival time `tat`
/// (none yet: a fresh key). `Ok(new tat)` to store, or `Err(ms until one would pass)`.
pub fn gcra(tat: Option<f64>, now_ms: f64, per_second: u32) -> Result<f64, u64> {
    let per_second = f64::from(per_second.max(1));
    let emission = 1000.0 / per_second;
    let tolerance = emission * (per_second - 1.0);
    let tat = tat.unwrap_or(now_ms).max(now_ms);
    if tat - now_ms > tolerance {
        return Err((tat - tolerance - now_ms).ceil().max(1.0) as u64);
    }
    Ok(tat + emission)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval() {
        let mut tat = None;
        for _ in 0..5 {
            tat = Some(gcra(tat, 0.0, 5).expect("the burst"));
        }
        assert_eq!(gcra(tat, 0.0, 5), Err(200));
        assert_eq!(gcra(tat, 150.0, 5), Err(50));
        let at200 = gcra(tat, 200.0, 5).expect("one more after 200 ms");
        assert_eq!(gcra(Some(at200), 200.0, 5), Err(200));
        // A long pause refills the whole burst, no more.
        let mut tat = Some(at200);
        for _ in 0..5 {
            tat = Some(gcra(tat, 10_000.0, 5).expect("a fresh burst"));
        }
        assert!(gcra(tat, 10_000.0, 5).is_err());
    }

    #[test]
    fn one_per_second_has_no_burst() {
        let tat = gcra(None, 0.0, 1).unwrap();
        assert_eq!(gcra(Some(tat), 1.0, 1), Err(999));
        assert!(gcra(Some(tat), 1000.0, 1).is_ok());
    }
}
