//! `OCCustomer`: one Microsoft tenant as a consentless lead and a licensed customer.

use std::collections::BTreeMap;

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::kind::declare_kind;

use super::common::{DeletionPolicy, ManagementPolicy, Operation, PlatformRef};
use super::status::{OwnerStatus, ReconcileStatus};

declare_kind! {
    /// One enterprise on Operator Connect: its Microsoft tenant becomes a consentless lead
    /// on the Live Platform, is put in a channel, and is licensed as a customer.
    resource(
        kind = "OCCustomer",
        plural = "occustomers",
        shortname = "occ",
        namespaced,
        status = "OCCustomerStatus",
        doc = "A Microsoft tenant on Operator Connect: consentless lead, channel, and licensed customer."
    )
    columns(
        printcolumn(name = "Tenant", type_ = "string", json_path = ".spec.tenantId"),
        printcolumn(name = "Customer ID", type_ = "string", json_path = ".status.customerId"),
        printcolumn(name = "License", type_ = "string", json_path = ".status.license.type")
    )
    #[serde(rename_all = "camelCase")]
    pub struct OCCustomerSpec {
        /// The OCPlatform (cluster-scoped) this customer lives on. The platform must allow
        /// this namespace. Cannot change.
        #[x_kube(validation = Rule::new("self == oldSelf").message("platformRef is immutable; create a new OCCustomer instead"))]
        pub platform_ref: PlatformRef,

        /// The customer's Microsoft Entra tenant id (a GUID). Cannot change.
        #[schemars(regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        ))]
        #[x_kube(validation = Rule::new("self == oldSelf").message("tenantId is immutable; create a new OCCustomer instead"))]
        pub tenant_id: String,

        /// The company name of the lead; unique on the platform.
        #[schemars(length(min = 1, max = 256))]
        pub company_name: String,

        /// The channel the lead belongs to. Changing it moves the lead; removing it takes
        /// the lead out of its channel.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 1))]
        pub channel_id: Option<i64>,

        /// The customer's short name on the platform: 3 to 15 characters, no spaces, dots
        /// or any of `\ / : * ? " < > |`; unique on the platform. Cannot change.
        #[schemars(regex(pattern = r#"^[^\s.\\/:*?"<>|]{3,15}$"#))]
        #[x_kube(validation = Rule::new("self == oldSelf").message("shortName is immutable; create a new OCCustomer instead"))]
        pub short_name: String,

        /// The customer's full name on the platform.
        #[schemars(length(min = 1, max = 256))]
        pub full_name: String,

        /// How the customer is configured on the platform. Cannot change.
        #[serde(default)]
        #[x_kube(validation = Rule::new("self == oldSelf").message("configurationType is immutable; create a new OCCustomer instead"))]
        pub configuration_type: ConfigurationType,

        /// Parameters of the platform's onboarding script for this customer. Secrets do
        /// not belong here.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        #[schemars(extend("maxProperties" = 64))]
        pub script_parameters: BTreeMap<String, String>,

        /// The licence: its type, and for OC Essentials Plus and OC Pro, how many.
        #[serde(default)]
        pub license: License,

        /// `Delete` (default) deletes the service and the lead when this object is
        /// deleted; `Orphan` leaves them on the platform.
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

/// `configurationName` of the platform's customer creation.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum ConfigurationType {
    /// `OcEssential_TENANT_TYPE`: the customer's Teams tenant is configured directly.
    #[default]
    TenantType,
    /// `OcEssential_IPGROUP_TYPE`: the customer gets IP groups on a shared SBC.
    IpGroupType,
}

/// The customer's licence.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.type == 'OcEssentials' || has(self.count)").message("license.count is required for OcEssentialsPlus and OcPro"))]
#[x_kube(validation = Rule::new("self.type != 'OcEssentials' || !has(self.count)").message("license.count applies only to OcEssentialsPlus and OcPro"))]
#[x_kube(validation = Rule::new("oldSelf.type == 'OcEssentials' || self.type != 'OcEssentials'").message("a licence cannot go back to OcEssentials once upgraded"))]
pub struct License {
    /// `OcEssentials` (the licence a new customer gets), `OcEssentialsPlus` or `OcPro`.
    /// An OcEssentials customer is upgraded once; after that it switches between
    /// OcEssentialsPlus and OcPro.
    #[serde(default, rename = "type")]
    pub type_: LicenseType,
    /// Number of licences (OcEssentialsPlus and OcPro only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000000))]
    pub count: Option<i64>,
}

/// Licence types a declared customer may have.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
pub enum LicenseType {
    /// OC Essentials (platform code 3).
    #[default]
    OcEssentials,
    /// OC Essentials Plus (platform code 4); needed for end users.
    OcEssentialsPlus,
    /// OC Pro (platform code 5); needed for end users.
    OcPro,
}

impl LicenseType {
    /// The platform's numeric code.
    pub fn code(self) -> i64 {
        match self {
            LicenseType::OcEssentials => 3,
            LicenseType::OcEssentialsPlus => 4,
            LicenseType::OcPro => 5,
        }
    }

    /// The name the status's licence carries (`OcEssentialsPlus`).
    pub fn name(self) -> &'static str {
        match self {
            LicenseType::OcEssentials => "OcEssentials",
            LicenseType::OcEssentialsPlus => "OcEssentialsPlus",
            LicenseType::OcPro => "OcPro",
        }
    }

    /// The licence type of a [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            LicenseType::OcEssentials,
            LicenseType::OcEssentialsPlus,
            LicenseType::OcPro,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }

    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            3 => Some(LicenseType::OcEssentials),
            4 => Some(LicenseType::OcEssentialsPlus),
            5 => Some(LicenseType::OcPro),
            _ => None,
        }
    }

    /// Whether a customer with this licence may have end users (the platform's rule,
    /// see `liveplatform::model::LicenseType::allows_end_users`).
    pub fn allows_end_users(self) -> bool {
        liveplatform::model::LicenseType::from_code(self.code())
            .is_some_and(liveplatform::model::LicenseType::allows_end_users)
    }
}

