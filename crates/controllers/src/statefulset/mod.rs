//! The StatefulSet controller (upstream's `StatefulSetController`): pods with a stable
//! [`identity`] `<set>-<ordinal>` and their claims, created and removed in order (or in
//! parallel), rolled to the newest template revision from the highest ordinal down to the
//! partition ([`sync`]), with the template history kept as ControllerRevisions.

pub mod identity;
pub mod sync;

use crate::history::{self, DEFAULT_HISTORY_LIMIT};
use crate::ownership::{Claim, Key, adopt, claim, dependent_key, release};
use crate::replicaset::ranking::is_ready;
use crate::replicaset::status::is_available;
use crate::{Error, FIELD_MANAGER};
use client_runtime::events::Recorder;
use client_runtime::informers::Informers;
use client_runtime::labels;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::sync::Arc;
use std::time::Duration;
use sync::{Revision, is_running_and_ready, revision_of};

/// upstream's `--concurrent-statefulset-syncs` is 5.
const WORKERS: usize = 2;

pub struct StatefulSetController {
    client: Client,
    sets: Store<StatefulSet>,
    pods: Store<Pod>,
    revisions: Store<ControllerRevision>,
    queue: WorkQueue<Key>,
    events: Recorder,
}

/// Run the StatefulSet controller until cancelled.
pub async fn run(client: Client, informers: Informers) -> Result<(), Error> {
    let (sets, pods, revisions) =
        (informers.all::<StatefulSet>(), informers.all::<Pod>(), informers.all::<ControllerRevision>());
    let queue = WorkQueue::new();
    let controller = Arc::new(StatefulSetController {
        client: client.clone(),
        sets: sets.store(),
        pods: pods.store(),
        revisions: revisions.store(),
        queue: queue.clone(),
        events: Recorder::new(client.clone(), FIELD_MANAGER, "statefulset-controller"),
    });
    sets.queue_changes(&queue, Key::of_owner);
    pods.queue_changes(&queue, |pod| dependent_key(&pod.metadata, "StatefulSet"));
    revisions.queue_changes(&queue, |revision| dependent_key(&revision.metadata, "StatefulSet"));
    let synced = async { sets.synced().await && pods.synced().await && revisions.synced().await };
    run_workers_when_synced(controller, queue, WORKERS, synced).await;
    Ok(())
}

impl Reconciler for StatefulSetController {
    type Key = Key;
    type Error = Error;
    const NAME: &'static str = "statefulset";

