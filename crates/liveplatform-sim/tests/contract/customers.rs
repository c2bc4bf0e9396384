use liveplatform::model::{ConfigurationType, CreateCustomer, LicenseChange, LicenseType};
use liveplatform::{Error, TaskOutcome};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn customer_from_lead_then_details_listings_and_delete() {
    let env = Env::start().await;
    let guid = env.customer(TENANT_A, "contoso").await;

    let details = env.client.get_customer(&guid, true).await.unwrap();
    assert_eq!(details.service.ump_customer_guid, guid);
    assert_eq!(details.service.ms_tenant_id.as_deref(), Some(TENANT_A));
    assert_eq!(
        details.service.license_type,
        Some(LicenseType::OcEssentials.code())
    );
    assert_eq!(
        details.ms_default_domain.as_deref(),
        Some("contoso.onmicrosoft.com")
    );
    assert!(details.application_client_id.is_some());

    // The lead now points at its customer.
    let lead = env.client.get_lead(TENANT_A).await.unwrap().unwrap();
    assert_eq!(lead.ump_customer_guid.as_deref(), Some(guid.as_str()));

    let services = env.client.list_services(true).await.unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].customer_short_name.as_deref(), Some("contoso"));
    let brief = env.client.list_customers_brief().await.unwrap();
    assert_eq!(brief[0].id, guid);
    assert_eq!(brief[0].short_name.as_deref(), Some("contoso"));

    let info = env.client.license_info(&guid, 1).await.unwrap();
    assert!(!info.is_empty());
    assert_eq!(info[0].ump_customer_guid.as_deref(), Some(guid.as_str()));
    // Daily records: read again (a second later), the day's record is the same, so a
    // status built from it does not change on every read.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = env.client.license_info(&guid, 1).await.unwrap();
    assert_eq!(again[0].last_update, info[0].last_update);

    env.client.delete_service(&guid).await.unwrap();
    let err = env.client.get_customer(&guid, false).await.unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { detail, .. } if detail == &format!("Customer with {guid} not found")),
        "{err:?}"
    );
    let err = env.client.delete_service(&guid).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
    assert_eq!(
        env.client
            .get_lead(TENANT_A)
            .await
            .unwrap()
            .unwrap()
            .ump_customer_guid,
        None
    );
}

#[tokio::test]
async fn licence_upgrade_switch_and_count() {
    let env = Env::start().await;
    let guid = env.customer(TENANT_A, "contoso").await;
    // PATCH before the POST upgrade is refused with the documented bare string.
    let err = env
        .client
        .change_license(&guid, &LicenseChange::new(5, 10))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rejected { status: 400, detail, .. } if detail == "Invalid change for License Type!"),
        "{err:?}"
    );

    let task = env
        .client
        .upgrade_license(&guid, &LicenseChange::new(4, 10))
        .await
        .unwrap();
    assert!(task.0.starts_with("tsk_"), "{task}");
    assert!(matches!(env.finish(&task).await, TaskOutcome::Succeeded(_)));
    let c = env.client.get_customer(&guid, false).await.unwrap();
    assert_eq!(
        (c.service.license_type, c.service.licensed_users_count),
        (Some(4), Some(10))
    );

    // A second POST upgrade is no longer valid; PATCH switches 4 <-> 5 and the count.
    assert!(
        env.client
            .upgrade_license(&guid, &LicenseChange::new(5, 10))
            .await
            .is_err()
    );
    env.client
        .change_license(&guid, &LicenseChange::new(5, 25))
        .await
        .unwrap();
    let c = env.client.get_customer(&guid, false).await.unwrap();
    assert_eq!(
        (c.service.license_type, c.service.licensed_users_count),
        (Some(5), Some(25))
    );
    let info = env.client.license_info(&guid, 2).await.unwrap();
    assert_eq!(info[0].acquired_licenses, Some(25));
}

#[tokio::test]
async fn short_name_rules_and_lead_requirement() {
    let env = Env::start().await;
    env.lead(TENANT_A, "Contoso").await;
    for bad in [
        "ab",
        "has space",
        "dot.ted",
        "way-too-long-short-name",
        "a/b",
    ] {
        let err = env
            .client
            .create_customer(&CreateCustomer {
                configuration: ConfigurationType::TenantType,
                customer_short_name: bad.into(),
                customer_full_name: "Contoso".into(),
                ms_tenant_id: TENANT_A.into(),
                script_parameters: Default::default(),
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Validation { fields, .. } if fields.contains_key("CustomerShortName")),
            "{bad}: {err:?}"
        );
    }
    // No lead for tenant B.
    let err = env
        .client
        .create_customer(&CreateCustomer {
            configuration: ConfigurationType::IpGroupType,
            customer_short_name: "fabrikam".into(),
            customer_full_name: "Fabrikam".into(),
            ms_tenant_id: TENANT_B.into(),
            script_parameters: Default::default(),
        })
        .await
        .unwrap_err();
    assert_says(&err, "create the consentless lead first");
}

#[tokio::test]
async fn a_failed_create_task_leaves_the_lead_free_for_a_retry() {
    let env = Env::start().await;
    env.lead(TENANT_A, "Contoso").await;
    env.set_faults(json!({"failNextTasks": 1})).await;
    let request = CreateCustomer {
        configuration: ConfigurationType::TenantType,
        customer_short_name: "contoso".into(),
        customer_full_name: "Contoso".into(),
        ms_tenant_id: TENANT_A.into(),
        script_parameters: Default::default(),
    };
    let task = env.client.create_customer(&request).await.unwrap();
    assert!(task.0.starts_with("wst_"));
    let TaskOutcome::Failed(failed) = env.finish(&task).await else {
        panic!("expected a failed task")
    };
    assert!(
        failed.error_summary().contains("onboarding script"),
        "{}",
        failed.error_summary()
    );
    assert!(env.client.list_services(false).await.unwrap().is_empty());
    let task = env.client.create_customer(&request).await.unwrap();
    assert!(matches!(env.finish(&task).await, TaskOutcome::Succeeded(_)));
}
