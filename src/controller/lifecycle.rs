//! The rules every kind's reconcile passes before its own work, as a pure planner:
//! from what is known of the object (paused, held in conflict, being deleted,
//! protected, only observing, its spec rejected) to one [`Gate`]. `drive` carries the
//! gate out; the table tests below decide every combination without a cluster.
//!
//! The order is the rules' precedence: a paused object is left alone whatever else
//! holds; an object held in conflict touches nothing, also while it is deleted
//! (unless it owns something it claimed, which its own deletion undoes); a protected
//! object's deletion waits; an object that only observes lets go when deleted; a
//! rejected spec waits for the next one.

use super::kind::Kind;
use super::ownership::Verdict;
use crate::api::common::DeletionPolicy;

/// What the lifecycle looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// Annotated `operatorconnect.io/paused: "true"`.
    pub paused: bool,
    /// Another object owns what this one names: `Some(owns_claimed)`, whether this
    /// one still owns something it claimed before.
    pub conflict: Option<bool>,
    /// It has a deletion timestamp.
    pub deleting: bool,
    /// It holds the operator's finalizer.
    pub has_finalizer: bool,
    /// Annotated `operatorconnect.io/protected: "true"`.
    pub protected: bool,
    /// It only observes (`managementPolicy: ObserveOnly`, its own or its platform's)
    /// and is of a kind that writes to the platform.
    pub only_observes: bool,
    /// The platform or the operator rejected this generation's spec.
    pub rejected: bool,
}

impl Facts {
    /// The conflict part of an ownership verdict.
    pub fn conflict_of(verdict: Option<&Verdict>) -> Option<bool> {
        match verdict {
            Some(Verdict::Conflict { owns_claimed, .. }) => Some(*owns_claimed),
            _ => None,
        }
    }
}

/// What the reconcile does before (or instead of) the kind's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// `Synced=False` (reason `Paused`), saved; nothing else until it changes.
    Pause,
    /// `Ready=False` (reason `Conflict`, an event when new), saved; no platform call.
    HoldInConflict,
    /// Deleted while held in conflict, owning nothing it claimed: its finalizer goes
    /// (with an event) and nothing on the platform is touched.
    ReleaseInConflict { finalizer: bool },
    /// Deleted while protected: `Ready=False` (reason `DeletionProtected`), saved;
    /// nothing is released or deleted until a person lifts the protection.
    HoldProtected,
    /// Deleted while it only observes: its finalizer goes (with an event) and the
    /// platform is left as it is.
    LetGoObserved { finalizer: bool },
    /// Its spec was rejected: nothing until it changes.
    AwaitSpecChange,
    /// On to the kind's own work.
    Go,
}

/// The gate for an object with these facts.
pub fn gate(facts: Facts) -> Gate {
    if facts.paused {
        return Gate::Pause;
    }
    match facts.conflict {
        Some(_) if !facts.deleting => return Gate::HoldInConflict,
        Some(false) => {
            return Gate::ReleaseInConflict {
                finalizer: facts.has_finalizer,
            };
        }
        // Its own part is undone by its kind's work, which leaves the rest alone.
        Some(true) | None => {}
    }
    if facts.deleting && facts.protected {
        return Gate::HoldProtected;
    }
    if facts.deleting && facts.only_observes {
        return Gate::LetGoObserved {
            finalizer: facts.has_finalizer,
        };
    }
    if !facts.deleting && facts.rejected {
        return Gate::AwaitSpecChange;
    }
    Gate::Go
}

/// What decides how a deleted object of a kind that leaves on its own terms goes (a
/// customer's planner decides its own: it waits for its dependents).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Leaving {
    pub deleting: bool,
    pub has_finalizer: bool,
    /// `deletionPolicy: Orphan`.
    pub orphan: bool,
    /// Nothing of its own is on the platform: it never wrote there, or has nothing
    /// left there and no write in flight.
    pub holds_nothing: bool,
    /// Its customer is being deleted with `deletionPolicy: Orphan`, which orphans
    /// its dependents with it.
    pub customer_orphans: bool,
}

