//! A kube-runtime watcher sees objects of our kinds come and change.

use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use oc_operator::api::common::{LocalObjectRef, PlatformRef};
use oc_operator::api::customer::{License, LicenseType};
use oc_operator::api::{OCCustomer, OCCustomerSpec};

use crate::support::*;

#[tokio::test]
async fn a_watcher_sees_a_created_customer() {
    let ns = namespace("watch");
    let client = client().await;
    let api: Api<OCCustomer> = Api::namespaced(client, &ns);
    let mut events = watcher(api.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();

    let spec = OCCustomerSpec {
        platform_ref: PlatformRef {
            name: "sandbox".into(),
        },
        tenant_id: "3e0b9f4d-5c6a-4b8e-9d2f-4a5b6c7d8e9f".into(),
        company_name: "Northwind".into(),
        channel_id: None,
        short_name: "northwind".into(),
        full_name: "Northwind Traders".into(),
        configuration_type: Default::default(),
        script_parameters: Default::default(),
        license: License {
            type_: LicenseType::OcPro,
            count: Some(3),
        },
        deletion_policy: Default::default(),
        management_policy: Default::default(),
    };
    let _ = LocalObjectRef::default();
    let created = api
        .create(&PostParams::default(), &OCCustomer::new("northwind", spec))
        .await
        .unwrap();
    assert_eq!(created.spec.license.type_, LicenseType::OcPro);

    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = events.next().await {
            if let Ok(customer) = event
                && customer.metadata.name.as_deref() == Some("northwind")
            {
                return customer;
            }
        }
        panic!("watch ended");
    })
    .await
    .expect("the watcher saw the customer within 20 s");
    assert_eq!(seen.spec.tenant_id, "3e0b9f4d-5c6a-4b8e-9d2f-4a5b6c7d8e9f");
    assert_eq!(seen.metadata.uid, created.metadata.uid);
}
