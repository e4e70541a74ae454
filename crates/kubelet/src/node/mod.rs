//! This machine as a Node: the object it registers (labels, taints, addresses), the status
//! it keeps reporting (capacity and allocatable from [`machine`], conditions, nodeInfo,
//! images, the kubelet endpoint) and its Lease in `kube-node-lease`.

pub mod lease;
pub mod machine;

use crate::cri::Cri;
use crate::error::Result;
use jiff::Timestamp;
use k8s_cri::v1::{ListImagesRequest, StatusRequest};
use k8s_openapi::api::core::v1::{Node, Taint};
use kube::api::{Api, Patch, PatchParams, PostParams};
use machine::Capacity;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The version this kubelet reports.
pub const KUBELET_VERSION: &str = "v1.33.0-krust.1";
/// The port of the kubelet API.
pub const KUBELET_PORT: u16 = 10250;
/// How many images the node status lists (upstream's `nodeStatusMaxImages`).
const MAX_IMAGES: usize = 50;

/// Who this node is.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub name: String,
    pub internal_ip: IpAddr,
    pub external_ip: Option<IpAddr>,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// Where this node keeps local-path volumes (announced in the Node annotation the
    /// provisioner reads).
    pub storage_root: Option<String>,
}

/// The Node annotation that announces [`NodeConfig::storage_root`].
pub const STORAGE_ROOT_ANNOTATION: &str = "local-path.krust.dev/root";

/// The Node object to register, without status.
pub fn node_object(config: &NodeConfig) -> Node {
    let arch = crate::images::oci::go_arch();
    let mut labels = json!({
        "beta.kubernetes.io/arch": arch,
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch,
        "kubernetes.io/hostname": config.name,
        "kubernetes.io/os": "linux",
    });
    for (key, value) in &config.labels {
        labels[key] = Value::String(value.clone());
    }
    let mut annotations = json!({"node.alpha.kubernetes.io/ttl": "0"});
    if let Some(root) = &config.storage_root {
        annotations[STORAGE_ROOT_ANNOTATION] = json!(root);
    }
    let mut spec = json!({});
    if !config.taints.is_empty() {
        spec["taints"] = serde_json::to_value(&config.taints).expect("taints serialize");
    }
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": config.name, "labels": labels, "annotations": annotations},
        "spec": spec,
    }))
    .expect("a Node")
}

/// Whether the runtime and its network are ready: `Err` carries upstream's message.
pub async fn runtime_ready(cri: &Cri) -> std::result::Result<(), String> {
    let status = cri
        .runtime()
        .status(StatusRequest { verbose: false })
        .await
        .map_err(|s| format!("container runtime is down: {}", s.message()))?;
    let conditions = status.into_inner().status.map(|s| s.conditions).unwrap_or_default();
    for wanted in ["RuntimeReady", "NetworkReady"] {
        match conditions.iter().find(|c| c.r#type == wanted) {
            Some(c) if c.status => {}
            Some(c) => {
                let which = if wanted == "NetworkReady" {
                    "container runtime network not ready"
                } else {
                    "container runtime not ready"
                };
                return Err(format!("{which}: {wanted}=false reason:{} message:{}", c.reason, c.message));
            }
            None => return Err(format!("container runtime status check may not have completed yet: {wanted} missing")),
        }
    }
    Ok(())
}

/// The images on the node, biggest first, as the node status lists them.
pub async fn images(cri: &Cri) -> Vec<Value> {
    let Ok(listed) = cri.images().list_images(ListImagesRequest { filter: None }).await else { return Vec::new() };
    let mut images = listed.into_inner().images;
    images.sort_by_key(|i| std::cmp::Reverse(i.size));
    images
        .into_iter()
        .take(MAX_IMAGES)
        .map(|i| json!({"names": i.repo_digests.iter().chain(i.repo_tags.iter()).collect::<Vec<_>>(), "sizeBytes": i.size}))
        .collect()
}

