//! The Deployment controller (upstream's `DeploymentController`): a Deployment owns one
//! ReplicaSet per template, named `<deployment>-<pod-template-hash>` ([`hash`]) and carrying
//! that label, and moves pods from old to new ones by its strategy — a rolling update within
//! `maxSurge`/`maxUnavailable` ([`rollout`]) or Recreate — keeping revisions and the
//! change cause in [`annotations`], old ReplicaSets up to `revisionHistoryLimit`, and its
//! [`conditions`]. A paused Deployment only scales; a rollback (`kubectl rollout undo`)
//! is a template change back to an old ReplicaSet's, which becomes the new one again.

pub mod annotations;
pub mod conditions;
pub mod hash;
pub mod rollout;
mod sync;

use crate::ownership::{Key, controller_of, dependent_key, queue_owners_of_orphans};
use crate::{Error, FIELD_MANAGER};
use client_runtime::events::{Recorder, WARNING};
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use rollout::{deployment_replicas, replicas};
use std::sync::Arc;

pub const COMPONENT: &str = "deployment-controller";
/// upstream's `--concurrent-deployment-syncs` is 5.
const WORKERS: usize = 2;

pub struct DeploymentController {
    client: Client,
    deployments: Store<Deployment>,
    replica_sets: Store<ReplicaSet>,
    queue: WorkQueue<Key>,
    events: Recorder,
}

/// Watch Deployments and ReplicaSets and roll Deployments out. Runs until cancelled.
pub async fn run(client: Client, informers: Informers) -> Result<(), Error> {
    let (deployments, replica_sets) = (informers.all::<Deployment>(), informers.all::<ReplicaSet>());
    let queue = WorkQueue::new();
    let controller = Arc::new(DeploymentController {
        client: client.clone(),
        deployments: deployments.store(),
        replica_sets: replica_sets.store(),
        queue: queue.clone(),
        events: Recorder::new(client.clone(), FIELD_MANAGER, COMPONENT),
    });
    deployments.queue_changes(&queue, Key::of_owner);
    replica_sets.queue_changes(&queue, |rs| dependent_key(&rs.metadata, "Deployment"));
    let synced = async { deployments.synced().await && replica_sets.synced().await };
    run_workers_when_synced(controller, queue, WORKERS, synced).await;
    Ok(())
}

impl Reconciler for DeploymentController {
    type Key = Key;
    type Error = Error;
    const NAME: &'static str = "deployment";

    async fn reconcile(&self, key: &Key) -> Result<Action, Error> {
        let (namespace, name) = match key {
            Key::Owner { namespace, name } => (namespace, name),
            Key::OrphansIn(namespace) => {
                self.queue_owners_of_orphans(namespace);
                return Ok(Action::Done);
            }
        };
        let Some(cached) = self.deployments.get(&ObjectRef::new(name).within(namespace)) else {
            return Ok(Action::Done);
        };
        let mut d = (*cached).clone();
        let selector = d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
        if selector == LabelSelector::default() {
            let message = "This deployment is selecting all pods. A non-empty selector is required.";
            self.events.record(&d, WARNING, "SelectingAll", message).await;
            return Ok(Action::Done);
        }
        let mut sets = self.claim_replica_sets(&d).await?;
        if d.metadata.deletion_timestamp.is_some() {
            let new = find_new(&d, &sets);
            self.sync_status(&mut d, &sets, new).await?;
            return Ok(Action::Done);
        }
        self.check_paused_conditions(&mut d).await?;
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused || is_scaling_event(&d, &sets) {
            self.sync(&mut d, &mut sets).await?;
            return Ok(Action::Done);
        }
        if rollout::is_recreate(&d) {
            self.rollout_recreate(&mut d, &mut sets).await?;
        } else {
            self.rollout_rolling(&mut d, &mut sets).await?;
        }
        let status = d.status.clone().unwrap_or_default();
        Ok(conditions::recheck_after(&d, &status).map_or(Action::Done, Action::RequeueAfter))
    }

