//! core/v1 Node: a machine that runs pods, registered and kept current by its kubelet.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::core::v1::{Node, NodeSpec};
use std::collections::BTreeSet;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "Node",
    plural: "nodes",
    singular: "node",
    short_names: &["no"],
    categories: &[],
    namespaced: false,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status, Subresource::Proxy],
    definition: "io.k8s.api.core.v1.Node",
    strategy: &Typed(NodeStrategy),
};

pub struct NodeStrategy;

const TAINT_EFFECTS: &[&str] = &["NoExecute", "NoSchedule", "PreferNoSchedule"];
const ROLE_LABEL_PREFIX: &str = "node-role.kubernetes.io/";
const ROLE_LABEL: &str = "kubernetes.io/role";

fn validate_spec(spec: &NodeSpec) -> Vec<FieldError> {
    let path = FieldPath::new("spec").child("taints");
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, taint) in spec.taints.iter().flatten().enumerate() {
        let p = path.index(i);
        errs.extend(
            names::qualified_name(&taint.key)
                .into_iter()
                .map(|m| FieldError::invalid(&p.child("key"), taint.key.as_str(), m)),
        );
        if let Some(v) = &taint.value {
            errs.extend(
                names::label_value(v).into_iter().map(|m| FieldError::invalid(&p.child("value"), v.as_str(), m)),
            );
        }
        if taint.effect.is_empty() {
            errs.push(FieldError::required(&p.child("effect"), ""));
        } else if !TAINT_EFFECTS.contains(&taint.effect.as_str()) {
            errs.push(FieldError::not_supported(&p.child("effect"), taint.effect.as_str(), TAINT_EFFECTS));
        }
        if !seen.insert((taint.key.clone(), taint.effect.clone())) {
            errs.push(FieldError::duplicate(&p, format!("{}={}", taint.key, taint.effect)));
        }
    }
    errs
}

/// The Status cell: `Ready`, `NotReady` or `Unknown`, then `,SchedulingDisabled`.
fn status(node: &Node) -> String {
    let ready = node.status.iter().flat_map(|s| s.conditions.iter().flatten()).find(|c| c.type_ == "Ready");
    let mut parts = vec![match ready {
        Some(c) if c.status == "True" => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    }];
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        parts.push("SchedulingDisabled".to_owned());
    }
    parts.join(",")
}

/// Roles from `node-role.kubernetes.io/<role>` and `kubernetes.io/role=<role>` labels.
fn roles(node: &Node) -> String {
    let mut roles = BTreeSet::new();
    for (k, v) in node.metadata.labels.iter().flatten() {
        if let Some(role) = k.strip_prefix(ROLE_LABEL_PREFIX).filter(|r| !r.is_empty()) {
            roles.insert(role.to_owned());
        } else if k == ROLE_LABEL && !v.is_empty() {
            roles.insert(v.clone());
        }
    }
    if roles.is_empty() { "<none>".to_owned() } else { roles.into_iter().collect::<Vec<_>>().join(",") }
}

fn address(node: &Node, kind: &str) -> String {
    node.status
        .iter()
        .flat_map(|s| s.addresses.iter().flatten())
        .find(|a| a.type_ == kind)
        .map_or_else(|| "<none>".to_owned(), |a| a.address.clone())
}

fn or_unknown(s: &str) -> String {
    if s.is_empty() { "<unknown>".to_owned() } else { s.to_owned() }
}

impl TypedStrategy for NodeStrategy {
    type Object = Node;
    const FIELD_SELECTORS: &'static [&'static str] = &["spec.unschedulable"];

    /// Allocatable defaults to capacity; `podCIDR` and `podCIDRs` are kept in step.
    fn default(&self, node: &mut Node) {
        if let Some(status) = node.status.as_mut().filter(|s| s.allocatable.is_none()) {
            status.allocatable = status.capacity.clone();
        }
        if let Some(spec) = node.spec.as_mut() {
            let cidr = spec.pod_cidr.clone().unwrap_or_default();
            if !cidr.is_empty() && spec.pod_cidrs.as_deref().unwrap_or_default().is_empty() {
                spec.pod_cidrs = Some(vec![cidr]);
            } else if cidr.is_empty() {
                spec.pod_cidr = spec.pod_cidrs.as_ref().and_then(|c| c.first().cloned());
            }
        }
    }

    fn validate(&self, node: &Node) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&node.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_spec(&node.spec.clone().unwrap_or_default()));
        errs
    }

    fn validate_update(&self, new: &Node, old: &Node) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, false, names::dns1123_subdomain);
        let (new_spec, old_spec) = (new.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
        errs.extend(validate_spec(&new_spec));
        let old_cidrs = old_spec.pod_cidrs.unwrap_or_default();
        if !old_cidrs.is_empty() && new_spec.pod_cidrs.unwrap_or_default() != old_cidrs {
            errs.push(FieldError::forbidden(
                &FieldPath::new("spec").child("podCIDRs"),
                "node updates may not change podCIDR except from \"\" to valid",
            ));
        }
        let old_provider = old_spec.provider_id.unwrap_or_default();
        if !old_provider.is_empty() && new_spec.provider_id.unwrap_or_default() != old_provider {
            errs.push(FieldError::forbidden(
                &FieldPath::new("spec").child("providerID"),
                "node updates may not change providerID except from \"\" to valid",
            ));
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Status", "string", "The status of the node"),
            Column::new("Roles", "string", "The roles of the node"),
            Column::AGE,
            Column::new("Version", "string", "Kubelet Version reported by the node."),
            Column::new("Internal-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).").wide(),
            Column::new("External-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).").wide(),
            Column::new("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).").wide(),
            Column::new("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).").wide(),
            Column::new("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).")
                .wide(),
        ]
    }

    fn cells(&self, node: &Node) -> Vec<Cell> {
        let info = node.status.as_ref().and_then(|s| s.node_info.clone()).unwrap_or_default();
        vec![
            table::name(&node.metadata),
            status(node).into(),
            roles(node).into(),
            table::age(&node.metadata),
            info.kubelet_version.into(),
            address(node, "InternalIP").into(),
            address(node, "ExternalIP").into(),
            or_unknown(&info.os_image).into(),
            or_unknown(&info.kernel_version).into(),
            or_unknown(&info.container_runtime_version).into(),
        ]
    }

    fn selectable_fields(&self, node: &Node) -> Vec<(&'static str, String)> {
        let unschedulable = node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
        vec![("spec.unschedulable", unschedulable.to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_cells() {
        let v = DEF
            .strategy
            .decode(json!({
                "metadata": {"name": "node-1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
                "spec": {"unschedulable": true},
                "status": {
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}],
                    "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian", "kernelVersion": "6.1",
                        "containerRuntimeVersion": "krust://1", "architecture": "amd64", "bootID": "", "kubeProxyVersion": "",
                        "machineID": "", "operatingSystem": "linux", "systemUUID": ""}
                }
            }))
            .unwrap()
            .object;
        let cells = DEF.strategy.cells(&v);
        assert_eq!(cells.len(), DEF.strategy.columns().len());
        assert_eq!(cells[1], "Ready,SchedulingDisabled");
        assert_eq!(cells[2], "control-plane");
        assert_eq!(cells[4], "v1.33.0");
        assert_eq!(cells[5], "192.168.1.10");
        assert_eq!(cells[6], "<none>");
        assert_eq!(DEF.strategy.selectable_fields(&v), vec![("spec.unschedulable", "true".to_owned())]);
    }
}
