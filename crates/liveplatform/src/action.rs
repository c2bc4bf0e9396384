//! The actions of the Live Platform API, as named in its reference. Errors, metrics
//! and rate limits all speak of actions.

use std::fmt;

use super::contract::{self, WindowLimit};

/// One action of the API reference (sections 1 to 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    GetToken,
    ValidateTenant,
    CreateLead,
    GetLead,
    ListLeads,
    DeleteLead,
    AssignChannel,
    RemoveChannel,
    CreateChannel,
    GetChannel,
    CreateCustomer,
    UpgradeLicense,
    ChangeLicense,
    GetLicenseInfo,
    ListServices,
    ListCustomersBrief,
    GetCustomer,
    DeleteService,
    GetCallingProfiles,
    GetSbcMapping,
    ValidateNumbers,
    UploadNumbers,
    ReleaseNumbers,
    UnassignNumbers,
    ListNumbersV2,
    ListNumbersV3,
    AddSipConnection,
    ModifySipConnection,
    GetSipConnection,
    DeleteSipConnection,
    ListEndUsers,
    ProvisionEndUser,
    GetDialPlan,
    ModifyDialPlan,
    DeleteDialPlan,
    GetTask,
}

impl Action {
    /// Every action, for metrics and tests.
    pub const ALL: [Action; 36] = [
        Action::GetToken,
        Action::ValidateTenant,
        Action::CreateLead,
        Action::GetLead,
        Action::ListLeads,
        Action::DeleteLead,
        Action::AssignChannel,
        Action::RemoveChannel,
        Action::CreateChannel,
        Action::GetChannel,
        Action::CreateCustomer,
        Action::UpgradeLicense,
        Action::ChangeLicense,
        Action::GetLicenseInfo,
        Action::ListServices,
        Action::ListCustomersBrief,
        Action::GetCustomer,
        Action::DeleteService,
        Action::GetCallingProfiles,
        Action::GetSbcMapping,
        Action::ValidateNumbers,
        Action::UploadNumbers,
        Action::ReleaseNumbers,
        Action::UnassignNumbers,
        Action::ListNumbersV2,
        Action::ListNumbersV3,
        Action::AddSipConnection,
        Action::ModifySipConnection,
        Action::GetSipConnection,
        Action::DeleteSipConnection,
        Action::ListEndUsers,
        Action::ProvisionEndUser,
        Action::GetDialPlan,
        Action::ModifyDialPlan,
        Action::DeleteDialPlan,
        Action::GetTask,
    ];

