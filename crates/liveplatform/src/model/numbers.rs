//! Numbers: validation, upload, release, unassign, listings.

use serde::{Deserialize, Serialize};

use super::common::{lenient_bool, lenient_string};
use crate::contract::{UPLOAD_WORKFLOW_VERSION, number_status};

/// Body of Validate Single Number.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ValidateNumbers {
    pub telephone_numbers: Vec<String>,
    pub ms_tenant_id: String,
}

/// Answer of Validate Single Number.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NumberValidation {
    /// `Success` or `Failed`.
    pub validation_result: String,
    pub telephone_numbers: Vec<NumberValidationItem>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NumberValidationItem {
    pub telephone_number: String,
    pub validation_result: String,
    #[serde(deserialize_with = "lenient_string")]
    pub action_required: Option<String>,
    pub validation_detail: Vec<serde_json::Value>,
    /// Spelled `telphoneNumberDetail` by the platform [doc].
    pub telphone_number_detail: Option<NumberDetail>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NumberDetail {
    #[serde(deserialize_with = "lenient_bool")]
    pub number_found: bool,
    pub assignment_status: Option<String>,
}

/// Number usage [doc].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum Usage {
    CallingUserAssignment,
    ConferenceAssignment,
    FirstPartyAppAssignment,
    ThirdPartyAppAssignment,
}

/// Number capabilities [doc].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    InboundCalling,
    OutboundCalling,
    Office365,
    UserAssignment,
    FirstPartyAppAssignment,
    ConferenceAssignment,
    TollFree,
}

/// Body of Upload Numbers to Customer.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UploadNumbers {
    pub calling_profile: String,
    pub usage: Usage,
    pub capabilities: Vec<Capability>,
    pub phone_numbers_list: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub civic_address_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    pub workflow_version: i64,
}

impl UploadNumbers {
    pub fn new(calling_profile: impl Into<String>, usage: Usage, numbers: Vec<String>) -> Self {
        Self {
            calling_profile: calling_profile.into(),
            usage,
            capabilities: Vec::new(),
            phone_numbers_list: numbers,
            civic_address_id: None,
            location_id: None,
            workflow_version: UPLOAD_WORKFLOW_VERSION,
        }
    }
}

/// An inclusive range of numbers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NumberRange {
    pub start: String,
    pub end: String,
}

/// Body of Release Numbers from Customer: numbers or ranges.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub enum ReleaseNumbers {
    #[serde(rename = "telephoneNumbers")]
    Numbers(Vec<String>),
    #[serde(rename = "phoneNumberRanges")]
    Ranges(Vec<NumberRange>),
}

/// Body of Unassign Numbers.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UnassignNumbers {
    pub telephone_numbers: Vec<String>,
}

/// Answer of upload, release and unassign: a task to follow.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct TaskStarted {
    pub task_id: String,
}

/// A number of a customer, from Get Customer Numbers V2 or V3.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NumberRecord {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    pub telephone_number: String,
    pub calling_profile_id: Option<String>,
    /// `webapi`, `webui`, `ocsync`.
    pub source: Option<String>,
    /// `Active`, `Release Requested`, `Marked For Removal`, `Ready For Removal`.
    pub acquired_number_status: String,
    /// `Unassigned`, `UserAssigned`, `ConferenceAssigned`, `VoiceApp`.
    pub assignment_status: String,
    pub acquired_capabilities: Vec<String>,
    pub iso_country_code: Option<String>,
    pub civic_address_id: Option<String>,
    pub location_id: Option<String>,
    pub tenant_id: Option<String>,
    pub upload_to_account_job_id: Option<String>,
    pub sbc_list: Vec<SbcRef>,
    pub ump_customer_guid: Option<String>,
}

impl NumberRecord {
    /// The statuses the platform lists (see `contract::number_status`).
    pub const UNASSIGNED: &'static str = number_status::UNASSIGNED;
    pub const USER_ASSIGNED: &'static str = number_status::USER_ASSIGNED;
    pub const ACTIVE: &'static str = number_status::ACTIVE;
    pub const RELEASE_REQUESTED: &'static str = number_status::RELEASE_REQUESTED;
    pub const UPLOAD_REQUESTED: &'static str = number_status::UPLOAD_REQUESTED;

    pub fn is_assigned(&self) -> bool {
        !self.assignment_status.is_empty()
            && !self
                .assignment_status
                .eq_ignore_ascii_case(Self::UNASSIGNED)
    }

    pub fn is_active(&self) -> bool {
        self.acquired_number_status
            .eq_ignore_ascii_case(Self::ACTIVE)
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SbcRef {
    pub sbc_name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub sbc_id: Option<String>,
}

/// Query of Get Customer Numbers (V3).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NumbersQuery {
    pub acquired_number_status: Option<String>,
    pub page_number: Option<u32>,
    pub page_size: Option<u32>,
}
