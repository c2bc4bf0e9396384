//! Observe, plan, act: the shape every kind's reconcile takes.
//!
//! A kind's planner is a pure function of the spec, the status and what has been seen
//! on the platform so far. It returns one [`Step`]: look something up, record what
//! was seen, write, wait, or conclude. [`run`] carries the steps out through the
//! kind's [`Planner`] (whose `look` and `write` are the only places that call the
//! platform) and plans again after each one, until the planner waits or concludes.
//! Because the planner only sees values, every step of every kind is tested in-process
//! with tables, without a cluster or a platform.
//!
//! An object that only observes (`managementPolicy: ObserveOnly`, see `management`)
//! runs the same loop: its looks are made, but its first write is described instead
//! of sent ([`Planner::describe`]) and the reconcile ends there with
//! [`Outcome::Planned`]. The plan an observing object shows is thus the very step its
//! planner would take under `Manage`.

use std::time::Duration;

use super::error::{Error, Result};
use super::stops::{Failure, Rejection};
use crate::api::common::PlannedAction;

/// The next thing a kind's reconcile does.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<L, S, W> {
    /// Read this from the platform, then plan again.
    Look(L),
    /// Record what the platform showed (status fields, the end of a write in flight,
    /// an event), then plan again.
    Settle(S),
    /// Send this write through the write protocol (see `tasks`), then plan again or
    /// wait, as the write says.
    Write(W),
    /// Nothing to do now: come back later.
    Wait(Wait),
    /// The platform matches the spec.
    Ready(Report),
    /// The platform already has what this object would create, nobody in the cluster
    /// owns it, and the object does not ask to adopt it (`AlreadyExists`).
    Refuse {
        existing: String,
        advice: &'static str,
    },
    /// The spec cannot be carried out as it is; nothing is retried until it changes.
    Reject(Rejection),
    /// The write in flight ended badly on the platform; it is over, and the reconcile
    /// is retried with backoff.
    Fail(Failure),
}

/// Another condition the step sets besides `Ready` (for example `Licensed`).
#[derive(Debug, Clone, PartialEq)]
pub struct Also {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

/// Why the object waits (`Ready=False` with this reason and message) and when it is
/// looked at again.
#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub reason: &'static str,
    pub message: String,
    pub next: Next,
    pub also: Vec<Also>,
}

impl Wait {
    pub fn new(reason: &'static str, message: impl Into<String>, next: Next) -> Self {
        Wait {
            reason,
            message: message.into(),
            next,
            also: Vec::new(),
        }
    }

    pub fn also(mut self, also: Also) -> Self {
        self.also.push(also);
        self
    }
}

/// When a waiting object is reconciled again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// When its running task is expected to be done (learned per action).
    Task,
    /// After this long.
    After(Duration),
    /// After the operator's short wait for something that comes by itself.
    Shortly,
    /// After the operator's long wait for something outside its hands (a lead that
    /// the platform operator must re-activate): six short waits.
    Recheck,
    /// At its next drift check.
    Drift,
    /// Only when the object changes (what it waits for needs a person).
    SpecChange,
}

/// What a Ready object reports (`Ready=True` with this message).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub message: String,
    pub also: Vec<Also>,
}

impl Report {
    pub fn new(message: impl Into<String>) -> Self {
        Report {
            message: message.into(),
            also: Vec::new(),
        }
    }

    pub fn also(mut self, also: Also) -> Self {
        self.also.push(also);
        self
    }
}

/// What a write asks of the loop once it is sent.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterWrite {
    /// The planner can go on from what the answer showed.
    Replan,
    /// A task runs (or the change shows only later): wait.
    Wait(Wait),
    /// What the object made on the platform is undone: its life is over (the
    /// conclusion lets go of its finalizer).
    Gone,
}

/// How a reconcile ended when it did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Wait(Wait),
    Ready(Report),
    Refuse {
        existing: String,
        advice: &'static str,
    },
    /// What the object made on the platform is undone: it lets go of its finalizer.
    Gone,
    /// The object only observes, and the platform differs from its spec: these are
    /// the calls that would be made.
    Planned(Vec<PlannedAction>),
}

/// A kind's reconcile as a planner with its two kinds of call. Its futures are `Send`,
/// so that the shared reconcile of dependents (see `dependent`) can run any of them.
pub trait Planner {
    type Look: std::fmt::Debug + Send;
    type Settle: std::fmt::Debug + Send;
    type Write: std::fmt::Debug + Send;

    /// The next step, from spec, status and what was seen (pure).
    fn plan(&self) -> Step<Self::Look, Self::Settle, Self::Write>;

    /// Reads from the platform and remembers what it saw.
    fn look(&mut self, look: Self::Look) -> impl Future<Output = Result<()>> + Send;

    /// Records in status (and events) what the planner settled.
    fn settle(&mut self, settle: Self::Settle) -> impl Future<Output = Result<()>> + Send;

    /// Sends one write.
    fn write(&mut self, write: Self::Write) -> impl Future<Output = Result<AfterWrite>> + Send;

    /// The write in flight is over (it failed on the platform).
    fn finish(&mut self) -> impl Future<Output = ()> + Send;

    /// The platform call `write` is, for an object that only observes; `None` for a
    /// write that makes no platform call (letting go of the finalizer), which is
    /// carried out as usual.
    fn describe(&self, write: &Self::Write) -> Option<PlannedAction>;
}

/// More steps than any kind needs in one reconcile: a planner that keeps asking is a
/// bug, which must not become a busy loop against the platform.
const MAX_STEPS: usize = 64;

/// How much of the last step an unsettled reconcile's error shows.
const LAST_STEP_SHOWN: usize = 200;

