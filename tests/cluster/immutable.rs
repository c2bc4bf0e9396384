//! Ids that must not change once set are refused on update.

use crate::support::*;

fn patch(kind: &str, name: &str, ns: &str, patch: &str) -> (bool, String) {
    let output = kubectl(&["patch", kind, name, "-n", ns, "--type=merge", "-p", patch]);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn create(ns: &str, yaml: &str) {
    let file = std::env::temp_dir().join(format!("{ns}-{}.yaml", yaml.len()));
    std::fs::write(&file, yaml).unwrap();
    let output = apply(&file, ns);
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const CUSTOMER: &str = r#"
apiVersion: operatorconnect.io/v1alpha1
kind: OCCustomer
metadata: {name: acme}
spec:
  platformRef: {name: sandbox}
  tenantId: 1c8f7d2b-3a4e-4f6c-9b0d-2e3f4a5b6c7d
  companyName: Acme
  shortName: acme
  fullName: Acme Corporation
  license: {type: OcEssentialsPlus, count: 5}
"#;

#[tokio::test]
async fn customer_ids_are_immutable_and_the_licence_cannot_go_back() {
    let ns = namespace("immutable-customer");
    create(&ns, CUSTOMER);
    for (p, message) in [
        (
            r#"{"spec":{"tenantId":"2d9a8e3c-4b5f-4a7d-8c1e-3f4a5b6c7d8e"}}"#,
            "tenantId is immutable",
        ),
        (
            r#"{"spec":{"shortName":"acme2"}}"#,
            "shortName is immutable",
        ),
        (
            r#"{"spec":{"platformRef":{"name":"other"}}}"#,
            "platformRef is immutable",
        ),
        (
            r#"{"spec":{"configurationType":"IpGroupType"}}"#,
            "configurationType is immutable",
        ),
        (
            r#"{"spec":{"license":{"type":"OcEssentials","count":null}}}"#,
            "cannot go back to OcEssentials",
        ),
    ] {
        let (ok, stderr) = patch("occustomer", "acme", &ns, p);
        assert!(!ok && stderr.contains(message), "{p}: {stderr}");
    }
    // Mutable fields change freely.
    let (ok, stderr) = patch(
        "occustomer",
        "acme",
        &ns,
        r#"{"spec":{"fullName":"Acme Corp","channelId":1575,"license":{"type":"OcPro","count":9}}}"#,
    );
    assert!(ok, "{stderr}");
}

#[tokio::test]
async fn references_and_ids_of_the_other_kinds_are_immutable() {
    let ns = namespace("immutable-refs");
    create(
        &ns,
        r#"
apiVersion: operatorconnect.io/v1alpha1
kind: OCNumberBlock
metadata: {name: block}
spec:
  customerRef: {name: acme}
  numbers: ["+14255550100"]
  callingProfileId: a3f1e2d4-6b7c-4d8e-9f0a-1b2c3d4e5f60
  usage: CallingUserAssignment
---
apiVersion: operatorconnect.io/v1alpha1
kind: OCSipConnection
metadata: {name: site}
spec:
  customerRef: {name: acme}
  siteName: Redmond
  sbcId: "11"
  onboardingScript: onboard-v1
---
apiVersion: operatorconnect.io/v1alpha1
kind: OCDialPlan
metadata: {name: plan}
spec:
  customerRef: {name: acme}
  sipConnectionRef: {name: site}
  dialPlanId: CustDialPlan
---
apiVersion: operatorconnect.io/v1alpha1
kind: OCEndUser
metadata: {name: user}
spec:
  customerRef: {name: acme}
  sipAddress: adele@acme.com
"#,
    );
    for (kind, name, p, message) in [
        (
            "ocnumberblock",
            "block",
            r#"{"spec":{"customerRef":{"name":"other"}}}"#,
            "customerRef is immutable",
        ),
        (
            "ocsipconnection",
            "site",
            r#"{"spec":{"customerType":"Tenant"}}"#,
            "customerType is immutable",
        ),
        (
            "ocsipconnection",
            "site",
            r#"{"spec":{"onboardingScript":"onboard-v2"}}"#,
            "onboardingScript is immutable",
        ),
        (
            "ocdialplan",
            "plan",
            r#"{"spec":{"dialPlanId":"Other"}}"#,
            "dialPlanId is immutable",
        ),
        (
            "ocdialplan",
            "plan",
            r#"{"spec":{"sipConnectionRef":null}}"#,
            "sipConnectionRef is immutable",
        ),
        (
            "ocenduser",
            "user",
            r#"{"spec":{"sipAddress":"alex@acme.com"}}"#,
            "sipAddress is immutable",
        ),
    ] {
        let (ok, stderr) = patch(kind, name, &ns, p);
        assert!(!ok && stderr.contains(message), "{kind} {p}: {stderr}");
    }
    let (ok, stderr) = patch(
        "ocnumberblock",
        "block",
        &ns,
        r#"{"spec":{"numbers":["+14255550100","+14255550101"]}}"#,
    );
    assert!(ok, "{stderr}");
}
