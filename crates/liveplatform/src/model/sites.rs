//! SIP connections (site locations).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::{lenient_bool, lenient_i64, lenient_string};
use crate::secret::Secret;

/// Body of Add SIP Connection. The carrier password travels inside
/// `scriptParameters.CarrierUserPassword`; it is held apart as a [`Secret`] so that
/// `Debug` never shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AddSipConnection {
    pub site_location_name: String,
    /// `IPGROUP_TYPE` [doc].
    pub ovoc_customer_type: String,
    pub sbc_id: String,
    pub sbc_onboarding_script: Option<String>,
    pub sbc_cleanup_script: Option<String>,
    /// `CacProfile`, `ProxySet`, `OnlinePstnGateway`, `CarrierUserName`,
    /// `CarrierMainLine`, `CarrierHostName`, ...
    pub script_parameters: Map<String, Value>,
    pub carrier_password: Option<Secret>,
}

impl Serialize for AddSipConnection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut params = self.script_parameters.clone();
        if let Some(password) = &self.carrier_password {
            params.insert(
                "CarrierUserPassword".into(),
                Value::String(password.expose().to_owned()),
            );
        }
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("siteLocationName", &self.site_location_name)?;
        map.serialize_entry("ovocCustomerType", &self.ovoc_customer_type)?;
        map.serialize_entry("sbcId", &self.sbc_id)?;
        if let Some(script) = &self.sbc_onboarding_script {
            map.serialize_entry("sbcOnboardingScript", script)?;
        }
        if let Some(script) = &self.sbc_cleanup_script {
            map.serialize_entry("sbcCleanupScript", script)?;
        }
        map.serialize_entry("scriptParameters", &params)?;
        map.end()
    }
}

/// Answer of Add SIP Connection [chosen shape].
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SipConnectionAdded {
    pub site_location_id: String,
    pub task_id: String,
}

/// Body of Modify SIP Connection [doc fields]. Fields left `None` are not sent.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ModifySipConnection {
    pub site_location_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbc_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbc_site_name: Option<String>,
    #[serde(rename = "CacProfile", skip_serializing_if = "Option::is_none")]
    pub cac_profile: Option<String>,
    #[serde(rename = "enableCAC", skip_serializing_if = "Option::is_none")]
    pub enable_cac: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_configure_sbc: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_carrier_registration: Option<bool>,
}

/// Get SIP Connection.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SipConnection {
    pub tenant_id: Option<String>,
    pub site_name: Option<String>,
    pub online_pstn_gateway: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub m365_deployment_state: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub sbc_deployment_state: Option<i64>,
    pub pending_tasks: Vec<Value>,
    pub sbc_info: Option<SbcInfo>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SbcInfo {
    pub sbc_configuration_type: Option<String>,
    pub cac_profile: Option<String>,
    pub carrier_user_name: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub flag_configure_sbc: bool,
    #[serde(deserialize_with = "lenient_string")]
    pub sbc_id: Option<String>,
    pub sbc_scripts: Option<SbcScripts>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SbcScripts {
    pub onboarding_script: Option<String>,
    pub cleanup_script: Option<String>,
    pub customer_variables: Option<Value>,
}

/// Answer of Delete SIP Connection.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SipConnectionDeleted {
    #[serde(deserialize_with = "lenient_bool")]
    pub status: bool,
    pub sbc_cleanup_task_id: Option<String>,
    pub o365_cleanup_task: Option<String>,
}
