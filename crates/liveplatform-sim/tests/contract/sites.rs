use liveplatform::contract::deployment_state;
use liveplatform::model::{AddSipConnection, ModifySipConnection};
use liveplatform::{Error, TaskOutcome};
use serde_json::json;

use crate::support::*;

const PASSWORD: &str = "carrier-pa55word!";

fn site(name: &str, sbc: &str) -> AddSipConnection {
    let params = json!({
        "CacProfile": "Default", "ProxySet": "ps-1", "OnlinePstnGateway": "sbc11.sandbox.example.net",
        "CarrierUserName": "contoso-trunk", "CarrierMainLine": "+14255550000", "CarrierHostName": "carrier.example.net"
    });
    AddSipConnection {
        site_location_name: name.into(),
        ovoc_customer_type: "IPGROUP_TYPE".into(),
        sbc_id: sbc.into(),
        sbc_onboarding_script: Some("onboard-v1".into()),
        sbc_cleanup_script: Some("cleanup-v1".into()),
        script_parameters: params.as_object().cloned().unwrap_or_default(),
        carrier_password: Some(PASSWORD.into()),
    }
}

#[tokio::test]
async fn add_get_modify_delete_a_sip_connection() {
    let env = Env::start().await;
    let customer = env.customer(TENANT_A, "contoso").await;
    let request = site("Redmond", "11");
    assert!(
        !format!("{request:?}").contains(PASSWORD),
        "Debug shows the carrier password"
    );
    let added = env
        .client
        .add_sip_connection(&customer, &request)
        .await
        .unwrap();
    let during = env
        .client
        .get_sip_connection(&added.site_location_id)
        .await
        .unwrap();
    assert_eq!(
        during.sbc_deployment_state,
        Some(deployment_state::DEPLOYING)
    );
    assert_eq!(during.pending_tasks.len(), 1);
    let TaskOutcome::Succeeded(_) = env
        .finish(&liveplatform::model::TaskId(added.task_id.clone()))
        .await
    else {
        panic!("onboarding")
    };

    let got = env
        .client
        .get_sip_connection(&added.site_location_id)
        .await
        .unwrap();
    assert_eq!(got.site_name.as_deref(), Some("Redmond"));
    assert_eq!(got.tenant_id.as_deref(), Some(TENANT_A));
    assert_eq!(got.sbc_deployment_state, Some(deployment_state::DEPLOYED));
    assert_eq!(got.m365_deployment_state, Some(deployment_state::DEPLOYED));
    assert_eq!(
        got.online_pstn_gateway.as_deref(),
        Some("sbc11.sandbox.example.net")
    );
    let info = got.sbc_info.expect("sbc info");
    assert_eq!(info.sbc_id.as_deref(), Some("11"));
    assert_eq!(info.carrier_user_name.as_deref(), Some("contoso-trunk"));
    let vars = info
        .sbc_scripts
        .and_then(|s| s.customer_variables)
        .expect("variables");
    assert_eq!(vars["CarrierUserPassword"], "****");
    // The password is nowhere in what the platform gives back, nor in its state dump.
    assert!(!env.state().await.to_string().contains(PASSWORD));

    let services = env.client.list_services(true).await.unwrap();
    assert_eq!(services[0].site_location.len(), 1);

    let task = env
        .client
        .modify_sip_connection(
            &customer,
            &ModifySipConnection {
                site_location_id: added.site_location_id.clone(),
                sbc_id: Some("12".into()),
                cac_profile: Some("Gold".into()),
                enable_cac: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(env.finish(&task).await, TaskOutcome::Succeeded(_)));
    let got = env
        .client
        .get_sip_connection(&added.site_location_id)
        .await
        .unwrap();
    let info = got.sbc_info.unwrap();
    assert_eq!(
        (info.sbc_id.as_deref(), info.cac_profile.as_deref()),
        (Some("12"), Some("Gold"))
    );

    let deleted = env
        .client
        .delete_sip_connection(&added.site_location_id)
        .await
        .unwrap();
    assert!(deleted.status);
    assert_eq!(deleted.o365_cleanup_task.as_deref(), Some("tsk_0"));
    let cleanup = liveplatform::model::TaskId(deleted.sbc_cleanup_task_id.expect("cleanup task"));
    assert!(matches!(
        env.finish(&cleanup).await,
        TaskOutcome::Succeeded(_)
    ));
    let err = env
        .client
        .get_sip_connection(&added.site_location_id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn unknown_sbc_and_duplicate_names_are_refused() {
    let env = Env::start().await;
    let customer = env.customer(TENANT_A, "contoso").await;
    let err = env
        .client
        .add_sip_connection(&customer, &site("Redmond", "77"))
        .await
        .unwrap_err();
    assert_invalid(&err, "SbcId");
    env.client
        .add_sip_connection(&customer, &site("Redmond", "11"))
        .await
        .unwrap();
    let err = env
        .client
        .add_sip_connection(&customer, &site("Redmond", "12"))
        .await
        .unwrap_err();
    assert_says(&err, "already has a site location");
    let err = env
        .client
        .add_sip_connection("5f0e0000-0000-4000-8000-000000000000", &site("X", "11"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn a_failed_onboarding_shows_in_the_deployment_state() {
    let env = Env::start().await;
    let customer = env.customer(TENANT_A, "contoso").await;
    env.set_faults(json!({"failNextTasks": 1})).await;
    let added = env
        .client
        .add_sip_connection(&customer, &site("Redmond", "11"))
        .await
        .unwrap();
    let TaskOutcome::Failed(task) = env
        .finish(&liveplatform::model::TaskId(added.task_id))
        .await
    else {
        panic!("expected failure")
    };
    assert!(task.error_summary().contains("onboarding script failed"));
    let got = env
        .client
        .get_sip_connection(&added.site_location_id)
        .await
        .unwrap();
    assert_eq!(got.sbc_deployment_state, Some(deployment_state::FAILED));
}

#[tokio::test]
async fn deleting_the_service_removes_its_sites_and_dial_plans() {
    let env = Env::start().await;
    let customer = env.customer(TENANT_A, "contoso").await;
    let added = env
        .client
        .add_sip_connection(&customer, &site("Redmond", "11"))
        .await
        .unwrap();
    env.admin_post("/tasks/finish", json!({})).await;
    env.client
        .modify_dial_plan(
            &customer,
            &added.site_location_id,
            &liveplatform::model::ModifyDialPlan {
                dial_plan_id: "CustDialPlan".into(),
                add: vec![liveplatform::model::DialPlanRule {
                    name: "r1".into(),
                    prefix: "+1425".into(),
                    tag: "t".into(),
                }],
                remove: vec![],
            },
        )
        .await
        .unwrap();
    env.client.delete_service(&customer).await.unwrap();
    let state = env.state().await;
    assert_eq!(state["sites"].as_object().unwrap().len(), 0);
    assert_eq!(state["dialPlans"].as_object().unwrap().len(), 0);
}
