//! NodeResourcesBalancedAllocation: favours nodes whose cpu and memory would be used in
//! equal proportions after placing the pod, so neither runs out while the other idles.

use crate::framework::{MAX_NODE_SCORE, NodeInfo, PluginState, ScorePlugin, Snapshot, pod_requests};
use crate::plugins::node_resources_fit::wanted;
use k8s_openapi::api::core::v1::Pod;

pub struct BalancedAllocation;

fn fraction(requested: i64, allocatable: i64) -> f64 {
    if allocatable <= 0 { 1.0 } else { (requested as f64 / allocatable as f64).min(1.0) }
}

impl ScorePlugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        "NodeResourcesBalancedAllocation"
    }

    fn weight(&self) -> i64 {
        1
    }

    /// The pod's requests with the scoring defaults, parsed once per cycle.
    fn pre_score(&self, pod: &Pod, _snapshot: &Snapshot) -> Option<PluginState> {
        Some(Box::new(pod_requests(pod, true)))
    }

    /// `(1 - standard deviation of the used fractions) * 100`.
    fn score(&self, pod: &Pod, node: &NodeInfo, _snapshot: &Snapshot, state: Option<&PluginState>) -> i64 {
        let wanted = wanted(pod, state, true);
        let cpu = fraction(node.non_zero_requested.milli_cpu + wanted.milli_cpu, node.allocatable.milli_cpu);
        let memory = fraction(node.non_zero_requested.memory + wanted.memory, node.allocatable.memory);
        // With two resources the standard deviation is half their difference.
        let deviation = (cpu - memory).abs() / 2.0;
        ((1.0 - deviation) * MAX_NODE_SCORE as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::{node, pod_requesting};
    use serde_json::json;

    #[test]
    fn equal_use_scores_highest() {
        let snapshot = Snapshot::default();
        let info = node("n1", json!({}));
        // Half of 4 cpus and half of 8Gi: perfectly balanced.
        assert_eq!(BalancedAllocation.score(&pod_requesting("2", "4Gi"), &info, &snapshot, None), 100);
        // All the cpu, an eighth of the memory: deviation (1 - 0.125) / 2.
        assert_eq!(BalancedAllocation.score(&pod_requesting("4", "1Gi"), &info, &snapshot, None), 56);
    }
}
