use liveplatform::model::{AssignChannel, CreateChannel, LeadQuery, LeadRef};
use liveplatform::{Error, LivePlatformClient};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn lead_lifecycle_create_get_list_delete() {
    let env = Env::start().await;
    let created = env
        .try_lead(TENANT_A, "Contoso")
        .await
        .unwrap()
        .expect("the lead in the answer");
    assert_eq!(created.tenant_id, TENANT_A);
    assert!(created.is_direct_lead && created.is_active());
    assert_eq!(
        created
            .contact_details
            .and_then(|c| c.company_name)
            .as_deref(),
        Some("Contoso")
    );

    let lead = env.client.get_lead(TENANT_A).await.unwrap().expect("lead");
    assert_eq!(lead.id, created.id);
    assert_eq!(lead.ump_customer_guid, None);
    assert_eq!(env.client.get_lead(TENANT_B).await.unwrap(), None);

    env.lead(TENANT_B, "Fabrikam").await;
    // The simulator answers Get All doubly wrapped, as the manual shows.
    let all = env.client.list_leads(&LeadQuery::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    let page = env
        .client
        .list_leads(&LeadQuery {
            page_number: Some(2),
            page_size: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_ne!(page[0].tenant_id, all[0].tenant_id);

    env.client.delete_lead(TENANT_A).await.unwrap();
    assert_eq!(env.client.get_lead(TENANT_A).await.unwrap(), None);
}

#[tokio::test]
async fn duplicate_lead_is_a_validation_error_with_field_messages() {
    let env = Env::start().await;
    env.lead(TENANT_A, "Contoso").await;
    let err = env.try_lead(TENANT_A, "Contoso").await.unwrap_err();
    let Error::Validation { fields, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        fields["TenantId"],
        vec!["This MsTenant already exists as an UMP lead!"]
    );
    assert_eq!(
        fields["CompanyName"],
        vec!["Company name is already used for an UMP lead."]
    );
    assert_says(&err, "Create Consentless Lead");
}

#[tokio::test]
async fn unknown_tenant_cannot_become_a_lead() {
    let env = Env::start().await;
    let err = env.try_lead(UNKNOWN_TENANT, "Nobody").await.unwrap_err();
    assert_invalid(&err, "TenantId");
}

#[tokio::test]
async fn deleting_a_missing_lead_is_not_found_with_the_bare_string() {
    let env = Env::start().await;
    let err = env.client.delete_lead(TENANT_C).await.unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { detail, .. } if detail == "Invalild lead"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_licensed_lead_cannot_be_deleted_before_its_service() {
    let env = Env::start().await;
    let customer = env.customer(TENANT_A, "contoso").await;
    let err = env.client.delete_lead(TENANT_A).await.unwrap_err();
    assert!(
        matches!(err, Error::Rejected { status: 400, .. }),
        "{err:?}"
    );
    env.client.delete_service(&customer).await.unwrap();
    env.client.delete_lead(TENANT_A).await.unwrap();
}

#[tokio::test]
async fn channel_assign_move_and_remove() {
    let env = Env::start().await;
    env.lead(TENANT_A, "Contoso").await;
    let answer = env
        .client
        .assign_channel(&AssignChannel {
            lead: LeadRef::MsTenantId(TENANT_A.into()),
            channel_id: 1574,
        })
        .await
        .unwrap();
    assert!(answer.succeeded);
    assert_eq!(
        answer.message.as_deref(),
        Some("Lead successfully assigned to the channel")
    );
    let lead = env.client.get_lead(TENANT_A).await.unwrap().unwrap();
    assert_eq!(lead.channel_id, Some(1574));

    // Move by lead id.
    env.client
        .assign_channel(&AssignChannel {
            lead: LeadRef::LeadId(lead.id.clone()),
            channel_id: 1575,
        })
        .await
        .unwrap();
    assert_eq!(env.channel_of(TENANT_A).await, Some(1575));

    let removed = env.client.remove_channel(TENANT_A).await.unwrap();
    assert!(removed.status);
    assert_eq!(removed.data.as_deref(), Some("Removed channel 1575"));
    assert_eq!(env.channel_of(TENANT_A).await, None);
}

#[tokio::test]
async fn channel_rules_lead_must_be_active_and_channel_must_exist() {
    let env = Env::start().await;
    env.lead(TENANT_A, "Contoso").await;
    let err = env
        .client
        .assign_channel(&AssignChannel {
            lead: LeadRef::MsTenantId(TENANT_A.into()),
            channel_id: 999_999,
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "ChannelId");
    env.admin_put(
        &format!("/leads/{TENANT_A}/status"),
        json!({"status": "Suspended"}),
    )
    .await;
    let err = env
        .client
        .assign_channel(&AssignChannel {
            lead: LeadRef::MsTenantId(TENANT_A.into()),
            channel_id: 1574,
        })
        .await
        .unwrap_err();
    assert_says(&err, "only an Active lead");
}

#[tokio::test]
async fn channels_can_be_created_and_read() {
    let env = Env::start().await;
    let created = env
        .client
        .create_channel(&CreateChannel {
            name: "Partner East".into(),
            tenant_id: 9,
            ms_tenant_id: TENANT_B.into(),
        })
        .await
        .unwrap();
    let id = created.id.expect("id");
    assert_eq!(
        created.url.as_deref(),
        Some(format!("ovoc/v1/topology/channels/{id}").as_str())
    );
    let channel = env.client.get_channel(id).await.unwrap();
    assert_eq!(channel.name.as_deref(), Some("Partner East"));
    assert!(matches!(
        env.client.get_channel(424242).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn the_channel_header_restricts_what_a_client_sees() {
    let env = Env::start().await;
    env.lead(TENANT_A, "Contoso").await;
    env.lead(TENANT_B, "Fabrikam").await;
    env.client
        .assign_channel(&AssignChannel {
            lead: LeadRef::MsTenantId(TENANT_A.into()),
            channel_id: 1574,
        })
        .await
        .unwrap();
    let mut config = config_for(&env.sim);
    config.channel_id = Some(1574);
    let scoped = LivePlatformClient::new(config).unwrap();
    let leads = scoped.list_leads(&LeadQuery::default()).await.unwrap();
    assert_eq!(
        leads
            .iter()
            .map(|l| l.tenant_id.as_str())
            .collect::<Vec<_>>(),
        vec![TENANT_A]
    );
    assert_eq!(scoped.get_lead(TENANT_B).await.unwrap(), None);
}

#[tokio::test]
async fn the_journal_records_each_request_once_started() {
    let env = Env::start().await;
    env.client.get_lead(TENANT_A).await.unwrap();
    env.admin().start_journal().await.unwrap();
    let before = jiff::Timestamp::now().as_microsecond();
    env.client.get_lead(TENANT_B).await.unwrap();
    let journal = env.admin().journal().await.unwrap();
    let entries = journal.as_array().expect("an array");
    // The earlier request came before the journal was started.
    assert_eq!(entries.len(), 1, "{journal}");
    assert_eq!(entries[0]["endpoint"], "GET /v2/oc/lead");
    let uri = entries[0]["uri"].as_str().unwrap();
    assert!(uri.contains(TENANT_B), "{uri}");
    assert!(entries[0]["atMicros"].as_i64().unwrap() >= before);
}
