//! Calling profiles and their SBCs.

use serde::Deserialize;

use super::common::{lenient_bool, lenient_string};

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct CallingProfile {
    pub calling_profile_id: String,
    pub name: Option<String>,
    /// Spelled `enviroment` by the platform [doc].
    pub enviroment: Option<String>,
    pub region: Option<String>,
    pub carrier: Option<String>,
    pub offer_types: Vec<OfferType>,
    #[serde(deserialize_with = "lenient_bool")]
    pub is_emergency_profile: bool,
    pub trunks_enrolled: Vec<Trunk>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct OfferType {
    pub offer_type_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Trunk {
    pub trunk_fqdn: Option<String>,
    pub matching_sbc_list: Vec<Sbc>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Sbc {
    #[serde(deserialize_with = "lenient_string")]
    pub sbc_id: Option<String>,
    pub fqdn: Option<String>,
    pub name: Option<String>,
}

/// One row of Map Calling Profiles to SBC Devices.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SbcMapping {
    pub calling_profile_id: String,
    pub sbcs: Vec<Sbc>,
}
