//! Where a DaemonSet's pods go (upstream's `NodeShouldRunDaemonPod` and `daemon/util`): a
//! node runs a daemon pod when the pod's nodeSelector, required node affinity and
//! tolerations admit it; each pod is pinned to its node by a required node affinity on
//! `metadata.name`, so the scheduler places it, and carries the tolerations upstream adds.

use component_helpers::{term_matches, tolerates};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, Toleration,
};

/// The tolerations upstream's `AddOrUpdateDaemonPodTolerations` adds: (key, effect).
const DAEMON_TOLERATIONS: [(&str, &str); 6] = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
];
const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// `spec` with the daemon tolerations added (host-network pods also tolerate an unavailable network).
pub fn with_daemon_tolerations(mut spec: PodSpec) -> PodSpec {
    let mut tolerations = spec.tolerations.take().unwrap_or_default();
    let network = spec.host_network == Some(true);
    let extra = DAEMON_TOLERATIONS.iter().copied().chain(network.then_some((NETWORK_UNAVAILABLE, "NoSchedule")));
    for (key, effect) in extra {
        let toleration = Toleration {
            key: Some(key.to_owned()),
            operator: Some("Exists".to_owned()),
            effect: Some(effect.to_owned()),
            ..Default::default()
        };
        tolerations.retain(|t| !(t.key.as_deref() == Some(key) && t.effect.as_deref() == Some(effect)));
        tolerations.push(toleration);
    }
    spec.tolerations = Some(tolerations);
    spec
}

/// `spec` pinned to `node`: its required node affinity becomes the single term
/// `metadata.name In [node]` (upstream's `ReplaceDaemonSetPodNodeNameNodeAffinity`).
pub fn pinned_to(mut spec: PodSpec, node: &str) -> PodSpec {
    let term = NodeSelectorTerm {
        match_fields: Some(vec![NodeSelectorRequirement {
            key: "metadata.name".into(),
            operator: "In".into(),
            values: Some(vec![node.to_owned()]),
        }]),
        match_expressions: None,
    };
    let mut affinity = spec.affinity.take().unwrap_or_default();
    let mut node_affinity = affinity.node_affinity.take().unwrap_or_default();
    node_affinity.required_during_scheduling_ignored_during_execution =
        Some(NodeSelector { node_selector_terms: vec![term] });
    affinity.node_affinity = Some(node_affinity);
    spec.affinity = Some(affinity);
    spec
}

/// The node a daemon pod is for: its `nodeName`, else the node its affinity pins it to
/// (upstream's `GetTargetNodeName`).
pub fn target_node(pod: &Pod) -> Option<&str> {
    let spec = pod.spec.as_ref()?;
    if let Some(node) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(node);
    }
    let required =
        spec.affinity.as_ref()?.node_affinity.as_ref()?.required_during_scheduling_ignored_during_execution.as_ref()?;
    required.node_selector_terms.iter().flat_map(|t| t.match_fields.iter().flatten()).find_map(|r| {
        let values = r.values.as_deref().unwrap_or_default();
        (r.key == "metadata.name" && r.operator == "In" && values.len() == 1).then(|| values[0].as_str())
    })
}

/// Whether a daemon pod with `spec` (tolerations already added) should run on `node`.
pub fn should_run(spec: &PodSpec, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let by_selector = spec.node_selector.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a: &Affinity| a.node_affinity.as_ref())
        .and_then(|a: &NodeAffinity| a.required_during_scheduling_ignored_during_execution.as_ref());
    let by_affinity = required.is_none_or(|r| r.node_selector_terms.iter().any(|t| term_matches(t, &labels, name)));
    let taints = node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default();
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let tolerated = taints
        .iter()
        .filter(|t| matches!(t.effect.as_str(), "NoSchedule" | "NoExecute"))
        .all(|taint| tolerations.iter().any(|t| tolerates(t, taint)));
    by_selector && by_affinity && tolerated
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeSpec;
    use k8s_openapi::api::core::v1::Taint;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                taints: Some(
                    taints
                        .iter()
                        .map(|(k, e)| Taint { key: (*k).into(), effect: (*e).into(), ..Default::default() })
                        .collect(),
                ),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn selectors_and_taints_decide_eligibility() {
        let spec = with_daemon_tolerations(PodSpec {
            node_selector: Some([("disk".into(), "ssd".into())].into()),
            ..Default::default()
        });
        assert!(should_run(&spec, &node("a", &[("disk", "ssd")], &[])));
        assert!(!should_run(&spec, &node("b", &[("disk", "hdd")], &[])));
        assert!(should_run(
            &spec,
            &node("c", &[("disk", "ssd")], &[("node.kubernetes.io/unschedulable", "NoSchedule")])
        ));
        assert!(!should_run(&spec, &node("d", &[("disk", "ssd")], &[("dedicated", "NoSchedule")])));
        assert!(should_run(&spec, &node("e", &[("disk", "ssd")], &[("dedicated", "PreferNoSchedule")])));
    }

    #[test]
    fn pods_are_pinned_to_their_node_with_the_daemon_tolerations() {
        let spec = pinned_to(with_daemon_tolerations(PodSpec::default()), "sim-node-2");
        let tolerations = spec.tolerations.as_ref().unwrap();
        assert_eq!(tolerations.len(), 6);
        assert!(
            tolerations.iter().any(|t| t.key.as_deref() == Some("node.kubernetes.io/not-ready")
                && t.effect.as_deref() == Some("NoExecute"))
        );
        let pod = Pod { spec: Some(spec.clone()), ..Default::default() };
        assert_eq!(target_node(&pod), Some("sim-node-2"));
        assert!(should_run(&spec, &node("sim-node-2", &[], &[])));
        assert!(!should_run(&spec, &node("sim-node-1", &[], &[])));
    }
}
