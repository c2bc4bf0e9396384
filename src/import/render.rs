//! The manifests of an import (pure): a snapshot of the platform in, files out. The
//! same snapshot always gives the same bytes: objects, folders, keys and numbers are
//! written in a fixed order, and names come from the platform's own names.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::ranges;
use super::snapshot::CustomerSnapshot;
use crate::api::customer::LicenseType;
use crate::api::number_block::Capability;
use crate::controller::PROTECT_ANNOTATION;
use crate::controller::adoption::ADOPT_ANNOTATION;

const API_VERSION: &str = "operatorconnect.io/v1alpha1";

/// How the manifests are laid out and what they say beyond the platform's state.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The OCPlatform's name.
    pub platform: String,
    /// The OCPlatform's spec as the user gave it (endpoints, credentials, budget);
    /// `allowedNamespaces` is filled in.
    pub platform_spec: Value,
    /// One namespace for every customer; `None`: a namespace per customer, named
    /// after it (with `namespace_prefix`).
    pub namespace: Option<String>,
    pub namespace_prefix: String,
    /// `deletionPolicy` of every object (`Orphan` unless asked otherwise: a deleted
    /// manifest must not delete production by surprise).
    pub deletion_policy: String,
    /// Annotate every object (and namespace) `operatorconnect.io/protected`.
    pub protect: bool,
    /// Write the OCPlatform with `managementPolicy: ObserveOnly`.
    pub observe_only: bool,
    pub dial_plan_id: String,
}

/// Every file of the import: path (relative, `/`-separated) to contents.
pub type Files = BTreeMap<String, String>;

pub fn render(customers: &[CustomerSnapshot], layout: &Layout) -> Files {
    let mut files = Files::new();
    let mut taken = BTreeSet::new();
    let mut namespaces = BTreeSet::new();
    let mut folders = Vec::new();
    for customer in customers {
        let base = unique(&mut taken, &slug(&customer_label(customer)));
        let namespace = layout
            .namespace
            .clone()
            .unwrap_or_else(|| trim63(&format!("{}{base}", layout.namespace_prefix)));
        namespaces.insert(namespace.clone());
        for (file, text) in folder(customer, layout, &base, &namespace) {
            files.insert(format!("{base}/{file}"), text);
        }
        folders.push(base);
    }
    let mut spec = layout.platform_spec.clone();
    spec["allowedNamespaces"] = json!(namespaces.into_iter().collect::<Vec<_>>());
    if layout.observe_only {
        spec["managementPolicy"] = json!("ObserveOnly");
    }
    let platform = json!({
        "apiVersion": API_VERSION,
        "kind": "OCPlatform",
        "metadata": metadata(&layout.platform, None, layout.protect, false),
        "spec": spec,
    });
    files.insert("platform.yaml".into(), documents(&[platform]));
    let mut resources = vec!["platform.yaml".to_owned()];
    resources.extend(folders);
    files.insert("kustomization.yaml".into(), kustomization(&resources));
    files
}

