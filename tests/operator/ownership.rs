//! One platform object, one owner: a second declaration of a tenant, number, site,
//! dial plan or user (in another namespace or the same one) is held in `Conflict`,
//! writes nothing and deletes nothing; taking over what exists needs the opt-in.

use std::fmt::Debug;

use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use liveplatform_sim::admin_client::AdminClient;
use oc_operator::api::conditions::{READY, reason};
use oc_operator::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCSipConnection};
use oc_operator::controller::kind::Kind;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::support::*;

/// What the platform holds of every area an object can manage.
async fn platform_objects(admin: &AdminClient) -> serde_json::Value {
    let state = admin.state().await.expect("state");
    json!({
        "leads": state["leads"], "customers": state["customers"], "numbers": state["numbers"],
        "sites": state["sites"], "dialPlans": state["dialPlans"], "users": state["users"],
    })
}

/// The examples' objects, by kind and name.
const BLOCKS: [&str; 2] = ["contoso-users", "contoso-conferencing"];
const USERS: [&str; 2] = ["adele-vance", "alex-wilber"];

/// Waits until the object is held in `Conflict` with a message that contains `owner`
/// (the owner's kind and name, in its own namespace).
async fn in_conflict<K>(world: &World, ns: &str, name: &str, owner: &str)
where
    K: Kind + Resource<Scope = NamespaceResourceScope>,
{
    let obj = world
        .wait_in::<K>(ns, name, 60, "in conflict", |o| {
            has_reason(o, READY, reason::CONFLICT)
        })
        .await;
    let (_, _, message) = condition(&obj, READY).unwrap();
    assert!(
        message.contains(owner),
        "{ns}/{name}: the message does not name {owner}: {message}"
    );
}

/// The example objects of namespace `ns`, a copy of those of `owner_ns`: the customer
/// waits in `Conflict` without naming the owner's namespace, and its dependents take
/// no part in ownership (their customer owns nothing): they wait for it, saying so.
/// The owner's customer is told who else declares its tenant, in its own events.
async fn examples_in_conflict(world: &World, ns: &str, owner_ns: &str) {
    in_conflict::<OCCustomer>(world, ns, "contoso", "by an object in another namespace,").await;
    let customer = world.api_in::<OCCustomer>(ns).get("contoso").await.unwrap();
    let message = condition(&customer, READY).unwrap().2;
    assert!(!message.contains(&format!("{owner_ns}/")), "{message}");
    waits_for_a_customer_in_conflict::<OCSipConnection>(world, ns, "redmond").await;
    waits_for_a_customer_in_conflict::<OCDialPlan>(world, ns, "contoso-redmond").await;
    for block in BLOCKS {
        waits_for_a_customer_in_conflict::<OCNumberBlock>(world, ns, block).await;
    }
    for user in USERS {
        waits_for_a_customer_in_conflict::<OCEndUser>(world, ns, user).await;
    }
    let told = event_notes(world, owner_ns, "contoso").await;
    assert!(
        told.iter()
            .any(|n| n.contains(&format!("OCCustomer {ns}/contoso also names tenant"))),
        "the owner was not told of the copy: {told:?}"
    );
}

/// Waits until the dependent says its customer is held in `Conflict`, without naming
/// any other namespace.
async fn waits_for_a_customer_in_conflict<K>(world: &World, ns: &str, name: &str)
where
    K: Kind + Resource<Scope = NamespaceResourceScope>,
{
    let obj = world
        .wait_in::<K>(ns, name, 60, "waiting for its customer", |o| {
            condition(o, READY).is_some_and(|(_, reason, message)| {
                reason == reason::WAITING_FOR_CUSTOMER && message.contains("held in Conflict")
            })
        })
        .await;
    let message = condition(&obj, READY).unwrap().2;
    assert!(
        !message.contains(&format!("{}/", world.ns)),
        "{ns}/{name}: {message}"
    );
}

