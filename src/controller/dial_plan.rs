//! The life of an `OCDialPlan`: read the dial plan of the site (or of the customer, for
//! a single-site customer), send only the rules to add and to remove, report rules
//! others added (and remove them under `unmanagedRules: Remove`); on delete, delete the
//! dial plan. Every write is computed from a fresh read, so a lost answer is simply
//! read again.

use std::collections::BTreeMap;

use super::adoption;
use super::context::Context;
use super::customer_scope::{CustomerScope, Unscoped, namespace_of};
use super::declared::Declared;
use super::error::Result;
use super::lifecycle::{Departing, Terms};
use super::management::{planned, requests};
use super::plan::{self, AfterWrite, Planner, Report};
use super::reconciler::{Admission, Reconciler, Work};
use super::status::StatusDraft;
use super::tasks;
use crate::api::OCDialPlan;
use crate::api::common::PlannedAction;
use crate::api::conditions::{READY, reason};
use crate::api::dial_plan::{OCDialPlanSpec, OCDialPlanStatus, UnmanagedRules};
use liveplatform::Error as PlatformError;
use liveplatform::model::{DialPlanRule, ModifyDialPlan};

type Draft = StatusDraft<OCDialPlan>;

impl Reconciler for OCDialPlan {
    /// The site location the dial plan is on.
    type Found = String;
    type Reconcile<'a> = DialPlanReconcile<'a>;

    /// No customer on the platform: the dial plan went with it.
    fn holds_nothing(_status: &OCDialPlanStatus) -> bool {
        true
    }

    /// Its SIP connection's site id is watched (it wakes the dial plan) like the
    /// customer; without a site on the platform the dial plan went with it.
    async fn admit(
        &self,
        ctx: &Context,
        draft: &mut Draft,
        scope: &CustomerScope,
        _deleting: bool,
    ) -> Result<Admission<String>> {
        let Some(site) = site_of(self, ctx, scope, draft).await? else {
            return Ok(Admission::Wait(Unscoped::Watched));
        };
        draft.status.site_location_id = Some(site.clone());
        Ok(Admission::Go {
            found: site,
            finalizer: true,
        })
    }

    async fn reconciling<'a>(
        work: Work<'a, OCDialPlan>,
        site: String,
    ) -> Result<DialPlanReconcile<'a>> {
        Ok(DialPlanReconcile {
            work,
            site,
            seen: Seen::default(),
        })
    }
}

/// What this reconcile has read so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// The rules of the dial plan on the platform (`None`: not read yet).
    pub rules: Option<Vec<DialPlanRule>>,
    /// The rules found were taken over in this reconcile.
    pub adopted: bool,
}

/// What the planner knows besides the platform.
#[derive(Debug, Clone)]
pub struct Known<'a> {
    pub object: Declared<'a, OCDialPlan>,
    /// Where the dial plan is, for messages: "site S of tenant T".
    pub place: String,
    /// The operator created the customer (see `OCCustomerStatus::created_by_operator`),
    /// so it added every site of it.
    pub customer_created: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Look {
    Rules,
    /// No call: a dial plan of a site of a customer the operator created holds no
    /// rule before this object writes its first (see [`holds_nothing_yet`]).
    NothingYet,
}

/// Whether this object ever wrote to the dial plan (or took it over).
impl Departing for OCDialPlan {
    const ORPHAN_LEAVES: &'static str = "the dial plan's rules stay on the platform";

    /// A dial plan that never wrote a rule: nothing on the platform is its own.
    fn terms(&self, status: &OCDialPlanStatus) -> Option<Terms> {
        Some(Terms {
            policy: self.spec.deletion_policy,
            holds_nothing: !claimed(status),
        })
    }

    fn customer_name(&self) -> Option<&str> {
        Some(&self.spec.customer_ref.name)
    }
}

fn claimed(status: &OCDialPlanStatus) -> bool {
    !status.managed_rules.is_empty() || status.ownership.owned_since.is_some()
}

