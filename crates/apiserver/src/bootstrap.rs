//! What exists from the first start: the system namespaces, the system priority
//! classes, and the `kubernetes` Service in `default` with its Endpoints and EndpointSlice pointing at this server
//! (upstream's bootstrap controller). Idempotent: a restart only fills what is missing.

use crate::registry::{Registry, WriteOptions};
use crate::status::{ApiError, ApiResult};
use serde_json::{Value, json};
use std::net::IpAddr;

/// The built-in priority classes of critical system pods (upstream's scheduling bootstrap).
const SYSTEM_PRIORITY_CLASSES: [(&str, i64, &str); 2] = [
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// Namespaces every cluster has.
pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Create `obj` unless an object of its name exists.
pub(crate) async fn ensure(
    registry: &Registry,
    group: &str,
    version: &str,
    plural: &str,
    namespace: &str,
    obj: Value,
) -> ApiResult<()> {
    let def = resources::find(group, version, plural).ok_or_else(|| {
        ApiError::Internal(format!("bootstrap needs {plural}.{group}/{version}, which is not served"))
    })?;
    // Look first: a restart must not re-run create-time hooks (IP allocation) for what exists.
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    match registry.get(def, namespace, name).await {
        Ok(_) => return Ok(()),
        Err(ApiError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let opts = WriteOptions {
        user: crate::auth::system_user(),
        field_manager: "kube-apiserver".to_owned(),
        ..Default::default()
    };
    match registry.create(def, namespace, obj, &opts).await {
        Ok(_) | Err(ApiError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Create what is missing. `advertise` is the address other components reach this
/// server at, `port` its secure port, `service_ip` the first address of the service range.
pub async fn run(registry: &Registry, advertise: IpAddr, port: u16, service_ip: IpAddr) -> ApiResult<()> {
    for ns in SYSTEM_NAMESPACES {
        ensure(
            registry,
            "",
            "v1",
            "namespaces",
            "",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await?;
    }
    for (name, value, description) in SYSTEM_PRIORITY_CLASSES {
        let class = json!({
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "description": description,
            "preemptionPolicy": "PreemptLowerPriority",
        });
        ensure(registry, "scheduling.k8s.io", "v1", "priorityclasses", "", class).await?;
    }
    let labels = json!({"component": "apiserver", "provider": "kubernetes"});
    ensure(
        registry,
        "",
        "v1",
        "services",
        "default",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "labels": labels},
            "spec": {
                "type": "ClusterIP", "clusterIP": service_ip.to_string(), "sessionAffinity": "None",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            },
        }),
    )
    .await?;
    ensure(
        registry,
        "",
        "v1",
        "endpoints",
        "default",
        json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": advertise.to_string()}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
        }),
    )
    .await?;
    ensure(
        registry,
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "default",
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": if advertise.is_ipv4() { "IPv4" } else { "IPv6" },
            "endpoints": [{"addresses": [advertise.to_string()], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }),
    )
    .await
}
