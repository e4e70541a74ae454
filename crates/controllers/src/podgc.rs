//! The pod garbage collector (upstream's `pod-garbage-collector`), every 20 s: force-deletes
//! pods bound to nodes that no longer exist, terminating pods that were never scheduled,
//! and the oldest finished pods beyond the terminated-pod threshold.

use crate::Error;
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// Upstream's `--terminated-pod-gc-threshold` default.
pub const TERMINATED_POD_THRESHOLD: usize = 12500;
/// Upstream's `gcCheckPeriod`.
const CHECK_PERIOD: Duration = Duration::from_secs(20);

pub struct PodGarbageCollector {
    client: Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    terminated_threshold: usize,
}

/// Collect pods every [`CHECK_PERIOD`] (and when a node goes away). Runs until cancelled.
pub async fn run(client: Client, informers: Informers, terminated_threshold: usize) -> Result<(), Error> {
    let (pods, nodes) = (informers.all::<Pod>(), informers.all::<Node>());
    let queue = WorkQueue::new();
    let controller = Arc::new(PodGarbageCollector {
        client: client.clone(),
        pods: pods.store(),
        nodes: nodes.store(),
        terminated_threshold,
    });
    queue.add(());
    // Pod changes only fill the cache (upstream polls them); a node going away starts a pass.
    // Only a deletion: queueing every node heartbeat would make each one a pass over all pods.
    let deleted = queue.clone();
    nodes.on_delete(move |_| deleted.add(()));
    let synced = async { pods.synced().await && nodes.synced().await };
    run_workers_when_synced(controller, queue, 1, synced).await;
    Ok(())
}

impl Reconciler for PodGarbageCollector {
    /// One pass over every pod.
    type Key = ();
    type Error = Error;
    const NAME: &'static str = "pod-garbage-collector";

    async fn reconcile(&self, _: &()) -> Result<Action, Error> {
        let pods = self.pods.state();
        for pod in excess_terminated(&pods, self.terminated_threshold) {
            self.force_delete(pod).await?;
        }
        for pod in &pods {
            let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default();
            let unscheduled_terminating = node.is_empty() && pod.metadata.deletion_timestamp.is_some();
            if unscheduled_terminating || (!node.is_empty() && self.node_is_gone(node).await?) {
                self.force_delete(pod).await?;
            }
        }
        Ok(Action::RequeueAfter(CHECK_PERIOD))
    }

    fn error_policy(&self, _: &(), _error: &Error) -> Retry {
        Retry::After(CHECK_PERIOD)
    }
}

impl PodGarbageCollector {
    /// Ask the API server, not the cache, before deleting: the cache may not show a new node yet.
    async fn node_is_gone(&self, name: &str) -> Result<bool, Error> {
        if self.nodes.get(&ObjectRef::new(name)).is_some() {
            return Ok(false);
        }
        Ok(Api::<Node>::all(self.client.clone()).get_opt(name).await?.is_none())
    }

    async fn force_delete(&self, pod: &Pod) -> Result<(), Error> {
        let namespace = pod.namespace().unwrap_or_default();
        tracing::info!(pod = %pod.name_any(), %namespace, "garbage-collecting pod");
        let params = DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
        match Api::<Pod>::namespaced(self.client.clone(), &namespace).delete(&pod.name_any(), &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The oldest finished (Succeeded or Failed) pods beyond `threshold`; none at threshold 0.
fn excess_terminated(pods: &[Arc<Pod>], threshold: usize) -> Vec<&Pod> {
    let mut finished: Vec<&Pod> = pods
        .iter()
        .map(|p| p.as_ref())
        .filter(|p| matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed")))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    if threshold == 0 || finished.len() <= threshold {
        return Vec::new();
    }
    finished.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let excess = finished.len() - threshold;
    finished.truncate(excess);
    finished
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(name: &str, phase: &str, created: i64) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(jiff::Timestamp::from_second(created).unwrap())),
                ..Default::default()
            },
            status: Some(PodStatus { phase: Some(phase.into()), ..Default::default() }),
            ..Default::default()
        })
    }

    #[test]
    fn the_oldest_finished_pods_beyond_the_threshold_go() {
        let pods = [
            pod("new", "Succeeded", 30),
            pod("running", "Running", 1),
            pod("old", "Failed", 10),
            pod("mid", "Succeeded", 20),
        ];
        let names: Vec<String> = excess_terminated(&pods, 1).iter().map(|p| p.name_any()).collect();
        assert_eq!(names, ["old", "mid"]);
        assert!(excess_terminated(&pods, 3).is_empty());
        assert!(excess_terminated(&pods, 0).is_empty());
    }
}
