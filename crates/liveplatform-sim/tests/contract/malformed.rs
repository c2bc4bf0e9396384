//! However malformed, every request gets one of the documented error shapes: a
//! ValidationProblemDetails, a ProblemDetails, a bare JSON string or an empty 401.

use serde_json::Value;

use crate::support::*;

async fn token(env: &Env) -> String {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", liveplatform_sim::seed::SANDBOX_CLIENT_ID),
        (
            "client_secret",
            liveplatform_sim::seed::SANDBOX_CLIENT_SECRET,
        ),
        ("scope", liveplatform::contract::SCOPE),
    ];
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let answer: Value = env
        .raw()
        .post(format!(
            "{}{}/oauth2/v2.0/token",
            env.sim.identity_base(),
            liveplatform_sim::seed::SANDBOX_SP_TENANT
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

fn documented_shape(status: u16, body: &str) -> bool {
    if status == 401 {
        return body.is_empty();
    }
    match serde_json::from_str::<Value>(body) {
        Ok(Value::String(_)) => true,
        Ok(Value::Object(o)) => {
            o.contains_key("title")
                && o.get("status").and_then(Value::as_u64) == Some(status as u64)
        }
        _ => false,
    }
}

#[tokio::test]
async fn malformed_requests_get_documented_error_shapes() {
    let env = Env::start().await;
    let customer = env.customer(TENANT_A, "contoso").await;
    let token = token(&env).await;
    let g = customer.as_str();
    let routes: Vec<(&str, String)> = vec![
        ("POST", "/v2/oc/lead".into()),
        ("GET", "/v2/oc/lead?msTenantId=not-a-guid".into()),
        ("GET", "/v2/oc/lead?PageSize=abc".into()),
        ("DELETE", "/v2/oc/lead".into()),
        ("PUT", "/v3/ovoc/channel/action/assign".into()),
        ("PUT", "/v3/ovoc/channel/action/remove/?msTenantId=".into()),
        ("POST", "/ovoc/v1/topology/channels/".into()),
        ("GET", "/ovoc/v1/topology/channels/abc".into()),
        ("POST", "/v3/customer".into()),
        ("GET", "/v3/customer?allDetails=maybe".into()),
        ("POST", format!("/v2/customer/{g}/action/upgrade")),
        ("PATCH", format!("/v3/customer/{g}")),
        ("GET", format!("/v3/customer/{g}/licenseinfo?nrOfMonths=-4")),
        ("GET", "/v3/customer/nope".into()),
        ("DELETE", "/v2/customer/nope".into()),
        ("POST", "/v2/oc/numbers/action/number-status".into()),
        ("POST", "/v2/oc/numbers/action/upload".into()),
        (
            "POST",
            format!("/v2/oc/numbers/action/upload?msTenantId={TENANT_A}"),
        ),
        (
            "POST",
            format!("/v2/oc/numbers/action/release?msTenantId={TENANT_A}"),
        ),
        (
            "POST",
            format!("/v2/oc/numbers/action/unassign?msTenantId={TENANT_A}"),
        ),
        ("GET", "/v2/oc/numbers".into()),
        (
            "GET",
            format!("/v3/oc/numbers?msTenantId={TENANT_A}&PageNumber=0"),
        ),
        ("POST", format!("/v2/customer/{g}/sitelocation/")),
        ("PATCH", format!("/v2/customer/{g}/sitelocation/")),
        ("GET", "/v2/sitelocation/nope".into()),
        ("DELETE", "/v2/sitelocation/nope".into()),
        ("GET", format!("/v3/customer/{g}/user?PageSize=x")),
        (
            "PUT",
            format!("/v2/customer/{g}/user/not-an-address/script"),
        ),
        (
            "GET",
            format!("/v2/customer/{g}/sitelocation/{g}/dialplan/bad%20id"),
        ),
        (
            "PATCH",
            format!("/v2/customer/{g}/sitelocation/{g}/dialplan/CustDialPlan"),
        ),
        (
            "DELETE",
            format!("/v2/customer/{g}/sitelocation/{g}/dialplan/Nothing"),
        ),
        ("GET", "/v2/task/tsk_does_not_exist".into()),
        ("GET", "/v9/unknown/path".into()),
        ("PATCH", "/v2/oc/callingprofile".into()),
    ];
    let bodies: [&[u8]; 6] = [
        b"",
        b"{",
        b"[1,2,3]",
        b"\"text\"",
        b"{\"tenantId\": 5, \"phoneNumbersList\": \"x\"}",
        &[0xff, 0xfe, 0x00, 0x7b],
    ];
    let base = env.sim.base_url().to_string();
    for (method, path) in &routes {
        for body in bodies {
            let request = env
                .raw()
                .request(method.parse().unwrap(), format!("{base}{path}"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.to_vec());
            let response = tokio::time::timeout(std::time::Duration::from_secs(5), request.send())
                .await
                .unwrap_or_else(|_| panic!("{method} {path} hung"))
                .unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert!(
                (400..500).contains(&status),
                "{method} {path} {body:?}: {status} {text}"
            );
            assert!(
                documented_shape(status, &text),
                "{method} {path} {body:?}: {status} {text}"
            );
        }
    }
    // A huge body is refused in the same shapes, and the server still answers.
    let huge = vec![b'{'; 3 * 1024 * 1024];
    let response = env
        .raw()
        .post(format!("{base}/v2/oc/lead"))
        .bearer_auth(&token)
        .body(huge)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert!(
        documented_shape(status, &response.text().await.unwrap()),
        "{status}"
    );
    env.client.calling_profiles().await.unwrap();
}

#[tokio::test]
async fn no_token_or_a_bad_token_is_an_empty_401() {
    let env = Env::start().await;
    let url = format!("{}/v2/oc/callingprofile", env.sim.base_url());
    for auth in [
        None,
        Some("Bearer nonsense"),
        Some("Basic abc"),
        Some("Bearer"),
    ] {
        let mut request = env.raw().get(&url);
        if let Some(a) = auth {
            request = request.header("authorization", a);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{auth:?}");
        assert!(response.text().await.unwrap().is_empty());
    }
}
