//! The node lifecycle controller (upstream's `node-lifecycle-controller`): a node whose
//! kubelet has neither renewed its Lease in `kube-node-lease` nor posted a Ready heartbeat
//! for the monitor grace period gets its conditions set `Unknown`; a node's Ready condition
//! and `spec.unschedulable` decide its `node.kubernetes.io/*` taints; pods on a node with a
//! `NoExecute` taint go as [`crate::taint_eviction`] says.

use crate::taint_eviction::{NO_EXECUTE, eviction_delay};
use crate::{Error, FIELD_MANAGER};
use client_runtime::events::{NORMAL, Recorder};
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Upstream's `--node-monitor-grace-period` default.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(40);
const LEASE_NAMESPACE: &str = "kube-node-lease";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// The conditions a kubelet posts, which go `Unknown` when it stops.
const KUBELET_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];
const WORKERS: usize = 2;

pub struct NodeLifecycleController {
    client: Client,
    nodes: Store<Node>,
    leases: Store<Lease>,
    pods: Store<Pod>,
    grace_period: Duration,
    events: Recorder,
}

/// Watch nodes, their Leases and pods, and keep node health, taints and evictions. Runs
/// until cancelled.
pub async fn run(client: Client, informers: Informers, grace_period: Duration) -> Result<(), Error> {
    let (nodes, leases, pods) =
        (informers.all::<Node>(), informers.namespaced::<Lease>(LEASE_NAMESPACE), informers.all::<Pod>());
    let queue = WorkQueue::new();
    let controller = Arc::new(NodeLifecycleController {
        client: client.clone(),
        nodes: nodes.store(),
        leases: leases.store(),
        pods: pods.store(),
        grace_period,
        events: Recorder::new(client.clone(), FIELD_MANAGER, "node-controller"),
    });
    nodes.queue_changes(&queue, |n| n.name_any());
    leases.queue_changes(&queue, |l| l.name_any());
    // Only a bound pod matters: its change may need its node's taints applied to it.
    let pod_changes = queue.clone();
    pods.on_change(move |p| {
        if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()) {
            pod_changes.add(node);
        }
    });
    let synced = async { nodes.synced().await && leases.synced().await && pods.synced().await };
    run_workers_when_synced(controller, queue, WORKERS, synced).await;
    Ok(())
}

/// How soon a node whose write conflicted is looked at again. A real kubelet reports its
/// status often, so the cached Node is often one version behind: a conflict is expected,
/// not a failure worth a warning, and the watch brings the newer version at once.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

impl Reconciler for NodeLifecycleController {
    /// A node's name.
    type Key = String;
    type Error = Error;
    const NAME: &'static str = "node-lifecycle";

    async fn reconcile(&self, name: &String) -> Result<Action, Error> {
        let Some(node) = self.nodes.get(&ObjectRef::new(name)) else { return Ok(Action::Done) };
        let now = Timestamp::now();
        let lease = self.leases.get(&ObjectRef::new(name).within(LEASE_NAMESPACE));
        let heard = last_heard(&node, lease.as_deref());
        let silent_for = duration_between(heard, now);
        let mut node = (*node).clone();
        let reported_unknown = condition(&node, "Ready").is_some_and(|c| c.status == "Unknown");
        if silent_for >= self.grace_period && !reported_unknown {
            mark_unknown(&mut node, now);
            node = match Api::<Node>::all(self.client.clone()).replace_status(name, &post_params(), &node).await {
                Ok(node) => node,
                Err(error) if is_conflict(&error) => return Ok(Action::RequeueAfter(CONFLICT_RETRY)),
                Err(error) => return Err(error.into()),
            };
            tracing::info!(node = %name, "node stopped posting status; conditions set Unknown");
        }
        let taints = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
        let wanted = with_lifecycle_taints(&taints, ready_status(&node), is_unschedulable(&node), now);
        if wanted != taints {
            let patch = json!({"metadata": {"resourceVersion": node.resource_version()}, "spec": {"taints": wanted}});
            let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
            match Api::<Node>::all(self.client.clone()).patch(name, &params, &Patch::Merge(patch)).await {
                Ok(_) => {}
                Err(error) if is_conflict(&error) => return Ok(Action::RequeueAfter(CONFLICT_RETRY)),
                Err(error) => return Err(error.into()),
            }
        }
        let next_eviction = self.evict(name, &wanted, now).await?;
        // Look again when the node would turn silent, or when the next toleration runs out.
        let until_silent = self.grace_period.saturating_sub(silent_for).max(Duration::from_secs(1));
        let next = next_eviction.map_or(until_silent, |e| e.min(until_silent));
        Ok(Action::RequeueAfter(next))
    }

