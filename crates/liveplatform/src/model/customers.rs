//! Licences and customers ("services").

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::{lenient_i64, lenient_string};

/// Licence types [doc for 1, 2, 4, 5; chosen for 0 and 3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LicenseType {
    HostedEssentials = 0,
    HostedEssentialsPlus = 1,
    HostedPro = 2,
    OcEssentials = 3,
    OcEssentialsPlus = 4,
    OcPro = 5,
}

impl LicenseType {
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => Self::HostedEssentials,
            1 => Self::HostedEssentialsPlus,
            2 => Self::HostedPro,
            3 => Self::OcEssentials,
            4 => Self::OcEssentialsPlus,
            5 => Self::OcPro,
            _ => return None,
        })
    }

    pub fn code(self) -> i64 {
        self as i64
    }

    /// End users need OC Essentials Plus or OC Pro [doc].
    pub fn allows_end_users(self) -> bool {
        matches!(self, Self::OcEssentialsPlus | Self::OcPro)
    }
}

/// `configurationName` of Create Customer from Lead [doc].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigurationType {
    TenantType,
    IpGroupType,
}

impl ConfigurationType {
    pub fn configuration_name(self) -> &'static str {
        match self {
            Self::TenantType => "OcEssential_TENANT_TYPE",
            Self::IpGroupType => "OcEssential_IPGROUP_TYPE",
        }
    }
}

/// Body of Create Customer from Lead.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateCustomer {
    pub configuration: ConfigurationType,
    pub customer_short_name: String,
    pub customer_full_name: String,
    pub ms_tenant_id: String,
    pub script_parameters: Map<String, Value>,
}

impl Serialize for CreateCustomer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(5))?;
        map.serialize_entry("configurationName", self.configuration.configuration_name())?;
        map.serialize_entry("customerShortName", &self.customer_short_name)?;
        map.serialize_entry("customerFullName", &self.customer_full_name)?;
        map.serialize_entry("msTenantID", &self.ms_tenant_id)?;
        map.serialize_entry("scriptParameters", &self.script_parameters)?;
        map.end()
    }
}

/// Body of both licence changes (POST upgrade and PATCH).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LicenseChange {
    /// 4 (OC Essentials Plus) or 5 (OC Pro).
    pub upgrade_to_license: i64,
    pub license_count: i64,
}

impl LicenseChange {
    /// To licence type `to` (4 OC Essentials Plus, 5 OC Pro) with `count` licences.
    pub fn new(to: i64, count: i64) -> Self {
        Self {
            upgrade_to_license: to,
            license_count: count,
        }
    }
}

/// One day of Get License Info.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct LicenseInfo {
    #[serde(deserialize_with = "lenient_i64")]
    pub acquired_licenses: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub currently_licensed: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub managed_service_numbers: Option<i64>,
    pub last_update: Option<String>,
    pub ump_customer_guid: Option<String>,
}

/// A site location as Get Services lists it with `allDetails`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SiteLocationBrief {
    pub id: Option<String>,
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub sbc_id: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub sbc_deployment_state: Option<i64>,
    pub sbc_configuration_type: Option<String>,
}

/// One service of Get Services Brief (V3); the PascalCase answer, normalised.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Service {
    pub ump_customer_guid: String,
    pub customer_short_name: Option<String>,
    pub customer_full_name: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub license_type: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub licensed_users_count: Option<i64>,
    pub ms_tenant_id: Option<String>,
    pub site_location: Vec<SiteLocationBrief>,
}

/// One customer of Get Customers Brief (V2).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct CustomerBrief {
    pub id: String,
    pub short_name: Option<String>,
    pub full_name: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub license_type: Option<i64>,
}

/// Get Specific Customer. The application client secret the platform returns
/// (masked) is deliberately not kept.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct CustomerDetails {
    #[serde(flatten)]
    pub service: Service,
    pub ms_default_domain: Option<String>,
    pub application_client_id: Option<String>,
}
