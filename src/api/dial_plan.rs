//! `OCDialPlan`: the rules of one dial plan on a site.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::kind::declare_kind;

use super::common::{DeletionPolicy, LocalObjectRef, ManagementPolicy};
use super::status::{OwnerStatus, ReconcileStatus};

declare_kind! {
    /// The rules of one dial plan of a customer's site location (or of the customer
    /// itself, for a single-site customer).
    resource(
        kind = "OCDialPlan",
        plural = "ocdialplans",
        shortname = "ocdp",
        namespaced,
        status = "OCDialPlanStatus",
        doc = "The rules of a dial plan on an Operator Connect customer's site."
    )
    columns(
        printcolumn(name = "Dial Plan", type_ = "string", json_path = ".spec.dialPlanId"),
        printcolumn(name = "Rules", type_ = "integer", json_path = ".status.ruleCount")
    )
    #[x_kube(validation = Rule::new(
        "(has(self.sipConnectionRef) == has(oldSelf.sipConnectionRef)) && (!has(self.sipConnectionRef) || self.sipConnectionRef == oldSelf.sipConnectionRef)"
    ).message("sipConnectionRef is immutable; create a new OCDialPlan instead"))]
    #[serde(rename_all = "camelCase")]
    pub struct OCDialPlanSpec {
        /// The OCCustomer (same namespace). Cannot change.
        #[x_kube(validation = Rule::new("self == oldSelf").message("customerRef is immutable; create a new OCDialPlan instead"))]
        pub customer_ref: LocalObjectRef,

        /// The OCSipConnection (same namespace) whose site holds the dial plan. Leave it
        /// out for a single-site customer, whose site is the customer itself. Cannot change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub sip_connection_ref: Option<LocalObjectRef>,

        /// The dial plan, for example `CustDialPlan`, `RegisteredUsers`, `OCDialPlan`.
        /// Cannot change.
        #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
        #[x_kube(validation = Rule::new("self == oldSelf").message("dialPlanId is immutable; create a new OCDialPlan instead"))]
        pub dial_plan_id: String,

        /// The rules the dial plan must hold, keyed by name.
        #[serde(default)]
        #[schemars(length(max = 1000))]
        #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
        pub rules: Vec<DialPlanRule>,

        /// Rules on the platform that this object does not declare (added by others):
        /// `Keep` (default) leaves them and reports them as drift; `Remove` removes them.
        #[serde(default)]
        pub unmanaged_rules: UnmanagedRules,

        /// `Delete` (default) deletes the dial plan when this object is deleted; `Orphan`
        /// leaves it.
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

/// One dial plan rule.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct DialPlanRule {
    /// Unique name of the rule in the dial plan.
    #[schemars(regex(pattern = r"^[^\s]{1,64}$"))]
    pub name: String,
    /// The number prefix the rule matches.
    #[schemars(regex(pattern = r"^[0-9+*#A-Za-z._-]{1,64}$"))]
    pub prefix: String,
    /// Tag given to calls that match.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub tag: String,
}

/// Handling of rules the object does not declare.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum UnmanagedRules {
    /// Leave them and report them in status.
    #[default]
    Keep,
    /// Remove them.
    Remove,
}

/// What the operator last saw of the dial plan on the platform.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCDialPlanStatus {
    /// The fields every kind's status shares: `conditions`, `observedGeneration`,
    /// `lastChecked`, `rejectedGeneration`.
    #[serde(flatten)]
    pub reconcile: ReconcileStatus,
    /// The fields of every kind that owns a platform object: `plannedActions`,
    /// `ownedSince`.
    #[serde(flatten)]
    pub ownership: OwnerStatus,
    /// The site location the dial plan is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_location_id: Option<String>,
    /// Rules on the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_count: Option<i64>,
    /// Names of the rules this object put on the platform (removed again when they
    /// leave the spec).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_rules: Vec<String>,
    /// Names of rules on the platform that this object does not declare.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmanaged_rules: Vec<String>,
}
