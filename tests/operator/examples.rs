//! The whole customer of `examples/` becomes Ready against the simulator, then is
//! deleted with nothing left on the platform.

use oc_operator::api::{OCCustomer, OCDialPlan, OCEndUser, OCNumberBlock, OCSipConnection};

use crate::support::*;

#[tokio::test]
async fn the_examples_customer_becomes_ready_and_is_deleted_cleanly() {
    let mut world = World::new("examples").await;
    world.apply_examples().await;
    world.start().await;
    world.ready::<OCCustomer>("contoso", 90).await;
    for block in ["contoso-users", "contoso-conferencing"] {
        world.ready::<OCNumberBlock>(block, 90).await;
    }
    world.ready::<OCSipConnection>("redmond", 90).await;
    world.ready::<OCDialPlan>("contoso-redmond", 90).await;
    for user in ["adele-vance", "alex-wilber"] {
        world.ready::<OCEndUser>(user, 90).await;
    }
    let state = world.admin.state().await.unwrap();
    assert_eq!(state["numbers"].as_object().unwrap().len(), 53);
    assert_eq!(state["users"].as_object().unwrap().len(), 2);

    world.delete::<OCCustomer>("contoso").await;
    world.wait_gone::<OCCustomer>("contoso", 120).await;
    let state = world.admin.state().await.unwrap();
    for area in [
        "leads",
        "customers",
        "numbers",
        "sites",
        "dialPlans",
        "users",
    ] {
        assert!(
            state[area].as_object().unwrap().is_empty(),
            "{area} left on the platform: {}",
            state[area]
        );
    }
    assert!(state["busyNumbers"].as_object().unwrap().is_empty());
}
