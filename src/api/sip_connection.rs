//! `OCSipConnection`: one site location of a customer on an SBC.

use std::collections::BTreeMap;

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::kind::declare_kind;

use super::common::{
    DeletionPolicy, LocalObjectRef, ManagementPolicy, Operation, SecretKeyRef, default_true,
};
use super::status::{OwnerStatus, ReconcileStatus};

declare_kind! {
    /// A SIP connection: a site location of the customer on one SBC, configured by the
    /// platform's onboarding script and removed by its cleanup script.
    resource(
        kind = "OCSipConnection",
        plural = "ocsipconnections",
        shortname = "ocsip",
        namespaced,
        status = "OCSipConnectionStatus",
        doc = "A SIP connection (site location on an SBC) of an Operator Connect customer."
    )
    columns(
        printcolumn(name = "Site ID", type_ = "string", json_path = ".status.siteLocationId"),
        printcolumn(name = "SBC", type_ = "string", json_path = ".spec.sbcId")
    )
    #[x_kube(validation = Rule::new(
        "(has(self.onboardingScript) == has(oldSelf.onboardingScript)) && (!has(self.onboardingScript) || self.onboardingScript == oldSelf.onboardingScript)"
    ).message("onboardingScript is immutable; create a new OCSipConnection instead"))]
    #[x_kube(validation = Rule::new(
        "(has(self.cleanupScript) == has(oldSelf.cleanupScript)) && (!has(self.cleanupScript) || self.cleanupScript == oldSelf.cleanupScript)"
    ).message("cleanupScript is immutable; create a new OCSipConnection instead"))]
    #[serde(rename_all = "camelCase")]
    pub struct OCSipConnectionSpec {
        /// The OCCustomer (same namespace) this site belongs to. Cannot change.
        #[x_kube(validation = Rule::new("self == oldSelf").message("customerRef is immutable; create a new OCSipConnection instead"))]
        pub customer_ref: LocalObjectRef,

        /// The site location's name; unique per customer.
        #[schemars(regex(pattern = r"^[^/\\]{1,64}$"))]
        pub site_name: String,

        /// The SBC the site is configured on; it must be mapped by one of the platform's
        /// calling profiles (see the OCPlatform's `status.callingProfiles[].sbcs`).
        #[schemars(regex(pattern = r"^[A-Za-z0-9_.-]{1,64}$"))]
        pub sbc_id: String,

        /// `IpGroup` (default) or `Tenant`. Cannot change.
        #[serde(default)]
        #[x_kube(validation = Rule::new("self == oldSelf").message("customerType is immutable; create a new OCSipConnection instead"))]
        pub customer_type: SiteCustomerType,

        /// The SBC onboarding script to run. Cannot change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 128))]
        pub onboarding_script: Option<String>,

        /// The SBC cleanup script to run on delete. Cannot change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 128))]
        pub cleanup_script: Option<String>,

        /// Script parameters such as `ProxySet`, `OnlinePstnGateway`, `CarrierUserName`,
        /// `CarrierMainLine`, `CarrierHostName`. The carrier password never goes here: name
        /// its Secret in `carrierPasswordSecretRef`.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        #[schemars(extend("maxProperties" = 64))]
        #[x_kube(validation = Rule::new("!self.exists(k, k.lowerAscii() == 'carrieruserpassword')").message(
            "do not put the carrier password in scriptParameters; put it in a Secret and name it in carrierPasswordSecretRef"
        ))]
        pub script_parameters: BTreeMap<String, String>,

        /// The Secret (same namespace) and key holding the carrier password.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub carrier_password_secret_ref: Option<SecretKeyRef>,

        /// Call admission control profile of the site.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 64))]
        pub cac_profile: Option<String>,

        /// Enable call admission control.
        #[serde(default)]
        pub enable_cac: bool,

        /// Let the platform configure the SBC.
        #[serde(default = "default_true")]
        pub configure_sbc: bool,

        /// Register with the carrier.
        #[serde(default)]
        pub carrier_registration: bool,

        /// `Delete` (default) removes the site (running the cleanup script) when this
        /// object is deleted; `Orphan` leaves it.
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

/// `ovocCustomerType` of a site.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum SiteCustomerType {
    /// `IPGROUP_TYPE`
    #[default]
    IpGroup,
    /// `TENANT_TYPE`
    Tenant,
}

impl SiteCustomerType {
    pub fn platform_value(self) -> &'static str {
        match self {
            SiteCustomerType::IpGroup => "IPGROUP_TYPE",
            SiteCustomerType::Tenant => "TENANT_TYPE",
        }
    }
}

/// What the operator last saw of the site on the platform.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCSipConnectionStatus {
    /// The fields every kind's status shares: `conditions`, `observedGeneration`,
    /// `lastChecked`, `rejectedGeneration`.
    #[serde(flatten)]
    pub reconcile: ReconcileStatus,
    /// The fields of every kind that owns a platform object: `plannedActions`,
    /// `ownedSince`.
    #[serde(flatten)]
    pub ownership: OwnerStatus,
    /// The generation whose spec was last sent to the platform (a later one is sent
    /// when nothing is in flight).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_generation: Option<i64>,
    /// The site location id on the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_location_id: Option<String>,
    /// SBC deployment state (`NotDeployed`, `Deploying`, `Failed`, `Deployed`, `Removing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbc_deployment_state: Option<String>,
    /// Microsoft 365 deployment state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m365_deployment_state: Option<String>,
    /// A write in flight, recorded before it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
}
