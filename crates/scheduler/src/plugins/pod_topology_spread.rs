//! PodTopologySpread with a pod's own `topologySpreadConstraints`: `DoNotSchedule`
//! constraints filter nodes whose domain would exceed `maxSkew` over the least-loaded
//! eligible domain; `ScheduleAnyway` constraints favour domains with fewer matching pods.
//! (Pods without constraints get the default spreading of [`super::default_spread`].)

use crate::framework::{FilterPlugin, MAX_NODE_SCORE, NodeInfo, PluginState, Rejection, ScorePlugin, Snapshot};
use crate::plugins::node_affinity::NodeAffinity;
use crate::plugins::taint_toleration::TaintToleration;
use client_runtime::labels::selects;
use k8s_openapi::api::core::v1::{Pod, TopologySpreadConstraint};
use std::collections::{BTreeMap, HashMap};

pub struct PodTopologySpread;

fn constraints<'a>(pod: &'a Pod, when: &'a str) -> impl Iterator<Item = &'a TopologySpreadConstraint> {
    let all = pod.spec.as_ref().and_then(|s| s.topology_spread_constraints.as_deref()).unwrap_or_default();
    all.iter().filter(move |c| c.when_unsatisfiable == when)
}

/// Whether `other` counts toward `constraint` of `pod`: same namespace, alive, selected.
fn counts(constraint: &TopologySpreadConstraint, pod: &Pod, other: &Pod) -> bool {
    let empty = BTreeMap::new();
    other.metadata.namespace == pod.metadata.namespace
        && other.metadata.deletion_timestamp.is_none()
        && constraint
            .label_selector
            .as_ref()
            .is_some_and(|s| selects(s, other.metadata.labels.as_ref().unwrap_or(&empty)))
}

/// Whether `node` is one of the domains `constraint` spreads over (upstream's
/// `nodeAffinityPolicy: Honor` and `nodeTaintsPolicy: Ignore` defaults).
fn eligible(constraint: &TopologySpreadConstraint, pod: &Pod, node: &NodeInfo, keys: &[&str]) -> bool {
    keys.iter().all(|key| node.labels().contains_key(*key))
        && (constraint.node_affinity_policy.as_deref() == Some("Ignore")
            || NodeAffinity.filter(pod, node, None).is_ok())
        && (constraint.node_taints_policy.as_deref() != Some("Honor")
            || TaintToleration.filter(pod, node, None).is_ok())
}

/// Matching pods per domain of each constraint, over the eligible nodes.
fn domain_counts<'a>(
    pod: &Pod,
    snapshot: &Snapshot,
    constraints: &[&'a TopologySpreadConstraint],
) -> Vec<(&'a TopologySpreadConstraint, HashMap<String, i64>)> {
    let keys: Vec<&str> = constraints.iter().map(|c| c.topology_key.as_str()).collect();
    constraints
        .iter()
        .map(|constraint| {
            let mut domains: HashMap<String, i64> = HashMap::new();
            for node in snapshot.nodes.iter().filter(|n| eligible(constraint, pod, n, &keys)) {
                let domain = node.labels()[&constraint.topology_key].clone();
                let matching = node.pods.iter().filter(|other| counts(constraint, pod, other)).count() as i64;
                *domains.entry(domain).or_default() += matching;
            }
            (*constraint, domains)
        })
        .collect()
}

/// One `DoNotSchedule` constraint, counted.
struct Skew {
    key: String,
    max_skew: i64,
    domains: HashMap<String, i64>,
    /// The least matching pods in an eligible domain (0 with fewer than `minDomains`).
    min: i64,
    /// 1 when the pod counts toward its own constraint.
    itself: i64,
}

struct Skews {
    constraints: Vec<Skew>,
}

