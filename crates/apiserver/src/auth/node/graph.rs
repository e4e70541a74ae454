//! The Node authorizer's graph: which node may reach which object through the pods
//! bound to it, kept as indexes so an event and a decision each cost a few map
//! operations, and the references upstream follows in pods and persistent volumes.

use resources::ResourceDef;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Marks a mirror pod: it is bound to a node but must grant that node nothing more.
const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// The kinds of objects in the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Pod,
    Secret,
    ConfigMap,
    PersistentVolumeClaim,
    PersistentVolume,
    ServiceAccount,
    VolumeAttachment,
}

/// `(namespace, name)`.
type Key = (String, String);

struct PodEdges {
    uid: String,
    node: String,
    /// The objects in the pod's namespace it uses, each once.
    uses: Vec<(Kind, String)>,
}

struct VolumeEdges {
    claim: Key,
    secrets: Vec<Key>,
}

/// Which node may reach which object, kept as indexes so an event and a decision each
/// cost a few map operations: pod → node, object → nodes of the pods using it,
/// PV → its claim, secret → PVs naming it, attachment → node.
#[derive(Default)]
pub struct Graph {
    pods: HashMap<Key, PodEdges>,
    /// Per object pods use: how many pods on each node use it.
    used_on: HashMap<(Kind, String, String), HashMap<String, usize>>,
    volumes: HashMap<String, VolumeEdges>,
    volumes_by_secret: HashMap<Key, HashSet<String>>,
    attachments: HashMap<String, String>,
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn items<'a>(v: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    v.pointer(pointer).and_then(Value::as_array).into_iter().flatten()
}

fn key(obj: &Value) -> Key {
    let meta = |f: &str| text(obj, &format!("/metadata/{f}")).unwrap_or_default().to_owned();
    (meta("namespace"), meta("name"))
}

/// What a pod uses in its namespace: its service account, and the secrets, config maps
/// and claims its volumes, environment and image pulls name (upstream's
/// `VisitPodSecretNames`, `VisitPodConfigmapNames` and claim volumes).
fn pod_uses(pod: &Value) -> Vec<(Kind, String)> {
    let mut uses = Vec::new();
    let mut add = |kind, name: Option<&str>| uses.extend(name.map(|n| (kind, n.to_owned())));
    add(Kind::ServiceAccount, text(pod, "/spec/serviceAccountName"));
    for secret in items(pod, "/spec/imagePullSecrets") {
        add(Kind::Secret, text(secret, "/name"));
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for container in items(pod, &format!("/spec/{list}")) {
            for from in items(container, "/envFrom") {
                add(Kind::Secret, text(from, "/secretRef/name"));
                add(Kind::ConfigMap, text(from, "/configMapRef/name"));
            }
            for env in items(container, "/env") {
                add(Kind::Secret, text(env, "/valueFrom/secretKeyRef/name"));
                add(Kind::ConfigMap, text(env, "/valueFrom/configMapKeyRef/name"));
            }
        }
    }
    const SECRET_NAMES: &[&str] = &[
        "/secret/secretName",
        "/azureFile/secretName",
        "/cephfs/secretRef/name",
        "/cinder/secretRef/name",
        "/flexVolume/secretRef/name",
        "/rbd/secretRef/name",
        "/scaleIO/secretRef/name",
        "/iscsi/secretRef/name",
        "/storageos/secretRef/name",
        "/csi/nodePublishSecretRef/name",
    ];
    let pod_name = text(pod, "/metadata/name").unwrap_or_default();
    for volume in items(pod, "/spec/volumes") {
        for pointer in SECRET_NAMES {
            add(Kind::Secret, text(volume, pointer));
        }
        add(Kind::ConfigMap, text(volume, "/configMap/name"));
        for source in items(volume, "/projected/sources") {
            add(Kind::Secret, text(source, "/secret/name"));
            add(Kind::ConfigMap, text(source, "/configMap/name"));
        }
        add(Kind::PersistentVolumeClaim, text(volume, "/persistentVolumeClaim/claimName"));
        // A generic ephemeral volume's claim is named `<pod>-<volume>`.
        if volume.get("ephemeral").is_some_and(Value::is_object) {
            let claim = format!("{pod_name}-{}", text(volume, "/name").unwrap_or_default());
            add(Kind::PersistentVolumeClaim, Some(&claim));
        }
    }
    uses.sort();
    uses.dedup();
    uses
}

