//! The life of an `OCSipConnection`: check the SBC against the platform's calling
//! profiles; add the site location (carrier password from a Secret in the object's
//! namespace) or adopt one of the same name; follow the onboarding task; map the SBC
//! and Microsoft 365 deployment states to conditions; modify the site when the spec or
//! the platform drifts; on delete, remove it and follow the cleanup task.

use super::context::Context;
use super::customer_scope::CustomerScope;
use super::error::Result;
use super::lifecycle::{Departing, Terms};
use super::reconciler::{Admission, Reconciler, Work};
use super::status::StatusDraft;
use crate::api::OCSipConnection;
use crate::api::sip_connection::OCSipConnectionStatus;

mod act;
mod planner;
mod requests;

use act::SiteReconcile;
pub use planner::*;
use requests::*;

type Draft = StatusDraft<OCSipConnection>;

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

    fn customer_name(&self) -> Option<&str> {
        Some(&self.spec.customer_ref.name)
    }
}

impl Reconciler for OCSipConnection {
    type Found = ();
    type Reconcile<'a> = SiteReconcile<'a>;

    /// No customer on the platform: a site that was never added has nothing to remove.
    fn holds_nothing(status: &OCSipConnectionStatus) -> bool {
        status.site_location_id.is_none()
    }

    /// An SBC the platform's calling profiles do not know is refused before anything
    /// is written (a deletion is not held by it).
    async fn admit(
        &self,
        _ctx: &Context,
        _draft: &mut Draft,
        scope: &CustomerScope,
        deleting: bool,
    ) -> Result<Admission<()>> {
        if !deleting {
            check_sbc(self, scope)?;
        }
        Ok(Admission::Go {
            found: (),
            finalizer: true,
        })
    }

    async fn reconciling<'a>(
        work: Work<'a, OCSipConnection>,
        _found: (),
    ) -> Result<SiteReconcile<'a>> {
        // A site whose carrier password cannot be read is not Ready, even when the
        // platform matches (an adopted site, an imported stub not filled in yet): the
        // next change of the site could not be sent. Read once, for the add too.
        let password = match work.deleting {
            true => None,
            false => carrier_password(work.ctx, work.obj).await?,
        };
        Ok(SiteReconcile {
            work,
            seen: Seen::default(),
            password,
        })
    }
}
