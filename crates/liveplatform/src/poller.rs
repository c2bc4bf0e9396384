//! Following an asynchronous task to its end.

use std::time::{Duration, Instant};

use super::client::LivePlatformClient;
use super::error::Result;
use super::model::{NumberOutcome, Task, TaskId, TaskStatus};
use crate::backoff::Backoff;

/// How a followed task ended.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// `CompletedSuccess`, with no number failed.
    Succeeded(Task),
    /// Completed, but some numbers failed; their outcomes.
    PartlyFailed {
        task: Task,
        failed: Vec<NumberOutcome>,
    },
    /// `Failed` or `Cancelled`.
    Failed(Task),
    /// Not final when the patience ran out; poll again later.
    StillRunning(Task),
}

impl TaskOutcome {
    /// Sorts a task (final or not) into an outcome.
    pub fn of(task: Task) -> Self {
        match task.status {
            TaskStatus::CompletedSuccess | TaskStatus::CompletedWithErrors => {
                let failed: Vec<NumberOutcome> = task
                    .number_outcomes()
                    .into_iter()
                    .filter(|o| !o.succeeded())
                    .collect();
                if failed.is_empty() && task.status == TaskStatus::CompletedSuccess {
                    TaskOutcome::Succeeded(task)
                } else {
                    TaskOutcome::PartlyFailed { task, failed }
                }
            }
            TaskStatus::Failed | TaskStatus::Cancelled => TaskOutcome::Failed(task),
            _ => TaskOutcome::StillRunning(task),
        }
    }

    pub fn task(&self) -> &Task {
        match self {
            TaskOutcome::Succeeded(t) | TaskOutcome::Failed(t) | TaskOutcome::StillRunning(t) => t,
            TaskOutcome::PartlyFailed { task, .. } => task,
        }
    }
}

/// How patiently to poll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollOptions {
    pub backoff: Backoff,
    /// Give up (with [`TaskOutcome::StillRunning`]) after this long.
    pub patience: Duration,
}

impl Default for PollOptions {
    fn default() -> Self {
        Self {
            backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(5)),
            patience: Duration::from_secs(300),
        }
    }
}

impl LivePlatformClient {
    /// Polls `id` with backoff until it ends or `options.patience` runs out. Transient
    /// errors of single polls are retried inside [`LivePlatformClient::get_task`].
    pub async fn poll_task(&self, id: &TaskId, options: PollOptions) -> Result<TaskOutcome> {
        let deadline = Instant::now() + options.patience;
        let mut attempt = 0;
        loop {
            let task = self.get_task(id).await?;
            if task.status.is_final() || Instant::now() >= deadline {
                return Ok(TaskOutcome::of(task));
            }
            let delay = options
                .backoff
                .delay(attempt)
                .min(deadline.saturating_duration_since(Instant::now()));
            attempt += 1;
            tokio::time::sleep(delay).await;
        }
    }
}
