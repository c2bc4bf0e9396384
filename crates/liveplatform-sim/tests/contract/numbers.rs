use liveplatform::TaskOutcome;
use liveplatform::model::{
    Capability, NumberRange, NumbersQuery, ReleaseNumbers, UnassignNumbers, UploadNumbers, Usage,
    ValidateNumbers,
};
use serde_json::json;

use crate::support::*;

fn upload(numbers: &[&str]) -> UploadNumbers {
    let mut body = UploadNumbers::new(
        PROFILE_US,
        Usage::CallingUserAssignment,
        numbers.iter().map(|n| n.to_string()).collect(),
    );
    body.capabilities = vec![
        Capability::InboundCalling,
        Capability::OutboundCalling,
        Capability::UserAssignment,
    ];
    body
}

#[tokio::test]
async fn calling_profiles_and_sbc_mapping() {
    let env = Env::start().await;
    let profiles = env.client.calling_profiles().await.unwrap();
    let us = profiles
        .iter()
        .find(|p| p.calling_profile_id == PROFILE_US)
        .expect("US profile");
    assert_eq!(us.enviroment.as_deref(), Some("Production"));
    let sbcs: Vec<_> = us
        .trunks_enrolled
        .iter()
        .flat_map(|t| &t.matching_sbc_list)
        .filter_map(|s| s.sbc_id.clone())
        .collect();
    assert_eq!(sbcs, vec!["11", "12"]);
    let mapping = env.client.sbc_mapping().await.unwrap();
    let row = mapping
        .iter()
        .find(|m| m.calling_profile_id == PROFILE_US)
        .expect("mapping");
    assert_eq!(row.sbcs.len(), 2);
}

