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

/// One endpoint's counts.
#[derive(Default)]
struct PerEndpoint {
    /// HTTP status → requests (a handful of statuses: a list beats a map).
    requests: Vec<(u16, u64)>,
    /// Body bytes sent.
    bytes: u64,
    /// Rejections over a rate limit.
    rate_limited: u64,
    /// Fault rules fired.
    faults: u64,
    latency: Histogram,
}

impl PerEndpoint {
    fn add(&mut self, other: &PerEndpoint) {
        for &(status, n) in &other.requests {
            *self.requests_of(status) += n;
        }
        self.bytes += other.bytes;
        self.rate_limited += other.rate_limited;
        self.faults += other.faults;
        let (mine, h) = (&mut self.latency, &other.latency);
        if mine.counts.is_empty() {
            mine.counts = vec![0; BUCKETS.len()];
        }
        for (m, n) in mine.counts.iter_mut().zip(&h.counts) {
            *m += n;
        }
        mine.sum += h.sum;
        mine.count += h.count;
    }

    fn requests_of(&mut self, status: u16) -> &mut u64 {
        let at = match self.requests.iter().position(|(s, _)| *s == status) {
            Some(at) => at,
            None => {
                self.requests.push((status, 0));
                self.requests.len() - 1
            }
        };
        &mut self.requests[at].1
    }
}

/// Keyed by the static endpoint names, so counting allocates nothing; one entry per
/// endpoint, so a request is counted with one lookup (three, one per kind of count, were
/// 2% of a cached download's instructions).
#[derive(Default)]
struct Series {
    endpoints: BTreeMap<&'static str, PerEndpoint>,
}

impl Series {
    /// Adds `other`'s counts to these.
    fn add(&mut self, other: &Series) {
        for (name, theirs) in &other.endpoints {
            self.endpoints.entry(name).or_default().add(theirs);
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
        let e = s.endpoints.entry(endpoint).or_default();
        *e.requests_of(status) += 1;
        e.bytes += bytes;
        let h = &mut e.latency;
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
        self.series
            .mine()
            .endpoints
            .entry(endpoint)
            .or_default()
            .rate_limited += 1;
    }

    pub fn fault_fired(&self, endpoint: &'static str) {
        self.series
            .mine()
            .endpoints
            .entry(endpoint)
            .or_default()
            .faults += 1;
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut s = Series::default();
        for shard in self.series.each() {
            s.add(&shard);
        }
        // A series is written for each endpoint that has counted it (requests, bytes and
        // latency with every answer; the other two only once they happened).
        let answered = || s.endpoints.iter().filter(|(_, c)| c.latency.count > 0);
        let mut out = String::new();
        out.push_str(
            "# HELP feishu_media_requests_total Requests answered, by endpoint and HTTP status.\n",
        );
        out.push_str("# TYPE feishu_media_requests_total counter\n");
        for (e, counts) in answered() {
            let mut by_status = counts.requests.clone();
            by_status.sort_unstable();
            for (status, n) in by_status {
                let _ = writeln!(
                    out,
                    "feishu_media_requests_total{{endpoint=\"{e}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP feishu_media_response_bytes_total Response body bytes, by endpoint.\n",
        );
        out.push_str("# TYPE feishu_media_response_bytes_total counter\n");
        for (e, counts) in answered() {
            let _ = writeln!(
                out,
                "feishu_media_response_bytes_total{{endpoint=\"{e}\"}} {}",
                counts.bytes
            );
        }
        out.push_str(
            "# HELP feishu_media_rate_limited_total Requests refused over a rate limit.\n",
        );
        out.push_str("# TYPE feishu_media_rate_limited_total counter\n");
        for (e, counts) in s.endpoints.iter().filter(|(_, c)| c.rate_limited > 0) {
            let _ = writeln!(
                out,
                "feishu_media_rate_limited_total{{endpoint=\"{e}\"}} {}",
                counts.rate_limited
            );
        }
        out.push_str("# HELP feishu_media_faults_fired_total Fault rules fired.\n");
        out.push_str("# TYPE feishu_media_faults_fired_total counter\n");
        for (e, counts) in s.endpoints.iter().filter(|(_, c)| c.faults > 0) {
            let _ = writeln!(
                out,
                "feishu_media_faults_fired_total{{endpoint=\"{e}\"}} {}",
                counts.faults
            );
        }
        out.push_str("# HELP feishu_media_request_duration_seconds Time to the response head.\n");
        out.push_str("# TYPE feishu_media_request_duration_seconds histogram\n");
        for (e, counts) in answered() {
            let h = &counts.latency;
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

#[cfg(test)]
mod tests {
    use super::Metrics;
    use std::time::Duration;

    #[test]
    fn each_series_lists_the_endpoints_that_counted_it_in_order() {
        let m = Metrics::default();
        let ms = Duration::from_millis;
        m.request("upload_all", 200, 0, ms(30));
        m.request("download", 404, 0, ms(1));
        m.request("download", 200, 10, ms(2));
        m.request("download", 200, 5, ms(2));
        m.rate_limited("download");
        m.fault_fired("upload_all");
        let text = m.render();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        let series = |prefix: &str| -> Vec<&str> {
            lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(prefix))
                .collect()
        };
        assert_eq!(
            series("feishu_media_requests_total"),
            [
                r#"feishu_media_requests_total{endpoint="download",status="200"} 2"#,
                r#"feishu_media_requests_total{endpoint="download",status="404"} 1"#,
                r#"feishu_media_requests_total{endpoint="upload_all",status="200"} 1"#,
            ]
        );
        assert_eq!(
            series("feishu_media_response_bytes_total"),
            [
                r#"feishu_media_response_bytes_total{endpoint="download"} 15"#,
                r#"feishu_media_response_bytes_total{endpoint="upload_all"} 0"#,
            ]
        );
        assert_eq!(
            series("feishu_media_rate_limited_total"),
            [r#"feishu_media_rate_limited_total{endpoint="download"} 1"#]
        );
        assert_eq!(
            series("feishu_media_faults_fired_total"),
            [r#"feishu_media_faults_fired_total{endpoint="upload_all"} 1"#]
        );
        assert!(lines.contains(
            &r#"feishu_media_request_duration_seconds_bucket{endpoint="download",le="0.005"} 3"#
        ));
        assert!(lines.contains(
            &r#"feishu_media_request_duration_seconds_bucket{endpoint="upload_all",le="0.025"} 0"#
        ));
        assert!(
            lines.contains(
                &r#"feishu_media_request_duration_seconds_count{endpoint="upload_all"} 1"#
            )
        );
        assert_eq!(
            series("feishu_media_request_duration_seconds_count").len(),
            2
        );
    }
}
