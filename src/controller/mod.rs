//! The controllers. Each kind's whole life is in its own file; what every kind shares
//! (conditions, finalizer, per-object backoff, events, the platform clients) is in the
//! other modules and used through [`drive`]. This file declares them and runs the
//! controllers with their watches (which change of one kind wakes which objects of
//! another).

pub mod admission;
pub mod adoption;
mod backoff;
mod caches;
pub mod conclusion;
pub mod context;
mod credentials;
pub mod customer;
pub mod customer_scope;
pub mod declared;
pub mod dial_plan;
pub mod drift;
pub mod drive;
pub mod end_user;
pub mod endpoint_hosts;
pub mod error;
mod events;
pub mod finalizer;
#[cfg(test)]
mod fixtures;
pub mod kind;
pub mod kstatus;
pub mod lifecycle;
pub mod management;
pub mod number_block;
pub mod number_set;
mod numbers;
pub mod ownership;
pub mod plan;
#[cfg(test)]
mod planner_tests;
pub mod platform;
mod platform_clients;
pub mod platforms;
pub mod reconciler;
mod referrers;
mod secret_access;
pub mod sip_connection;
pub mod snapshots;
pub mod status;
pub mod stops;
pub mod stores;
pub mod task_timing;
pub mod tasks;
mod tenant_numbers;
mod written;

use std::future::Future;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

pub use context::{Context, OperatorConfig, SecretAccess};
pub use drive::{
    PAUSE_ANNOTATION, PROTECT_ANNOTATION, drive, error_policy, is_paused, is_protected, lane_of,
};
pub use error::{Error, Result};

use crate::api::conditions::{self, READY};
use crate::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCPlatform, OCSipConnection};
use kind::{CustomerOwned, Kind};
use referrers::Referrers;

fn namespaced<K>(ctx: &Context) -> Api<K>
where
    K: Kind + kube::Resource<Scope = kube::core::NamespaceResourceScope>,
{
    match &ctx.config.watch_namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    }
}

fn log_result<K: Kind>(
    result: std::result::Result<
        (ObjectRef<K>, Action),
        kube::runtime::controller::Error<Error, watcher::Error>,
    >,
) {
    match result {
        Ok((object, action)) => tracing::debug!(%object, ?action, "reconciled"),
        Err(kube::runtime::controller::Error::ObjectNotFound(object)) => {
            tracing::debug!(%object, "object gone")
        }
        Err(e) => tracing::warn!(error = %e, "controller"),
    }
}

/// What number blocks, SIP connections and dial plans read of their customer: its id
/// on the platform, whether it goes, and whether it is held in conflict (which they
/// say). A change of anything else (its licence, a condition message, licence info)
/// does not reconcile them.
fn customer_id(c: &OCCustomer) -> (bool, Option<String>, bool) {
    (
        c.metadata.deletion_timestamp.is_some(),
        c.status.as_ref().and_then(|s| s.customer_id.clone()),
        customer_scope::held_in_conflict(c),
    )
}

/// What customers read of their platform: its spec, labels (the platform selector),
/// deletion, and whether it is Ready. Its other status writes (a drift check, a
/// changed message) do not reconcile a thousand customers; see
/// [`platform_change_matters_to_customers`].
fn platform_as_customers_see_it(p: &OCPlatform) -> (Option<u64>, bool) {
    let ready = p.status.as_ref().is_some_and(|s| {
        conditions::is_true_for(&s.reconcile.conditions, READY, p.metadata.generation)
    });
    (caches::intent(p), ready)
}

/// Whether a platform's change wakes its customers: a change of its intent, or its
/// becoming Ready (customers that failed on a platform that was not usable go on at
/// once). Its becoming not Ready wakes nobody: a customer that calls it then fails
/// by itself, and waking a thousand customers to find that out costs the platform's
/// budget for nothing.
fn platform_change_matters_to_customers(
    before: Option<&(Option<u64>, bool)>,
    now: &(Option<u64>, bool),
) -> bool {
    match before {
        None => true,
        Some((intent, ready)) => *intent != now.0 || (!ready && now.1),
    }
}

/// What end users read of their customer: its id and its licence (an end user
/// becomes Ready by itself once the licence allows it).
fn customer_id_and_licence(c: &OCCustomer) -> ((bool, Option<String>, bool), Option<String>) {
    let status = c.status.as_ref();
    (
        customer_id(c),
        status.and_then(|s| s.license.as_ref().map(|l| l.type_.clone())),
    )
}

