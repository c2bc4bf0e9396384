//! Objects the in-process tests share.

use crate::api::{OCCustomer, OCPlatform};

/// Customer `namespace/name` on platform `p` (OC Essentials), generation 1.
pub fn customer(namespace: &str, name: &str) -> OCCustomer {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "operatorconnect.io/v1alpha1",
        "kind": "OCCustomer",
        "metadata": {"name": name, "namespace": namespace, "generation": 1},
        "spec": {
            "platformRef": {"name": "p"},
            "tenantId": "8d2c5e4f-9a1b-4c3d-8e7f-0a1b2c3d4e5f",
            "companyName": "Contoso", "shortName": "contoso", "fullName": "Contoso Ltd",
            "license": {"type": "OcEssentials"}
        }
    }))
    .expect("a valid customer")
}

/// OCPlatform `name` that namespaces `allowed` may use (`*`: every namespace).
pub fn platform(name: &str, allowed: &[&str]) -> OCPlatform {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "operatorconnect.io/v1alpha1",
        "kind": "OCPlatform",
        "metadata": {"name": name, "uid": format!("uid-platform-{name}"), "generation": 1},
        "spec": {
            "baseUrl": "https://api.example.com",
            "serviceProviderTenantId": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
            "credentialsSecretRef": {"name": "credentials"},
            "allowedNamespaces": allowed,
        }
    }))
    .expect("a valid platform")
}
