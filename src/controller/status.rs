//! Conditions with `observedGeneration`, and status written to the status subresource
//! as a JSON merge patch of what changed. `spec` is never written.
//!
//! Why not server-side apply: the operator is the status's only writer, so field
//! ownership buys nothing there, and an apply makes the apiserver merge the whole
//! applied status with the stored one and work out every field's manager, for each
//! of the dozen status writes an onboarding costs. At 10,000 customers the apiserver,
//! not the platform's budget, set the pace (bench/README.md, stop 32). A merge patch
//! carries only the fields that changed (a field that went is sent as `null`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use serde_json::json;

use super::error::{Error, Result};
use super::kind::Kind;

/// The field manager of everything the operator writes.
pub const MANAGER: &str = "oc-operator";

/// Sets condition `type_` in `conditions`, keeping `lastTransitionTime` when the
/// status does not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) {
    let status = if status { "True" } else { "False" }.to_owned();
    let mut message: String = message.into();
    if message.len() > 2048 {
        let mut end = 2045;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("...");
    }
    let now = Time(jiff::Timestamp::now());
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = now;
            }
            c.status = status;
            c.reason = reason.to_owned();
            c.message = message;
            c.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.to_owned(),
            status,
            reason: reason.to_owned(),
            message,
            observed_generation: generation,
            last_transition_time: now,
        }),
    }
}

/// The status to write next, starting from the object's current one.
#[derive(Debug, Clone)]
pub struct StatusDraft<K: Kind> {
    pub status: K::Status,
    pub generation: Option<i64>,
    original: Option<K::Status>,
    /// The resourceVersion of the object after this draft's last status write.
    pub written: Option<String>,
    /// The draft holds, unsaved, what must be saved before a routine write waits for
    /// the platform's budget (see [`StatusDraft::save_before_waiting`]).
    unsaved_before_wait: bool,
    /// Nothing is written in this reconcile (see
    /// [`StatusDraft::wrote_only_the_finalizer`]).
    write_nothing: bool,
}

impl<K: Kind> StatusDraft<K> {
    pub fn of(obj: &K) -> Self {
        let original = obj.status().cloned();
        Self {
            status: original.clone().unwrap_or_default(),
            generation: obj.meta().generation,
            original,
            written: None,
            unsaved_before_wait: false,
            write_nothing: false,
        }
    }

    /// Asks that what the draft holds be saved before the reconcile's next routine
    /// write waits for the platform's budget (see `tasks::admit`): what a successor
    /// would otherwise have to learn again by a call the budget does not pace (a
    /// tenant's validation).
    pub fn save_before_waiting(&mut self) {
        self.unsaved_before_wait = true;
    }

    /// Whether the draft holds what must be saved before a routine write waits.
    pub fn must_save_before_waiting(&self) -> bool {
        self.unsaved_before_wait
    }

    /// This reconcile only put the finalizer on, leaving the object at `version`: its
    /// status is not written, since the finalizer's own watch event reconciles the
    /// object again at once and that reconcile writes what it finds (a new object's
    /// first status write is one write instead of two). The version is remembered
    /// as this reconcile's last write, so that a reconcile started from a cached
    /// copy older than it waits for the newer copy instead of adding the finalizer
    /// again from the old one (refused, 409).
    pub fn wrote_only_the_finalizer(&mut self, version: Option<String>) {
        self.write_nothing = true;
        self.written = version;
    }

    pub fn condition(
        &mut self,
        type_: &str,
        status: bool,
        reason: &str,
        message: impl Into<String>,
    ) -> &mut Self {
        let generation = self.generation;
        set_condition(
            K::conditions_mut(&mut self.status),
            type_,
            status,
            reason,
            message,
            generation,
        );
        self
    }

    pub fn conditions(&self) -> &[Condition] {
        K::conditions(&self.status)
    }

    pub fn changed(&self) -> bool {
        self.original.as_ref() != Some(&self.status)
    }
}

/// Writes the draft (with `observedGeneration`) when it differs from what is stored.
pub async fn save<K>(api: &Api<K>, obj: &K, draft: &mut StatusDraft<K>) -> Result<()>
where
    K: Kind,
{
    if draft.write_nothing {
        return Ok(());
    }
    K::reconciled_mut(&mut draft.status).observed_generation = draft.generation;
    let deleting = obj.meta().deletion_timestamp.is_some();
    for (type_, status, reason, message) in
        super::kstatus::derive(draft.conditions(), draft.generation, deleting)
    {
        draft.condition(type_, status, &reason, message);
    }
    stamp_ownership(obj, draft);
    if !draft.changed() {
        draft.unsaved_before_wait = false;
        return Ok(());
    }
    let name = obj.meta().name.clone().unwrap_or_default();
    let what = || format!("writing the status of {} {name}", K::kind(&()));
    let encoding = |e| Error::kube(what())(kube::Error::SerdeError(e));
    let before = serde_json::to_value(&draft.original).map_err(encoding)?;
    let after = serde_json::to_value(&draft.status).map_err(encoding)?;
    let patch = merge_patch(&before, &after);
    // A status holds no secret: what each write changes can be shown (at debug level),
    // to see why an object is written.
    tracing::debug!(kind = K::kind(&()).as_ref(), name, %patch, "status write");
    let params = PatchParams {
        field_manager: Some(MANAGER.to_owned()),
        ..PatchParams::default()
    };
    let written = api
        .patch_status(&name, &params, &Patch::Merge(json!({ "status": patch })))
        .await
        .map_err(Error::kube(what()))?;
    draft.original = Some(draft.status.clone());
    draft.written = written.meta().resource_version.clone();
    draft.unsaved_before_wait = false;
    Ok(())
}

