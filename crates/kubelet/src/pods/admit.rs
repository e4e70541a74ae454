//! The kubelet's own admission of a pod, as upstream's resource fit check: a pod whose
//! requests do not fit the node's allocatable beside the pods admitted before it (by
//! creation time) is rejected with phase Failed and reason `OutOfcpu`, `OutOfmemory` or
//! `OutOfpods`, even if the scheduler placed it (e.g. `spec.nodeName` set by hand).

use super::fields::{cpu_millis, quantity_bytes};
use crate::node::machine::Capacity;
use k8s_openapi::api::core::v1::Pod;

/// A pod's effective requests: the larger of its containers' sum and any init container.
pub fn requests(pod: &Pod) -> (u64, u64) {
    let spec = pod.spec.clone().unwrap_or_default();
    let of = |c: &k8s_openapi::api::core::v1::Container| {
        let resources = c.resources.clone().unwrap_or_default();
        let requests = resources.requests.unwrap_or_default();
        let limits = resources.limits.unwrap_or_default();
        let cpu = requests.get("cpu").or(limits.get("cpu")).map(cpu_millis).unwrap_or(0);
        let memory = requests.get("memory").or(limits.get("memory")).map(|q| quantity_bytes(&q.0)).unwrap_or(0);
        (cpu, memory)
    };
    let sum = spec.containers.iter().map(of).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    spec.init_containers.iter().flatten().map(of).fold(sum, |a, b| (a.0.max(b.0), a.1.max(b.1)))
}

fn active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    !matches!(phase, "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

/// Why `pod` does not fit beside `others` (the node's pods), as (reason, message).
pub fn reject(pod: &Pod, others: &[Pod], capacity: &Capacity) -> Option<(String, String)> {
    let key = |p: &Pod| (p.metadata.creation_timestamp.as_ref().map(|t| t.0), p.metadata.name.clone());
    let uid = pod.metadata.uid.as_deref();
    let before: Vec<&Pod> =
        others.iter().filter(|p| p.metadata.uid.as_deref() != uid && active(p) && key(p) < key(pod)).collect();
    let (cpu, memory) = requests(pod);
    let used = before.iter().map(|p| requests(p)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let message = |resource: &str, requested: u64, used: u64, capacity: u64| {
        format!(
            "Pod was rejected: Node didn't have enough resource: {resource}, requested: {requested}, used: {used}, capacity: {capacity}"
        )
    };
    if before.len() as u64 + 1 > capacity.pods as u64 {
        let text = format!(
            "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: {}, capacity: {}",
            before.len(),
            capacity.pods
        );
        return Some(("OutOfpods".to_owned(), text));
    }
    if cpu > 0 && cpu + used.0 > capacity.allocatable_millicpu() {
        return Some(("OutOfcpu".to_owned(), message("cpu", cpu, used.0, capacity.allocatable_millicpu())));
    }
    if memory > 0 && memory + used.1 > capacity.allocatable_memory() {
        return Some(("OutOfmemory".to_owned(), message("memory", memory, used.1, capacity.allocatable_memory())));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, created: &str, cpu: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "uid": name, "creationTimestamp": created},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": "1Mi"}}}],
                "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "100m"}}}]},
        }))
        .unwrap()
    }

    #[test]
    fn a_pod_that_does_not_fit_beside_earlier_pods_is_rejected() {
        let capacity = Capacity { cpus: 2, memory_ki: 1 << 20, ephemeral_storage_ki: 0, pods: 110 };
        let first = pod("a", "2026-01-01T00:00:00Z", "1500m");
        let second = pod("b", "2026-01-01T00:00:01Z", "1");
        assert_eq!(requests(&second), (1000, 1 << 20));
        let all = [first.clone(), second.clone()];
        assert_eq!(reject(&first, &all, &capacity), None);
        let (reason, message) = reject(&second, &all, &capacity).unwrap();
        assert_eq!(reason, "OutOfcpu");
        assert_eq!(
            message,
            "Pod was rejected: Node didn't have enough resource: cpu, requested: 1000, used: 1500, capacity: 2000"
        );
    }
}
