//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take only pods that tolerate
//! the `node.kubernetes.io/unschedulable:NoSchedule` taint.

use crate::framework::{FilterPlugin, NodeInfo, PluginState, Rejection};
use component_helpers::tolerates;
use k8s_openapi::api::core::v1::{Pod, Taint};

pub struct NodeUnschedulable;

const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

impl FilterPlugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        "NodeUnschedulable"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, _state: Option<&PluginState>) -> Result<(), Rejection> {
        if !node.node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
            return Ok(());
        }
        let taint =
            Taint { key: UNSCHEDULABLE_TAINT.to_owned(), effect: "NoSchedule".to_owned(), ..Default::default() };
        let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or_default();
        if tolerations.iter().any(|t| tolerates(t, &taint)) {
            return Ok(());
        }
        Err(Rejection::unresolvable("node(s) were unschedulable"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn cordoned_nodes_refuse_pods_without_the_toleration() {
        let cordoned = node("n1", json!({"spec": {"unschedulable": true}}));
        let plain = pod(json!({"containers": [{"name": "c"}]}));
        assert_eq!(
            NodeUnschedulable.filter(&plain, &cordoned, None).unwrap_err().reasons,
            ["node(s) were unschedulable"]
        );
        assert!(NodeUnschedulable.filter(&plain, &node("n2", json!({})), None).is_ok());
        let tolerant = pod(json!({
            "containers": [{"name": "c"}],
            "tolerations": [{"key": UNSCHEDULABLE_TAINT, "operator": "Exists", "effect": "NoSchedule"}]
        }));
        assert!(NodeUnschedulable.filter(&tolerant, &cordoned, None).is_ok());
    }
}
