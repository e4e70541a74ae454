//! core/v1 ReplicationController: the ReplicaSet's predecessor, with a map selector.

use super::workload::{CONTAINERS, IMAGES, container_cells, count, selector_column};
use crate::defaults::pod::pod_template_spec;
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::pod::validate_pod_template_spec;
use crate::validation::workload::{active_deadline, nonnegative, restart_always, selector_mismatch};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::core::v1::{ReplicationController, ReplicationControllerSpec};
use serde_json::Value;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "ReplicationController",
    plural: "replicationcontrollers",
    singular: "replicationcontroller",
    short_names: &["rc"],
    categories: &["all"],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status, Subresource::Scale],
    definition: "io.k8s.api.core.v1.ReplicationController",
    strategy: &Typed(ReplicationControllerStrategy),
};

pub struct ReplicationControllerStrategy;

/// `ValidateReplicationControllerSpec` and `ValidatePodTemplateSpecForRC`.
fn validate_spec(spec: &ReplicationControllerSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = nonnegative(spec.min_ready_seconds.map(i64::from), &path.child("minReadySeconds"));
    let selector = spec.selector.as_ref().filter(|s| !s.is_empty());
    let selector_path = path.child("selector");
    match selector {
        None => errs.push(FieldError::required(&selector_path, "")),
        Some(s) => errs.extend(meta::validate_labels(Some(s), &selector_path)),
    }
    errs.extend(nonnegative(spec.replicas.map(i64::from), &path.child("replicas")));
    let template_path = path.child("template");
    let Some(template) = &spec.template else {
        errs.push(FieldError::required(&template_path, ""));
        return errs;
    };
    let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    if let Some(selector) = selector
        && !selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    {
        errs.push(selector_mismatch(labels, &template_path.child("metadata").child("labels")));
    }
    errs.extend(validate_pod_template_spec(template, &template_path));
    errs.extend(restart_always(template, &template_path));
    if active_deadline(template).is_some() {
        errs.push(FieldError::forbidden(
            &template_path.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicationController is not Supported",
        ));
    }
    errs
}

impl TypedStrategy for ReplicationControllerStrategy {
    type Object = ReplicationController;

    const GENERATION: bool = true;
    const FIELD_SELECTORS: &'static [&'static str] = &["status.replicas"];

    /// Upstream's PrepareForCreate resets the status to its zero value, which Go writes
    /// out (`status: {}`, or the counters that have no `omitempty`).
    fn prepare_for_create(&self, rc: &mut ReplicationController) {
        rc.status = Some(Default::default());
    }

    /// `SetDefaults_ReplicationController`: selector and labels from the template's
    /// labels when unset, one replica.
    fn default(&self, rc: &mut ReplicationController) {
        let spec = rc.spec.get_or_insert_with(Default::default);
        if let Some(labels) = spec.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone()) {
            if spec.selector.as_ref().is_none_or(|s| s.is_empty()) {
                spec.selector = Some(labels.clone());
            }
            if rc.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
                rc.metadata.labels = Some(labels);
            }
        }
        spec.replicas.get_or_insert(1);
        if let Some(template) = spec.template.as_mut() {
            pod_template_spec(template);
        }
    }

    fn validate(&self, rc: &ReplicationController) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&rc.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&rc.spec.clone().unwrap_or_default(), &FieldPath::new("spec")));
        errs
    }

    fn validate_update(&self, new: &ReplicationController, old: &ReplicationController) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&new.spec.clone().unwrap_or_default(), &FieldPath::new("spec")));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Desired", "integer", "Replicas is the number of desired replicas."),
            Column::new("Current", "integer", "Replicas is the most recently observed number of replicas."),
            Column::new("Ready", "integer", "The number of ready replicas for this replication controller."),
            Column::AGE,
            CONTAINERS,
            IMAGES,
            selector_column("Selector is a label query over pods that should match the Replicas count."),
        ]
    }

    fn cells(&self, rc: &ReplicationController) -> Vec<Cell> {
        let spec = rc.spec.clone().unwrap_or_default();
        let status = rc.status.clone().unwrap_or_default();
        let [names, images] = container_cells(spec.template.as_ref());
        vec![
            table::name(&rc.metadata),
            count(spec.replicas),
            count(Some(status.replicas)),
            count(status.ready_replicas),
            table::age(&rc.metadata),
            names,
            images,
            Value::String(table::map_selector(spec.selector.iter().flatten())),
        ]
    }

    fn selectable_fields(&self, rc: &ReplicationController) -> Vec<(&'static str, String)> {
        vec![("status.replicas", rc.status.as_ref().map_or(0, |s| s.replicas).to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selector_and_labels_come_from_the_template() {
        let mut obj = json!({"metadata": {"name": "nginx", "namespace": "default"},
            "spec": {"template": {"metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}});
        DEF.strategy.default(&mut obj);
        assert_eq!(obj["spec"]["selector"], json!({"app": "nginx"}));
        assert_eq!(obj["metadata"]["labels"], json!({"app": "nginx"}));
        assert_eq!(obj["spec"]["replicas"], 1);
        assert!(DEF.strategy.validate(&obj).is_empty());
        assert_eq!(DEF.strategy.cells(&obj)[7], json!("app=nginx"));
    }
}
