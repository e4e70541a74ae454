//! NodeRestriction: a kubelet (`system:node:<name>` in `system:nodes`) may change only
//! its own Node (not its taints, nor labels outside the kubelet's set), only the status
//! of pods bound to it, create and delete only its own mirror pods, update only claims'
//! status, and touch only its own Lease and CSINode.

use super::refusal::forbidden;
use super::service_account::{MIRROR_POD_ANNOTATION, is_mirror_pod, references_secrets};
use crate::auth::User;
use crate::registry::admission::{Admission, Attributes, Operation};
use crate::registry::{Registry, Subresource, object};
use crate::status::ApiResult;
use async_trait::async_trait;
use serde_json::Value;
use std::collections::BTreeSet;

const NODE_USER_PREFIX: &str = "system:node:";
const NODES_GROUP: &str = "system:nodes";
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// Labels a kubelet may set on its Node although they are in a kubernetes.io namespace.
const KUBELET_LABELS: &[&str] = &[
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type",
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
];
const KUBELET_LABEL_NAMESPACES: &[&str] = &["kubelet.kubernetes.io", "node.kubernetes.io"];

pub struct NodeRestriction;

/// The node a user speaks for: Some("") for a node user whose name is missing.
fn node_identity(user: &User) -> Option<&str> {
    let name = user.name.strip_prefix(NODE_USER_PREFIX)?;
    user.groups.iter().any(|g| g == NODES_GROUP).then_some(name)
}

fn operation(op: Operation) -> &'static str {
    match op {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
    }
}

#[async_trait]
impl Admission for NodeRestriction {
    async fn admit(
        &self,
        registry: &Registry,
        attrs: &Attributes<'_>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        let Some(node) = node_identity(attrs.user) else { return Ok(()) };
        let deny = |reason: String| Err(forbidden(attrs, obj, reason));
        if node.is_empty() {
            return deny(format!("could not determine node from user \"{}\"", attrs.user.name));
        }
        let old = old.unwrap_or(&Value::Null);
        match (attrs.def.group, attrs.def.plural) {
            ("", "pods") => match attrs.subresource {
                Subresource::Main => {
                    admit_pod(attrs, node, obj, old)?;
                    if attrs.operation == Operation::Create {
                        verify_owner_uid(registry, attrs, node, obj).await?;
                    }
                    Ok(())
                }
                Subresource::Status => admit_pod_status(attrs, node, obj, old),
                other => {
                    let name = format!("{other:?}").to_lowercase();
                    deny(format!("unexpected pod subresource \"{name}\", only 'status' and 'eviction' are allowed"))
                }
            },
            ("", "nodes") => admit_node(attrs, node, obj, old),
            ("", "persistentvolumeclaims") => match (attrs.subresource, attrs.operation) {
                (Subresource::Status, Operation::Update) => admit_claim_status(attrs, node, obj, old),
                (Subresource::Status, op) => deny(format!("unexpected operation \"{}\"", operation(op))),
                _ => deny("may only update PVC status".into()),
            },
            ("coordination.k8s.io", "leases") => {
                if attrs.namespace != NODE_LEASE_NAMESPACE {
                    return deny(format!("can only access leases in the \"{NODE_LEASE_NAMESPACE}\" system namespace"));
                }
                if attrs.name != node {
                    return deny("can only access node lease with the same name as the requesting node".into());
                }
                Ok(())
            }
            ("storage.k8s.io", "csinodes") if attrs.name != node => {
                deny("can only access CSINode with the same name as the requesting node".into())
            }
            _ => Ok(()),
        }
    }
}

/// Nodes create mirror pods of their static pods and delete pods bound to them.
fn admit_pod(attrs: &Attributes<'_>, node: &str, pod: &Value, old: &Value) -> ApiResult<()> {
    let deny = |reason: String| Err(forbidden(attrs, pod, reason));
    match attrs.operation {
        Operation::Delete => {
            if old.pointer("/spec/nodeName").and_then(Value::as_str) != Some(node) {
                return deny(format!("node \"{node}\" can only delete pods with spec.nodeName set to itself"));
            }
            Ok(())
        }
        Operation::Update => {
            deny(format!("unexpected operation \"UPDATE\", node \"{node}\" can only create and delete mirror pods"))
        }
        Operation::Create => {
            if !is_mirror_pod(pod) {
                return deny(format!(
                    "pod does not have \"{MIRROR_POD_ANNOTATION}\" annotation, node \"{node}\" can only create mirror pods"
                ));
            }
            if pod.pointer("/spec/nodeName").and_then(Value::as_str) != Some(node) {
                return deny(format!("node \"{node}\" can only create pods with spec.nodeName set to itself"));
            }
            let owners =
                pod.pointer("/metadata/ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default();
            match owners.as_slice() {
                [] => {
                    return deny(format!("node \"{node}\" can only create pods with an owner reference set to itself"));
                }
                [owner] => {
                    let field = |f: &str| owner.get(f).and_then(Value::as_str).unwrap_or_default();
                    if field("apiVersion") != "v1" || field("kind") != "Node" || field("name") != node {
                        return deny(format!(
                            "node \"{node}\" can only create pods with an owner reference set to itself"
                        ));
                    }
                    if owner.get("controller").and_then(Value::as_bool) != Some(true) {
                        return deny(format!(
                            "node \"{node}\" can only create pods with a controller owner reference set to itself"
                        ));
                    }
                    if owner.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true) {
                        return deny(format!("node \"{node}\" must not set blockOwnerDeletion on an owner reference"));
                    }
                }
                _ => {
                    return deny(format!(
                        "node \"{node}\" can only create pods with a single owner reference set to itself"
                    ));
                }
            }
            let spec = pod.get("spec").unwrap_or(&Value::Null);
            if spec.get("serviceAccountName").and_then(Value::as_str).is_some_and(|s| !s.is_empty()) {
                return deny(format!("node \"{node}\" can not create pods that reference a service account"));
            }
            if references_secrets(spec) {
                return deny(format!("node \"{node}\" can not create pods that reference secrets"));
            }
            let volumes = spec.get("volumes").and_then(Value::as_array).cloned().unwrap_or_default();
            if volumes.iter().any(|v| v.get("persistentVolumeClaim").is_some()) {
                return deny(format!("node \"{node}\" can not create pods that reference persistentvolumeclaims"));
            }
            Ok(())
        }
    }
}

