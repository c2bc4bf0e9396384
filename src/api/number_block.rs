//! `OCNumberBlock`: a set of phone numbers of one customer.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::kind::declare_kind;

use super::common::{DeletionPolicy, LocalObjectRef, ManagementPolicy, Operation};
use super::status::{OwnerStatus, ReconcileStatus};

declare_kind! {
    /// Phone numbers acquired for one customer: explicit numbers and ranges, uploaded to
    /// the Live Platform with one calling profile, usage and set of capabilities, and
    /// released when they leave the spec or the block is deleted.
    resource(
        kind = "OCNumberBlock",
        plural = "ocnumberblocks",
        shortname = "ocnb",
        namespaced,
        status = "OCNumberBlockStatus",
        doc = "Phone numbers of one Operator Connect customer."
    )
    columns(
        printcolumn(name = "Customer", type_ = "string", json_path = ".spec.customerRef.name"),
        printcolumn(name = "Declared", type_ = "integer", json_path = ".status.counts.declared"),
        printcolumn(name = "Active", type_ = "integer", json_path = ".status.counts.active")
    )
    #[x_kube(validation = Rule::new("(has(self.numbers) ? size(self.numbers) : 0) + (has(self.ranges) ? size(self.ranges) : 0) > 0").message("give at least one number or range"))]
    #[x_kube(validation = Rule::new("!has(self.locationId) || has(self.civicAddressId)").message("locationId needs civicAddressId"))]
    #[serde(rename_all = "camelCase")]
    pub struct OCNumberBlockSpec {
        /// The OCCustomer (same namespace) the numbers belong to. Cannot change.
        #[x_kube(validation = Rule::new("self == oldSelf").message("customerRef is immutable; create a new OCNumberBlock instead"))]
        pub customer_ref: LocalObjectRef,

        /// Numbers in E.164 form (`+` then 2 to 15 digits, no leading zero).
        #[serde(default)]
        #[schemars(length(max = 5000))]
        #[x_kube(merge_strategy = ListMerge::Set)]
        pub numbers: Vec<E164>,

        /// Inclusive ranges of numbers, each at most 10000 numbers that differ only in
        /// their last four digits. No two ranges overlap: each number is declared once.
        #[serde(default)]
        #[schemars(length(max = 50))]
        #[x_kube(validation = Rule::new(
            "self.all(a, self.exists_one(b, size(a.start) == size(b.start) && a.start <= b.end && b.start <= a.end))"
        ).message("ranges overlap or repeat: declare each number once"))]
        pub ranges: Vec<NumberRange>,

        /// The calling profile to upload with (see the OCPlatform's
        /// `status.callingProfiles`).
        #[schemars(regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        ))]
        pub calling_profile_id: String,

        /// What the numbers are for.
        pub usage: Usage,

        /// Capabilities to acquire with the numbers.
        #[serde(default)]
        #[schemars(length(max = 7))]
        #[x_kube(merge_strategy = ListMerge::Set)]
        pub capabilities: Vec<Capability>,

        /// Emergency civic address id for the numbers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 64))]
        pub civic_address_id: Option<String>,

        /// Location id inside the civic address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 64))]
        pub location_id: Option<String>,

        /// What to do when a number to release is assigned in Teams: `Keep` (default)
        /// leaves it and says so in a condition; `Unassign` unassigns it first.
        #[serde(default)]
        pub assigned_number_policy: AssignedNumberPolicy,

        /// `Delete` (default) releases the numbers when the block is deleted; `Orphan`
        /// leaves them with the customer.
        #[serde(default)]
        pub deletion_policy: DeletionPolicy,

        /// `Manage` (default) carries this spec out on the platform. `ObserveOnly` only
        /// reads the platform and compares it with the spec: nothing is ever written,
        /// also not when the object is deleted, and `status.plannedActions` lists the calls
        /// `Manage` would make. An OCPlatform with `managementPolicy: ObserveOnly` makes
        /// every object on it observe only.
        #[serde(default)]
        pub management_policy: ManagementPolicy,
    }
}

/// A number in E.164 form.
#[derive(
    Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct E164(
    #[schemars(length(min = 3, max = 16), regex(pattern = r"^\+[1-9][0-9]{1,14}$"))] pub String,
);

