//! The downward API: a pod's own fields (`fieldRef`) and its containers' resources
//! (`resourceFieldRef`) as strings, for environment variables and `downwardAPI` volumes.

use k8s_openapi::api::core::v1::{ObjectFieldSelector, Pod, ResourceFieldSelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

/// What the downward API reads besides the pod: its addresses (maybe newer than its
/// status) and the node's allocatable (the default of a missing limit).
pub struct Downward<'a> {
    pub pod_ips: &'a [String],
    pub host_ip: &'a str,
    pub node_cpu_millis: u64,
    pub node_memory: u64,
}

impl Downward<'_> {
    /// `fieldRef` of `pod`.
    pub fn field(&self, pod: &Pod, selector: &ObjectFieldSelector) -> Result<String, String> {
        field_ref(pod, selector, self.pod_ips, self.host_ip)
    }

    /// `resourceFieldRef` of `pod`, for `default_container` when the selector names none.
    pub fn resource(
        &self,
        pod: &Pod,
        default_container: &str,
        selector: &ResourceFieldSelector,
    ) -> Result<String, String> {
        resource_field_ref(pod, default_container, selector, self.node_cpu_millis, self.node_memory)
    }
}

/// The value of `fieldRef` for `pod`, whose IPs may be newer than its status says.
fn field_ref(pod: &Pod, selector: &ObjectFieldSelector, pod_ips: &[String], host_ip: &str) -> Result<String, String> {
    let meta = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let path = selector.field_path.as_str();
    let map_entry = |map: &Option<BTreeMap<String, String>>, prefix: &str| {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(map.as_ref().and_then(|m| m.get(key)).cloned().unwrap_or_default())
    };
    if let Some(value) = map_entry(&meta.labels, "metadata.labels['") {
        return Ok(value);
    }
    if let Some(value) = map_entry(&meta.annotations, "metadata.annotations['") {
        return Ok(value);
    }
    Ok(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(&meta.labels),
        "metadata.annotations" => format_map(&meta.annotations),
        "spec.nodeName" => spec.node_name.unwrap_or_default(),
        "spec.serviceAccountName" => spec.service_account_name.unwrap_or_default(),
        "status.hostIP" => host_ip.to_owned(),
        "status.hostIPs" => host_ip.to_owned(),
        "status.podIP" => pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => pod_ips.join(","),
        other => return Err(format!("unsupported fieldPath: {other}")),
    })
}

/// `key="value"` lines, sorted, as a downward API file of labels or annotations.
fn format_map(map: &Option<BTreeMap<String, String>>) -> String {
    map.iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.clone())))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of `resourceFieldRef` for the container it names (or `default_container`),
/// divided by its divisor and rounded up, as upstream's. A missing limit is the node's
/// allocatable (`node_cpu_millis`, `node_memory`).
fn resource_field_ref(
    pod: &Pod,
    default_container: &str,
    selector: &ResourceFieldSelector,
    node_cpu_millis: u64,
    node_memory: u64,
) -> Result<String, String> {
    let name = selector.container_name.as_deref().filter(|n| !n.is_empty()).unwrap_or(default_container);
    let spec = pod.spec.clone().unwrap_or_default();
    let container = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
        .ok_or_else(|| format!("container {name} not found"))?;
    let resources = container.resources.clone().unwrap_or_default();
    let (kind, resource) =
        selector.resource.split_once('.').ok_or_else(|| format!("unsupported resource {}", selector.resource))?;
    let list = match kind {
        "limits" => resources.limits.unwrap_or_default(),
        "requests" => resources.requests.unwrap_or_default(),
        _ => return Err(format!("unsupported resource {}", selector.resource)),
    };
    let divisor = selector.divisor.as_ref().map(|q| q.0.as_str()).unwrap_or("1");
    match resource {
        "cpu" => {
            let millis = list.get("cpu").map(cpu_millis).unwrap_or(if kind == "limits" { node_cpu_millis } else { 0 });
            let divisor = quantity_millis(divisor).max(1);
            Ok(millis.div_ceil(divisor).to_string())
        }
        "memory" | "ephemeral-storage" => {
            let bytes = list.get(resource).map(|q| quantity_bytes(&q.0)).unwrap_or(if kind == "limits" {
                node_memory
            } else {
                0
            });
            let divisor = quantity_bytes(divisor).max(1);
            Ok(bytes.div_ceil(divisor).to_string())
        }
        _ => Err(format!("unsupported resource {}", selector.resource)),
    }
}

/// Millicores of a CPU quantity (`500m`, `2`, `0.5`).
pub fn cpu_millis(quantity: &Quantity) -> u64 {
    quantity_millis(&quantity.0)
}

fn quantity_millis(text: &str) -> u64 {
    component_helpers::quantity::parse_milli(text).unwrap_or(0).max(0) as u64
}

/// Bytes of a memory quantity (`128Mi`, `1G`, `1000`).
pub fn quantity_bytes(text: &str) -> u64 {
    component_helpers::quantity::parse_units(text).unwrap_or(0).max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web", "tier": "a"}},
            "spec": {"nodeName": "n1", "serviceAccountName": "sa", "containers": [{"name": "c",
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m"}}}]},
        }))
        .unwrap()
    }

    fn field(path: &str) -> String {
        let selector = ObjectFieldSelector { field_path: path.to_owned(), api_version: None };
        field_ref(&pod(), &selector, &["10.244.0.5".to_owned()], "172.30.0.2").unwrap()
    }

    #[test]
    fn field_refs_read_the_pod() {
        assert_eq!(field("metadata.name"), "p");
        assert_eq!(field("metadata.labels['app']"), "web");
        assert_eq!(field("metadata.labels"), "app=\"web\"\ntier=\"a\"");
        assert_eq!(field("status.podIP"), "10.244.0.5");
        assert_eq!(field("status.hostIP"), "172.30.0.2");
        assert_eq!(field("spec.serviceAccountName"), "sa");
    }

    #[test]
    fn resource_refs_divide_and_round_up() {
        let selector = |resource: &str, divisor: Option<&str>| ResourceFieldSelector {
            container_name: None,
            resource: resource.to_owned(),
            divisor: divisor.map(|d| Quantity(d.to_owned())),
        };
        let value = |s| resource_field_ref(&pod(), "c", &s, 2000, 1 << 30).unwrap();
        assert_eq!(value(selector("limits.cpu", None)), "1");
        assert_eq!(value(selector("limits.cpu", Some("1m"))), "500");
        assert_eq!(value(selector("requests.cpu", Some("1m"))), "250");
        assert_eq!(value(selector("limits.memory", Some("1Mi"))), "128");
        assert_eq!(value(selector("requests.memory", None)), "0");
        assert_eq!(quantity_bytes("1Gi"), 1 << 30);
        assert_eq!(quantity_bytes("1G"), 1_000_000_000);
    }
}
