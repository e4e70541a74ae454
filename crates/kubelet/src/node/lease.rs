//! The node's heartbeat Lease in `kube-node-lease`, owned by its Node, renewed every
//! 10 seconds (upstream's kubelet defaults).

use crate::error::Result;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::time::Duration;

pub const NAMESPACE: &str = "kube-node-lease";
pub const DURATION_SECONDS: i32 = 40;
pub const RENEW_INTERVAL: Duration = Duration::from_secs(10);

fn renewal(name: &str) -> Value {
    json!({"spec": {"holderIdentity": name, "leaseDurationSeconds": DURATION_SECONDS, "renewTime": MicroTime(Timestamp::now())}})
}

/// Renew the node's Lease, creating it (owned by the Node) when missing.
pub async fn renew(client: &kube::Client, node: &Node) -> Result<()> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let api: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    match api.patch(&name, &PatchParams::default(), &Patch::Merge(&renewal(&name))).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => {
            let lease: Lease = serde_json::from_value(json!({
                "metadata": {
                    "name": name, "namespace": NAMESPACE,
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node.metadata.uid}],
                },
                "spec": renewal(&name)["spec"],
            }))
            .expect("a Lease");
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
                Err(error) => Err(error.into()),
            }
        }
        Err(error) => Err(error.into()),
    }
}
