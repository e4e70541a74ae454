//! The annotations a Deployment keeps on its ReplicaSets (upstream's
//! `deployment/util`): the revision (and the revisions a rolled-back ReplicaSet had), the
//! desired and maximum replicas used for proportional scaling, and the Deployment's own
//! annotations such as `kubernetes.io/change-cause`, which `kubectl rollout history` shows.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use std::collections::BTreeMap;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// upstream's `maxRevHistoryLengthInChars`.
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// The Deployment annotations never copied to its ReplicaSets.
fn skip_copy(key: &str) -> bool {
    [LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO].contains(&key)
}

/// A ReplicaSet's revision; 0 without one (or with an unreadable one).
pub fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata.annotations.as_ref().and_then(|a| a.get(REVISION)).and_then(|r| r.parse().ok()).unwrap_or(0)
}

/// The highest revision among `sets`.
pub fn max_revision<'a>(sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    sets.into_iter().map(revision).max().unwrap_or(0)
}

/// Copy the Deployment's annotations (except its own bookkeeping) onto `rs`; whether any changed.
fn copy_deployment_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (k, v) in d.metadata.annotations.iter().flatten().filter(|(k, _)| !skip_copy(k)) {
        if annotations.get(k) != Some(v) {
            annotations.insert(k.clone(), v.clone());
            changed = true;
        }
    }
    changed
}

/// upstream's `SetNewReplicaSetAnnotations`: the Deployment's annotations, `new_revision`
/// when it is higher (keeping the revisions it had in `revision-history`, which is how a
/// rollback shows), and for a ReplicaSet about to be created its replica annotations.
/// Returns whether anything changed.
pub fn set_new_replica_set_annotations(d: &Deployment, rs: &mut ReplicaSet, new_revision: i64, exists: bool) -> bool {
    let mut changed = copy_deployment_annotations(d, rs);
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let old = annotations.get(REVISION).cloned();
    let old_revision = match old.as_deref().map(str::parse::<i64>) {
        None => 0,
        Some(Ok(r)) => r,
        Some(Err(_)) => return changed,
    };
    if old_revision < new_revision {
        annotations.insert(REVISION.to_owned(), new_revision.to_string());
        changed = true;
        if let Some(old) = old {
            let history = annotations.get(REVISION_HISTORY).cloned().unwrap_or_default();
            if history.is_empty() {
                annotations.insert(REVISION_HISTORY.to_owned(), old);
            } else {
                let mut revisions: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                let mut start = 0;
                while total > MAX_REVISION_HISTORY_CHARS && start < revisions.len() {
                    total -= revisions[start].len() + 1;
                    start += 1;
                }
                if total <= MAX_REVISION_HISTORY_CHARS {
                    revisions.drain(..start);
                    revisions.push(&old);
                    annotations.insert(REVISION_HISTORY.to_owned(), revisions.join(","));
                }
            }
        }
    }
    if !exists {
        let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        changed |= set_replicas_annotations(rs, replicas, replicas + super::rollout::max_surge(d));
    }
    changed
}

/// Record the Deployment's `desired` and `max` (desired plus surge) replicas on `rs`;
/// whether they changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        if annotations.get(key) != Some(&value.to_string()) {
            annotations.insert(key.to_owned(), value.to_string());
            changed = true;
        }
    }
    changed
}

/// An annotation of `rs` read as a number.
pub fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata.annotations.as_ref()?.get(key)?.parse().ok()
}

/// Set the Deployment's revision annotation to `revision`; whether it changed.
pub fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let annotations = d.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if annotations.get(REVISION).map(String::as_str) == Some(revision) {
        return false;
    }
    annotations.insert(REVISION.to_owned(), revision.to_owned());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn deployment(annotations: &[(&str, &str)]) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                annotations: Some(annotations.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_new_replica_set_gets_the_revision_change_cause_and_replica_counts() {
        let d = deployment(&[("kubernetes.io/change-cause", "kubectl set image"), (REVISION, "4")]);
        let mut rs = ReplicaSet::default();
        assert!(set_new_replica_set_annotations(&d, &mut rs, 1, false));
        let a = rs.metadata.annotations.unwrap();
        assert_eq!(a[REVISION], "1");
        assert_eq!(a["kubernetes.io/change-cause"], "kubectl set image");
        assert_eq!((a[DESIRED_REPLICAS].as_str(), a[MAX_REPLICAS].as_str()), ("1", "2"));
        assert!(!a.contains_key(REVISION_HISTORY));
    }

    #[test]
    fn a_rolled_back_replica_set_keeps_its_old_revisions() {
        let d = deployment(&[]);
        let mut rs = ReplicaSet::default();
        set_new_replica_set_annotations(&d, &mut rs, 1, true);
        set_new_replica_set_annotations(&d, &mut rs, 3, true);
        set_new_replica_set_annotations(&d, &mut rs, 5, true);
        assert_eq!(revision(&rs), 5);
        assert_eq!(rs.metadata.annotations.as_ref().unwrap()[REVISION_HISTORY], "1,3");
        assert!(!set_new_replica_set_annotations(&d, &mut rs, 5, true), "the same revision changes nothing");
    }
}