impl FilterPlugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        "PodTopologySpread"
    }

    fn pre_filter(&self, pod: &Pod, snapshot: &Snapshot) -> Option<PluginState> {
        let hard: Vec<&TopologySpreadConstraint> = constraints(pod, "DoNotSchedule").collect();
        if hard.is_empty() {
            return None;
        }
        let constraints = domain_counts(pod, snapshot, &hard)
            .into_iter()
            .map(|(constraint, domains)| {
                let too_few = (domains.len() as i64) < i64::from(constraint.min_domains.unwrap_or(1));
                let min = if too_few { 0 } else { domains.values().copied().min().unwrap_or(0) };
                let itself = i64::from(counts(constraint, pod, pod));
                Skew {
                    key: constraint.topology_key.clone(),
                    max_skew: i64::from(constraint.max_skew),
                    domains,
                    min,
                    itself,
                }
            })
            .collect();
        Some(Box::new(Skews { constraints }))
    }

    fn filter(&self, _pod: &Pod, node: &NodeInfo, state: Option<&PluginState>) -> Result<(), Rejection> {
        let Some(skews) = state.and_then(|s| s.downcast_ref::<Skews>()) else { return Ok(()) };
        for skew in &skews.constraints {
            let Some(domain) = node.labels().get(&skew.key) else {
                return Err(Rejection::unresolvable(
                    "node(s) didn't match pod topology spread constraints (missing required label)",
                ));
            };
            if skew.domains.get(domain).copied().unwrap_or(0) + skew.itself - skew.min > skew.max_skew {
                return Err(Rejection::unschedulable("node(s) didn't match pod topology spread constraints"));
            }
        }
        Ok(())
    }
}

impl ScorePlugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        "PodTopologySpread"
    }

    fn weight(&self) -> i64 {
        2
    }

    fn pre_score(&self, pod: &Pod, snapshot: &Snapshot) -> Option<PluginState> {
        let soft: Vec<&TopologySpreadConstraint> = constraints(pod, "ScheduleAnyway").collect();
        if soft.is_empty() {
            return None;
        }
        let counted: Vec<(String, HashMap<String, i64>)> = domain_counts(pod, snapshot, &soft)
            .into_iter()
            .map(|(constraint, domains)| (constraint.topology_key.clone(), domains))
            .collect();
        Some(Box::new(counted))
    }

    /// The matching pods in the node's domains (fewer is better, see `normalize`).
    fn score(&self, _pod: &Pod, node: &NodeInfo, _snapshot: &Snapshot, state: Option<&PluginState>) -> i64 {
        let Some(counted) = state.and_then(|s| s.downcast_ref::<Vec<(String, HashMap<String, i64>)>>()) else {
            return 0;
        };
        counted
            .iter()
            .map(|(key, domains)| node.labels().get(key).and_then(|d| domains.get(d)).copied().unwrap_or(0))
            .sum()
    }

    fn normalize(&self, scores: &mut [i64]) {
        let max = scores.iter().copied().max().unwrap_or(0);
        let min = scores.iter().copied().min().unwrap_or(0);
        for score in scores.iter_mut() {
            *score = if max > min { MAX_NODE_SCORE * (max - *score) / (max - min) } else { MAX_NODE_SCORE };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::{node, pod};
    use serde_json::json;
    use std::sync::Arc;

    fn web(when: &str) -> Pod {
        let mut p = pod(json!({"containers": [], "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}
        }]}));
        p.metadata.labels = Some([("app".to_owned(), "web".to_owned())].into());
        p
    }

    fn zones() -> Snapshot {
        let mut a = node("a", json!({"metadata": {"labels": {"zone": "z1"}}}));
        a.add_pod(Arc::new(web("DoNotSchedule")));
        let b = node("b", json!({"metadata": {"labels": {"zone": "z2"}}}));
        let unlabelled = node("c", json!({}));
        Snapshot { nodes: vec![a, b, unlabelled], ..Default::default() }
    }

    #[test]
    fn hard_constraints_keep_the_skew() {
        let snapshot = zones();
        let incoming = web("DoNotSchedule");
        let state = PodTopologySpread.pre_filter(&incoming, &snapshot);
        let results: Vec<_> =
            snapshot.nodes.iter().map(|n| PodTopologySpread.filter(&incoming, n, state.as_ref())).collect();
        assert_eq!(results[0].as_ref().unwrap_err().reasons, ["node(s) didn't match pod topology spread constraints"]);
        assert!(results[1].is_ok());
        assert!(results[2].as_ref().unwrap_err().reasons[0].contains("missing required label"));
    }

    #[test]
    fn soft_constraints_prefer_emptier_domains() {
        let snapshot = zones();
        let incoming = web("ScheduleAnyway");
        assert!(PodTopologySpread.pre_filter(&incoming, &snapshot).is_none());
        let state = PodTopologySpread.pre_score(&incoming, &snapshot);
        let mut scores: Vec<i64> = snapshot.nodes[..2]
            .iter()
            .map(|n| PodTopologySpread.score(&incoming, n, &snapshot, state.as_ref()))
            .collect();
        PodTopologySpread.normalize(&mut scores);
        assert_eq!(scores, [0, 100]);
    }
}
