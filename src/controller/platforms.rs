//! One Live Platform client per OCPlatform, shared by every object on that platform
//! (one token cache, one rate limiter). Rebuilt when the platform's spec changes; a
//! rotated credentials Secret is swapped in without a new client.

use kube::ResourceExt;

use super::context::Context;
use super::endpoint_hosts::PLATFORM_LABEL;
use super::error::{Error, Result};
use super::platform_clients::Entry;
use super::secret_access::{self, Purpose};
use crate::api::OCPlatform;
use liveplatform::contract::Budget;
use liveplatform::secret::Secret as SecretString;
use liveplatform::{ClientConfig, Credentials, LivePlatformClient};

/// Follows the OCPlatform watch: a deleted platform's client (its token, its rate
/// limiter), its admission gate and its budget gauges are dropped; after a full
/// listing (a restarted watch does not tell of deletions it missed), so is every
/// platform it no longer holds.
pub fn observed(ctx: &Context, event: &kube::runtime::watcher::Event<OCPlatform>) {
    use kube::runtime::watcher::Event;
    let gone: Vec<String> = match event {
        Event::Delete(platform) => vec![platform.name_any()],
        Event::InitDone => ctx
            .platform
            .clients
            .names()
            .into_iter()
            .filter(|name| ctx.stores.platform(name).is_none())
            .collect(),
        _ => Vec::new(),
    };
    for name in gone {
        ctx.platform.clients.forget(&name);
        ctx.platform.admission.forget(&name);
        ctx.metrics.platform_gone(&name);
    }
}

/// Reads the platform's credentials from its Secret in the operator's namespace, if
/// they may go where the platform's spec points (see [`super::endpoint_hosts`]).
async fn credentials(
    ctx: &Context,
    platform: &OCPlatform,
) -> Result<(Credentials, Option<String>)> {
    let ns = &ctx.config.operator_namespace;
    let hosts = &ctx.config.endpoint_hosts;
    let outside = hosts.first_outside(&platform.spec);
    let name = platform.name_any();
    let reference = match (
        &platform.spec.credentials_secret_ref,
        &platform.spec.workload_identity,
    ) {
        (Some(reference), _) => reference,
        (None, Some(identity)) => {
            if let Some((field, host)) = outside {
                return Err(Error::CredentialsWithheld(format!(
                    "the operator's federated token is not sent to {host} ({field}): that host is not among the operator's allowed endpoint hosts ({}); add it to the operator's --allowed-endpoint-hosts (the chart value operator.allowedEndpointHosts) if the provider trusts it",
                    hosts.listed()
                )));
            }
            // Nothing to read here: the token file is read at each token request.
            let credentials = Credentials::federated(
                identity.client_id.clone(),
                ctx.config.federated_token_file.clone(),
            );
            return Ok((
                credentials,
                Some(format!("workload-identity:{}", identity.client_id)),
            ));
        }
        (None, None) => {
            return Err(Error::InvalidSpec(
                "set credentialsSecretRef or workloadIdentity; the platform has no credentials"
                    .into(),
            ));
        }
    };
    let secret = secret_access::get(ctx, ns, &reference.name, Purpose::PlatformCredentials)
        .await?
        .ok_or_else(|| {
            Error::Dependency(format!(
                "Secret {ns}/{} (the platform credentials) does not exist; create it with keys {} and {}",
                reference.name, reference.client_id_key, reference.client_secret_key
            ))
        })?;
    let labelled_for_it = secret
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(PLATFORM_LABEL))
        .is_some_and(|platform| *platform == name);
    if let Some((field, host)) = outside
        && !labelled_for_it
    {
        return Err(Error::CredentialsWithheld(format!(
            "the credentials of Secret {ns}/{} are not sent to {host} ({field}): that host is not among the operator's allowed endpoint hosts ({}), and the Secret is not labelled {PLATFORM_LABEL}={name}; add the host to the operator's --allowed-endpoint-hosts (the chart value operator.allowedEndpointHosts), or label the Secret for this OCPlatform",
            reference.name,
            hosts.listed()
        )));
    }
    let value = |key: &str| -> Result<String> {
        let data = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| String::from_utf8_lossy(&b.0).trim().to_owned());
        let string = secret
            .string_data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|s| s.trim().to_owned());
        data.or(string).filter(|v| !v.is_empty()).ok_or_else(|| {
            Error::Dependency(format!(
                "Secret {ns}/{} has no (or an empty) key {key}",
                reference.name
            ))
        })
    };
    let credentials = Credentials::with_secret(
        value(&reference.client_id_key)?,
        SecretString::new(value(&reference.client_secret_key)?),
    );
    Ok((credentials, secret.metadata.resource_version.clone()))
}

