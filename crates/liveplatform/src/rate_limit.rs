//! Client-side rate limiting: a token bucket for the platform's general budget and
//! sliding windows for the documented per-endpoint limits. Waiting here is cheaper
//! than a 429 from the platform.
//!
//! The bucket starts with one call, not with the whole burst: a client that has just
//! started (an operator restart, a new leader) cannot know how much of the platform's
//! window its predecessor used, so it earns the burst back at the steady rate. A 429
//! with `Retry-After` holds every call of the client back until then, and the bucket
//! starts again from one call.
//!
//! Calls wait for the bucket in two lanes, each first come, first served: a person's
//! change to an object that was Ready ([`Lane::Change`]) takes the next free call
//! ahead of onboarding, task polls and drift checks ([`Lane::Routine`]), so an edit
//! made while a thousand customers onboard does not queue behind their calls. Only
//! the first caller of each lane looks at the bucket; the others wait their turn
//! asleep. An action's own window (releases, channel assignments) is waited out
//! before the turn is taken, so it holds no other call up.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::action::Action;
use super::contract::Budget;

/// Which queue a call waits in for the platform's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// A person's change to an object that was Ready (or its deletion): served first.
    Change,
    /// Everything else: onboarding, task polls, drift checks, probes.
    Routine,
}

tokio::task_local! {
    static LANE: Lane;
}

impl Lane {
    /// The lane of the calls made by the current task: the one [`Lane::scope`] set,
    /// else routine.
    pub fn current() -> Lane {
        LANE.try_with(|lane| *lane).unwrap_or(Lane::Routine)
    }

    /// Runs `work` with every platform call it makes in this lane.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        LANE.scope(self, work).await
    }
}

/// The limiter of one platform client.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<State>,
    /// Held by the one caller of each lane that is waiting for the bucket.
    change_turn: tokio::sync::Mutex<()>,
    routine_turn: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct State {
    budget: Budget,
    tokens: f64,
    /// When `tokens` was last brought up to date (may lie ahead after a 429).
    refilled: Instant,
    windows: HashMap<Action, VecDeque<Instant>>,
    /// Calls of [`Lane::Change`] waiting for the bucket: routine calls let them go
    /// first.
    changes_waiting: usize,
}

/// Why a call may not go yet, and for how long at least.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Refusal {
    /// The bucket is empty, held back by a Retry-After, or promised to a change.
    Bucket(Duration),
    /// The action's own window is full.
    Window(Duration),
}

impl Refusal {
    fn wait(self) -> Duration {
        match self {
            Refusal::Bucket(wait) | Refusal::Window(wait) => wait,
        }
    }
}

