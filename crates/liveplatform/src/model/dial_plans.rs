//! Dial plans of a site location.

use serde::{Deserialize, Serialize};

/// One rule of a dial plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(default)]
pub struct DialPlanRule {
    pub name: String,
    pub prefix: String,
    pub tag: String,
}

/// A dial plan as Get DialPlans returns it (`ruleDTO` normalises to `rule_dto`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct DialPlan {
    pub dial_plan_id: String,
    pub rule_dto: Vec<DialPlanRule>,
}

/// Body of Modify Dial Plan Content.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ModifyDialPlan {
    pub dial_plan_id: String,
    pub add: Vec<DialPlanRule>,
    pub remove: Vec<DialPlanRule>,
}