#[tokio::test]
async fn a_copied_tenant_folder_in_another_namespace_is_held_in_conflict_and_touches_nothing() {
    let mut world = World::new("owner").await;
    let intruder = world.add_namespace("intruder").await;
    world.start().await;
    world.apply_examples().await;
    world.examples_ready().await;
    let before = platform_objects(&world.admin).await;
    let writes_before = world.writes().await;

    // The same tenant folder, copied into another namespace, asking for another
    // licence.
    world.apply_examples_in(&intruder).await;
    world
        .api_in::<OCCustomer>(&intruder)
        .patch(
            "contoso",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"license": {"type": "OcPro", "count": 1}}})),
        )
        .await
        .expect("licence change");
    examples_in_conflict(&world, &intruder, &world.ns).await;
    assert_eq!(world.writes().await, writes_before, "the copy wrote");
    world.examples_ready().await;

    // Deleting the copy's namespace touches nothing on the platform.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(world.client.clone());
    namespaces
        .delete(&intruder, &DeleteParams::default())
        .await
        .expect("delete namespace");
    for _ in 0..300 {
        if namespaces.get_opt(&intruder).await.expect("get").is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        namespaces.get_opt(&intruder).await.expect("get").is_none(),
        "the copy's namespace is still there"
    );
    assert_eq!(
        world.writes().await,
        writes_before,
        "deleting the copy wrote"
    );
    assert_eq!(platform_objects(&world.admin).await, before);
    world.examples_ready().await;
}

/// A copy of object `name` of kind `K` in the world's namespace, named `copy`, with
/// `annotations` and spec fields replaced by `spec`.
async fn copy<K>(
    world: &World,
    name: &str,
    copy: &str,
    annotations: serde_json::Value,
    spec: serde_json::Value,
) where
    K: Kind + Resource<Scope = NamespaceResourceScope> + Serialize + DeserializeOwned + Debug,
{
    let original = world.api::<K>().get(name).await.expect("original");
    let mut value = serde_json::to_value(&original).unwrap();
    value["metadata"] = json!({"name": copy, "annotations": annotations});
    value.as_object_mut().unwrap().remove("status");
    for (k, v) in spec.as_object().cloned().unwrap_or_default() {
        value["spec"][k] = v;
    }
    world.apply::<K>(value).await;
}

/// Copies every example object in its own namespace (`<name>-copy`, dependents
/// naming the original customer and site, so each copy could act if it were let).
async fn copy_examples(world: &World) {
    copy::<OCCustomer>(world, "contoso", "contoso-copy", json!({}), json!({})).await;
    for block in BLOCKS {
        copy::<OCNumberBlock>(world, block, &format!("{block}-copy"), json!({}), json!({})).await;
    }
    copy::<OCSipConnection>(world, "redmond", "redmond-copy", json!({}), json!({})).await;
    copy::<OCDialPlan>(
        world,
        "contoso-redmond",
        "contoso-redmond-copy",
        json!({}),
        json!({}),
    )
    .await;
    for user in USERS {
        copy::<OCEndUser>(world, user, &format!("{user}-copy"), json!({}), json!({})).await;
    }
}