/// A mirror pod's owner must be this node as it exists now, not an earlier one of its name.
async fn verify_owner_uid(registry: &Registry, attrs: &Attributes<'_>, node: &str, pod: &Value) -> ApiResult<()> {
    let nodes = resources::find("", "v1", "nodes").expect("nodes are served");
    let current = registry.get(nodes, "", node).await?;
    let expected = pod.pointer("/metadata/ownerReferences/0/uid").and_then(Value::as_str).unwrap_or_default();
    let actual = object::meta_str(&current, "uid");
    if expected != actual {
        return Err(forbidden(attrs, pod, format!("node {node} UID mismatch: expected {expected} got {actual}")));
    }
    Ok(())
}

fn admit_pod_status(attrs: &Attributes<'_>, node: &str, pod: &Value, old: &Value) -> ApiResult<()> {
    let deny = |reason: String| Err(forbidden(attrs, pod, reason));
    if attrs.operation != Operation::Update {
        return deny(format!("unexpected operation \"{}\"", operation(attrs.operation)));
    }
    if old.pointer("/spec/nodeName").and_then(Value::as_str) != Some(node) {
        return deny(format!("node \"{node}\" can only update pod status for pods with spec.nodeName set to itself"));
    }
    if object::labels(pod) != object::labels(old) {
        return deny(format!("node \"{node}\" cannot update labels through pod status"));
    }
    Ok(())
}

