//! autoscaling/v2 HorizontalPodAutoscaler: scales a workload's replicas to track metrics.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::autoscaling::v2::{
    HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use serde_json::Value;

pub const DEF: ResourceDef = ResourceDef {
    group: "autoscaling",
    version: "v2",
    kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers",
    singular: "horizontalpodautoscaler",
    short_names: &["hpa"],
    categories: &["all"],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status],
    definition: "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
    strategy: &Typed(HorizontalPodAutoscalerStrategy),
};

pub struct HorizontalPodAutoscalerStrategy;

/// Upstream's default CPU target when no metric is given.
const DEFAULT_CPU_UTILIZATION: i32 = 80;
/// Metrics shown in the Targets cell before ` + N more...`.
const SHOWN_METRICS: usize = 2;

fn policy(type_: &str, value: i32) -> HPAScalingPolicy {
    HPAScalingPolicy { type_: type_.to_owned(), value, period_seconds: 15 }
}

/// Fill unset parts of scaling rules from upstream's defaults.
fn scaling_rules(rules: Option<HPAScalingRules>, window: i32, policies: Vec<HPAScalingPolicy>) -> HPAScalingRules {
    let mut rules = rules.unwrap_or_default();
    rules.stabilization_window_seconds.get_or_insert(window);
    rules.select_policy.get_or_insert_with(|| "Max".to_owned());
    rules.policies.get_or_insert(policies);
    rules
}

fn default_spec(spec: &mut HorizontalPodAutoscalerSpec) {
    spec.min_replicas.get_or_insert(1);
    if spec.metrics.as_deref().unwrap_or_default().is_empty() {
        spec.metrics = Some(vec![MetricSpec {
            type_: "Resource".to_owned(),
            resource: Some(ResourceMetricSource {
                name: "cpu".to_owned(),
                target: MetricTarget {
                    type_: "Utilization".to_owned(),
                    average_utilization: Some(DEFAULT_CPU_UTILIZATION),
                    ..Default::default()
                },
            }),
            ..Default::default()
        }]);
    }
    if let Some(behavior) = spec.behavior.as_mut() {
        behavior.scale_up =
            Some(scaling_rules(behavior.scale_up.take(), 0, vec![policy("Pods", 4), policy("Percent", 100)]));
        behavior.scale_down = Some(scaling_rules(behavior.scale_down.take(), 300, vec![policy("Percent", 100)]));
    }
}