    /// The action's name as the manuals title it.
    pub fn title(self) -> &'static str {
        match self {
            Action::GetToken => "Get Token",
            Action::ValidateTenant => "Validate Tenant Id",
            Action::CreateLead => "Create Consentless Lead",
            Action::GetLead => "Get Specific OC Lead",
            Action::ListLeads => "Get All OC Leads",
            Action::DeleteLead => "Delete Consentless Lead",
            Action::AssignChannel => "Assign Consentless Lead to Channel",
            Action::RemoveChannel => "Remove Lead from Channel",
            Action::CreateChannel => "Create Channel",
            Action::GetChannel => "Get Channel",
            Action::CreateCustomer => "Create Customer from Lead",
            Action::UpgradeLicense => "Upgrade OC Customer License",
            Action::ChangeLicense => "Upgrade or Downgrade License",
            Action::GetLicenseInfo => "Get License Info",
            Action::ListServices => "Get Services Brief",
            Action::ListCustomersBrief => "Get Customers Brief",
            Action::GetCustomer => "Get Specific Customer",
            Action::DeleteService => "Delete Service",
            Action::GetCallingProfiles => "Retrieve Calling Profiles",
            Action::GetSbcMapping => "Map Calling Profiles to SBC Devices",
            Action::ValidateNumbers => "Validate Single Number",
            Action::UploadNumbers => "Upload Numbers to Customer",
            Action::ReleaseNumbers => "Release Numbers from Customer",
            Action::UnassignNumbers => "Unassign Numbers",
            Action::ListNumbersV2 => "Get Customer Numbers (V2)",
            Action::ListNumbersV3 => "Get Customer Numbers (V3)",
            Action::AddSipConnection => "Add SIP Connection",
            Action::ModifySipConnection => "Modify SIP Connection",
            Action::GetSipConnection => "Get SIP Connection",
            Action::DeleteSipConnection => "Delete SIP Connection",
            Action::ListEndUsers => "Get List of End Users",
            Action::ProvisionEndUser => "Provision Customer End User",
            Action::GetDialPlan => "Get DialPlans",
            Action::ModifyDialPlan => "Modify Dial Plan Content",
            Action::DeleteDialPlan => "Delete Dial Plan",
            Action::GetTask => "Get Task",
        }
    }

    /// A short machine name, for metric labels.
    pub fn label(self) -> &'static str {
        match self {
            Action::GetToken => "get_token",
            Action::ValidateTenant => "validate_tenant",
            Action::CreateLead => "create_lead",
            Action::GetLead => "get_lead",
            Action::ListLeads => "list_leads",
            Action::DeleteLead => "delete_lead",
            Action::AssignChannel => "assign_channel",
            Action::RemoveChannel => "remove_channel",
            Action::CreateChannel => "create_channel",
            Action::GetChannel => "get_channel",
            Action::CreateCustomer => "create_customer",
            Action::UpgradeLicense => "upgrade_license",
            Action::ChangeLicense => "change_license",
            Action::GetLicenseInfo => "get_license_info",
            Action::ListServices => "list_services",
            Action::ListCustomersBrief => "list_customers_brief",
            Action::GetCustomer => "get_customer",
            Action::DeleteService => "delete_service",
            Action::GetCallingProfiles => "get_calling_profiles",
            Action::GetSbcMapping => "get_sbc_mapping",
            Action::ValidateNumbers => "validate_numbers",
            Action::UploadNumbers => "upload_numbers",
            Action::ReleaseNumbers => "release_numbers",
            Action::UnassignNumbers => "unassign_numbers",
            Action::ListNumbersV2 => "list_numbers_v2",
            Action::ListNumbersV3 => "list_numbers_v3",
            Action::AddSipConnection => "add_sip_connection",
            Action::ModifySipConnection => "modify_sip_connection",
            Action::GetSipConnection => "get_sip_connection",
            Action::DeleteSipConnection => "delete_sip_connection",
            Action::ListEndUsers => "list_end_users",
            Action::ProvisionEndUser => "provision_end_user",
            Action::GetDialPlan => "get_dial_plan",
            Action::ModifyDialPlan => "modify_dial_plan",
            Action::DeleteDialPlan => "delete_dial_plan",
            Action::GetTask => "get_task",
        }
    }

    /// Whether the action changes platform state. A write whose answer is lost is
    /// never repeated by the client: the caller looks the state up first.
    /// Validate Single Number is a POST but reads only.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Action::CreateLead
                | Action::DeleteLead
                | Action::AssignChannel
                | Action::RemoveChannel
                | Action::CreateChannel
                | Action::CreateCustomer
                | Action::UpgradeLicense
                | Action::ChangeLicense
                | Action::DeleteService
                | Action::UploadNumbers
                | Action::ReleaseNumbers
                | Action::UnassignNumbers
                | Action::AddSipConnection
                | Action::ModifySipConnection
                | Action::DeleteSipConnection
                | Action::ProvisionEndUser
                | Action::ModifyDialPlan
                | Action::DeleteDialPlan
        )
    }

    /// The documented per-endpoint limit of the action, if any.
    pub fn window_limit(self) -> Option<WindowLimit> {
        match self {
            Action::ReleaseNumbers => Some(contract::RELEASE_LIMIT),
            Action::AssignChannel => Some(contract::CHANNEL_ASSIGN_LIMIT),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}
