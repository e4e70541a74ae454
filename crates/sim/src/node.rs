//! A simulated node's own objects: the Node it registers (labels, capacity, addresses,
//! conditions), the status it keeps reporting, and its Lease in `kube-node-lease`.

use crate::{Error, NodeSpec};
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::time::Duration;

/// The namespace of node heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// How long a Lease stays valid without renewal (upstream's kubelet default).
pub const LEASE_DURATION_SECONDS: i32 = 40;
/// The version the simulated kubelets report.
pub const KUBELET_VERSION: &str = "v1.33.0";

/// The `kubernetes.io/arch` of the machine, in Go's names.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The Node object `spec` registers, without status.
pub fn node_object(spec: &NodeSpec) -> Node {
    let mut labels = json!({
        "beta.kubernetes.io/arch": arch(),
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch(),
        "kubernetes.io/hostname": spec.name,
        "kubernetes.io/os": "linux",
        "type": "krust-sim",
    });
    for (key, value) in &spec.labels {
        labels[key] = Value::String(value.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "krust.dev/simulated": "true"},
        },
        "spec": {},
    }))
    .expect("a Node")
}

/// The status a healthy simulated kubelet reports at `now`.
pub fn node_status(spec: &NodeSpec, now: Timestamp, ready_since: Timestamp) -> Value {
    let resources = json!({
        "cpu": spec.cpu,
        "memory": spec.memory,
        "pods": spec.pods.to_string(),
        "ephemeral-storage": spec.ephemeral_storage,
    });
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": type_, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now.to_string(), "lastTransitionTime": ready_since.to_string(),
        })
    };
    json!({
        "capacity": resources,
        "allocatable": resources,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": spec.internal_ip.to_string()},
            {"type": "Hostname", "address": spec.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": format!("{:032x}", spec.index),
            "systemUUID": format!("krust-sim-{}", spec.index),
            "bootID": format!("krust-sim-boot-{}", spec.index),
            "kernelVersion": "6.0.0-krust-sim",
            "osImage": "Krust simulated node",
            "containerRuntimeVersion": "krust-sim://1.0.0",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": arch(),
        },
    })
}

/// Register the node (or take over the existing one) and report its status; returns the Node.
pub async fn register(client: &kube::Client, spec: &NodeSpec, ready_since: Timestamp) -> Result<Node, Error> {
    let api: Api<Node> = Api::all(client.clone());
    match api.create(&PostParams::default(), &node_object(spec)).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => return Err(error.into()),
    }
    report_status(client, spec, ready_since).await
}

/// How long a new node waits for node IPAM to give it a pod range before it falls back to
/// its own (against a cluster without IPAM, or whose cluster CIDR has no range left).
pub const POD_CIDR_WAIT: Duration = Duration::from_secs(5);

/// Node `name`'s `spec.podCIDR`, reading the Node until node IPAM assigned it (a kubelet's
/// pod network is not ready before) or `wait` passed.
pub async fn await_pod_cidr(client: &kube::Client, name: &str, wait: Duration) -> Option<String> {
    let api: Api<Node> = Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(cidr) = api.get(name).await.ok().as_ref().and_then(crate::source::cidr_of) {
            return Some(cidr);
        }
    }
    None
}

/// Report the node's status (its heartbeat on the Node object).
pub async fn report_status(client: &kube::Client, spec: &NodeSpec, ready_since: Timestamp) -> Result<Node, Error> {
    let api: Api<Node> = Api::all(client.clone());
    let patch = json!({"status": node_status(spec, now(), ready_since)});
    Ok(api.patch_status(&spec.name, &PatchParams::default(), &Patch::Merge(&patch)).await?)
}

/// The node's Lease spec as renewed now.
fn lease_renewal(name: &str) -> Value {
    json!({"spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_SECONDS,
        "renewTime": MicroTime(Timestamp::now())}})
}

/// Renew the node's Lease, creating it (owned by the Node) if it is missing.
pub async fn renew_lease(client: &kube::Client, node: &Node) -> Result<(), Error> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let api: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    match api.patch(&name, &PatchParams::default(), &Patch::Merge(&lease_renewal(&name))).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => create_lease(client, node).await,
        Err(error) => Err(error.into()),
    }
}

/// Create the node's Lease (owned by the Node), renewing it if it already exists: what a
/// node does first, when its Lease is most likely missing.
pub async fn create_lease(client: &kube::Client, node: &Node) -> Result<(), Error> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let api: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node.metadata.uid}],
        },
        "spec": lease_renewal(&name)["spec"],
    }))
    .expect("a Lease");
    match api.create(&PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&lease_renewal(&name))).await?;
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}

/// Now, to the second (the precision of the API's timestamps).
pub fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_carries_the_standard_labels_and_a_ready_status() {
        let spec = NodeSpec::numbered(2);
        let node = node_object(&spec);
        let labels = node.metadata.labels.unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "sim-node-2");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert!(labels.contains_key("kubernetes.io/arch"));
        let status = node_status(&spec, now(), now());
        assert_eq!(status["capacity"]["cpu"], "8");
        assert_eq!(status["capacity"]["memory"], "32Gi");
        assert_eq!(status["allocatable"]["pods"], "110");
        assert_eq!(status["addresses"][0]["address"], "10.99.0.2");
        assert_eq!(status["conditions"][3]["type"], "Ready");
        let _: k8s_openapi::api::core::v1::NodeStatus = serde_json::from_value(status).unwrap();
    }
}
