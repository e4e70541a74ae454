//! One scheduling cycle over a [`Snapshot`]: run the filters on the nodes (counting the
//! pods nominated there) until enough feasible ones are found, then score those and pick
//! the best; or explain, in upstream's words, why none fit.
//!
//! As upstream, a large cluster is not searched whole for every pod: filtering stops after
//! [`num_feasible_nodes_to_find`] feasible nodes (`percentageOfNodesToScore`, adaptive by
//! default), and the next cycle starts where this one stopped ([`Rotation`]), so every node
//! gets its turn. When nothing fits, every node has been looked at, so the message counts all.

use crate::framework::{FilterPlugin, NodeInfo, PluginState, Rejection, ScorePlugin, Snapshot, pod_priority};
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why no node fits: each refused node's rejection, for the `0/N nodes are available` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    pub num_nodes: usize,
    pub rejections: BTreeMap<String, Rejection>,
    /// What the PostFilter (preemption) said, appended to the message when not empty.
    pub post_filter_message: String,
}

impl FitError {
    pub fn new(num_nodes: usize, rejections: BTreeMap<String, Rejection>) -> FitError {
        FitError { num_nodes, rejections, post_filter_message: String::new() }
    }

    /// Upstream's message: reasons counted across nodes and sorted, then the PostFilter's.
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
        if !self.post_filter_message.is_empty() {
            message.push(' ');
            message.push_str(&self.post_filter_message);
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

/// Upstream's `minFeasibleNodesToFind`: smaller clusters are always searched whole.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Upstream's `minFeasibleNodesPercentageToFind`: the adaptive percentage's floor.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// How many feasible nodes to find among `all` before scoring (upstream's
/// `numFeasibleNodesToFind` with the default adaptive `percentageOfNodesToScore`:
/// 50% less 1% per 125 nodes, at least 5%, and never fewer than 100 nodes).
pub fn num_feasible_nodes_to_find(all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let percentage = 50usize.saturating_sub(all / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    (all * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// What one cycle leaves the next: where filtering resumes (upstream's
/// `nextStartNodeIndex`) and how many decisions were made (equal nodes take turns by it).
#[derive(Clone, Debug, Default)]
pub struct Rotation {
    next_start: usize,
    turn: usize,
}

impl Rotation {
    /// How many cycles ran before this one.
    pub fn turn(&self) -> usize {
        self.turn
    }
}

/// Every filter's once-per-cycle state for `pod` over `snapshot`.
pub fn pre_filter(pod: &Pod, snapshot: &Snapshot, filters: &[Box<dyn FilterPlugin>]) -> Vec<Option<PluginState>> {
    filters.iter().map(|filter| filter.pre_filter(pod, snapshot)).collect()
}

fn run_filters(
    pod: &Pod,
    node: &NodeInfo,
    filters: &[Box<dyn FilterPlugin>],
    states: &[Option<PluginState>],
) -> Result<(), Rejection> {
    filters.iter().zip(states).try_for_each(|(filter, state)| filter.filter(pod, node, state.as_ref()))
}

fn same_pod(a: &Pod, b: &Pod) -> bool {
    a.metadata.namespace == b.metadata.namespace && a.metadata.name == b.metadata.name
}

/// Run the filters on `node` as upstream's `RunFilterPluginsWithNominatedPods` does: first
/// with the pods nominated to the node that are at least as important as `pod` (the room
/// preemption freed for them is theirs), then, if any were added, without them too (a
/// nominated pod may never arrive, and must not make the node look better either).
pub fn filter_node(
    pod: &Pod,
    node: &NodeInfo,
    snapshot: &Snapshot,
    filters: &[Box<dyn FilterPlugin>],
    states: &[Option<PluginState>],
) -> Result<(), Rejection> {
    if snapshot.nominated.is_empty() {
        return run_filters(pod, node, filters, states);
    }
    let priority = pod_priority(pod);
    let nominated: Vec<&Arc<Pod>> = snapshot
        .nominated
        .get(node.name())
        .into_iter()
        .flatten()
        .filter(|other| pod_priority(other) >= priority && !same_pod(other, pod))
        .collect();
    if nominated.is_empty() {
        return run_filters(pod, node, filters, states);
    }
    let mut with_nominated = node.clone();
    for other in nominated {
        with_nominated.add_pod(other.clone());
    }
    run_filters(pod, &with_nominated, filters, states)?;
    run_filters(pod, node, filters, states)
}

fn nominated_node(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()).filter(|n| !n.is_empty())
}

/// Where `pod` should run. A pod nominated to a node by an earlier preemption goes there if
/// it now fits; otherwise the highest-scoring feasible node among those found. Ties go to
/// the node after the [`Rotation::turn`]th in the list of feasible nodes, so equal nodes
/// take turns.
pub fn schedule(
    pod: &Pod,
    snapshot: &Snapshot,
    filters: &[Box<dyn FilterPlugin>],
    scorers: &[Box<dyn ScorePlugin>],
    rotation: &mut Rotation,
) -> Result<String, FitError> {
    let tie_breaker = rotation.turn;
    rotation.turn = rotation.turn.wrapping_add(1);
    let states = pre_filter(pod, snapshot, filters);
    if let Some(nominated) = nominated_node(pod)
        && let Some(node) = snapshot.nodes.iter().find(|n| n.name() == nominated)
        && filter_node(pod, node, snapshot, filters, &states).is_ok()
    {
        return Ok(nominated.to_owned());
    }
    let all = snapshot.nodes.len();
    if all == 0 {
        return Err(FitError::new(0, BTreeMap::new()));
    }
    let wanted = num_feasible_nodes_to_find(all);
    let start = rotation.next_start % all;
    let mut feasible = Vec::with_capacity(wanted);
    let mut rejected = Vec::new();
    for step in 0..all {
        let node = &snapshot.nodes[(start + step) % all];
        match filter_node(pod, node, snapshot, filters, &states) {
            Ok(()) => {
                feasible.push(node);
                if feasible.len() >= wanted {
                    break;
                }
            }
            Err(rejection) => rejected.push((node, rejection)),
        }
    }
    rotation.next_start = (start + feasible.len() + rejected.len()) % all;
    if feasible.is_empty() {
        let rejections = rejected.into_iter().map(|(node, rejection)| (node.name().to_owned(), rejection)).collect();
        return Err(FitError::new(all, rejections));
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
        let chosen = schedule(
            &pod_requesting("500m", "1Gi"),
            &snapshot,
            &default_filters(),
            &default_scores(),
            &mut Rotation::default(),
        );
        assert_eq!(chosen.unwrap(), "idle");
    }

    #[test]
    fn explains_why_nothing_fits() {
        let tainted = node("t", json!({"spec": {"taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]}}));
        let snapshot = Snapshot {
            nodes: vec![node("a", json!({})), tainted, node("b", json!({"spec": {"unschedulable": true}}))],
            ..Default::default()
        };
        let error = schedule(
            &pod_requesting("100", "1Gi"),
            &snapshot,
            &default_filters(),
            &default_scores(),
            &mut Rotation::default(),
        )
        .unwrap_err();
        assert_eq!(
            error.message(),
            "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {gpu: true}, \
             1 node(s) were unschedulable."
        );
    }

    #[test]
    fn counts_one_reason_across_nodes() {
        let snapshot = Snapshot { nodes: vec![node("a", json!({})), node("b", json!({}))], ..Default::default() };
        let error =
            schedule(&pod_requesting("100", "1Gi"), &snapshot, &default_filters(), &[], &mut Rotation::default())
                .unwrap_err();
        assert_eq!(error.message(), "0/2 nodes are available: 2 Insufficient cpu.");
        let with_preemption = FitError { post_filter_message: "preemption: not eligible.".to_owned(), ..error };
        assert_eq!(with_preemption.message(), "0/2 nodes are available: 2 Insufficient cpu. preemption: not eligible.");
        let empty = Snapshot::default();
        assert_eq!(
            schedule(&pod_requesting("1", "1Gi"), &empty, &default_filters(), &[], &mut Rotation::default())
                .unwrap_err()
                .message(),
            "no nodes available to schedule pods"
        );
    }

    fn named(name: &str, priority: i32, cpu: &str) -> Arc<Pod> {
        let mut pod = pod_requesting(cpu, "1Gi");
        pod.metadata.name = Some(name.to_owned());
        pod.spec.as_mut().unwrap().priority = Some(priority);
        Arc::new(pod)
    }

    #[test]
    fn nominated_pods_keep_their_room_from_less_important_pods() {
        let snapshot = Snapshot {
            nodes: vec![node("a", json!({}))],
            nominated: BTreeMap::from([("a".to_owned(), vec![named("preemptor", 100, "3")])]),
            ..Default::default()
        };
        let filters = default_filters();
        let low = schedule(&named("low", 0, "2"), &snapshot, &filters, &[], &mut Rotation::default()).unwrap_err();
        assert_eq!(low.message(), "0/1 nodes are available: 1 Insufficient cpu.");
        // As important as the nominated pod: it still leaves it the room; more important: it does not.
        assert!(schedule(&named("peer", 100, "2"), &snapshot, &filters, &[], &mut Rotation::default()).is_err());
        assert_eq!(
            schedule(&named("higher", 200, "2"), &snapshot, &filters, &[], &mut Rotation::default()).unwrap(),
            "a"
        );
        // The nominated pod itself is not counted twice.
        assert_eq!(
            schedule(&named("preemptor", 100, "3"), &snapshot, &filters, &[], &mut Rotation::default()).unwrap(),
            "a"
        );
    }

    #[test]
    fn a_nominated_pod_goes_to_its_node_when_it_fits() {
        let mut busy = node("busy", json!({}));
        busy.add_pod(Arc::new(pod_requesting("2", "6Gi")));
        let snapshot = Snapshot { nodes: vec![busy, node("idle", json!({}))], ..Default::default() };
        let mut pod = pod_requesting("500m", "1Gi");
        pod.status = Some(serde_json::from_value(json!({"nominatedNodeName": "busy"})).unwrap());
        assert_eq!(
            schedule(&pod, &snapshot, &default_filters(), &default_scores(), &mut Rotation::default()).unwrap(),
            "busy"
        );
        pod.status = Some(serde_json::from_value(json!({"nominatedNodeName": "gone"})).unwrap());
        assert_eq!(
            schedule(&pod, &snapshot, &default_filters(), &default_scores(), &mut Rotation::default()).unwrap(),
            "idle"
        );
    }

    fn empty_nodes(count: usize) -> Snapshot {
        Snapshot { nodes: (0..count).map(|i| node(&format!("n{i:03}"), json!({}))).collect(), ..Default::default() }
    }

    #[test]
    fn large_clusters_are_searched_in_part_and_in_turn() {
        assert_eq!(num_feasible_nodes_to_find(50), 50);
        assert_eq!(num_feasible_nodes_to_find(150), 100);
        assert_eq!(num_feasible_nodes_to_find(1000), 420);
        assert_eq!(num_feasible_nodes_to_find(5000), 500);
        assert_eq!(num_feasible_nodes_to_find(20000), 1000);
        let snapshot = empty_nodes(300);
        let (filters, scorers) = (default_filters(), default_scores());
        let mut rotation = Rotation::default();
        let small = pod_requesting("100m", "1Gi");
        // 48% of 300 nodes: the first 144 are filtered, the first of the equals chosen.
        assert_eq!(schedule(&small, &snapshot, &filters, &scorers, &mut rotation).unwrap(), "n000");
        assert_eq!(rotation.next_start, 144);
        // The next cycle starts at n144; ties go one further.
        assert_eq!(schedule(&small, &snapshot, &filters, &scorers, &mut rotation).unwrap(), "n145");
        assert_eq!(rotation.next_start, 288);
        // Nothing fits: every node was looked at and counted.
        let error = schedule(&pod_requesting("100", "1Gi"), &snapshot, &filters, &scorers, &mut rotation).unwrap_err();
        assert_eq!(error.message(), "0/300 nodes are available: 300 Insufficient cpu.");
        assert_eq!(rotation.next_start, 288);
    }
}
