//! Client-side rate limiting: a token bucket for the platform's general budget and
//! sliding windows for the documented per-endpoint limits. Waiting here is cheaper
//! than a 429 from the platform.
//!
//! The bucket starts with one call, not with the whole burst: a client that has just
//! started (an operator restart, a new leader) cannot know how much of the platform's
//! window its predecessor used, so it earns the burst back at the steady rate. A 429
//! with `Retry-After` holds every call of the client back until then, and the bucket
//! starts again from one call.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::action::Action;
use super::contract::Budget;

/// The limiter of one platform client.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    budget: Budget,
    tokens: f64,
    /// When `tokens` was last brought up to date (may lie ahead after a 429).
    refilled: Instant,
    windows: HashMap<Action, VecDeque<Instant>>,
}

impl RateLimiter {
    pub fn new(budget: Budget) -> Self {
        Self {
            state: Mutex::new(State {
                budget,
                tokens: 1.0_f64.min(f64::from(budget.burst)),
                refilled: Instant::now(),
                windows: HashMap::new(),
            }),
        }
    }

    /// Takes a permit for `action` now if one is free, else says how long to wait.
    pub fn try_acquire(&self, action: Action, now: Instant) -> Result<(), Duration> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let budget = state.budget;
        if now < state.refilled {
            // Held back by the platform's Retry-After.
            return Err(state.refilled - now);
        }
        let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
        state.tokens = (state.tokens + elapsed * budget.per_second).min(f64::from(budget.burst));
        state.refilled = now;

        let mut wait = Duration::ZERO;
        if state.tokens < 1.0 {
            let missing = 1.0 - state.tokens;
            wait = Duration::from_secs_f64(missing / budget.per_second.max(0.001));
        }
        if let Some(limit) = action.window_limit() {
            let calls = state.windows.entry(action).or_default();
            while calls
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= limit.window)
            {
                calls.pop_front();
            }
            if calls.len() >= limit.calls as usize
                && let Some(oldest) = calls.front()
            {
                wait = wait.max(
                    limit
                        .window
                        .saturating_sub(now.saturating_duration_since(*oldest)),
                );
            }
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        state.tokens -= 1.0;
        if action.window_limit().is_some() {
            state.windows.entry(action).or_default().push_back(now);
        }
        Ok(())
    }

    /// The platform answered 429 with `retry_after`: no call goes out before then, and
    /// the bucket starts again from one call.
    pub fn throttled(&self, retry_after: Duration, now: Instant) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let until = now + retry_after;
        if until > state.refilled {
            state.refilled = until;
            state.tokens = 1.0_f64.min(f64::from(state.budget.burst));
        }
    }

    /// Waits until `action` may be sent; returns how long it waited.
    pub async fn acquire(&self, action: Action) -> Duration {
        let started = Instant::now();
        while let Err(wait) = self.try_acquire(action, Instant::now()) {
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
        started.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_paces() {
        let limiter = RateLimiter::new(Budget {
            per_second: 10.0,
            burst: 3,
        });
        // Once earned (see the next test), the burst goes at once.
        let now = Instant::now() + Duration::from_secs(1);
        for _ in 0..3 {
            assert!(limiter.try_acquire(Action::GetTask, now).is_ok());
        }
        let wait = limiter.try_acquire(Action::GetTask, now).unwrap_err();
        assert!(
            wait > Duration::from_millis(50) && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        assert!(
            limiter
                .try_acquire(Action::GetTask, now + Duration::from_millis(100))
                .is_ok()
        );
    }

    #[test]
    fn a_new_limiter_starts_paced_not_with_the_whole_burst() {
        // A restarted operator does not know how much of the platform's window its
        // previous run used: it starts with one call and earns the burst back.
        let limiter = RateLimiter::new(Budget {
            per_second: 20.0,
            burst: 40,
        });
        let now = Instant::now();
        assert!(limiter.try_acquire(Action::GetTask, now).is_ok());
        let wait = limiter.try_acquire(Action::GetTask, now).unwrap_err();
        assert!(wait <= Duration::from_millis(50), "{wait:?}");
        // After two seconds at the steady rate the whole burst is there again.
        let later = now + Duration::from_secs(2);
        for _ in 0..40 {
            assert!(limiter.try_acquire(Action::GetTask, later).is_ok());
        }
        assert!(limiter.try_acquire(Action::GetTask, later).is_err());
    }

    #[test]
    fn a_retry_after_from_the_platform_holds_every_call_back() {
        let limiter = RateLimiter::new(Budget {
            per_second: 20.0,
            burst: 40,
        });
        let now = Instant::now() + Duration::from_secs(10);
        limiter.throttled(Duration::from_secs(3), now);
        let wait = limiter.try_acquire(Action::GetLead, now).unwrap_err();
        assert!(wait >= Duration::from_secs(3), "{wait:?}");
        assert!(
            limiter
                .try_acquire(Action::GetLead, now + Duration::from_secs(3))
                .is_ok()
        );
        // The bucket starts again from one call, not from the burst.
        assert!(
            limiter
                .try_acquire(Action::GetLead, now + Duration::from_secs(3))
                .is_err()
        );
    }

    #[test]
    fn release_window_is_ten_per_ten_seconds() {
        let limiter = RateLimiter::new(Budget {
            per_second: 1000.0,
            burst: 1000,
        });
        let now = Instant::now();
        for i in 0..10 {
            assert!(
                limiter
                    .try_acquire(Action::ReleaseNumbers, now + Duration::from_millis(i))
                    .is_ok()
            );
        }
        let wait = limiter
            .try_acquire(Action::ReleaseNumbers, now + Duration::from_secs(1))
            .unwrap_err();
        assert!(
            wait <= Duration::from_secs(9) && wait > Duration::from_secs(8),
            "{wait:?}"
        );
        // Other actions are not held back by the release window.
        assert!(
            limiter
                .try_acquire(Action::UploadNumbers, now + Duration::from_secs(1))
                .is_ok()
        );
        assert!(
            limiter
                .try_acquire(Action::ReleaseNumbers, now + Duration::from_secs(10))
                .is_ok()
        );
    }
}
