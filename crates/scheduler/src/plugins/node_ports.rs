//! NodePorts: a pod's `hostPort`s must be free on the node (same protocol and port, on the
//! same host IP or where either side binds every address).

use crate::framework::{FilterPlugin, HostPort, NodeInfo, PluginState, Rejection, Snapshot, host_ports};
use k8s_openapi::api::core::v1::Pod;

pub struct NodePorts;

impl FilterPlugin for NodePorts {
    fn name(&self) -> &'static str {
        "NodePorts"
    }

    /// The pod's host ports, gathered once per cycle.
    fn pre_filter(&self, pod: &Pod, _snapshot: &Snapshot) -> Option<PluginState> {
        Some(Box::new(host_ports(pod)))
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, state: Option<&PluginState>) -> Result<(), Rejection> {
        let computed;
        let wanted = match state.and_then(|s| s.downcast_ref::<Vec<HostPort>>()) {
            Some(ports) => ports,
            None => {
                computed = host_ports(pod);
                &computed
            }
        };
        if wanted.iter().any(|port| node.used_ports.iter().any(|used| used.conflicts(port))) {
            return Err(Rejection::unschedulable("node(s) didn't have free ports for the requested pod ports"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::{node, pod};
    use serde_json::json;
    use std::sync::Arc;

    fn with_port(port: i32, ip: Option<&str>, protocol: &str) -> Pod {
        pod(json!({"containers": [{"name": "c", "ports": [
            {"containerPort": 80, "hostPort": port, "hostIP": ip, "protocol": protocol}
        ]}]}))
    }

    #[test]
    fn used_host_ports_conflict() {
        let mut info = node("n1", json!({}));
        info.add_pod(Arc::new(with_port(8080, None, "TCP")));
        assert!(NodePorts.filter(&with_port(8080, Some("10.0.0.1"), "TCP"), &info, None).is_err());
        assert!(NodePorts.filter(&with_port(8080, None, "UDP"), &info, None).is_ok());
        assert!(NodePorts.filter(&with_port(8081, None, "TCP"), &info, None).is_ok());
        let mut specific = node("n2", json!({}));
        specific.add_pod(Arc::new(with_port(9090, Some("10.0.0.1"), "TCP")));
        assert!(NodePorts.filter(&with_port(9090, Some("10.0.0.2"), "TCP"), &specific, None).is_ok());
    }
}
