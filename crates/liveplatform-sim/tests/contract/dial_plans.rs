use liveplatform::Error;
use liveplatform::model::{DialPlanRule, ModifyDialPlan};

use crate::support::*;

fn rule(name: &str, prefix: &str) -> DialPlanRule {
    DialPlanRule {
        name: name.into(),
        prefix: prefix.into(),
        tag: "Contoso".into(),
    }
}

#[tokio::test]
async fn get_modify_and_delete_a_dial_plan_of_a_single_site_customer() {
    let env = Env::start().await;
    let customer = env.customer(TENANT_A, "contoso").await;
    let plans = env
        .client
        .get_dial_plan(&customer, &customer, "CustDialPlan")
        .await
        .unwrap();
    assert_eq!(plans[0].dial_plan_id, "CustDialPlan");
    assert!(plans[0].rule_dto.is_empty());

    let add = ModifyDialPlan {
        dial_plan_id: "CustDialPlan".into(),
        add: vec![rule("r1", "+1425"), rule("r2", "+1206")],
        remove: vec![],
    };
    env.client
        .modify_dial_plan(&customer, &customer, &add)
        .await
        .unwrap();
    let swap = ModifyDialPlan {
        dial_plan_id: "CustDialPlan".into(),
        add: vec![rule("r3", "+1360")],
        remove: vec![rule("r1", "+1425")],
    };
    env.client
        .modify_dial_plan(&customer, &customer, &swap)
        .await
        .unwrap();
    let mut rules = env
        .client
        .get_dial_plan(&customer, &customer, "CustDialPlan")
        .await
        .unwrap()[0]
        .rule_dto
        .clone();
    rules.sort();
    assert_eq!(rules, vec![rule("r2", "+1206"), rule("r3", "+1360")]);

    // Adding an existing rule or removing a missing one is a validation error.
    let err = env
        .client
        .modify_dial_plan(&customer, &customer, &add)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation { fields, .. } if fields.contains_key("Add") && !fields.contains_key("Remove")),
        "{err:?}"
    );

    env.client
        .delete_dial_plan(&customer, &customer, "CustDialPlan")
        .await
        .unwrap();
    assert!(
        env.client
            .get_dial_plan(&customer, &customer, "CustDialPlan")
            .await
            .unwrap()[0]
            .rule_dto
            .is_empty()
    );
    let err = env
        .client
        .delete_dial_plan(&customer, &customer, "CustDialPlan")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
}

#[tokio::test]
async fn uploaded_numbers_are_pushed_into_the_oc_dial_plan() {
    let env = Env::start().await;
    let customer = env.customer(TENANT_A, "contoso").await;
    env.uploaded(TENANT_A, "+14255550900").await;
    let plan = env
        .client
        .get_dial_plan(&customer, &customer, "OCDialPlan")
        .await
        .unwrap();
    assert_eq!(
        plan[0]
            .rule_dto
            .iter()
            .map(|r| r.prefix.as_str())
            .collect::<Vec<_>>(),
        vec!["+14255550900"]
    );
}

#[tokio::test]
async fn unknown_sites_and_customers() {
    let env = Env::start().await;
    let customer = env.customer(TENANT_A, "contoso").await;
    let err = env
        .client
        .get_dial_plan(
            &customer,
            "0b000000-0000-4000-8000-000000000000",
            "CustDialPlan",
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = env
        .client
        .get_dial_plan(
            "0c000000-0000-4000-8000-000000000000",
            &customer,
            "CustDialPlan",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { detail, .. } if detail.starts_with("Customer with")),
        "{err:?}"
    );
}
