//! Deletion always ends, whatever is deleted first: the examples' objects (a customer,
//! two number blocks, a SIP connection, a dial plan, two end users) and their
//! OCPlatform, deleted kind by kind in several orders (each kind first, dependents
//! before their customer, the platform first, the namespace at once). Each order ends
//! with the namespace and the platform gone and nothing left on the platform: a
//! customer waits for its dependents, and a platform waits for its customers.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};
use oc_operator::api::OCPlatform;

use crate::support::*;

/// One deletion, sent without waiting for it to end.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Every object of a kind in the namespace (its plural).
    Every(&'static str),
    /// The OCPlatform.
    Platform,
    /// The namespace.
    Namespace,
}

use Step::*;

const USERS: Step = Every("ocendusers");
const PLANS: Step = Every("ocdialplans");
const SITES: Step = Every("ocsipconnections");
const BLOCKS: Step = Every("ocnumberblocks");
const CUSTOMERS: Step = Every("occustomers");

/// How the examples' customer leaves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Customer {
    /// `deletionPolicy: Delete` (the examples'): nothing is left on the platform.
    Deletes,
    /// `deletionPolicy: Orphan`: the lead and the customer stay on the platform.
    Orphans,
}

/// The examples in a namespace of their own, Ready, then deleted in `order`: the
/// namespace and the platform go, within two minutes, and the platform holds what the
/// customer's policy leaves.
async fn deleted_in(prefix: &str, customer: Customer, order: &[Step]) {
    let mut world = World::new(prefix).await;
    let ns = world.add_namespace(&format!("{prefix}-t")).await;
    world.start().await;
    world.apply_examples_in(&ns).await;
    if customer == Customer::Orphans {
        world.orphan_the_examples_customer(&ns).await;
    }
    world.examples_ready_in(&ns).await;
    let platforms: Api<OCPlatform> = Api::all(world.client.clone());
    let namespaces: Api<Namespace> = Api::all(world.client.clone());
    for step in order {
        match step {
            Every(plural) => {
                let output = world
                    .kubectl()
                    .args(["delete", plural, "--all", "-n", &ns, "--wait=false"])
                    .output()
                    .expect("kubectl runs");
                assert!(output.status.success(), "{prefix}: {step:?}: {output:?}");
            }
            Platform => {
                platforms
                    .delete(&world.platform(), &DeleteParams::default())
                    .await
                    .expect("delete the platform");
            }
            Namespace => {
                namespaces
                    .delete(&ns, &DeleteParams::default())
                    .await
                    .expect("delete the namespace");
            }
        }
    }
    gone_within(120, &format!("{prefix}: namespace {ns}"), async || {
        namespaces.get_opt(&ns).await.expect("namespace").is_none()
    })
    .await;
    let platform = world.platform();
    gone_within(
        60,
        &format!("{prefix}: OCPlatform {platform}"),
        async || {
            platforms
                .get_opt(&platform)
                .await
                .expect("platform")
                .is_none()
        },
    )
    .await;
    match customer {
        Customer::Deletes => {
            world.platform_holds_nothing().await;
        }
        Customer::Orphans => {
            let state = world.admin.state().await.unwrap();
            for area in ["leads", "customers"] {
                assert_eq!(
                    state[area].as_object().map(|o| o.len()),
                    Some(1),
                    "{prefix}: {area}"
                );
            }
        }
    }
}

#[tokio::test]
async fn deletion_ends_whatever_is_deleted_first() {
    use Customer::*;
    let orders: [(&str, Customer, &[Step]); 10] = [
        ("del-at-once", Deletes, &[Namespace, Platform]),
        ("del-platform", Deletes, &[Platform, Namespace]),
        ("del-customer", Deletes, &[CUSTOMERS, Namespace, Platform]),
        ("del-blocks", Deletes, &[BLOCKS, Namespace, Platform]),
        ("del-sites", Deletes, &[SITES, Namespace, Platform]),
        ("del-plans", Deletes, &[PLANS, Namespace, Platform]),
        ("del-users", Deletes, &[USERS, Namespace, Platform]),
        (
            "del-leaves",
            Deletes,
            &[USERS, PLANS, SITES, BLOCKS, CUSTOMERS, Platform, Namespace],
        ),
        ("del-orphan-platform", Orphans, &[Platform, Namespace]),
        (
            "del-orphan-customer",
            Orphans,
            &[CUSTOMERS, Platform, Namespace],
        ),
    ];
    // Each order on a world of its own (its simulator, platform and operator), all at
    // once.
    futures::future::join_all(
        orders
            .iter()
            .map(|(prefix, customer, order)| deleted_in(prefix, *customer, order)),
    )
    .await;
}
