//! Default spreading (upstream's system-default PodTopologySpread constraint, once
//! SelectorSpread): pods of one Service or ReplicaSet prefer nodes running fewer of their
//! siblings, so replicas land on different nodes.

use crate::framework::{MAX_NODE_SCORE, NodeInfo, PluginState, ScorePlugin, Snapshot};
use client_runtime::labels::{map_selects, selector_is_empty, selects, set_selects};
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeMap;

pub struct DefaultSpread;

/// What picks `pod`'s siblings: the selectors of the Services selecting it and of the
/// ReplicaSet controlling it, all of which a sibling must match.
enum Selector {
    Map(BTreeMap<String, String>),
    Label(k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector),
}

/// The selectors of `pod`'s siblings, and its namespace they share; none for a pod whose
/// own spread constraints replace the default ones.
struct Siblings {
    namespace: Option<String>,
    selectors: Vec<Selector>,
}

impl Siblings {
    fn of(pod: &Pod, snapshot: &Snapshot) -> Siblings {
        let namespace = pod.metadata.namespace.clone();
        let own_constraints =
            pod.spec.as_ref().is_some_and(|s| s.topology_spread_constraints.as_ref().is_some_and(|c| !c.is_empty()));
        if own_constraints {
            return Siblings { namespace, selectors: Vec::new() };
        }
        let empty = BTreeMap::new();
        let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
        let mut selectors: Vec<Selector> = snapshot
            .services
            .iter()
            .filter(|s| s.metadata.namespace == namespace)
            .filter_map(|s| s.spec.as_ref()?.selector.as_ref())
            .filter(|selector| set_selects(selector, labels))
            .map(|selector| Selector::Map(selector.clone()))
            .collect();
        let controller = pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
        if let Some(owner) = controller.filter(|o| o.kind == "ReplicaSet") {
            let owning = snapshot.replica_sets.iter().find(|rs| {
                rs.metadata.namespace == namespace && rs.metadata.name.as_deref() == Some(owner.name.as_str())
            });
            if let Some(selector) = owning.and_then(|rs| rs.spec.as_ref()).map(|s| &s.selector)
                && !selector_is_empty(selector)
            {
                selectors.push(Selector::Label(selector.clone()));
            }
        }
        Siblings { namespace, selectors }
    }

    fn count_on(&self, node: &NodeInfo) -> i64 {
        if self.selectors.is_empty() {
            return 0;
        }
        let empty = BTreeMap::new();
        let siblings = node.pods.iter().filter(|other| {
            other.metadata.namespace == self.namespace
                && other.metadata.deletion_timestamp.is_none()
                && self.selectors.iter().all(|selector| {
                    let labels = other.metadata.labels.as_ref().unwrap_or(&empty);
                    match selector {
                        Selector::Map(map) => map_selects(map, labels),
                        Selector::Label(selector) => selects(selector, labels),
                    }
                })
        });
        siblings.count() as i64
    }
}

impl ScorePlugin for DefaultSpread {
    fn name(&self) -> &'static str {
        "DefaultPodTopologySpread"
    }

    fn weight(&self) -> i64 {
        2
    }

    /// The sibling selectors, found once per cycle.
    fn pre_score(&self, pod: &Pod, snapshot: &Snapshot) -> Option<PluginState> {
        Some(Box::new(Siblings::of(pod, snapshot)))
    }

    /// How many siblings already run on `node`.
    fn score(&self, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot, state: Option<&PluginState>) -> i64 {
        match state.and_then(|s| s.downcast_ref::<Siblings>()) {
            Some(siblings) => siblings.count_on(node),
            None => Siblings::of(pod, snapshot).count_on(node),
        }
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
