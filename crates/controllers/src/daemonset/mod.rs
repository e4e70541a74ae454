//! The DaemonSet controller (upstream's `DaemonSetsController`): one pod per node that the
//! pod template admits ([`placement`]), pinned to its node for the scheduler, replaced by
//! revision under `RollingUpdate` within `maxUnavailable` ([`sync`]), with the template
//! history kept as ControllerRevisions and upstream's status counters.

pub mod placement;
pub mod sync;

use crate::history::{self, DEFAULT_HISTORY_LIMIT, REVISION_LABEL};
use crate::ownership::{Claim, Key, adopt, claim, controller_of, controller_ref, dependent_key, release};
use crate::replicaset::expectations::Expectations;
use crate::replicaset::ranking::is_ready;
use crate::replicaset::status::is_available;
use crate::{Error, FIELD_MANAGER};
use client_runtime::events::{NORMAL, Recorder, WARNING};
use client_runtime::informers::Informers;
use client_runtime::labels;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// upstream's `--concurrent-daemonset-syncs` is 2.
const WORKERS: usize = 2;
/// The label with the set's generation upstream still puts on daemon pods.
const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";

/// A DaemonSet's key, or "the nodes changed" (which concerns every DaemonSet).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DaemonKey {
    Workload(Key),
    NodesChanged,
}

pub struct DaemonSetController {
    client: Client,
    sets: Store<DaemonSet>,
    pods: Store<Pod>,
    nodes: Store<Node>,
    revisions: Store<ControllerRevision>,
    queue: WorkQueue<DaemonKey>,
    expectations: Expectations,
    events: Recorder,
}

/// Run the DaemonSet controller until cancelled.
pub async fn run(client: Client, informers: Informers) -> Result<(), Error> {
    let (sets, pods, nodes, revisions) = (
        informers.all::<DaemonSet>(),
        informers.all::<Pod>(),
        informers.all::<Node>(),
        informers.all::<ControllerRevision>(),
    );
    let queue = WorkQueue::new();
    let controller = Arc::new(DaemonSetController {
        client: client.clone(),
        sets: sets.store(),
        pods: pods.store(),
        nodes: nodes.store(),
        revisions: revisions.store(),
        queue: queue.clone(),
        expectations: Expectations::default(),
        events: Recorder::new(client.clone(), FIELD_MANAGER, "daemonset-controller"),
    });
    let workload = |meta: &ObjectMeta| DaemonKey::Workload(dependent_key(meta, "DaemonSet"));
    sets.queue_changes(&queue, |ds| DaemonKey::Workload(Key::of_owner(ds)));
    pods.queue_changes(&queue, move |p| workload(&p.metadata));
    revisions.queue_changes(&queue, move |r| workload(&r.metadata));
    nodes.queue_changes(&queue, |_| DaemonKey::NodesChanged);
    let synced =
        async { sets.synced().await && pods.synced().await && nodes.synced().await && revisions.synced().await };
    run_workers_when_synced(controller, queue, WORKERS, synced).await;
    Ok(())
}

impl Reconciler for DaemonSetController {
    type Key = DaemonKey;
    type Error = Error;
    const NAME: &'static str = "daemonset";