impl RateLimiter {
    pub fn new(budget: Budget) -> Self {
        Self {
            state: Mutex::new(State {
                budget,
                tokens: 1.0_f64.min(f64::from(budget.burst)),
                refilled: Instant::now(),
                windows: HashMap::new(),
                changes_waiting: 0,
            }),
            change_turn: tokio::sync::Mutex::new(()),
            routine_turn: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a permit for a routine `action` now if one is free, else says how long
    /// to wait.
    pub fn try_acquire(&self, action: Action, now: Instant) -> Result<(), Duration> {
        self.take(Lane::Routine, action, now).map_err(Refusal::wait)
    }

    fn take(&self, lane: Lane, action: Action, now: Instant) -> Result<(), Refusal> {
        let mut state = self.state();
        let budget = state.budget;
        if now < state.refilled {
            // Held back by the platform's Retry-After.
            return Err(Refusal::Bucket(state.refilled - now));
        }
        let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
        state.tokens = (state.tokens + elapsed * budget.per_second).min(f64::from(budget.burst));
        state.refilled = now;
        let interval = 1.0 / budget.per_second.max(0.001);

        let mut wait = Duration::ZERO;
        if state.tokens < 1.0 {
            wait = Duration::from_secs_f64((1.0 - state.tokens) * interval);
        }
        if lane == Lane::Routine && state.changes_waiting > 0 {
            // The next call is a change's; look again once it had its chance.
            wait = wait.max(Duration::from_secs_f64(interval));
        }
        if let Some(window) = window_wait(&mut state, action, now) {
            return Err(Refusal::Window(window.max(wait)));
        }
        if wait > Duration::ZERO {
            return Err(Refusal::Bucket(wait));
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
        let mut state = self.state();
        let until = now + retry_after;
        if until > state.refilled {
            state.refilled = until;
            state.tokens = 1.0_f64.min(f64::from(state.budget.burst));
        }
    }

    /// Waits until `action` may be sent, in the lane of the current task (see
    /// [`Lane::scope`]); returns how long it waited.
    pub async fn acquire(&self, action: Action) -> Duration {
        self.acquire_in(Lane::current(), action).await
    }

    /// Waits until `action` may be sent in `lane`; returns how long it waited.
    pub async fn acquire_in(&self, lane: Lane, action: Action) -> Duration {
        let started = Instant::now();
        loop {
            // The action's own window first, outside the queue.
            loop {
                let wait = window_wait(&mut self.state(), action, Instant::now());
                match wait {
                    Some(wait) => tokio::time::sleep(wait.max(Duration::from_millis(1))).await,
                    None => break,
                }
            }
            let _waiting = (lane == Lane::Change).then(|| ChangeWaiting::new(self));
            let _turn = match lane {
                Lane::Change => self.change_turn.lock().await,
                Lane::Routine => self.routine_turn.lock().await,
            };
            loop {
                match self.take(lane, action, Instant::now()) {
                    Ok(()) => return started.elapsed(),
                    Err(Refusal::Bucket(wait)) => {
                        tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                    }
                    // Another call of the same action took the window's last place
                    // meanwhile: give the turn up and wait for the window outside.
                    Err(Refusal::Window(_)) => break,
                }
            }
        }
    }
}

/// How long until `action`'s window has room, if it is full now.
fn window_wait(state: &mut State, action: Action, now: Instant) -> Option<Duration> {
    let limit = action.window_limit()?;
    let calls = state.windows.entry(action).or_default();
    while calls
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= limit.window)
    {
        calls.pop_front();
    }
    if calls.len() < limit.calls as usize {
        return None;
    }
    let oldest = calls.front()?;
    Some(
        limit
            .window
            .saturating_sub(now.saturating_duration_since(*oldest))
            .max(Duration::from_millis(1)),
    )
}

/// Counts a change among those waiting for as long as it waits, also when its
/// caller gives up (a reconcile dropped mid-wait must not hold routine calls back).
struct ChangeWaiting<'a>(&'a RateLimiter);

impl<'a> ChangeWaiting<'a> {
    fn new(limiter: &'a RateLimiter) -> Self {
        limiter.state().changes_waiting += 1;
        ChangeWaiting(limiter)
    }
}

impl Drop for ChangeWaiting<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.changes_waiting = state.changes_waiting.saturating_sub(1);
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
    fn routine_calls_let_a_waiting_change_go_first() {
        let limiter = RateLimiter::new(Budget {
            per_second: 20.0,
            burst: 40,
        });
        let now = Instant::now() + Duration::from_secs(5);
        let waiting = ChangeWaiting::new(&limiter);
        assert!(limiter.take(Lane::Routine, Action::GetLead, now).is_err());
        assert!(limiter.take(Lane::Change, Action::GetLead, now).is_ok());
        drop(waiting);
        assert!(limiter.take(Lane::Routine, Action::GetLead, now).is_ok());
    }

    #[tokio::test]
    async fn a_change_that_gives_up_holds_no_routine_call_back() {
        let limiter = RateLimiter::new(Budget {
            per_second: 20.0,
            burst: 40,
        });
        limiter.throttled(Duration::from_secs(60), Instant::now());
        let gave_up = tokio::time::timeout(
            Duration::from_millis(20),
            limiter.acquire_in(Lane::Change, Action::GetLead),
        )
        .await;
        assert!(
            gave_up.is_err(),
            "the change was held back by the Retry-After"
        );
        assert_eq!(limiter.state().changes_waiting, 0);
    }

    #[tokio::test]
    async fn a_change_overtakes_the_routine_calls_already_queued() {
        use std::sync::Arc;
        let limiter = Arc::new(RateLimiter::new(Budget {
            per_second: 100.0,
            burst: 1,
        }));
        let served = Arc::new(Mutex::new(Vec::new()));
        let mut calls = Vec::new();
        for i in 0..12 {
            let (limiter, served) = (limiter.clone(), served.clone());
            calls.push(tokio::spawn(async move {
                limiter.acquire_in(Lane::Routine, Action::GetLead).await;
                served.lock().unwrap().push(format!("routine {i}"));
            }));
        }
        // Let the routine calls queue up and a few of them go.
        tokio::time::sleep(Duration::from_millis(25)).await;
        let served_before = served.lock().unwrap().len();
        let change = {
            let (limiter, served) = (limiter.clone(), served.clone());
            tokio::spawn(async move {
                Lane::Change.scope(limiter.acquire(Action::GetLead)).await;
                served.lock().unwrap().push("change".to_owned());
            })
        };
        change.await.unwrap();
        for call in calls {
            call.await.unwrap();
        }
        let served = served.lock().unwrap();
        let place = served.iter().position(|s| s == "change").unwrap();
        assert!(
            served_before < 11 && place <= served_before + 1,
            "change served at {place} with {served_before} served before it queued: {served:?}"
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
