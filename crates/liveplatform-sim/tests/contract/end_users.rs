use liveplatform::model::ProvisionEndUser;
use liveplatform::{Error, TaskOutcome};

use crate::support::*;

fn settings(line: &str) -> ProvisionEndUser {
    ProvisionEndUser {
        first_name: Some("Adele".into()),
        last_name: Some("Vance".into()),
        city: Some("Redmond".into()),
        usage_location: Some("US".into()),
        enterprise_voice_enabled: Some(true),
        teams_calling_policy: Some("AllowCalling".into()),
        online_voice_routing_policy: Some("OC-US".into()),
        line_uri: Some(line.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn end_users_need_essentials_plus_or_pro() {
    let env = Env::start().await;
    let customer = env.customer(TENANT_A, "contoso").await;
    let err = env
        .client
        .list_end_users(&customer, 1, 10)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LicenseRequired { .. }), "{err:?}");
    let err = env
        .client
        .provision_end_user(
            &customer,
            "adele@contoso.com",
            &settings("tel:+14255550800"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::LicenseRequired { detail, .. } if detail.contains("Upgrade the licence")),
        "{err:?}"
    );
}

#[tokio::test]
async fn provision_then_list_and_the_number_becomes_assigned() {
    let env = Env::start().await;
    let customer = env.customer(TENANT_A, "contoso").await;
    env.upgrade(&customer, 4, 5).await;
    env.uploaded(TENANT_A, "+14255550800").await;

    let t = env
        .client
        .provision_end_user(
            &customer,
            "adele@contoso.com",
            &settings("tel:+14255550800"),
        )
        .await
        .unwrap();
    assert!(matches!(env.finish(&t).await, TaskOutcome::Succeeded(_)));
    let page = env.client.list_end_users(&customer, 1, 10).await.unwrap();
    assert_eq!(page.total_records, 1);
    let user = &page.data[0];
    assert_eq!(user.line_uri.as_deref(), Some("tel:+14255550800"));
    assert_eq!(user.sip_address.as_deref(), Some("sip:adele@contoso.com"));
    assert!(user.enterprise_voice_enabled);
    assert_eq!(user.online_voice_routing_policy.as_deref(), Some("OC-US"));
    assert!(env.client.numbers_v2(TENANT_A).await.unwrap()[0].is_assigned());

    // Paging bounds are the platform's: 2..10000.
    let err = env
        .client
        .list_end_users(&customer, 1, 1)
        .await
        .unwrap_err();
    assert_invalid(&err, "PageSize");
}

#[tokio::test]
async fn a_line_uri_outside_the_customer_fails_the_task() {
    let env = Env::start().await;
    let customer = env.customer(TENANT_A, "contoso").await;
    env.upgrade(&customer, 5, 5).await;
    let t = env
        .client
        .provision_end_user(&customer, "bob@contoso.com", &settings("tel:+14255550899"))
        .await
        .unwrap();
    let TaskOutcome::Failed(task) = env.finish(&t).await else {
        panic!("expected failure")
    };
    assert!(
        task.error_summary().contains("upload it first"),
        "{}",
        task.error_summary()
    );
    let err = env
        .client
        .provision_end_user(&customer, "bob@contoso.com", &settings("+14255550899"))
        .await
        .unwrap_err();
    assert_invalid(&err, "LineURI");
}