/// What the operator last saw of the customer on the platform.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCCustomerStatus {
    /// The fields every kind's status shares: `conditions`, `observedGeneration`,
    /// `lastChecked`, `rejectedGeneration`.
    #[serde(flatten)]
    pub reconcile: ReconcileStatus,
    /// The fields of every kind that owns a platform object: `plannedActions`,
    /// `ownedSince`.
    #[serde(flatten)]
    pub ownership: OwnerStatus,
    /// Whether Microsoft Entra ID knew the tenant when the operator asked, before it
    /// created the lead. It is asked once: an operator that restarts before the lead
    /// exists does not ask again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tenant_validated: bool,
    /// The lead's id on the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    /// The customer's id on the platform (`umpCustomerGuid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Whether the operator created this customer on the platform (rather than
    /// taking over one that existed). Nothing of such a customer can be on the
    /// platform that the operator did not put there, so its SIP connections and end
    /// users send their first writes without looking for earlier ones first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created_by_operator: bool,
    /// The channel the lead is in on the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<i64>,
    /// The licence on the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<LicenseStatus>,
    /// The customer's default domain (`MsDefaultDomain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_domain: Option<String>,
    /// A write in flight, recorded before it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
}

/// The licence as the platform reports it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseStatus {
    /// The licence type the platform reports, such as `OcEssentials` or `OcPro`.
    #[serde(rename = "type")]
    pub type_: String,
    /// How many user licences the customer holds, as the platform reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Licensed users, from the latest licence info record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currently_licensed: Option<i64>,
    /// Numbers the platform manages for the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_service_numbers: Option<i64>,
    /// Date of the latest licence info record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update: Option<String>,
}