/// The files of one customer's folder: (file name, contents).
fn folder(
    c: &CustomerSnapshot,
    layout: &Layout,
    name: &str,
    namespace: &str,
) -> Vec<(String, String)> {
    let meta = |object: &str| metadata(object, Some(namespace), layout.protect, true);
    let owned = |spec: Value| {
        let mut spec = spec;
        spec["customerRef"] = json!({"name": name});
        spec["deletionPolicy"] = json!(layout.deletion_policy);
        spec
    };
    let mut files = Vec::new();
    let mut resources = Vec::new();
    let mut add = |file: &str, objects: Vec<Value>| {
        if !objects.is_empty() {
            files.push((file.to_owned(), documents(&objects)));
            resources.push(file.to_owned());
        }
    };
    if layout.namespace.is_none() {
        let ns_meta = metadata(namespace, None, layout.protect, false);
        add(
            "namespace.yaml",
            vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": ns_meta})],
        );
    }
    add("customer.yaml", vec![customer(c, layout, meta(name))]);

    let blocks: Vec<Value> = blocks(c)
        .into_iter()
        .enumerate()
        .map(|(i, spec)| {
            json!({"apiVersion": API_VERSION, "kind": "OCNumberBlock",
                       "metadata": meta(&format!("{name}-numbers-{}", i + 1)), "spec": owned(spec)})
        })
        .collect();
    add("numbers.yaml", blocks);

    let mut sites = Vec::new();
    let mut plans = Vec::new();
    let mut site_names = BTreeSet::new();
    for (id, site) in &c.sites {
        let site_name = site.site_name.clone().unwrap_or_else(|| id.clone());
        let object = unique(&mut site_names, &slug(&site_name));
        let info = site.sbc_info.clone().unwrap_or_default();
        let scripts = info.sbc_scripts.clone().unwrap_or_default();
        let mut spec = json!({
            "siteName": site_name,
            "sbcId": info.sbc_id.clone().unwrap_or_default(),
            "customerType": if info.sbc_configuration_type.as_deref() == Some("TENANT_TYPE") { "Tenant" } else { "IpGroup" },
            "configureSbc": info.flag_configure_sbc,
        });
        if let Some(s) = &scripts.onboarding_script {
            spec["onboardingScript"] = json!(s);
        }
        if let Some(s) = &scripts.cleanup_script {
            spec["cleanupScript"] = json!(s);
        }
        let parameters: BTreeMap<String, String> = scripts
            .customer_variables
            .as_ref()
            .and_then(Value::as_object)
            .map(|vars| {
                // A password (the platform may echo it, masked or not) never goes
                // into a manifest: it belongs in the carrier Secret.
                vars.iter()
                    .filter(|(k, _)| !k.to_ascii_lowercase().contains("password"))
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        if !parameters.is_empty() {
            spec["scriptParameters"] = json!(parameters);
        }
        if let Some(cac) = &info.cac_profile {
            spec["cacProfile"] = json!(cac);
            spec["enableCac"] = json!(true);
        }
        if info.carrier_user_name.is_some() {
            // The platform never returns the password: a stub to fill in.
            let secret = format!("{object}-carrier");
            spec["carrierPasswordSecretRef"] = json!({"name": secret, "key": "password"});
            let mut secret_meta = metadata(&secret, Some(namespace), false, false);
            secret_meta["annotations"] = json!({
                "operatorconnect.io/fill-in": "the carrier password of this site: the platform never returns it; put it in stringData.password before applying",
            });
            sites.push(
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": secret_meta,
                                  "type": "Opaque", "stringData": {"password": ""}}),
            );
        }
        sites.push(json!({"apiVersion": API_VERSION, "kind": "OCSipConnection",
                              "metadata": meta(&object), "spec": owned(spec)}));
        if let Some((_, rules)) = c.dial_plans.iter().find(|(site_id, _)| site_id == id) {
            let rules: Vec<Value> = rules
                .iter()
                .map(|r| json!({"name": r.name, "prefix": r.prefix, "tag": r.tag}))
                .collect();
            let spec = json!({
                "sipConnectionRef": {"name": object},
                "dialPlanId": layout.dial_plan_id,
                "rules": rules,
                "unmanagedRules": "Keep",
            });
            plans.push(json!({"apiVersion": API_VERSION, "kind": "OCDialPlan",
                                  "metadata": meta(&trim63(&format!("{object}-{}", slug(&layout.dial_plan_id)))),
                                  "spec": owned(spec)}));
        }
    }
    add("sip-connections.yaml", sites);
    add("dial-plans.yaml", plans);

    let mut user_names = BTreeSet::new();
    let users: Vec<Value> = c
        .users
        .iter()
        .filter_map(|u| {
            // Listed as `sip:user@domain`; the spec holds the address alone.
            let sip = u.sip_address.as_deref()?;
            let sip = sip
                .strip_prefix("sip:")
                .or_else(|| sip.strip_prefix("SIP:"))
                .unwrap_or(sip)
                .to_owned();
            let local = sip.split('@').next().unwrap_or(&sip).to_owned();
            let object = unique(&mut user_names, &slug(&local));
            let mut spec = json!({
                "sipAddress": sip,
                "enterpriseVoiceEnabled": u.enterprise_voice_enabled,
            });
            for (key, value) in [
                ("lineUri", &u.line_uri),
                ("usageLocation", &u.usage_location),
                ("teamsCallingPolicy", &u.teams_calling_policy),
                ("onlineVoiceRoutingPolicy", &u.online_voice_routing_policy),
            ] {
                if let Some(v) = value {
                    spec[key] = json!(v);
                }
            }
            Some(json!({"apiVersion": API_VERSION, "kind": "OCEndUser",
                            "metadata": meta(&object), "spec": owned(spec)}))
        })
        .collect();
    add("end-users.yaml", users);
    files.push(("kustomization.yaml".into(), kustomization(&resources)));
    files
}

fn customer(c: &CustomerSnapshot, layout: &Layout, metadata: Value) -> Value {
    let service = &c.details.service;
    let short = service.customer_short_name.clone().unwrap_or_default();
    let full = service
        .customer_full_name
        .clone()
        .unwrap_or_else(|| short.clone());
    let company = c
        .lead
        .contact_details
        .as_ref()
        .and_then(|d| d.company_name.clone())
        .unwrap_or_else(|| full.clone());
    let license = LicenseType::from_code(service.license_type.unwrap_or(3))
        .unwrap_or(LicenseType::OcEssentials);
    let mut license_spec = json!({"type": format!("{license:?}")});
    if license != LicenseType::OcEssentials
        && let Some(count) = service.licensed_users_count
    {
        license_spec["count"] = json!(count);
    }
    let mut spec = json!({
        "platformRef": {"name": layout.platform},
        "tenantId": c.lead.tenant_id,
        "companyName": company,
        "shortName": short,
        "fullName": full,
        "license": license_spec,
        "deletionPolicy": layout.deletion_policy,
    });
    if let Some(channel) = c.lead.channel_id {
        spec["channelId"] = json!(channel);
    }
    json!({"apiVersion": API_VERSION, "kind": "OCCustomer", "metadata": metadata, "spec": spec})
}