/// An inclusive range of numbers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("size(self.start) == size(self.end)").message("start and end must have the same number of digits"))]
#[x_kube(validation = Rule::new("self.start <= self.end").message("start must not come after end"))]
#[x_kube(validation = Rule::new(
    "size(self.start) != size(self.end) || self.start.substring(0, size(self.start) - 4) == self.end.substring(0, size(self.end) - 4)"
).message("start and end must differ only in their last four digits (at most 10000 numbers, same country and area prefix)"))]
pub struct NumberRange {
    /// First number of the range (E.164, at least 7 digits).
    #[schemars(length(min = 8, max = 16), regex(pattern = r"^\+[1-9][0-9]{6,14}$"))]
    pub start: String,
    /// Last number of the range (E.164, same length as `start`).
    #[schemars(length(min = 8, max = 16), regex(pattern = r"^\+[1-9][0-9]{6,14}$"))]
    pub end: String,
}

/// Number usage.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum Usage {
    CallingUserAssignment,
    ConferenceAssignment,
    FirstPartyAppAssignment,
    ThirdPartyAppAssignment,
}

/// Number capability.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema,
)]
pub enum Capability {
    InboundCalling,
    OutboundCalling,
    Office365,
    UserAssignment,
    FirstPartyAppAssignment,
    ConferenceAssignment,
    TollFree,
}

/// Release handling of numbers that are assigned in Teams.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum AssignedNumberPolicy {
    /// Leave assigned numbers in place; a condition names them.
    #[default]
    Keep,
    /// Unassign them, then release them.
    Unassign,
}

/// What the operator last saw of the numbers on the platform.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCNumberBlockStatus {
    /// The fields every kind's status shares: `conditions`, `observedGeneration`,
    /// `lastChecked`, `rejectedGeneration`.
    #[serde(flatten)]
    pub reconcile: ReconcileStatus,
    /// The fields of every kind that owns a platform object: `plannedActions`,
    /// `ownedSince`.
    #[serde(flatten)]
    pub ownership: OwnerStatus,
    /// Numbers by state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<NumberCounts>,
    /// The active numbers, compressed as ranges (`+14255550100-+14255550199`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active: Vec<String>,
    /// Numbers the platform refused, with the reason (at most 50 listed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedNumber>,
    /// While the block is deleted: how far the release of its numbers has come.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseProgress>,
    /// A write in flight, recorded before it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    /// Uploads of a large block whose tasks the platform still runs, each with its
    /// numbers and, once the platform answered, its task id. The requests that fit
    /// (at most eight uploads of one block at once) are recorded here together before
    /// the first of them is sent; an entry without a task id after that (its answer
    /// was lost, or the operator stopped) is looked up on the platform before anything
    /// is written again. Each is followed to its end, and the block is Ready only once
    /// none is left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub running: Vec<Operation>,
}

/// The release of a deleted block's numbers, which goes a request of at most 1,000
/// numbers at a time within the platform's release limit.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseProgress {
    /// Numbers the block held on the platform when the release began.
    pub total: i64,
    /// Numbers released so far.
    pub released: i64,
    /// Numbers still on the platform.
    pub remaining: i64,
    /// About how many seconds the rest takes: the release requests still to send, each
    /// as long as the platform's release tasks have taken lately. Absent until a
    /// release task has been seen to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_seconds_left: Option<i64>,
}

/// Numbers of the block by state.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NumberCounts {
    /// Numbers the spec declares, its ranges counted in full.
    pub declared: i64,
    /// Declared numbers the platform holds for the customer.
    pub active: i64,
    /// Declared numbers in an upload task that has not ended yet.
    pub uploading: i64,
    /// Declared numbers the platform refused (see `failedNumbers`).
    pub failed: i64,
    /// Numbers that left the spec and are being released from the customer.
    pub releasing: i64,
    /// Numbers left out of a release because they are assigned (policy `Keep`).
    pub retained: i64,
}

/// A number the platform refused.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedNumber {
    /// The refused number, in E.164 form.
    pub number: String,
    /// Why it was refused: the error code the upload task gave, such as
    /// `number_in_use`, or `validation_failed` when the platform's validation, asked
    /// after the refusal, found the number unusable.
    pub reason: String,
    /// What the platform said about the number and, where it says it, what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
