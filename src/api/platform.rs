//! `OCPlatform`: one Live Platform endpoint and the credentials to use it.

use super::status::ReconcileStatus;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::kind::declare_kind;

declare_kind! {
    /// One Live Platform (REST API for Operator Connect) that customers can use: where it
    /// is, who the service provider is, which credentials to use, how fast to call it, and
    /// which namespaces may declare customers on it.
    resource(
        kind = "OCPlatform",
        plural = "ocplatforms",
        shortname = "ocp",
        status = "OCPlatformStatus",
        doc = "A Live Platform endpoint for Microsoft Teams Operator Connect, with its credentials and budget."
    )
    columns(
        printcolumn(name = "Base URL", type_ = "string", json_path = ".spec.baseUrl"),
        printcolumn(name = "Profiles", type_ = "integer", json_path = ".status.callingProfileCount")
    )
    #[x_kube(validation = Rule::new(
        "self.baseUrl.startsWith('https://') || self.allowInsecureHttp || self.baseUrl.matches('^http://(127\\\\.[0-9.]+|localhost|\\\\[::1\\\\])(:[0-9]+)?(/.*)?$')"
    ).message("baseUrl must use https (plain http only to loopback, or with allowInsecureHttp for a test platform)"))]
    #[x_kube(validation = Rule::new(
        "self.identityBaseUrl.startsWith('https://') || self.allowInsecureHttp || self.identityBaseUrl.matches('^http://(127\\\\.[0-9.]+|localhost|\\\\[::1\\\\])(:[0-9]+)?(/.*)?$')"
    ).message("identityBaseUrl must use https (plain http only to loopback, or with allowInsecureHttp for a test platform)"))]
    #[x_kube(validation = Rule::new(
        "has(self.credentialsSecretRef) != has(self.workloadIdentity)"
    ).message("set exactly one of credentialsSecretRef (a client secret) and workloadIdentity (a federated credential)"))]
    #[serde(rename_all = "camelCase")]
    pub struct OCPlatformSpec {
        /// REST root of the platform, for example `https://lp.example.net/tenantui/api`.
        #[schemars(
            length(min = 8, max = 512),
            regex(pattern = r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
        )]
        pub base_url: String,

        /// Base URL of Microsoft Entra ID, where tokens are issued and tenant ids validated.
        #[serde(default = "default_identity_base")]
        #[schemars(
            length(min = 8, max = 512),
            regex(pattern = r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
        )]
        pub identity_base_url: String,

        /// The service provider's own Microsoft Entra tenant id (a GUID); tokens are
        /// requested in this tenant.
        #[schemars(regex(
            pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        ))]
        pub service_provider_tenant_id: String,

        /// The Secret, in the operator's own namespace, holding the client id and secret
        /// of the service provider's Entra application. A changed Secret takes effect
        /// without a restart. Set this or workloadIdentity, not both.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub credentials_secret_ref: Option<CredentialsSecretRef>,

        /// Authenticate as the service provider's Entra application with a federated
        /// credential instead of a client secret (Azure Workload Identity): the operator
        /// sends its pod's projected ServiceAccount token, re-read from its file at every
        /// token request, and no secret exists anywhere. The application needs a
        /// federated identity credential that trusts the cluster's issuer for the
        /// operator's ServiceAccount. Set this or credentialsSecretRef, not both.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub workload_identity: Option<WorkloadIdentity>,

        /// Restricts every call to the customers of this channel (sent as the
        /// `X-Ovoc-Channel-Id` header). Leave unset to see all customers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0))]
        pub channel_id: Option<i64>,

        /// How fast the operator may call this platform.
        #[serde(default)]
        pub rate_limit: RateLimit,

        /// Namespaces whose OCCustomers may use this platform; `*` allows every
        /// namespace. A customer in any other namespace gets a clear condition and causes
        /// no call.
        #[schemars(length(min = 1, max = 1000))]
        #[x_kube(merge_strategy = ListMerge::Set)]
        pub allowed_namespaces: Vec<AllowedNamespace>,

        /// Allow plain `http://` to a host that is not loopback. Only for test platforms.
        #[serde(default)]
        pub allow_insecure_http: bool,

        /// How often, in seconds, objects that are Ready are checked against the platform
        /// for drift (with jitter).
        #[serde(default = "default_drift_seconds")]
        #[schemars(range(min = 30, max = 86400))]
        pub drift_check_seconds: i64,

        /// `Manage` (default) lets each object's own `managementPolicy` decide.
        /// `ObserveOnly` makes every object on this platform observe only, whatever its own
        /// policy: the operator reads the platform and lists in each object's
        /// `status.plannedActions` the calls it would make, and writes nothing. The switch
        /// for a first look at a production platform.
        #[serde(default)]
        pub management_policy: super::common::ManagementPolicy,
    }
}