fn config(ctx: &Context, platform: &OCPlatform, credentials: Credentials) -> Result<ClientConfig> {
    client_config(&platform.spec, credentials, ctx.config.allow_insecure_http)
}

/// The client configuration an OCPlatform's spec describes (also what
/// `oc-operator import` connects with).
pub fn client_config(
    spec: &crate::api::OCPlatformSpec,
    credentials: Credentials,
    allow_insecure_http: bool,
) -> Result<ClientConfig> {
    let parse = |what: &str, text: &str| {
        url::Url::parse(text)
            .map_err(|e| Error::InvalidSpec(format!("{what} {text:?} is not a URL: {e}")))
    };
    let mut config = ClientConfig::new(
        parse("baseUrl", &spec.base_url)?,
        spec.service_provider_tenant_id.clone(),
        credentials,
    )?;
    config.identity_base = parse("identityBaseUrl", &spec.identity_base_url)?;
    config.channel_id = spec.channel_id;
    config.budget = Budget {
        per_second: spec.rate_limit.requests_per_second,
        burst: u32::try_from(spec.rate_limit.burst).unwrap_or(1).max(1),
    };
    config.max_in_flight = usize::try_from(spec.rate_limit.max_concurrent_requests)
        .unwrap_or(1)
        .max(1);
    config.allow_insecure_http = spec.allow_insecure_http || allow_insecure_http;
    Ok(config)
}

/// The client of `platform`: the cached one while the platform's generation is the
/// same, else a new one.
pub async fn client_for(ctx: &Context, platform: &OCPlatform) -> Result<LivePlatformClient> {
    let name = platform.name_any();
    if let Some(entry) = ctx.platform.clients.get(&name)
        && entry.generation == platform.metadata.generation
    {
        return Ok(entry.client);
    }
    refresh(ctx, platform).await
}

/// Reads the Secret again and brings the cached client up to date: new credentials
/// are swapped in; a changed spec gives a new client.
pub async fn refresh(ctx: &Context, platform: &OCPlatform) -> Result<LivePlatformClient> {
    let name = platform.name_any();
    let (credentials, secret_version) = match credentials(ctx, platform).await {
        Ok(found) => found,
        // A client built before (the Secret's label since removed) is used no more.
        Err(e @ Error::CredentialsWithheld(_)) => {
            ctx.platform.clients.forget(&name);
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    if let Some(mut entry) = ctx.platform.clients.get(&name)
        && entry.generation == platform.metadata.generation
    {
        if entry.secret_version != secret_version {
            entry.client.set_credentials(credentials).await;
            entry.secret_version = secret_version;
            ctx.platform.clients.put(&name, entry.clone());
        }
        return Ok(entry.client);
    }
    let config = config(ctx, platform, credentials)?;
    ctx.metrics
        .platform_budget(&name, config.budget.per_second, config.budget.burst);
    let client = LivePlatformClient::with_observer(
        config,
        std::sync::Arc::new(crate::metrics::PlatformCalls {
            platform: name.clone(),
            metrics: ctx.metrics.clone(),
        }),
    )?;
    ctx.platform.clients.put(
        &name,
        Entry {
            client: client.clone(),
            generation: platform.metadata.generation,
            secret_version,
        },
    );
    Ok(client)
}

/// The client an object in `namespace` may use on platform `name`, or `None` with
/// `Ready=False` saying why (no such platform, or the namespace is not allowed) and
/// no call made.
pub async fn access<K: super::kind::Kind>(
    ctx: &Context,
    namespace: &str,
    name: &str,
    draft: &mut super::status::StatusDraft<K>,
) -> Result<Option<(LivePlatformClient, OCPlatform)>> {
    use crate::api::conditions::{READY, reason};
    // From the watch cache (no apiserver read).
    let platform = ctx.stores.platform(name).map(|p| (*p).clone());
    let Some(platform) = platform else {
        draft.condition(
            READY,
            false,
            reason::WAITING_FOR_PLATFORM,
            format!("OCPlatform {name} does not exist; create it or fix platformRef"),
        );
        return Ok(None);
    };
    if !platform.spec.allows_namespace(namespace) {
        draft.condition(
            READY,
            false,
            reason::NAMESPACE_NOT_ALLOWED,
            format!("OCPlatform {name} does not allow namespace {namespace}; add it to the platform's spec.allowedNamespaces"),
        );
        return Ok(None);
    }
    let client = client_for(ctx, &platform).await?;
    Ok(Some((client, platform)))
}