    async fn reconcile(&self, key: &DaemonKey) -> Result<Action, Error> {
        let (namespace, name) = match key {
            DaemonKey::Workload(Key::Owner { namespace, name }) => (namespace, name),
            DaemonKey::Workload(Key::OrphansIn(namespace)) => {
                self.queue_sets(|ds| ds.namespace().as_ref() == Some(namespace));
                return Ok(Action::Done);
            }
            DaemonKey::NodesChanged => {
                self.queue_sets(|_| true);
                return Ok(Action::Done);
            }
        };
        let expectation_key = format!("{namespace}/{name}");
        let Some(ds) = self.sets.get(&ObjectRef::new(name).within(namespace)) else {
            self.expectations.forget(&expectation_key);
            return Ok(Action::Done);
        };
        let in_namespace: Vec<Arc<Pod>> =
            self.pods.state().into_iter().filter(|p| p.metadata.namespace.as_ref() == Some(namespace)).collect();
        let pods = self.claim_pods(&ds, &in_namespace).await?;
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let spec = ds.spec.clone().unwrap_or_default();
        let owned = history::owned_revisions(&self.revisions, ds.as_ref());
        let collision_count = ds.status.as_ref().and_then(|s| s.collision_count);
        let selector_labels = spec.selector.match_labels.clone().unwrap_or_default();
        let (revision, hash) = history::ensure_revision(
            &self.client,
            ds.as_ref(),
            &owned,
            &spec.template,
            selector_labels,
            collision_count,
        )
        .await?;

        let pod_spec = placement::with_daemon_tolerations(spec.template.spec.clone().unwrap_or_default());
        let nodes_state = self.nodes.state();
        let nodes: Vec<&Node> = nodes_state.iter().map(Arc::as_ref).collect();
        let eligible: Vec<String> =
            nodes.iter().filter(|n| placement::should_run(&pod_spec, n)).map(|n| n.name_any()).collect();
        let by_node = sync::pods_by_node(&pods);
        let now = jiff::Timestamp::now();
        let min_ready = spec.min_ready_seconds.unwrap_or(0);
        let mut failure = None;
        if self.expectations.satisfied(&expectation_key, &in_namespace) {
            let mut changes = sync::placement(&pod_spec, &nodes, &by_node);
            let rolling = spec.update_strategy.as_ref().and_then(|u| u.type_.as_deref()) != Some("OnDelete");
            if rolling && changes.create_on.is_empty() && changes.delete.is_empty() {
                let max = sync::max_unavailable(&ds, eligible.len() as i32);
                changes.delete = sync::rolling_deletions(&eligible, &by_node, &hash, max, min_ready, now);
            }
            failure = self.apply(&ds, &pod_spec, &hash, changes, &expectation_key).await.err();
        }

        let status = status(&ds, &eligible, &by_node, &hash, now);
        if ds.status.as_ref() != Some(&status) {
            let mut updated = (*ds).clone();
            updated.status = Some(status.clone());
            let api = Api::<DaemonSet>::namespaced(self.client.clone(), namespace);
            let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
            match api.replace_status(name, &params, &updated).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_conflict() || s.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut live: Vec<String> =
            pods.iter().filter_map(|p| p.labels().get(REVISION_LABEL)).map(|h| format!("{name}-{h}")).collect();
        live.push(revision.name_any());
        let live: Vec<&str> = live.iter().map(String::as_str).collect();
        let limit = spec.revision_history_limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
        history::truncate_history(&self.client, &owned, &live, limit).await?;
        if let Some(e) = failure {
            return Err(e);
        }
        let waiting = status.number_ready > status.number_available.unwrap_or(0);
        Ok(if min_ready > 0 && waiting {
            Action::RequeueAfter(Duration::from_secs(min_ready as u64))
        } else {
            Action::Done
        })
    }

    fn error_policy(&self, _key: &DaemonKey, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

impl DaemonSetController {
    fn queue_sets(&self, pick: impl Fn(&DaemonSet) -> bool) {
        for ds in self.sets.state().into_iter().filter(|ds| pick(ds)) {
            self.queue.add(DaemonKey::Workload(Key::of_owner(ds.as_ref())));
        }
    }

    /// The live pods `ds` controls after adopting matching orphans and releasing pods that
    /// stopped matching.
    async fn claim_pods<'a>(&self, ds: &DaemonSet, pods: &'a [Arc<Pod>]) -> Result<Vec<&'a Pod>, Error> {
        let uid = ds.metadata.uid.clone().unwrap_or_default();
        let deleting = ds.metadata.deletion_timestamp.is_some();
        let selector = ds.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
        let api = Api::<Pod>::namespaced(self.client.clone(), &ds.namespace().unwrap_or_default());
        let mut owned = Vec::new();
        for pod in pods {
            match claim(&uid, deleting, &pod.metadata, labels::selects(&selector, pod.labels())) {
                Claim::Owned => owned.push(pod.as_ref()),
                Claim::Adopt if controller_of(&pod.metadata).is_none() => {
                    if adopt(&api, ds, &pod.metadata).await? {
                        owned.push(pod.as_ref());
                    }
                }
                Claim::Release => {
                    release(&api, &uid, &pod.metadata).await?;
                }
                Claim::Adopt | Claim::Ignore => {}
            }
        }
        Ok(owned)
    }

    /// Create and delete pods as `changes` says, expecting to see the results in the cache.
    async fn apply(
        &self,
        ds: &DaemonSet,
        spec: &PodSpec,
        hash: &str,
        changes: sync::Changes<'_>,
        expectation_key: &str,
    ) -> Result<(), Error> {
        let api = Api::<Pod>::namespaced(self.client.clone(), &ds.namespace().unwrap_or_default());
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        let (mut created, mut deleted, mut failure) = (Vec::new(), Vec::new(), None);
        for node in &changes.create_on {
            match api.create(&params, &daemon_pod(ds, spec, hash, node)).await {
                Ok(pod) => {
                    let message = format!("Created pod: {}", pod.name_any());
                    self.events.record(ds, NORMAL, "SuccessfulCreate", &message).await;
                    created.push(pod.name_any());
                }
                Err(kube::Error::Api(s)) if crate::serviceaccount::is_namespace_terminating(&s) => break,
                Err(e) => {
                    self.events.record(ds, WARNING, "FailedCreate", &format!("Error creating: {e}")).await;
                    failure = Some(e.into());
                }
            }
        }
        for pod in changes.delete {
            match api.delete(&pod.name_any(), &DeleteParams::default()).await {
                Ok(_) => {
                    let message = format!("Deleted pod: {}", pod.name_any());
                    self.events.record(ds, NORMAL, "SuccessfulDelete", &message).await;
                    deleted.push(pod.metadata.uid.clone().unwrap_or_default());
                }
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => {
                    self.events.record(ds, WARNING, "FailedDelete", &format!("Error deleting: {e}")).await;
                    failure = Some(e.into());
                }
            }
        }
        self.expectations.expect(expectation_key, created, deleted);
        failure.map_or(Ok(()), Err)
    }
}

/// The daemon pod of `ds` for `node` (upstream's `CreatePodTemplate` plus the node affinity).
pub fn daemon_pod(ds: &DaemonSet, spec: &PodSpec, hash: &str, node: &str) -> Pod {
    let meta = ds.spec.as_ref().and_then(|s| s.template.metadata.clone()).unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(REVISION_LABEL.to_owned(), hash.to_owned());
    labels.insert(TEMPLATE_GENERATION_LABEL.to_owned(), ds.metadata.generation.unwrap_or(0).to_string());
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", ds.name_any())),
            namespace: ds.namespace(),
            labels: Some(labels),
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![controller_ref(ds)]),
            ..Default::default()
        },
        spec: Some(placement::pinned_to(spec.clone(), node)),
        status: None,
    }
}

