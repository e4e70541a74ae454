//! A Deployment's status (upstream's `calculateStatus` and `syncRolloutStatus`): counters
//! summed over its ReplicaSets, the `Available` condition, and the `Progressing` condition
//! with upstream's reasons, including `ProgressDeadlineExceeded`.

use super::rollout::{deployment_replicas, max_unavailable};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::time::Duration;

pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";
pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// Now, at the second precision the API keeps.
pub fn now() -> Time {
    let now = jiff::Timestamp::now();
    Time(jiff::Timestamp::from_second(now.as_second()).unwrap_or(now))
}

pub fn condition(type_: &str, status: &str, reason: &str, message: String) -> DeploymentCondition {
    let now = now();
    DeploymentCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

pub fn get<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

/// upstream's `SetDeploymentCondition`: nothing changes when status and reason are the
/// same; a condition keeps its transition time while its status does not change; the
/// set condition moves to the end.
pub fn set(status: &mut DeploymentStatus, mut new: DeploymentCondition) {
    if let Some(current) = get(status, &new.type_) {
        if current.status == new.status && current.reason == new.reason {
            return;
        }
        if current.status == new.status {
            new.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove(status, &new.type_.clone());
    status.conditions.get_or_insert_with(Vec::new).push(new);
}

pub fn remove(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
    }
}

pub fn has_progress_deadline(d: &Deployment) -> bool {
    let deadline = d.spec.as_ref().and_then(|s| s.progress_deadline_seconds);
    deadline.is_some_and(|s| s != i32::MAX)
}

fn sum(sets: &[&ReplicaSet], field: impl Fn(&k8s_openapi::api::apps::v1::ReplicaSetStatus) -> Option<i32>) -> i32 {
    sets.iter().filter_map(|rs| rs.status.as_ref().and_then(&field)).sum()
}

/// upstream's `calculateStatus`: counters over `all` ReplicaSets (the new one included) and
/// the `Available` condition.
pub fn calculate(d: &Deployment, all: &[&ReplicaSet], new_rs: Option<&ReplicaSet>) -> DeploymentStatus {
    let old = d.status.clone().unwrap_or_default();
    let available = sum(all, |s| s.available_replicas);
    let total: i32 = all.iter().map(|rs| super::rollout::replicas(rs)).sum();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(sum(all, |s| Some(s.replicas))),
        updated_replicas: Some(new_rs.map_or(0, |rs| sum(&[rs], |s| Some(s.replicas)))),
        ready_replicas: Some(sum(all, |s| s.ready_replicas)),
        available_replicas: Some(available),
        unavailable_replicas: Some((total - available).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions,
        terminating_replicas: None,
    };
    if available >= deployment_replicas(d) - max_unavailable(d) {
        let c = condition(AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.".to_owned());
        set(&mut status, c);
    } else {
        let c =
            condition(AVAILABLE, "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.".to_owned());
        set(&mut status, c);
    }
    status
}

fn counter(value: Option<i32>) -> i32 {
    value.unwrap_or(0)
}

/// Every pod updated and available, and the status is of the current generation.
pub fn complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let desired = deployment_replicas(d);
    counter(status.updated_replicas) == desired
        && counter(status.replicas) == desired
        && counter(status.available_replicas) == desired
        && status.observed_generation >= d.metadata.generation
}

/// Whether `new` shows progress over the Deployment's recorded status.
pub fn progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_old_replicas = counter(old.replicas) - counter(old.updated_replicas);
    let new_old_replicas = counter(new.replicas) - counter(new.updated_replicas);
    counter(new.updated_replicas) > counter(old.updated_replicas)
        || new_old_replicas < old_old_replicas
        || counter(new.ready_replicas) > counter(old.ready_replicas)
        || counter(new.available_replicas) > counter(old.available_replicas)
}

/// How long until the Progressing condition's last update passes the deadline; `None`
/// when there is no deadline to watch.
pub fn until_deadline(d: &Deployment, status: &DeploymentStatus) -> Option<jiff::SignedDuration> {
    if !has_progress_deadline(d) {
        return None;
    }
    let c = get(status, PROGRESSING)?;
    let reason = c.reason.as_deref();
    if reason == Some(NEW_RS_AVAILABLE) || reason == Some(TIMED_OUT) || complete(d, status) {
        return None;
    }
    let deadline = d.spec.as_ref().and_then(|s| s.progress_deadline_seconds).unwrap_or(600);
    let from = c.last_update_time.as_ref()?.0;
    Some((from + jiff::SignedDuration::from_secs(deadline.into())).duration_since(jiff::Timestamp::now()))
}

fn timed_out(d: &Deployment, status: &DeploymentStatus) -> bool {
    match get(status, PROGRESSING).and_then(|c| c.reason.as_deref()) {
        Some(TIMED_OUT) => true,
        Some(NEW_RS_AVAILABLE) | None => false,
        Some(_) => until_deadline(d, status).is_some_and(|left| left.is_negative()),
    }
}

/// upstream's `syncRolloutStatus` conditions: the status to write.
pub fn rollout_status(d: &Deployment, all: &[&ReplicaSet], new_rs: Option<&ReplicaSet>) -> DeploymentStatus {
    let mut status = calculate(d, all, new_rs);
    if !has_progress_deadline(d) {
        remove(&mut status, PROGRESSING);
        return status;
    }
    let current = d.status.as_ref().and_then(|s| get(s, PROGRESSING)).cloned();
    let is_complete = counter(status.replicas) == counter(status.updated_replicas)
        && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(NEW_RS_AVAILABLE);
    if is_complete {
        return status;
    }
    let subject = match new_rs {
        Some(rs) => format!("ReplicaSet {:?}", rs.metadata.name.clone().unwrap_or_default()),
        None => format!("Deployment {:?}", d.metadata.name.clone().unwrap_or_default()),
    };
    if complete(d, &status) {
        let c = condition(PROGRESSING, "True", NEW_RS_AVAILABLE, format!("{subject} has successfully progressed."));
        set(&mut status, c);
    } else if progressing(d, &status) {
        let mut c = condition(PROGRESSING, "True", RS_UPDATED, format!("{subject} is progressing."));
        if let Some(current) = current {
            if current.status == "True" {
                c.last_transition_time = current.last_transition_time;
            }
            remove(&mut status, PROGRESSING);
        }
        set(&mut status, c);
    } else if timed_out(d, &status) {
        let c = condition(PROGRESSING, "False", TIMED_OUT, format!("{subject} has timed out progressing."));
        set(&mut status, c);
    }
    status
}

/// When to look again for a stuck rollout's deadline (upstream's `requeueStuckDeployment`).
pub fn recheck_after(d: &Deployment, status: &DeploymentStatus) -> Option<Duration> {
    let left = until_deadline(d, status)?;
    Some(if left < jiff::SignedDuration::from_secs(1) {
        Duration::ZERO
    } else {
        Duration::try_from(left).unwrap_or_default() + Duration::from_secs(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, ReplicaSetStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn deployment(replicas: i32, status: DeploymentStatus) -> Deployment {
        Deployment {
            metadata: ObjectMeta { name: Some("web".into()), generation: Some(2), ..Default::default() },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                progress_deadline_seconds: Some(600),
                ..Default::default()
            }),
            status: Some(status),
        }
    }

    fn rs(name: &str, replicas: i32, ready: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: Some(k8s_openapi::api::apps::v1::ReplicaSetSpec { replicas: Some(replicas), ..Default::default() }),
            status: Some(ReplicaSetStatus {
                replicas,
                ready_replicas: Some(ready),
                available_replicas: Some(ready),
                ..Default::default()
            }),
        }
    }

    fn reason(status: &DeploymentStatus, type_: &str) -> String {
        get(status, type_).and_then(|c| c.reason.clone()).unwrap_or_default()
    }

    #[test]
    fn a_rollout_in_progress_then_complete() {
        let d = deployment(2, DeploymentStatus::default());
        let (old, new) = (rs("web-old", 2, 2), rs("web-new", 1, 0));
        let status = rollout_status(&d, &[&old, &new], Some(&new));
        assert_eq!((status.replicas, status.updated_replicas, status.available_replicas), (Some(3), Some(1), Some(2)));
        assert_eq!(reason(&status, AVAILABLE), MIN_AVAILABLE);
        assert_eq!(reason(&status, PROGRESSING), RS_UPDATED);
        assert_eq!(
            get(&status, PROGRESSING).unwrap().message.as_deref(),
            Some("ReplicaSet \"web-new\" is progressing.")
        );

        let d = deployment(2, status);
        let (old, new) = (rs("web-old", 0, 0), rs("web-new", 2, 2));
        let status = rollout_status(&d, &[&old, &new], Some(&new));
        assert_eq!(reason(&status, PROGRESSING), NEW_RS_AVAILABLE);
        assert!(complete(&d, &status));
        assert_eq!(recheck_after(&d, &status), None);
    }

    #[test]
    fn no_progress_past_the_deadline_times_out() {
        let mut stale = condition(PROGRESSING, "True", RS_UPDATED, "ReplicaSet \"web-new\" is progressing.".into());
        stale.last_update_time = Some(Time(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(700)));
        let status = DeploymentStatus {
            replicas: Some(1),
            updated_replicas: Some(1),
            conditions: Some(vec![stale]),
            ..Default::default()
        };
        let d = deployment(1, status);
        let new = rs("web-new", 1, 0);
        let status = rollout_status(&d, &[&new], Some(&new));
        let c = get(&status, PROGRESSING).unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_deref()), ("False", Some(TIMED_OUT)));
        assert_eq!(c.message.as_deref(), Some("ReplicaSet \"web-new\" has timed out progressing."));
        assert_eq!(reason(&status, AVAILABLE), MIN_UNAVAILABLE);
    }

    #[test]
    fn setting_the_same_reason_keeps_the_condition() {
        let mut status = DeploymentStatus::default();
        let mut first = condition(AVAILABLE, "True", MIN_AVAILABLE, "x".into());
        first.last_update_time = None;
        set(&mut status, first.clone());
        set(&mut status, condition(AVAILABLE, "True", MIN_AVAILABLE, "x".into()));
        assert_eq!(get(&status, AVAILABLE), Some(&first));
    }
}