/// Tells the ownership ledger of a customer's dependent kind about its watch events,
/// and wakes the customer when a dependent is gone, or changes while the customer
/// itself is being deleted (its deletion waits for them to go): never otherwise. A
/// customer that is not being deleted reads nothing of its dependents, so their
/// arrival or their status writes would only cost it platform reads.
fn dependent_observer<K: CustomerOwned + ownership::Owned + stores::Indexed>(
    ctx: &Arc<Context>,
    wake: futures::channel::mpsc::UnboundedSender<ObjectRef<OCCustomer>>,
) -> impl Fn(&watcher::Event<K>) + Send + Sync + 'static {
    let ledger = observer::<K>(ctx);
    let ctx = ctx.clone();
    move |event| {
        ledger(event);
        let (obj, gone) = match event {
            watcher::Event::Apply(obj) | watcher::Event::InitApply(obj) => (obj, false),
            watcher::Event::Delete(obj) => (obj, true),
            _ => return,
        };
        let ns = obj.namespace().unwrap_or_default();
        let customer_deleting = ctx
            .stores
            .customer(&ns, obj.customer())
            .is_some_and(|c| c.metadata.deletion_timestamp.is_some());
        let customer = ObjectRef::new(obj.customer()).within(&ns);
        if gone || customer_deleting {
            // A closed channel means the controllers stopped; nothing to wake.
            let _ = wake.unbounded_send(customer);
        }
    }
}

/// Maps a customer's dependent to the end users of `store` that name the same
/// customer and may wait for it: a user that stands Ready for its spec with nothing in
/// flight needs nothing a block brings, and is not woken (it would read the platform
/// for nothing each time a block of its customer changes).
fn users_of_customer_of<D: CustomerOwned>(
    ctx: &Arc<Context>,
) -> impl Fn(Arc<D>) -> Vec<ObjectRef<OCEndUser>> + Send + Sync + 'static {
    let ctx = ctx.clone();
    move |dependent| {
        let Some(store) = ctx.stores.users() else {
            return Vec::new();
        };
        ctx.stores
            .users_by_customer
            .of(dependent.meta().namespace.as_deref(), dependent.customer())
            .into_iter()
            .filter(|found| store.get(found).is_some_and(|u| !stands_ready(&u)))
            .collect()
    }
}

/// Whether an end user is Ready for its generation with no write in flight.
fn stands_ready(user: &OCEndUser) -> bool {
    user.status.as_ref().is_some_and(|s| {
        s.operation.is_none()
            && conditions::is_true_for(&s.reconcile.conditions, READY, user.metadata.generation)
    })
}

/// Maps a customer to the objects of `store` that name it.
/// The objects of kind `K` whose customer is on the OCPlatform that changed, for a
/// change of the platform's `managementPolicy`: objects that observed until now carry
/// out their planned calls at once (and the other way round), not at their next drift
/// check. Their customers are woken by the platform's change of generation already.
fn on_their_platform<K: CustomerOwned>(
    ctx: &Arc<Context>,
    by_customer: fn(&stores::Stores) -> &Referrers<K>,
) -> impl Fn(Arc<OCPlatform>) -> Vec<ObjectRef<K>> + Send + Sync + 'static {
    let ctx = ctx.clone();
    move |platform| {
        let stores = &ctx.stores;
        stores
            .customers_by_platform
            .of(None, &platform.name_any())
            .iter()
            .flat_map(|customer| {
                by_customer(stores).of(customer.namespace.as_deref(), &customer.name)
            })
            .collect()
    }
}

fn owned_by_customer<K: CustomerOwned>(
    ctx: &Arc<Context>,
    by_customer: fn(&stores::Stores) -> &Referrers<K>,
) -> impl Fn(Arc<OCCustomer>) -> Vec<ObjectRef<K>> + Send + Sync + 'static {
    let ctx = ctx.clone();
    move |customer| {
        by_customer(&ctx.stores).of(customer.metadata.namespace.as_deref(), &customer.name_any())
    }
}

/// Whether every kind can be listed in the operator's scope with its identity (CRDs
/// installed, RBAC granted): what `/readyz` reports.
pub async fn can_list_everything(ctx: &Context) -> bool {
    async fn one<K>(api: Api<K>) -> bool
    where
        K: Kind,
    {
        api.list(&kube::api::ListParams::default().limit(1))
            .await
            .is_ok()
    }
    let (a, b, c, d, e, f) = futures::join!(
        one(Api::<OCPlatform>::all(ctx.client.clone())),
        one(namespaced::<OCCustomer>(ctx)),
        one(namespaced::<OCNumberBlock>(ctx)),
        one(namespaced::<OCSipConnection>(ctx)),
        one(namespaced::<OCDialPlan>(ctx)),
        one(namespaced::<OCEndUser>(ctx)),
    );
    a && b && c && d && e && f
}

