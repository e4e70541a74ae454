//! apps/v1 StatefulSet: pods with stable names and their own volumes.

use super::workload::{CONTAINERS, IMAGES, container_cells};
use crate::defaults::pod::{default_str, pod_template_spec};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::workload::{
    active_deadline, nonnegative, validate_controller_template, validate_required_selector,
};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::PersistentVolumeClaimStatus;
use serde_json::Value;

pub const DEF: ResourceDef = ResourceDef {
    group: "apps",
    version: "v1",
    kind: "StatefulSet",
    plural: "statefulsets",
    singular: "statefulset",
    short_names: &["sts"],
    categories: &["all"],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status, Subresource::Scale],
    definition: "io.k8s.api.apps.v1.StatefulSet",
    strategy: &Typed(StatefulSetStrategy),
};

pub struct StatefulSetStrategy;

/// `SetDefaults_StatefulSet`, and the claim templates' PVC defaults.
fn default_spec(spec: &mut StatefulSetSpec) {
    default_str(&mut spec.pod_management_policy, "OrderedReady");
    let strategy = spec.update_strategy.get_or_insert_with(StatefulSetUpdateStrategy::default);
    if strategy.type_.as_deref().unwrap_or_default().is_empty() {
        strategy.type_ = Some("RollingUpdate".to_owned());
        strategy.rolling_update.get_or_insert_with(RollingUpdateStatefulSetStrategy::default);
    }
    if strategy.type_.as_deref() == Some("RollingUpdate")
        && let Some(rolling) = strategy.rolling_update.as_mut()
    {
        rolling.partition.get_or_insert(0);
    }
    let retention = spec
        .persistent_volume_claim_retention_policy
        .get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
    default_str(&mut retention.when_deleted, "Retain");
    default_str(&mut retention.when_scaled, "Retain");
    spec.replicas.get_or_insert(1);
    spec.revision_history_limit.get_or_insert(10);
    pod_template_spec(&mut spec.template);
    for claim in spec.volume_claim_templates.iter_mut().flatten() {
        default_str(&mut claim.spec.get_or_insert_with(Default::default).volume_mode, "Filesystem");
        let status = claim.status.get_or_insert_with(PersistentVolumeClaimStatus::default);
        default_str(&mut status.phase, "Pending");
    }
}

