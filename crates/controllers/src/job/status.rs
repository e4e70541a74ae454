//! A Job's state from its pods (upstream's `syncJob` decisions, counting from pod phases):
//! the counters, whether it succeeded or failed and why, how many pods should run, the
//! pod failure backoff, and its conditions.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::time::Duration;

/// upstream's `DefaultJobPodFailureBackOff`: the first retry after a failed pod waits this
/// long, doubling with every further failure up to [`MAX_BACKOFF`].
const BASE_BACKOFF: SignedDuration = SignedDuration::from_secs(10);
const MAX_BACKOFF: SignedDuration = SignedDuration::from_secs(10 * 60);

/// The counters of a Job's pods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub active: i32,
    pub succeeded: i32,
    pub failed: i32,
    pub ready: i32,
    pub terminating: i32,
}

pub fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// Running or pending, and not being deleted.
pub fn is_active(pod: &Pod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// Count `pods`; the Job's previous counters are a floor, so that terminated pods removed
/// since (by a user or the pod garbage collector) stay counted.
pub fn count(pods: &[&Pod], previous: Option<&JobStatus>) -> Counts {
    let of_phase = |p: &str| pods.iter().filter(|pod| phase(pod) == p).count() as i32;
    let ready = |pod: &Pod| {
        let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
        conditions.into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
    };
    let active: Vec<&&Pod> = pods.iter().filter(|p| is_active(p)).collect();
    Counts {
        active: active.len() as i32,
        succeeded: of_phase("Succeeded").max(previous.and_then(|s| s.succeeded).unwrap_or(0)),
        failed: of_phase("Failed").max(previous.and_then(|s| s.failed).unwrap_or(0)),
        ready: active.iter().filter(|p| ready(p)).count() as i32,
        terminating: pods.iter().filter(|p| !is_terminal(p) && p.metadata.deletion_timestamp.is_some()).count() as i32,
    }
}

/// The condition that finished `job` ("Complete" or "Failed"), or "" while it runs.
pub fn finished_condition(job: &Job) -> &'static str {
    ["Complete", "Failed"].into_iter().find(|t| condition_true(job.status.as_ref(), t)).unwrap_or("")
}

pub fn is_finished(job: &Job) -> bool {
    !finished_condition(job).is_empty()
}

pub fn condition_true(status: Option<&JobStatus>, type_: &str) -> bool {
    let conditions = status.and_then(|s| s.conditions.as_ref());
    conditions.into_iter().flatten().any(|c| c.type_ == type_ && c.status == "True")
}

/// Why a Job fails, as upstream words it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    BackoffLimitExceeded,
    DeadlineExceeded,
}

impl Failure {
    pub fn reason(self) -> &'static str {
        match self {
            Failure::BackoffLimitExceeded => "BackoffLimitExceeded",
            Failure::DeadlineExceeded => "DeadlineExceeded",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Failure::BackoffLimitExceeded => "Job has reached the specified backoff limit",
            Failure::DeadlineExceeded => "Job was active longer than specified deadline",
        }
    }
}

/// What the Job's spec and counters say: finished (and how), or how many pods should run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Failed(Failure),
    Succeeded,
    Running { wanted_active: i32 },
}

/// upstream's decision order: the backoff limit, then the deadline, then completions.
pub fn verdict(job: &Job, counts: &Counts, started: Option<Timestamp>, now: Timestamp) -> Verdict {
    let spec = job.spec.clone().unwrap_or_default();
    if counts.failed > spec.backoff_limit.unwrap_or(6) {
        return Verdict::Failed(Failure::BackoffLimitExceeded);
    }
    if let (Some(deadline), Some(started)) = (spec.active_deadline_seconds, started)
        && now >= started + SignedDuration::from_secs(deadline)
    {
        return Verdict::Failed(Failure::DeadlineExceeded);
    }
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    match spec.completions {
        Some(completions) if counts.succeeded >= completions => Verdict::Succeeded,
        Some(completions) => Verdict::Running { wanted_active: parallelism.min(completions - counts.succeeded) },
        // Without completions, the first success ends the Job once the other pods are done.
        None if counts.succeeded > 0 && counts.active == 0 => Verdict::Succeeded,
        None if counts.succeeded > 0 => Verdict::Running { wanted_active: counts.active },
        None => Verdict::Running { wanted_active: parallelism },
    }
}

/// How long to hold back new pods after failures (upstream's pod failure backoff): none
/// without failures, else `10s × 2^(failed-1)` (at most 10 minutes) after the last failure.
pub fn backoff_remaining(failed: i32, last_failure: Option<Timestamp>, now: Timestamp) -> Option<Duration> {
    let last = last_failure.filter(|_| failed > 0)?;
    let exponent = u32::try_from(failed - 1).unwrap_or(0).min(16);
    let backoff = BASE_BACKOFF.checked_mul(1 << exponent).unwrap_or(MAX_BACKOFF).min(MAX_BACKOFF);
    let remaining = (last + backoff).duration_since(now);
    remaining.is_positive().then(|| Duration::try_from(remaining).unwrap_or_default())
}