#[tokio::test]
async fn validate_upload_list_and_release() {
    let env = Env::start().await;
    env.customer(TENANT_A, "contoso").await;
    let numbers = ["+14255550100", "+14255550101", "+14255550102"];

    let check = env
        .client
        .validate_numbers(&ValidateNumbers {
            telephone_numbers: numbers.iter().map(|n| n.to_string()).collect(),
            ms_tenant_id: TENANT_A.into(),
        })
        .await
        .unwrap();
    assert_eq!(check.validation_result, "Success");
    assert!(
        check.telephone_numbers.iter().all(|n| !n
            .telphone_number_detail
            .as_ref()
            .unwrap()
            .number_found)
    );

    let task = env
        .client
        .upload_numbers(TENANT_A, &upload(&numbers))
        .await
        .unwrap();
    assert!(task.0.starts_with("tsk_msjob_"), "{task}");
    // While the task runs, the numbers are listed with the task that brings them.
    let pending = env.client.numbers_v2(TENANT_A).await.unwrap();
    assert!(
        pending
            .iter()
            .all(|n| n.upload_to_account_job_id.as_deref() == Some(task.0.as_str()))
    );
    let TaskOutcome::Succeeded(done) = env.finish(&task).await else {
        panic!("upload")
    };
    assert_eq!(done.output_data["numbers_uploaded"], 3);
    assert_eq!(done.number_outcomes().len(), 3);

    let listed = env.client.numbers_v2(TENANT_A).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|n| n.is_active() && !n.is_assigned()));
    assert_eq!(listed[0].iso_country_code.as_deref(), Some("US"));

    let page = env
        .client
        .numbers_v3(
            TENANT_A,
            &NumbersQuery {
                page_number: Some(2),
                page_size: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (page.total_records, page.total_pages, page.data.len()),
        (3, 2, 1)
    );
    assert!(page.data[0].ump_customer_guid.is_some());
    assert_eq!(env.client.all_numbers(TENANT_A, 2).await.unwrap().len(), 3);
    let active = env
        .client
        .numbers_v3(
            TENANT_A,
            &NumbersQuery {
                acquired_number_status: Some("Active".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(active.total_records, 3);

    let validated = env
        .client
        .validate_numbers(&ValidateNumbers {
            telephone_numbers: vec![numbers[0].into()],
            ms_tenant_id: TENANT_A.into(),
        })
        .await
        .unwrap();
    assert!(
        validated.telephone_numbers[0]
            .telphone_number_detail
            .as_ref()
            .unwrap()
            .number_found
    );

    let release = env
        .client
        .release_numbers(TENANT_A, &ReleaseNumbers::Numbers(vec![numbers[0].into()]))
        .await
        .unwrap();
    let during = env.client.numbers_v2(TENANT_A).await.unwrap();
    assert_eq!(
        during
            .iter()
            .find(|n| n.telephone_number == numbers[0])
            .unwrap()
            .acquired_number_status,
        "Release Requested"
    );
    let TaskOutcome::Succeeded(released) = env.finish(&release).await else {
        panic!("release")
    };
    assert_eq!(released.output_data["ms_release_job_status"], "Completed");
    let ranges = ReleaseNumbers::Ranges(vec![NumberRange {
        start: numbers[1].into(),
        end: numbers[2].into(),
    }]);
    let release = env.client.release_numbers(TENANT_A, &ranges).await.unwrap();
    assert!(matches!(
        env.finish(&release).await,
        TaskOutcome::Succeeded(_)
    ));
    assert!(env.client.numbers_v2(TENANT_A).await.unwrap().is_empty());
}

#[tokio::test]
async fn partly_failed_upload_names_each_failed_number_and_its_reason() {
    let env = Env::start().await;
    env.customer(TENANT_A, "contoso").await;
    env.set_faults(json!({"numberFailures": {"+14255550201": "unable_to_retrieve_location"}}))
        .await;
    let task = env
        .client
        .upload_numbers(
            TENANT_A,
            &upload(&["+14255550200", "+14255550201", "+99955550202"]),
        )
        .await
        .unwrap();
    let TaskOutcome::PartlyFailed { task: done, failed } = env.finish(&task).await else {
        panic!("expected a partial failure")
    };
    let mut reasons: Vec<(String, Option<String>)> = failed
        .into_iter()
        .map(|f| (f.telephone_number, f.error_code))
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            (
                "+14255550201".into(),
                Some("unable_to_retrieve_location".into())
            ),
            ("+99955550202".into(), Some("unknown_country_code".into())),
        ]
    );
    assert_eq!(done.output_data["numbers_uploaded"], 1);
    let listed = env.client.numbers_v2(TENANT_A).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|n| n.telephone_number.as_str())
            .collect::<Vec<_>>(),
        vec!["+14255550200"]
    );
}

#[tokio::test]
async fn another_tenants_number_fails_as_in_use() {
    let env = Env::start().await;
    env.customer(TENANT_A, "contoso").await;
    env.customer(TENANT_B, "fabrikam").await;
    let t = env
        .client
        .upload_numbers(TENANT_A, &upload(&["+14255550300"]))
        .await
        .unwrap();
    env.finish(&t).await;
    let t = env
        .client
        .upload_numbers(TENANT_B, &upload(&["+14255550300"]))
        .await
        .unwrap();
    let TaskOutcome::Failed(task) = env.finish(&t).await else {
        panic!("expected failure")
    };
    assert_eq!(
        task.number_outcomes()[0].error_code.as_deref(),
        Some("number_in_use")
    );
    assert_eq!(env.client.numbers_v2(TENANT_A).await.unwrap().len(), 1);
}

#[tokio::test]
async fn numbers_in_a_running_task_are_refused() {
    let env = Env::start().await;
    env.customer(TENANT_A, "contoso").await;
    let t = env
        .client
        .upload_numbers(TENANT_A, &upload(&["+14255550400"]))
        .await
        .unwrap();
    let err = env
        .client
        .upload_numbers(TENANT_A, &upload(&["+14255550400"]))
        .await
        .unwrap_err();
    assert_says(&err, "another running operation");
    env.finish(&t).await;
    // Once uploaded, a second upload is refused as already acquired.
    let err = env
        .client
        .upload_numbers(TENANT_A, &upload(&["+14255550400"]))
        .await
        .unwrap_err();
    assert_says(&err, "already acquired");
}