/// `ValidateStatefulSetSpec`.
fn validate_spec(spec: &StatefulSetSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let policy_path = path.child("podManagementPolicy");
    match spec.pod_management_policy.as_deref().unwrap_or_default() {
        "" => errs.push(FieldError::required(&policy_path, "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(&policy_path, other, "must be 'OrderedReady' or 'Parallel'")),
    }
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let strategy_path = path.child("updateStrategy");
    match strategy.type_.as_deref().unwrap_or_default() {
        "" => errs.push(FieldError::required(&strategy_path, "")),
        "OnDelete" if strategy.rolling_update.is_some() => errs.push(FieldError::invalid(
            &strategy_path.child("rollingUpdate"),
            serde_json::to_value(&strategy.rolling_update).unwrap_or(Value::Null),
            "only allowed for updateStrategy 'RollingUpdate'",
        )),
        "OnDelete" => {}
        "RollingUpdate" => {
            let partition = strategy.rolling_update.as_ref().and_then(|r| r.partition).map(i64::from);
            errs.extend(nonnegative(partition, &strategy_path.child("rollingUpdate").child("partition")));
        }
        _ => errs.push(FieldError::invalid(
            &strategy_path,
            serde_json::to_value(&strategy).unwrap_or(Value::Null),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(retention) = &spec.persistent_volume_claim_retention_policy {
        let p = path.child("persistentVolumeClaimRetentionPolicy");
        for (field, value) in [("whenDeleted", &retention.when_deleted), ("whenScaled", &retention.when_scaled)] {
            let v = value.as_deref().unwrap_or_default();
            if v != "Retain" && v != "Delete" {
                errs.push(FieldError::not_supported(&p.child(field), v, &["Retain", "Delete"]));
            }
        }
    }
    errs.extend(nonnegative(spec.replicas.map(i64::from), &path.child("replicas")));
    errs.extend(nonnegative(spec.min_ready_seconds.map(i64::from), &path.child("minReadySeconds")));
    errs.extend(validate_required_selector(&spec.selector, &path.child("selector")));
    let template_path = path.child("template");
    // The claim templates become the pods' volumes, so mounts may name them.
    let mut template = spec.template.clone();
    for claim in spec.volume_claim_templates.iter().flatten() {
        let name = claim.metadata.name.clone().unwrap_or_default();
        let pod_spec = template.spec.get_or_insert_default();
        let volumes = pod_spec.volumes.get_or_insert_default();
        if !volumes.iter().any(|v| v.name == name) {
            volumes.push(k8s_openapi::api::core::v1::Volume {
                name: name.clone(),
                persistent_volume_claim: Some(k8s_openapi::api::core::v1::PersistentVolumeClaimVolumeSource {
                    claim_name: name,
                    read_only: None,
                }),
                ..Default::default()
            });
        }
    }
    errs.extend(validate_controller_template(&template, &spec.selector, &template_path));
    if active_deadline(&spec.template).is_some() {
        errs.push(FieldError::forbidden(
            &template_path.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    errs
}

/// Everything but the fields an update may change, for the "forbidden" comparison.
fn frozen_part(spec: &StatefulSetSpec) -> StatefulSetSpec {
    StatefulSetSpec {
        replicas: None,
        ordinals: None,
        template: Default::default(),
        update_strategy: None,
        persistent_volume_claim_retention_policy: None,
        min_ready_seconds: None,
        ..spec.clone()
    }
}

impl TypedStrategy for StatefulSetStrategy {
    type Object = StatefulSet;

    const GENERATION: bool = true;

    /// Upstream's PrepareForCreate resets the status to its zero value, which Go writes
    /// out (`status: {}`, or the counters that have no `omitempty`).
    fn prepare_for_create(&self, sts: &mut StatefulSet) {
        sts.status = Some(Default::default());
    }

    fn default(&self, sts: &mut StatefulSet) {
        default_spec(sts.spec.get_or_insert_with(Default::default));
    }

    fn validate(&self, sts: &StatefulSet) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&sts.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&sts.spec.clone().unwrap_or_default(), &FieldPath::new("spec")));
        errs
    }

    fn validate_update(&self, new: &StatefulSet, old: &StatefulSet) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        let (new_spec, old_spec) = (new.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
        errs.extend(validate_spec(&new_spec, &FieldPath::new("spec")));
        if frozen_part(&new_spec) != frozen_part(&old_spec) {
            errs.push(FieldError::forbidden(
                &FieldPath::new("spec"),
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Ready", "string", "Number of the pod with ready state"),
            Column::AGE,
            CONTAINERS,
            IMAGES,
        ]
    }

    fn cells(&self, sts: &StatefulSet) -> Vec<Cell> {
        let spec = sts.spec.clone().unwrap_or_default();
        let ready = sts.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
        let [names, images] = container_cells(Some(&spec.template));
        vec![
            table::name(&sts.metadata),
            format!("{ready}/{}", spec.replicas.unwrap_or(0)).into(),
            table::age(&sts.metadata),
            names,
            images,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_update_rules() {
        let mut obj = json!({"metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "serviceName": "web",
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "www"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
        DEF.strategy.default(&mut obj);
        let spec = &obj["spec"];
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(spec["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!((spec["replicas"].clone(), spec["revisionHistoryLimit"].clone()), (json!(1), json!(10)));
        assert_eq!(spec["volumeClaimTemplates"][0]["spec"]["volumeMode"], "Filesystem");
        assert_eq!(spec["volumeClaimTemplates"][0]["status"]["phase"], "Pending");
        assert!(DEF.strategy.validate(&obj).is_empty());

        let mut scaled = obj.clone();
        scaled["spec"]["replicas"] = json!(3);
        assert!(DEF.strategy.validate_update(&scaled, &obj).is_empty());
        let mut renamed = obj.clone();
        renamed["spec"]["serviceName"] = json!("other");
        let errs = DEF.strategy.validate_update(&renamed, &obj);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].to_string().starts_with("spec: Forbidden: updates to statefulset spec for fields other than"));
        assert_eq!(DEF.strategy.cells(&obj)[1], json!("0/1"));
    }
}
