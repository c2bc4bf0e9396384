//! When to look at a running task again, learned from how long tasks of the same
//! action took on the same platform: the first look comes when such a task is usually
//! done, later ones back off. A task is looked at about once, rather than every
//! `task_poll` for as long as it runs.

use std::collections::HashMap;
use std::time::Duration;

use crate::locked::Locked;

/// How much one new duration moves the expectation (an exponential moving average).
const LEARNING_RATE: f64 = 0.3;
/// The least time added to an expected duration before the first look: the time from
/// the decision to write until the platform created the task (a validation call, the
/// rate limiter, the round trip) is not part of the learned duration.
const MARGIN: Duration = Duration::from_millis(250);
/// The least time added to an expected duration for a task timed from the platform's
/// answer (its `acceptedAt`), which came after the task was created: only the spread
/// of the platform's durations is left to cover.
const ANSWERED_MARGIN: Duration = Duration::from_millis(50);
/// The longest wait between two looks at a running task.
const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// Expected task durations, by platform and action.
#[derive(Default)]
pub struct TaskTimings(Locked<HashMap<(String, String), f64>>);

impl TaskTimings {
    /// A task of `action` on `platform` took `took` on the platform.
    pub fn ended(&self, platform: &str, action: &str, took: Duration) {
        let seconds = took.as_secs_f64();
        self.0
            .lock()
            .entry((platform.to_owned(), action.to_owned()))
            .and_modify(|e| *e += LEARNING_RATE * (seconds - *e))
            .or_insert(seconds);
    }

    /// How long tasks of `action` on `platform` usually take, once one was seen.
    pub fn expected(&self, platform: &str, action: &str) -> Option<Duration> {
        self.0
            .lock()
            .get(&(platform.to_owned(), action.to_owned()))
            .map(|s| Duration::from_secs_f64(s.max(0.0)))
    }
}

/// Where a running task's age is counted from, which sets the margin before the first
/// look at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Since {
    /// The operator's decision to write (an intent whose answer is not recorded): the
    /// time until the platform created the task (the rate limiter, the round trip) is
    /// part of the age, so [`MARGIN`] covers it.
    Decision,
    /// The platform's answer with the task id (`acceptedAt`), which came after the task
    /// was created: only the spread of the platform's durations is left to cover
    /// ([`ANSWERED_MARGIN`]).
    Answer,
}

/// The wait before the next look at a task that has run for `elapsed` (counted from
/// `since`): until it is expected to be done, with a margin, then half of its age so
/// far (at least `shortest`, at most [`LONGEST_WAIT`]).
pub fn next_look(
    expected: Option<Duration>,
    elapsed: Duration,
    since: Since,
    shortest: Duration,
) -> Duration {
    expected
        .and_then(|e| until_expected_end(e, elapsed, since))
        .unwrap_or_else(|| (elapsed / 2).clamp(shortest, LONGEST_WAIT.max(shortest)))
}

/// How long until a task that usually takes `expected` and has run for `elapsed`
/// (counted from `since`) should be done: `expected` and a tenth of it more, at least
/// the margin `since` needs; `None` once that time has come.
pub fn until_expected_end(expected: Duration, elapsed: Duration, since: Since) -> Option<Duration> {
    let least_margin = match since {
        Since::Decision => MARGIN,
        Since::Answer => ANSWERED_MARGIN,
    };
    let end = expected + (expected / 10).max(least_margin);
    (elapsed < end).then(|| end - elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_look_waits_for_the_expected_end_then_backs_off() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        // (expected, elapsed, want)
        let cases = [
            (None, ms(0), ms(300)),
            (None, s(1), ms(500)),
            (None, s(4), s(2)),
            (Some(s(2)), ms(100), ms(2150)),
            (Some(ms(500)), ms(0), ms(750)),
            (Some(s(2)), s(2), ms(250)),
            (Some(s(10)), s(5), s(6)),
            (Some(s(2)), s(3), ms(1500)),
            (Some(s(600)), s(700), s(30)),
            (None, s(100), s(30)),
        ];
        for (expected, elapsed, want) in cases {
            assert_eq!(
                next_look(expected, elapsed, Since::Decision, ms(300)),
                want,
                "{expected:?} {elapsed:?}"
            );
        }
    }

    #[test]
    fn a_task_timed_from_its_answer_is_looked_at_with_a_smaller_margin() {
        let ms = Duration::from_millis;
        // (expected, elapsed, from the decision, from the answer)
        let cases = [
            (ms(500), ms(0), Some(ms(750)), Some(ms(550))),
            (ms(500), ms(540), Some(ms(210)), Some(ms(10))),
            (ms(500), ms(550), Some(ms(200)), None),
            (ms(5000), ms(5000), Some(ms(500)), Some(ms(500))),
        ];
        for (expected, elapsed, decided, answered) in cases {
            assert_eq!(
                until_expected_end(expected, elapsed, Since::Decision),
                decided,
                "{expected:?} {elapsed:?}"
            );
            assert_eq!(
                until_expected_end(expected, elapsed, Since::Answer),
                answered,
                "{expected:?} {elapsed:?}"
            );
        }
    }

    #[test]
    fn expectations_are_learned_per_platform_and_action() {
        let timings = TaskTimings::default();
        assert_eq!(timings.expected("p", "Upload Numbers to Customer"), None);
        timings.ended("p", "Upload Numbers to Customer", Duration::from_secs(2));
        timings.ended("p", "Upload Numbers to Customer", Duration::from_secs(4));
        let learned = timings
            .expected("p", "Upload Numbers to Customer")
            .unwrap_or_default();
        assert!(
            learned > Duration::from_secs(2) && learned < Duration::from_secs(4),
            "{learned:?}"
        );
        assert_eq!(timings.expected("q", "Upload Numbers to Customer"), None);
        assert_eq!(timings.expected("p", "Release Numbers"), None);
    }
}