#[tokio::test]
async fn copies_in_the_same_namespace_declared_while_the_operator_was_down_stay_in_conflict() {
    let mut world = World::new("copies").await;
    world.start().await;
    world.apply_examples().await;
    world.examples_ready().await;
    let before = platform_objects(&world.admin).await;

    // The copies arrive while the operator is down; after the restart the first
    // declarations keep what they own, whichever object is reconciled first.
    world.crash().await;
    let writes_before = world.writes().await;
    copy_examples(&world).await;
    world.start().await;
    let ns = world.ns.clone();
    in_conflict::<OCCustomer>(&world, &ns, "contoso-copy", "OCCustomer contoso,").await;
    for block in BLOCKS {
        in_conflict::<OCNumberBlock>(
            &world,
            &ns,
            &format!("{block}-copy"),
            &format!("OCNumberBlock {block},"),
        )
        .await;
    }
    in_conflict::<OCSipConnection>(&world, &ns, "redmond-copy", "OCSipConnection redmond,").await;
    in_conflict::<OCDialPlan>(
        &world,
        &ns,
        "contoso-redmond-copy",
        "OCDialPlan contoso-redmond,",
    )
    .await;
    for user in USERS {
        in_conflict::<OCEndUser>(
            &world,
            &ns,
            &format!("{user}-copy"),
            &format!("OCEndUser {user},"),
        )
        .await;
    }
    world.examples_ready().await;
    assert_eq!(world.writes().await, writes_before, "a copy wrote");

    // Deleting the copies touches nothing on the platform.
    for user in USERS {
        world.delete::<OCEndUser>(&format!("{user}-copy")).await;
    }
    world.delete::<OCDialPlan>("contoso-redmond-copy").await;
    world.delete::<OCSipConnection>("redmond-copy").await;
    for block in BLOCKS {
        world
            .delete::<OCNumberBlock>(&format!("{block}-copy"))
            .await;
    }
    world.delete::<OCCustomer>("contoso-copy").await;
    world.wait_gone::<OCCustomer>("contoso-copy", 60).await;
    for block in BLOCKS {
        world
            .wait_gone::<OCNumberBlock>(&format!("{block}-copy"), 60)
            .await;
    }
    world.wait_gone::<OCSipConnection>("redmond-copy", 60).await;
    world
        .wait_gone::<OCDialPlan>("contoso-redmond-copy", 60)
        .await;
    for user in USERS {
        world
            .wait_gone::<OCEndUser>(&format!("{user}-copy"), 60)
            .await;
    }
    assert_eq!(world.writes().await, writes_before, "deleting a copy wrote");
    assert_eq!(platform_objects(&world.admin).await, before);
    world.examples_ready().await;
}

#[tokio::test]
async fn after_an_orphaning_owner_goes_a_waiting_copy_adopts_only_on_request() {
    let mut world = World::new("handover").await;
    world.start().await;
    world
        .customer(
            "contoso",
            TENANT_A,
            "contoso",
            json!({"license": {"type": "OcEssentialsPlus", "count": 5}, "deletionPolicy": "Orphan"}),
        )
        .await;
    world.ready::<OCCustomer>("contoso", 60).await;
    world
        .block(
            "numbers",
            "contoso",
            json!({"numbers": ["+14255550400", "+14255550401"], "deletionPolicy": "Orphan"}),
        )
        .await;
    world.ready::<OCNumberBlock>("numbers", 60).await;
    let before = platform_objects(&world.admin).await;
    // What the platform accepts: a declared lead is sent first, and the platform's
    // refusal (the tenant has one) is how the object finds it; that changes nothing.
    let writes_before = world.accepted_writes().await;

    copy::<OCCustomer>(&world, "contoso", "successor", json!({}), json!({})).await;
    copy::<OCNumberBlock>(
        &world,
        "numbers",
        "successor-numbers",
        json!({}),
        json!({"customerRef": {"name": "successor"}}),
    )
    .await;
    let ns = world.ns.clone();
    in_conflict::<OCCustomer>(&world, &ns, "successor", "OCCustomer contoso,").await;
    // The copy's block takes no part while its customer owns nothing.
    waits_for_a_customer_in_conflict::<OCNumberBlock>(&world, &ns, "successor-numbers").await;

    // The owners go and leave their platform objects: the copies, woken by that, find
    // them and refuse to take them over without the opt-in.
    world.delete::<OCNumberBlock>("numbers").await;
    world.delete::<OCCustomer>("contoso").await;
    world.wait_gone::<OCCustomer>("contoso", 60).await;
    world.wait_gone::<OCNumberBlock>("numbers", 60).await;
    let refused = world
        .wait::<OCCustomer>("successor", 60, "AlreadyExists", |c| {
            has_reason(c, READY, reason::ALREADY_EXISTS)
        })
        .await;
    let message = condition(&refused, READY).unwrap().2;
    assert!(
        message.contains(TENANT_A) && message.contains("operatorconnect.io/adopt"),
        "{message}"
    );
    assert_eq!(world.accepted_writes().await, writes_before, "a copy wrote");

    // With the opt-in, everything is taken over as it is: no write at all.
    world.opt_in::<OCCustomer>("successor").await;
    world.opt_in::<OCNumberBlock>("successor-numbers").await;
    world.ready::<OCCustomer>("successor", 60).await;
    let block = world.ready::<OCNumberBlock>("successor-numbers", 60).await;
    assert_eq!(
        block.status.unwrap().active,
        vec!["+14255550400-+14255550401".to_owned()]
    );
    assert_eq!(
        world.accepted_writes().await,
        writes_before,
        "adoption wrote"
    );
    assert_eq!(platform_objects(&world.admin).await, before);
}

