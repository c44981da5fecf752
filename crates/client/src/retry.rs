//! Which failures are retried and how long to wait between tries.
//!
//! Retried: transport errors (refused, reset, cut mid-body), 5xx, code 1061045 ("can
//! retry"), and 429 (after the server's `x-ogw-ratelimit-reset` / `Retry-After`). Never
//! retried: other 4xx (400, 403, 404…), which no retry can mend.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub max_attempts: u32,
    /// The first backoff; each next one doubles, up to `max_delay`, with full jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest wait a 429 may ask for before the SDK gives up instead.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_rate_limit_wait: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before try `attempt` (1-based count of failures so far): exponential,
    /// with full jitter so many clients do not retry in step.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .base_delay
            .saturating_mul(1 << attempt.min(16))
            .min(self.max_delay);
        let ms = cap.as_millis() as u64;
        Duration::from_millis(if ms == 0 {
            0
        } else {
            rand::random_range(ms / 2..=ms)
        })
    }
}

/// Whether an answer with this status and code may succeed if sent again.
impl RetryPolicy {
    /// Counts a failure, then waits its backoff; `Err(give_up())` once the attempts are
    /// used up.
    pub(crate) async fn after_failure(
        &self,
        failures: &mut u32,
        give_up: impl FnOnce() -> crate::error::Error,
    ) -> crate::error::Result<()> {
        *failures += 1;
        if *failures >= self.max_attempts {
            return Err(give_up());
        }
        tokio::time::sleep(self.backoff(*failures)).await;
        Ok(())
    }
}

pub fn retryable(status: u16, code: i64) -> bool {
    status >= 500 || code == 1061045
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(retryable(500, 1061001));
        assert!(retryable(503, 0));
        assert!(retryable(200, 1061045));
        assert!(retryable(400, 1061045));
        for (s, c) in [
            (400, 1061002),
            (403, 1061004),
            (404, 1061003),
            (400, 99991663),
        ] {
            assert!(!retryable(s, c));
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
            ..Default::default()
        };
        for _ in 0..50 {
            let d1 = p.backoff(1);
            assert!(d1 >= Duration::from_millis(100) && d1 <= Duration::from_millis(200));
            assert!(p.backoff(10) <= Duration::from_millis(800));
        }
    }
}
