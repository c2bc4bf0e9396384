//! Field types that several kinds share: references, deletion policy, the record of
//! a write in flight.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use liveplatform::Action as PlatformAction;

/// Regular expression of a Microsoft Entra tenant id (a GUID).
pub const GUID_PATTERN: &str =
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
/// Regular expression of an E.164 number as the platform checks it.
pub const E164_PATTERN: &str = r"^\+[1-9][0-9]{1,14}$";
/// Regular expression of a Kubernetes object name (DNS subdomain).
pub const NAME_PATTERN: &str = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$";

/// The default of a switch that is on unless the spec turns it off.
pub fn default_true() -> bool {
    true
}

/// A reference to another object of this operator in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectRef {
    /// Name of the referenced object, in the same namespace as this one.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    )]
    pub name: String,
}

/// A reference to a cluster-scoped OCPlatform.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformRef {
    /// Name of the OCPlatform (cluster-scoped) whose Live Platform serves this customer.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    )]
    pub name: String,
}

/// A key of a Secret. Secrets are never written inline in a spec.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    )]
    pub name: String,
    /// Key inside the Secret's data.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// What happens on the Live Platform when the object is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Undo on the platform what this object created (release numbers, delete the
    /// service, remove the site), then let the object go.
    #[default]
    Delete,
    /// Leave the platform untouched; only the Kubernetes object goes.
    Orphan,
}

/// Whether the operator may write to the Live Platform for an object.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum ManagementPolicy {
    /// Carry the spec out on the platform: create, change, release and delete.
    #[default]
    Manage,
    /// Only read the platform and compare it with the spec. Nothing is ever written,
    /// also when the object is deleted; `status.plannedActions` lists the calls the
    /// operator would make under `Manage`, and the `PlatformMatches` condition says
    /// whether there are any.
    ObserveOnly,
}

/// A platform call the operator would make for an object under `managementPolicy:
/// Manage`, listed in the status of an object that only observes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedAction {
    /// The call, as the API reference titles it (for example `Upload Numbers to
    /// Customer`).
    pub action: String,
    /// What the call acts on: a tenant, a site of a tenant, a dial plan, a SIP address.
    pub target: String,
    /// How many items the call carries: numbers for an upload or a release, rules for
    /// a dial plan change, 1 for a single object.
    pub count: i64,
    /// How many requests the call takes (an upload or a release sends at most 1,000
    /// numbers a request).
    pub requests: i64,
    /// The call in words, for example `upload 250 numbers in 1 request`.
    pub description: String,
}

/// A write to the Live Platform that was started and not yet seen to its end. It is
/// recorded before the write is sent, so that after a restart the operator looks the
/// platform up instead of writing again.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// The write, as the API reference names it (for example `Upload Numbers to
    /// Customer`).
    pub action: WriteAction,
    /// When the write was about to be sent.
    pub started_at: MicroTime,
    /// The generation of the spec the write carries: when its answer is lost and the
    /// result is found on the platform, this is the generation that result applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// The platform's task id, once the platform answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// When the platform answered with the task id: the task runs from here, however
    /// long the write waited for the platform's rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<MicroTime>,
    /// What the write covers, for example the numbers of an upload, compressed as ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}

/// The writes the operator records before it sends them (see [`Operation`]), named as
/// the API reference titles them.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum WriteAction {
    #[serde(rename = "Create Consentless Lead")]
    CreateLead,
    #[serde(rename = "Assign Consentless Lead to Channel")]
    AssignChannel,
    #[serde(rename = "Remove Lead from Channel")]
    RemoveChannel,
    #[serde(rename = "Create Customer from Lead")]
    CreateCustomer,
    #[serde(rename = "Upgrade OC Customer License")]
    UpgradeLicense,
    #[serde(rename = "Upload Numbers to Customer")]
    UploadNumbers,
    #[serde(rename = "Release Numbers from Customer")]
    ReleaseNumbers,
    #[serde(rename = "Unassign Numbers")]
    UnassignNumbers,
    #[serde(rename = "Add SIP Connection")]
    AddSipConnection,
    #[serde(rename = "Modify SIP Connection")]
    ModifySipConnection,
    #[serde(rename = "Delete SIP Connection")]
    DeleteSipConnection,
    #[serde(rename = "Provision Customer End User")]
    ProvisionEndUser,
}

impl WriteAction {
    pub const ALL: [WriteAction; 12] = [
        WriteAction::CreateLead,
        WriteAction::AssignChannel,
        WriteAction::RemoveChannel,
        WriteAction::CreateCustomer,
        WriteAction::UpgradeLicense,
        WriteAction::UploadNumbers,
        WriteAction::ReleaseNumbers,
        WriteAction::UnassignNumbers,
        WriteAction::AddSipConnection,
        WriteAction::ModifySipConnection,
        WriteAction::DeleteSipConnection,
        WriteAction::ProvisionEndUser,
    ];

    /// The action of the API reference this write is.
    pub fn platform(self) -> PlatformAction {
        match self {
            WriteAction::CreateLead => PlatformAction::CreateLead,
            WriteAction::AssignChannel => PlatformAction::AssignChannel,
            WriteAction::RemoveChannel => PlatformAction::RemoveChannel,
            WriteAction::CreateCustomer => PlatformAction::CreateCustomer,
            WriteAction::UpgradeLicense => PlatformAction::UpgradeLicense,
            WriteAction::UploadNumbers => PlatformAction::UploadNumbers,
            WriteAction::ReleaseNumbers => PlatformAction::ReleaseNumbers,
            WriteAction::UnassignNumbers => PlatformAction::UnassignNumbers,
            WriteAction::AddSipConnection => PlatformAction::AddSipConnection,
            WriteAction::ModifySipConnection => PlatformAction::ModifySipConnection,
            WriteAction::DeleteSipConnection => PlatformAction::DeleteSipConnection,
            WriteAction::ProvisionEndUser => PlatformAction::ProvisionEndUser,
        }
    }

    /// The title the API reference gives the action (also its value in status).
    pub fn title(self) -> &'static str {
        self.platform().title()
    }
}

impl std::fmt::Display for WriteAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.title())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_in_status_is_named_as_the_reference_titles_it() {
        for action in WriteAction::ALL {
            let value = serde_json::to_value(action).expect("serialises");
            assert_eq!(value, serde_json::json!(action.title()), "{action:?}");
        }
    }

    #[test]
    fn an_operation_recorded_by_an_earlier_version_still_reads() {
        let op: Operation = serde_json::from_value(serde_json::json!({
            "action": "Upload Numbers to Customer",
            "startedAt": "2026-11-27T12:00:00.123456Z",
            "acceptedAt": "2026-11-27T12:00:01Z",
            "taskId": "t1",
        }))
        .expect("reads");
        assert_eq!(op.action, WriteAction::UploadNumbers);
        assert_eq!(op.started_at.0.to_string(), "2026-11-27T12:00:00.123456Z");
    }
}
