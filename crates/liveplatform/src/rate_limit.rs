//! Client-side rate limiting: a token bucket for the platform's general budget and
//! sliding windows for the documented per-endpoint limits. Waiting here is cheaper
//! than a 429 from the platform.
//!
//! The bucket starts full, with the whole burst the budget allows: that is what the
//! platform's own bucket holds for a client that has been quiet, and a client that
//! starts paced loses the burst's worth of time (two seconds at the reference's
//! budget) on every start. A client that has just started (an operator restart, a new
//! leader) cannot know how much of the platform's window its predecessor used; if it
//! used it, the platform says so with a 429 and its `Retry-After`, which holds every
//! call of the client back until then, calls that already have their permit included
//! ([`RateLimiter::held_back`]), and the bucket starts again from one call. What a
//! start can cost is then the calls in flight when the first 429 comes back.
//!
//! Calls wait for the bucket in one line ([`FairQueue`]): a person's change to an
//! object that was Ready ([`Lane::Change`]) takes the next free call ahead of
//! onboarding, task polls and drift checks ([`Lane::Routine`]), and within a lane the
//! namespaces take turns, so an edit or a new tenant in one namespace does not queue
//! behind a thousand customers onboarding in another. Only the first in line looks at
//! the bucket; the others wait their turn asleep. An action's own window (releases,
//! channel assignments) is waited out before joining the line, so it holds no other
//! call up.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::action::Action;
use super::contract::Budget;
pub use super::fair_queue::{Caller, Lane};
use super::fair_queue::{FairQueue, Place};

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
    /// No call goes out before this: the platform's last 429 said so.
    held_until: Option<Instant>,
    windows: HashMap<Action, VecDeque<Instant>>,
    /// The calls waiting for the bucket.
    line: FairQueue,
}

/// Why a call may not go yet, and for how long at least.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Refusal {
    /// The bucket is empty, or held back by a Retry-After.
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
                tokens: f64::from(budget.burst),
                refilled: Instant::now(),
                held_until: None,
                windows: HashMap::new(),
                line: FairQueue::default(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a permit for `action` now if one is free and no call waits for one, else
    /// says how long to wait at least.
    pub fn try_acquire(&self, action: Action, now: Instant) -> Result<(), Duration> {
        let mut state = self.state();
        if !state.line.is_empty() {
            let interval = 1.0 / state.budget.per_second.max(0.001);
            return Err(Duration::from_secs_f64(interval));
        }
        state.take(action, now).map_err(Refusal::wait)
    }

    /// The platform answered 429 with `retry_after`: no call goes out before then, and
    /// the bucket starts again from one call.
    pub fn throttled(&self, retry_after: Duration, now: Instant) {
        let mut state = self.state();
        let until = now + retry_after;
        if state.held_until.is_none_or(|held| until > held) {
            state.held_until = Some(until);
            state.refilled = state.refilled.max(until);
            state.tokens = 1.0_f64.min(f64::from(state.budget.burst));
        }
    }

    /// How long a call that already has its permit must still wait because the
    /// platform answered 429 since: its `Retry-After` holds back every call not yet
    /// sent, not only those still waiting for a permit.
    pub fn held_back(&self, now: Instant) -> Option<Duration> {
        let until = self.state().held_until?;
        (until > now).then(|| until - now)
    }

    /// Waits until `action` may be sent, as the caller of the current task (see
    /// [`Caller::scope`]); returns how long it waited.
    pub async fn acquire(&self, action: Action) -> Duration {
        self.acquire_as(&Caller::current(), action).await
    }

    /// Waits until `action` may be sent for `caller`; returns how long it waited.
    pub async fn acquire_as(&self, caller: &Caller, action: Action) -> Duration {
        let started = Instant::now();
        loop {
            // The action's own window first, outside the line.
            loop {
                let wait = window_wait(&mut self.state(), action, Instant::now());
                match wait {
                    Some(wait) => tokio::time::sleep(wait.max(Duration::from_millis(1))).await,
                    None => break,
                }
            }
            let mut ticket = Ticket::join(self, caller);
            loop {
                let turn = {
                    let mut state = self.state();
                    if !state.line.is_first(ticket.place) {
                        Turn::Wait
                    } else {
                        match state.take(action, Instant::now()) {
                            Ok(()) => {
                                state.line.served(ticket.place);
                                ticket.served = true;
                                Turn::Go
                            }
                            Err(Refusal::Bucket(wait)) => Turn::Sleep(wait),
                            // Another call of the same action took the window's last
                            // place meanwhile: leave the line and wait for the window
                            // outside it.
                            Err(Refusal::Window(_)) => Turn::Leave,
                        }
                    }
                };
                match turn {
                    Turn::Go => return started.elapsed(),
                    Turn::Wait => ticket.woken.notified().await,
                    Turn::Sleep(wait) => {
                        tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                    }
                    Turn::Leave => break,
                }
            }
        }
    }

    /// How many calls wait for the bucket now.
    pub fn waiting(&self) -> usize {
        self.state().line.len()
    }
}

