//! The scheduler's loop: caches of nodes, pods, Services and ReplicaSets kept by watches;
//! pending pods fed into the [`SchedulingQueue`]; one pod at a time taken from it,
//! placed by [`cycle::schedule`] on a snapshot of the caches and bound through
//! `pods/binding`. A pod is "assumed" on its node from the decision until the watch shows
//! it bound, so the next decision already counts it. A pod that fits nowhere may preempt
//! lower-priority pods ([`preemption`]); it is then nominated to that node, where less
//! important pods see its room as taken, and retried once the victims are gone.

use crate::cycle;
use crate::framework::{FilterPlugin, NodeInfo, ScorePlugin, Snapshot, pod_priority};
use crate::plugins::{default_filters, default_scores};
use crate::preemption::{self, Decision, evict};
use crate::queue::{Outcome, SchedulingQueue};
use crate::report::Reporter;
use crate::{Error, SCHEDULER_NAME};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as watch};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

type PodKey = (String, String);

pub struct Scheduler {
    client: kube::Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    services: Store<Service>,
    replica_sets: Store<ReplicaSet>,
    pdbs: Store<PodDisruptionBudget>,
    queue: SchedulingQueue<PodKey>,
    /// Pods decided but not yet seen bound: key → (node, pod).
    assumed: Mutex<HashMap<PodKey, (String, Arc<Pod>)>>,
    /// Nominations written but maybe not yet seen by the watch: key → node (`""`: cleared).
    nominations: Mutex<HashMap<PodKey, String>>,
    filters: Vec<Box<dyn FilterPlugin>>,
    scorers: Vec<Box<dyn ScorePlugin>>,
    reporter: Reporter,
    decisions: AtomicUsize,
}

fn key_of(pod: &Pod) -> PodKey {
    (pod.metadata.namespace.clone().unwrap_or_default(), pod.metadata.name.clone().unwrap_or_default())
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty())
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// Whether this scheduler should place `pod`: unbound, ours, alive.
fn wants_scheduling(pod: &Pod) -> bool {
    let ours = pod.spec.as_ref().and_then(|s| s.scheduler_name.as_deref()).is_none_or(|n| n == SCHEDULER_NAME);
    ours && node_name(pod).is_none() && pod.metadata.deletion_timestamp.is_none() && !is_terminal(pod)
}

fn nominated_node(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()).unwrap_or_default()
}

/// What of a node can change where pods fit; heartbeats that change none of it are ignored.
fn schedulable_fingerprint(node: &Node) -> String {
    let spec = node.spec.as_ref();
    let status = node.status.as_ref();
    json!([
        node.metadata.labels,
        spec.and_then(|s| s.taints.clone()),
        spec.and_then(|s| s.unschedulable),
        status.and_then(|s| s.allocatable.clone()),
    ])
    .to_string()
}

impl Scheduler {
    /// Run until the watches end (they retry forever, so until cancelled).
    pub async fn run(client: kube::Client) -> Result<(), Error> {
        let (pods, pod_writer) = reflector::store();
        let (nodes, node_writer) = reflector::store();
        let (services, service_writer) = reflector::store();
        let (replica_sets, replica_set_writer) = reflector::store();
        let (pdbs, pdb_writer) = reflector::store();
        let scheduler = Arc::new(Scheduler {
            client: client.clone(),
            pods,
            nodes,
            services,
            replica_sets,
            pdbs,
            queue: SchedulingQueue::new(),
            assumed: Mutex::new(HashMap::new()),
            nominations: Mutex::new(HashMap::new()),
            filters: default_filters(),
            scorers: default_scores(),
            reporter: Reporter::new(client.clone()),
            decisions: AtomicUsize::new(0),
        });
        let pod_events = {
            let scheduler = scheduler.clone();
            watch_with(Api::<Pod>::all(client.clone()), pod_writer, move |event| scheduler.on_pod(event))
        };
        let node_events = {
            let scheduler = scheduler.clone();
            let mut seen: HashMap<String, String> = HashMap::new();
            watch_with(Api::<Node>::all(client.clone()), node_writer, move |event| {
                let (node, deleted) = match event {
                    Event::Apply(node) | Event::InitApply(node) => (node, false),
                    Event::Delete(node) => (node, true),
                    Event::Init | Event::InitDone => return,
                };
                let name = node.metadata.name.clone().unwrap_or_default();
                let changed = if deleted {
                    seen.remove(&name).is_some()
                } else {
                    let fingerprint = schedulable_fingerprint(node);
                    seen.insert(name, fingerprint.clone()).as_ref() != Some(&fingerprint)
                };
                if changed {
                    scheduler.queue.move_all();
                }
            })
        };
        let service_events = watch_with(Api::<Service>::all(client.clone()), service_writer, |_| {});
        let replica_set_events = watch_with(Api::<ReplicaSet>::all(client.clone()), replica_set_writer, |_| {});
        let pdb_events = watch_with(Api::<PodDisruptionBudget>::all(client.clone()), pdb_writer, |_| {});
        let scheduling = scheduler.clone().schedule_pods();
        tokio::join!(pod_events, node_events, service_events, replica_set_events, pdb_events, scheduling);
        Ok(())
    }

