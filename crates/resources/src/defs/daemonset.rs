//! apps/v1 DaemonSet: one pod on every (matching) node.

use super::workload::{CONTAINERS, IMAGES, container_cells, count, selector_cell, selector_column};
use crate::defaults::pod::{default_str, pod_template_spec};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::pod::validate_pod_template_spec;
use crate::validation::workload::{
    active_deadline, immutable_selector, int_or_percent_value, nonnegative, not_more_than_100_percent, restart_always,
    selector_matches, selector_mismatch, validate_int_or_percent, validate_required_selector,
};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

pub const DEF: ResourceDef = ResourceDef {
    group: "apps",
    version: "v1",
    kind: "DaemonSet",
    plural: "daemonsets",
    singular: "daemonset",
    short_names: &["ds"],
    categories: &["all"],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status],
    definition: "io.k8s.api.apps.v1.DaemonSet",
    strategy: &Typed(DaemonSetStrategy),
};

/// The v1 form of the internal `spec.templateGeneration`: 1 at creation, bumped by each
/// template change, never set by clients.
const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

pub struct DaemonSetStrategy;

fn template_generation(ds: &DaemonSet) -> i64 {
    ds.metadata.annotations.as_ref().and_then(|a| a.get(TEMPLATE_GENERATION)).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn set_template_generation(ds: &mut DaemonSet, generation: i64) {
    ds.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(TEMPLATE_GENERATION.to_owned(), generation.to_string());
}

/// `ValidateDaemonSetUpdateStrategy`.
fn validate_update_strategy(strategy: Option<&DaemonSetUpdateStrategy>, path: &FieldPath) -> Vec<FieldError> {
    let default = DaemonSetUpdateStrategy::default();
    let strategy = strategy.unwrap_or(&default);
    match strategy.type_.as_deref().unwrap_or_default() {
        "OnDelete" => Vec::new(),
        "RollingUpdate" => {
            let p = path.child("rollingUpdate");
            let Some(r) = &strategy.rolling_update else { return vec![FieldError::required(&p, "")] };
            let (unavailable, surge) = (r.max_unavailable.as_ref(), r.max_surge.as_ref());
            let mut errs = validate_int_or_percent(unavailable, &p.child("maxUnavailable"));
            errs.extend(validate_int_or_percent(surge, &p.child("maxSurge")));
            errs.extend(not_more_than_100_percent(unavailable, &p.child("maxUnavailable")));
            errs.extend(not_more_than_100_percent(surge, &p.child("maxSurge")));
            match (int_or_percent_value(unavailable) != 0, int_or_percent_value(surge) != 0) {
                (true, true) => errs.push(FieldError::invalid(
                    &p.child("maxSurge"),
                    serde_json::to_value(surge).unwrap_or(Value::Null),
                    "may not be set when maxUnavailable is non-zero",
                )),
                (false, false) => {
                    errs.push(FieldError::required(&p.child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
                }
                _ => {}
            }
            errs
        }
        other => vec![FieldError::not_supported(path, other, &["RollingUpdate", "OnDelete"])],
    }
}

/// `ValidateDaemonSetSpec`.
fn validate_spec(spec: &DaemonSetSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = validate_required_selector(&spec.selector, &path.child("selector"));
    let template_path = path.child("template");
    let labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    if !selector_matches(&spec.selector, labels) {
        errs.push(selector_mismatch(labels, &template_path.child("metadata").child("labels")));
    }
    errs.extend(validate_pod_template_spec(&spec.template, &template_path));
    errs.extend(restart_always(&spec.template, &template_path));
    if let Some(deadline) = active_deadline(&spec.template) {
        let p = template_path.child("spec").child("activeDeadlineSeconds");
        errs.push(FieldError::invalid(&p, deadline, "activeDeadlineSeconds in DaemonSet is not Supported"));
    }
    errs.extend(nonnegative(spec.min_ready_seconds.map(i64::from), &path.child("minReadySeconds")));
    errs.extend(validate_update_strategy(spec.update_strategy.as_ref(), &path.child("updateStrategy")));
    errs.extend(nonnegative(spec.revision_history_limit.map(i64::from), &path.child("revisionHistoryLimit")));
    errs
}

impl TypedStrategy for DaemonSetStrategy {
    type Object = DaemonSet;

    const GENERATION: bool = true;

    /// `SetDefaults_DaemonSet`: a rolling update of one node at a time, no surge, ten
    /// old revisions kept.
    fn default(&self, ds: &mut DaemonSet) {
        let spec = ds.spec.get_or_insert_with(Default::default);
        let strategy = spec.update_strategy.get_or_insert_with(DaemonSetUpdateStrategy::default);
        default_str(&mut strategy.type_, "RollingUpdate");
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let rolling = strategy.rolling_update.get_or_insert_with(RollingUpdateDaemonSet::default);
            rolling.max_unavailable.get_or_insert(IntOrString::Int(1));
            rolling.max_surge.get_or_insert(IntOrString::Int(0));
        }
        spec.revision_history_limit.get_or_insert(10);
        pod_template_spec(&mut spec.template);
    }

    /// The status starts at its zero value, as upstream's PrepareForCreate leaves it.
    fn prepare_for_create(&self, ds: &mut DaemonSet) {
        ds.status = Some(Default::default());
        set_template_generation(ds, 1);
    }

    fn prepare_for_update(&self, new: &mut DaemonSet, old: &DaemonSet) {
        let template_changed = new.spec.as_ref().map(|s| &s.template) != old.spec.as_ref().map(|s| &s.template);
        set_template_generation(new, template_generation(old) + i64::from(template_changed));
    }

    fn validate(&self, ds: &DaemonSet) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&ds.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&ds.spec.clone().unwrap_or_default(), &FieldPath::new("spec")));
        errs
    }

    fn validate_update(&self, new: &DaemonSet, old: &DaemonSet) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        let (new_spec, old_spec) = (new.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
        errs.extend(validate_spec(&new_spec, &FieldPath::new("spec")));
        errs.extend(immutable_selector(
            &new_spec.selector,
            &old_spec.selector,
            &FieldPath::new("spec").child("selector"),
        ));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new(
                "Desired",
                "integer",
                "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).",
            ),
            Column::new(
                "Current",
                "integer",
                "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
            ),
            Column::new(
                "Ready",
                "integer",
                "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
            ),
            Column::new("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
            Column::new(
                "Available",
                "integer",
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
            ),
            Column::new(
                "Node Selector",
                "string",
                "NodeSelector is a selector which must be true for the pod to fit on a node.",
            ),
            Column::AGE,
            CONTAINERS,
            IMAGES,
            selector_column("A label query over pods that are managed by the daemon set."),
        ]
    }

    fn cells(&self, ds: &DaemonSet) -> Vec<Cell> {
        let spec = ds.spec.clone().unwrap_or_default();
        let status = ds.status.clone().unwrap_or_default();
        let node_selector = spec.template.spec.as_ref().and_then(|s| s.node_selector.clone()).unwrap_or_default();
        let [names, images] = container_cells(Some(&spec.template));
        vec![
            table::name(&ds.metadata),
            count(Some(status.desired_number_scheduled)),
            count(Some(status.current_number_scheduled)),
            count(Some(status.number_ready)),
            count(status.updated_number_scheduled),
            count(status.number_available),
            table::map_selector(&node_selector).into(),
            table::age(&ds.metadata),
            names,
            images,
            selector_cell(Some(&spec.selector)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_template_generation_and_cells() {
        let mut obj = json!({"metadata": {"name": "agent", "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                "template": {"metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "agent", "image": "agent:1"}], "nodeSelector": {"kubernetes.io/os": "linux"}}}}});
        DEF.strategy.default(&mut obj);
        DEF.strategy.prepare_for_create(&mut obj);
        assert_eq!(
            obj["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
        );
        assert_eq!(obj["metadata"]["annotations"][TEMPLATE_GENERATION], "1");
        assert!(DEF.strategy.validate(&obj).is_empty());

        let mut new = obj.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("agent:2");
        DEF.strategy.prepare_for_update(&mut new, &obj);
        assert_eq!(new["metadata"]["annotations"][TEMPLATE_GENERATION], "2");

        let cells = DEF.strategy.cells(&obj);
        assert_eq!(cells[1..7], [json!(0), json!(0), json!(0), json!(0), json!(0), json!("kubernetes.io/os=linux")]);
        assert_eq!(cells[8..], [json!("agent"), json!("agent:1"), json!("app=agent")]);
    }
}
