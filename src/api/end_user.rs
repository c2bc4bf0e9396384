//! `OCEndUser`: one Teams user's voice settings.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::kind::declare_kind;

use super::common::{DeletionPolicy, LocalObjectRef, ManagementPolicy, Operation, default_true};
use super::status::{OwnerStatus, ReconcileStatus};

declare_kind! {
    /// A Teams user of a customer, provisioned for voice: line URI, policies, usage
    /// location and address. Needs an OC Essentials Plus or OC Pro licence.
    resource(
        kind = "OCEndUser",
        plural = "ocendusers",
        shortname = "ocu",
        namespaced,
        status = "OCEndUserStatus",
        doc = "The voice settings of one Teams user of an Operator Connect customer."
    )
    columns(
        printcolumn(name = "SIP Address", type_ = "string", json_path = ".spec.sipAddress"),
        printcolumn(name = "Line URI", type_ = "string", json_path = ".spec.lineUri")
    )
    #[serde(rename_all = "camelCase")]
    pub struct OCEndUserSpec {
        /// The OCCustomer (same namespace). Cannot change.
        #[x_kube(validation = Rule::new("self == oldSelf").message("customerRef is immutable; create a new OCEndUser instead"))]
        pub customer_ref: LocalObjectRef,

        /// The user's SIP address (user principal name), such as `adele@contoso.com`: a
        /// name, `@`, and a domain of at least two labels, none of them empty. Cannot
        /// change.
        #[schemars(
            length(max = 256),
            regex(pattern = r"^[^@\s:]+@[^@\s.]+(\.[^@\s.]+)+$")
        )]
        #[x_kube(validation = Rule::new("self == oldSelf").message("sipAddress is immutable; create a new OCEndUser instead"))]
        pub sip_address: String,

        /// The user's phone number as a line URI, `tel:+<E.164>` with an optional
        /// `;ext=<digits>`. The number must be an active number of the customer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(regex(pattern = r"^tel:\+[1-9][0-9]{1,14}(;ext=[0-9]{1,10})?$"))]
        pub line_uri: Option<String>,

        /// ISO 3166 alpha-2 country of use, such as `US`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(regex(pattern = r"^[A-Z]{2}$"))]
        pub usage_location: Option<String>,

        /// The user's first name, as the platform shows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 64))]
        pub first_name: Option<String>,
        /// The user's last name, as the platform shows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 64))]
        pub last_name: Option<String>,
        /// The department the user works in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 64))]
        pub department: Option<String>,
        /// The user's office, such as a building or a room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 128))]
        pub office: Option<String>,

        /// The user's address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub address: Option<Address>,

        /// Enable Enterprise Voice for the user.
        #[serde(default = "default_true")]
        pub enterprise_voice_enabled: bool,

        /// Teams calling policy to grant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 128))]
        pub teams_calling_policy: Option<String>,

        /// Online voice routing policy to grant.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(length(min = 1, max = 128))]
        pub online_voice_routing_policy: Option<String>,

        /// Enable hosted voicemail.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub hosted_voicemail: Option<bool>,

        /// `Delete` (default) takes the line URI and voice off the user when this object
        /// is deleted; `Orphan` leaves the user as it is.
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

/// A postal address.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// The street and house number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub street_address: Option<String>,
    /// The city.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub city: Option<String>,
    /// The postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    pub postal_code: Option<String>,
    /// The state or province.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub state_or_province: Option<String>,
}

/// What the platform reports for the user.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCEndUserStatus {
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
    /// The user's object id in Entra ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// The line URI the platform reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_uri: Option<String>,
    /// Whether the platform reports Enterprise Voice enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise_voice_enabled: Option<bool>,
    /// The voice routing policy the platform reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_voice_routing_policy: Option<String>,
    /// A write in flight, recorded before it is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
}