/// What the first in line does next.
enum Turn {
    Go,
    /// Not first: sleep until woken.
    Wait,
    /// First, but the bucket is empty for this long.
    Sleep(Duration),
    /// First, but the action's window filled meanwhile.
    Leave,
}

impl State {
    /// Takes a call from the bucket (and the action's window) if there is one.
    fn take(&mut self, action: Action, now: Instant) -> Result<(), Refusal> {
        let budget = self.budget;
        if let Some(until) = self.held_until.filter(|until| now < *until) {
            // Held back by the platform's Retry-After.
            return Err(Refusal::Bucket(until - now));
        }
        // Callers read the clock before they take the lock, so `now` may lie a little
        // behind the last refill: that is no wait, and time never runs back.
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * budget.per_second).min(f64::from(budget.burst));
        self.refilled = self.refilled.max(now);
        let interval = 1.0 / budget.per_second.max(0.001);
        let mut wait = Duration::ZERO;
        if self.tokens < 1.0 {
            wait = Duration::from_secs_f64((1.0 - self.tokens) * interval);
        }
        if let Some(window) = window_wait(self, action, now) {
            return Err(Refusal::Window(window.max(wait)));
        }
        if wait > Duration::ZERO {
            return Err(Refusal::Bucket(wait));
        }
        self.tokens -= 1.0;
        if action.window_limit().is_some() {
            self.windows.entry(action).or_default().push_back(now);
        }
        Ok(())
    }
}

/// A call's place in line for as long as it waits, also when its caller gives up (a
/// reconcile dropped mid-wait must not hold the line up).
struct Ticket<'a> {
    limiter: &'a RateLimiter,
    place: Place,
    woken: std::sync::Arc<tokio::sync::Notify>,
    served: bool,
}

