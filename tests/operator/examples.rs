//! The whole customer of `examples/` becomes Ready against the simulator, then is
//! deleted with nothing left on the platform.

use crate::support::*;

#[tokio::test]
async fn the_examples_customer_becomes_ready_and_is_deleted_cleanly() {
    let mut world = World::new("examples").await;
    world.apply_examples().await;
    world.start().await;
    world.examples_ready().await;
    let state = world.admin.state().await.unwrap();
    assert_eq!(state["numbers"].as_object().unwrap().len(), 53);
    assert_eq!(state["users"].as_object().unwrap().len(), 2);

    let state = world.delete_examples_leaving_nothing().await;
    assert!(state["busyNumbers"].as_object().unwrap().is_empty());
}

/// The platform reads a first onboarding of the examples' customer may make besides
/// its writes and task polls (and its one question to Entra ID), by endpoint, at most as often as given, each with its reason:
/// bench/README.md lists them as the reads that stay. Anything else read (a lead
/// before its creation, a customer again after its upgrade, licence info, the
/// tenant's numbers, numbers validated before their upload (the upload's task refuses
/// each number it cannot take), a user, a site or dial plan rules looked up before the first
/// write under a customer the operator created, a user listed after its
/// provisioning, a site read after its add) fails the test.
const KEPT_READS: &[(&str, usize, &str)] = &[(
    "GET /v3/customer/{guid}",
    1,
    "the customer's licence and default domain, which no answer carries",
)];

/// What the OCPlatform reads to say it is Ready (calling profiles, SBCs, a count of
/// leads and customers): once per platform, not per customer.
const PLATFORM_READS: &[&str] = &[
    "GET /v2/oc/callingprofile",
    "GET /v2/oc/callingprofile/sbcmapping",
    "GET /v2/customer",
];

#[tokio::test]
async fn a_first_onboarding_reads_only_what_no_answer_says() {
    let mut world = World::new("examplesreads").await;
    world.admin.start_journal().await.unwrap();
    world.apply_examples().await;
    world.start().await;
    world.examples_ready().await;
    let journal = world.admin.journal().await.unwrap();
    let mut reads: std::collections::BTreeMap<String, usize> = Default::default();
    for entry in journal.as_array().unwrap() {
        let endpoint = entry["endpoint"].as_str().unwrap();
        let uri = entry["uri"].as_str().unwrap();
        let read = endpoint.starts_with("GET ") || endpoint.ends_with("/number-status");
        let polled = endpoint == "GET /v2/task/{task_id}";
        // The platform's own count of leads lists them all; a customer's look at its
        // lead names the tenant.
        let platforms = PLATFORM_READS.contains(&endpoint)
            || (endpoint == "GET /v2/oc/lead" && !uri.to_ascii_lowercase().contains("mstenantid"));
        if read && !polled && !platforms {
            *reads.entry(endpoint.to_owned()).or_default() += 1;
        }
    }
    let beyond: Vec<String> = reads
        .iter()
        .filter(|(endpoint, n)| {
            KEPT_READS
                .iter()
                .find(|(kept, _, _)| kept == endpoint)
                .is_none_or(|(_, most, _)| *n > most)
        })
        .map(|(endpoint, n)| format!("{endpoint}: {n}"))
        .collect();
    assert!(
        beyond.is_empty(),
        "reads beyond those kept: {beyond:?} (all reads: {reads:?})"
    );
    // The customer was read once.
    for (endpoint, _, _) in KEPT_READS.iter().filter(|(_, most, _)| *most == 1) {
        assert_eq!(reads.get(*endpoint), Some(&1), "{endpoint}: {reads:?}");
    }
    // Entra ID (not the platform, so not in its journal) was asked once.
    let validations = world
        .admin
        .count("GET /{tenant}/.well-known/openid-configuration", "total")
        .await
        .unwrap();
    assert_eq!(validations, 1);
}
