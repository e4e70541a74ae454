//! The scheduler's loop: watches keep the [`Cache`] of nodes and placed pods, the
//! [`Nominator`] and caches of Services, ReplicaSets and budgets; pending pods are fed into
//! the [`SchedulingQueue`]. One pod at a time is taken from it and placed by
//! [`cycle::schedule`] on the snapshot, brought up to date with what changed since the last
//! cycle. The pod is then assumed on its node in the cache, so the next decision already
//! counts it, and bound through `pods/binding` in a task of its own (upstream's binding
//! cycle), up to [`MAX_IN_FLIGHT`] at once, while the next pods are scheduled; a failed
//! binding forgets the assumption and retries the pod after its backoff. A pod that fits
//! nowhere may preempt lower-priority pods ([`preemption`]); it is then nominated to that
//! node, where less important pods see its room as taken, and retried once the victims are
//! gone. Its `PodScheduled` condition and the FailedScheduling event are written in a task
//! too, so the API's round trips never hold the loop.

use crate::cache::{Cache, PodKey, is_terminal, key_of, node_name};
use crate::cycle::{self, Rotation};
use crate::framework::{FilterPlugin, ScorePlugin, Snapshot, pod_priority};
use crate::nominator::{Nominator, nominated_node};
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
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Semaphore;

/// How many bindings (and status writes) may be under way while the loop goes on.
pub const MAX_IN_FLIGHT: usize = 64;

pub struct Scheduler {
    client: kube::Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    services: Store<Service>,
    replica_sets: Store<ReplicaSet>,
    pdbs: Store<PodDisruptionBudget>,
    queue: SchedulingQueue<PodKey>,
    cache: Mutex<Cache>,
    nominator: Mutex<Nominator>,
    filters: Vec<Box<dyn FilterPlugin>>,
    scorers: Vec<Box<dyn ScorePlugin>>,
    reporter: Reporter,
    in_flight: Arc<Semaphore>,
}

