//! The built-in local-path provisioner (what k3s ships as `local-path-provisioner`): the
//! default StorageClass `local-path` (`WaitForFirstConsumer`, reclaim `Delete`), and for
//! every claim of that class the scheduler has given a node (annotation
//! `volume.kubernetes.io/selected-node`), a PersistentVolume on a directory of that node
//! (under the root its kubelet announces in the Node annotation [`ROOT_ANNOTATION`], else
//! [`DEFAULT_ROOT`]),
//! bound to the claim. The node's kubelet creates the directory when a pod mounts it.

use crate::{Error, FIELD_MANAGER};
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::sync::Arc;

/// The class's name and provisioner (k3s's names).
pub const CLASS: &str = "local-path";
pub const PROVISIONER: &str = "rancher.io/local-path";
/// The Node annotation under which a kubelet says where local volumes live.
pub const ROOT_ANNOTATION: &str = "local-path.krust.dev/root";
/// The root for nodes that announce none (simulated nodes, other kubelets): the default
/// data dir's, as upstream's provisioner has one default path for unlisted nodes.
pub const DEFAULT_ROOT: &str = "/var/lib/krust/agent/storage";
/// The claim annotation through which the scheduler names the claim's node.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

pub struct LocalPath {
    client: Client,
    claims: Store<PersistentVolumeClaim>,
    nodes: Store<Node>,
}

/// Make sure the StorageClass exists, then provision claims until cancelled.
pub async fn run(client: Client, informers: Informers) -> Result<(), Error> {
    ensure_class(&client).await?;
    let claims = informers.all::<PersistentVolumeClaim>();
    let nodes = informers.all::<Node>();
    let volumes = informers.all::<PersistentVolume>();
    let queue = WorkQueue::new();
    claims.queue_changes(&queue, |c| (c.namespace().unwrap_or_default(), c.name_any()));
    // A released volume of ours (its claim deleted) is deleted with its claim's key.
    volumes.queue_changes(&queue, |v| {
        let claim = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
        (
            claim.and_then(|c| c.namespace.clone()).unwrap_or_default(),
            claim.and_then(|c| c.name.clone()).unwrap_or_default(),
        )
    });
    let provisioner = Arc::new(LocalPath { client, claims: claims.store(), nodes: nodes.store() });
    let synced = async { claims.synced().await && nodes.synced().await && volumes.synced().await };
    run_workers_when_synced(provisioner, queue, 2, synced).await;
    Ok(())
}

async fn ensure_class(client: &Client) -> Result<(), Error> {
    let class: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }))
    .expect("a StorageClass");
    let api: Api<StorageClass> = Api::all(client.clone());
    match api.create(&PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() }, &class).await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

fn volume_name(claim: &PersistentVolumeClaim) -> String {
    format!("pvc-{}", claim.metadata.uid.clone().unwrap_or_default())
}

impl Reconciler for LocalPath {
    /// A claim's namespace and name.
    type Key = (String, String);
    type Error = Error;
    const NAME: &'static str = "local-path-provisioner";

    async fn reconcile(&self, key: &(String, String)) -> Result<Action, Error> {
        let (namespace, name) = key;
        let volumes: Api<PersistentVolume> = Api::all(self.client.clone());
        let Some(claim) = self.claims.get(&ObjectRef::new(name).within(namespace)) else {
            // The claim is gone: delete the volumes we made for it.
            let ours = volumes.list(&Default::default()).await?;
            for volume in ours.items.iter().filter(|v| {
                let claim = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
                v.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()) == Some(CLASS)
                    && claim.is_some_and(|c| {
                        c.namespace.as_deref() == Some(namespace.as_str()) && c.name.as_deref() == Some(name.as_str())
                    })
            }) {
                let _ = volumes.delete(&volume.name_any(), &DeleteParams::default()).await;
            }
            return Ok(Action::Done);
        };
        let spec = claim.spec.clone().unwrap_or_default();
        let bound = spec.volume_name.as_deref().is_some_and(|v| !v.is_empty());
        if spec.storage_class_name.as_deref() != Some(CLASS) || bound || claim.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let Some(node_name) = claim.annotations().get(SELECTED_NODE).cloned() else { return Ok(Action::Done) };
        let Some(node) = self.nodes.get(&ObjectRef::new(&node_name)) else { return Ok(Action::Done) };
        let root = node.annotations().get(ROOT_ANNOTATION).cloned().unwrap_or_else(|| DEFAULT_ROOT.to_owned());
        let pv_name = volume_name(&claim);
        let size = spec
            .resources
            .and_then(|r| r.requests)
            .and_then(|r| r.get("storage").cloned())
            .map(|q| q.0)
            .unwrap_or_else(|| "1Gi".into());
        let volume: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": spec.access_modes.clone().unwrap_or_else(|| vec!["ReadWriteOnce".into()]),
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": CLASS,
                "volumeMode": "Filesystem",
                "hostPath": {"path": format!("{root}/{pv_name}_{namespace}_{name}"), "type": "DirectoryOrCreate"},
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": namespace, "name": name, "uid": claim.metadata.uid},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node_name]}]}]}},
            },
        }))
        .expect("a PersistentVolume");
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        match volumes.create(&params, &volume).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(error) => return Err(error.into()),
        }
        let patch = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        let bound = json!({"status": {"phase": "Bound"}});
        volumes.patch_status(&pv_name, &patch, &Patch::Merge(&bound)).await?;
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        let annotations = json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}},
            "spec": {"volumeName": pv_name}});
        claims.patch(name, &patch, &Patch::Merge(&annotations)).await?;
        let status = json!({"status": {"phase": "Bound", "accessModes": volume.spec.as_ref().and_then(|s| s.access_modes.clone()),
            "capacity": {"storage": size}}});
        claims.patch_status(name, &patch, &Patch::Merge(&status)).await?;
        Ok(Action::Done)
    }

    fn error_policy(&self, _key: &(String, String), _error: &Error) -> Retry {
        Retry::RateLimited
    }
}
