//! The ledgers' table tests: who owns what, in-process.

use super::*;
use crate::api::{OCCustomer, OCNumberBlock, OCPlatform};
use crate::controller::fixtures::platform;
use crate::controller::stores::Stores;
use futures::StreamExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher;
use serde_json::json;
use std::sync::Arc;

const TENANT: &str = "8d2c5e4f-9a1b-4c3d-8e7f-0a1b2c3d4e5f";

/// How an object stands when the check runs.
struct Declared {
    name: &'static str,
    namespace: &'static str,
    platform: &'static str,
    tenant: &'static str,
    /// Seconds after the epoch.
    created: i64,
    /// `status.ownedSince`, seconds after the epoch.
    owned_since: Option<i64>,
    /// `status.leadId` recorded.
    claimed: bool,
}

const fn declared(name: &'static str, created: i64) -> Declared {
    Declared {
        name,
        namespace: "a",
        platform: "p",
        tenant: TENANT,
        created,
        owned_since: None,
        claimed: false,
    }
}

fn at(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn customer(d: &Declared) -> OCCustomer {
    let mut status = json!({});
    if d.claimed {
        status["leadId"] = json!("lead-1");
    }
    if let Some(since) = d.owned_since {
        status["ownedSince"] = json!(at(since));
    }
    serde_json::from_value(json!({
        "apiVersion": "operatorconnect.io/v1alpha1",
        "kind": "OCCustomer",
        "metadata": {
            "name": d.name, "namespace": d.namespace, "uid": format!("uid-{}", d.name),
            "resourceVersion": "1", "generation": 1, "creationTimestamp": at(d.created),
        },
        "spec": {
            "platformRef": {"name": d.platform},
            "tenantId": d.tenant,
            "companyName": "Contoso", "shortName": "contoso", "fullName": "Contoso Ltd",
            "license": {"type": "OcEssentials"}
        },
        "status": status,
    }))
    .expect("a valid customer")
}

fn block(name: &str, created: i64, numbers: &[&str], active: &[&str]) -> OCNumberBlock {
    serde_json::from_value(json!({
        "apiVersion": "operatorconnect.io/v1alpha1",
        "kind": "OCNumberBlock",
        "metadata": {
            "name": name, "namespace": "a", "uid": format!("uid-{name}"),
            "resourceVersion": "1", "generation": 1, "creationTimestamp": at(created),
        },
        "spec": {
            "customerRef": {"name": "c"},
            "numbers": numbers,
            "callingProfileId": "a3f1e2d4-6b7c-4d8e-9f0a-1b2c3d4e5f60",
            "usage": "CallingUserAssignment",
        },
        "status": {"active": active, "ownedSince": if active.is_empty() { json!(null) } else { json!(at(created)) }},
    }))
    .expect("a valid block")
}

/// Caches holding `customers` and `blocks`, and platforms `p` and `q` that every
/// namespace may use.
fn stores_with(customers: &[OCCustomer], blocks: &[OCNumberBlock]) -> Stores {
    stores_on(
        &[platform("p", &["*"]), platform("q", &["*"])],
        customers,
        blocks,
    )
}

fn stores_on(
    platforms: &[OCPlatform],
    customers: &[OCCustomer],
    blocks: &[OCNumberBlock],
) -> Stores {
    let stores = Stores::default();
    let (reader, mut writer) = kube::runtime::reflector::store::<OCPlatform>();
    for p in platforms {
        writer.apply_watcher_event(&watcher::Event::Apply(p.clone()));
    }
    stores.set_platforms(reader);
    let (reader, mut writer) = kube::runtime::reflector::store::<OCCustomer>();
    for c in customers {
        writer.apply_watcher_event(&watcher::Event::Apply(c.clone()));
    }
    stores.set_customers(reader);
    let (reader, mut writer): (_, Writer<OCNumberBlock>) = kube::runtime::reflector::store();
    for b in blocks {
        writer.apply_watcher_event(&watcher::Event::Apply(b.clone()));
    }
    stores.set_blocks(reader);
    stores.set_synced(true);
    stores
}

/// `namespace/name` of the owner that holds the object, if one does.
fn owner_of(verdict: &Verdict) -> Option<String> {
    match verdict {
        Verdict::Owner => None,
        Verdict::Conflict { owner, .. } => Some(format!("{}/{}", owner.namespace, owner.name)),
    }
}

#[test]
fn who_owns_a_tenant() {
    // (case, objects, the object checked, the owner it is held by)
    let cases: Vec<(&str, Vec<Declared>, usize, Option<&str>)> = vec![
        (
            "the older of two that claimed nothing",
            vec![declared("first", 10), declared("second", 20)],
            1,
            Some("a/first"),
        ),
        (
            "the older one is the owner",
            vec![declared("first", 10), declared("second", 20)],
            0,
            None,
        ),
        (
            "a claim beats an older object that claimed nothing (after a restart too)",
            vec![
                declared("older", 10),
                Declared {
                    owned_since: Some(30),
                    claimed: true,
                    ..declared("claimer", 20)
                },
            ],
            0,
            Some("a/claimer"),
        ),
        (
            "the earlier claim wins, whatever the creation order",
            vec![
                Declared {
                    owned_since: Some(50),
                    claimed: true,
                    ..declared("older", 10)
                },
                Declared {
                    owned_since: Some(40),
                    claimed: true,
                    ..declared("newer", 20)
                },
            ],
            0,
            Some("a/newer"),
        ),
        (
            "claims recorded before ownedSince existed rank by creation",
            vec![
                Declared {
                    claimed: true,
                    ..declared("older", 10)
                },
                Declared {
                    claimed: true,
                    ..declared("newer", 20)
                },
            ],
            1,
            Some("a/older"),
        ),
        (
            "across namespaces",
            vec![
                Declared {
                    namespace: "owner",
                    owned_since: Some(15),
                    claimed: true,
                    ..declared("contoso", 10)
                },
                Declared {
                    namespace: "intruder",
                    ..declared("contoso", 20)
                },
            ],
            1,
            Some("owner/contoso"),
        ),
        (
            "tenants compare without regard to case",
            vec![
                declared("first", 10),
                Declared {
                    tenant: "8D2C5E4F-9A1B-4C3D-8E7F-0A1B2C3D4E5F",
                    ..declared("second", 20)
                },
            ],
            1,
            Some("a/first"),
        ),
        (
            "the same tenant on another platform is another customer",
            vec![
                declared("first", 10),
                Declared {
                    platform: "q",
                    ..declared("second", 20)
                },
            ],
            1,
            None,
        ),
    ];
    for (case, objects, checked, want) in cases {
        // Distinct uids across namespaces.
        let customers: Vec<OCCustomer> = objects
            .iter()
            .map(|d| {
                let mut c = customer(d);
                c.metadata.uid = Some(format!("uid-{}-{}", d.namespace, d.name));
                c
            })
            .collect();
        let stores = stores_with(&customers, &[]);
        let ledger = Ledger::<OCCustomer>::default();
        let verdict = ledger
            .check(&customers[checked], &stores)
            .expect("decidable");
        assert_eq!(owner_of(&verdict).as_deref(), want, "{case}: {verdict:?}");
    }
}

#[test]
fn a_short_list_keeps_no_room_beyond_its_items() {
    let mut list = Vec::new();
    for n in 0..8 {
        push_short(&mut list, n);
        assert_eq!(list.capacity(), list.len());
    }
    for n in 8..100 {
        push_short(&mut list, n);
    }
    assert_eq!(list, (0..100).collect::<Vec<_>>());
    assert!(list.capacity() < 2 * list.len());
}

#[test]
fn every_table_naming_an_object_shares_one_copy_of_its_uid() {
    let c = customer(&declared("first", 10));
    let stores = stores_with(std::slice::from_ref(&c), &[]);
    let ledger = Ledger::<OCCustomer>::default();
    assert_eq!(ledger.check(&c, &stores), Some(Verdict::Owner));
    let state = ledger.state.lock();
    let (uid, _) = state.entries.iter().next().expect("an entry");
    let indexed = state
        .by_identity
        .values()
        .flatten()
        .next()
        .expect("indexed");
    let (granted, _) = state.granted.iter().next().expect("granted");
    assert!(Arc::ptr_eq(uid, indexed) && Arc::ptr_eq(uid, granted));
    // The entry, the index, the claim granted: three holders, one allocation.
    assert_eq!(Arc::strong_count(uid), 3);
}

#[test]
fn nothing_is_decided_before_the_caches_are_synced() {
    let c = customer(&declared("first", 10));
    let stores = stores_with(std::slice::from_ref(&c), &[]);
    stores.set_synced(false);
    assert_eq!(Ledger::<OCCustomer>::default().check(&c, &stores), None);
}

#[test]
fn a_claim_granted_here_holds_before_its_status_reaches_the_cache() {
    // "late" is older but arrives in the cache after "early" passed the check.
    let early = customer(&declared("early", 20));
    let late = customer(&declared("late", 10));
    let ledger = Ledger::<OCCustomer>::default();
    let stores = stores_with(std::slice::from_ref(&early), &[]);
    assert_eq!(ledger.check(&early, &stores), Some(Verdict::Owner));
    let stores = stores_with(&[early.clone(), late.clone()], &[]);
    let verdict = ledger.check(&late, &stores).expect("decidable");
    assert_eq!(owner_of(&verdict).as_deref(), Some("a/early"));
    assert_eq!(ledger.check(&early, &stores), Some(Verdict::Owner));
}

#[test]
fn a_customers_change_looks_again_at_the_objects_naming_it_and_only_them() {
    let c = customer(&Declared {
        name: "c",
        ..declared("c", 1)
    });
    let d = customer(&Declared {
        name: "d",
        ..declared("d", 2)
    });
    let of_c = block("of-c", 10, &["+14255550100"], &[]);
    let mut of_d = block("of-d", 11, &["+14255550200"], &[]);
    of_d.spec.customer_ref.name = "d".into();
    let stores = stores_with(&[c.clone(), d.clone()], &[of_c.clone(), of_d.clone()]);
    let ownership = Ownership::default();
    // The first decision reads every block.
    assert_eq!(ownership.blocks.check(&of_c, &stores), Some(Verdict::Owner));
    let changed = |ownership: &Ownership| {
        let state = ownership.blocks.state.lock();
        let mut names: Vec<String> = state.changed.values().map(|o| o.name.clone()).collect();
        names.sort();
        (names, state.whole)
    };
    assert_eq!(changed(&ownership), (vec![], false));
    // Customer d seen for the first time, then again unchanged, then changed.
    ownership.customer_observed(&watcher::Event::Apply(d.clone()));
    assert_eq!(changed(&ownership), (vec!["of-d".to_owned()], false));
    assert_eq!(ownership.blocks.check(&of_c, &stores), Some(Verdict::Owner));
    ownership.customer_observed(&watcher::Event::Apply(d.clone()));
    assert_eq!(changed(&ownership), (vec![], false));
    let mut d2 = d.clone();
    d2.metadata.generation = Some(2);
    ownership.customer_observed(&watcher::Event::Apply(d2));
    assert_eq!(changed(&ownership), (vec!["of-d".to_owned()], false));
    // A new listing of customers: every block.
    ownership.customer_observed(&watcher::Event::InitDone);
    assert!(changed(&ownership).1);
}

#[test]
fn a_block_is_held_for_the_numbers_another_owns_and_keeps_its_own() {
    let c = customer(&Declared {
        claimed: true,
        ..declared("c", 1)
    });
    let first = block(
        "first",
        10,
        &["+14255550100", "+14255550101"],
        &["+14255550100-+14255550101"],
    );
    let second = block(
        "second",
        20,
        &["+14255550101", "+14255550102"],
        &["+14255550102"],
    );
    let stores = stores_with(std::slice::from_ref(&c), &[first.clone(), second.clone()]);
    let ledger = Ledger::<OCNumberBlock>::default();
    assert_eq!(ledger.check(&first, &stores), Some(Verdict::Owner));
    let numbers = |n: &[&str]| Identity::Numbers {
        platform: "p".into(),
        numbers: n.iter().collect(),
    };
    assert_eq!(
        ledger.check(&second, &stores),
        Some(Verdict::Conflict {
            owner: block_owner("first"),
            identities: vec![numbers(&["+14255550101"])],
            owns_claimed: true,
        })
    );
    let others = ledger.numbers_owned_by_others(
        &second,
        &["+14255550101", "+14255550102"].iter().collect(),
        &stores,
    );
    assert_eq!(others.to_ranges(), ["+14255550101"]);
}

/// Block `name` of namespace `a`, as the owner of what another names.
fn block_owner(name: &str) -> OwnerObject {
    OwnerObject {
        namespace: "a".into(),
        name: name.into(),
        uid: format!("uid-{name}"),
    }
}

fn ranged_block(
    name: &str,
    created: i64,
    start: &str,
    end: &str,
    active: &[&str],
) -> OCNumberBlock {
    let mut b = block(name, created, &[], active);
    b.spec.numbers.clear();
    b.spec.ranges =
        vec![serde_json::from_value(json!({"start": start, "end": end})).expect("a valid range")];
    b
}

#[test]
fn blocks_meet_where_their_ranges_overlap_however_large() {
    let c = customer(&Declared {
        claimed: true,
        ..declared("c", 1)
    });
    // 100,000 numbers claimed, and a later block that reaches into them across a
    // stretch boundary and beyond their end.
    let large = ranged_block(
        "large",
        10,
        "+14250000000",
        "+14250099999",
        &["+14250000000-+14250099999"],
    );
    let late = ranged_block("late", 20, "+14250099990", "+14250100009", &[]);
    let apart = ranged_block("apart", 30, "+14250100010", "+14250100019", &[]);
    let stores = stores_with(
        std::slice::from_ref(&c),
        &[large.clone(), late.clone(), apart.clone()],
    );
    let ledger = Ledger::<OCNumberBlock>::default();
    assert_eq!(ledger.check(&apart, &stores), Some(Verdict::Owner));
    let verdict = ledger.check(&late, &stores).expect("decidable");
    let Verdict::Conflict {
        owner, identities, ..
    } = &verdict
    else {
        panic!("not held: {verdict:?}");
    };
    assert_eq!(owner, &block_owner("large"));
    assert_eq!(describe(identities), "numbers +14250099990-+14250099999");
    assert_eq!(ledger.check(&large, &stores), Some(Verdict::Owner));
}

#[test]
fn numbers_granted_later_rank_by_when_they_were_granted() {
    let c = customer(&Declared {
        claimed: true,
        ..declared("c", 1)
    });
    let first = block("first", 10, &["+14255550100"], &[]);
    let second = block("second", 20, &["+14255550101"], &[]);
    let stores = stores_with(std::slice::from_ref(&c), &[first.clone(), second.clone()]);
    let ledger = Ledger::<OCNumberBlock>::default();
    assert_eq!(ledger.check(&first, &stores), Some(Verdict::Owner));
    assert_eq!(ledger.check(&second, &stores), Some(Verdict::Owner));
    // The older block then declares the younger one's number too: the younger
    // one's grant came first, so the older one is held for that number alone.
    let mut grown = first.clone();
    grown
        .spec
        .numbers
        .push(serde_json::from_value(json!("+14255550101")).expect("a number"));
    grown.metadata.resource_version = Some("2".into());
    let stores = stores_with(std::slice::from_ref(&c), &[grown.clone(), second.clone()]);
    ledger.observed(&watcher::Event::Apply(grown.clone()));
    let verdict = ledger.check(&grown, &stores).expect("decidable");
    assert_eq!(
        verdict,
        Verdict::Conflict {
            owner: block_owner("second"),
            identities: vec![Identity::Numbers {
                platform: "p".into(),
                numbers: ["+14255550101"].iter().collect(),
            }],
            owns_claimed: true,
        }
    );
    assert_eq!(ledger.check(&second, &stores), Some(Verdict::Owner));
}

#[tokio::test]
async fn a_held_object_is_woken_when_its_owner_changes_or_goes() {
    let owner = customer(&declared("owner", 10));
    let copy = customer(&declared("copy", 20));
    let stores = stores_with(&[owner.clone(), copy.clone()], &[]);
    let ledger = Ledger::<OCCustomer>::default();
    let mut woken = ledger.triggers();
    assert!(matches!(
        ledger.check(&copy, &stores),
        Some(Verdict::Conflict { .. })
    ));
    // Another object's change wakes nobody.
    ledger.observed(&watcher::Event::Apply(copy.clone()));
    ledger.observed(&watcher::Event::Delete(owner.clone()));
    assert_eq!(woken.next().await, Some(ObjectRef::from_obj(&copy)));
    drop(ledger);
    assert_eq!(woken.next().await, None, "woken more than once");
}

#[test]
fn messages_name_numbers_as_ranges() {
    let n = |x: &[&str]| Identity::Numbers {
        platform: "p".into(),
        numbers: x.iter().collect(),
    };
    assert_eq!(
        describe(&[n(&["+14255550101", "+14255550100"]), n(&["+14255550200"])]),
        "numbers +14255550100-+14255550101, +14255550200"
    );
    assert_eq!(describe(&[n(&["+14255550101"])]), "number +14255550101");
    let verdict = Verdict::Conflict {
        owner: OwnerObject {
            namespace: "owner".into(),
            name: "contoso".into(),
            uid: "uid-1".into(),
        },
        identities: vec![Identity::Tenant {
            platform: "p".into(),
            tenant: TENANT.into(),
        }],
        owns_claimed: false,
    };
    // In the owner's namespace the owner is named; in another, nothing of it is.
    let message = verdict.message("OCCustomer", "owner").unwrap_or_default();
    assert!(
        message.contains("by OCCustomer contoso,") && message.contains(TENANT),
        "{message}"
    );
    let message = verdict
        .message("OCCustomer", "intruder")
        .unwrap_or_default();
    assert!(
        message.contains("by an object in another namespace,")
            && message.contains(TENANT)
            && !message.contains("owner")
            && !message.contains("contoso"),
        "{message}"
    );
}

#[test]
fn objects_that_may_not_act_claim_nothing_and_never_win() {
    // A namespace the platform does not allow declared the tenant first.
    let squatter = customer(&Declared {
        namespace: "squatter",
        ..declared("grab", 10)
    });
    let owner = customer(&Declared {
        namespace: "owner",
        ..declared("contoso", 20)
    });
    let customers = [squatter.clone(), owner.clone()];
    let stores = stores_on(&[platform("p", &["owner"])], &customers, &[]);
    let ledger = Ledger::<OCCustomer>::default();
    assert_eq!(ledger.check(&owner, &stores), Some(Verdict::Owner));
    // The squatter owns nothing either: it names nothing while it may not act (its
    // platform access tells it why).
    assert_eq!(ledger.check(&squatter, &stores), Some(Verdict::Owner));
    assert!(ledger.state.lock().by_identity.len() == 1);

    // A platform not known yet lets nobody take part.
    let stores = stores_on(&[], &customers, &[]);
    let ledger = Ledger::<OCCustomer>::default();
    ledger.check(&owner, &stores);
    assert!(ledger.state.lock().by_identity.is_empty());

    // A copy of the tenant in an allowed namespace, held in conflict (it claimed
    // nothing): its older block takes no part, the owner's block owns the number.
    let copy = customer(&Declared {
        namespace: "intruder",
        ..declared("copy", 5)
    });
    let claimed = customer(&Declared {
        namespace: "owner",
        claimed: true,
        owned_since: Some(30),
        ..declared("contoso", 20)
    });
    let in_namespace = |mut b: OCNumberBlock, ns: &str, customer: &str| {
        b.metadata.namespace = Some(ns.into());
        b.spec.customer_ref.name = customer.into();
        b
    };
    let copied = in_namespace(
        block("copied", 6, &["+14255550100"], &[]),
        "intruder",
        "copy",
    );
    let owned = in_namespace(
        block("owned", 40, &["+14255550100"], &[]),
        "owner",
        "contoso",
    );
    let stores = stores_on(
        &[platform("p", &["*"])],
        &[copy.clone(), claimed.clone()],
        &[copied.clone(), owned.clone()],
    );
    let ledger = Ledger::<OCNumberBlock>::default();
    assert_eq!(ledger.check(&owned, &stores), Some(Verdict::Owner));
    assert_eq!(ledger.check(&copied, &stores), Some(Verdict::Owner));
    let customers = Ledger::<OCCustomer>::default();
    assert_eq!(
        owner_of(&customers.check(&copy, &stores).expect("decidable")).as_deref(),
        Some("owner/contoso")
    );
}

#[test]
fn a_customers_claim_or_its_platforms_change_looks_again_at_its_dependents() {
    let unclaimed = customer(&declared("c", 1));
    let mut claimed = unclaimed.clone();
    claimed.status = Some(serde_json::from_value(json!({"leadId": "lead-1"})).expect("a status"));
    let ownership = Ownership::default();
    let whole = |ownership: &Ownership| ownership.blocks.state.lock().whole;
    let of_c = block("of-c", 10, &["+14255550100"], &[]);
    let stores = stores_with(
        std::slice::from_ref(&unclaimed),
        std::slice::from_ref(&of_c),
    );
    ownership.blocks.check(&of_c, &stores);
    ownership.customer_observed(&watcher::Event::Apply(unclaimed.clone()));
    ownership.blocks.check(&of_c, &stores);
    ownership.customer_observed(&watcher::Event::Apply(claimed));
    assert_eq!(
        ownership
            .blocks
            .state
            .lock()
            .changed
            .values()
            .map(|o| o.name.clone())
            .collect::<Vec<_>>(),
        ["of-c"]
    );
    // A platform's new spec (its allowed namespaces): every entry of every kind.
    let p = platform("p", &["*"]);
    ownership.platform_observed(&watcher::Event::Apply(p.clone()));
    assert!(whole(&ownership) && ownership.customers.state.lock().whole);
    ownership.blocks.check(&of_c, &stores);
    ownership.platform_observed(&watcher::Event::Apply(p.clone()));
    assert!(
        !whole(&ownership),
        "the same generation again changes nothing"
    );
}
