//! core/v1 LimitRange: per-namespace default, minimum and maximum resource amounts.

use super::shared::{default_cells, default_columns};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::core::v1::LimitRange;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "LimitRange",
    plural: "limitranges",
    singular: "limitrange",
    short_names: &["limits"],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.core.v1.LimitRange",
    strategy: &Typed(LimitRangeStrategy),
};

pub struct LimitRangeStrategy;

const LIMIT_TYPES: &[&str] = &["Container", "PersistentVolumeClaim", "Pod"];

fn validate_spec(lr: &LimitRange) -> Vec<FieldError> {
    let path = FieldPath::new("spec").child("limits");
    let mut errs = Vec::new();
    for (i, item) in lr.spec.iter().flat_map(|s| s.limits.iter()).enumerate() {
        if !LIMIT_TYPES.contains(&item.type_.as_str()) {
            errs.push(FieldError::not_supported(&path.index(i).child("type"), item.type_.as_str(), LIMIT_TYPES));
        }
    }
    errs
}

impl TypedStrategy for LimitRangeStrategy {
    type Object = LimitRange;

    /// `SetDefaults_LimitRangeItem`: for containers, the default limit falls back to the
    /// max, the default request to the default limit, then to the min.
    fn default(&self, lr: &mut LimitRange) {
        for item in lr.spec.iter_mut().flat_map(|s| s.limits.iter_mut()).filter(|i| i.type_ == "Container") {
            let mut default = item.default.clone().unwrap_or_default();
            for (k, v) in item.max.iter().flatten() {
                default.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let mut request = item.default_request.clone().unwrap_or_default();
            for (k, v) in default.iter().chain(item.min.iter().flatten()) {
                request.entry(k.clone()).or_insert_with(|| v.clone());
            }
            item.default = (!default.is_empty()).then_some(default).or(item.default.take());
            item.default_request = (!request.is_empty()).then_some(request).or(item.default_request.take());
        }
    }

    fn validate(&self, lr: &LimitRange) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&lr.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(lr));
        errs
    }

    fn validate_update(&self, new: &LimitRange, old: &LimitRange) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(new));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        default_columns()
    }

    fn cells(&self, lr: &LimitRange) -> Vec<Cell> {
        default_cells(&lr.metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn container_defaults_and_created_at() {
        let mut v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "limits", "namespace": "default",
                "creationTimestamp": "2025-01-02T03:04:05Z"},
                "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "64Mi"}}]}}))
            .unwrap()
            .object;
        DEF.strategy.default(&mut v);
        assert_eq!(v["spec"]["limits"][0]["default"], json!({"cpu": "1"}));
        assert_eq!(v["spec"]["limits"][0]["defaultRequest"], json!({"cpu": "1", "memory": "64Mi"}));
        assert_eq!(DEF.strategy.cells(&v), vec![json!("limits"), json!("2025-01-02T03:04:05Z")]);
        assert_eq!(DEF.strategy.columns()[1].name, "Created At");
    }
}
