//! The CronJob controller (upstream's `cronjob-controller`, v2): each CronJob starts a Job
//! from its template at every [`schedule`] time in its time zone, named
//! `<cronjob>-<minutes since the epoch>`, honouring `suspend`, `startingDeadlineSeconds`
//! and `concurrencyPolicy`; it tracks its running Jobs in `status.active`, records
//! `lastScheduleTime` and `lastSuccessfulTime`, and deletes finished Jobs beyond the
//! history limits.

pub mod schedule;
pub mod timing;

use crate::job::{finished_condition, is_finished};
use crate::ownership::{Key, controller_of, controller_ref, dependent_key};
use crate::{Error, FIELD_MANAGER};
use client_runtime::events::{NORMAL, Recorder, WARNING, reference};
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use schedule::Schedule;
use std::sync::Arc;
use std::time::Duration;

/// upstream's `--concurrent-cron-job-syncs` is 5.
const WORKERS: usize = 2;
/// The annotation with the schedule time a Job was created for (upstream's
/// `batch.kubernetes.io/cronjob-scheduled-timestamp`, RFC 3339 in the CronJob's zone).
const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Wake-ups land this long after the schedule time, so the time has surely passed.
const WAKE_SLACK: Duration = Duration::from_millis(100);

pub struct CronJobController {
    client: Client,
    cronjobs: Store<CronJob>,
    jobs: Store<Job>,
    events: Recorder,
}

/// Run the CronJob controller until cancelled.
pub async fn run(client: Client, informers: Informers) -> Result<(), Error> {
    let (cronjobs, jobs) = (informers.all::<CronJob>(), informers.all::<Job>());
    let queue = WorkQueue::new();
    let controller = Arc::new(CronJobController {
        client: client.clone(),
        cronjobs: cronjobs.store(),
        jobs: jobs.store(),
        events: Recorder::new(client.clone(), FIELD_MANAGER, "cronjob-controller"),
    });
    cronjobs.queue_changes(&queue, Key::of_owner);
    jobs.queue_changes(&queue, |job| dependent_key(&job.metadata, "CronJob"));
    let synced = async move { cronjobs.synced().await && jobs.synced().await };
    run_workers_when_synced(controller, queue, WORKERS, synced).await;
    Ok(())
}

impl Reconciler for CronJobController {
    type Key = Key;
    type Error = Error;
    const NAME: &'static str = "cronjob";

