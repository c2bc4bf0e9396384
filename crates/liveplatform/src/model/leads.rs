//! Leads (consentless "direct" leads) and channels.

use serde::{Deserialize, Serialize};

use super::common::{lenient_bool, lenient_i64};

/// Body of Create Consentless Lead.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CreateLead {
    pub tenant_id: String,
    pub company_name: String,
}

/// A lead as the platform reports it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Lead {
    pub id: String,
    pub tenant_id: String,
    #[serde(deserialize_with = "lenient_bool")]
    pub is_direct_lead: bool,
    /// `Active`, `Suspended` or `Removed`.
    pub status: String,
    pub ump_customer_guid: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub channel_id: Option<i64>,
    pub contact_details: Option<ContactDetails>,
}

impl Lead {
    /// The status of a lead that can be licensed and put in a channel [doc].
    pub const ACTIVE: &'static str = "Active";

    pub fn is_active(&self) -> bool {
        self.status.eq_ignore_ascii_case(Self::ACTIVE)
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ContactDetails {
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub company_name: Option<String>,
}

/// Query of Get All OC Leads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadQuery {
    pub ms_tenant_id: Option<String>,
    pub page_number: Option<u32>,
    pub page_size: Option<u32>,
    pub check_online: Option<bool>,
}

/// Which lead Assign to Channel means: exactly one of the three [doc].
#[derive(Debug, Clone, PartialEq)]
pub enum LeadRef {
    MsTenantId(String),
    LeadId(String),
    UmpCustomerGuid(String),
}

/// Body of Assign Consentless Lead to Channel.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignChannel {
    pub lead: LeadRef,
    pub channel_id: i64,
}

impl Serialize for AssignChannel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        match &self.lead {
            LeadRef::MsTenantId(v) => map.serialize_entry("leadMsTenantId", v)?,
            LeadRef::LeadId(v) => map.serialize_entry("leadId", v)?,
            LeadRef::UmpCustomerGuid(v) => map.serialize_entry("umpCustomerGuid", v)?,
        }
        map.serialize_entry("channelId", &self.channel_id)?;
        map.end()
    }
}

/// Answer of Assign Consentless Lead to Channel.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ChannelAssigned {
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub succeeded: bool,
    pub message: Option<String>,
}

/// Answer of Remove Lead from Channel.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ChannelRemoved {
    #[serde(deserialize_with = "lenient_bool")]
    pub status: bool,
    pub data: Option<String>,
}

/// Body of Create Channel.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CreateChannel {
    pub name: String,
    pub tenant_id: i64,
    pub ms_tenant_id: String,
}

/// Answer of Create Channel.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ChannelCreated {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: Option<i64>,
    pub url: Option<String>,
}

/// A channel of the topology.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Channel {
    #[serde(deserialize_with = "lenient_i64")]
    pub id: Option<i64>,
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub tenant_id: Option<i64>,
    pub ms_tenant_id: Option<String>,
}

/// Result of Validate Tenant Id.
#[derive(Debug, Clone, PartialEq)]
pub enum TenantValidation {
    /// The tenant exists; its issuer as Entra ID reports it.
    Valid { issuer: String },
    /// Entra ID does not know the tenant.
    Unknown { error: String },
}
