//! The life of an `OCPlatform`: read its credentials, prove them with a token, probe
//! the API, and publish the calling profiles with their trunks and SBCs in status.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::conclusion;
use super::context::Context;
use super::drive;
use super::error::Result;
use super::finalizer;
use super::lifecycle::{Departing, Terms};
use super::plan::{self, AfterWrite, Planner, Report};
use super::platforms;
use super::status::StatusDraft;
use crate::api::OCPlatform;
use crate::api::conditions::{READY, reason};
use crate::api::platform::{CallingProfileStatus, OCPlatformStatus, SbcStatus};
use liveplatform::LivePlatformClient;
use liveplatform::model::{CallingProfile, LeadQuery, SbcMapping};

/// How old `status.lastProbeTime` may get before it is refreshed on its own.
const PROBE_TIME_REFRESH_SECS: i64 = 300;

pub async fn reconcile(obj: Arc<OCPlatform>, ctx: Arc<Context>) -> Result<Action> {
    let api: Api<OCPlatform> = Api::all(ctx.client.clone());
    drive(obj, ctx, api, apply).await
}

impl Departing for OCPlatform {
    const ORPHAN_LEAVES: &'static str = "nothing";

    /// An OCPlatform creates nothing on the platform.
    fn terms(&self, _status: &OCPlatformStatus) -> Option<Terms> {
        None
    }
}

async fn apply(
    obj: &OCPlatform,
    ctx: &Context,
    api: &Api<OCPlatform>,
    draft: &mut StatusDraft<OCPlatform>,
) -> Result<Action> {
    if finalizer::is_deleting(obj) {
        return leave_once_unused(obj, ctx, api, draft).await;
    }
    if let Some(put_on) = finalizer::add(api, obj).await? {
        draft.wrote_only_the_finalizer(put_on.0);
        return Ok(Action::await_change());
    }
    let client = platforms::refresh(ctx, obj).await?;
    let mut reconcile = PlatformReconcile {
        draft,
        client,
        seen: Seen::default(),
    };
    let outcome = plan::run(&mut reconcile, "OCPlatform", false).await?;
    conclusion::conclude(ctx, api, obj, draft, outcome).await
}

/// A deleted OCPlatform stays while any OCCustomer is on it: they need it (its URL,
/// its credentials) to undo their work on the Live Platform, and would otherwise wait
/// for ever. Its condition says how many and where; it looks again shortly, and lets
/// go of its finalizer once none is left.
async fn leave_once_unused(
    obj: &OCPlatform,
    ctx: &Context,
    api: &Api<OCPlatform>,
    draft: &mut StatusDraft<OCPlatform>,
) -> Result<Action> {
    let users = ctx.stores.customers_by_platform.of(None, &obj.name_any());
    if users.is_empty() {
        finalizer::remove(api, obj).await?;
        return Ok(Action::await_change());
    }
    let namespaces: std::collections::BTreeSet<&str> = users
        .iter()
        .filter_map(|customer| customer.namespace.as_deref())
        .collect();
    draft.condition(
        READY,
        false,
        reason::DELETING,
        format!(
            "in use by {} OCCustomers (namespaces {}): the platform stays until they are deleted, so that they can undo their work on it",
            users.len(),
            namespaces.into_iter().collect::<Vec<_>>().join(", ")
        ),
    );
    Ok(Action::requeue(ctx.config.wait_requeue))
}

/// What this reconcile has read so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// A token was issued for the credentials.
    pub credentials: bool,
    /// The lead API answered.
    pub leads: bool,
    /// How many customers the platform has.
    pub customers: Option<usize>,
    pub profiles: Option<Vec<CallingProfile>>,
    pub mapping: Option<Vec<SbcMapping>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Look {
    Credentials,
    Leads,
    Customers,
    Profiles,
    Mapping,
}

/// What the platform offers, published in status.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    pub profiles: Vec<CallingProfileStatus>,
    pub customers: i64,
    /// `status.lastProbeTime` is refreshed.
    pub probed: bool,
}

/// An OCPlatform writes nothing to the platform.
#[derive(Debug, Clone, PartialEq)]
pub enum Never {}

pub type Step = plan::Step<Look, Publish, Never>;