    async fn reconcile(&self, key: &Key) -> Result<Action, Error> {
        let Key::Owner { namespace, name } = key else {
            self.queue_owners_of_orphans(key);
            return Ok(Action::Done);
        };
        let Some(set) = self.sets.get(&ObjectRef::new(name).within(namespace)) else { return Ok(Action::Done) };
        let in_namespace: Vec<Arc<Pod>> =
            self.pods.state().into_iter().filter(|p| p.metadata.namespace.as_ref() == Some(namespace)).collect();
        let pods = self.claim_pods(&set, &in_namespace).await?;
        if set.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let spec = set.spec.clone().unwrap_or_default();
        let owned = history::owned_revisions(&self.revisions, set.as_ref());
        let collision_count = set.status.as_ref().and_then(|s| s.collision_count);
        let labels = spec.selector.match_labels.clone().unwrap_or_default();
        let (update_revision, _) =
            history::ensure_revision(&self.client, set.as_ref(), &owned, &spec.template, labels, collision_count)
                .await?;
        let update = Revision { name: update_revision.name_any(), template: spec.template.clone() };
        let current_name = set.status.as_ref().and_then(|s| s.current_revision.clone());
        let current = owned
            .iter()
            .find(|r| r.metadata.name.is_some() && r.metadata.name == current_name)
            .and_then(|r| Some(Revision { name: r.name_any(), template: history::template_of(r)? }))
            .unwrap_or_else(|| Revision { name: update.name.clone(), template: update.template.clone() });

        let failure = self.update_pods(&set, &pods, &current, &update).await.err();
        let status = status(&set, &pods, &current.name, &update.name, jiff::Timestamp::now());
        if set.status.as_ref() != Some(&status) {
            let mut updated = (*set).clone();
            updated.status = Some(status.clone());
            let api = Api::<StatefulSet>::namespaced(self.client.clone(), namespace);
            let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
            match api.replace_status(name, &params, &updated).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_conflict() || s.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut live: Vec<&str> = pods.iter().filter_map(|p| revision_of(p)).collect();
        live.extend([current.name.as_str(), update.name.as_str()]);
        let limit = spec.revision_history_limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
        history::truncate_history(&self.client, &owned, &live, limit).await?;
        if let Some(e) = failure {
            return Err(e);
        }
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let waiting = status.ready_replicas.unwrap_or(0) > status.available_replicas.unwrap_or(0);
        Ok(if min_ready > 0 && waiting {
            Action::RequeueAfter(Duration::from_secs(min_ready as u64))
        } else {
            Action::Done
        })
    }

    fn error_policy(&self, _key: &Key, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

impl StatefulSetController {
    fn queue_owners_of_orphans(&self, key: &Key) {
        let Key::OrphansIn(namespace) = key else { return };
        let orphans: Vec<Arc<Pod>> = self
            .pods
            .state()
            .into_iter()
            .filter(|p| p.metadata.namespace.as_ref() == Some(namespace))
            .filter(|p| crate::ownership::controller_of(&p.metadata).is_none())
            .collect();
        let sets: Vec<Arc<StatefulSet>> =
            self.sets.state().into_iter().filter(|s| s.namespace().as_ref() == Some(namespace)).collect();
        crate::ownership::queue_owners_of_orphans(&sets, &orphans, selects, &self.queue);
    }

    /// The pods `set` controls after adopting matching orphans named as its members and
    /// releasing those that stopped matching (upstream's `getPodsForStatefulSet`).
    async fn claim_pods<'a>(&self, set: &StatefulSet, pods: &'a [Arc<Pod>]) -> Result<Vec<&'a Pod>, Error> {
        let uid = set.metadata.uid.clone().unwrap_or_default();
        let deleting = set.metadata.deletion_timestamp.is_some();
        let api = Api::<Pod>::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        let mut owned = Vec::new();
        for pod in pods {
            match claim(&uid, deleting, &pod.metadata, selects(set, pod)) {
                Claim::Owned => owned.push(pod.as_ref()),
                Claim::Adopt => {
                    if adopt(&api, set, &pod.metadata).await? {
                        owned.push(pod.as_ref());
                    }
                }
                Claim::Release => {
                    release(&api, &uid, &pod.metadata).await?;
                }
                Claim::Ignore => {}
            }
        }
        Ok(owned)
    }
}

/// Whether `set` selects `pod` and the pod is named as one of its members.
fn selects(set: &StatefulSet, pod: &Pod) -> bool {
    let selector = set.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
    identity::ordinal_of(&set.name_any(), &pod.name_any()).is_some() && labels::selects(&selector, pod.labels())
}

/// The status of `set` with `pods` (upstream's `computeReplicaStatus` and `completeRollingUpdate`).
pub fn status(
    set: &StatefulSet,
    pods: &[&Pod],
    current: &str,
    update: &str,
    now: jiff::Timestamp,
) -> StatefulSetStatus {
    let min_ready = set.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let created: Vec<&&Pod> = pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()).is_some_and(|p| !p.is_empty()))
        .collect();
    let live = || created.iter().filter(|p| p.metadata.deletion_timestamp.is_none());
    let count = |n: usize| n as i32;
    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        replicas: count(created.len()),
        ready_replicas: Some(count(created.iter().filter(|p| is_running_and_ready(p)).count())),
        available_replicas: Some(count(
            created
                .iter()
                .filter(|p| is_running_and_ready(p) && is_ready(p) && is_available(p, min_ready, now))
                .count(),
        )),
        current_replicas: Some(count(live().filter(|p| revision_of(p) == Some(current)).count())),
        updated_replicas: Some(count(live().filter(|p| revision_of(p) == Some(update)).count())),
        current_revision: Some(current.to_owned()),
        update_revision: Some(update.to_owned()),
        collision_count: set.status.as_ref().and_then(|s| s.collision_count),
        conditions: set.status.as_ref().and_then(|s| s.conditions.clone()),
    };
    let rolling =
        set.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|u| u.type_.as_deref()) != Some("OnDelete");
    if rolling && status.updated_replicas == Some(status.replicas) && status.ready_replicas == Some(status.replicas) {
        status.current_replicas = status.updated_replicas;
        status.current_revision = status.update_revision.clone();
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str, revision: &str, ready: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some([(history::REVISION_LABEL.into(), revision.into())].into()),
                ..Default::default()
            },
            status: Some(PodStatus {
                phase: Some(if ready { "Running" } else { "Pending" }.into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn status_counts_revisions_and_completes_a_finished_rollout() {
        let set = StatefulSet {
            metadata: ObjectMeta { name: Some("web".into()), generation: Some(3), ..Default::default() },
            ..Default::default()
        };
        let pods = [pod("web-0", "web-a", true), pod("web-1", "web-b", false)];
        let refs: Vec<&Pod> = pods.iter().collect();
        let s = status(&set, &refs, "web-a", "web-b", jiff::Timestamp::now());
        assert_eq!((s.replicas, s.ready_replicas, s.available_replicas), (2, Some(1), Some(1)));
        assert_eq!((s.current_replicas, s.updated_replicas), (Some(1), Some(1)));
        assert_eq!(s.observed_generation, Some(3));
        let pods = [pod("web-0", "web-b", true), pod("web-1", "web-b", true)];
        let refs: Vec<&Pod> = pods.iter().collect();
        let s = status(&set, &refs, "web-a", "web-b", jiff::Timestamp::now());
        assert_eq!((s.current_revision.as_deref(), s.current_replicas), (Some("web-b"), Some(2)));
    }
}
