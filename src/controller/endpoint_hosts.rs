//! Where the operator sends a platform's credentials: an OCPlatform's endpoints
//! (`baseUrl`, which receives the bearer token, and `identityBaseUrl`, which receives
//! the client secret or the federated token) must be hosts the operator's installer
//! allowed (`--allowed-endpoint-hosts`, the chart's `allowedEndpointHosts`), or the
//! credentials Secret must name the OCPlatform in its label
//! [`PLATFORM_LABEL`]. Without this, whoever may edit an OCPlatform could point it at
//! a host of their own and collect the provider's credentials.

use crate::api::OCPlatformSpec;

/// The label on a credentials Secret that names the one OCPlatform allowed to send it
/// to endpoints outside the allowed hosts.
pub const PLATFORM_LABEL: &str = "operatorconnect.io/platform";

/// Microsoft Entra ID's public token endpoint host, allowed when nothing else is said.
pub const ENTRA_ID_HOST: &str = "login.microsoftonline.com";

/// The hosts credentials may be sent to: exact names, or `*.domain` for every host
/// under a domain (not the domain itself). Compared without regard to case, ports
/// aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointHosts(Vec<String>);

impl Default for EndpointHosts {
    /// Microsoft Entra ID alone: a Live Platform host is the provider's own, and is
    /// added by whoever installs the operator.
    fn default() -> Self {
        Self(vec![ENTRA_ID_HOST.to_owned()])
    }
}

impl EndpointHosts {
    /// The hosts of a comma-separated list (blanks ignored).
    pub fn parse(list: &str) -> Self {
        Self(
            list.split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        )
    }

    /// Whether `host` is allowed.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.0
            .iter()
            .any(|allowed| match allowed.strip_prefix("*.") {
                Some(domain) => host
                    .strip_suffix(domain)
                    .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                None => *allowed == host,
            })
    }

    /// The first endpoint of `spec` whose host is not allowed, as `(field, host)`.
    /// An endpoint that is not a URL is left to the client's own configuration error.
    pub fn first_outside(&self, spec: &OCPlatformSpec) -> Option<(&'static str, String)> {
        [
            ("baseUrl", spec.base_url.as_str()),
            ("identityBaseUrl", spec.identity_base_url.as_str()),
        ]
        .into_iter()
        .find_map(|(field, text)| {
            let url = url::Url::parse(text).ok()?;
            let host = url.host_str()?.to_owned();
            (!self.allows(&host)).then_some((field, host))
        })
    }

    /// The hosts, comma-separated, for a message.
    pub fn listed(&self) -> String {
        self.0.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_exactly_or_under_a_domain() {
        let hosts = EndpointHosts::parse("login.microsoftonline.com, *.lp.example.com,,127.0.0.1");
        for (host, allowed) in [
            ("login.microsoftonline.com", true),
            ("LOGIN.microsoftonline.com", true),
            ("evil-login.microsoftonline.com", false),
            ("login.microsoftonline.com.evil.test", false),
            ("api.lp.example.com", true),
            ("a.b.lp.example.com", true),
            ("lp.example.com", false),
            ("apilp.example.com", false),
            ("127.0.0.1", true),
            ("localhost", false),
        ] {
            assert_eq!(hosts.allows(host), allowed, "{host}");
        }
        assert!(EndpointHosts::default().allows(ENTRA_ID_HOST));
        assert!(!EndpointHosts::parse("").allows(ENTRA_ID_HOST));
    }

    #[test]
    fn the_first_endpoint_outside_is_named_with_its_field() {
        let mut spec = crate::controller::fixtures::platform("p", &["*"]).spec;
        let hosts = EndpointHosts::parse("api.example.com,login.microsoftonline.com");
        assert_eq!(hosts.first_outside(&spec), None);
        spec.identity_base_url = "https://collector.test:8443/".into();
        assert_eq!(
            hosts.first_outside(&spec),
            Some(("identityBaseUrl", "collector.test".to_owned()))
        );
        spec.base_url = "https://other.test/tenantui/api".into();
        assert_eq!(
            hosts.first_outside(&spec),
            Some(("baseUrl", "other.test".to_owned()))
        );
    }
}
