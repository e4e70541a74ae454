//! One scheduling cycle over a [`Snapshot`]: run the filters on every node, then score the
//! nodes that are left and pick the best; or explain, in upstream's words, why none fit.

use crate::framework::{Code, FilterPlugin, PluginState, Rejection, ScorePlugin, Snapshot};
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeMap;

/// Why no node fits: each refused node's rejection, for the `0/N nodes are available` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    pub num_nodes: usize,
    pub rejections: BTreeMap<String, Rejection>,
}

impl FitError {
    /// Upstream's message: reasons counted across nodes and sorted, then what preemption
    /// found (this scheduler evicts nothing, so no node offers victims).
    pub fn message(&self) -> String {
        if self.num_nodes == 0 {
            return "no nodes available to schedule pods".to_owned();
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for reason in self.rejections.values().flat_map(|r| r.reasons.iter()) {
            *counts.entry(reason).or_default() += 1;
        }
        let mut message = format!("0/{} nodes are available", self.num_nodes);
        if !counts.is_empty() {
            message.push_str(": ");
            message.push_str(&join_counts(counts.into_iter()));
        }
        message.push('.');
        let mut preemption: BTreeMap<&str, usize> = BTreeMap::new();
        for rejection in self.rejections.values() {
            let outcome = match rejection.code {
                Code::Unschedulable => "No preemption victims found for incoming pod",
                Code::UnschedulableAndUnresolvable => "Preemption is not helpful for scheduling",
            };
            *preemption.entry(outcome).or_default() += 1;
        }
        if !preemption.is_empty() {
            message.push_str(&format!(
                " preemption: 0/{} nodes are available: {}.",
                self.num_nodes,
                join_counts(preemption.into_iter())
            ));
        }
        message
    }
}

/// `2 reason a, 1 reason b`, sorted by reason as upstream sorts the formatted strings.
fn join_counts<'a>(counts: impl Iterator<Item = (&'a str, usize)>) -> String {
    let mut parts: Vec<String> = counts.map(|(reason, count)| format!("{count} {reason}")).collect();
    parts.sort();
    parts.join(", ")
}

/// Where `pod` should run: the highest-scoring feasible node. Ties go to the node after
/// `tie_breaker` in the list, so equal nodes take turns.
pub fn schedule(
    pod: &Pod,
    snapshot: &Snapshot,
    filters: &[Box<dyn FilterPlugin>],
    scorers: &[Box<dyn ScorePlugin>],
    tie_breaker: usize,
) -> Result<String, FitError> {
    let mut feasible = Vec::new();
    let mut rejections = BTreeMap::new();
    let states: Vec<Option<PluginState>> = filters.iter().map(|filter| filter.pre_filter(pod, snapshot)).collect();
    for node in &snapshot.nodes {
        match filters.iter().zip(&states).try_for_each(|(filter, state)| filter.filter(pod, node, state.as_ref())) {
            Ok(()) => feasible.push(node),
            Err(rejection) => {
                rejections.insert(node.name().to_owned(), rejection);
            }
        }
    }
    if feasible.is_empty() {
        return Err(FitError { num_nodes: snapshot.nodes.len(), rejections });
    }
    let mut totals = vec![0i64; feasible.len()];
    for scorer in scorers {
        let state = scorer.pre_score(pod, snapshot);
        let mut scores: Vec<i64> =
            feasible.iter().map(|node| scorer.score(pod, node, snapshot, state.as_ref())).collect();
        scorer.normalize(&mut scores);
        for (total, score) in totals.iter_mut().zip(scores) {
            *total += score * scorer.weight();
        }
    }
    let best = totals.iter().copied().max().unwrap_or(0);
    let count = feasible.len();
    let chosen = (0..count).map(|i| (i + tie_breaker) % count).find(|&i| totals[i] == best).unwrap_or(0);
    Ok(feasible[chosen].name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::{node, pod_requesting};
    use crate::plugins::{default_filters, default_scores};
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn picks_the_emptier_node() {
        let mut busy = node("busy", json!({}));
        busy.add_pod(Arc::new(pod_requesting("3", "6Gi")));
        let snapshot = Snapshot { nodes: vec![busy, node("idle", json!({}))], ..Default::default() };
        let chosen = schedule(&pod_requesting("500m", "1Gi"), &snapshot, &default_filters(), &default_scores(), 0);
        assert_eq!(chosen.unwrap(), "idle");
    }

    #[test]
    fn explains_why_nothing_fits() {
        let tainted = node("t", json!({"spec": {"taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]}}));
        let snapshot = Snapshot {
            nodes: vec![node("a", json!({})), tainted, node("b", json!({"spec": {"unschedulable": true}}))],
            ..Default::default()
        };
        let error =
            schedule(&pod_requesting("100", "1Gi"), &snapshot, &default_filters(), &default_scores(), 0).unwrap_err();
        assert_eq!(
            error.message(),
            "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {gpu: true}, \
             1 node(s) were unschedulable. preemption: 0/3 nodes are available: \
             1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn counts_one_reason_across_nodes() {
        let snapshot = Snapshot { nodes: vec![node("a", json!({})), node("b", json!({}))], ..Default::default() };
        let error = schedule(&pod_requesting("100", "1Gi"), &snapshot, &default_filters(), &[], 0).unwrap_err();
        assert!(error.message().starts_with("0/2 nodes are available: 2 Insufficient cpu. preemption:"));
        let empty = Snapshot::default();
        assert_eq!(
            schedule(&pod_requesting("1", "1Gi"), &empty, &default_filters(), &[], 0).unwrap_err().message(),
            "no nodes available to schedule pods"
        );
    }
}
