//! Field types that several kinds share: references, deletion policy, the record of
//! a write in flight.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Regular expression of a Microsoft Entra tenant id (a GUID).
pub const GUID_PATTERN: &str =
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
/// Regular expression of an E.164 number as the platform checks it.
pub const E164_PATTERN: &str = r"^\+[1-9][0-9]{1,14}$";
/// Regular expression of a Kubernetes object name (DNS subdomain).
pub const NAME_PATTERN: &str = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$";

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

/// A write to the Live Platform that was started and not yet seen to its end. It is
/// recorded before the write is sent, so that after a restart the operator looks the
/// platform up instead of writing again.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// The action, as the API reference names it (for example `Upload Numbers to Customer`).
    pub action: String,
    /// When the write was about to be sent (RFC 3339).
    pub started_at: String,
    /// The platform's task id, once the platform answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// When the platform answered with the task id (RFC 3339): the task runs from
    /// here, however long the write waited for the platform's rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<String>,
    /// What the write covers, for example the numbers of an upload, compressed as ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}