/// Whether this scheduler should place `pod`: unbound, ours, alive.
fn wants_scheduling(pod: &Pod) -> bool {
    let ours = pod.spec.as_ref().and_then(|s| s.scheduler_name.as_deref()).is_none_or(|n| n == SCHEDULER_NAME);
    ours && node_name(pod).is_none() && pod.metadata.deletion_timestamp.is_none() && !is_terminal(pod)
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

/// The object a cache just stored for `object` (shared, not copied), or a copy.
fn stored<K>(store: &Store<K>, object: &K) -> Arc<K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Clone + Default + Eq + std::hash::Hash,
{
    store.get(&ObjectRef::from_obj(object)).unwrap_or_else(|| Arc::new(object.clone()))
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
            cache: Mutex::new(Cache::new()),
            nominator: Mutex::new(Nominator::new()),
            filters: default_filters(),
            scorers: default_scores(),
            reporter: Reporter::new(client.clone()),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
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
                    scheduler.lock_cache().remove_node(&name);
                    seen.remove(&name).is_some()
                } else {
                    let fingerprint = schedulable_fingerprint(node);
                    let changed = seen.insert(name, fingerprint.clone()).as_ref() != Some(&fingerprint);
                    if changed {
                        scheduler.lock_cache().set_node(stored(&scheduler.nodes, node));
                    }
                    changed
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
                let pod = stored(&self.pods, pod);
                if wants_scheduling(&pod) {
                    self.lock_nominator().observe_pending(key.clone(), pod.clone());
                    self.queue.add(key, pod_priority(&pod));
                } else {
                    self.lock_nominator().forget(&key);
                    self.queue.delete(&key);
                }
                self.lock_cache().set_pod(pod);
            }
            Event::Delete(pod) => {
                let key = key_of(pod);
                self.queue.delete(&key);
                self.lock_nominator().forget(&key);
                self.reporter.forget(&key.0, &key.1);
                let was_placed = {
                    let mut cache = self.lock_cache();
                    let placed = cache.is_placed(&key);
                    cache.remove_pod(&key);
                    placed
                };
                // A bound pod going away frees room on its node.
                if node_name(pod).is_some() || was_placed {
                    self.queue.move_all();
                }
            }
            Event::Init | Event::InitDone => {}
        }
    }

    fn lock_cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_nominator(&self) -> MutexGuard<'_, Nominator> {
        self.nominator.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
        let mut snapshot = Snapshot::default();
        let mut rotation = Rotation::default();
        while let Some(key) = self.queue.pop().await {
            self.schedule_one(key, &mut snapshot, &mut rotation).await;
            // A cycle is all computation: let the watches and bindings in between.
            tokio::task::yield_now().await;
        }
    }

    /// Bring `snapshot` up to date with the caches.
    fn refresh(&self, snapshot: &mut Snapshot) {
        let mut cache = self.lock_cache();
        cache.update_snapshot(snapshot);
        snapshot.nominated = self.lock_nominator().by_node(|key| cache.is_assumed(key), |node| cache.has_node(node));
        drop(cache);
        snapshot.services = self.services.state();
        snapshot.replica_sets = self.replica_sets.state();
    }

    /// Run `work` in a task of its own once one of the [`MAX_IN_FLIGHT`] slots is free, then
    /// tell the queue how the attempt on `key` ended.
    async fn in_background<F>(self: &Arc<Self>, key: PodKey, work: F)
    where
        F: Future<Output = Outcome> + Send + 'static,
    {
        let Ok(slot) = self.in_flight.clone().acquire_owned().await else { return };
        let scheduler = self.clone();
        tokio::spawn(async move {
            let outcome = work.await;
            scheduler.queue.done(&key, outcome);
            drop(slot);
        });
    }

    async fn schedule_one(self: &Arc<Self>, key: PodKey, snapshot: &mut Snapshot, rotation: &mut Rotation) {
        let pod = self.pods.get(&ObjectRef::new(&key.1).within(&key.0)).filter(|pod| wants_scheduling(pod));
        let Some(pod) = pod.filter(|_| !self.lock_cache().is_assumed(&key)) else {
            return self.queue.done(&key, Outcome::Scheduled);
        };
        self.refresh(snapshot);
        let turn = rotation.turn();
        let nominated = self.as_nominated(&key, &pod);
        let mut fit = match cycle::schedule(&nominated, snapshot, &self.filters, &self.scorers, rotation) {
            Ok(node) => {
                self.lock_cache().assume(pod.clone(), &node);
                let scheduler = self.clone();
                let binding_key = key.clone();
                return self.in_background(key, async move { scheduler.bind(&binding_key, pod, node).await }).await;
            }
            Err(fit) => fit,
        };
        let pdbs = self.pdbs.state();
        let now = jiff::Timestamp::now();
        let decision = preemption::preempt(&nominated, snapshot, &fit, &self.filters, &pdbs, turn, now);
        let nomination = match decision {
            Decision::Preempt(candidate) => {
                if let Err(error) = self.carry_out(&pod, &candidate, snapshot).await {
                    tracing::warn!(namespace = %key.0, pod = %key.1, %error, "preemption failed; will retry");
                    return self.queue.done(&key, Outcome::Failed);
                }
                Some(candidate.node)
            }
            Decision::NotHelpful { message, clear_nomination } => {
                fit.post_filter_message = message;
                clear_nomination.then(String::new)
            }
        };
        if let Some(node) = &nomination {
            self.lock_nominator().write(key.clone(), node.clone(), pod.clone());
        }
        let message = fit.message();
        tracing::info!(namespace = %key.0, pod = %key.1, %message, "unable to schedule pod");
        let scheduler = self.clone();
        self.in_background(key, async move {
            let reporter = &scheduler.reporter;
            if let Err(error) = reporter.mark_unschedulable(&pod, &message, nomination.as_deref()).await {
                tracing::warn!(%error, "updating the PodScheduled condition");
            }
            if let Err(error) = reporter.event(&pod, "Warning", "FailedScheduling", "Scheduling", &message).await {
                tracing::warn!(%error, "recording FailedScheduling");
            }
            Outcome::Unschedulable
        })
        .await;
    }

    /// `pod` with the nomination this scheduler last wrote, which the watch may not show yet.
    fn as_nominated(&self, key: &PodKey, pod: &Arc<Pod>) -> Arc<Pod> {
        let nominator = self.lock_nominator();
        match nominator.written(key) {
            Some(node) if node != nominated_node(pod) => {
                let mut pod = (**pod).clone();
                pod.status.get_or_insert_default().nominated_node_name =
                    Some(node.to_owned()).filter(|n| !n.is_empty());
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
            self.lock_nominator().write(key_of(other), String::new(), other.clone());
        }
        Ok(())
    }

    /// Bind the assumed `pod` to `node`; a refusal forgets the assumption.
    async fn bind(&self, key: &PodKey, pod: Arc<Pod>, node: String) -> Outcome {
        if let Err(reason) = crate::volume_binding::pre_bind(&self.client, &pod, &node).await {
            self.lock_cache().forget(key);
            tracing::warn!(namespace = %key.0, pod = %key.1, %reason, "binding the pod's volumes failed; will retry");
            return Outcome::Failed;
        }
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
                if let Err(error) = self.reporter.event(&pod, "Normal", "Scheduled", "Binding", &message).await {
                    tracing::warn!(%error, "recording Scheduled");
                }
                Outcome::Scheduled
            }
            Err(error) => {
                self.lock_cache().forget(key);
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