fn admit_node(attrs: &Attributes<'_>, node: &str, obj: &Value, old: &Value) -> ApiResult<()> {
    let deny = |reason: String| Err(forbidden(attrs, obj, reason));
    if attrs.name != node {
        return deny(format!("node \"{node}\" is not allowed to modify node \"{}\"", attrs.name));
    }
    match attrs.operation {
        Operation::Create => {
            if obj.pointer("/spec/configSource").is_some_and(|c| !c.is_null()) {
                return deny(format!("node \"{node}\" is not allowed to create pods with a non-nil configSource"));
            }
            let forbidden_labels = forbidden_labels(&object::labels(obj), &Default::default());
            if !forbidden_labels.is_empty() {
                return deny(format!(
                    "node \"{node}\" is not allowed to set the following labels: {}",
                    forbidden_labels.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        Operation::Update => {
            let config = obj.pointer("/spec/configSource");
            if config.is_some_and(|c| !c.is_null()) && config != old.pointer("/spec/configSource") {
                return deny(format!(
                    "node \"{node}\" is not allowed to update configSource to a new non-nil configSource"
                ));
            }
            let taints =
                |o: &Value| o.pointer("/spec/taints").filter(|t| t.as_array().is_some_and(|a| !a.is_empty())).cloned();
            if taints(obj) != taints(old) {
                return deny(format!("node \"{node}\" is not allowed to modify taints"));
            }
            let forbidden_labels = forbidden_labels(&object::labels(obj), &object::labels(old));
            if !forbidden_labels.is_empty() {
                return deny(format!(
                    "is not allowed to modify labels: {}",
                    forbidden_labels.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        Operation::Delete => {}
    }
    Ok(())
}

type Labels = std::collections::BTreeMap<String, String>;

/// Changed label keys a kubelet may not set: `node-restriction.kubernetes.io` ones and
/// kubernetes.io/k8s.io ones outside the kubelet's own set.
fn forbidden_labels(new: &Labels, old: &Labels) -> BTreeSet<String> {
    let changed = new.keys().chain(old.keys()).filter(|k| new.get(*k) != old.get(*k));
    let label_namespace = |key: &str| key.split_once('/').map_or("", |(ns, _)| ns).to_owned();
    let within = |ns: &str, domain: &str| ns == domain || ns.ends_with(&format!(".{domain}"));
    changed
        .filter(|key| {
            let ns = label_namespace(key);
            let restricted = within(&ns, "node-restriction.kubernetes.io");
            let kubernetes = within(&ns, "kubernetes.io") || within(&ns, "k8s.io");
            let kubelet =
                KUBELET_LABELS.contains(&key.as_str()) || KUBELET_LABEL_NAMESPACES.iter().any(|d| within(&ns, d));
            restricted || (kubernetes && !kubelet)
        })
        .cloned()
        .collect()
}

/// A kubelet may only report a claim's capacity and conditions.
fn admit_claim_status(attrs: &Attributes<'_>, node: &str, claim: &Value, old: &Value) -> ApiResult<()> {
    let strip = |c: &Value| {
        let mut c = c.clone();
        for field in ["resourceVersion", "managedFields"] {
            object::set_meta(&mut c, field, None);
        }
        if let Some(status) = c.get_mut("status").and_then(Value::as_object_mut) {
            for field in ["capacity", "conditions", "allocatedResourceStatuses", "allocatedResources"] {
                status.remove(field);
            }
        }
        c
    };
    let (new, old) = (strip(claim), strip(old));
    if new == old {
        return Ok(());
    }
    let changed: Vec<&String> = new
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| old.get(k.as_str()) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    Err(forbidden(
        attrs,
        claim,
        format!(
            "node \"{node}\" is not allowed to update fields other than status.capacity and status.conditions: {}",
            changed.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::WriteOptions;
    use serde_json::json;
    use std::sync::Arc;

    fn node_user(name: &str) -> WriteOptions {
        WriteOptions { user: User::new(format!("system:node:{name}"), &["system:nodes"]), ..Default::default() }
    }

    async fn registry(dir: &std::path::Path) -> Registry {
        let store = Arc::new(storage::sqlite::SqliteStore::open(&dir.join("state.db")).unwrap());
        let r = Registry::new(store).with_admission(Arc::new(NodeRestriction));
        let nodes = resources::find("", "v1", "nodes").unwrap();
        for name in ["n1", "n2"] {
            r.create(nodes, "", json!({"metadata": {"name": name}}), &WriteOptions::default()).await.unwrap();
        }
        let ns = resources::find("", "v1", "namespaces").unwrap();
        r.create(ns, "", json!({"metadata": {"name": "ns"}}), &WriteOptions::default()).await.unwrap();
        r
    }

    fn with_labels(r: &Value, labels: Value) -> Value {
        let mut n = r.clone();
        n["metadata"]["labels"] = labels;
        n
    }

    #[tokio::test]
    async fn a_node_changes_only_itself_and_only_kubelet_labels() {
        let dir = tempfile::tempdir().unwrap();
        let r = registry(dir.path()).await;
        let nodes = resources::find("", "v1", "nodes").unwrap();
        let n2 = with_labels(&r.get(nodes, "", "n2").await.unwrap(), json!({"example.com/x": "y"}));
        let err = r.update(nodes, "", "n2", Subresource::Main, n2, &node_user("n1")).await.unwrap_err();
        assert_eq!(err.code(), 403);
        assert_eq!(err.to_string(), "nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\"");
        let n1 = r.get(nodes, "", "n1").await.unwrap();
        let own = with_labels(&n1, json!({"kubernetes.io/hostname": "n1", "example.com/x": "y"}));
        let n1 = r.update(nodes, "", "n1", Subresource::Main, own, &node_user("n1")).await.unwrap().object;
        let restricted = with_labels(&n1, json!({"node-restriction.kubernetes.io/pool": "a"}));
        let err = r.update(nodes, "", "n1", Subresource::Main, restricted, &node_user("n1")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "nodes \"n1\" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/pool"
        );
    }

    #[tokio::test]
    async fn a_node_creates_only_its_mirror_pods() {
        let dir = tempfile::tempdir().unwrap();
        let r = registry(dir.path()).await;
        let pods = resources::find("", "v1", "pods").unwrap();
        let plain =
            json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}});
        let err = r.create(pods, "ns", plain, &node_user("n1")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "pods \"p\" is forbidden: pod does not have \"kubernetes.io/config.mirror\" annotation, node \"n1\" can only create mirror pods"
        );
        let n1 = r.get(resources::find("", "v1", "nodes").unwrap(), "", "n1").await.unwrap();
        let owner = json!([{"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": n1["metadata"]["uid"], "controller": true}]);
        let mirror = |node: &str| {
            json!({
                "metadata": {"name": "m", "annotations": {MIRROR_POD_ANNOTATION: "x"}, "ownerReferences": owner},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]}
            })
        };
        let err = r.create(pods, "ns", mirror("n2"), &node_user("n1")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "pods \"m\" is forbidden: node \"n1\" can only create pods with spec.nodeName set to itself"
        );
        r.create(pods, "ns", mirror("n1"), &node_user("n1")).await.unwrap();
    }
}