/// A kind whose deleted objects may leave before their own work runs.
pub trait Departing: Kind {
    /// What an orphaned object of the kind leaves on the platform, for its event.
    const ORPHAN_LEAVES: &'static str;

    /// Its terms of departure; `None` for a kind whose planner decides it.
    fn terms(&self, status: &Self::Status) -> Option<Terms>;

    /// The OCCustomer (same namespace) it belongs to, for a dependent kind.
    fn customer_name(&self) -> Option<&str> {
        None
    }
}

/// What a kind says of one object's departure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub policy: DeletionPolicy,
    /// See [`Leaving::holds_nothing`].
    pub holds_nothing: bool,
}

impl Leaving {
    /// An object with these terms (`None`: its planner decides), deleted or not,
    /// holding the finalizer or not, orphaned by its customer or not. `None` when
    /// its planner decides and its customer does not orphan it.
    pub fn of(
        terms: Option<Terms>,
        deleting: bool,
        has_finalizer: bool,
        customer_orphans: bool,
    ) -> Option<Self> {
        if terms.is_none() && !customer_orphans {
            return None;
        }
        Some(Leaving {
            deleting,
            has_finalizer,
            orphan: terms.is_some_and(|t| t.policy == DeletionPolicy::Orphan),
            holds_nothing: terms.is_some_and(|t| t.holds_nothing),
            customer_orphans,
        })
    }
}

/// How a deleted object leaves without its kind's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// It no longer holds the operator's finalizer: nothing to do.
    AlreadyFree,
    /// `deletionPolicy: Orphan`: the finalizer goes, an event says what stays.
    Orphan,
    /// Its customer is deleted with `deletionPolicy: Orphan`: it is orphaned too (the
    /// finalizer goes, an event says so and what stays).
    OrphanedWithCustomer,
    /// Nothing of its own is on the platform: the finalizer goes.
    NothingToUndo,
}