/// The secrets a kubelet needs to mount a PV (upstream's kubelet-visible
/// `VisitPVSecretNames`); references without a namespace use the claim's.
fn volume_secrets(pv: &Value, claim_namespace: &str) -> Vec<Key> {
    let spec = pv.get("spec").unwrap_or(&Value::Null);
    let in_ns =
        |ns: Option<&str>, name: Option<&str>| name.map(|n| (ns.unwrap_or(claim_namespace).to_owned(), n.to_owned()));
    let exact_ns = |r: &str| {
        text(spec, &format!("/{r}/name"))
            .map(|n| (text(spec, &format!("/{r}/namespace")).unwrap_or_default().to_owned(), n.to_owned()))
    };
    let secret_ref = |source: &str| {
        in_ns(text(spec, &format!("/{source}/secretRef/namespace")), text(spec, &format!("/{source}/secretRef/name")))
    };
    let found = [
        in_ns(text(spec, "/azureFile/secretNamespace"), text(spec, "/azureFile/secretName")),
        secret_ref("cephfs"),
        secret_ref("flexVolume"),
        secret_ref("rbd"),
        secret_ref("scaleIO"),
        secret_ref("iscsi"),
        exact_ns("cinder/secretRef"),
        exact_ns("storageos/secretRef"),
        exact_ns("csi/nodePublishSecretRef"),
        exact_ns("csi/nodeStageSecretRef"),
    ];
    found.into_iter().flatten().collect()
}

/// The collections the graph follows.
#[derive(Clone, Copy, Debug)]
pub(super) enum Source {
    Pods,
    Volumes,
    Attachments,
}

impl Source {
    pub(super) const ALL: [Source; 3] = [Source::Pods, Source::Volumes, Source::Attachments];

    pub(super) fn def(self) -> Option<&'static ResourceDef> {
        match self {
            Source::Pods => resources::find("", "v1", "pods"),
            Source::Volumes => resources::find("", "v1", "persistentvolumes"),
            Source::Attachments => resources::find("storage.k8s.io", "v1", "volumeattachments"),
        }
    }
}

impl Graph {
    fn uses_on(&self, kind: Kind, namespace: &str, name: &str, node: &str) -> bool {
        self.used_on.get(&(kind, namespace.to_owned(), name.to_owned())).is_some_and(|nodes| nodes.contains_key(node))
    }

    /// Whether a path leads from the object to `node`.
    pub fn has_path(&self, node: &str, kind: Kind, namespace: &str, name: &str) -> bool {
        let key = (namespace.to_owned(), name.to_owned());
        match kind {
            Kind::Pod => self.pods.get(&key).is_some_and(|p| p.node == node),
            Kind::PersistentVolume => self
                .volumes
                .get(name)
                .is_some_and(|v| self.uses_on(Kind::PersistentVolumeClaim, &v.claim.0, &v.claim.1, node)),
            Kind::VolumeAttachment => self.attachments.get(name).is_some_and(|n| n == node),
            Kind::Secret => {
                self.uses_on(kind, namespace, name, node)
                    || self
                        .volumes_by_secret
                        .get(&key)
                        .is_some_and(|pvs| pvs.iter().any(|pv| self.has_path(node, Kind::PersistentVolume, "", pv)))
            }
            _ => self.uses_on(kind, namespace, name, node),
        }
    }

