//! The life of an `OCPlatform`: read its credentials, prove them with a token, probe
//! the API, and publish the calling profiles with their trunks and SBCs in status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kube::api::Api;
use kube::runtime::controller::Action;
use rand::Rng;

use super::context::Context;
use super::drive;
use super::error::Result;
use super::platforms;
use super::status::StatusDraft;
use crate::api::OCPlatform;
use crate::api::conditions::{READY, reason};
use crate::api::platform::{CallingProfileStatus, SbcStatus};
use crate::liveplatform::model::LeadQuery;

/// How old `status.lastProbeTime` may get before it is refreshed on its own.
const PROBE_TIME_REFRESH_SECS: i64 = 300;

pub async fn reconcile(obj: Arc<OCPlatform>, ctx: Arc<Context>) -> Result<Action> {
    let api: Api<OCPlatform> = Api::all(ctx.client.clone());
    drive(obj, ctx, api, async |obj, ctx, _api, draft| {
        apply(obj, ctx, draft).await
    })
    .await
}

/// Requeue after the drift interval, with up to 10 % jitter.
pub fn drift_requeue(seconds: i64) -> Action {
    let base = Duration::from_secs(u64::try_from(seconds).unwrap_or(600).max(30));
    let jitter = rand::rng().random_range(0..=base.as_millis() as u64 / 10);
    Action::requeue(base + Duration::from_millis(jitter))
}

async fn apply(
    obj: &OCPlatform,
    ctx: &Context,
    draft: &mut StatusDraft<OCPlatform>,
) -> Result<Action> {
    let client = platforms::refresh(ctx, obj).await?;
    client.check_credentials().await?;
    // The probe: the lead and customer APIs answer with these credentials.
    client
        .list_leads(&LeadQuery {
            page_number: Some(1),
            page_size: Some(1),
            ..Default::default()
        })
        .await?;
    let customers = client.list_customers_brief().await?;
    let profiles = client.calling_profiles().await?;
    let mapping = client.sbc_mapping().await?;

    let mut mapped: BTreeMap<String, Vec<SbcStatus>> = BTreeMap::new();
    for row in mapping {
        let sbcs = row
            .sbcs
            .into_iter()
            .filter_map(|s| {
                s.sbc_id.map(|id| SbcStatus {
                    id,
                    fqdn: s.fqdn,
                    name: s.name,
                    trunk_fqdn: None,
                })
            })
            .collect();
        mapped.insert(row.calling_profile_id.to_ascii_lowercase(), sbcs);
    }
    let published: Vec<CallingProfileStatus> = profiles
        .into_iter()
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
                id: p.calling_profile_id,
                name: p.name,
                region: p.region,
                carrier: p.carrier,
                emergency: p.is_emergency_profile,
                offer_types: p
                    .offer_types
                    .into_iter()
                    .filter_map(|o| o.offer_type_name)
                    .collect(),
                sbcs,
            }
        })
        .collect();

    let was_ready =
        crate::api::conditions::is_true_for(draft.conditions(), READY, draft.generation);
    draft.status.calling_profile_count = Some(published.len() as i64);
    draft.status.customer_count = Some(customers.len() as i64);
    draft.status.calling_profiles = published;
    // The probe time is refreshed only when it is old or something else changed: a
    // status that changes on every reconcile would trigger reconcile after reconcile.
    let stale = draft
        .status
        .last_probe_time
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_none_or(|t| {
            jiff::Timestamp::now().as_second() - t.as_second() > PROBE_TIME_REFRESH_SECS
        });
    if stale || draft.changed() {
        draft.status.last_probe_time = Some(jiff::Timestamp::now().to_string());
    }
    let message = format!(
        "the platform answers with these credentials and offers {} calling profiles",
        draft.status.calling_profile_count.unwrap_or(0)
    );
    draft.condition(READY, true, reason::AVAILABLE, message.clone());
    if !was_ready {
        ctx.event(obj, false, reason::AVAILABLE, "Probe", message)
            .await;
    }
    Ok(drift_requeue(obj.spec.drift_check_seconds))
}