/// Sets `spec.deletionPolicy: Orphan` on object `name` of kind `K`.
async fn orphan<K>(world: &World, name: &str)
where
    K: Kind + Resource<Scope = NamespaceResourceScope>,
{
    world
        .merge::<K>(name, json!({"spec": {"deletionPolicy": "Orphan"}}))
        .await;
}

async fn already_exists<K>(world: &World, name: &str)
where
    K: Kind + Resource<Scope = NamespaceResourceScope>,
{
    world
        .wait::<K>(name, 60, "AlreadyExists", |o| {
            has_reason(o, READY, reason::ALREADY_EXISTS)
        })
        .await;
}

#[tokio::test]
async fn an_existing_tenant_is_adopted_whole_only_with_the_opt_in_and_with_zero_writes() {
    let mut world = World::new("adoptall").await;
    world.start().await;
    world.apply_examples().await;
    world.examples_ready().await;
    // The objects go, the platform keeps everything (as after an uninstall, or for a
    // provider that set the platform up by hand).
    orphan::<OCCustomer>(&world, "contoso").await;
    for block in BLOCKS {
        orphan::<OCNumberBlock>(&world, block).await;
    }
    orphan::<OCSipConnection>(&world, "redmond").await;
    orphan::<OCDialPlan>(&world, "contoso-redmond").await;
    for user in USERS {
        orphan::<OCEndUser>(&world, user).await;
    }
    world.examples_ready().await;
    let before = platform_objects(&world.admin).await;
    // What the platform accepts: a declared lead is sent first, and the platform's
    // refusal (the tenant has one) is how the object finds it; that changes nothing.
    let writes_before = world.accepted_writes().await;
    for user in USERS {
        world.delete::<OCEndUser>(user).await;
        world.wait_gone::<OCEndUser>(user, 60).await;
    }
    world.delete::<OCDialPlan>("contoso-redmond").await;
    world.wait_gone::<OCDialPlan>("contoso-redmond", 60).await;
    world.delete::<OCSipConnection>("redmond").await;
    world.wait_gone::<OCSipConnection>("redmond", 60).await;
    for block in BLOCKS {
        world.delete::<OCNumberBlock>(block).await;
        world.wait_gone::<OCNumberBlock>(block, 60).await;
    }
    world.delete::<OCCustomer>("contoso").await;
    world.wait_gone::<OCCustomer>("contoso", 60).await;

    // Declared again without the opt-in: refused, nothing written.
    world.apply_examples().await;
    already_exists::<OCCustomer>(&world, "contoso").await;
    assert_eq!(
        world.accepted_writes().await,
        writes_before,
        "a refused object wrote"
    );

    // The customer is taken over; its dependents then find theirs and refuse too.
    world.opt_in::<OCCustomer>("contoso").await;
    world.ready::<OCCustomer>("contoso", 60).await;
    for block in BLOCKS {
        already_exists::<OCNumberBlock>(&world, block).await;
    }
    already_exists::<OCSipConnection>(&world, "redmond").await;
    for user in USERS {
        already_exists::<OCEndUser>(&world, user).await;
    }
    assert_eq!(
        world.accepted_writes().await,
        writes_before,
        "a refused object wrote"
    );

    for block in BLOCKS {
        world.opt_in::<OCNumberBlock>(block).await;
    }
    world.opt_in::<OCSipConnection>("redmond").await;
    // The dial plan waits for its site's id, then finds the rules and refuses.
    already_exists::<OCDialPlan>(&world, "contoso-redmond").await;
    world.opt_in::<OCDialPlan>("contoso-redmond").await;
    for user in USERS {
        world.opt_in::<OCEndUser>(user).await;
    }
    world.examples_ready().await;
    assert_eq!(
        world.accepted_writes().await,
        writes_before,
        "adoption wrote"
    );
    assert_eq!(platform_objects(&world.admin).await, before);
}

