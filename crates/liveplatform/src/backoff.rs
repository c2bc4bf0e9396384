//! Exponential backoff with full jitter, shared by the Live Platform client (reads
//! and task polls) and the controllers (per-object requeue).

use std::time::Duration;

use rand::Rng;

/// Exponential backoff: `base * 2^attempt`, capped at `max`, with "full jitter"
/// (a uniformly random delay between half of that and all of it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration) -> Self {
        Self { base, max }
    }

    /// The upper bound of the delay before attempt `attempt + 1` (no jitter).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(30));
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The jittered delay before attempt `attempt + 1`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let spread = ceiling.saturating_sub(half).as_millis() as u64;
        let extra = if spread == 0 {
            0
        } else {
            rand::rng().random_range(0..=spread)
        };
        half + Duration::from_millis(extra)
    }

    /// The delay to use when the server asked for `retry_after`: never shorter than it.
    pub fn delay_honouring(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let own = self.delay(attempt);
        match retry_after {
            Some(wait) => wait.max(own.min(wait + self.base)),
            None => own,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(20), Duration::from_secs(5));
        for attempt in 0..10 {
            let d = b.delay(attempt);
            assert!(
                d <= b.ceiling(attempt) && d >= b.ceiling(attempt) / 2,
                "{attempt}: {d:?}"
            );
        }
    }

    #[test]
    fn never_shorter_than_retry_after() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        for attempt in 0..5 {
            let d = b.delay_honouring(attempt, Some(Duration::from_secs(2)));
            assert!(d >= Duration::from_secs(2));
        }
    }
}
