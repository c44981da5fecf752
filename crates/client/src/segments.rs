//! How a download splits itself when no `connections` is given: from what its first
//! answer showed (the wait for the first body byte, and the rate of one connection),
//! within the quota's spacing between requests.
//!
//! The first request asks for the whole media (`bytes=0-`) and is measured as it
//! arrives. Then the rest is cut so that every connection ends at about the same
//! moment: the first keeps streaming until its share is done, and each new one, which
//! starts a quota step after the one before and first waits for its first byte, gets
//! less. On a link that gives each connection 8 MB/s after 300 ms, at 5 requests/s, a
//! 64 MiB media goes over 8 connections in ~2.2 s where one takes 8.7 s (bench G).
//! On a fast link the first connection alone is quickest and nothing is split.

use std::time::Duration;

/// What the first answer showed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probe {
    /// From sending the request to the first body byte.
    pub first_byte: Duration,
    /// Bytes per second of the body after its first piece.
    pub rate: f64,
}

/// At most this many connections besides the first.
pub(crate) const MAX_EXTRA_CONNECTIONS: usize = 15;
/// No new connection is started for less than this.
pub(crate) const MIN_SEGMENT: u64 = 1024 * 1024;
/// Segment bounds are multiples of this (page-aligned writes).
const ALIGN: u64 = 64 * 1024;
/// A connection more is worth it only if it ends the download this much sooner.
const GAIN: f64 = 0.97;

/// Where the first connection stops and the segments that follow it, as bounds: the
/// first connection covers `0..bounds[0]`, and segment `k` `bounds[k]..bounds[k + 1]`,
/// the last ending at `total`. `at` is how far the first connection has come, `spacing`
/// the quota's time between two requests (zero without a quota).
pub(crate) fn plan(total: u64, at: u64, probe: Probe, spacing: Duration) -> Vec<u64> {
    let left = total.saturating_sub(at);
    let rate = probe.rate;
    if left < 2 * MIN_SEGMENT || !rate.is_finite() || rate <= 0.0 {
        return vec![total];
    }
    let one = left as f64 / rate;
    let lat = probe.first_byte.as_secs_f64();
    let step = spacing.as_secs_f64();
    // With c new connections, the k-th (from 0) starting k steps from now and waiting
    // `lat` for its first byte, all ending together at t: the first connection carries
    // rate·t, the k-th rate·(t − k·step − lat), and together they carry `left`.
    let ends_at = |c: usize| {
        let c_f = c as f64;
        (one + step * c_f * (c_f - 1.0) / 2.0 + c_f * lat) / (c_f + 1.0)
    };
    let share = |t: f64, k: usize| rate * (t - k as f64 * step - lat);
    let mut best = (one, 0);
    for c in 1..=MAX_EXTRA_CONNECTIONS {
        let t = ends_at(c);
        if share(t, c - 1) < MIN_SEGMENT as f64 {
            break; // the last one would not be worth its request, nor would more
        }
        if t < best.0 * GAIN {
            best = (t, c);
        }
    }
    let (t, c) = best;
    if c == 0 {
        return vec![total];
    }
    let align = |x: f64| ((x.max(0.0) as u64) / ALIGN * ALIGN).max(ALIGN);
    let mut bounds = Vec::with_capacity(c + 1);
    let mut end = (at + align(rate * t)).min(total);
    bounds.push(end);
    for k in 0..c - 1 {
        end = (end + align(share(t, k))).min(total);
        bounds.push(end);
    }
    bounds.push(total);
    bounds.dedup();
    bounds
}

/// The `connections` equal segments of `from..total` (a plan without a measurement).
pub(crate) fn even(from: u64, total: u64, connections: usize) -> Vec<u64> {
    let n = connections.max(1) as u64;
    let size = (total.saturating_sub(from)).div_ceil(n).div_ceil(ALIGN) * ALIGN;
    let mut bounds: Vec<u64> = (1..n).map(|k| (from + k * size).min(total)).collect();
    bounds.insert(0, from);
    bounds.push(total);
    bounds.dedup();
    bounds
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn probe(ms: u64, rate: f64) -> Probe {
        Probe {
            first_byte: Duration::from_millis(ms),
            rate,
        }
    }

    /// The moment each connection ends, by the model `plan` uses.
    fn ends(bounds: &[u64], at: u64, p: Probe, spacing: Duration) -> Vec<f64> {
        let mut out = vec![(bounds[0] - at) as f64 / p.rate];
        for (k, w) in bounds.windows(2).enumerate() {
            let start = k as f64 * spacing.as_secs_f64() + p.first_byte.as_secs_f64();
            out.push(start + (w[1] - w[0]) as f64 / p.rate);
        }
        out
    }

    #[test]
    fn a_slow_link_is_split_so_that_every_connection_ends_together() {
        let (total, p, spacing) = (64 * MIB, probe(300, 8e6), Duration::from_millis(200));
        let b = plan(total, 512 * 1024, p, spacing);
        assert!(b.len() >= 6, "{b:?}");
        assert_eq!(*b.last().unwrap(), total);
        assert!(b.windows(2).all(|w| w[0] < w[1]), "{b:?}");
        assert!(
            b.windows(2)
                .all(|w| w[1] - w[0] >= MIN_SEGMENT || w[1] == total),
            "{b:?}"
        );
        let e = ends(&b, 512 * 1024, p, spacing);
        let (lo, hi) = e
            .iter()
            .fold((f64::MAX, 0f64), |(l, h), x| (l.min(*x), h.max(*x)));
        assert!(hi - lo < 0.25, "ends {e:?}");
        // Far sooner than one connection (8.3 s), and than four equal ones.
        assert!(hi < 2.6, "ends {e:?}");
    }

    #[test]
    fn a_small_media_or_one_that_came_whole_is_not_split() {
        let spacing = Duration::from_millis(200);
        assert_eq!(
            plan(3 * MIB / 2, 0, probe(300, 1e5), spacing),
            vec![3 * MIB / 2]
        );
        assert_eq!(
            plan(64 * MIB, 64 * MIB, probe(300, 8e6), spacing),
            vec![64 * MIB]
        );
        assert_eq!(
            plan(8 * MIB, 0, probe(0, f64::INFINITY), spacing),
            vec![8 * MIB]
        );
    }

    #[test]
    fn a_fast_link_is_split_little_where_the_quota_step_is_long_against_the_media() {
        // 1 GiB at 2 GB/s: 0.5 s on one connection, a quota step is 0.2 s.
        let b = plan(
            1024 * MIB,
            4 * MIB,
            probe(1, 2e9),
            Duration::from_millis(200),
        );
        assert!(b.len() <= 3, "{b:?}");
    }

    #[test]
    fn without_a_quota_more_connections_start_at_once() {
        let p = probe(300, 8e6);
        let quota = plan(256 * MIB, 0, p, Duration::from_millis(200));
        let free = plan(256 * MIB, 0, p, Duration::ZERO);
        assert!(free.len() > quota.len(), "{free:?} vs {quota:?}");
        assert!(free.len() <= MAX_EXTRA_CONNECTIONS + 1);
    }

    #[test]
    fn even_segments_cover_the_range() {
        assert_eq!(even(0, 10 * MIB, 4).len(), 5);
        let b = even(MIB, 10 * MIB, 4);
        assert_eq!((b[0], *b.last().unwrap()), (MIB, 10 * MIB));
        assert_eq!(even(0, 1000, 4), vec![0, 1000]);
    }
}