#[tokio::test]
async fn assigned_numbers_must_be_unassigned_before_release() {
    let env = Env::start().await;
    env.customer(TENANT_A, "contoso").await;
    let t = env
        .client
        .upload_numbers(TENANT_A, &upload(&["+14255550500"]))
        .await
        .unwrap();
    env.finish(&t).await;
    env.admin_put(
        "/numbers/+14255550500/assignment",
        json!({"assignmentStatus": "UserAssigned"}),
    )
    .await;
    let err = env
        .client
        .release_numbers(
            TENANT_A,
            &ReleaseNumbers::Numbers(vec!["+14255550500".into()]),
        )
        .await
        .unwrap_err();
    assert_says(&err, "unassign it before release");
    let t = env
        .client
        .unassign_numbers(
            TENANT_A,
            &UnassignNumbers {
                telephone_numbers: vec!["+14255550500".into()],
            },
        )
        .await
        .unwrap();
    assert!(matches!(env.finish(&t).await, TaskOutcome::Succeeded(_)));
    assert!(!env.client.numbers_v2(TENANT_A).await.unwrap()[0].is_assigned());
    let t = env
        .client
        .release_numbers(
            TENANT_A,
            &ReleaseNumbers::Numbers(vec!["+14255550500".into()]),
        )
        .await
        .unwrap();
    assert!(matches!(env.finish(&t).await, TaskOutcome::Succeeded(_)));
}

#[tokio::test]
async fn request_size_and_format_limits() {
    let env = Env::start().await;
    env.customer(TENANT_A, "contoso").await;
    let many: Vec<String> = (0..1001).map(|i| format!("+1425556{i:04}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let err = env
        .client
        .upload_numbers(TENANT_A, &upload(&refs))
        .await
        .unwrap_err();
    assert_says(&err, "At most 1000 numbers");
    let err = env
        .client
        .upload_numbers(TENANT_A, &upload(&["4255550100"]))
        .await
        .unwrap_err();
    assert_invalid(&err, "PhoneNumbersList");
    // Exactly 1000 is fine.
    let t = env
        .client
        .upload_numbers(TENANT_A, &upload(&refs[..1000]))
        .await
        .unwrap();
    let TaskOutcome::Succeeded(_) = env.finish(&t).await else {
        panic!("1000 numbers")
    };
    assert_eq!(
        env.client.all_numbers(TENANT_A, 300).await.unwrap().len(),
        1000
    );
}

#[tokio::test]
async fn numbers_need_a_customer_and_a_known_profile() {
    let env = Env::start().await;
    env.lead(TENANT_A, "Contoso").await;
    let err = env
        .client
        .upload_numbers(TENANT_A, &upload(&["+14255550600"]))
        .await
        .unwrap_err();
    assert_says(&err, "No customer exists");
    env.client.delete_lead(TENANT_A).await.unwrap();
    env.customer(TENANT_A, "contoso").await;
    let mut body = upload(&["+14255550600"]);
    body.calling_profile = "00000000-0000-4000-8000-000000000000".into();
    let err = env
        .client
        .upload_numbers(TENANT_A, &body)
        .await
        .unwrap_err();
    assert_invalid(&err, "CallingProfile");
}

#[tokio::test]
async fn a_failed_release_task_puts_the_numbers_back() {
    let env = Env::start().await;
    env.customer(TENANT_A, "contoso").await;
    let t = env
        .client
        .upload_numbers(TENANT_A, &upload(&["+14255550700"]))
        .await
        .unwrap();
    env.finish(&t).await;
    env.set_faults(json!({"failNextTasks": 1})).await;
    let t = env
        .client
        .release_numbers(
            TENANT_A,
            &ReleaseNumbers::Numbers(vec!["+14255550700".into()]),
        )
        .await
        .unwrap();
    let TaskOutcome::Failed(task) = env.finish(&t).await else {
        panic!("expected failure")
    };
    assert_eq!(task.output_data["ms_release_job_status"], "Failed");
    assert!(env.client.numbers_v2(TENANT_A).await.unwrap()[0].is_active());
}