    async fn reconcile(&self, key: &Key) -> Result<Action, Error> {
        let Key::Owner { namespace, name } = key else { return Ok(Action::Done) };
        let Some(cronjob) = self.cronjobs.get(&ObjectRef::new(name).within(namespace)) else {
            return Ok(Action::Done);
        };
        let uid = cronjob.metadata.uid.clone().unwrap_or_default();
        let mut owned: Vec<Arc<Job>> = self
            .jobs
            .state()
            .into_iter()
            .filter(|j| j.metadata.namespace.as_ref() == Some(namespace))
            .filter(|j| controller_of(&j.metadata).is_some_and(|r| r.uid == uid))
            .collect();
        let mut updated = (*cronjob).clone();
        self.track_jobs(&mut updated, &owned).await;
        let action = if cronjob.metadata.deletion_timestamp.is_some() {
            Action::Done
        } else {
            self.maybe_start_job(&mut updated, &mut owned).await?
        };
        self.clean_up_history(&cronjob, &owned).await;
        if updated.status != cronjob.status {
            let api = Api::<CronJob>::namespaced(self.client.clone(), namespace);
            let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
            match api.replace_status(name, &params, &updated).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_conflict() || s.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(action)
    }

    fn error_policy(&self, _key: &Key, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

impl CronJobController {
    /// Bring `status.active` in line with the owned Jobs, and `lastSuccessfulTime` with the
    /// latest completion (upstream's `cleanupFinishedJobs` bookkeeping part).
    async fn track_jobs(&self, cronjob: &mut CronJob, owned: &[Arc<Job>]) {
        let status = cronjob.status.get_or_insert_with(Default::default);
        let mut active = status.active.take().unwrap_or_default();
        for job in owned {
            let listed = active.iter().any(|r| r.uid == job.metadata.uid);
            if !is_finished(job) {
                if !listed {
                    active.push(reference(job.as_ref()));
                }
                continue;
            }
            if listed {
                active.retain(|r| r.uid != job.metadata.uid);
                let message = format!("Saw completed job: {}, condition: {}", job.name_any(), finished_condition(job));
                self.events.record(&*cronjob, NORMAL, "SawCompletedJob", &message).await;
            }
            let completed = job.status.as_ref().and_then(|s| s.completion_time.clone());
            if let Some(done) = completed.filter(|_| finished_condition(job) == "Complete") {
                let status = cronjob.status.get_or_insert_with(Default::default);
                if status.last_successful_time.as_ref().is_none_or(|t| t.0 < done.0) {
                    status.last_successful_time = Some(done);
                }
            }
        }
        let (present, missing): (Vec<_>, Vec<_>) =
            active.into_iter().partition(|r| owned.iter().any(|j| j.metadata.uid == r.uid));
        let mut active = present;
        // Not in the cache may mean not yet in the cache: ask the API before giving up on it.
        let api = Api::<Job>::namespaced(self.client.clone(), &cronjob.namespace().unwrap_or_default());
        for r in missing {
            let name = r.name.clone().unwrap_or_default();
            match api.get_opt(&name).await {
                Ok(Some(job)) if job.metadata.uid == r.uid => active.push(r),
                Ok(_) => {
                    let message = format!("Active job went missing: {name}");
                    self.events.record(&*cronjob, NORMAL, "MissingJob", &message).await;
                }
                Err(error) => {
                    tracing::warn!(%error, job = name, "looking up an active job failed");
                    active.push(r);
                }
            }
        }
        cronjob.status.get_or_insert_with(Default::default).active = (!active.is_empty()).then_some(active);
    }

    /// Start the Job that is due, if any, and say when to look again (upstream's `syncCronJob`).
    async fn maybe_start_job(&self, cronjob: &mut CronJob, owned: &mut Vec<Arc<Job>>) -> Result<Action, Error> {
        let spec = cronjob.spec.clone().unwrap_or_default();
        let tz = match spec.time_zone.as_deref() {
            None => TimeZone::system(),
            Some(name) => match TimeZone::get(name) {
                Ok(tz) => tz,
                Err(_) => {
                    let message = format!("invalid timeZone: {name:?}: unknown time zone {name}");
                    self.events.record(&*cronjob, WARNING, "UnknownTimeZone", &message).await;
                    return Ok(Action::Done);
                }
            },
        };
        let schedule = match Schedule::parse(&spec.schedule) {
            Ok(s) => s,
            Err(e) => {
                let message = format!("unparseable schedule: {:?} : {e}", spec.schedule);
                self.events.record(&*cronjob, WARNING, "UnparseableSchedule", &message).await;
                return Ok(Action::Done);
            }
        };
        if spec.suspend == Some(true) {
            return Ok(Action::Done);
        }
        let now = Timestamp::now();
        let wake = |after: Timestamp| {
            schedule.next_after(after, &tz).map_or(Action::Done, |next| {
                let wait = Duration::try_from(next.duration_since(now)).unwrap_or_default();
                Action::RequeueAfter(wait + WAKE_SLACK)
            })
        };
        let created = cronjob.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
        let last = cronjob.status.as_ref().and_then(|s| s.last_schedule_time.as_ref()).map(|t| t.0);
        let due = timing::due(&schedule, &tz, created, last, spec.starting_deadline_seconds, now);
        if due.missed > timing::TOO_MANY_MISSED {
            let message =
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew";
            self.events.record(&*cronjob, WARNING, "TooManyMissedTimes", message).await;
        }
        let Some(scheduled) = due.scheduled else { return Ok(wake(now)) };
        if timing::too_late(scheduled, spec.starting_deadline_seconds, now) {
            let when = scheduled.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
            let message = format!("Missed scheduled time to start a job: {when}");
            self.events.record(&*cronjob, WARNING, "MissedSchedule", &message).await;
            return Ok(wake(now));
        }
        let job_name = timing::job_name(&cronjob.name_any(), scheduled);
        if owned.iter().any(|j| j.metadata.name.as_deref() == Some(&job_name)) {
            return Ok(wake(now));
        }
        let active: Vec<_> = cronjob.status.as_ref().and_then(|s| s.active.clone()).unwrap_or_default();
        let namespace = cronjob.namespace().unwrap_or_default();
        let api = Api::<Job>::namespaced(self.client.clone(), &namespace);
        match spec.concurrency_policy.as_deref() {
            Some("Forbid") if !active.is_empty() => {
                let message = "Not starting job because prior execution is running and concurrency policy is Forbid";
                self.events.record(&*cronjob, NORMAL, "JobAlreadyActive", message).await;
                return Ok(wake(now));
            }
            Some("Replace") => {
                for r in &active {
                    let name = r.name.clone().unwrap_or_default();
                    delete_job(&api, &name).await?;
                    self.events.record(&*cronjob, NORMAL, "SuccessfulDelete", &format!("Deleted job {name}")).await;
                }
                owned.retain(|j| !active.iter().any(|r| r.uid == j.metadata.uid));
                cronjob.status.get_or_insert_with(Default::default).active = None;
            }
            _ => {}
        }
        let job = job_from_template(cronjob, &job_name, scheduled, &tz);
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        let created = match api.create(&params, &job).await {
            Ok(job) => {
                self.events.record(&*cronjob, NORMAL, "SuccessfulCreate", &format!("Created job {job_name}")).await;
                job
            }
            // Created before, by this controller: the cache had not shown it yet.
            Err(kube::Error::Api(s)) if s.code == 409 => api.get(&job_name).await?,
            Err(e) => {
                self.events.record(&*cronjob, WARNING, "FailedCreate", &format!("Error creating job: {e}")).await;
                return Err(e.into());
            }
        };
        let status = cronjob.status.get_or_insert_with(Default::default);
        if !status.active.iter().flatten().any(|r| r.uid == created.metadata.uid) {
            status.active.get_or_insert_with(Vec::new).push(reference(&created));
        }
        status.last_schedule_time = Some(Time(scheduled));
        Ok(wake(now))
    }

    /// Delete the oldest finished Jobs beyond `successfulJobsHistoryLimit` (default 3) and
    /// `failedJobsHistoryLimit` (default 1).
    async fn clean_up_history(&self, cronjob: &CronJob, owned: &[Arc<Job>]) {
        let spec = cronjob.spec.clone().unwrap_or_default();
        let api = Api::<Job>::namespaced(self.client.clone(), &cronjob.namespace().unwrap_or_default());
        for (condition, limit) in
            [("Complete", spec.successful_jobs_history_limit), ("Failed", spec.failed_jobs_history_limit)]
        {
            let Some(limit) = limit else { continue };
            let mut finished: Vec<&Arc<Job>> = owned
                .iter()
                .filter(|j| is_finished(j) && finished_condition(j) == condition)
                .filter(|j| j.metadata.deletion_timestamp.is_none())
                .collect();
            finished.sort_by_key(|j| j.status.as_ref().and_then(|s| s.start_time.clone()).map(|t| t.0));
            let surplus = finished.len().saturating_sub(limit.max(0) as usize);
            for job in &finished[..surplus] {
                let name = job.name_any();
                match delete_job(&api, &name).await {
                    Ok(()) => {
                        self.events.record(cronjob, NORMAL, "SuccessfulDelete", &format!("Deleted job {name}")).await;
                    }
                    Err(error) => tracing::warn!(%error, job = name, "deleting a finished job failed"),
                }
            }
        }
    }
}

/// Delete a Job and, in the background, its pods. A Job already gone is not an error.
async fn delete_job(api: &Api<Job>, name: &str) -> Result<(), Error> {
    let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The Job of `cronjob`'s run at `scheduled` (upstream's `getJobFromTemplate2`).
pub fn job_from_template(cronjob: &CronJob, name: &str, scheduled: Timestamp, tz: &TimeZone) -> Job {
    let template = cronjob.spec.as_ref().map(|s| s.job_template.clone()).unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    let when = scheduled.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
    annotations.insert(SCHEDULED_TIMESTAMP.to_owned(), when.replace("+00:00", "Z"));
    Job {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: cronjob.namespace(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![controller_ref(cronjob)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{CronJobSpec, JobTemplateSpec};

    #[test]
    fn jobs_carry_the_template_owner_and_schedule_time() {
        let cronjob = CronJob {
            metadata: ObjectMeta {
                name: Some("hello".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                ..Default::default()
            },
            spec: Some(CronJobSpec {
                schedule: "0 9 * * *".into(),
                job_template: JobTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("app".to_owned(), "hello".to_owned())].into()),
                        ..Default::default()
                    }),
                    spec: None,
                },
                ..Default::default()
            }),
            status: None,
        };
        let scheduled: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let job = job_from_template(&cronjob, &timing::job_name("hello", scheduled), scheduled, &tokyo);
        assert_eq!(job.metadata.name.as_deref(), Some("hello-28928160"));
        assert_eq!(job.metadata.labels.unwrap()["app"], "hello");
        assert_eq!(job.metadata.annotations.unwrap()[SCHEDULED_TIMESTAMP], "2025-01-01T09:00:00+09:00");
        let owner = &job.metadata.owner_references.unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str(), owner.controller), ("CronJob", "u1", Some(true)));
    }
}
