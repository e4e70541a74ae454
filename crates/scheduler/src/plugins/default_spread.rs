//! Default spreading (upstream's system-default PodTopologySpread constraint, once
//! SelectorSpread): pods of one Service or ReplicaSet prefer nodes running fewer of their
//! siblings, so replicas land on different nodes.

use crate::framework::{MAX_NODE_SCORE, NodeInfo, PluginState, ScorePlugin, Snapshot};
use crate::labels::{map_matches, selector_is_empty, selector_matches};
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeMap;

pub struct DefaultSpread;

/// What picks `pod`'s siblings: the selectors of the Services selecting it and of the
/// ReplicaSet controlling it, all of which a sibling must match.
enum Selector<'a> {
    Map(&'a BTreeMap<String, String>),
    Label(&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector),
}

fn sibling_selectors<'a>(pod: &Pod, snapshot: &'a Snapshot) -> Vec<Selector<'a>> {
    let namespace = pod.metadata.namespace.as_deref();
    let empty = BTreeMap::new();
    let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
    let mut selectors: Vec<Selector<'a>> = snapshot
        .services
        .iter()
        .filter(|s| s.metadata.namespace.as_deref() == namespace)
        .filter_map(|s| s.spec.as_ref()?.selector.as_ref())
        .filter(|selector| !selector.is_empty() && map_matches(selector, labels))
        .map(Selector::Map)
        .collect();
    let controller = pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
    if let Some(owner) = controller.filter(|o| o.kind == "ReplicaSet") {
        let owning = snapshot.replica_sets.iter().find(|rs| {
            rs.metadata.namespace.as_deref() == namespace && rs.metadata.name.as_deref() == Some(owner.name.as_str())
        });
        if let Some(selector) = owning.and_then(|rs| rs.spec.as_ref()).map(|s| &s.selector)
            && !selector_is_empty(selector)
        {
            selectors.push(Selector::Label(selector));
        }
    }
    selectors
}

impl ScorePlugin for DefaultSpread {
    fn name(&self) -> &'static str {
        "DefaultPodTopologySpread"
    }

    fn weight(&self) -> i64 {
        2
    }

    /// How many siblings already run on `node`.
    fn score(&self, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot, _state: Option<&PluginState>) -> i64 {
        // A pod's own constraints replace the default ones.
        if pod.spec.as_ref().is_some_and(|s| s.topology_spread_constraints.as_ref().is_some_and(|c| !c.is_empty())) {
            return 0;
        }
        let selectors = sibling_selectors(pod, snapshot);
        if selectors.is_empty() {
            return 0;
        }
        let empty = BTreeMap::new();
        let siblings = node.pods.iter().filter(|other| {
            other.metadata.namespace == pod.metadata.namespace
                && other.metadata.deletion_timestamp.is_none()
                && selectors.iter().all(|selector| {
                    let labels = other.metadata.labels.as_ref().unwrap_or(&empty);
                    match selector {
                        Selector::Map(map) => map_matches(map, labels),
                        Selector::Label(selector) => selector_matches(selector, labels),
                    }
                })
        });
        siblings.count() as i64
    }

    /// Fewer siblings score higher: `100 * (max - count) / max`.
    fn normalize(&self, scores: &mut [i64]) {
        let max = scores.iter().copied().max().unwrap_or(0);
        for score in scores.iter_mut() {
            *score = if max == 0 { MAX_NODE_SCORE } else { MAX_NODE_SCORE * (max - *score) / max };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::{node, pod};
    use serde_json::json;
    use std::sync::Arc;

    fn labelled(app: &str) -> Pod {
        let mut pod = pod(json!({"containers": []}));
        pod.metadata.labels = Some([("app".to_owned(), app.to_owned())].into());
        pod
    }

    #[test]
    fn a_service_s_pods_prefer_nodes_without_siblings() {
        let service = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}}
        }))
        .unwrap();
        let snapshot = Snapshot { services: vec![Arc::new(service)], ..Default::default() };
        let mut with_sibling = node("n1", json!({}));
        with_sibling.add_pod(Arc::new(labelled("web")));
        let mut with_stranger = node("n2", json!({}));
        with_stranger.add_pod(Arc::new(labelled("db")));
        let incoming = labelled("web");
        let mut scores = [
            DefaultSpread.score(&incoming, &with_sibling, &snapshot, None),
            DefaultSpread.score(&incoming, &with_stranger, &snapshot, None),
        ];
        DefaultSpread.normalize(&mut scores);
        assert_eq!(scores, [0, 100]);
        // A pod nothing selects scores every node the same.
        let mut scores = [
            DefaultSpread.score(&labelled("db"), &with_sibling, &snapshot, None),
            DefaultSpread.score(&labelled("db"), &with_stranger, &snapshot, None),
        ];
        DefaultSpread.normalize(&mut scores);
        assert_eq!(scores, [100, 100]);
    }
}
