//! `examples/` applies cleanly, as a newcomer would apply it.

use crate::support::*;

#[tokio::test]
async fn every_example_applies_cleanly() {
    let output = kubectl(&[
        "apply",
        "-f",
        &repo().join("examples").display().to_string(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    for created in [
        "ocplatform.operatorconnect.io/sandbox",
        "occustomer.operatorconnect.io/contoso",
        "ocnumberblock.operatorconnect.io/contoso-users",
        "ocnumberblock.operatorconnect.io/contoso-conferencing",
        "ocsipconnection.operatorconnect.io/redmond",
        "ocdialplan.operatorconnect.io/contoso-redmond",
        "ocenduser.operatorconnect.io/adele-vance",
        "ocenduser.operatorconnect.io/alex-wilber",
    ] {
        assert!(
            stdout.contains(created),
            "{created} missing from:\n{stdout}"
        );
    }
    // Defaults from the schema are filled in.
    let output = kubectl(&[
        "get",
        "occustomer",
        "contoso",
        "-n",
        "contoso",
        "-o",
        "jsonpath={.spec.deletionPolicy}",
    ]);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "Delete");
    let output = kubectl(&[
        "get",
        "ocplatform",
        "sandbox",
        "-o",
        "jsonpath={.spec.credentialsSecretRef.clientSecretKey}",
    ]);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "clientSecret");
    // The whole category is listed: the seven namespaced objects of the customer.
    let output = kubectl(&["get", "operatorconnect", "-n", "contoso", "-o", "name"]);
    let text = String::from_utf8_lossy(&output.stdout);
    let namespaced = text
        .lines()
        .filter(|l| !l.starts_with("ocplatform."))
        .count();
    assert_eq!(namespaced, 7, "{text}");
}
