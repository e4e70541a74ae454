//! apps/v1 ReplicaSet: keeps a number of identical pods running.

use super::workload::{CONTAINERS, IMAGES, container_cells, count, selector_cell, selector_column};
use crate::defaults::pod::pod_template_spec;
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::workload::{
    active_deadline, immutable_selector, nonnegative, validate_controller_template, validate_required_selector,
};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};

pub const DEF: ResourceDef = ResourceDef {
    group: "apps",
    version: "v1",
    kind: "ReplicaSet",
    plural: "replicasets",
    singular: "replicaset",
    short_names: &["rs"],
    categories: &["all"],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status, Subresource::Scale],
    definition: "io.k8s.api.apps.v1.ReplicaSet",
    strategy: &Typed(ReplicaSetStrategy),
};

pub struct ReplicaSetStrategy;

/// `ValidateReplicaSetSpec`.
fn validate_spec(spec: &ReplicaSetSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = nonnegative(spec.replicas.map(i64::from), &path.child("replicas"));
    errs.extend(nonnegative(spec.min_ready_seconds.map(i64::from), &path.child("minReadySeconds")));
    errs.extend(validate_required_selector(&spec.selector, &path.child("selector")));
    let template_path = path.child("template");
    let template = spec.template.clone().unwrap_or_default();
    errs.extend(validate_controller_template(&template, &spec.selector, &template_path));
    if let Some(deadline) = active_deadline(&template) {
        let p = template_path.child("spec").child("activeDeadlineSeconds");
        errs.push(FieldError::invalid(&p, deadline, "activeDeadlineSeconds in ReplicaSet is not Supported"));
    }
    errs
}

impl TypedStrategy for ReplicaSetStrategy {
    type Object = ReplicaSet;

    const GENERATION: bool = true;
    const FIELD_SELECTORS: &'static [&'static str] = &["status.replicas"];

    /// Upstream's PrepareForCreate resets the status to its zero value, which Go writes
    /// out (`status: {}`, or the counters that have no `omitempty`).
    fn prepare_for_create(&self, rs: &mut ReplicaSet) {
        rs.status = Some(Default::default());
    }

    fn default(&self, rs: &mut ReplicaSet) {
        let spec = rs.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        if let Some(template) = spec.template.as_mut() {
            pod_template_spec(template);
        }
    }

    fn validate(&self, rs: &ReplicaSet) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&rs.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&rs.spec.clone().unwrap_or_default(), &FieldPath::new("spec")));
        errs
    }

    fn validate_update(&self, new: &ReplicaSet, old: &ReplicaSet) -> Vec<FieldError> {
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
            Column::new("Desired", "integer", "Replicas is the number of desired pods."),
            Column::new("Current", "integer", "Replicas is the most recently observed number of non-terminating pods."),
            Column::new(
                "Ready",
                "integer",
                "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
            ),
            Column::AGE,
            CONTAINERS,
            IMAGES,
            selector_column("Selector is a label query over pods that should match the replica count."),
        ]
    }

    fn cells(&self, rs: &ReplicaSet) -> Vec<Cell> {
        let spec = rs.spec.clone().unwrap_or_default();
        let status = rs.status.clone().unwrap_or_default();
        let [names, images] = container_cells(spec.template.as_ref());
        vec![
            table::name(&rs.metadata),
            count(spec.replicas),
            count(Some(status.replicas)),
            count(status.ready_replicas),
            table::age(&rs.metadata),
            names,
            images,
            selector_cell(Some(&spec.selector)),
        ]
    }

    fn selectable_fields(&self, rs: &ReplicaSet) -> Vec<(&'static str, String)> {
        vec![("status.replicas", rs.status.as_ref().map_or(0, |s| s.replicas).to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_validation_and_cells() {
        let mut obj = json!({"metadata": {"name": "web-5d4f", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}});
        DEF.strategy.default(&mut obj);
        assert_eq!(obj["spec"]["replicas"], 1);
        assert!(DEF.strategy.validate(&obj).is_empty());
        obj["status"] = json!({"replicas": 1, "readyReplicas": 1});
        let cells = DEF.strategy.cells(&obj);
        assert_eq!(cells[1..4], [json!(1), json!(1), json!(1)]);
        assert_eq!(cells[5..], [json!("web"), json!("nginx:1.27"), json!("app=web")]);
        assert_eq!(DEF.strategy.selectable_fields(&obj), vec![("status.replicas", "1".to_owned())]);
    }
}