    /// Record a bound pod. What a bound pod references is immutable, so a pod already
    /// known on the same node with the same uid is left as it is.
    pub fn add_pod(&mut self, pod: &Value) {
        let Some(node) = text(pod, "/spec/nodeName") else { return };
        let uid = text(pod, "/metadata/uid").unwrap_or_default();
        let key = key(pod);
        if self.pods.get(&key).is_some_and(|p| p.node == node && p.uid == uid) {
            return;
        }
        self.remove_pod(&key.0, &key.1);
        let mirror = pod.pointer("/metadata/annotations").and_then(|a| a.get(MIRROR_POD_ANNOTATION)).is_some();
        let uses = if mirror { Vec::new() } else { pod_uses(pod) };
        for (kind, name) in &uses {
            let nodes = self.used_on.entry((*kind, key.0.clone(), name.clone())).or_default();
            *nodes.entry(node.to_owned()).or_default() += 1;
        }
        self.pods.insert(key, PodEdges { uid: uid.to_owned(), node: node.to_owned(), uses });
    }

    pub fn remove_pod(&mut self, namespace: &str, name: &str) {
        let Some(pod) = self.pods.remove(&(namespace.to_owned(), name.to_owned())) else { return };
        for (kind, used) in pod.uses {
            let object = (kind, namespace.to_owned(), used);
            let Some(nodes) = self.used_on.get_mut(&object) else { continue };
            if let Some(count) = nodes.get_mut(&pod.node) {
                *count -= 1;
                if *count == 0 {
                    nodes.remove(&pod.node);
                }
            }
            if nodes.is_empty() {
                self.used_on.remove(&object);
            }
        }
    }

    /// Record a PV: bound to a claim it leads to that claim, and its secrets lead to it.
    pub fn add_volume(&mut self, pv: &Value) {
        let name = key(pv).1;
        self.remove_volume(&name);
        let (Some(claim_ns), Some(claim)) = (text(pv, "/spec/claimRef/namespace"), text(pv, "/spec/claimRef/name"))
        else {
            return;
        };
        let secrets = volume_secrets(pv, claim_ns);
        for secret in &secrets {
            self.volumes_by_secret.entry(secret.clone()).or_default().insert(name.clone());
        }
        self.volumes.insert(name, VolumeEdges { claim: (claim_ns.to_owned(), claim.to_owned()), secrets });
    }

    pub fn remove_volume(&mut self, name: &str) {
        let Some(volume) = self.volumes.remove(name) else { return };
        for secret in volume.secrets {
            if let Some(pvs) = self.volumes_by_secret.get_mut(&secret) {
                pvs.remove(name);
                if pvs.is_empty() {
                    self.volumes_by_secret.remove(&secret);
                }
            }
        }
    }

    pub(super) fn apply(&mut self, source: Source, deleted: bool, obj: &Value) {
        let (namespace, name) = key(obj);
        match (source, deleted) {
            (Source::Pods, false) => self.add_pod(obj),
            (Source::Pods, true) => self.remove_pod(&namespace, &name),
            (Source::Volumes, false) => self.add_volume(obj),
            (Source::Volumes, true) => self.remove_volume(&name),
            (Source::Attachments, deleted) => {
                self.set_attachment(name, text(obj, "/spec/nodeName").filter(|_| !deleted))
            }
        }
    }

    /// Record which node a volume attachment is for (none: forget it).
    pub fn set_attachment(&mut self, name: String, node: Option<&str>) {
        match node {
            Some(node) => self.attachments.insert(name, node.to_owned()),
            None => self.attachments.remove(&name),
        };
    }

    pub(super) fn clear(&mut self, source: Source) {
        match source {
            Source::Pods => {
                self.pods.clear();
                self.used_on.clear();
            }
            Source::Volumes => {
                self.volumes.clear();
                self.volumes_by_secret.clear();
            }
            Source::Attachments => self.attachments.clear(),
        }
    }
}
