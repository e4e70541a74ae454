//! NodeResourcesFit: a node must have room for the pod's requests (cpu, memory, ephemeral
//! storage, extended resources) and for one more pod; its score is the LeastAllocated
//! strategy, favouring nodes with the most cpu and memory left.

use crate::framework::{
    FilterPlugin, MAX_NODE_SCORE, NodeInfo, PluginState, Rejection, Resources, ScorePlugin, Snapshot, pod_requests,
};
use k8s_openapi::api::core::v1::Pod;
use std::borrow::Cow;

pub struct NodeResourcesFit;

/// What `pod` requests (with the scoring defaults when `non_zero`), from the cycle's state
/// if the pre-step computed it.
pub fn wanted<'a>(pod: &Pod, state: Option<&'a PluginState>, non_zero: bool) -> Cow<'a, Resources> {
    match state.and_then(|s| s.downcast_ref::<Resources>()) {
        Some(resources) => Cow::Borrowed(resources),
        None => Cow::Owned(pod_requests(pod, non_zero)),
    }
}

impl FilterPlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }

    /// The pod's requests, parsed once per cycle.
    fn pre_filter(&self, pod: &Pod, _snapshot: &Snapshot) -> Option<PluginState> {
        Some(Box::new(pod_requests(pod, false)))
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, state: Option<&PluginState>) -> Result<(), Rejection> {
        let mut reasons = Vec::new();
        if node.pods.len() as i64 + 1 > node.allowed_pods {
            reasons.push("Too many pods".to_owned());
        }
        let wanted = wanted(pod, state, false);
        let free = |allocatable: i64, requested: i64| allocatable - requested;
        let (allocatable, requested) = (&node.allocatable, &node.requested);
        if wanted.milli_cpu > 0 && wanted.milli_cpu > free(allocatable.milli_cpu, requested.milli_cpu) {
            reasons.push("Insufficient cpu".to_owned());
        }
        if wanted.memory > 0 && wanted.memory > free(allocatable.memory, requested.memory) {
            reasons.push("Insufficient memory".to_owned());
        }
        if wanted.ephemeral_storage > 0
            && wanted.ephemeral_storage > free(allocatable.ephemeral_storage, requested.ephemeral_storage)
        {
            reasons.push("Insufficient ephemeral-storage".to_owned());
        }
        for (name, amount) in wanted.scalar.iter().filter(|(_, amount)| **amount > 0) {
            let has = allocatable.scalar.get(name).copied().unwrap_or(0);
            let used = requested.scalar.get(name).copied().unwrap_or(0);
            if *amount > has - used {
                reasons.push(format!("Insufficient {name}"));
            }
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(Rejection { code: crate::framework::Code::Unschedulable, reasons })
        }
    }
}

/// `(allocatable - requested) / allocatable` on the 0..=100 scale.
fn least_allocated(requested: i64, allocatable: i64) -> i64 {
    if allocatable <= 0 || requested > allocatable {
        return 0;
    }
    (allocatable - requested) * MAX_NODE_SCORE / allocatable
}

impl ScorePlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }

    fn weight(&self) -> i64 {
        1
    }

    /// The average of the cpu and memory left after placing the pod (LeastAllocated).
    /// The pod's requests with the scoring defaults, parsed once per cycle.
    fn pre_score(&self, pod: &Pod, _snapshot: &Snapshot) -> Option<PluginState> {
        Some(Box::new(pod_requests(pod, true)))
    }

    fn score(&self, pod: &Pod, node: &NodeInfo, _snapshot: &Snapshot, state: Option<&PluginState>) -> i64 {
        let wanted = wanted(pod, state, true);
        let cpu = least_allocated(node.non_zero_requested.milli_cpu + wanted.milli_cpu, node.allocatable.milli_cpu);
        let memory = least_allocated(node.non_zero_requested.memory + wanted.memory, node.allocatable.memory);
        (cpu + memory) / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::{node, pod, pod_requesting};
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn refuses_what_does_not_fit_with_every_reason() {
        let mut busy = node("n1", json!({}));
        busy.add_pod(Arc::new(pod_requesting("3", "1Gi")));
        assert!(NodeResourcesFit.filter(&pod_requesting("1", "1Gi"), &busy, None).is_ok());
        let refusal = NodeResourcesFit.filter(&pod_requesting("2", "16Gi"), &busy, None).unwrap_err();
        assert_eq!(refusal.reasons, ["Insufficient cpu", "Insufficient memory"]);
        assert_eq!(refusal.code, crate::framework::Code::Unschedulable);
    }

    #[test]
    fn counts_pods_and_extended_resources() {
        let full = node("n1", json!({"status": {"allocatable": {"pods": "0"}}}));
        let refusal = NodeResourcesFit.filter(&pod(json!({"containers": []})), &full, None).unwrap_err();
        assert_eq!(refusal.reasons, ["Too many pods"]);
        let gpu = pod(json!({"containers": [{"name": "c", "resources": {"requests": {"example.com/gpu": "1"}}}]}));
        let refusal = NodeResourcesFit.filter(&gpu, &node("n2", json!({})), None).unwrap_err();
        assert_eq!(refusal.reasons, ["Insufficient example.com/gpu"]);
        let with_gpu = node("n3", json!({"status": {"allocatable": {"example.com/gpu": "2"}}}));
        assert!(NodeResourcesFit.filter(&gpu, &with_gpu, None).is_ok());
    }

    #[test]
    fn least_allocated_prefers_emptier_nodes() {
        let empty = node("n1", json!({}));
        let mut busy = node("n2", json!({}));
        busy.add_pod(Arc::new(pod_requesting("2", "4Gi")));
        let wanted = pod_requesting("1", "1Gi");
        let snapshot = Snapshot::default();
        // cpu (4-1)/4 = 75, memory (8-1)/8 = 87 → 81; busy: 25 and 37 → 31.
        assert_eq!(NodeResourcesFit.score(&wanted, &empty, &snapshot, None), 81);
        assert_eq!(NodeResourcesFit.score(&wanted, &busy, &snapshot, None), 31);
    }
}
