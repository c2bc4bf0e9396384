use std::time::Duration;

use liveplatform::Error;
use liveplatform::model::{TaskId, TaskStatus};
use liveplatform_sim::Seed;

use crate::support::*;

#[tokio::test]
async fn tasks_move_queued_in_progress_then_final_and_stay_readable() {
    let env = Env::with_seed(Seed {
        task_delay_ms: 800,
        ..Seed::default()
    })
    .await;
    env.customer(TENANT_A, "contoso").await;
    let id = env.upload_one(TENANT_A, "+14255551100").await.unwrap();
    let first = env.client.get_task(&id).await.unwrap();
    assert_eq!(first.status, TaskStatus::Queued);
    assert_eq!(first.total_numbers_count, Some(1));
    assert!(first.create_time.is_some() && first.complete_time.is_none());
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        env.client.get_task(&id).await.unwrap().status,
        TaskStatus::InProgress
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let done = env.client.get_task(&id).await.unwrap();
    assert_eq!(done.status, TaskStatus::CompletedSuccess);
    assert!(done.complete_time.is_some());
    assert!(
        done.execution_messages
            .iter()
            .any(|m| m.level == "Information")
    );
    assert_eq!(
        env.client.get_task(&id).await.unwrap(),
        done,
        "a finished task stays as it ended"
    );
}

#[tokio::test]
async fn an_unknown_task_is_not_found() {
    let env = Env::start().await;
    let err = env
        .client
        .get_task(&TaskId("tsk_424242".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn a_task_reports_when_it_ended_not_when_it_was_looked_at() {
    let env = Env::with_seed(Seed {
        task_delay_ms: 200,
        ..Seed::default()
    })
    .await;
    env.customer(TENANT_A, "contoso").await;
    let id = env.upload_one(TENANT_A, "+14255551101").await.unwrap();
    // Nobody looks for a while: the task ends on its own meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let done = env.client.get_task(&id).await.unwrap();
    assert_eq!(done.status, TaskStatus::CompletedSuccess);
    let at = |t: &Option<String>| t.as_deref().unwrap().parse::<jiff::Timestamp>().unwrap();
    let took = at(&done.complete_time).duration_since(at(&done.create_time));
    // It took its 200 ms; the look came 1.5 s after it was created.
    assert!(
        took < jiff::SignedDuration::from_millis(1000),
        "the task reports {took:?}"
    );
}