/// Plans and acts until the planner waits or concludes; an object that only observes
/// (`observe_only`) stops at its first platform write, which it reports instead.
pub async fn run<P: Planner>(planner: &mut P, what: &str, observe_only: bool) -> Result<Outcome> {
    let mut last = None;
    for _ in 0..MAX_STEPS {
        let step = planner.plan();
        tracing::trace!(?step, "planned");
        // The last step names the bug, not a request's thousand numbers.
        let mut shown = format!("{step:?}");
        if let Some((cut, _)) = shown.char_indices().nth(LAST_STEP_SHOWN) {
            shown.truncate(cut);
            shown.push_str("...");
        }
        last = Some(shown);
        match step {
            Step::Look(look) => planner.look(look).await?,
            Step::Settle(settle) => planner.settle(settle).await?,
            Step::Write(write) => {
                if observe_only && let Some(call) = planner.describe(&write) {
                    return Ok(Outcome::Planned(vec![call]));
                }
                match planner.write(write).await? {
                    AfterWrite::Replan => {}
                    AfterWrite::Wait(wait) => return Ok(Outcome::Wait(wait)),
                    AfterWrite::Gone => return Ok(Outcome::Gone),
                }
            }
            Step::Wait(wait) => return Ok(Outcome::Wait(wait)),
            Step::Ready(report) => return Ok(Outcome::Ready(report)),
            Step::Refuse { existing, advice } => return Ok(Outcome::Refuse { existing, advice }),
            Step::Reject(rejection) => return Err(Error::Rejected(rejection.to_string())),
            Step::Fail(failure) => {
                planner.finish().await;
                return Err(Error::TaskFailed(failure.to_string()));
            }
        }
    }
    Err(Error::TaskFailed(format!(
        "{what}: the reconcile did not settle within {MAX_STEPS} steps (last: {}); this is a bug of the operator, please report it",
        last.unwrap_or_default()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::PlannedAction;

    /// A planner that wants `writes` in turn, then is Ready; it records what was sent.
    struct Toy {
        writes: Vec<&'static str>,
        sent: Vec<&'static str>,
    }

    impl Planner for Toy {
        type Look = ();
        type Settle = ();
        type Write = &'static str;

        fn plan(&self) -> Step<(), (), &'static str> {
            match self.writes.get(self.sent.len()) {
                Some(write) => Step::Write(*write),
                None => Step::Ready(Report::new("done")),
            }
        }

        async fn look(&mut self, _: ()) -> Result<()> {
            Ok(())
        }

        async fn settle(&mut self, _: ()) -> Result<()> {
            Ok(())
        }

        async fn write(&mut self, write: &'static str) -> Result<AfterWrite> {
            self.sent.push(write);
            Ok(AfterWrite::Replan)
        }

        async fn finish(&mut self) {}

        /// `let go` is no platform call.
        fn describe(&self, write: &&'static str) -> Option<PlannedAction> {
            (*write != "let go").then(|| PlannedAction {
                action: (*write).to_owned(),
                target: "t".into(),
                count: 1,
                requests: 1,
                description: (*write).to_owned(),
            })
        }
    }

    fn toy(writes: &[&'static str]) -> Toy {
        Toy {
            writes: writes.to_vec(),
            sent: Vec::new(),
        }
    }

    #[tokio::test]
    async fn an_observing_object_stops_at_its_first_platform_write_and_sends_none() {
        let mut planner = toy(&["create lead", "create customer"]);
        let outcome = run(&mut planner, "toy", true).await.unwrap();
        let Outcome::Planned(calls) = outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].action, "create lead");
        assert!(planner.sent.is_empty(), "{:?}", planner.sent);
    }

    #[tokio::test]
    async fn a_managing_object_sends_what_an_observing_one_would_show() {
        let mut planner = toy(&["create lead", "create customer"]);
        let outcome = run(&mut planner, "toy", false).await.unwrap();
        assert!(matches!(outcome, Outcome::Ready(_)), "{outcome:?}");
        assert_eq!(planner.sent, ["create lead", "create customer"]);
    }

    /// A planner that never stops looking at a thousand numbers.
    struct Endless;

    impl Planner for Endless {
        type Look = Vec<String>;
        type Settle = ();
        type Write = ();

        fn plan(&self) -> Step<Vec<String>, (), ()> {
            Step::Look((0..1000).map(|i| format!("+1425555{i:04}")).collect())
        }

        async fn look(&mut self, _: Vec<String>) -> Result<()> {
            Ok(())
        }

        async fn settle(&mut self, _: ()) -> Result<()> {
            Ok(())
        }

        async fn write(&mut self, _: ()) -> Result<AfterWrite> {
            Ok(AfterWrite::Replan)
        }

        async fn finish(&mut self) {}

        fn describe(&self, _: &()) -> Option<PlannedAction> {
            None
        }
    }

    #[tokio::test]
    async fn a_planner_that_never_settles_fails_with_a_short_message() {
        let error = run(&mut Endless, "toy", false).await.unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("did not settle within 64 steps"),
            "{message}"
        );
        assert!(message.contains("Look([\"+14255550000\""), "{message}");
        assert!(message.len() < 600, "{} characters", message.len());
    }

    #[tokio::test]
    async fn a_write_that_is_no_platform_call_is_carried_out_while_observing() {
        let mut planner = toy(&["let go"]);
        let outcome = run(&mut planner, "toy", true).await.unwrap();
        assert!(matches!(outcome, Outcome::Ready(_)), "{outcome:?}");
        assert_eq!(planner.sent, ["let go"]);
    }
}