#[tokio::test]
async fn a_number_another_tenant_holds_is_named_and_left_alone() {
    let mut world = World::new("othertenant").await;
    world.start().await;
    // Tenant B holds +14255550500 on the platform, put there by a script: no object
    // in the cluster owns it.
    world
        .customer("other", TENANT_B, "fabrikam", json!({}))
        .await;
    world.ready::<OCCustomer>("other", 60).await;
    world
        .platform_client()
        .upload_numbers(
            TENANT_B,
            &liveplatform::model::UploadNumbers::new(
                PROFILE_US,
                liveplatform::model::Usage::CallingUserAssignment,
                vec!["+14255550500".into()],
            ),
        )
        .await
        .expect("the script's upload");
    world.admin.post("/tasks/finish", json!({})).await.unwrap();
    world.customer_ready().await;
    let writes_before = world.writes().await;
    world
        .block(
            "numbers",
            "contoso",
            json!({"numbers": ["+14255550500", "+14255550501"]}),
        )
        .await;
    let block = world
        .wait::<OCNumberBlock>("numbers", 60, "refused", |b| {
            has_reason(b, READY, reason::REJECTED)
        })
        .await;
    let message = condition(&block, READY).unwrap().2;
    assert!(
        message.contains("+14255550500") && message.contains("another tenant"),
        "{message}"
    );
    // Only the other number was uploaded; nothing was released or unassigned.
    let after = world.writes().await;
    let count =
        |w: &[(String, u64)], e: &str| w.iter().find(|(k, _)| k == e).map_or(0, |(_, v)| *v);
    for endpoint in [
        "POST /v2/oc/numbers/action/release",
        "POST /v2/oc/numbers/action/unassign",
    ] {
        assert_eq!(
            count(&after, endpoint),
            count(&writes_before, endpoint),
            "{endpoint}"
        );
    }
    assert_eq!(
        count(&after, "POST /v2/oc/numbers/action/upload"),
        count(&writes_before, "POST /v2/oc/numbers/action/upload") + 1
    );
    assert_eq!(
        world.platform_numbers(TENANT_B).await,
        vec![("+14255550500".to_owned(), "Active".to_owned())]
    );
}

