//! core/v1 ResourceQuota: limits on what a namespace may consume, with usage in status.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::core::v1::ResourceQuota;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "ResourceQuota",
    plural: "resourcequotas",
    singular: "resourcequota",
    short_names: &["quota"],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status],
    definition: "io.k8s.api.core.v1.ResourceQuota",
    strategy: &Typed(ResourceQuotaStrategy),
};

pub struct ResourceQuotaStrategy;

const SCOPES: &[&str] =
    &["BestEffort", "CrossNamespacePodAffinity", "NotBestEffort", "NotTerminating", "PriorityClass", "Terminating"];

fn validate_spec(quota: &ResourceQuota) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let spec = quota.spec.clone().unwrap_or_default();
    let mut errs = Vec::new();
    for (name, q) in spec.hard.iter().flatten() {
        for msg in names::qualified_name(name) {
            errs.push(FieldError::invalid(&path.child("hard").key(name), name.as_str(), msg));
        }
        if q.0.starts_with('-') {
            errs.push(FieldError::invalid(
                &path.child("hard").key(name),
                q.0.as_str(),
                "must be greater than or equal to 0",
            ));
        }
    }
    for scope in spec.scopes.iter().flatten().filter(|s| !SCOPES.contains(&s.as_str())) {
        errs.push(FieldError::not_supported(&path.child("scopes"), scope.as_str(), SCOPES));
    }
    errs
}

/// The Request and Limit cells: `name: used/hard` pairs, sorted by resource name, with
/// `limits.*` resources in the Limit column.
fn usage(quota: &ResourceQuota) -> (String, String) {
    let status = quota.status.clone().unwrap_or_default();
    let used = status.used.unwrap_or_default();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for (name, hard) in status.hard.iter().flatten() {
        let used = used.get(name).map_or("0", |q| q.0.as_str());
        let entry = format!("{name}: {used}/{}", hard.0);
        if name.split('.').next() == Some("limits") && name.contains('.') {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    (requests.join(", "), limits.join(", "))
}

impl TypedStrategy for ResourceQuotaStrategy {
    type Object = ResourceQuota;

    /// Upstream's PrepareForCreate resets the status to its zero value, which Go writes
    /// out (`status: {}`, or the counters that have no `omitempty`).
    fn prepare_for_create(&self, quota: &mut ResourceQuota) {
        quota.status = Some(Default::default());
    }

    fn validate(&self, quota: &ResourceQuota) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&quota.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(quota));
        errs
    }

    fn validate_update(&self, new: &ResourceQuota, old: &ResourceQuota) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(new));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::AGE,
            Column::new(
                "Request",
                "string",
                "Request represents a minimum amount of cpu/memory that a container may consume.",
            ),
            Column::new(
                "Limit",
                "string",
                "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
            ),
        ]
    }

    fn cells(&self, quota: &ResourceQuota) -> Vec<Cell> {
        let (requests, limits) = usage(quota);
        vec![table::name(&quota.metadata), table::age(&quota.metadata), requests.into(), limits.into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_cells() {
        let v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "q", "namespace": "default"}, "status": {
                "hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"},
                "used": {"pods": "3", "limits.cpu": "500m"}
            }}))
            .unwrap()
            .object;
        let cells = DEF.strategy.cells(&v);
        assert_eq!(cells[2], "pods: 3/10, requests.cpu: 0/1");
        assert_eq!(cells[3], "limits.cpu: 500m/2");
    }
}
