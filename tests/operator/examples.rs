//! The whole customer of `examples/` becomes Ready against the simulator, then is
//! deleted with nothing left on the platform.

use crate::support::*;

#[tokio::test]
async fn the_examples_customer_becomes_ready_and_is_deleted_cleanly() {
    let mut world = World::new("examples").await;
    world.apply_examples().await;
    world.start().await;
    world.examples_ready().await;
    let state = world.admin.state().await.unwrap();
    assert_eq!(state["numbers"].as_object().unwrap().len(), 53);
    assert_eq!(state["users"].as_object().unwrap().len(), 2);

    let state = world.delete_examples_leaving_nothing().await;
    assert!(state["busyNumbers"].as_object().unwrap().is_empty());
}
