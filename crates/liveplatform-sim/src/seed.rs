//! The simulator's starting data: credentials, known tenants, calling profiles with
//! their trunks and SBCs, channels, and the platform's configurable limits. Loaded
//! from a JSON file (`oc-simulator --seed FILE`) or the built-in default.

use serde::{Deserialize, Serialize};

use liveplatform_contract as contract;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Seed {
    /// The service provider's tenant; tokens are issued under it.
    pub sp_tenant_id: String,
    /// Client credentials the identity endpoint accepts.
    pub credentials: Vec<ClientCredential>,
    /// Federated credentials (workload identity) the identity endpoint accepts: an
    /// application that trusts tokens of an issuer for a subject and audience.
    pub federated_credentials: Vec<FederatedCredential>,
    /// Tenant ids that pass Validate Tenant Id and may become leads.
    pub known_tenants: Vec<String>,
    /// Accept every well-formed tenant id (for load tests).
    pub accept_any_tenant: bool,
    pub calling_profiles: Vec<CallingProfileSeed>,
    pub channels: Vec<ChannelSeed>,
    /// Uploads of numbers starting with one of these fail with
    /// `unknown_country_code`.
    pub unsupported_country_prefixes: Vec<String>,
    pub max_numbers_per_request: usize,
    /// Per-credential budget: requests a second and burst.
    pub requests_per_second: f64,
    pub burst: u32,
    /// How long a task takes from Queued to its final state.
    pub task_delay_ms: u64,
    pub token_lifetime_secs: u64,
}

/// A federated identity credential of an application, as Entra keeps it: a client
/// assertion is accepted for `client_id` when its `iss`, `sub` and `aud` claims match
/// and it has not expired. (The simulator does not check the assertion's signature;
/// Entra checks it against the issuer's published keys.)
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredential {
    pub client_id: String,
    pub issuer: String,
    pub subject: String,
    pub audience: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientCredential {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CallingProfileSeed {
    pub id: String,
    pub name: String,
    pub environment: String,
    pub region: String,
    pub carrier: String,
    pub offer_types: Vec<String>,
    #[serde(default)]
    pub is_emergency_profile: bool,
    pub trunks: Vec<TrunkSeed>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrunkSeed {
    pub id: String,
    pub fqdn: String,
    pub sbcs: Vec<SbcSeed>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SbcSeed {
    pub id: String,
    pub fqdn: String,
    pub ip_address: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChannelSeed {
    pub id: i64,
    pub name: String,
    pub tenant_id: i64,
    pub ms_tenant_id: String,
}

/// The sandbox's credentials, also in `examples/` and docs/simulator.md.
pub const SANDBOX_CLIENT_ID: &str = "7f1c2a9e-5d1b-4c8e-9a34-0b6f2d8e1a11";
pub const SANDBOX_CLIENT_SECRET: &str = "sandbox-client-secret";
pub const SANDBOX_SP_TENANT: &str = "5b3c8a2e-9f1d-4e6a-b7c4-2d8e0f1a3b5c";

impl Default for Seed {
    fn default() -> Self {
        let sbc = |id: &str, n: u8| SbcSeed {
            id: id.into(),
            fqdn: format!("sbc{n}.sandbox.example.net"),
            ip_address: format!("192.0.2.{n}"),
            name: format!("SBC-{n}"),
        };
        Self {
            sp_tenant_id: SANDBOX_SP_TENANT.into(),
            credentials: vec![ClientCredential {
                client_id: SANDBOX_CLIENT_ID.into(),
                client_secret: SANDBOX_CLIENT_SECRET.into(),
            }],
            federated_credentials: Vec::new(),
            known_tenants: vec![
                "0b7e6c1a-2f3d-4e5b-8a9c-1d2e3f4a5b6c".into(),
                "1c8f7d2b-3a4e-4f6c-9b0d-2e3f4a5b6c7d".into(),
                "2d9a8e3c-4b5f-4a7d-8c1e-3f4a5b6c7d8e".into(),
                "3e0b9f4d-5c6a-4b8e-9d2f-4a5b6c7d8e9f".into(),
                "4f1c0a5e-6d7b-4c9f-8e3a-5b6c7d8e9f0a".into(),
            ],
            accept_any_tenant: false,
            calling_profiles: vec![
                CallingProfileSeed {
                    id: "a3f1e2d4-6b7c-4d8e-9f0a-1b2c3d4e5f60".into(),
                    name: "US-East Calling".into(),
                    environment: "Production".into(),
                    region: "NOAM".into(),
                    carrier: "Sandbox Carrier".into(),
                    offer_types: vec![
                        "CallingUserAssignment".into(),
                        "ConferenceAssignment".into(),
                    ],
                    is_emergency_profile: false,
                    trunks: vec![TrunkSeed {
                        id: "101".into(),
                        fqdn: "trunk-us.sandbox.example.net".into(),
                        sbcs: vec![sbc("11", 11), sbc("12", 12)],
                    }],
                },
                CallingProfileSeed {
                    id: "b4a2f3e5-7c8d-4e9f-8a1b-2c3d4e5f6071".into(),
                    name: "EU-West Calling".into(),
                    environment: "Production".into(),
                    region: "EMEA".into(),
                    carrier: "Sandbox Carrier".into(),
                    offer_types: vec!["CallingUserAssignment".into()],
                    is_emergency_profile: true,
                    trunks: vec![TrunkSeed {
                        id: "201".into(),
                        fqdn: "trunk-eu.sandbox.example.net".into(),
                        sbcs: vec![sbc("21", 21)],
                    }],
                },
            ],
            channels: vec![
                ChannelSeed {
                    id: 1574,
                    name: "Direct".into(),
                    tenant_id: 1,
                    ms_tenant_id: SANDBOX_SP_TENANT.into(),
                },
                ChannelSeed {
                    id: 1575,
                    name: "Reseller North".into(),
                    tenant_id: 2,
                    ms_tenant_id: SANDBOX_SP_TENANT.into(),
                },
                ChannelSeed {
                    id: 1576,
                    name: "Reseller South".into(),
                    tenant_id: 3,
                    ms_tenant_id: SANDBOX_SP_TENANT.into(),
                },
            ],
            unsupported_country_prefixes: vec!["+999".into(), "+888".into()],
            max_numbers_per_request: contract::MAX_NUMBERS_PER_REQUEST,
            requests_per_second: contract::DEFAULT_BUDGET.per_second,
            burst: contract::DEFAULT_BUDGET.burst,
            task_delay_ms: 1500,
            token_lifetime_secs: contract::TOKEN_LIFETIME.as_secs(),
        }
    }
}

impl Seed {
    /// Every SBC id that some calling profile's trunk maps.
    pub fn sbc_ids(&self) -> impl Iterator<Item = &str> {
        self.calling_profiles
            .iter()
            .flat_map(|p| p.trunks.iter())
            .flat_map(|t| t.sbcs.iter())
            .map(|s| s.id.as_str())
    }

    pub fn knows_tenant(&self, tenant: &str) -> bool {
        self.accept_any_tenant
            || self
                .known_tenants
                .iter()
                .any(|t| t.eq_ignore_ascii_case(tenant))
    }
}