/// A namespace the OCPlatform does not allow declares a tenant first, with a SIP
/// connection: it may not act, so it claims nothing. The allowed namespace that
/// declares the same tenant and site later onboards both, and neither namespace is
/// told anything of the other.
#[tokio::test]
async fn a_namespace_the_platform_does_not_allow_squats_nothing() {
    let mut world = World::new("allowed").await;
    world.watch_all = true;
    let squatter = create_namespace(&world.client, "squatter").await;
    world.start().await;
    world.put_carrier_secret("carrier-password").await;
    world
        .customer_in(&squatter, "grab", TENANT_A, "grab", json!({}))
        .await;
    let site = |customer: &str| {
        json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCSipConnection",
               "metadata": {"name": "redmond"},
               "spec": {"customerRef": {"name": customer}, "siteName": "Redmond", "sbcId": "11"}})
    };
    world
        .api_in::<OCSipConnection>(&squatter)
        .patch(
            "redmond",
            &PatchParams::apply("test").force(),
            &Patch::Apply(site("grab")),
        )
        .await
        .expect("the squatter's site");
    world
        .wait_in::<OCCustomer>(&squatter, "grab", 60, "refused", |c| {
            has_reason(c, READY, reason::NAMESPACE_NOT_ALLOWED)
        })
        .await;
    let squatted = world
        .wait_in::<OCSipConnection>(&squatter, "redmond", 60, "refused", |s| {
            has_reason(s, READY, reason::NAMESPACE_NOT_ALLOWED)
        })
        .await;

    // The allowed namespace declares the same tenant and site, later.
    world
        .customer("contoso", TENANT_A, "contoso", json!({}))
        .await;
    world.apply::<OCSipConnection>(site("contoso")).await;
    world.ready::<OCCustomer>("contoso", 60).await;
    world.ready::<OCSipConnection>("redmond", 60).await;
    let state = world.admin.state().await.unwrap();
    assert_eq!(state["customers"].as_object().map(|c| c.len()), Some(1));
    assert_eq!(state["sites"].as_object().map(|s| s.len()), Some(1));

    // Neither namespace is told of the other's objects.
    let grab = world
        .api_in::<OCCustomer>(&squatter)
        .get("grab")
        .await
        .unwrap();
    assert!(has_reason(&grab, READY, reason::NAMESPACE_NOT_ALLOWED));
    let mut told = event_notes(&world, &squatter, "grab").await;
    told.extend(event_notes(&world, &squatter, "redmond").await);
    told.push(condition(&grab, READY).unwrap().2);
    told.push(condition(&squatted, READY).unwrap().2);
    assert!(
        !told
            .iter()
            .any(|n| n.contains("contoso") || n.contains(&format!("{}/", world.ns))),
        "{told:?}"
    );
    let told = [
        event_notes(&world, &world.ns, "contoso").await,
        event_notes(&world, &world.ns, "redmond").await,
    ]
    .concat();
    assert!(!told.iter().any(|n| n.contains(&squatter)), "{told:?}");
}

/// A SIP connection renamed onto the site name another one manages takes nothing: it
/// is held in `Conflict` and writes nothing, and the other site stays as it is.
#[tokio::test]
async fn a_sip_connection_renamed_onto_another_ones_site_takes_nothing() {
    let mut world = World::new("rename").await;
    world.start().await;
    world.put_carrier_secret("carrier-password").await;
    world.customer_ready().await;
    let site = |name: &str, site: &str| {
        json!({"apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCSipConnection",
               "metadata": {"name": name},
               "spec": {"customerRef": {"name": "contoso"}, "siteName": site, "sbcId": "11"}})
    };
    world
        .apply::<OCSipConnection>(site("redmond", "Redmond"))
        .await;
    world
        .apply::<OCSipConnection>(site("seattle", "Seattle"))
        .await;
    world.ready::<OCSipConnection>("redmond", 60).await;
    world.ready::<OCSipConnection>("seattle", 60).await;
    let before = platform_objects(&world.admin).await;
    let writes_before = world.writes().await;

    world
        .apply::<OCSipConnection>(site("seattle", "REDMOND"))
        .await;
    let ns = world.ns.clone();
    in_conflict::<OCSipConnection>(&world, &ns, "seattle", "OCSipConnection redmond,").await;
    world.ready::<OCSipConnection>("redmond", 60).await;
    assert_eq!(world.writes().await, writes_before, "the renamed one wrote");
    assert_eq!(platform_objects(&world.admin).await, before);
}