/// A namespace name, or `*` for every namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(transparent)]
pub struct AllowedNamespace(
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$")
    )]
    pub String,
);

fn default_identity_base() -> String {
    liveplatform::contract::DEFAULT_IDENTITY_BASE.to_owned()
}

/// How often Ready objects are checked for drift when the platform does not say.
pub const DEFAULT_DRIFT_SECONDS: i64 = 600;

fn default_drift_seconds() -> i64 {
    DEFAULT_DRIFT_SECONDS
}

/// The Entra application a platform authenticates as with a federated credential.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadIdentity {
    /// The application (client) id of the service provider's Entra application, a
    /// GUID. The token file is the operator's (its `--federated-token-file`, set by
    /// Azure Workload Identity or the chart), shared by every platform.
    #[schemars(regex(
        pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    ))]
    pub client_id: String,
}

/// Where the platform credentials are.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSecretRef {
    /// Name of the Secret in the operator's namespace.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    )]
    pub name: String,
    /// Key of the client id.
    #[serde(default = "default_client_id_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub client_id_key: String,
    /// Key of the client secret.
    #[serde(default = "default_client_secret_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub client_secret_key: String,
}

fn default_client_id_key() -> String {
    "clientId".into()
}

fn default_client_secret_key() -> String {
    "clientSecret".into()
}

/// The operator's call budget for one platform.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
// The schema's minimum alone lets an integer 0 through (the apiserver compares it as
// an integer), so the floor is also a rule.
#[x_kube(validation = Rule::new("self.requestsPerSecond >= 0.1").message("rateLimit.requestsPerSecond must be at least 0.1"))]
pub struct RateLimit {
    /// Steady rate of calls a second.
    #[serde(default = "default_rps")]
    #[schemars(range(min = 0.1, max = 1000.0))]
    pub requests_per_second: f64,
    /// Calls allowed in a burst above the steady rate.
    #[serde(default = "default_burst")]
    #[schemars(range(min = 1, max = 10000))]
    pub burst: i64,
    /// Calls to the platform in flight at once; more wait for a free slot.
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = 256))]
    pub max_concurrent_requests: i64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            requests_per_second: default_rps(),
            burst: default_burst(),
            max_concurrent_requests: default_concurrency(),
        }
    }
}

fn default_rps() -> f64 {
    liveplatform::contract::DEFAULT_BUDGET.per_second
}

fn default_burst() -> i64 {
    i64::from(liveplatform::contract::DEFAULT_BUDGET.burst)
}

fn default_concurrency() -> i64 {
    i64::try_from(liveplatform::contract::DEFAULT_MAX_IN_FLIGHT).unwrap_or(8)
}

/// What the operator last saw of the platform.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OCPlatformStatus {
    /// The fields every kind's status shares: `conditions`, `observedGeneration`,
    /// `lastChecked`, `rejectedGeneration`.
    #[serde(flatten)]
    pub reconcile: ReconcileStatus,
    /// How many calling profiles the platform offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calling_profile_count: Option<i64>,
    /// The calling profiles, with their trunks and the SBCs each maps to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calling_profiles: Vec<CallingProfileStatus>,
    /// Customers the credentials see on the platform (Get Customers Brief).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_count: Option<i64>,
    /// When the platform last answered a probe (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<String>,
}

/// A calling profile as published in status.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallingProfileStatus {
    /// The calling profile id to use in OCNumberBlock `callingProfileId`.
    pub id: String,
    /// The calling profile's name on the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The region the calling profile serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The carrier behind the calling profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// Whether the calling profile carries emergency calls.
    #[serde(default)]
    pub emergency: bool,
    /// Offer types (number usages) of the profile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offer_types: Vec<String>,
    /// SBCs this profile maps to; an OCSipConnection's `sbcId` must be one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sbcs: Vec<SbcStatus>,
}

/// An SBC a calling profile maps to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SbcStatus {
    /// The SBC's id, the value an OCSipConnection gives as `sbcId`.
    pub id: String,
    /// The SBC's fully qualified domain name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    /// The SBC's name on the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The trunk the SBC is enrolled through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk_fqdn: Option<String>,
}

impl OCPlatformSpec {
    /// Whether objects in `namespace` may use the platform (`allowedNamespaces`, where
    /// `*` allows every namespace).
    pub fn allows_namespace(&self, namespace: &str) -> bool {
        self.allowed_namespaces
            .iter()
            .any(|n| n.0 == "*" || n.0 == namespace)
    }
}
