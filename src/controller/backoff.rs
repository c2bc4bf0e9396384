//! Per-object retry delays: exponential with jitter, reset on success, never shorter
//! than a platform's Retry-After.

use std::collections::HashMap;
use std::time::Duration;

use liveplatform::backoff::Backoff;

use crate::locked::Locked;

#[derive(Debug)]
pub struct ObjectBackoff {
    backoff: Backoff,
    attempts: Locked<HashMap<String, u32>>,
}

impl ObjectBackoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            backoff: Backoff::new(base, max),
            attempts: Locked::new(HashMap::new()),
        }
    }

    /// The delay before the next try of `key` after one more failure.
    pub fn failed(&self, key: &str, retry_after: Option<Duration>) -> Duration {
        let mut attempts = self.attempts.lock();
        let n = attempts.entry(key.to_owned()).or_insert(0);
        let delay = self.backoff.delay_honouring(*n, retry_after);
        *n = n.saturating_add(1);
        delay
    }

    pub fn succeeded(&self, key: &str) {
        self.attempts.lock().remove(key);
    }

    /// How many objects failed last time.
    pub fn len(&self) -> usize {
        self.attempts.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn attempts(&self, key: &str) -> u32 {
        self.attempts.lock().get(key).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_per_object_and_resets() {
        let b = ObjectBackoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let first = b.failed("a", None);
        let _ = b.failed("a", None);
        let third = b.failed("a", None);
        assert!(first <= Duration::from_millis(100) && third >= Duration::from_millis(200));
        assert!(
            b.failed("b", None) <= Duration::from_millis(100),
            "other objects start fresh"
        );
        b.succeeded("a");
        assert_eq!(b.attempts("a"), 0);
        assert!(b.failed("a", Some(Duration::from_secs(3))) >= Duration::from_secs(3));
    }
}