impl<'a> Ticket<'a> {
    fn join(limiter: &'a RateLimiter, caller: &Caller) -> Self {
        let (place, woken) = limiter.state().line.join(caller);
        Ticket {
            limiter,
            place,
            woken,
            served: false,
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.served {
            self.limiter.state().line.leave(self.place);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_paces() {
        let limiter = RateLimiter::new(Budget {
            per_second: 10.0,
            burst: 3,
        });
        // The burst goes at once.
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
    fn a_new_limiter_starts_with_the_whole_burst_and_a_429_sets_it_back_to_one_call() {
        // A quiet client is owed the platform's whole burst; a restarted operator
        // whose predecessor used it learns so from the first 429.
        let limiter = RateLimiter::new(Budget {
            per_second: 20.0,
            burst: 40,
        });
        let now = Instant::now();
        for _ in 0..40 {
            assert!(limiter.try_acquire(Action::GetTask, now).is_ok());
        }
        let wait = limiter.try_acquire(Action::GetTask, now).unwrap_err();
        assert!(wait <= Duration::from_millis(50), "{wait:?}");

        let restarted = RateLimiter::new(Budget {
            per_second: 20.0,
            burst: 40,
        });
        let now = Instant::now();
        assert!(restarted.try_acquire(Action::GetTask, now).is_ok());
        restarted.throttled(Duration::from_secs(1), now);
        // Calls that had their permit before the 429 came back wait it out too.
        assert_eq!(restarted.held_back(now), Some(Duration::from_secs(1)));
        let after = now + Duration::from_secs(1);
        assert_eq!(restarted.held_back(after), None);
        assert!(restarted.try_acquire(Action::GetTask, after).is_ok());
        assert!(restarted.try_acquire(Action::GetTask, after).is_err());
    }

    #[test]
    fn a_clock_read_just_before_another_call_took_its_permit_is_not_held_back() {
        // Two calls read the clock, then take the lock in the other order: the later
        // reading refills the bucket first. Nothing but a 429 holds a call back.
        let limiter = RateLimiter::new(Budget {
            per_second: 20.0,
            burst: 40,
        });
        let earlier = Instant::now();
        let later = earlier + Duration::from_millis(5);
        assert!(limiter.try_acquire(Action::GetTask, later).is_ok());
        assert_eq!(limiter.held_back(earlier), None);
        assert!(limiter.try_acquire(Action::GetTask, earlier).is_ok());
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

    #[tokio::test]
    async fn a_caller_that_gives_up_holds_nobody_back() {
        let limiter = RateLimiter::new(Budget {
            per_second: 20.0,
            burst: 40,
        });
        limiter.throttled(Duration::from_secs(60), Instant::now());
        let gave_up = tokio::time::timeout(
            Duration::from_millis(20),
            limiter.acquire_as(&Caller::new(Lane::Change, "a"), Action::GetLead),
        )
        .await;
        assert!(
            gave_up.is_err(),
            "the change was held back by the Retry-After"
        );
        assert_eq!(limiter.waiting(), 0);
    }

    /// Queues twelve routine calls of namespace "bulk" at 100 calls a second, then
    /// one call of `late`, and returns where the late call was served and how many
    /// had been served before it joined.
    async fn served_among_a_backlog(late: Caller) -> (usize, usize, Vec<String>) {
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
                let bulk = Caller::new(Lane::Routine, "bulk");
                limiter.acquire_as(&bulk, Action::GetLead).await;
                served.lock().unwrap().push(format!("bulk {i}"));
            }));
        }
        // Let the backlog queue up and a few of its calls go.
        tokio::time::sleep(Duration::from_millis(25)).await;
        let served_before = served.lock().unwrap().len();
        let late_call = {
            let (limiter, served) = (limiter.clone(), served.clone());
            tokio::spawn(late.scope(async move {
                limiter.acquire(Action::GetLead).await;
                served.lock().unwrap().push("late".to_owned());
            }))
        };
        late_call.await.unwrap();
        for call in calls {
            call.await.unwrap();
        }
        let served = served.lock().unwrap().clone();
        let place = served.iter().position(|s| s == "late").unwrap();
        (place, served_before, served)
    }

    #[tokio::test]
    async fn a_change_overtakes_the_routine_calls_already_queued() {
        let (place, before, served) =
            served_among_a_backlog(Caller::new(Lane::Change, "bulk")).await;
        assert!(
            before < 11 && place <= before + 1,
            "change served at {place} with {before} served before it queued: {served:?}"
        );
    }

    #[tokio::test]
    async fn another_namespace_does_not_queue_behind_a_backlog() {
        let (place, before, served) =
            served_among_a_backlog(Caller::new(Lane::Routine, "other")).await;
        assert!(
            before < 10 && place <= before + 2,
            "served at {place} with {before} served before it queued: {served:?}"
        );
    }

    #[tokio::test]
    async fn the_same_namespace_queues_behind_its_own_backlog() {
        // The other side of fairness: within a namespace, first come, first served.
        let (place, _, served) = served_among_a_backlog(Caller::new(Lane::Routine, "bulk")).await;
        assert_eq!(place, 12, "{served:?}");
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