/// What the status report says beyond the fixed facts.
pub struct Observed<'a> {
    pub capacity: &'a Capacity,
    pub runtime_version: &'a str,
    pub ready: std::result::Result<(), String>,
    pub images: Vec<Value>,
    pub ready_since: Timestamp,
    pub pressure: machine::Pressure,
}

/// The node's status now.
pub fn node_status(config: &NodeConfig, observed: &Observed<'_>) -> Value {
    let now = now();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": type_, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now.to_string(), "lastTransitionTime": observed.ready_since.to_string(),
        })
    };
    let ready = match &observed.ready {
        Ok(()) => condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        Err(message) => condition("Ready", "False", "KubeletNotReady", message),
    };
    let mut addresses = vec![json!({"type": "InternalIP", "address": config.internal_ip.to_string()})];
    if let Some(external) = config.external_ip {
        addresses.push(json!({"type": "ExternalIP", "address": external.to_string()}));
    }
    addresses.push(json!({"type": "Hostname", "address": config.name}));
    json!({
        "capacity": observed.capacity.capacity(),
        "allocatable": observed.capacity.allocatable(),
        "conditions": [
            if observed.pressure.memory {
                condition("MemoryPressure", "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
            } else {
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available")
            },
            if observed.pressure.disk {
                condition("DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure")
            } else {
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure")
            },
            if observed.pressure.pid {
                condition("PIDPressure", "True", "KubeletHasInsufficientPID", "kubelet has insufficient PID available")
            } else {
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available")
            },
            ready,
        ],
        "addresses": addresses,
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": machine::node_info(KUBELET_VERSION, observed.runtime_version),
        "images": observed.images,
    })
}

/// Register the node (or take over the existing one of the same name).
pub async fn register(client: &kube::Client, config: &NodeConfig) -> Result<Node> {
    let api: Api<Node> = Api::all(client.clone());
    match api.create(&PostParams::default(), &node_object(config)).await {
        Ok(node) => Ok(node),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(api.get(&config.name).await?),
        Err(error) => Err(error.into()),
    }
}

/// Report the node's status.
pub async fn report_status(client: &kube::Client, config: &NodeConfig, status: Value) -> Result<Node> {
    let api: Api<Node> = Api::all(client.clone());
    let patch = json!({"status": status});
    Ok(api.patch_status(&config.name, &PatchParams::default(), &Patch::Strategic(patch)).await?)
}

/// Now, to the second (the precision of the API's timestamps).
pub fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NodeConfig {
        NodeConfig {
            name: "node-a".into(),
            internal_ip: "172.30.0.2".parse().unwrap(),
            external_ip: Some("203.0.113.5".parse().unwrap()),
            labels: BTreeMap::from([("zone".to_owned(), "a".to_owned())]),
            taints: vec![Taint {
                key: "dedicated".into(),
                value: Some("db".into()),
                effect: "NoSchedule".into(),
                time_added: None,
            }],
            storage_root: None,
        }
    }

    #[test]
    fn the_node_carries_labels_taints_addresses_and_the_kubelet_endpoint() {
        let node = node_object(&config());
        let labels = node.metadata.labels.unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "node-a");
        assert_eq!(labels["zone"], "a");
        assert_eq!(node.spec.unwrap().taints.unwrap()[0].key, "dedicated");
        let capacity = Capacity { cpus: 2, memory_ki: 4 << 20, ephemeral_storage_ki: 1 << 20, pods: 110 };
        let observed = Observed {
            capacity: &capacity,
            runtime_version: "containerd://1.6.20",
            ready: Err("no network".into()),
            images: vec![],
            ready_since: now(),
            pressure: machine::Pressure::default(),
        };
        let status = node_status(&config(), &observed);
        assert_eq!(status["addresses"][0], json!({"type": "InternalIP", "address": "172.30.0.2"}));
        assert_eq!(status["addresses"][1]["type"], "ExternalIP");
        assert_eq!(status["conditions"][3]["status"], "False");
        assert_eq!(status["nodeInfo"]["containerRuntimeVersion"], "containerd://1.6.20");
        assert_eq!(status["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10250);
        let _: k8s_openapi::api::core::v1::NodeStatus = serde_json::from_value(status).unwrap();
    }
}
