//! The condition vocabulary every kind shares: types, reasons, and how to read them.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// The platform matches the spec of `observedGeneration`.
pub const READY: &str = "Ready";
/// The last reconcile reached the API and did what it meant to.
pub const SYNCED: &str = "Synced";
/// OCCustomer: the licence matches the spec.
pub const LICENSED: &str = "Licensed";
/// OCCustomer: the lead is in the declared channel.
pub const CHANNEL_ASSIGNED: &str = "ChannelAssigned";
/// OCNumberBlock: every declared number is on the platform.
pub const NUMBERS_UPLOADED: &str = "NumbersUploaded";

/// Reasons of `Ready`.
pub mod reason {
    pub const AVAILABLE: &str = "Available";
    pub const CREATING: &str = "Creating";
    pub const UPDATING: &str = "Updating";
    pub const DELETING: &str = "Deleting";
    pub const WAITING_FOR_CUSTOMER: &str = "WaitingForCustomer";
    pub const WAITING_FOR_TASK: &str = "WaitingForTask";
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const REJECTED: &str = "Rejected";
    /// Another object owns the platform object this one names.
    pub const CONFLICT: &str = "Conflict";
    /// The platform already has what this object would create, no object owns it,
    /// and the object does not carry the adoption opt-in.
    pub const ALREADY_EXISTS: &str = "AlreadyExists";
    /// OCCustomer: the platform shows the lead suspended or removed; it is looked at
    /// again on a timer, so it becomes Ready by itself once the lead is active.
    pub const LEAD_NOT_ACTIVE: &str = "LeadNotActive";
    /// OCNumberBlock `NumbersUploaded=False`: the platform refused some numbers.
    pub const PARTLY_FAILED: &str = "PartlyFailed";
    /// OCNumberBlock: numbers that left the spec stay, being assigned in Teams.
    pub const NUMBERS_ASSIGNED: &str = "NumbersAssigned";
    /// OCEndUser: the customer's licence does not allow end users yet; the user goes
    /// on by itself once the customer's licence is upgraded.
    pub const LICENSE_REQUIRED: &str = "LicenseRequired";
    /// `ChannelAssigned=False`: the spec names no channel.
    pub const NO_CHANNEL: &str = "NoChannel";
    pub const PAUSED: &str = "Paused";
    pub const WAITING_FOR_PLATFORM: &str = "WaitingForPlatform";
    pub const WAITING_FOR_DEPENDENCY: &str = "WaitingForDependency";
    pub const NAMESPACE_NOT_ALLOWED: &str = "NamespaceNotAllowed";
    /// Reasons of `Synced`.
    pub const SUCCEEDED: &str = "Succeeded";
    pub const THROTTLED: &str = "Throttled";
    pub const API_UNAVAILABLE: &str = "ApiUnavailable";
    pub const UNAUTHORIZED: &str = "Unauthorized";
    pub const RECONCILE_ERROR: &str = "ReconcileError";
}

/// The condition of `type_` in `conditions`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether `type_` is `True` and was written for `generation`.
pub fn is_true_for(conditions: &[Condition], type_: &str, generation: Option<i64>) -> bool {
    find(conditions, type_)
        .is_some_and(|c| c.status == "True" && c.observed_generation == generation)
}