/// upstream's `updateDaemonSetStatus` counters over the eligible nodes and the set's pods.
pub fn status(
    ds: &DaemonSet,
    eligible: &[String],
    by_node: &BTreeMap<String, Vec<&Pod>>,
    hash: &str,
    now: jiff::Timestamp,
) -> DaemonSetStatus {
    let min_ready = ds.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let (mut scheduled, mut ready, mut available, mut updated) = (0, 0, 0, 0);
    for node in eligible {
        let Some(pods) = by_node.get(node).filter(|p| !p.is_empty()) else { continue };
        scheduled += 1;
        // upstream looks at the oldest pod of the node.
        let pod = pods.iter().min_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0)).copied();
        let Some(pod) = pod else { continue };
        if is_ready(pod) {
            ready += 1;
            if is_available(pod, min_ready, now) {
                available += 1;
            }
        }
        if pod.labels().get(REVISION_LABEL).map(String::as_str) == Some(hash) {
            updated += 1;
        }
    }
    let misscheduled = by_node.iter().filter(|(node, pods)| !pods.is_empty() && !eligible.contains(node)).count();
    let desired = eligible.len() as i32;
    DaemonSetStatus {
        desired_number_scheduled: desired,
        current_number_scheduled: scheduled,
        number_misscheduled: misscheduled as i32,
        number_ready: ready,
        updated_number_scheduled: Some(updated),
        number_available: Some(available),
        number_unavailable: Some(desired - available),
        observed_generation: ds.metadata.generation,
        collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
        conditions: ds.status.as_ref().and_then(|s| s.conditions.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DaemonSetSpec;
    use k8s_openapi::api::core::v1::PodTemplateSpec;

    #[test]
    fn daemon_pods_carry_the_revision_and_are_pinned() {
        let ds = DaemonSet {
            metadata: ObjectMeta {
                name: Some("agent".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                generation: Some(2),
                ..Default::default()
            },
            spec: Some(DaemonSetSpec {
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("app".into(), "a".into())].into()),
                        ..Default::default()
                    }),
                    spec: None,
                },
                ..Default::default()
            }),
            status: None,
        };
        let pod = daemon_pod(&ds, &PodSpec::default(), "h1", "n1");
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!((labels["app"].as_str(), labels[REVISION_LABEL].as_str()), ("a", "h1"));
        assert_eq!(labels[TEMPLATE_GENERATION_LABEL], "2");
        assert_eq!(placement::target_node(&pod), Some("n1"));
        let pods = [&pod];
        let by_node = sync::pods_by_node(&pods);
        let s = status(&ds, &["n1".into(), "n2".into()], &by_node, "h1", jiff::Timestamp::now());
        assert_eq!((s.desired_number_scheduled, s.current_number_scheduled, s.number_ready), (2, 1, 0));
        assert_eq!((s.updated_number_scheduled, s.number_unavailable), (Some(1), Some(2)));
    }
}
