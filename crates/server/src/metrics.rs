//! `GET /metrics` in the Prometheus text format.
//!
//! A small registry of our own rather than the `metrics` crate's global recorder: every
//! server (several run in one test process) keeps its own counts, and there are only a
//! handful of series.

use crate::sharded::Sharded;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Series {
    // Keyed by the static endpoint names, so counting allocates nothing.
    /// (endpoint, status) → requests.
    requests: BTreeMap<(&'static str, u16), u64>,
    /// endpoint → body bytes sent.
    bytes: BTreeMap<&'static str, u64>,
    /// endpoint → rejections over a rate limit.
    rate_limited: BTreeMap<&'static str, u64>,
    /// endpoint → fault rules fired.
    faults: BTreeMap<&'static str, u64>,
    /// endpoint → latency.
    latency: BTreeMap<&'static str, Histogram>,
}

impl Series {
    /// Adds `other`'s counts to these.
    fn add(&mut self, other: &Series) {
        for (k, n) in &other.requests {
            *self.requests.entry(*k).or_default() += n;
        }
        for (mine, theirs) in [
            (&mut self.bytes, &other.bytes),
            (&mut self.rate_limited, &other.rate_limited),
            (&mut self.faults, &other.faults),
        ] {
            for (k, n) in theirs {
                *mine.entry(*k).or_default() += n;
            }
        }
        for (k, h) in &other.latency {
            let mine = self.latency.entry(*k).or_default();
            if mine.counts.is_empty() {
                mine.counts = vec![0; BUCKETS.len()];
            }
            for (m, n) in mine.counts.iter_mut().zip(&h.counts) {
                *m += n;
            }
            mine.sum += h.sum;
            mine.count += h.count;
        }
    }
}

/// Counted per thread (see [`Sharded`]), summed when rendered.
#[derive(Default)]
pub struct Metrics {
    series: Sharded<Series>,
}

impl Metrics {
    pub fn request(&self, endpoint: &'static str, status: u16, bytes: u64, took: Duration) {
        let mut s = self.series.mine();
        *s.requests.entry((endpoint, status)).or_default() += 1;
        *s.bytes.entry(endpoint).or_default() += bytes;
        let h = s.latency.entry(endpoint).or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    pub fn rate_limited(&self, endpoint: &'static str) {
        *self.series.mine().rate_limited.entry(endpoint).or_default() += 1;
    }

    pub fn fault_fired(&self, endpoint: &'static str) {
        *self.series.mine().faults.entry(endpoint).or_default() += 1;
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut s = Series::default();
        for shard in self.series.each() {
            s.add(&shard);
        }
        let mut out = String::new();
        out.push_str(
            "# HELP feishu_media_requests_total Requests answered, by endpoint and HTTP status.\n",
        );
        out.push_str("# TYPE feishu_media_requests_total counter\n");
        for ((e, status), n) in &s.requests {
            let _ = writeln!(
                out,
                "feishu_media_requests_total{{endpoint=\"{e}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP feishu_media_response_bytes_total Response body bytes, by endpoint.\n",
        );
        out.push_str("# TYPE feishu_media_response_bytes_total counter\n");
        for (e, n) in &s.bytes {
            let _ = writeln!(
                out,
                "feishu_media_response_bytes_total{{endpoint=\"{e}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP feishu_media_rate_limited_total Requests refused over a rate limit.\n",
        );
        out.push_str("# TYPE feishu_media_rate_limited_total counter\n");
        for (e, n) in &s.rate_limited {
            let _ = writeln!(
                out,
                "feishu_media_rate_limited_total{{endpoint=\"{e}\"}} {n}"
            );
        }
        out.push_str("# HELP feishu_media_faults_fired_total Fault rules fired.\n");
        out.push_str("# TYPE feishu_media_faults_fired_total counter\n");
        for (e, n) in &s.faults {
            let _ = writeln!(
                out,
                "feishu_media_faults_fired_total{{endpoint=\"{e}\"}} {n}"
            );
        }
        out.push_str("# HELP feishu_media_request_duration_seconds Time to the response head.\n");
        out.push_str("# TYPE feishu_media_request_duration_seconds histogram\n");
        for (e, h) in &s.latency {
            for (bound, n) in BUCKETS.iter().zip(&h.counts) {
                let _ = writeln!(
                    out,
                    "feishu_media_request_duration_seconds_bucket{{endpoint=\"{e}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "feishu_media_request_duration_seconds_bucket{{endpoint=\"{e}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "feishu_media_request_duration_seconds_sum{{endpoint=\"{e}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "feishu_media_request_duration_seconds_count{{endpoint=\"{e}\"}} {}",
                h.count
            );
        }
        out
    }
}
