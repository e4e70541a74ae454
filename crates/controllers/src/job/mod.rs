//! The Job controller (upstream's `job-controller`, counting from pod phases rather than
//! tracking finalizers) and the TTL-after-finished controller: a Job runs up to
//! `parallelism` pods from its template, named `<job>-<random>`, until `completions` of
//! them succeed; failed pods count against `backoffLimit` and hold back the next pod
//! exponentially; `activeDeadlineSeconds` bounds its run. It reports the [`status`]
//! counters and the `SuccessCriteriaMet`/`Complete` or `FailureTarget`/`Failed`
//! conditions (and `Suspended` while `spec.suspend` holds its pods back), and a finished
//! Job is deleted `ttlSecondsAfterFinished` later.

pub mod status;

pub use status::{finished_condition, is_finished};

use crate::ownership::{Key, controller_of, controller_ref, dependent_key};
use crate::replicaset::expectations::Expectations;
use crate::{Error, FIELD_MANAGER};
use client_runtime::events::{NORMAL, Recorder, WARNING};
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{Job, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use status::{Counts, Failure, Verdict};
use std::sync::Arc;
use std::time::Duration;

/// upstream's `--concurrent-job-syncs` is 5.
const WORKERS: usize = 2;
/// The label the API server puts on every Job's pod template; pods without it are no Job's.
const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
const COMPLETIONS_REACHED: &str = "CompletionsReached";
const SUCCESS_MESSAGE: &str = "Reached expected number of succeeded pods";

pub struct JobController {
    client: Client,
    jobs: Store<Job>,
    pods: Store<Pod>,
    expectations: Expectations,
    events: Recorder,
}

/// Run the Job controller until cancelled.
pub async fn run(client: Client, informers: Informers) -> Result<(), Error> {
    let (jobs, pods) = (informers.all::<Job>(), informers.all::<Pod>());
    let queue = WorkQueue::new();
    let controller = Arc::new(JobController {
        client: client.clone(),
        jobs: jobs.store(),
        pods: pods.store(),
        expectations: Expectations::default(),
        events: Recorder::new(client.clone(), FIELD_MANAGER, "job-controller"),
    });
    jobs.queue_changes(&queue, Key::of_owner);
    // The shared cache holds every pod; only those with a Job's controller-uid label are
    // a Job's (upstream's job informer selects nothing either, it filters in the handler).
    let pod_changes = queue.clone();
    pods.on_change(move |pod| {
        if is_job_pod(pod) {
            pod_changes.add(dependent_key(&pod.metadata, "Job"));
        }
    });
    let synced = async move { jobs.synced().await && pods.synced().await };
    run_workers_when_synced(controller, queue, WORKERS, synced).await;
    Ok(())
}

/// Whether `pod` carries the label the Job controller puts on the pods it creates.
fn is_job_pod(pod: &Pod) -> bool {
    pod.metadata.labels.as_ref().is_some_and(|labels| labels.contains_key(CONTROLLER_UID_LABEL))
}

impl Reconciler for JobController {
    type Key = Key;
    type Error = Error;
    const NAME: &'static str = "job";

    async fn reconcile(&self, key: &Key) -> Result<Action, Error> {
        let Key::Owner { namespace, name } = key else { return Ok(Action::Done) };
        let expectation_key = format!("{namespace}/{name}");
        let Some(job) = self.jobs.get(&ObjectRef::new(name).within(namespace)) else {
            self.expectations.forget(&expectation_key);
            return Ok(Action::Done);
        };
        if job.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        if is_finished(&job) {
            return self.delete_after_ttl(&job).await;
        }
        let in_namespace: Vec<Arc<Pod>> = self
            .pods
            .state()
            .into_iter()
            .filter(|p| p.metadata.namespace.as_ref() == Some(namespace) && is_job_pod(p))
            .collect();
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let owned: Vec<&Pod> = in_namespace
            .iter()
            .filter(|p| controller_of(&p.metadata).is_some_and(|r| r.uid == uid))
            .map(Arc::as_ref)
            .collect();
        let satisfied = self.expectations.satisfied(&expectation_key, &in_namespace);
        self.sync(&job, &owned, satisfied, &expectation_key).await
    }

    fn error_policy(&self, _key: &Key, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

impl JobController {
    /// Decide, act and write the status of an unfinished Job (upstream's `syncJob`).
    async fn sync(&self, job: &Job, owned: &[&Pod], satisfied: bool, expectation_key: &str) -> Result<Action, Error> {
        let now = Timestamp::now();
        let spec = job.spec.clone().unwrap_or_default();
        let mut status = job.status.clone().unwrap_or_default();
        let suspended = spec.suspend == Some(true);
        if status.start_time.is_none() && !suspended {
            status.start_time = Some(Time(now));
        }
        let started = status.start_time.as_ref().map(|t| t.0);
        let counts = status::count(owned, job.status.as_ref());
        let verdict = if status::condition_true(Some(&status), "FailureTarget") {
            let reason = status.conditions.iter().flatten().find(|c| c.type_ == "FailureTarget");
            let deadline = reason.and_then(|c| c.reason.as_deref()) == Some("DeadlineExceeded");
            Verdict::Failed(if deadline { Failure::DeadlineExceeded } else { Failure::BackoffLimitExceeded })
        } else if status::condition_true(Some(&status), "SuccessCriteriaMet") {
            Verdict::Succeeded
        } else {
            status::verdict(job, &counts, started, now)
        };
        let active: Vec<&Pod> = owned.iter().copied().filter(|p| status::is_active(p)).collect();
        let mut next = None;
        let mut failure = None;
        match verdict {
            Verdict::Failed(why) => {
                status::set_condition(&mut status, "FailureTarget", why.reason(), why.message(), now);
                failure = self.delete_pods(job, &active).await.err();
                if counts.active == 0 && counts.terminating == 0 {
                    status::set_condition(&mut status, "Failed", why.reason(), why.message(), now);
                    self.events.record(job, WARNING, why.reason(), why.message()).await;
                }
            }
            Verdict::Succeeded => {
                status::set_condition(&mut status, "SuccessCriteriaMet", COMPLETIONS_REACHED, SUCCESS_MESSAGE, now);
                failure = self.delete_pods(job, &active).await.err();
                if counts.active == 0 && counts.terminating == 0 {
                    status::set_condition(&mut status, "Complete", COMPLETIONS_REACHED, SUCCESS_MESSAGE, now);
                    status.completion_time = Some(Time(now));
                    self.events.record(job, NORMAL, "Completed", "Job completed").await;
                }
            }
            Verdict::Running { .. } if suspended => {
                if !status::condition_true(Some(&status), "Suspended") {
                    status::set_condition(&mut status, "Suspended", "JobSuspended", "Job suspended", now);
                    // A resumed Job starts its clock (and its deadline) again.
                    status.start_time = None;
                    self.events.record(job, NORMAL, "Suspended", "Job suspended").await;
                }
                failure = self.delete_pods(job, &active).await.err();
            }
            Verdict::Running { wanted_active } => {
                if status::condition_true(Some(&status), "Suspended") {
                    status::set_condition_to(&mut status, "Suspended", "False", "JobResumed", "Job resumed", now);
                    self.events.record(job, NORMAL, "Resumed", "Job resumed").await;
                }
                if let (Some(deadline), Some(started)) = (spec.active_deadline_seconds, started) {
                    let left = (started + SignedDuration::from_secs(deadline)).duration_since(now);
                    next = Duration::try_from(left).ok();
                }
                if satisfied {
                    let (retry, error) =
                        self.manage_pods(job, &active, owned, wanted_active, &counts, expectation_key, now).await;
                    next = next.into_iter().chain(retry).min();
                    failure = error;
                }
            }
        }
        status.active = Some(counts.active).filter(|n| *n > 0);
        status.succeeded = Some(counts.succeeded).filter(|n| *n > 0);
        status.failed = Some(counts.failed).filter(|n| *n > 0);
        status.ready = Some(counts.ready);
        status.terminating = Some(counts.terminating);
        status.uncounted_terminated_pods.get_or_insert_with(UncountedTerminatedPods::default);
        self.write_status(job, status).await?;
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(next.map_or(Action::Done, Action::RequeueAfter))
    }

    /// Create or delete pods so that `wanted` run, holding back after failures. Returns
    /// when to look again for the backoff, and the first failure.
    #[allow(clippy::too_many_arguments)]
    async fn manage_pods(
        &self,
        job: &Job,
        active: &[&Pod],
        owned: &[&Pod],
        wanted: i32,
        counts: &Counts,
        expectation_key: &str,
        now: Timestamp,
    ) -> (Option<Duration>, Option<Error>) {
        let running = active.len() as i32;
        if running > wanted {
            let mut surplus: Vec<&Pod> = active.to_vec();
            surplus.sort_by_key(|p| std::cmp::Reverse(p.metadata.creation_timestamp.clone().map(|t| t.0)));
            surplus.truncate((running - wanted) as usize);
            let deleted = surplus.iter().filter_map(|p| p.metadata.uid.clone()).collect();
            let error = self.delete_pods(job, &surplus).await.err();
            self.expectations.expect(expectation_key, Vec::new(), deleted);
            return (None, error);
        }
        if running == wanted {
            return (None, None);
        }
        if let Some(wait) = status::backoff_remaining(counts.failed, status::last_failure(owned), now) {
            return (Some(wait), None);
        }
        let pod = pod_from_template(job);
        let api = Api::<Pod>::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        let results = futures::future::join_all((running..wanted).map(|_| api.create(&params, &pod))).await;
        let mut created = Vec::new();
        let mut failure = None;
        for result in results {
            match result {
                Ok(p) => {
                    let name = p.name_any();
                    self.events.record(job, NORMAL, "SuccessfulCreate", &format!("Created pod: {name}")).await;
                    created.push(name);
                }
                Err(kube::Error::Api(s)) if crate::serviceaccount::is_namespace_terminating(&s) => {}
                Err(e) => {
                    self.events.record(job, WARNING, "FailedCreate", &format!("Error creating: {e}")).await;
                    failure = Some(e.into());
                }
            }
        }
        self.expectations.expect(expectation_key, created, Vec::new());
        (None, failure)
    }

    async fn delete_pods(&self, job: &Job, pods: &[&Pod]) -> Result<(), Error> {
        let api = Api::<Pod>::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        for pod in pods {
            let name = pod.name_any();
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => self.events.record(job, NORMAL, "SuccessfulDelete", &format!("Deleted pod: {name}")).await,
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => {
                    self.events.record(job, WARNING, "FailedDelete", &format!("Error deleting: {e}")).await;
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    async fn write_status(&self, job: &Job, status: JobStatus) -> Result<(), Error> {
        if job.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut updated = job.clone();
        updated.status = Some(status);
        let api = Api::<Job>::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        match api.replace_status(&job.name_any(), &params, &updated).await {
            Ok(_) => Ok(()),
            // A newer version is on its way through the watch, and brings the key back.
            Err(kube::Error::Api(s)) if s.is_conflict() || s.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// upstream's TTL-after-finished controller: delete a finished Job (and, in the
    /// foreground, its pods) `ttlSecondsAfterFinished` after it finished.
    async fn delete_after_ttl(&self, job: &Job) -> Result<Action, Error> {
        let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else { return Ok(Action::Done) };
        let Some(finished) = finish_time(job) else { return Ok(Action::Done) };
        let left = (finished + SignedDuration::from_secs(ttl.into())).duration_since(Timestamp::now());
        if left.is_positive() {
            return Ok(Action::RequeueAfter(Duration::try_from(left).unwrap_or_default()));
        }
        let api = Api::<Job>::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            preconditions: Some(kube::api::Preconditions { uid: job.metadata.uid.clone(), resource_version: None }),
            ..Default::default()
        };
        match api.delete(&job.name_any(), &params).await {
            Ok(_) => Ok(Action::Done),
            Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }
}

/// When a finished Job finished: its completion time, else when its finishing condition
/// became true.
fn finish_time(job: &Job) -> Option<Timestamp> {
    let status = job.status.as_ref()?;
    if let Some(t) = &status.completion_time {
        return Some(t.0);
    }
    let condition = finished_condition(job);
    let finishing = status.conditions.iter().flatten().find(|c| c.type_ == condition && c.status == "True");
    finishing.and_then(|c| c.last_transition_time.as_ref()).map(|t| t.0)
}

/// A pod of `job` from its template (upstream's `GetPodFromTemplate`), named by the server
/// from `<job>-`.
pub fn pod_from_template(job: &Job) -> Pod {
    let template = job.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", job.name_any())),
            namespace: job.namespace(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![controller_ref(job)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobSpec};
    use k8s_openapi::api::core::v1::PodTemplateSpec;

    #[test]
    fn pods_come_from_the_template_and_are_controlled_by_the_job() {
        let job = Job {
            metadata: ObjectMeta {
                name: Some("pi".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                ..Default::default()
            },
            spec: Some(JobSpec {
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("batch.kubernetes.io/job-name".to_owned(), "pi".to_owned())].into()),
                        ..Default::default()
                    }),
                    spec: None,
                },
                ..Default::default()
            }),
            status: None,
        };
        let pod = pod_from_template(&job);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("pi-"));
        assert_eq!(pod.metadata.labels.unwrap()["batch.kubernetes.io/job-name"], "pi");
        let owner = &pod.metadata.owner_references.unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str(), owner.controller), ("Job", "u1", Some(true)));
    }

    #[test]
    fn a_failed_job_finished_when_its_condition_turned_true() {
        let at: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let job = Job {
            status: Some(JobStatus {
                conditions: Some(vec![JobCondition {
                    type_: "Failed".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(at)),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(is_finished(&job));
        assert_eq!(finish_time(&job), Some(at));
    }
}