/// Whether the dial plan can hold no rule but this object's: under a customer the
/// operator created, on a site it added, before this object wrote any (nothing
/// claimed, no opt-in to adopt). The platform's own numbers dial plan is the
/// exception: it fills with the customer's uploaded numbers.
pub fn holds_nothing_yet(known: &Known) -> bool {
    known.customer_created
        && !claimed(known.object.status)
        && !known.object.may_adopt
        && !known.object.deleting
        && !known
            .object
            .spec
            .dial_plan_id
            .eq_ignore_ascii_case(liveplatform::contract::NUMBERS_DIAL_PLAN)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Settle {
    /// Rules that no object put there are taken over (the opt-in is set); what was
    /// taken over, for the event.
    Adopt(String),
    /// The rules as the platform holds them.
    Record {
        managed: Vec<String>,
        unmanaged: Vec<String>,
        rule_count: i64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// One Modify DialPlan with the rules to add and to remove; `managed` is recorded
    /// first, so that a rule added here is known as ours even if the answer is lost.
    Modify {
        add: Vec<DialPlanRule>,
        remove: Vec<DialPlanRule>,
        managed: Vec<String>,
    },
    Delete,
}

pub type Step = plan::Step<Look, Settle, Write>;

fn wanted(spec: &OCDialPlanSpec) -> BTreeMap<&str, DialPlanRule> {
    spec.rules
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                DialPlanRule {
                    name: r.name.clone(),
                    prefix: r.prefix.clone(),
                    tag: r.tag.clone(),
                },
            )
        })
        .collect()
}

/// The next step towards the spec (pure). Every write is computed from a fresh read,
/// so a lost answer is simply read again.
pub fn plan(known: &Known, seen: &Seen) -> Step {
    use plan::Step::*;
    let (spec, status) = (known.object.spec, known.object.status);
    let id = &spec.dial_plan_id;
    if known.object.deleting {
        return Write(self::Write::Delete);
    }
    let Some(current) = &seen.rules else {
        if holds_nothing_yet(known) {
            return Look(self::Look::NothingYet);
        }
        return Look(self::Look::Rules);
    };
    if !claimed(status) && !seen.adopted && !current.is_empty() {
        // Rules that no object in the cluster put there: taken over only on request.
        let existing = format!(
            "dial plan {id} with {} rules on {}",
            current.len(),
            known.place
        );
        if !known.object.may_adopt {
            return Refuse {
                existing,
                advice: "use another dialPlanId",
            };
        }
        return Settle(self::Settle::Adopt(existing));
    }
    let wanted = wanted(spec);
    let mut remove = Vec::new();
    let mut unmanaged = Vec::new();
    for rule in current {
        match wanted.get(rule.name.as_str()) {
            Some(want) if want == rule => {}
            Some(_) => remove.push(rule.clone()),
            // Declared before and dropped from the spec since: ours to remove.
            None if status.managed_rules.contains(&rule.name) => remove.push(rule.clone()),
            None if spec.unmanaged_rules == UnmanagedRules::Remove => remove.push(rule.clone()),
            None => unmanaged.push(rule.name.clone()),
        }
    }
    let add: Vec<DialPlanRule> = wanted
        .values()
        .filter(|w| !current.contains(w))
        .cloned()
        .collect();
    if !add.is_empty() || !remove.is_empty() {
        let mut managed: Vec<String> = status
            .managed_rules
            .iter()
            .cloned()
            .chain(wanted.keys().map(|k| (*k).to_owned()))
            .collect();
        managed.sort();
        managed.dedup();
        return Write(self::Write::Modify {
            add,
            remove,
            managed,
        });
    }
    unmanaged.sort();
    let managed: Vec<String> = wanted.keys().map(|k| (*k).to_owned()).collect();
    let rule_count = current.len() as i64;
    if status.managed_rules != managed
        || status.unmanaged_rules != unmanaged
        || status.rule_count != Some(rule_count)
    {
        return Settle(self::Settle::Record {
            managed,
            unmanaged,
            rule_count,
        });
    }
    Ready(Report::new(if unmanaged.is_empty() {
        format!("dial plan {id} holds the {} declared rules", wanted.len())
    } else {
        format!(
            "dial plan {id} holds the {} declared rules; rules {} were added by others and are kept (unmanagedRules: Keep)",
            wanted.len(),
            unmanaged.join(", ")
        )
    }))
}

/// One reconcile of one dial plan.
pub struct DialPlanReconcile<'a> {
    work: Work<'a, OCDialPlan>,
    site: String,
    seen: Seen,
}

