//! core/v1 Pod: the unit the scheduler places and the kubelet runs.

use super::pod_status::{qos_class, summarize};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::pod::{validate_pod, validate_pod_update};
use crate::{ALL_VERBS, FieldError, ResourceDef, Subresource, defaults};
use k8s_openapi::api::core::v1::{Pod, PodCondition, PodStatus};
use serde_json::Value;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
    singular: "pod",
    short_names: &["po"],
    categories: &["all"],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[
        Subresource::Status,
        Subresource::Binding,
        Subresource::Eviction,
        Subresource::Log,
        Subresource::Exec,
        Subresource::Attach,
        Subresource::PortForward,
        Subresource::Proxy,
        Subresource::EphemeralContainers,
    ],
    definition: "io.k8s.api.core.v1.Pod",
    strategy: &Typed(PodStrategy),
};

pub struct PodStrategy;

/// `<none>` for an empty string, as the wide columns print unset values.
fn or_none(s: Option<&str>) -> Cell {
    Value::String(s.filter(|s| !s.is_empty()).unwrap_or("<none>").to_owned())
}

impl TypedStrategy for PodStrategy {
    type Object = Pod;

    // Since 1.33 pods carry metadata.generation, bumped by spec changes.
    const GENERATION: bool = true;
    const FIELD_SELECTORS: &'static [&'static str] = &[
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ];

    fn default(&self, pod: &mut Pod) {
        defaults::pod::pod(pod);
    }

    /// A new pod is Pending with its QoS class; scheduling gates hold it unscheduled.
    fn prepare_for_create(&self, pod: &mut Pod) {
        let spec = pod.spec.clone().unwrap_or_default();
        let gated = spec.scheduling_gates.as_ref().is_some_and(|g| !g.is_empty());
        let conditions = gated.then(|| {
            vec![PodCondition {
                type_: "PodScheduled".to_owned(),
                status: "False".to_owned(),
                reason: Some("SchedulingGated".to_owned()),
                message: Some("Scheduling is blocked due to non-empty scheduling gates".to_owned()),
                ..Default::default()
            }]
        });
        pod.status = Some(PodStatus {
            phase: Some("Pending".to_owned()),
            qos_class: Some(qos_class(&spec).to_owned()),
            conditions,
            ..Default::default()
        });
    }

    fn validate(&self, pod: &Pod) -> Vec<FieldError> {
        validate_pod(pod)
    }

    fn validate_update(&self, new: &Pod, old: &Pod) -> Vec<FieldError> {
        validate_pod_update(new, old)
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
            Column::new("Status", "string", "The aggregate status of the containers in this pod."),
            Column::new(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            Column::AGE,
            Column::new("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.").wide(),
            Column::new("Node", "string", "NodeName indicates in which node this pod is scheduled.").wide(),
            Column::new("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.").wide(),
            Column::new("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness.").wide(),
        ]
    }

    fn cells(&self, pod: &Pod) -> Vec<Cell> {
        let summary = summarize(pod);
        let spec = pod.spec.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let ip = status.pod_ips.as_ref().and_then(|ips| ips.first()).map(|ip| ip.ip.as_str());
        let gates = spec.readiness_gates.as_deref().unwrap_or_default();
        let readiness_gates = if gates.is_empty() {
            "<none>".to_owned()
        } else {
            let conditions = status.conditions.as_deref().unwrap_or_default();
            let passed = gates
                .iter()
                .filter(|g| conditions.iter().find(|c| c.type_ == g.condition_type).is_some_and(|c| c.status == "True"))
                .count();
            format!("{passed}/{}", gates.len())
        };
        vec![
            table::name(&pod.metadata),
            summary.ready.into(),
            summary.status.into(),
            summary.restarts.into(),
            table::age(&pod.metadata),
            or_none(ip),
            or_none(spec.node_name.as_deref()),
            or_none(status.nominated_node_name.as_deref()),
            readiness_gates.into(),
        ]
    }

    fn selectable_fields(&self, pod: &Pod) -> Vec<(&'static str, String)> {
        let spec = pod.spec.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let text = |s: Option<String>| s.unwrap_or_default();
        vec![
            ("spec.nodeName", text(spec.node_name)),
            ("spec.restartPolicy", text(spec.restart_policy)),
            ("spec.schedulerName", text(spec.scheduler_name)),
            ("spec.serviceAccountName", text(spec.service_account_name)),
            ("spec.hostNetwork", spec.host_network.unwrap_or(false).to_string()),
            ("status.phase", text(status.phase)),
            ("status.podIP", status.pod_ips.and_then(|ips| ips.into_iter().next()).map(|ip| ip.ip).unwrap_or_default()),
            ("status.nominatedNodeName", text(status.nominated_node_name)),
        ]
    }

    /// Upstream's `CheckGracefulDelete`: the requested period or the pod's own, but at
    /// once for a pod no node runs or that has finished; negative periods become 1.
    fn graceful_delete_period(&self, pod: &Pod, requested: Option<i64>) -> i64 {
        let spec = pod.spec.clone().unwrap_or_default();
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default();
        let unscheduled = spec.node_name.as_deref().unwrap_or_default().is_empty();
        if unscheduled || phase == "Failed" || phase == "Succeeded" {
            return 0;
        }
        let period = requested.or(spec.termination_grace_period_seconds).unwrap_or(0);
        if period < 0 { 1 } else { period }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn created(spec: Value) -> Value {
        let strategy = DEF.strategy;
        let mut obj = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "spec": spec});
        strategy.default(&mut obj);
        strategy.prepare_for_create(&mut obj);
        obj
    }

    #[test]
    fn new_pods_are_pending_with_qos() {
        let limits = json!({"cpu": "500m", "memory": "64Mi"});
        let obj = created(json!({"containers": [{"name": "web", "image": "nginx", "resources": {"limits": limits}}]}));
        assert_eq!(obj["status"], json!({"phase": "Pending", "qosClass": "Guaranteed"}));
        assert_eq!(obj["spec"]["containers"][0]["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(obj["spec"]["schedulerName"], "default-scheduler");
        assert_eq!(obj["spec"]["terminationGracePeriodSeconds"], 30);
        assert!(DEF.strategy.validate(&obj).is_empty());

        let best_effort = created(json!({"containers": [{"name": "web", "image": "nginx"}]}));
        assert_eq!(best_effort["status"]["qosClass"], "BestEffort");
    }

    #[test]
    fn table_cells() {
        let mut obj = created(json!({"containers": [{"name": "web", "image": "nginx"}], "nodeName": "node-1"}));
        obj["status"] = json!({"phase": "Running", "podIPs": [{"ip": "10.244.0.5"}], "containerStatuses": [
            {"name": "web", "image": "nginx", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}}]});
        let cells = DEF.strategy.cells(&obj);
        assert_eq!(DEF.strategy.columns().len(), cells.len());
        assert_eq!(cells[..4], [json!("web"), json!("1/1"), json!("Running"), json!("0")]);
        assert_eq!(cells[5..], [json!("10.244.0.5"), json!("node-1"), json!("<none>"), json!("<none>")]);
        let fields = DEF.strategy.selectable_fields(&obj);
        assert!(fields.contains(&("spec.nodeName", "node-1".to_owned())));
        assert!(fields.contains(&("status.podIP", "10.244.0.5".to_owned())));
        assert_eq!(DEF.strategy.graceful_delete_period(&obj, None), 30);
    }
}
