//! What `oc-operator import` reads of a platform: every lead with a customer, and for
//! each its licence, numbers, sites, dial plans and (on request) end users. Reads
//! only; every listing is paged through, within the client's budget.

use crate::api::customer::LicenseType;
use liveplatform::LivePlatformClient;
use liveplatform::model::{
    CustomerDetails, DialPlanRule, EndUser, Lead, LeadQuery, NumberRecord, SipConnection,
};

/// One customer as the platform shows it.
#[derive(Debug, Clone)]
pub struct CustomerSnapshot {
    pub lead: Lead,
    pub details: CustomerDetails,
    /// Its numbers that are active (not being released).
    pub numbers: Vec<NumberRecord>,
    /// Its site locations: (id, what Get SIP Connection shows).
    pub sites: Vec<(String, SipConnection)>,
    /// The rules of the dial plan read, by site id (none: the site has no rules).
    pub dial_plans: Vec<(String, Vec<DialPlanRule>)>,
    pub users: Vec<EndUser>,
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these tenants (Microsoft tenant ids); empty: every tenant with a customer.
    pub tenants: Vec<String>,
    /// The dial plan id read on each site.
    pub dial_plan_id: String,
    pub include_end_users: bool,
}

/// Reads the selected customers, telling `progress` (done, total) after each.
pub async fn read(
    client: &LivePlatformClient,
    selection: &Selection,
    mut progress: impl FnMut(usize, usize, &str),
) -> liveplatform::Result<Vec<CustomerSnapshot>> {
    let mut leads = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for page in 1.. {
        let batch = client
            .list_leads(&LeadQuery {
                page_number: Some(page),
                page_size: Some(PAGE),
                ..LeadQuery::default()
            })
            .await?;
        let full = batch.len() == PAGE as usize;
        let before = leads.len();
        for lead in batch {
            if seen.insert(lead.id.clone()) {
                leads.push(lead);
            }
        }
        // A short page ends the listing; so does a page of leads already seen (a
        // platform that ignores the paging answers every page alike).
        if !full || leads.len() == before {
            break;
        }
    }
    let mut leads: Vec<Lead> = leads
        .into_iter()
        .filter(|l| {
            l.ump_customer_guid
                .as_deref()
                .is_some_and(|g| !g.is_empty())
        })
        .filter(|l| {
            selection.tenants.is_empty()
                || selection
                    .tenants
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(&l.tenant_id))
        })
        .collect();
    leads.sort_by(|a, b| a.tenant_id.cmp(&b.tenant_id));
    leads.dedup_by(|a, b| a.tenant_id == b.tenant_id);
    let total = leads.len();
    let mut out = Vec::with_capacity(total);
    for (done, lead) in leads.into_iter().enumerate() {
        let guid = lead.ump_customer_guid.clone().unwrap_or_default();
        let details = client.get_customer(&guid, true).await?;
        let mut numbers: Vec<NumberRecord> = client
            .all_numbers(&lead.tenant_id, PAGE)
            .await?
            .into_iter()
            .filter(|n| n.acquired_number_status.eq_ignore_ascii_case("Active"))
            .collect();
        numbers.sort_by(|a, b| a.telephone_number.cmp(&b.telephone_number));
        let mut sites = Vec::new();
        let mut dial_plans = Vec::new();
        let mut site_ids: Vec<String> = details
            .service
            .site_location
            .iter()
            .filter_map(|s| s.id.clone())
            .collect();
        site_ids.sort();
        for id in site_ids {
            let site = client.get_sip_connection(&id).await?;
            let rules: Vec<DialPlanRule> = client
                .get_dial_plan(&guid, &id, &selection.dial_plan_id)
                .await?
                .into_iter()
                .filter(|p| p.dial_plan_id.eq_ignore_ascii_case(&selection.dial_plan_id))
                .flat_map(|p| p.rule_dto)
                .collect();
            if !rules.is_empty() {
                dial_plans.push((id.clone(), rules));
            }
            sites.push((id, site));
        }
        let mut users = Vec::new();
        // OC Essentials allows no end users: not asked for.
        let users_allowed = details
            .service
            .license_type
            .is_some_and(|t| t != LicenseType::OcEssentials.code());
        if selection.include_end_users && users_allowed {
            for page in 1.. {
                let batch = client.list_end_users(&guid, page, PAGE).await?;
                let last = i64::from(page) >= batch.total_pages;
                users.extend(batch.data);
                if last {
                    break;
                }
            }
            users.retain(|u| u.enterprise_voice_enabled || u.line_uri.is_some());
            users.sort_by(|a, b| a.sip_address.cmp(&b.sip_address));
        }
        progress(done + 1, total, &lead.tenant_id);
        out.push(CustomerSnapshot {
            lead,
            details,
            numbers,
            sites,
            dial_plans,
            users,
        });
    }
    Ok(out)
}

/// Page size of every listing.
const PAGE: u32 = 200;