/// Marks `/readyz`'s API access once every kind can be listed, checking again every
/// `every` until then (each failed check is logged).
pub async fn await_api_access(ctx: Arc<Context>, every: std::time::Duration) {
    while !can_list_everything(&ctx).await {
        tracing::warn!("not ready: some kinds cannot be listed (CRDs installed? RBAC granted?)");
        tokio::time::sleep(every).await;
    }
    ctx.readiness.set_api_access(true);
}

/// Tells the indexes and the ownership ledger of `K` about every watch event of its
/// kind.
fn observer<K: ownership::Owned + stores::Indexed>(
    ctx: &Arc<Context>,
) -> impl Fn(&watcher::Event<K>) + Send + Sync + 'static {
    let ctx = ctx.clone();
    move |event| {
        cache_took(&ctx, event);
        ctx.stores.observed(event);
        K::observed(&ctx.ownership, event)
    }
}

/// Tells [`written::Written`] which versions the cache of `K` took. Only a watch
/// event's: the objects of a new listing reach the cache together at its end, so a
/// write seen in one is left to a read afresh. An object the watch saw deleted is
/// forgotten whole, also one that never had a finalizer and so never let go of one.
fn cache_took<K: Kind>(ctx: &Context, event: &watcher::Event<K>) {
    match event {
        watcher::Event::Apply(obj) => {
            if let Some(version) = obj.meta().resource_version.as_deref() {
                ctx.memory.written.cached(&kind::key(obj), version);
            }
        }
        watcher::Event::Delete(obj) => {
            drive::forget_gone(ctx, &kind::key(obj), &K::kind(&()));
        }
        _ => {}
    }
}

/// What every dependent kind's controller is woken by besides its own changes: its
/// turns and ownership triggers, what it reads of its customer, and its platform's
/// management policy.
struct Dependents<'a> {
    ctx: &'a Arc<Context>,
    customers: &'a caches::Watched<OCCustomer>,
    platforms: &'a caches::Watched<OCPlatform>,
}

impl Dependents<'_> {
    /// The controller of the dependents in `watched`: `customer_view` is what of their
    /// customer they read (a change of it wakes them), `by_customer` the index of
    /// them by customer.
    fn controller<K, T>(
        &self,
        watched: &caches::Watched<K>,
        ledger: &ownership::Ledger<K>,
        customer_view: fn(&OCCustomer) -> T,
        by_customer: fn(&stores::Stores) -> &Referrers<K>,
    ) -> kube::runtime::Controller<K>
    where
        K: CustomerOwned + ownership::Owned,
        T: std::hash::Hash + 'static,
    {
        let ctx = self.ctx;
        watched
            .controller()
            .reconcile_on(ctx.platform.admission.turns(watched.store.clone()))
            .reconcile_on(ledger.triggers())
            .watches_shared_stream(
                self.customers.changes(customer_view),
                owned_by_customer(ctx, by_customer),
            )
            .watches_shared_stream(
                self.platforms.changes(|p| p.spec.management_policy),
                on_their_platform(ctx, by_customer),
            )
    }
}

/// Runs `controller` with the shared reconcile of its kind until `stopped` resolves
/// (running reconciles finish first), logging each reconcile's result.
fn run_controller<K: reconciler::Reconciler>(
    controller: kube::runtime::Controller<K>,
    ctx: &Arc<Context>,
    stopped: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    controller
        .graceful_shutdown_on(stopped)
        .run(reconciler::reconcile::<K>, error_policy, ctx.clone())
        .for_each(|r| async move { log_result(r) })
}