fn validate_spec(spec: &HorizontalPodAutoscalerSpec) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let mut errs = Vec::new();
    let min = spec.min_replicas.unwrap_or(1);
    if min < 1 {
        errs.push(FieldError::invalid(&path.child("minReplicas"), min, "must be greater than or equal to 1"));
    }
    if spec.max_replicas < 1 {
        errs.push(FieldError::invalid(
            &path.child("maxReplicas"),
            spec.max_replicas,
            "must be greater than or equal to 1",
        ));
    }
    if spec.max_replicas < min {
        errs.push(FieldError::invalid(
            &path.child("maxReplicas"),
            spec.max_replicas,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    let target = path.child("scaleTargetRef");
    let r = &spec.scale_target_ref;
    if r.kind.is_empty() {
        errs.push(FieldError::required(&target.child("kind"), ""));
    } else {
        errs.extend(
            names::path_segment_name(&r.kind)
                .into_iter()
                .map(|m| FieldError::invalid(&target.child("kind"), r.kind.as_str(), m)),
        );
    }
    if r.name.is_empty() {
        errs.push(FieldError::required(&target.child("name"), ""));
    } else {
        errs.extend(
            names::path_segment_name(&r.name)
                .into_iter()
                .map(|m| FieldError::invalid(&target.child("name"), r.name.as_str(), m)),
        );
    }
    errs
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<unknown>".to_owned(),
        other => other.to_string(),
    }
}

/// One metric of the Targets cell, as upstream's `formatHPAMetrics` prints it.
fn format_metric(spec: &Value, status: Option<&Value>) -> String {
    let source_key = match spec["type"].as_str().unwrap_or_default() {
        "External" => "external",
        "Pods" => "pods",
        "Object" => "object",
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        _ => return "<unknown type>".to_owned(),
    };
    let source = &spec[source_key];
    let target = &source["target"];
    let current = status.map(|s| &s[source_key]["current"]).filter(|c| !c.is_null());
    let current_of =
        |field: &str| current.map(|c| &c[field]).filter(|v| !v.is_null()).map_or("<unknown>".to_owned(), text);
    match source_key {
        "resource" | "containerResource" => {
            let name = text(&source["name"]);
            if !target["averageValue"].is_null() {
                format!("{name}: {}/{}", current_of("averageValue"), text(&target["averageValue"]))
            } else {
                let pct = |v: &Value| v.as_i64().map(|n| format!("{n}%"));
                let current = current.and_then(|c| pct(&c["averageUtilization"])).unwrap_or("<unknown>".into());
                let target = pct(&target["averageUtilization"]).unwrap_or("<auto>".into());
                format!("{name}: {current}/{target}")
            }
        }
        "pods" => format!("{}/{}", current_of("averageValue"), text(&target["averageValue"])),
        _ if !target["averageValue"].is_null() => {
            format!("{}/{} (avg)", current_of("averageValue"), text(&target["averageValue"]))
        }
        _ => format!("{}/{}", current_of("value"), text(&target["value"])),
    }
}

fn targets(hpa: &HorizontalPodAutoscaler) -> String {
    let spec = serde_json::to_value(&hpa.spec).unwrap_or_default();
    let status = serde_json::to_value(&hpa.status).unwrap_or_default();
    let metrics = spec["metrics"].as_array().cloned().unwrap_or_default();
    if metrics.is_empty() {
        return "<none>".to_owned();
    }
    let current = status["currentMetrics"].as_array().cloned().unwrap_or_default();
    let list: Vec<String> = metrics.iter().enumerate().map(|(i, m)| format_metric(m, current.get(i))).collect();
    let shown = list[..list.len().min(SHOWN_METRICS)].join(", ");
    if list.len() > SHOWN_METRICS { format!("{shown} + {} more...", list.len() - SHOWN_METRICS) } else { shown }
}

impl TypedStrategy for HorizontalPodAutoscalerStrategy {
    type Object = HorizontalPodAutoscaler;

    /// Upstream's PrepareForCreate resets the status to its zero value, which Go writes
    /// out (`status: {}`, or the counters that have no `omitempty`).
    fn prepare_for_create(&self, hpa: &mut HorizontalPodAutoscaler) {
        hpa.status = Some(Default::default());
    }

    fn default(&self, hpa: &mut HorizontalPodAutoscaler) {
        default_spec(hpa.spec.get_or_insert_with(Default::default));
    }

    fn validate(&self, hpa: &HorizontalPodAutoscaler) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&hpa.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&hpa.spec.clone().unwrap_or_default()));
        errs
    }

    fn validate_update(&self, new: &HorizontalPodAutoscaler, old: &HorizontalPodAutoscaler) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&new.spec.clone().unwrap_or_default()));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new(
                "Reference",
                "string",
                "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.",
            ),
            Column::new(
                "Targets",
                "string",
                "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond. If not set, the default metric will be set to 80% average CPU utilization.",
            ),
            Column::new(
                "MinPods",
                "string",
                "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available.",
            ),
            Column::new(
                "MaxPods",
                "string",
                "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.",
            ),
            Column::new(
                "Replicas",
                "string",
                "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
            ),
            Column::AGE,
        ]
    }

    fn cells(&self, hpa: &HorizontalPodAutoscaler) -> Vec<Cell> {
        let spec = hpa.spec.clone().unwrap_or_default();
        let min = spec.min_replicas.map_or("<unset>".to_owned(), |m| m.to_string());
        let current = hpa.status.as_ref().and_then(|s| s.current_replicas).unwrap_or(0);
        vec![
            table::name(&hpa.metadata),
            format!("{}/{}", spec.scale_target_ref.kind, spec.scale_target_ref.name).into(),
            targets(hpa).into(),
            min.into(),
            spec.max_replicas.into(),
            current.into(),
            table::age(&hpa.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_targets() {
        let mut v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}
            }}))
            .unwrap()
            .object;
        DEF.strategy.default(&mut v);
        assert_eq!(v["spec"]["minReplicas"], 1);
        assert_eq!(v["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 80);
        assert_eq!(v["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"], 60);
        assert_eq!(
            v["spec"]["behavior"]["scaleDown"]["policies"],
            json!([{"type": "Percent", "value": 100, "periodSeconds": 15}])
        );
        assert_eq!(v["spec"]["behavior"]["scaleUp"]["selectPolicy"], "Max");
        assert!(DEF.strategy.validate(&v).is_empty());
        let cells = DEF.strategy.cells(&v);
        assert_eq!(cells[1], "Deployment/web");
        assert_eq!(cells[2], "cpu: <unknown>/80%");
        assert_eq!(cells[3], "1");
        assert_eq!(cells[4], 5);
    }
}
