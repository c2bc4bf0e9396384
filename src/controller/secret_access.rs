//! Reading a Secret the operator's RBAC may not cover: a 403 becomes a condition that
//! names the binding to add, instead of a bare "forbidden".

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use super::context::{Context, SecretAccess};
use super::error::{Error, Result};

/// What a Secret is for, which decides the remedy for a 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A carrier password, in a tenant namespace: granted per namespace by a
    /// RoleBinding to the chart's secret-reader ClusterRole.
    CarrierPassword,
    /// Platform credentials, in the operator's namespace: granted by the chart's Role.
    PlatformCredentials,
}

/// Gets Secret `namespace/name`; `None` when it does not exist.
pub async fn get(
    ctx: &Context,
    namespace: &str,
    name: &str,
    purpose: Purpose,
) -> Result<Option<Secret>> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(secret) => Ok(secret),
        Err(kube::Error::Api(status)) if status.code == 403 => Err(Error::Dependency(forbidden(
            &ctx.config.secret_access,
            &ctx.config.operator_namespace,
            namespace,
            name,
            purpose,
        ))),
        Err(e) => Err(Error::kube(format!("reading Secret {namespace}/{name}"))(e)),
    }
}

/// The message for a Secret the operator may not read: who it is, and what to bind.
pub fn forbidden(
    access: &SecretAccess,
    operator_namespace: &str,
    namespace: &str,
    name: &str,
    purpose: Purpose,
) -> String {
    let who = match &access.service_account {
        Some(sa) => format!("ServiceAccount {operator_namespace}/{sa}"),
        None => "the operator's identity".to_owned(),
    };
    match purpose {
        Purpose::CarrierPassword => {
            let role = access
                .reader_cluster_role
                .as_deref()
                .unwrap_or("<release>-secret-reader");
            format!(
                "the operator may not read Secret {namespace}/{name} (the carrier password): a RoleBinding in namespace {namespace} that binds ClusterRole {role} to {who} is missing; with Helm, add {namespace} to rbac.secretNamespaces (or label it to match rbac.secretNamespaceLabels) and upgrade the release"
            )
        }
        Purpose::PlatformCredentials => format!(
            "the operator may not read Secret {namespace}/{name} (the platform credentials): the Role of the operator's namespace does not grant {who} this Secret; with Helm, add {name} to rbac.credentialsSecrets and upgrade the release"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forbidden_carrier_password_names_the_missing_binding() {
        let access = SecretAccess {
            service_account: Some("oc-oc-operator".into()),
            reader_cluster_role: Some("oc-oc-operator-ops-secret-reader".into()),
        };
        let message = forbidden(&access, "ops", "contoso", "sbc", Purpose::CarrierPassword);
        for part in [
            "Secret contoso/sbc",
            "RoleBinding in namespace contoso",
            "ClusterRole oc-oc-operator-ops-secret-reader",
            "ServiceAccount ops/oc-oc-operator",
            "rbac.secretNamespaces",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
        let message = forbidden(&access, "ops", "ops", "creds", Purpose::PlatformCredentials);
        assert!(message.contains("rbac.credentialsSecrets"), "{message}");
    }
}