/// Runs every controller until `shutdown` resolves; running reconciles finish first.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let wc = watcher::Config::default().any_semantic();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    };

    // Leading from here: `/readyz` waits for every controller's first listing.
    ctx.readiness.set_leading(true);
    ctx.stores.set_synced(false);
    let synced = ctx.clone();
    let caches = caches::CacheSync::new(ctx.readiness.clone(), move || {
        synced.stores.set_synced(true)
    });

    let platform_wc = match &ctx.config.platform_selector {
        Some(selector) => wc.clone().labels(selector),
        None => wc.clone(),
    };

    // One watch per kind; every controller below subscribes to these.
    let (platforms_watched, platform_watch) =
        caches.watch(Api::<OCPlatform>::all(ctx.client.clone()), platform_wc, {
            let ctx = ctx.clone();
            move |event| {
                cache_took(&ctx, event);
                platforms::observed(&ctx, event);
                ctx.ownership.platform_observed(event)
            }
        });
    let platform_store = platforms_watched.store.clone();
    ctx.stores.set_platforms(platform_store.clone());
    let (wake_customers, customer_wakes) = futures::channel::mpsc::unbounded();
    let (customers_watched, customer_watch) =
        caches.watch(namespaced::<OCCustomer>(&ctx), wc.clone(), {
            let ctx = ctx.clone();
            move |event| {
                cache_took(&ctx, event);
                ctx.stores.observed(event);
                ctx.ownership.customer_observed(event)
            }
        });
    let customer_store = customers_watched.store.clone();
    ctx.stores.set_customers(customer_store.clone());
    let (blocks_watched, block_watch) = caches.watch(
        namespaced::<OCNumberBlock>(&ctx),
        wc.clone(),
        dependent_observer(&ctx, wake_customers.clone()),
    );
    let block_store = blocks_watched.store.clone();
    ctx.stores.set_blocks(block_store.clone());
    let (sites_watched, site_watch) = caches.watch(
        namespaced::<OCSipConnection>(&ctx),
        wc.clone(),
        dependent_observer(&ctx, wake_customers.clone()),
    );
    let site_store = sites_watched.store.clone();
    ctx.stores.set_sites(site_store.clone());
    let (plans_watched, plan_watch) = caches.watch(
        namespaced::<OCDialPlan>(&ctx),
        wc.clone(),
        dependent_observer(&ctx, wake_customers.clone()),
    );
    let plan_store = plans_watched.store.clone();
    ctx.stores.set_plans(plan_store.clone());
    let (users_watched, user_watch) = caches.watch(
        namespaced::<OCEndUser>(&ctx),
        wc.clone(),
        dependent_observer(&ctx, wake_customers),
    );
    let user_store = users_watched.store.clone();
    ctx.stores.set_users(user_store.clone());
    let watches = [
        platform_watch,
        customer_watch,
        block_watch,
        site_watch,
        plan_watch,
        user_watch,
    ];

    // OCPlatform: also when its credentials Secret (in the operator's namespace)
    // changes; each such Secret is watched by name (see `credentials`).
    let secret_wakes = credentials::platform_wakes(
        ctx.client.clone(),
        ctx.config.operator_namespace.clone(),
        platforms_watched.changes(|p| {
            p.spec
                .credentials_secret_ref
                .as_ref()
                .map(|r| r.name.clone())
        }),
        platform_store.clone(),
    );
    let platforms = platforms_watched
        .controller()
        .reconcile_on(secret_wakes)
        .graceful_shutdown_on(stopped())
        .run(platform::reconcile, error_policy, ctx.clone())
        .for_each(|r| async move { log_result(r) });

    // OCCustomer: when a dependent appears, starts to go or is gone (deletion waits
    // for them; see `dependent_observer`), never for a dependent's status write; and
    // when its platform changes.
    let on_platform = ctx.clone();
    let customers = customers_watched
        .controller()
        .reconcile_on(ctx.platform.admission.turns(customer_store.clone()))
        .reconcile_on(ctx.ownership.customers.triggers())
        .reconcile_on(customer_wakes)
        .watches_shared_stream(
            platforms_watched.changes_where(
                platform_as_customers_see_it,
                platform_change_matters_to_customers,
            ),
            move |platform| {
                on_platform
                    .stores
                    .customers_by_platform
                    .of(None, &platform.name_any())
            },
        );
    let customers = run_controller(customers, &ctx, stopped());

    // Number blocks, SIP connections, dial plans and end users: also when what they
    // read of their customer changes (its id, its licence: an end user becomes Ready
    // by itself once the licence allows it) or their platform's management policy;
    // dial plans also when their SIP connection's site id changes.
    let dependents = Dependents {
        ctx: &ctx,
        customers: &customers_watched,
        platforms: &platforms_watched,
    };
    let blocks = dependents.controller(&blocks_watched, &ctx.ownership.blocks, customer_id, |s| {
        &s.blocks_by_customer
    });
    let blocks = run_controller(blocks, &ctx, stopped());
    let sites = dependents.controller(&sites_watched, &ctx.ownership.sites, customer_id, |s| {
        &s.sites_by_customer
    });
    let sites = run_controller(sites, &ctx, stopped());
    let on_site = ctx.clone();
    let plans = dependents
        .controller(&plans_watched, &ctx.ownership.plans, customer_id, |s| {
            &s.plans_by_customer
        })
        .watches_shared_stream(
            sites_watched.changes(|s| {
                (
                    s.metadata.generation,
                    s.metadata.deletion_timestamp.is_some(),
                    s.status.as_ref().and_then(|st| st.site_location_id.clone()),
                )
            }),
            move |site| {
                on_site
                    .stores
                    .plans_by_site
                    .of(site.metadata.namespace.as_deref(), &site.name_any())
            },
        );
    let plans = run_controller(plans, &ctx, stopped());
    // End users: also when a number block of their customer becomes Ready (or stops
    // being), which may bring their line URI's number.
    let users = dependents
        .controller(
            &users_watched,
            &ctx.ownership.users,
            customer_id_and_licence,
            |s| &s.users_by_customer,
        )
        .watches_shared_stream(
            blocks_watched.changes(|b| {
                b.status.as_ref().is_some_and(|s| {
                    conditions::is_true_for(&s.reconcile.conditions, READY, b.metadata.generation)
                })
            }),
            users_of_customer_of(&ctx),
        );
    let users = run_controller(users, &ctx, stopped());

    ctx.metrics.set_leader(true);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    // Each watch and each controller is a task of its own: a busy controller never
    // holds up a watch, and they share the cores. The tasks go with this future (a
    // lost lease, a stopped test operator), not only with the shutdown signal.
    let watch_count = watches.len();
    let mut tasks: Vec<credentials::AbortOnDrop> = watches
        .into_iter()
        .chain([
            platforms.boxed(),
            customers.boxed(),
            blocks.boxed(),
            sites.boxed(),
            plans.boxed(),
            users.boxed(),
        ])
        .map(|task| credentials::AbortOnDrop(tokio::spawn(task)))
        .collect();
    let (watch_tasks, controller_tasks) = tasks.split_at_mut(watch_count);
    // The watches run as long as the controllers; they end with them.
    futures::future::select(
        futures::future::join_all(controller_tasks.iter_mut().map(|t| &mut t.0)),
        futures::future::select_all(watch_tasks.iter_mut().map(|t| &mut t.0)),
    )
    .await;
    drop(tasks);
    ctx.readiness.set_leading(false);
    ctx.metrics.set_leader(false);
    tracing::info!("controllers stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_wake_when_their_platform_changes_its_intent_or_becomes_ready() {
        // (before, now) -> wakes its customers
        let table = [
            (None, (Some(1), false), true),                   // first seen
            (Some((Some(1), false)), (Some(1), true), true),  // became Ready
            (Some((Some(1), true)), (Some(1), false), false), // stopped being Ready
            (Some((Some(1), true)), (Some(1), true), false),  // another status write
            (Some((Some(1), true)), (Some(2), true), true),   // spec or labels changed
            (Some((Some(1), true)), (Some(2), false), true),  // changed and not Ready
        ];
        for (before, now, wakes) in table {
            assert_eq!(
                platform_change_matters_to_customers(before.as_ref(), &now),
                wakes,
                "{before:?} -> {now:?}"
            );
        }
    }

    #[test]
    fn only_end_users_that_may_wait_for_a_block_are_woken_by_one() {
        let user = |generation: i64, status: serde_json::Value| -> OCEndUser {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "operatorconnect.io/v1alpha1", "kind": "OCEndUser",
                "metadata": {"name": "u", "namespace": "n", "generation": generation},
                "spec": {"customerRef": {"name": "c"}, "sipAddress": "u@c.com"},
                "status": status,
            }))
            .expect("an end user")
        };
        let ready = |generation: i64| {
            serde_json::json!([{"type": "Ready", "status": "True", "reason": "Available", "message": "",
                                "lastTransitionTime": "2026-12-04T00:00:00Z", "observedGeneration": generation}])
        };
        let waiting = serde_json::json!([{"type": "Ready", "status": "False", "reason": "WaitingForDependency",
                                          "message": "", "lastTransitionTime": "2026-12-04T00:00:00Z", "observedGeneration": 1}]);
        let op = serde_json::json!({"action": "Provision Customer End User", "startedAt": "2026-12-04T00:00:00Z", "taskId": "t"});
        // (user, stands Ready: not woken)
        let table = [
            (
                "Ready for its spec",
                user(1, serde_json::json!({"conditions": ready(1)})),
                true,
            ),
            (
                "Ready for an older spec",
                user(2, serde_json::json!({"conditions": ready(1)})),
                false,
            ),
            (
                "waiting for a block",
                user(1, serde_json::json!({"conditions": waiting})),
                false,
            ),
            (
                "Ready with a write in flight",
                user(
                    1,
                    serde_json::json!({"conditions": ready(1), "operation": op}),
                ),
                false,
            ),
            ("never reconciled", user(1, serde_json::json!({})), false),
        ];
        for (name, user, stands) in table {
            assert_eq!(stands_ready(&user), stands, "{name}");
        }
    }
}
