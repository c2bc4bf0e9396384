//! The reconcile of every kind that writes to the platform, written once: find the
//! object's place (its platform, and for a customer's dependents the customer on the
//! platform), let the kind say whether it may go on, put the finalizer on, then run
//! the kind's planner (observe, plan, act) and conclude. A kind implements
//! [`Reconciler`]: what it checks before the finalizer and the planner it builds after;
//! it never touches the finalizer. `drive` runs all of it behind the gates every kind
//! shares, and writes the status once at the end.

use std::future::Future;
use std::sync::Arc;

use kube::api::Api;
use kube::runtime::controller::Action;

use super::adoption;
use super::conclusion;
use super::context::Context;
use super::customer_scope::{CustomerScope, Unscoped, customer_scope, without_scope};
use super::declared::Declared;
use super::drive::drive;
use super::error::Result;
use super::finalizer;
use super::kind::CustomerOwned;
use super::lifecycle::Departing;
use super::management;
use super::ownership::Governed;
use super::plan::{self, Planner};
use super::status::{StatusDraft, namespaced_api};
use super::stores::Cached;

/// What a kind decided before its finalizer is put on.
pub enum Admission<T> {
    /// Go on with what the kind found (`T`); `finalizer` says whether the object
    /// holds, or is about to hold, something on the platform that its deletion must
    /// undo (an end user whose customer's licence allows no users does not yet).
    Go { found: T, finalizer: bool },
    /// Wait for what `Unscoped` names; the kind's condition says what.
    Wait(Unscoped),
}

/// Where an object works: what [`Scoped::place`] finds before anything else, or why
/// it waits.
pub trait Scoped: Governed + Sized {
    type Place: Send + Sync;

    /// The object's place (its platform, its customer), or why there is none: its
    /// `Ready=False` condition then says what it waits for, and no platform call is
    /// made.
    fn place<'a>(
        &'a self,
        ctx: &'a Context,
        draft: &'a mut StatusDraft<Self>,
    ) -> impl Future<Output = Result<std::result::Result<Self::Place, Unscoped>>> + Send + 'a;
}

/// A dependent works under its customer on the platform.
impl<K: CustomerOwned + Governed> Scoped for K {
    type Place = CustomerScope;

    async fn place(
        &self,
        ctx: &Context,
        draft: &mut StatusDraft<K>,
    ) -> Result<std::result::Result<CustomerScope, Unscoped>> {
        customer_scope(ctx, self, draft).await
    }
}

/// A kind that writes to the platform, as the shared reconcile needs it.
pub trait Reconciler:
    Scoped + Departing + Cached + kube::Resource<Scope = kube::core::NamespaceResourceScope>
{
    /// What [`Reconciler::admit`] found and the planner needs.
    type Found: Send + Default;
    /// The kind's planner for one reconcile.
    type Reconcile<'a>: Planner + Send
    where
        Self: 'a;

    /// Whether nothing of the object is on the platform, judged from its status alone:
    /// an object being deleted whose customer is no customer on the platform any more
    /// then lets go at once.
    fn holds_nothing(status: &Self::Status) -> bool;

    /// What the kind checks and finds before its finalizer is put on (an object that
    /// must wait gets no finalizer yet). Most kinds check nothing: they go on.
    fn admit<'a>(
        &'a self,
        _ctx: &'a Context,
        _draft: &'a mut StatusDraft<Self>,
        _place: &'a Self::Place,
        _deleting: bool,
    ) -> impl Future<Output = Result<Admission<Self::Found>>> + Send + 'a {
        std::future::ready(Ok(Admission::Go {
            found: Self::Found::default(),
            finalizer: true,
        }))
    }

    /// The planner of this reconcile, working with `work`.
    fn reconciling<'a>(
        work: Work<'a, Self>,
        found: Self::Found,
    ) -> impl Future<Output = Result<Self::Reconcile<'a>>> + Send + 'a;
}

/// What every kind's planner works with: the object, the operator's context, the
/// object's API, the status being drafted (written once, at the reconcile's end), the
/// object's place, and whether it is being deleted.
pub struct Work<'a, K: Scoped> {
    pub obj: &'a K,
    pub ctx: &'a Context,
    pub api: &'a Api<K>,
    pub draft: &'a mut StatusDraft<K>,
    pub place: &'a K::Place,
    pub deleting: bool,
}

impl<K: Scoped> Work<'_, K> {
    /// The object as the planner knows it: its spec, the drafted status, and so on.
    pub fn declared(&self) -> Declared<'_, K> {
        Declared {
            spec: self.obj.spec(),
            status: &self.draft.status,
            generation: self.draft.generation,
            may_adopt: adoption::may_adopt(self.obj),
            deleting: self.deleting,
        }
    }
}

/// The reconcile of an object of kind `K`, as the controller runs it.
pub async fn reconcile<K: Reconciler>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    let api = namespaced_api(&ctx.client, &*obj);
    drive(obj, ctx, api, run::<K>).await
}

async fn run<K: Reconciler>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    draft: &mut StatusDraft<K>,
) -> Result<Action> {
    let deleting = finalizer::is_deleting(obj);
    let place = match obj.place(ctx, draft).await? {
        Ok(place) => place,
        Err(why) => {
            return without_scope(ctx, api, obj, why, K::holds_nothing(&draft.status)).await;
        }
    };
    let found = match obj.admit(ctx, draft, &place, deleting).await? {
        Admission::Go { found, finalizer } => {
            if finalizer
                && !deleting
                && let Some(put_on) = finalizer::add(api, obj).await?
            {
                draft.wrote_only_the_finalizer(put_on.0);
                return Ok(Action::await_change());
            }
            found
        }
        // Being deleted, an object whose place is gone (a dial plan's site) lost its
        // platform side with it, if it had any.
        Admission::Wait(why) => return without_scope(ctx, api, obj, why, true).await,
    };
    let work = Work {
        obj,
        ctx,
        api,
        draft,
        place: &place,
        deleting,
    };
    let mut reconcile = K::reconciling(work, found).await?;
    let outcome = plan::run(
        &mut reconcile,
        &K::kind(&()),
        management::observe_only(obj, &ctx.stores),
    )
    .await?;
    drop(reconcile);
    conclusion::conclude(ctx, api, obj, draft, outcome).await
}
