//! Teams end users of a customer.

use serde::{Deserialize, Serialize};

use super::common::{lenient_bool, lenient_string};

/// One user of Get List of End Users (PascalCase on the wire, normalised).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndUser {
    pub identity: Option<String>,
    pub sip_address: Option<String>,
    #[serde(rename = "line_uri")]
    pub line_uri: Option<String>,
    pub usage_location: Option<String>,
    pub object_id: Option<String>,
    pub user_principal_name: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub enterprise_voice_enabled: bool,
    #[serde(deserialize_with = "lenient_string")]
    pub online_voice_routing_policy: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub teams_calling_policy: Option<String>,
    pub online_pstn_gateway: Option<String>,
}

/// Body of Provision Customer End User [doc fields; LineURI chosen]. Fields left
/// `None` are not sent.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionEndUser {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_or_province: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enterprise_voice_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teams_calling_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_voice_routing_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosted_voice_mail: Option<bool>,
    #[serde(rename = "LineURI", skip_serializing_if = "Option::is_none")]
    pub line_uri: Option<String>,
}