/// The JSON merge patch (RFC 7386) that turns `before` into `after`: for objects,
/// the keys whose values changed (objects compared key by key), and `null` for the
/// keys that went; anything else (a list, a value, an object replacing a value) whole.
pub fn merge_patch(before: &serde_json::Value, after: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let (Value::Object(before), Value::Object(after)) = (before, after) else {
        return after.clone();
    };
    let mut patch = serde_json::Map::new();
    for (key, now) in after {
        match before.get(key) {
            Some(was) if was == now => {}
            Some(was) if was.is_object() && now.is_object() => {
                patch.insert(key.clone(), merge_patch(was, now));
            }
            _ => {
                patch.insert(key.clone(), now.clone());
            }
        }
    }
    for key in before.keys() {
        if !after.contains_key(key) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    Value::Object(patch)
}

/// Stamps `status.ownedSince` the first time the status records a claim (a platform id
/// or a write in flight), so that the claim survives a restart. An object that recorded
/// its ids before `ownedSince` existed is stamped with its creation time: the earlier
/// declaration keeps its place.
fn stamp_ownership<K: Kind>(obj: &K, draft: &mut StatusDraft<K>) {
    if !K::records_claim(&draft.status) {
        return;
    }
    let legacy = draft.original.as_ref().is_some_and(K::records_claim);
    let created = obj.meta().creation_timestamp.as_ref().map(|t| t.0);
    if let Some(slot) = K::owner_mut(&mut draft.status).map(|owner| &mut owner.owned_since)
        && slot.is_none()
    {
        let since = match (legacy, created) {
            (true, Some(created)) => created,
            _ => jiff::Timestamp::now(),
        };
        *slot = Some(since.to_string());
    }
}

/// An `Api` for a namespaced kind in the object's namespace.
pub fn namespaced_api<K>(client: &kube::Client, obj: &K) -> Api<K>
where
    K: Kind + Resource<Scope = NamespaceResourceScope>,
{
    Api::namespaced(
        client.clone(),
        obj.meta().namespace.as_deref().unwrap_or("default"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merge_patch_carries_what_changed_and_nulls_what_went() {
        let before = json!({
            "leadId": "l1",
            "operation": {"action": "CreateLead", "items": ["t"]},
            "conditions": [{"type": "Ready", "status": "False"}],
            "counts": {"declared": 1, "active": 0},
        });
        let after = json!({
            "leadId": "l1",
            "customerId": "c1",
            "conditions": [{"type": "Ready", "status": "True"}],
            "counts": {"declared": 1, "active": 1},
        });
        let patch = merge_patch(&before, &after);
        assert_eq!(
            patch,
            json!({
                "customerId": "c1",
                "operation": null,
                "conditions": [{"type": "Ready", "status": "True"}],
                "counts": {"active": 1},
            })
        );
        // Applied as the apiserver does (RFC 7386), it gives `after`.
        let mut applied = before.clone();
        json_patch::merge(&mut applied, &patch);
        assert_eq!(applied, after);
        // A first write sends everything; an unchanged status, nothing.
        assert_eq!(merge_patch(&serde_json::Value::Null, &after), after);
        assert_eq!(merge_patch(&after, &after), json!({}));
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let mut conditions = Vec::new();
        set_condition(&mut conditions, "Ready", false, "Creating", "a", Some(1));
        let first = conditions[0].last_transition_time.clone();
        std::thread::sleep(std::time::Duration::from_millis(5));
        set_condition(
            &mut conditions,
            "Ready",
            false,
            "WaitingForTask",
            "b",
            Some(2),
        );
        assert_eq!(conditions[0].last_transition_time, first);
        assert_eq!(
            (
                conditions[0].reason.as_str(),
                conditions[0].observed_generation
            ),
            ("WaitingForTask", Some(2))
        );
        set_condition(&mut conditions, "Ready", true, "Available", "c", Some(2));
        assert_ne!(conditions[0].last_transition_time, first);
        assert_eq!(conditions.len(), 1);
    }
}
