//! Scheduling throughput without the API: NODES simulated nodes (8 cpu, 32Gi, 110 pods, in
//! three zones; default 5000) and PODS small pending pods (default 10000), half of them owned
//! by one of 50 ReplicaSets so default spreading runs, go through what the scheduler's loop
//! does per pod: pop from the queue, update the snapshot from the cache, filter, score,
//! pick, and assume the pod in the cache. Prints pods per second.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use scheduler::cache::{Cache, key_of};
use scheduler::cycle::{self, Rotation};
use scheduler::framework::{Snapshot, pod_priority};
use scheduler::plugins::{default_filters, default_scores};
use scheduler::queue::{Outcome, SchedulingQueue};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

fn node(i: usize) -> Arc<Node> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("node-{i:05}"), "labels": {
                "kubernetes.io/hostname": format!("node-{i:05}"),
                "topology.kubernetes.io/zone": format!("zone-{}", i % 3),
                "node.kubernetes.io/instance-type": "sim"}},
            "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}}
        }))
        .unwrap(),
    )
}

fn pod(i: usize) -> Arc<Pod> {
    let rs = i.is_multiple_of(2);
    let mut value = json!({
        "metadata": {"name": format!("pod-{i:05}"), "namespace": "default", "uid": format!("uid-{i}"),
            "labels": {"app": format!("app-{}", i % 50)}},
        "spec": {"containers": [{"name": "c", "image": "x",
            "resources": {"requests": {"cpu": format!("{}m", 10 + (i % 10) * 10), "memory": "64Mi"}}}]}
    });
    if rs {
        value["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "name": format!("rs-{}", i % 50), "uid": format!("rs-uid-{}", i % 50), "controller": true}]);
    }
    Arc::new(serde_json::from_value(value).unwrap())
}

fn replica_set(i: usize) -> Arc<ReplicaSet> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("rs-{i}"), "namespace": "default", "uid": format!("rs-uid-{i}")},
            "spec": {"selector": {"matchLabels": {"app": format!("app-{i}")}}, "template": {}}
        }))
        .unwrap(),
    )
}

fn main() {
    let node_count: usize = std::env::var("NODES").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
    let pod_count: usize = std::env::var("PODS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let nodes: Vec<Arc<Node>> = (0..node_count).map(node).collect();
    let pods: Vec<Arc<Pod>> = (0..pod_count).map(pod).collect();
    let replica_sets: Vec<Arc<ReplicaSet>> = (0..50).map(replica_set).collect();
    let (filters, scorers) = (default_filters(), default_scores());
    let mut cache = Cache::new();
    for node in nodes {
        cache.set_node(node);
    }
    let queue = SchedulingQueue::new();
    let by_key: std::collections::HashMap<_, _> = pods.iter().map(|pod| (key_of(pod), pod.clone())).collect();
    for pod in &pods {
        queue.add(key_of(pod), pod_priority(pod));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let mut snapshot = Snapshot { replica_sets, ..Default::default() };
    let mut rotation = Rotation::default();
    let start = Instant::now();
    for _ in 0..pod_count {
        let key = runtime.block_on(queue.pop()).unwrap();
        let pod = &by_key[&key];
        cache.update_snapshot(&mut snapshot);
        let chosen = cycle::schedule(pod, &snapshot, &filters, &scorers, &mut rotation).unwrap();
        cache.assume(pod.clone(), &chosen);
        queue.done(&key, Outcome::Scheduled);
    }
    let elapsed = start.elapsed();
    println!(
        "{node_count} nodes, {pod_count} pods: {:.3}s, {:.0} pods/s",
        elapsed.as_secs_f64(),
        pod_count as f64 / elapsed.as_secs_f64()
    );
}