impl Planner for DialPlanReconcile<'_> {
    type Look = Look;
    type Settle = Settle;
    type Write = Write;

    fn plan(&self) -> Step {
        let known = Known {
            object: self.work.declared(),
            place: format!("site {} of tenant {}", self.site, self.work.place.tenant),
            customer_created: self.work.place.created_by_operator(),
        };
        plan(&known, &self.seen)
    }

    async fn look(&mut self, look: Look) -> Result<()> {
        if look == Look::NothingYet {
            self.seen.rules = Some(Vec::new());
            return Ok(());
        }
        let id = &self.work.obj.spec.dial_plan_id;
        let plans = self
            .work
            .place
            .client
            .get_dial_plan(&self.work.place.customer_id, &self.site, id)
            .await?;
        self.seen.rules = Some(
            plans
                .into_iter()
                .filter(|p| p.dial_plan_id.eq_ignore_ascii_case(id))
                .flat_map(|p| p.rule_dto)
                .collect(),
        );
        Ok(())
    }

    async fn settle(&mut self, settle: Settle) -> Result<()> {
        match settle {
            Settle::Adopt(existing) => {
                adoption::adopted(self.work.ctx, self.work.obj, "AdoptDialPlan", &existing).await;
                self.seen.adopted = true;
            }
            Settle::Record {
                managed,
                unmanaged,
                rule_count,
            } => {
                self.work.draft.status.managed_rules = managed;
                self.work.draft.status.unmanaged_rules = unmanaged;
                self.work.draft.status.rule_count = Some(rule_count);
            }
        }
        Ok(())
    }

    async fn write(&mut self, write: Write) -> Result<AfterWrite> {
        let (obj, ctx, site) = (self.work.obj, self.work.ctx, self.site.clone());
        let id = &obj.spec.dial_plan_id;
        match write {
            Write::Modify {
                add,
                remove,
                managed,
            } => {
                self.work.draft.status.managed_rules = managed;
                tasks::record_before(self.work.api, obj, self.work.draft).await?;
                let body = ModifyDialPlan {
                    dial_plan_id: id.clone(),
                    add: add.clone(),
                    remove: remove.clone(),
                };
                self.work
                    .place
                    .client
                    .modify_dial_plan(&self.work.place.customer_id, &site, &body)
                    .await?;
                ctx.event(
                    obj,
                    false,
                    "RulesChanged",
                    "ModifyDialPlan",
                    format!(
                        "dial plan {id}: added {}, removed {} rules",
                        add.len(),
                        remove.len()
                    ),
                )
                .await;
                // The platform took the change: the dial plan holds what was read, less
                // what was removed, plus what was added. The next drift check reads it
                // again.
                if let Some(rules) = &mut self.seen.rules {
                    rules.retain(|r| !remove.contains(r));
                    rules.extend(add);
                }
                Ok(AfterWrite::Replan)
            }
            Write::Delete => {
                self.work.draft.condition(
                    READY,
                    false,
                    reason::DELETING,
                    format!("deleting dial plan {id}"),
                );
                match self
                    .work
                    .place
                    .client
                    .delete_dial_plan(&self.work.place.customer_id, &site, id)
                    .await
                {
                    Ok(_) | Err(PlatformError::NotFound { .. }) => {
                        ctx.event(
                            obj,
                            false,
                            "DialPlanDeleted",
                            "DeleteDialPlan",
                            format!("deleted dial plan {id} of site {site}"),
                        )
                        .await;
                        Ok(AfterWrite::Gone)
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    async fn finish(&mut self) {}

    fn describe(&self, write: &Write) -> Option<PlannedAction> {
        let id = &self.work.obj.spec.dial_plan_id;
        let target = format!(
            "dial plan {id} of site {} of tenant {}",
            self.site, self.work.place.tenant
        );
        Some(match write {
            Write::Modify { add, remove, .. } => planned(
                liveplatform::Action::ModifyDialPlan,
                target,
                add.len() + remove.len(),
                1,
                format!(
                    "add {} and remove {} rules of dial plan {id} in {}",
                    add.len(),
                    remove.len(),
                    requests(1)
                ),
            ),
            Write::Delete => planned(
                liveplatform::Action::DeleteDialPlan,
                target,
                1,
                1,
                format!("delete dial plan {id}"),
            ),
        })
    }
}

/// The site location the dial plan is on, or `None` with a waiting condition.
async fn site_of(
    obj: &OCDialPlan,
    ctx: &Context,
    scope: &CustomerScope,
    draft: &mut Draft,
) -> Result<Option<String>> {
    let Some(reference) = &obj.spec.sip_connection_ref else {
        return Ok(Some(scope.customer_id.clone()));
    };
    let ns = namespace_of(obj);
    // From the watch cache (no apiserver read).
    let site = ctx.stores.site(&ns, &reference.name);
    match site.and_then(|s| s.status.as_ref().and_then(|st| st.site_location_id.clone())) {
        Some(id) => Ok(Some(id)),
        None => {
            draft.condition(
                READY,
                false,
                reason::WAITING_FOR_DEPENDENCY,
                format!(
                    "waiting for OCSipConnection {} to have a site location on the platform",
                    reference.name
                ),
            );
            Ok(None)
        }
    }
}