/// The departure of an object with these facts, if it leaves now.
pub fn departure(leaving: Leaving) -> Option<Departure> {
    if !leaving.deleting {
        return None;
    }
    if !leaving.has_finalizer {
        return Some(Departure::AlreadyFree);
    }
    if leaving.orphan {
        return Some(Departure::Orphan);
    }
    if leaving.customer_orphans {
        return Some(Departure::OrphanedWithCustomer);
    }
    leaving.holds_nothing.then_some(Departure::NothingToUndo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            has_finalizer: true,
            ..Facts::default()
        }
    }

    fn deleted() -> Facts {
        Facts {
            deleting: true,
            ..facts()
        }
    }

    #[test]
    fn each_combination_goes_through_the_gate_its_rule_says() {
        let rows: Vec<(&str, Facts, Gate)> = vec![
            ("an object with nothing special goes on", facts(), Gate::Go),
            (
                "a paused object is left alone",
                Facts {
                    paused: true,
                    ..facts()
                },
                Gate::Pause,
            ),
            (
                "paused wins over everything, a deletion too",
                Facts {
                    paused: true,
                    conflict: Some(false),
                    protected: true,
                    rejected: true,
                    ..deleted()
                },
                Gate::Pause,
            ),
            (
                "held in conflict",
                Facts {
                    conflict: Some(false),
                    ..facts()
                },
                Gate::HoldInConflict,
            ),
            (
                "held in conflict, owning what it claimed before",
                Facts {
                    conflict: Some(true),
                    ..facts()
                },
                Gate::HoldInConflict,
            ),
            (
                "deleted in conflict, owning nothing: it lets go",
                Facts {
                    conflict: Some(false),
                    ..deleted()
                },
                Gate::ReleaseInConflict { finalizer: true },
            ),
            (
                "deleted in conflict without a finalizer: nothing to remove",
                Facts {
                    conflict: Some(false),
                    has_finalizer: false,
                    ..deleted()
                },
                Gate::ReleaseInConflict { finalizer: false },
            ),
            (
                "deleted in conflict, owning what it claimed: its own work undoes its part",
                Facts {
                    conflict: Some(true),
                    ..deleted()
                },
                Gate::Go,
            ),
            (
                "deleted in conflict even when protected: it never touched the platform",
                Facts {
                    conflict: Some(false),
                    protected: true,
                    ..deleted()
                },
                Gate::ReleaseInConflict { finalizer: true },
            ),
            (
                "a protected object's deletion waits",
                Facts {
                    protected: true,
                    ..deleted()
                },
                Gate::HoldProtected,
            ),
            (
                "protection matters only for a deletion",
                Facts {
                    protected: true,
                    ..facts()
                },
                Gate::Go,
            ),
            (
                "protection wins over observing",
                Facts {
                    protected: true,
                    only_observes: true,
                    ..deleted()
                },
                Gate::HoldProtected,
            ),
            (
                "an observing object lets go when deleted",
                Facts {
                    only_observes: true,
                    ..deleted()
                },
                Gate::LetGoObserved { finalizer: true },
            ),
            (
                "an observing object goes on while not deleted",
                Facts {
                    only_observes: true,
                    ..facts()
                },
                Gate::Go,
            ),
            (
                "a rejected spec waits for the next one",
                Facts {
                    rejected: true,
                    ..facts()
                },
                Gate::AwaitSpecChange,
            ),
            (
                "a rejected spec does not hold a deletion",
                Facts {
                    rejected: true,
                    ..deleted()
                },
                Gate::Go,
            ),
        ];
        for (what, facts, want) in rows {
            assert_eq!(gate(facts), want, "{what}");
        }
    }

    #[test]
    fn a_planner_that_decides_its_own_departure_is_left_to_unless_its_customer_orphans_it() {
        let delete = Terms {
            policy: DeletionPolicy::Delete,
            holds_nothing: false,
        };
        assert_eq!(Leaving::of(None, true, true, false), None);
        assert_eq!(
            Leaving::of(None, true, true, true).and_then(departure),
            Some(Departure::OrphanedWithCustomer)
        );
        assert_eq!(
            Leaving::of(Some(delete), true, true, false).and_then(departure),
            None
        );
    }

    #[test]
    fn a_deleted_object_leaves_by_its_policy_or_when_it_holds_nothing() {
        let deleted = Leaving {
            deleting: true,
            has_finalizer: true,
            ..Leaving::default()
        };
        let rows = [
            ("not deleted: it stays", Leaving::default(), None),
            (
                "not deleted, policy Orphan: it stays",
                Leaving {
                    orphan: true,
                    ..Leaving::default()
                },
                None,
            ),
            (
                "deleted, holding something: its kind undoes it",
                deleted,
                None,
            ),
            (
                "deleted with policy Orphan",
                Leaving {
                    orphan: true,
                    ..deleted
                },
                Some(Departure::Orphan),
            ),
            (
                "deleted with policy Orphan, holding nothing: still orphaned (the event says so)",
                Leaving {
                    orphan: true,
                    holds_nothing: true,
                    ..deleted
                },
                Some(Departure::Orphan),
            ),
            (
                "deleted, holding nothing",
                Leaving {
                    holds_nothing: true,
                    ..deleted
                },
                Some(Departure::NothingToUndo),
            ),
            (
                "deleted without the finalizer",
                Leaving {
                    has_finalizer: false,
                    orphan: true,
                    ..deleted
                },
                Some(Departure::AlreadyFree),
            ),
            (
                "deleted with its customer, which orphans its dependents",
                Leaving {
                    customer_orphans: true,
                    ..deleted
                },
                Some(Departure::OrphanedWithCustomer),
            ),
            (
                "its own Orphan says it first",
                Leaving {
                    orphan: true,
                    customer_orphans: true,
                    ..deleted
                },
                Some(Departure::Orphan),
            ),
            (
                "not deleted, its customer deleted with Orphan: it stays until deleted",
                Leaving {
                    customer_orphans: true,
                    ..Leaving::default()
                },
                None,
            ),
        ];
        for (what, leaving, want) in rows {
            assert_eq!(departure(leaving), want, "{what}");
        }
    }
}