/// The next step (pure): prove the credentials with a token, probe the lead and
/// customer APIs, read the calling profiles and their SBCs, publish them.
pub fn plan(status: &OCPlatformStatus, seen: &Seen, now: jiff::Timestamp) -> Step {
    use plan::Step::*;
    if !seen.credentials {
        return Look(self::Look::Credentials);
    }
    if !seen.leads {
        return Look(self::Look::Leads);
    }
    let Some(customers) = seen.customers else {
        return Look(self::Look::Customers);
    };
    let Some(profiles) = &seen.profiles else {
        return Look(self::Look::Profiles);
    };
    let Some(mapping) = &seen.mapping else {
        return Look(self::Look::Mapping);
    };
    let published = publish(profiles, mapping);
    let customers = customers as i64;
    let changed = status.calling_profiles != published
        || status.calling_profile_count != Some(published.len() as i64)
        || status.customer_count != Some(customers);
    // The probe time is refreshed only when it is old or something else changed: a
    // status that changes on every reconcile would trigger reconcile after reconcile.
    let stale = status
        .last_probe_time
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_none_or(|t| now.as_second() - t.as_second() > PROBE_TIME_REFRESH_SECS);
    if changed || stale {
        return Settle(Publish {
            profiles: published,
            customers,
            probed: true,
        });
    }
    Ready(Report::new(format!(
        "the platform answers with these credentials and offers {} calling profiles",
        published.len()
    )))
}

/// The calling profiles with every SBC they reach: through their enrolled trunks,
/// and through the platform's profile-to-SBC mapping.
pub fn publish(profiles: &[CallingProfile], mapping: &[SbcMapping]) -> Vec<CallingProfileStatus> {
    let mut mapped: BTreeMap<String, Vec<SbcStatus>> = BTreeMap::new();
    for row in mapping {
        let sbcs = row
            .sbcs
            .iter()
            .filter_map(|s| {
                s.sbc_id.clone().map(|id| SbcStatus {
                    id,
                    fqdn: s.fqdn.clone(),
                    name: s.name.clone(),
                    trunk_fqdn: None,
                })
            })
            .collect();
        mapped.insert(row.calling_profile_id.to_ascii_lowercase(), sbcs);
    }
    profiles
        .iter()
        .map(|p| {
            let mut sbcs: Vec<SbcStatus> = Vec::new();
            for trunk in &p.trunks_enrolled {
                for s in &trunk.matching_sbc_list {
                    if let Some(id) = &s.sbc_id {
                        sbcs.push(SbcStatus {
                            id: id.clone(),
                            fqdn: s.fqdn.clone(),
                            name: s.name.clone(),
                            trunk_fqdn: trunk.trunk_fqdn.clone(),
                        });
                    }
                }
            }
            for s in mapped
                .remove(&p.calling_profile_id.to_ascii_lowercase())
                .unwrap_or_default()
            {
                if !sbcs.iter().any(|x| x.id == s.id) {
                    sbcs.push(s);
                }
            }
            CallingProfileStatus {
                id: p.calling_profile_id.clone(),
                name: p.name.clone(),
                region: p.region.clone(),
                carrier: p.carrier.clone(),
                emergency: p.is_emergency_profile,
                offer_types: p
                    .offer_types
                    .iter()
                    .filter_map(|o| o.offer_type_name.clone())
                    .collect(),
                sbcs,
            }
        })
        .collect()
}

/// One reconcile of one platform.
struct PlatformReconcile<'a> {
    draft: &'a mut StatusDraft<OCPlatform>,
    client: LivePlatformClient,
    seen: Seen,
}

impl Planner for PlatformReconcile<'_> {
    type Look = Look;
    type Settle = Publish;
    type Write = Never;

    fn plan(&self) -> Step {
        plan(&self.draft.status, &self.seen, jiff::Timestamp::now())
    }

    async fn look(&mut self, look: Look) -> Result<()> {
        let client = &self.client;
        match look {
            Look::Credentials => {
                client.check_credentials().await?;
                self.seen.credentials = true;
            }
            Look::Leads => {
                client
                    .list_leads(&LeadQuery {
                        page_number: Some(1),
                        page_size: Some(1),
                        ..Default::default()
                    })
                    .await?;
                self.seen.leads = true;
            }
            Look::Customers => {
                self.seen.customers = Some(client.list_customers_brief().await?.len())
            }
            Look::Profiles => self.seen.profiles = Some(client.calling_profiles().await?),
            Look::Mapping => self.seen.mapping = Some(client.sbc_mapping().await?),
        }
        Ok(())
    }

    async fn settle(&mut self, publish: Publish) -> Result<()> {
        let status = &mut self.draft.status;
        status.calling_profile_count = Some(publish.profiles.len() as i64);
        status.customer_count = Some(publish.customers);
        status.calling_profiles = publish.profiles;
        if publish.probed {
            status.last_probe_time = Some(jiff::Timestamp::now().to_string());
        }
        Ok(())
    }

    async fn write(&mut self, never: Never) -> Result<AfterWrite> {
        match never {}
    }

    async fn finish(&mut self) {}

    fn describe(&self, never: &Never) -> Option<crate::api::common::PlannedAction> {
        match *never {}
    }
}