/// When the last failed pod of `pods` finished: its containers' termination times, else
/// its start.
pub fn last_failure(pods: &[&Pod]) -> Option<Timestamp> {
    pods.iter()
        .filter(|p| phase(p) == "Failed")
        .filter_map(|p| {
            let status = p.status.as_ref()?;
            let finished = status
                .container_statuses
                .iter()
                .flatten()
                .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(|t| t.0))
                .max();
            finished.or(status.start_time.as_ref().map(|t| t.0))
        })
        .max()
}

/// Set condition `type_` to True with `reason` and `message` unless it already is.
pub fn set_condition(status: &mut JobStatus, type_: &str, reason: &str, message: &str, now: Timestamp) {
    set_condition_to(status, type_, "True", reason, message, now);
}

/// Set condition `type_` to `value` ("True" or "False") unless it already has that value.
pub fn set_condition_to(status: &mut JobStatus, type_: &str, value: &str, reason: &str, message: &str, now: Timestamp) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    if conditions.iter().any(|c| c.type_ == type_ && c.status == value) {
        return;
    }
    conditions.retain(|c| c.type_ != type_);
    conditions.push(JobCondition {
        type_: type_.to_owned(),
        status: value.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::JobSpec;
    use k8s_openapi::api::core::v1::PodStatus;

    fn pod(phase: &str) -> Pod {
        Pod { status: Some(PodStatus { phase: Some(phase.into()), ..Default::default() }), ..Default::default() }
    }

    fn job(completions: Option<i32>, parallelism: i32, backoff_limit: i32, deadline: Option<i64>) -> Job {
        Job {
            spec: Some(JobSpec {
                completions,
                parallelism: Some(parallelism),
                backoff_limit: Some(backoff_limit),
                active_deadline_seconds: deadline,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn pods_are_counted_by_phase_and_counters_never_go_back() {
        let pods = [pod("Running"), pod("Pending"), pod("Succeeded"), pod("Failed")];
        let refs: Vec<&Pod> = pods.iter().collect();
        let c = count(&refs, None);
        assert_eq!((c.active, c.succeeded, c.failed), (2, 1, 1));
        let previous = JobStatus { succeeded: Some(3), ..Default::default() };
        assert_eq!(count(&refs, Some(&previous)).succeeded, 3);
    }

    #[test]
    fn parallelism_caps_the_remaining_completions() {
        let now = Timestamp::now();
        let c = |succeeded, failed| Counts { succeeded, failed, ..Default::default() };
        let j = job(Some(3), 2, 6, None);
        assert_eq!(verdict(&j, &c(0, 0), Some(now), now), Verdict::Running { wanted_active: 2 });
        assert_eq!(verdict(&j, &c(2, 0), Some(now), now), Verdict::Running { wanted_active: 1 });
        assert_eq!(verdict(&j, &c(3, 0), Some(now), now), Verdict::Succeeded);
        let one_shot = job(None, 1, 6, None);
        assert_eq!(verdict(&one_shot, &c(1, 0), Some(now), now), Verdict::Succeeded);
    }

    #[test]
    fn the_backoff_limit_and_the_deadline_fail_the_job() {
        let now = Timestamp::now();
        let failed = |n| Counts { failed: n, ..Default::default() };
        let j = job(Some(1), 1, 1, None);
        assert_eq!(verdict(&j, &failed(1), Some(now), now), Verdict::Running { wanted_active: 1 });
        assert_eq!(verdict(&j, &failed(2), Some(now), now), Verdict::Failed(Failure::BackoffLimitExceeded));
        let j = job(Some(1), 1, 6, Some(30));
        let started = now - SignedDuration::from_secs(31);
        assert_eq!(verdict(&j, &failed(0), Some(started), now), Verdict::Failed(Failure::DeadlineExceeded));
    }

    #[test]
    fn failures_back_off_exponentially() {
        let now = Timestamp::now();
        assert_eq!(backoff_remaining(0, Some(now), now), None);
        assert_eq!(backoff_remaining(1, Some(now), now), Some(Duration::from_secs(10)));
        assert_eq!(backoff_remaining(3, Some(now), now), Some(Duration::from_secs(40)));
        assert_eq!(backoff_remaining(20, Some(now), now), Some(Duration::from_secs(600)));
        assert_eq!(backoff_remaining(1, Some(now - SignedDuration::from_secs(11)), now), None);
    }

    #[test]
    fn conditions_are_set_once() {
        let mut status = JobStatus::default();
        let t0 = Timestamp::now();
        set_condition(&mut status, "Complete", "CompletionsReached", "done", t0);
        set_condition(&mut status, "Complete", "CompletionsReached", "done", t0 + SignedDuration::from_secs(5));
        let conditions = status.conditions.unwrap();
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, Some(Time(t0)));
        let mut status = JobStatus { conditions: Some(conditions), ..Default::default() };
        set_condition_to(&mut status, "Complete", "False", "Other", "flipped", t0);
        assert!(!condition_true(Some(&status), "Complete"));
        assert_eq!(status.conditions.unwrap().len(), 1);
    }
}