    fn error_policy(&self, _name: &String, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

impl NodeLifecycleController {
    /// Delete the pods on `node` whose tolerations of its `NoExecute` taints ran out;
    /// returns how long until the next one does.
    async fn evict(&self, node: &str, taints: &[Taint], now: Timestamp) -> Result<Option<Duration>, Error> {
        if !taints.iter().any(|t| t.effect == NO_EXECUTE) {
            return Ok(None);
        }
        let since_added =
            |t: &Taint| t.time_added.as_ref().map_or(Duration::ZERO, |added| duration_between(added.0, now));
        let mut next: Option<Duration> = None;
        for pod in self.pods.state() {
            let on_node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
            if !on_node || pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            match eviction_delay(&pod, taints, since_added) {
                Some(Duration::ZERO) => self.delete(&pod).await?,
                Some(delay) => next = Some(next.map_or(delay, |n| n.min(delay))),
                None => {}
            }
        }
        Ok(next)
    }

    async fn delete(&self, pod: &Pod) -> Result<(), Error> {
        let namespace = pod.namespace().unwrap_or_default();
        let message = format!("Marking for deletion Pod {namespace}/{}", pod.name_any());
        self.events.record(pod, NORMAL, "TaintManagerEviction", &message).await;
        match Api::<Pod>::namespaced(self.client.clone(), &namespace)
            .delete(&pod.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn post_params() -> PostParams {
    PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() }
}

fn duration_between(earlier: Timestamp, later: Timestamp) -> Duration {
    Duration::try_from(later.duration_since(earlier)).unwrap_or(Duration::ZERO)
}

/// When the kubelet was last heard from: its Lease renewal or its Ready heartbeat, else
/// (never heard) the node's creation.
fn last_heard(node: &Node, lease: Option<&Lease>) -> Timestamp {
    let renewed = lease.and_then(|l| l.spec.as_ref()?.renew_time.as_ref()).map(|t| t.0);
    let heartbeat = condition(node, "Ready").and_then(|c| c.last_heartbeat_time.as_ref()).map(|t| t.0);
    let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
    [renewed, heartbeat, created].into_iter().flatten().max().unwrap_or_else(Timestamp::now)
}

fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

/// The Ready condition's status; a node that never posted one counts as `Unknown`.
fn ready_status(node: &Node) -> &str {
    condition(node, "Ready").map_or("Unknown", |c| c.status.as_str())
}

fn is_unschedulable(node: &Node) -> bool {
    node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false)
}

/// Set the kubelet's conditions `Unknown`, as upstream does for a silent kubelet (or one
/// that never posted them).
fn mark_unknown(node: &mut Node, now: Timestamp) {
    let conditions = node.status.get_or_insert_default().conditions.get_or_insert_default();
    for type_ in KUBELET_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(c) => {
                if c.status != "Unknown" {
                    c.last_transition_time = Some(Time(now));
                }
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
            }
            None => conditions.push(NodeCondition {
                type_: type_.into(),
                status: "Unknown".into(),
                reason: Some("NodeStatusNeverUpdated".into()),
                message: Some("Kubelet never posted node status.".into()),
                last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                last_transition_time: Some(Time(now)),
            }),
        }
    }
}

/// `taints` with the lifecycle taints the node's state calls for: `unreachable` (Ready
/// Unknown) or `not-ready` (Ready False) with both effects, `unschedulable` when cordoned.
/// Other taints, and lifecycle taints already there (keeping their `timeAdded`), stay.
fn with_lifecycle_taints(taints: &[Taint], ready: &str, unschedulable: bool, now: Timestamp) -> Vec<Taint> {
    let mut wanted: Vec<(&str, &str)> = Vec::new();
    match ready {
        "Unknown" => wanted.extend([(UNREACHABLE, "NoSchedule"), (UNREACHABLE, NO_EXECUTE)]),
        "False" => wanted.extend([(NOT_READY, "NoSchedule"), (NOT_READY, NO_EXECUTE)]),
        _ => {}
    }
    if unschedulable {
        wanted.push((UNSCHEDULABLE, "NoSchedule"));
    }
    let managed = |t: &Taint| [UNREACHABLE, NOT_READY, UNSCHEDULABLE].contains(&t.key.as_str());
    let mut next: Vec<Taint> = taints
        .iter()
        .filter(|t| !managed(t) || wanted.contains(&(t.key.as_str(), t.effect.as_str())))
        .cloned()
        .collect();
    for (key, effect) in wanted {
        if !next.iter().any(|t| t.key == key && t.effect == effect) {
            next.push(Taint { key: key.into(), effect: effect.into(), time_added: Some(Time(now)), value: None });
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::api::core::v1::NodeStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn ready_node(heartbeat: i64) -> Node {
        let ready = NodeCondition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: Some("KubeletReady".into()),
            last_heartbeat_time: Some(Time(at(heartbeat))),
            ..Default::default()
        };
        Node {
            metadata: kube::api::ObjectMeta { creation_timestamp: Some(Time(at(0))), ..Default::default() },
            status: Some(NodeStatus { conditions: Some(vec![ready]), ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn the_kubelet_is_heard_through_its_lease_or_heartbeat() {
        let node = ready_node(10);
        let lease = Lease {
            spec: Some(LeaseSpec { renew_time: Some(MicroTime(at(25))), ..Default::default() }),
            ..Default::default()
        };
        assert_eq!(last_heard(&node, Some(&lease)), at(25));
        assert_eq!(last_heard(&node, None), at(10));
    }

    #[test]
    fn a_silent_node_goes_unknown_with_every_kubelet_condition() {
        let mut node = ready_node(10);
        mark_unknown(&mut node, at(60));
        let conditions = node.status.unwrap().conditions.unwrap();
        assert_eq!(conditions.len(), 4);
        let ready = conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!((ready.status.as_str(), ready.reason.as_deref()), ("Unknown", Some("NodeStatusUnknown")));
        assert_eq!(ready.message.as_deref(), Some("Kubelet stopped posting node status."));
        assert_eq!(ready.last_transition_time, Some(Time(at(60))));
        let memory = conditions.iter().find(|c| c.type_ == "MemoryPressure").unwrap();
        assert_eq!(memory.reason.as_deref(), Some("NodeStatusNeverUpdated"));
    }

    #[test]
    fn taints_follow_readiness_and_keep_their_time() {
        let unreachable = with_lifecycle_taints(&[], "Unknown", false, at(5));
        let keys: Vec<_> = unreachable.iter().map(|t| (t.key.as_str(), t.effect.as_str())).collect();
        assert_eq!(keys, [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, NO_EXECUTE)]);
        assert_eq!(with_lifecycle_taints(&unreachable, "Unknown", false, at(9)), unreachable);
        let custom = Taint { key: "team".into(), effect: "NoSchedule".into(), ..Default::default() };
        let recovered = with_lifecycle_taints(&[unreachable, vec![custom.clone()]].concat(), "True", true, at(9));
        assert_eq!(recovered.len(), 2);
        assert_eq!(recovered[0], custom);
        assert_eq!(recovered[1].key, UNSCHEDULABLE);
    }
}
