//! NodeAffinity: `nodeSelector` and required node affinity filter nodes; preferred node
//! affinity terms add their weights to the nodes they match.

use crate::framework::{FilterPlugin, NodeInfo, PluginState, Rejection, ScorePlugin, Snapshot, normalize_scores};
use client_runtime::labels::map_selects;
use k8s_openapi::api::core::v1::{NodeSelectorTerm, Pod};

pub struct NodeAffinity;

/// Whether `node` satisfies every requirement of `term`; a term with none matches nothing.
pub fn term_matches(term: &NodeSelectorTerm, node: &NodeInfo) -> bool {
    component_helpers::term_matches(term, node.labels(), node.name())
}

impl FilterPlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, _state: Option<&PluginState>) -> Result<(), Rejection> {
        let refused = || Rejection::unresolvable("node(s) didn't match Pod's node affinity/selector");
        let Some(spec) = &pod.spec else { return Ok(()) };
        if let Some(selector) = &spec.node_selector
            && !map_selects(selector, node.labels())
        {
            return Err(refused());
        }
        let required = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref());
        match required {
            Some(selector) if !selector.node_selector_terms.iter().any(|term| term_matches(term, node)) => {
                Err(refused())
            }
            _ => Ok(()),
        }
    }
}

impl ScorePlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }

    fn weight(&self) -> i64 {
        2
    }

    /// The summed weights of the preferred terms `node` matches.
    fn score(&self, pod: &Pod, node: &NodeInfo, _snapshot: &Snapshot, _state: Option<&PluginState>) -> i64 {
        let preferred = pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_deref())
            .unwrap_or_default();
        preferred.iter().filter(|term| term_matches(&term.preference, node)).map(|term| i64::from(term.weight)).sum()
    }

    fn normalize(&self, scores: &mut [i64]) {
        normalize_scores(scores, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::{node, pod};
    use serde_json::json;

    fn labelled(name: &str, disk: &str) -> NodeInfo {
        node(name, json!({"metadata": {"labels": {"disk": disk, "cores": "16"}}}))
    }

    #[test]
    fn node_selector_must_match() {
        let wants_ssd = pod(json!({"containers": [], "nodeSelector": {"disk": "ssd"}}));
        assert!(NodeAffinity.filter(&wants_ssd, &labelled("a", "ssd"), None).is_ok());
        let refusal = NodeAffinity.filter(&wants_ssd, &labelled("b", "hdd"), None).unwrap_err();
        assert_eq!(refusal.reasons, ["node(s) didn't match Pod's node affinity/selector"]);
    }

    #[test]
    fn required_terms_are_ored_and_their_requirements_anded() {
        let affinity = pod(json!({"containers": [], "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]},
                                  {"key": "cores", "operator": "Gt", "values": ["8"]}]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]}
        ]}}}}));
        assert!(NodeAffinity.filter(&affinity, &labelled("a", "ssd"), None).is_ok());
        assert!(NodeAffinity.filter(&affinity, &labelled("b", "hdd"), None).is_err());
        assert!(NodeAffinity.filter(&affinity, &labelled("c", "hdd"), None).is_ok());
    }

    #[test]
    fn preferred_terms_add_their_weights() {
        let prefers = pod(json!({"containers": [], "affinity": {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}
        ]}}}));
        let snapshot = Snapshot::default();
        let mut scores = [
            NodeAffinity.score(&prefers, &labelled("a", "ssd"), &snapshot, None),
            NodeAffinity.score(&prefers, &labelled("b", "hdd"), &snapshot, None),
        ];
        NodeAffinity.normalize(&mut scores);
        assert_eq!(scores, [100, 0]);
    }
}
