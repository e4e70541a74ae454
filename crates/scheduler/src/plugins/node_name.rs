//! NodeName: a pod that names its node (`spec.nodeName` set before scheduling, as some
//! clients do through the scheduler) fits only there.

use crate::framework::{FilterPlugin, NodeInfo, PluginState, Rejection};
use k8s_openapi::api::core::v1::Pod;

pub struct NodeName;

impl FilterPlugin for NodeName {
    fn name(&self) -> &'static str {
        "NodeName"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, _state: Option<&PluginState>) -> Result<(), Rejection> {
        match pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty()) {
            Some(wanted) if wanted != node.name() => {
                Err(Rejection::unresolvable("node(s) didn't match the requested node name"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn only_the_named_node_fits() {
        let named = pod(json!({"nodeName": "n1", "containers": [{"name": "c"}]}));
        assert!(NodeName.filter(&named, &node("n1", json!({})), None).is_ok());
        assert!(NodeName.filter(&named, &node("n2", json!({})), None).is_err());
        assert!(NodeName.filter(&pod(json!({"containers": []})), &node("n2", json!({})), None).is_ok());
    }
}
