//! The parts of a status that every kind shares, embedded flat in each kind's status
//! (as Crossplane's `ResourceStatus`): the shared machinery reads and writes them
//! through [`ReconcileStatus`] and [`OwnerStatus`], and users see them as fields of
//! `status` like any other.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::PlannedAction;

/// What every kind's status records of its reconciles.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileStatus {
    /// The object's conditions, one of each type. Every kind has `Ready` (whether the
    /// platform matches the spec; when not, its reason and message say why and what
    /// to do) and `Synced` (whether the last reconcile could do its work). An
    /// OCCustomer also has `Licensed` and `ChannelAssigned`, an OCNumberBlock
    /// `NumbersUploaded`, and an object under `managementPolicy: ObserveOnly`
    /// `PlatformMatches`. `Reconciling` and `Stalled` follow kstatus, for tools that
    /// wait on them.
    #[serde(default)]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the operator last saw the platform match this object's spec (RFC 3339).
    /// After an operator restart, an object that is Ready asks nothing of the platform
    /// until its next drift check is due from this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked: Option<String>,
    /// The generation whose spec was rejected (by the platform, or by the operator
    /// before any call): nothing is retried until the spec changes again. The
    /// `Ready` condition says why and what to change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_generation: Option<i64>,
}

/// What the status of every kind that owns a platform object records of that
/// ownership.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnerStatus {
    /// Under `managementPolicy: ObserveOnly`: the calls the operator would make next to
    /// carry the spec out under `Manage` (empty when the platform matches the spec).
    /// Calls that depend on an earlier call's answer (a task's result, a new id) are
    /// listed once that call is made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned_actions: Vec<PlannedAction>,
    /// When this object became the owner of its platform object (RFC 3339): the first
    /// time it recorded a platform id or a write in its status. When two objects
    /// declare the same tenant, number, site, dial plan or user, the one that owns it
    /// first keeps it and the other is held in `Conflict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_since: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::api::{OCEndUserStatus, OCPlatformStatus};

    #[test]
    fn the_shared_blocks_read_and_write_as_plain_status_fields() {
        let stored = json!({
            "observedGeneration": 3,
            "conditions": [],
            "plannedActions": [{
                "action": "Add User",
                "target": "ada@contoso.example",
                "count": 1,
                "requests": 1,
                "description": "add ada@contoso.example",
            }],
            "lastChecked": "2026-12-07T14:00:00Z",
            "rejectedGeneration": 2,
            "ownedSince": "2026-12-01T09:00:00Z",
            "appliedGeneration": 3,
        });
        let status: OCEndUserStatus = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(status.reconcile.observed_generation, Some(3));
        assert_eq!(
            status.reconcile.last_checked.as_deref(),
            Some("2026-12-07T14:00:00Z")
        );
        assert_eq!(status.reconcile.rejected_generation, Some(2));
        assert_eq!(
            status.ownership.owned_since.as_deref(),
            Some("2026-12-01T09:00:00Z")
        );
        assert_eq!(status.ownership.planned_actions.len(), 1);
        assert_eq!(status.applied_generation, Some(3));
        assert_eq!(serde_json::to_value(&status).unwrap(), stored);
    }

    #[test]
    fn an_empty_status_writes_no_shared_field() {
        assert_eq!(
            serde_json::to_value(OCPlatformStatus::default()).unwrap(),
            json!({"conditions": []})
        );
        let status: OCPlatformStatus = serde_json::from_value(json!({})).unwrap();
        assert_eq!(status, OCPlatformStatus::default());
    }
}
