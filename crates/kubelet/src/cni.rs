//! The pod network of one node: a CNI configuration for containerd (a `cni0` bridge with
//! host-local IPAM on the node's `podCIDR`, and portmap for host ports), written once node
//! IPAM gave the node its range, and a masquerade rule so that only traffic leaving the
//! cluster CIDR is NATed (pod-to-pod traffic keeps its source IP).

use crate::error::{Error, Result};
use crate::paths::Paths;
use serde_json::json;

/// The name of the file containerd reads.
const CONFLIST: &str = "10-krust.conflist";
/// The name of the network (also the iptables rule's comment).
const NETWORK: &str = "krust";

/// The conflist for pods in `pod_cidr`.
pub fn conflist(paths: &Paths, pod_cidr: &str) -> serde_json::Value {
    json!({
        "cniVersion": "1.0.0",
        "name": NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": paths.cni_ipam_dir(),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    })
}

/// Write the CNI configuration for `pod_cidr` (containerd picks it up by itself).
pub fn write_config(paths: &Paths, pod_cidr: &str) -> Result<()> {
    let dir = paths.cni_conf_dir();
    std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
    let file = dir.join(CONFLIST);
    let text = serde_json::to_string_pretty(&conflist(paths, pod_cidr)).expect("JSON");
    if std::fs::read_to_string(&file).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    let tmp = dir.join(format!(".{CONFLIST}.tmp"));
    std::fs::write(&tmp, text).map_err(Error::io("writing", &tmp))?;
    std::fs::rename(&tmp, &file).map_err(Error::io("writing", &file))
}

/// NAT traffic from `pod_cidr` to outside `cluster_cidr` to the node's address, once.
pub async fn masquerade(pod_cidr: &str, cluster_cidr: &str) {
    let rule = ["-s", pod_cidr, "!", "-d", cluster_cidr, "-m", "comment", "--comment", NETWORK, "-j", "MASQUERADE"];
    let run = |action: &'static str| {
        let mut command = tokio::process::Command::new("iptables");
        command.args(["-w", "-t", "nat", action, "POSTROUTING"]).args(rule);
        command.output()
    };
    match run("-C").await {
        Ok(output) if output.status.success() => {}
        _ => match run("-A").await {
            Ok(output) if output.status.success() => {}
            Ok(output) => {
                tracing::warn!(stderr = %String::from_utf8_lossy(&output.stderr), "adding the pod masquerade rule failed")
            }
            Err(error) => tracing::warn!(%error, "iptables is not available; pods reach only the cluster"),
        },
    }
}
