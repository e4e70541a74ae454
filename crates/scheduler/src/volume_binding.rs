//! upstream's VolumeBinding PreBind, for dynamically provisioned claims: before a pod is
//! bound, each claim it uses whose StorageClass waits for a consumer
//! (`volumeBindingMode: WaitForFirstConsumer`) is given the chosen node (the claim
//! annotation `volume.kubernetes.io/selected-node`), and binding waits until the class's
//! provisioner has bound the claim to a volume on that node.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams};
use std::time::{Duration, Instant};

/// The claim annotation naming the claim's node.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// How long binding waits for a provisioner.
const PROVISION_TIMEOUT: Duration = Duration::from_secs(60);

/// The claims `pod` mounts.
fn claims(pod: &Pod) -> Vec<String> {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref().map(|c| c.claim_name.clone()))
        .collect()
}

fn bound(claim: &PersistentVolumeClaim) -> bool {
    claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).is_some_and(|v| !v.is_empty())
}

/// Give `pod`'s waiting claims `node` and wait until they are bound; the error says why
/// the pod cannot be bound yet.
pub async fn pre_bind(client: &kube::Client, pod: &Pod, node: &str) -> Result<(), String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace);
    let classes: Api<StorageClass> = Api::all(client.clone());
    for name in claims(pod) {
        let claim = api
            .get_opt(&name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("persistentvolumeclaim \"{name}\" not found"))?;
        if bound(&claim) {
            continue;
        }
        let class_name = claim.spec.as_ref().and_then(|s| s.storage_class_name.clone()).unwrap_or_default();
        let class = classes.get_opt(&class_name).await.map_err(|e| e.to_string())?;
        if class.and_then(|c| c.volume_binding_mode).as_deref() != Some("WaitForFirstConsumer") {
            return Err(format!("pod has unbound immediate PersistentVolumeClaims: {name}"));
        }
        let selected = claim.metadata.annotations.as_ref().and_then(|a| a.get(SELECTED_NODE));
        if selected.map(String::as_str) != Some(node) {
            let patch = serde_json::json!({"metadata": {"annotations": {SELECTED_NODE: node}}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(|e| e.to_string())?;
        }
        let deadline = Instant::now() + PROVISION_TIMEOUT;
        loop {
            if api.get_opt(&name).await.map_err(|e| e.to_string())?.is_some_and(|c| bound(&c)) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for persistentvolumeclaim \"{name}\" to be provisioned"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}
