//! The life of an `OCSipConnection`: check the SBC against the platform's calling
//! profiles; add the site location (carrier password from a Secret in the object's
//! namespace) or adopt one of the same name; follow the onboarding task; map the SBC
//! and Microsoft 365 deployment states to conditions; modify the site when the spec or
//! the platform drifts; on delete, remove it and follow the cleanup task.

use std::sync::Arc;

use kube::api::Api;
use kube::runtime::controller::Action;

use super::conclusion;
use super::context::Context;
use super::customer_scope::{customer_scope, without_scope};
use super::drive;
use super::error::Result;
use super::finalizer;
use super::lifecycle::{Departing, Terms};
use super::management::{self};
use super::plan::{self};
use super::status::{StatusDraft, namespaced_api};
use crate::api::OCSipConnection;
use crate::api::sip_connection::OCSipConnectionStatus;

mod act;
mod planner;
mod requests;

use act::SiteReconcile;
pub use planner::*;
use requests::*;

type Draft = StatusDraft<OCSipConnection>;

pub async fn reconcile(obj: Arc<OCSipConnection>, ctx: Arc<Context>) -> Result<Action> {
    let api = namespaced_api(&ctx.client, &*obj);
    drive(obj, ctx, api, run).await
}

impl Departing for OCSipConnection {
    const ORPHAN_LEAVES: &'static str = "the site location stays on the platform";

    /// A site is looked up on the platform before it is let go (its add may have been
    /// lost), so only the policy lets it leave at once.
    fn terms(&self, _status: &OCSipConnectionStatus) -> Option<Terms> {
        Some(Terms {
            policy: self.spec.deletion_policy,
            holds_nothing: false,
        })
    }
}

async fn run(
    obj: &OCSipConnection,
    ctx: &Context,
    api: &Api<OCSipConnection>,
    draft: &mut Draft,
) -> Result<Action> {
    let deleting = finalizer::is_deleting(obj);
    let scope = match customer_scope(ctx, obj, draft).await? {
        Ok(scope) => scope,
        Err(why) => {
            let never_added = draft.status.site_location_id.is_none();
            return without_scope(ctx, api, obj, why, never_added).await;
        }
    };
    let mut password = None;
    if !deleting {
        check_sbc(obj, &scope)?;
        if finalizer::add(api, obj).await? {
            return Ok(Action::await_change());
        }
        // A site whose carrier password cannot be read is not Ready, even when the
        // platform matches (an adopted site, an imported stub not filled in yet): the
        // next change of the site could not be sent. Read once, for the add too.
        password = carrier_password(ctx, obj).await?;
    }
    let mut reconcile = SiteReconcile {
        obj,
        ctx,
        api,
        draft,
        scope: &scope,
        seen: Seen::default(),
        deleting,
        password,
    };
    let outcome = plan::run(
        &mut reconcile,
        "OCSipConnection",
        management::observe_only(obj, &ctx.stores),
    )
    .await?;
    Ok(conclusion::conclude(ctx, obj, draft, outcome).await)
}