    fn error_policy(&self, _key: &Key, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

impl DeploymentController {
    fn queue_owners_of_orphans(&self, namespace: &str) {
        let in_namespace = |ns: Option<String>| ns.as_deref() == Some(namespace);
        let owners: Vec<Arc<Deployment>> =
            self.deployments.state().into_iter().filter(|d| in_namespace(d.namespace())).collect();
        let orphans: Vec<Arc<ReplicaSet>> = self
            .replica_sets
            .state()
            .into_iter()
            .filter(|rs| in_namespace(rs.namespace()) && controller_of(&rs.metadata).is_none())
            .collect();
        queue_owners_of_orphans(&owners, &orphans, selects, &self.queue);
    }

    /// upstream's `rolloutRolling`: grow the new ReplicaSet within the surge, shrink old ones
    /// within the unavailability budget, clean up once complete, and report.
    async fn rollout_rolling(&self, d: &mut Deployment, sets: &mut Vec<ReplicaSet>) -> Result<(), Error> {
        let new = self.new_replica_set(d, sets, true).await?;
        if let Some(n) = new {
            let desired = deployment_replicas(d);
            let size = replicas(&sets[n]);
            let target = if size > desired {
                desired
            } else {
                let all: Vec<&ReplicaSet> = sets.iter().collect();
                rollout::new_rs_new_replicas(d, &all, &sets[n])
            };
            if target != size && self.scale(d, &mut sets[n], target).await? {
                return self.sync_rollout_status(d, sets, new).await;
            }
        }
        if self.scale_down_old(d, sets, new).await? {
            return self.sync_rollout_status(d, sets, new).await;
        }
        if conditions::complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(d, sets, new).await?;
        }
        self.sync_rollout_status(d, sets, new).await
    }

    /// upstream's `reconcileOldReplicaSets`; whether any old ReplicaSet shrank.
    async fn scale_down_old(&self, d: &Deployment, sets: &mut [ReplicaSet], new: Option<usize>) -> Result<bool, Error> {
        let old: Vec<usize> = (0..sets.len()).filter(|i| Some(*i) != new).collect();
        if old.iter().map(|&i| replicas(&sets[i])).sum::<i32>() == 0 {
            return Ok(false);
        }
        let all: Vec<&ReplicaSet> = sets.iter().collect();
        let budget = rollout::old_scale_down_budget(d, &all, new.map(|n| &sets[n]));
        if budget <= 0 {
            return Ok(false);
        }
        let old_refs: Vec<&ReplicaSet> = old.iter().map(|&i| &sets[i]).collect();
        let (unhealthy, cleaned) = rollout::cleanup_unhealthy(&old_refs, budget);
        let mut scaled = cleaned > 0;
        for (i, size) in unhealthy {
            self.scale(d, &mut sets[old[i]], size).await?;
        }
        let available_total: i32 = sets.iter().map(rollout::available).sum();
        let old_refs: Vec<&ReplicaSet> = old.iter().map(|&i| &sets[i]).collect();
        for (i, size) in rollout::scale_down_old_for_rolling_update(d, &old_refs, available_total) {
            scaled |= self.scale(d, &mut sets[old[i]], size).await?;
        }
        Ok(scaled)
    }

    /// upstream's `rolloutRecreate`: every old pod goes before the new ReplicaSet grows.
    async fn rollout_recreate(&self, d: &mut Deployment, sets: &mut Vec<ReplicaSet>) -> Result<(), Error> {
        let mut new = self.new_replica_set(d, sets, false).await?;
        let mut scaled_down = false;
        for i in (0..sets.len()).filter(|i| Some(*i) != new) {
            if replicas(&sets[i]) > 0 {
                scaled_down |= self.scale(d, &mut sets[i], 0).await?;
            }
        }
        let old_running = (0..sets.len())
            .filter(|i| Some(*i) != new)
            .any(|i| sets[i].status.as_ref().is_some_and(|s| s.replicas > 0));
        if scaled_down || old_running {
            return self.sync_rollout_status(d, sets, new).await;
        }
        if new.is_none() {
            new = self.new_replica_set(d, sets, true).await?;
        }
        if let Some(n) = new {
            self.scale(d, &mut sets[n], deployment_replicas(d)).await?;
        }
        if conditions::complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(d, sets, new).await?;
        }
        self.sync_rollout_status(d, sets, new).await
    }

