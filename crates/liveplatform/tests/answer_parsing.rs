//! Malformed and truncated answers fed to the client's parsing: errors, never panics.

use liveplatform::Action;
use liveplatform::TaskOutcome;
use liveplatform::answer::{
    classify, decode, decode_leads, decode_list, decode_task_id, parse_body, retry_after,
};
use liveplatform::model::*;
use proptest::prelude::*;
use serde_json::Value;

/// Real answers of every area, whose prefixes make truncated JSON.
const SAMPLES: &[&str] = &[
    r#"[[{"id":"1","tenantId":"0b7e6c1a-2f3d-4e5b-8a9c-1d2e3f4a5b6c","isDirectLead":true,"status":"Active","channelId":"1574","contactDetails":{"companyName":"C"}}]]"#,
    r#"{"jobId":"wst_5b0e"}"#,
    r#""tsk_1234""#,
    r#"{"id":"tsk_msjob_1","status":"CompletedWithErrors","executionMessages":[{"level":"Error","message":"x"}],"outputData":{"NumbersUploaded":1,"OcUploadNumberResult":[{"telephoneNumber":"+1","status":"Failed","errorCode":"number_in_use"}]},"totalNumbersCount":"2"}"#,
    r#"[{"UmpCustomerGuid":"g","CustomerShortName":"s","LicenseType":4,"SiteLocation":[{"id":"a","sbcDeploymentState":3}]}]"#,
    r#"{"currentPage":1,"pageSize":200,"totalPages":1,"totalRecords":1,"data":[{"telephoneNumber":"+14255550100","acquiredNumberStatus":"Active","sbcList":[{"sbcId":11}]}]}"#,
    r#"{"type":"https://tools.ietf.org/html/rfc7231#section-6.5.1","title":"One or more validation errors occurred.","status":400,"errors":{"TenantId":["dup"]}}"#,
    r#"{"status":403,"title":"Forbidden","detail":"no","errorCode":"LicenseRequired"}"#,
    r#"[{"dialPlanId":"CustDialPlan","ruleDTO":[{"name":"a","prefix":"+1","tag":"t"}]}]"#,
    r#"{"tenantId":"t","siteName":"s","m365DeploymentState":3,"sbcInfo":{"sbcId":"11","sbcScripts":{"customerVariables":{"A":"b"}}}}"#,
    r#"{"status":true,"msg":"queued","sbcCleanupTaskId":"tsk_9","o365CleanupTask":"tsk_0"}"#,
];

const STATUSES: &[u16] = &[
    200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 429, 500, 502, 503, 504, 599, 302, 100,
];

/// Runs every decoder the client has over one answer; only the absence of panics
/// matters here.
fn exercise(action: Action, status: u16, header: Option<&str>, body: &[u8]) {
    let _ = parse_body(body);
    let _ = retry_after(header);
    let Ok(value) = classify(action, status, header, body) else {
        return;
    };
    let _ = decode_leads(action, value.clone());
    let _ = decode_task_id(action, value.clone());
    let _ = decode::<Lead>(action, value.clone());
    let _ = decode_list::<Service>(action, value.clone());
    let _ = decode::<CustomerDetails>(action, value.clone());
    let _ = decode_list::<CustomerBrief>(action, value.clone());
    let _ = decode_list::<LicenseInfo>(action, value.clone());
    let _ = decode_list::<CallingProfile>(action, value.clone());
    let _ = decode_list::<SbcMapping>(action, value.clone());
    let _ = decode::<NumberValidation>(action, value.clone());
    let _ = decode_list::<NumberRecord>(action, value.clone());
    let _ = decode::<Page<NumberRecord>>(action, value.clone());
    let _ = decode::<Page<EndUser>>(action, value.clone());
    let _ = decode::<SipConnection>(action, value.clone());
    let _ = decode::<SipConnectionAdded>(action, value.clone());
    let _ = decode::<SipConnectionDeleted>(action, value.clone());
    let _ = decode::<ChannelAssigned>(action, value.clone());
    let _ = decode::<ChannelRemoved>(action, value.clone());
    let _ = decode_list::<DialPlan>(action, value.clone());
    if let Ok(task) = decode::<Task>(action, value) {
        let _ = task.number_outcomes();
        let _ = task.error_summary();
        let _ = TaskOutcome::of(task);
    }
}

fn action() -> impl Strategy<Value = Action> {
    proptest::sample::select(Action::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(
        action in action(),
        status in proptest::sample::select(STATUSES.to_vec()),
        header in proptest::option::of("[ -~]{0,12}"),
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        exercise(action, status, header.as_deref(), &body);
    }

    #[test]
    fn truncated_answers_never_panic(
        action in action(),
        status in proptest::sample::select(STATUSES.to_vec()),
        sample in proptest::sample::select(SAMPLES.to_vec()),
        cut in any::<proptest::sample::Index>(),
    ) {
        let end = cut.index(sample.len() + 1);
        exercise(action, status, Some("2"), &sample.as_bytes()[..end]);
    }

    #[test]
    fn arbitrary_json_values_never_panic(
        action in action(),
        value in arb_json(),
    ) {
        exercise(action, 200, None, value.to_string().as_bytes());
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let key = proptest::sample::select(vec![
        "id",
        "status",
        "tenantId",
        "data",
        "outputData",
        "OcUploadNumberResult",
        "taskId",
        "jobId",
        "errors",
        "ruleDTO",
        "sbcInfo",
        "telephoneNumber",
        "LicenseType",
        "totalPages",
        "SiteLocation",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[ -~]{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

#[test]
fn the_samples_themselves_decode() {
    let leads = decode_leads(
        Action::ListLeads,
        classify(Action::ListLeads, 200, None, SAMPLES[0].as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(leads[0].channel_id, Some(1574));
    let task: Task = decode(
        Action::GetTask,
        classify(Action::GetTask, 200, None, SAMPLES[3].as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(task.total_numbers_count, Some(2));
    assert!(
        matches!(TaskOutcome::of(task), TaskOutcome::PartlyFailed { failed, .. } if failed[0].error_code.as_deref() == Some("number_in_use"))
    );
    let services: Vec<Service> = decode_list(
        Action::ListServices,
        classify(Action::ListServices, 200, None, SAMPLES[4].as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(services[0].site_location[0].sbc_deployment_state, Some(3));
    let page: Page<NumberRecord> =
        decode(Action::ListNumbersV3, parse_body(SAMPLES[5].as_bytes())).unwrap();
    assert_eq!(page.data[0].sbc_list[0].sbc_id.as_deref(), Some("11"));
}