    fn on_pod(&self, event: &Event<Pod>) {
        match event {
            Event::Apply(pod) | Event::InitApply(pod) => {
                let key = key_of(pod);
                if wants_scheduling(pod) {
                    let mut nominations = self.lock_nominations();
                    // The watch caught up with what was written.
                    if nominations.get(&key).is_some_and(|node| node == nominated_node(pod)) {
                        nominations.remove(&key);
                    }
                    drop(nominations);
                    self.queue.add(key, pod_priority(pod));
                } else {
                    self.lock_nominations().remove(&key);
                    self.queue.delete(&key);
                }
            }
            Event::Delete(pod) => {
                let key = key_of(pod);
                self.queue.delete(&key);
                self.lock_nominations().remove(&key);
                self.reporter.forget(&key.0, &key.1);
                let was_assumed = self.lock_assumed().remove(&key).is_some();
                // A bound pod going away frees room on its node.
                if node_name(pod).is_some() || was_assumed {
                    self.queue.move_all();
                }
            }
            Event::Init | Event::InitDone => {}
        }
    }

    fn lock_assumed(&self) -> std::sync::MutexGuard<'_, HashMap<PodKey, (String, Arc<Pod>)>> {
        self.assumed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_nominations(&self) -> std::sync::MutexGuard<'_, HashMap<PodKey, String>> {
        self.nominations.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn schedule_pods(self: Arc<Self>) {
        // Deciding on half-listed caches would overcommit nodes or miss them.
        let synced = tokio::try_join!(
            self.pods.wait_until_ready(),
            self.nodes.wait_until_ready(),
            self.services.wait_until_ready(),
            self.replica_sets.wait_until_ready(),
            self.pdbs.wait_until_ready(),
        );
        if synced.is_err() {
            return;
        }
        while let Some(key) = self.queue.pop().await {
            let outcome = self.schedule_one(&key).await;
            self.queue.done(&key, outcome);
        }
    }

    /// The cluster as the caches and the assumed pods show it.
    fn snapshot(&self) -> Snapshot {
        let mut nodes: Vec<NodeInfo> = self.nodes.state().into_iter().map(NodeInfo::new).collect();
        nodes.sort_by(|a, b| a.name().cmp(b.name()));
        let index: HashMap<String, usize> = nodes.iter().enumerate().map(|(i, n)| (n.name().to_owned(), i)).collect();
        for pod in self.pods.state() {
            if let Some(&i) = node_name(&pod).and_then(|name| index.get(name))
                && !is_terminal(&pod)
            {
                nodes[i].add_pod(pod);
            }
        }
        let mut assumed = self.lock_assumed();
        assumed.retain(|key, _| {
            let cached = self.pods.get(&ObjectRef::new(&key.1).within(&key.0));
            cached.is_some_and(|pod| node_name(&pod).is_none())
        });
        for (node, pod) in assumed.values() {
            if let Some(&i) = index.get(node) {
                nodes[i].add_pod(pod.clone());
            }
        }
        let nominations = self.lock_nominations();
        let mut nominated: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
        for pod in self.pods.state().into_iter().filter(|pod| wants_scheduling(pod)) {
            let key = key_of(&pod);
            let node = nominations.get(&key).map_or(nominated_node(&pod), String::as_str);
            if !node.is_empty() && !assumed.contains_key(&key) && index.contains_key(node) {
                nominated.entry(node.to_owned()).or_default().push(pod.clone());
            }
        }
        Snapshot { nodes, services: self.services.state(), replica_sets: self.replica_sets.state(), nominated }
    }