    /// upstream's `sync` for paused Deployments and scaling events: resize without rolling
    /// out, clean up when paused, and report.
    async fn sync(&self, d: &mut Deployment, sets: &mut Vec<ReplicaSet>) -> Result<(), Error> {
        let new = self.new_replica_set(d, sets, false).await?;
        self.scale_all(d, sets, new).await?;
        if d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
            self.cleanup(d, sets, new).await?;
        }
        self.sync_status(d, sets, new).await
    }

    /// upstream's `scale`: the one active (or latest) ReplicaSet takes the new size; a
    /// saturated new ReplicaSet leaves old ones at zero; otherwise sizes change in proportion.
    async fn scale_all(&self, d: &Deployment, sets: &mut [ReplicaSet], new: Option<usize>) -> Result<(), Error> {
        let desired = deployment_replicas(d);
        let active: Vec<usize> = (0..sets.len()).filter(|&i| replicas(&sets[i]) > 0).collect();
        let only = match active.as_slice() {
            [] => new.or_else(|| newest_old(sets, new)),
            [one] => Some(*one),
            _ => None,
        };
        if let Some(i) = only {
            if replicas(&sets[i]) != desired {
                self.scale(d, &mut sets[i], desired).await?;
            }
            return Ok(());
        }
        if let Some(n) = new.filter(|&n| is_saturated(d, &sets[n])) {
            for i in active.into_iter().filter(|&i| i != n) {
                self.scale(d, &mut sets[i], 0).await?;
            }
            return Ok(());
        }
        if !rollout::is_recreate(d) {
            let refs: Vec<&ReplicaSet> = active.iter().map(|&i| &sets[i]).collect();
            let mut sizes: Vec<(usize, i32)> = active.iter().map(|&i| (i, replicas(&sets[i]))).collect();
            for (k, size) in rollout::proportional_sizes(d, &refs) {
                sizes[k].1 = size;
            }
            for (i, size) in sizes {
                self.scale(d, &mut sets[i], size).await?;
            }
        }
        Ok(())
    }
}

/// Whether `d`'s selector takes `rs`.
fn selects(d: &Deployment, rs: &ReplicaSet) -> bool {
    d.spec.as_ref().is_some_and(|s| client_runtime::labels::selects(&s.selector, rs.labels()))
}

/// The ReplicaSet whose template is the Deployment's, oldest first (upstream's `FindNewReplicaSet`).
pub fn find_new(d: &Deployment, sets: &[ReplicaSet]) -> Option<usize> {
    let template = d.spec.as_ref().map(|s| &s.template)?;
    let mut order: Vec<usize> = (0..sets.len()).collect();
    order.sort_by(|&a, &b| rollout::created(&sets[a]).cmp(&rollout::created(&sets[b])));
    order.into_iter().find(|&i| {
        sets[i].spec.as_ref().and_then(|s| s.template.as_ref()).is_some_and(|t| equal_ignore_hash(t, template))
    })
}

/// Templates equal but for the `pod-template-hash` label.
pub fn equal_ignore_hash(
    a: &k8s_openapi::api::core::v1::PodTemplateSpec,
    b: &k8s_openapi::api::core::v1::PodTemplateSpec,
) -> bool {
    let strip = |t: &k8s_openapi::api::core::v1::PodTemplateSpec| {
        let mut t = t.clone();
        if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(hash::POD_TEMPLATE_HASH_LABEL);
        }
        t
    };
    strip(a) == strip(b)
}

/// Some active ReplicaSet was sized for a different replica count (upstream's `isScalingEvent`).
fn is_scaling_event(d: &Deployment, sets: &[ReplicaSet]) -> bool {
    let desired = deployment_replicas(d);
    sets.iter()
        .filter(|rs| replicas(rs) > 0)
        .filter_map(|rs| annotations::int_annotation(rs, annotations::DESIRED_REPLICAS))
        .any(|annotated| annotated != desired)
}

/// The new ReplicaSet has all the desired pods, all available.
fn is_saturated(d: &Deployment, rs: &ReplicaSet) -> bool {
    let desired = deployment_replicas(d);
    annotations::int_annotation(rs, annotations::DESIRED_REPLICAS) == Some(desired)
        && replicas(rs) == desired
        && rollout::available(rs) == desired
}

fn newest_old(sets: &[ReplicaSet], new: Option<usize>) -> Option<usize> {
    (0..sets.len()).filter(|&i| Some(i) != new).max_by_key(|&i| rollout::created(&sets[i]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, ReplicaSetSpec};
    use k8s_openapi::api::core::v1::PodTemplateSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn template(labels: &[(&str, &str)]) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
                ..Default::default()
            }),
            spec: None,
        }
    }

    #[test]
    fn the_new_replica_set_has_the_template_but_for_the_hash_label() {
        let d = Deployment {
            spec: Some(DeploymentSpec { template: template(&[("app", "web")]), ..Default::default() }),
            ..Default::default()
        };
        let rs = |labels: &[(&str, &str)], desired: &str| ReplicaSet {
            metadata: ObjectMeta {
                annotations: Some([(annotations::DESIRED_REPLICAS.to_owned(), desired.to_owned())].into()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec { replicas: Some(1), template: Some(template(labels)), ..Default::default() }),
            status: None,
        };
        let sets = [rs(&[("app", "db")], "1"), rs(&[("app", "web"), ("pod-template-hash", "abc")], "1")];
        assert_eq!(find_new(&d, &sets), Some(1));
        assert!(!is_scaling_event(&d, &sets), "replicas default to 1");
        assert!(is_scaling_event(&d, &[rs(&[("app", "web")], "3")]));
    }
}
