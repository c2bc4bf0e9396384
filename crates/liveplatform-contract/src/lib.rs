//! Every detail of the Live Platform contract that the vendor's manuals leave open
//! ([chosen] in `live-platform-api.md`), and the documented constants beside them.
//! The client and the simulator both read them from here, so a real deployment that
//! shows otherwise needs a change in this one file. `casing` is the one wire
//! convention they share: property names compared without regard to their spelling.

use std::time::Duration;

pub mod casing;

/// Path of the REST root below the service provider's host [doc].
pub const API_ROOT: &str = "/tenantui/api";
/// Default Microsoft Entra ID identity base [doc].
pub const DEFAULT_IDENTITY_BASE: &str = "https://login.microsoftonline.com";
/// OAuth2 scope of the Live Platform application [doc].
pub const SCOPE: &str = "api://9d576dc4-b85d-4571-880e-4c6ed4c08c31/.default";
/// `client_assertion_type` of a federated credential (workload identity): the client
/// proves itself with a signed token from another issuer, here the pod's projected
/// ServiceAccount token, instead of a secret (RFC 7523; Entra's documented value).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Audience Entra expects in a federated token [doc, Azure Workload Identity].
pub const FEDERATED_TOKEN_AUDIENCE: &str = "api://AzureADTokenExchange";
/// Where Azure Workload Identity mounts the pod's federated token [doc]; the
/// webhook also names it in `AZURE_FEDERATED_TOKEN_FILE`.
pub const DEFAULT_FEDERATED_TOKEN_FILE: &str = "/var/run/secrets/azure/tokens/azure-identity-token";
/// Header that restricts calls to one channel's customers [doc].
pub const CHANNEL_HEADER: &str = "X-Ovoc-Channel-Id";

/// Token endpoint below the identity base, for the service provider's tenant
/// [fields doc; the v2.0 path chosen].
pub fn token_path(sp_tenant_id: &str) -> String {
    format!("/{sp_tenant_id}/oauth2/v2.0/token")
}

/// Calling-profile to SBC mapping [chosen path].
pub const SBC_MAPPING_PATH: &str = "/v2/oc/callingprofile/sbcmapping";

/// Maximum numbers in one upload or release request [chosen default; the platform's
/// value is configurable].
pub const MAX_NUMBERS_PER_REQUEST: usize = 1000;

/// Upload requests of one block whose tasks may run at once [chosen]: the reference
/// names no limit beyond refusing a number that is in another running operation, so
/// requests of disjoint numbers may overlap. A block keeps this many running and sends
/// the next when the oldest ended; eight keep the budget busy while tasks run (a
/// validation, an upload and a look at the task are three calls, 0.15 s at 20 requests
/// a second, against a task of about half a second on the simulator, looked at a
/// quarter of a second after it should have ended; four left the budget idle half the
/// time) without holding many tasks open on the platform for one object.
pub const UPLOADS_IN_FLIGHT: usize = 8;

/// Release Numbers: 10 requests per 10 seconds for the platform [doc].
pub const RELEASE_LIMIT: WindowLimit = WindowLimit {
    calls: 10,
    window: Duration::from_secs(10),
};
/// Assign Lead to Channel: 300 calls a minute for the platform [doc].
pub const CHANNEL_ASSIGN_LIMIT: WindowLimit = WindowLimit {
    calls: 300,
    window: Duration::from_secs(60),
};
/// General per-credential budget: 20 requests a second, burst 40 [chosen].
/// Calls in flight at once to one platform [chosen]: the reference names no limit;
/// a few parallel calls keep many objects moving without bursts of open requests.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8;

pub const DEFAULT_BUDGET: Budget = Budget {
    per_second: 20.0,
    burst: 40,
};

/// The largest answer the client reads [chosen]: a page of 1,000 numbers is under
/// a megabyte; an answer that goes on past this is not the platform's (a wrong
/// `baseUrl`, a proxy's page) and would otherwise be held whole in memory.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// The most pages the client reads of one listing [chosen]: 2,000 pages of 1,000
/// numbers is four times the numbers a block can declare; a listing whose
/// `totalPages` goes on past it is not followed to its end.
pub const MAX_LISTING_PAGES: u32 = 2_000;

/// Token lifetime the identity endpoint grants [doc example].
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3599);
/// The client renews a token this long before it expires [chosen].
pub const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(120);