    async fn schedule_one(&self, key: &PodKey) -> Outcome {
        let Some(pod) = self.pods.get(&ObjectRef::new(&key.1).within(&key.0)) else { return Outcome::Scheduled };
        if !wants_scheduling(&pod) || self.lock_assumed().contains_key(key) {
            return Outcome::Scheduled;
        }
        let snapshot = self.snapshot();
        let turn = self.decisions.fetch_add(1, Ordering::Relaxed);
        let nominated = self.as_nominated(key, &pod);
        match cycle::schedule(&nominated, &snapshot, &self.filters, &self.scorers, turn) {
            Ok(node) => self.bind(key, pod, node).await,
            Err(mut fit) => {
                let pdbs = self.pdbs.state();
                let now = jiff::Timestamp::now();
                let decision = preemption::preempt(&nominated, &snapshot, &fit, &self.filters, &pdbs, turn, now);
                let nomination = match decision {
                    Decision::Preempt(candidate) => {
                        if let Err(error) = self.carry_out(&pod, &candidate, &snapshot).await {
                            tracing::warn!(namespace = %key.0, pod = %key.1, %error, "preemption failed; will retry");
                            return Outcome::Failed;
                        }
                        Some(candidate.node)
                    }
                    Decision::NotHelpful { message, clear_nomination } => {
                        fit.post_filter_message = message;
                        clear_nomination.then(String::new)
                    }
                };
                if let Some(node) = &nomination {
                    self.lock_nominations().insert(key.clone(), node.clone());
                }
                let message = fit.message();
                tracing::info!(namespace = %key.0, pod = %key.1, %message, "unable to schedule pod");
                if let Err(error) = self.reporter.mark_unschedulable(&pod, &message, nomination.as_deref()).await {
                    tracing::warn!(%error, "updating the PodScheduled condition");
                }
                if let Err(error) = self.reporter.event(&pod, "Warning", "FailedScheduling", &message).await {
                    tracing::warn!(%error, "recording FailedScheduling");
                }
                Outcome::Unschedulable
            }
        }
    }

    /// `pod` with the nomination this scheduler last wrote, which the watch may not show yet.
    fn as_nominated(&self, key: &PodKey, pod: &Arc<Pod>) -> Arc<Pod> {
        let nominations = self.lock_nominations();
        match nominations.get(key) {
            Some(node) if node != nominated_node(pod) => {
                let mut pod = (**pod).clone();
                pod.status.get_or_insert_default().nominated_node_name = Some(node.clone()).filter(|n| !n.is_empty());
                Arc::new(pod)
            }
            _ => pod.clone(),
        }
    }

    /// Evict the victims, and take the node from less important pods nominated to it.
    async fn carry_out(&self, pod: &Pod, candidate: &preemption::Candidate, snapshot: &Snapshot) -> Result<(), Error> {
        evict::evict_victims(&self.client, &self.reporter, pod, candidate).await?;
        for other in evict::outranked_nominations(pod, &candidate.node, &snapshot.nominated) {
            if let Err(error) = self.reporter.clear_nomination(other).await {
                tracing::warn!(%error, pod = ?other.metadata.name, "clearing nominatedNodeName");
            }
            self.lock_nominations().insert(key_of(other), String::new());
        }
        Ok(())
    }

    async fn bind(&self, key: &PodKey, pod: Arc<Pod>, node: String) -> Outcome {
        self.lock_assumed().insert(key.clone(), (node.clone(), pod.clone()));
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": key.1, "namespace": key.0, "uid": pod.metadata.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &key.0);
        let bound: Result<serde_json::Value, kube::Error> =
            api.create_subresource("binding", &key.1, &PostParams::default(), &binding).await;
        match bound {
            Ok(_) => {
                self.reporter.forget(&key.0, &key.1);
                let message = format!("Successfully assigned {}/{} to {node}", key.0, key.1);
                if let Err(error) = self.reporter.event(&pod, "Normal", "Scheduled", &message).await {
                    tracing::warn!(%error, "recording Scheduled");
                }
                Outcome::Scheduled
            }
            Err(error) => {
                self.lock_assumed().remove(key);
                tracing::warn!(namespace = %key.0, pod = %key.1, %error, "binding failed; will retry");
                Outcome::Failed
            }
        }
    }
}

/// Watch `api` into a cache through `writer`, calling `on_event` for every event after the
/// cache applied it. Re-lists with backoff when the watch breaks.
async fn watch_with<K>(api: Api<K>, writer: reflector::store::Writer<K>, mut on_event: impl FnMut(&Event<K>))
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Clone + Default + Eq + std::hash::Hash,
{
    let events = reflector::reflector(writer, watch(api, watcher::Config::default()).default_backoff());
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => on_event(&event),
            Err(error) => tracing::warn!(kind = %K::kind(&Default::default()), %error, "watch failed; retrying"),
        }
    }
}
