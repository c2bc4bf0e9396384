//! What every kind's planner knows of the object it plans for, whatever the kind.

use super::kind::Kind;

/// The object as this reconcile holds it: its spec, the status being drafted, the
/// generation that status is for, whether the object may adopt what it finds on the
/// platform (the adopt annotation), and whether it is being deleted. Each kind's
/// `Known` holds one beside what only that kind's planner needs.
#[derive(Debug, Clone)]
pub struct Declared<'a, K: Kind> {
    pub spec: &'a K::Spec,
    pub status: &'a K::Status,
    pub generation: Option<i64>,
    pub may_adopt: bool,
    pub deleting: bool,
}