/// The statuses of an acquired number in the numbers listing: `acquiredNumberStatus`
/// (what the customer holds and what runs on it) and `assignmentStatus` (what Teams
/// made of it).
pub mod number_status {
    /// A number the customer holds, no operation running on it [doc].
    pub const ACTIVE: &str = "Active";
    /// A number whose release is running [doc].
    pub const RELEASE_REQUESTED: &str = "Release Requested";
    /// A number whose upload is running [chosen]: the reference names no status for
    /// it.
    pub const UPLOAD_REQUESTED: &str = "Upload Requested";
    /// No Teams user, conference or app holds the number [doc].
    pub const UNASSIGNED: &str = "Unassigned";
    /// The number is a Teams user's line URI [doc].
    pub const USER_ASSIGNED: &str = "UserAssigned";
}

/// Deployment states of a site location [chosen integers; the manual shows 3 for a
/// deployed site].
pub mod deployment_state {
    pub const NOT_DEPLOYED: i64 = 0;
    pub const DEPLOYING: i64 = 1;
    pub const FAILED: i64 = 2;
    pub const DEPLOYED: i64 = 3;
    pub const REMOVING: i64 = 4;

    pub fn name(state: i64) -> &'static str {
        match state {
            NOT_DEPLOYED => "NotDeployed",
            DEPLOYING => "Deploying",
            FAILED => "Failed",
            DEPLOYED => "Deployed",
            REMOVING => "Removing",
            _ => "Unknown",
        }
    }
}

/// The `outputData` property of a finished Provision Customer End User task that
/// carries the provisioned user's Entra object id [chosen: the reference shows only
/// the task's id; the end-user listing shows the same `ObjectId`]. A client that finds
/// it records the user from the task, without listing the customer's users again.
pub const PROVISIONED_OBJECT_ID: &str = "objectId";

/// The dial plan the platform fills by itself with a customer's uploaded numbers
/// [doc]: the one dial plan of a new customer that holds rules nobody declared.
pub const NUMBERS_DIAL_PLAN: &str = "OCDialPlan";

/// How a carrier password appears in a Get SIP Connection answer [chosen].
pub const MASKED_SECRET: &str = "****";

/// Per-number error codes of an upload task [chosen].
pub mod number_error {
    pub const UNKNOWN_COUNTRY_CODE: &str = "unknown_country_code";
    pub const UNABLE_TO_RETRIEVE_LOCATION: &str = "unable_to_retrieve_location";
    pub const NUMBER_IN_USE: &str = "number_in_use";
    pub const INTERNAL_ERROR: &str = "internal_error";
}

/// The words of the platform's validation messages that refuse a write because of an
/// earlier one, rather than because of the request itself [chosen: the manuals name
/// the rule, "a number already in another running operation is rejected", not its
/// text]. The client turns them into `liveplatform::Conflict`; nothing else
/// matches message text.
pub mod conflict_text {
    /// Create Consentless Lead for a tenant that has a lead [doc: the reference quotes
    /// "This MsTenant already exists as an UMP lead!"].
    pub const LEAD_EXISTS: &str = "already exists as an UMP lead";
    /// Create Customer from Lead while an earlier creation for the lead runs.
    pub const CUSTOMER_BEING_CREATED: &str = "already being created";
    /// Create Customer from Lead when the lead already has its customer.
    pub const CUSTOMER_EXISTS: &str = "already exists for this lead";
    /// A number write while the number is in another task.
    pub const OPERATION_RUNNING: &str = "another running operation";
    /// An upload of a number the tenant already holds.
    pub const ALREADY_ACQUIRED: &str = "already acquired";
    /// Upgrade or Downgrade License (and the upgrade action) when the customer's
    /// licence does not admit the change, for example an upgrade of a customer
    /// whose earlier upgrade has already been carried out or still runs [doc: 400
    /// "Invalid change for License Type!"].
    pub const LICENCE_CHANGE_REFUSED: &str = "Invalid change for License Type";
}

/// ProblemDetails `errorCode` for end-user calls on an OC Essentials customer [chosen].
pub const LICENSE_REQUIRED_CODE: &str = "LicenseRequired";

/// ProblemDetails `errorCode` of an HTTP 409 that refuses a write because an earlier
/// task on the same object still runs (a user's provisioning, a site's onboarding or
/// removal) [chosen]: the write may be sent again once that task ends.
pub const BUSY_CODE: &str = "OperationInProgress";

/// Value of `workflowVersion` sent with an upload [doc field].
pub const UPLOAD_WORKFLOW_VERSION: i64 = 3;

/// A call budget over a sliding window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowLimit {
    pub calls: u32,
    pub window: Duration,
}

/// A token bucket: steady rate and burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub per_second: f64,
    pub burst: u32,
}