/// The customer's numbers grouped by calling profile, capabilities, civic address and
/// location (what one upload declares), each group's numbers as ranges and singles.
fn blocks(c: &CustomerSnapshot) -> Vec<Value> {
    type Key = (String, Vec<String>, Option<String>, Option<String>);
    let mut groups: BTreeMap<Key, Vec<String>> = BTreeMap::new();
    for n in &c.numbers {
        let mut capabilities: Vec<String> = n
            .acquired_capabilities
            .iter()
            .filter(|cap| declarable(cap))
            .cloned()
            .collect();
        capabilities.sort();
        capabilities.dedup();
        let key = (
            n.calling_profile_id.clone().unwrap_or_default(),
            capabilities,
            n.civic_address_id.clone(),
            n.location_id.clone(),
        );
        groups
            .entry(key)
            .or_default()
            .push(n.telephone_number.clone());
    }
    groups
        .into_iter()
        .map(|((profile, capabilities, civic, location), numbers)| {
            let declared = ranges::declare(&numbers);
            let usage = if capabilities.iter().any(|c| c == "ConferenceAssignment") {
                "ConferenceAssignment"
            } else if capabilities.iter().any(|c| c == "FirstPartyAppAssignment") {
                "FirstPartyAppAssignment"
            } else {
                "CallingUserAssignment"
            };
            let mut spec = json!({
                "callingProfileId": profile,
                "usage": usage,
                "capabilities": capabilities,
            });
            if !declared.numbers.is_empty() {
                spec["numbers"] = json!(declared.numbers);
            }
            if !declared.ranges.is_empty() {
                spec["ranges"] = json!(
                    declared
                        .ranges
                        .iter()
                        .map(|(start, end)| json!({"start": start, "end": end}))
                        .collect::<Vec<_>>()
                );
            }
            if let Some(civic) = civic {
                spec["civicAddressId"] = json!(civic);
            }
            if let Some(location) = location {
                spec["locationId"] = json!(location);
            }
            spec
        })
        .collect()
}

/// Whether a block may declare the platform's capability `name` (one of
/// `api::number_block::Capability`).
fn declarable(name: &str) -> bool {
    serde_json::from_value::<Capability>(json!(name)).is_ok()
}

fn metadata(name: &str, namespace: Option<&str>, protect: bool, adopt: bool) -> Value {
    let mut annotations = serde_json::Map::new();
    if adopt {
        annotations.insert(ADOPT_ANNOTATION.into(), json!("true"));
    }
    if protect {
        annotations.insert(PROTECT_ANNOTATION.into(), json!("true"));
    }
    let mut meta = json!({"name": name});
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    if !annotations.is_empty() {
        meta["annotations"] = Value::Object(annotations);
    }
    meta
}

fn customer_label(c: &CustomerSnapshot) -> String {
    c.details
        .service
        .customer_short_name
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| c.lead.tenant_id.clone())
}

/// A Kubernetes name from a platform name: lower case letters, digits and dashes.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = trim63(out.trim_end_matches('-'));
    if out.is_empty() { "x".to_owned() } else { out }
}

fn trim63(name: &str) -> String {
    name.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

/// `name`, or `name-2`, `name-3`... if taken; recorded as taken.
fn unique(taken: &mut BTreeSet<String>, name: &str) -> String {
    let mut candidate = name.to_owned();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = trim63(&format!("{}-{n}", trim63(&name[..name.len().min(58)])));
        n += 1;
    }
    candidate
}

fn kustomization(resources: &[String]) -> String {
    let mut text =
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n".to_owned();
    for resource in resources {
        text.push_str(&format!("  - {resource}\n"));
    }
    text
}

/// YAML documents separated by `---`, with a header saying where they came from.
fn documents(objects: &[Value]) -> String {
    let mut text = String::from("# Written by oc-operator import from the Live Platform.\n");
    for (i, object) in objects.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        // A JSON value always serialises to YAML.
        text.push_str(&serde_yaml_ng::to_string(object).unwrap_or_default());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kubernetes_names() {
        for (text, want) in [
            ("Contoso", "contoso"),
            ("Contoso Ltd.", "contoso-ltd"),
            ("--a__b--", "a-b"),
            ("Ünïcode", "n-code"),
            ("", "x"),
        ] {
            assert_eq!(slug(text), want, "{text}");
        }
        assert_eq!(slug(&"a".repeat(80)).len(), 63);
        let mut taken = BTreeSet::new();
        assert_eq!(unique(&mut taken, "hq"), "hq");
        assert_eq!(unique(&mut taken, "hq"), "hq-2");
        assert_eq!(unique(&mut taken, "hq"), "hq-3");
    }
}
