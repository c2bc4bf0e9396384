//! Taking over a platform object that exists but that no object in the cluster owns is
//! explicit: the object carries the annotation `operatorconnect.io/adopt: "true"`.
//! Without it the object waits with `Ready=False`, reason `AlreadyExists`, and writes
//! nothing; with it, the object records the platform object as its own (and the event
//! says who adopted what). What the operator created itself (its intent or ids are in
//! status) is never adopted: it is simply found again.

use kube::ResourceExt;

use super::context::Context;
use super::kind::Kind;
use super::status::StatusDraft;
use crate::api::conditions::{self, READY, reason};

/// Annotation by which an object opts in to take over a platform object that exists
/// but that no object in the cluster owns (value `"true"`).
pub const ADOPT_ANNOTATION: &str = "operatorconnect.io/adopt";

/// Whether `obj` carries the adoption opt-in.
pub fn may_adopt<K: Kind>(obj: &K) -> bool {
    obj.annotations()
        .get(ADOPT_ANNOTATION)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Refuses to take over `existing` (what the platform already has, such as
/// "tenant T (lead L)") without the opt-in; `otherwise` says the other way out.
pub async fn refuse<K: Kind>(
    ctx: &Context,
    obj: &K,
    draft: &mut StatusDraft<K>,
    existing: &str,
    otherwise: &str,
) {
    let message = format!(
        "the platform already has {existing}, and no object in the cluster owns it; to take it over as it is, add the annotation {ADOPT_ANNOTATION}: \"true\" (nothing is written until then), or {otherwise}"
    );
    let was = conditions::find(draft.conditions(), READY).map(|c| c.reason.clone());
    if was.as_deref() != Some(reason::ALREADY_EXISTS) {
        ctx.event(obj, true, reason::ALREADY_EXISTS, "Adopt", message.clone())
            .await;
    }
    draft.condition(READY, false, reason::ALREADY_EXISTS, message);
}

/// Publishes who adopted what.
pub async fn adopted<K: Kind>(ctx: &Context, obj: &K, action: &str, what: &str) {
    ctx.event(
        obj,
        false,
        "Adopted",
        action,
        format!(
            "{} {}/{} adopted {what} ({ADOPT_ANNOTATION})",
            K::kind(&()),
            obj.namespace().unwrap_or_default(),
            obj.name_any()
        ),
    )
    .await;
}
