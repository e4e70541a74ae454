//! storage.k8s.io/v1 StorageClass: how volumes of a class are provisioned.

use super::shared::default_str;
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::storage::v1::StorageClass;

pub const DEF: ResourceDef = ResourceDef {
    group: "storage.k8s.io",
    version: "v1",
    kind: "StorageClass",
    plural: "storageclasses",
    singular: "storageclass",
    short_names: &["sc"],
    categories: &[],
    namespaced: false,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.storage.v1.StorageClass",
    strategy: &Typed(StorageClassStrategy),
};

pub struct StorageClassStrategy;

const RECLAIM_POLICIES: &[&str] = &["Delete", "Retain"];
const BINDING_MODES: &[&str] = &["Immediate", "WaitForFirstConsumer"];
const DEFAULT_ANNOTATIONS: &[&str] =
    &["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"];

fn validate_class(sc: &StorageClass) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let path = FieldPath::new("provisioner");
    if sc.provisioner.is_empty() {
        errs.push(FieldError::required(&path, ""));
    } else {
        let lower = sc.provisioner.to_lowercase();
        errs.extend(
            names::qualified_name(&lower).into_iter().map(|m| FieldError::invalid(&path, sc.provisioner.as_str(), m)),
        );
    }
    if let Some(p) = sc.reclaim_policy.as_deref().filter(|p| !RECLAIM_POLICIES.contains(p)) {
        errs.push(FieldError::not_supported(&FieldPath::new("reclaimPolicy"), p, RECLAIM_POLICIES));
    }
    if let Some(m) = sc.volume_binding_mode.as_deref().filter(|m| !BINDING_MODES.contains(m)) {
        errs.push(FieldError::not_supported(&FieldPath::new("volumeBindingMode"), m, BINDING_MODES));
    }
    errs
}

impl TypedStrategy for StorageClassStrategy {
    type Object = StorageClass;

    fn default(&self, sc: &mut StorageClass) {
        default_str(&mut sc.reclaim_policy, "Delete");
        default_str(&mut sc.volume_binding_mode, "Immediate");
    }

    fn validate(&self, sc: &StorageClass) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&sc.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_class(sc));
        errs
    }

    fn validate_update(&self, new: &StorageClass, old: &StorageClass) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_class(new));
        let forbidden =
            |field: &str| FieldError::forbidden(&FieldPath::new(field), format!("updates to {field} are forbidden."));
        if new.parameters != old.parameters {
            errs.push(forbidden("parameters"));
        }
        if new.provisioner != old.provisioner {
            errs.push(forbidden("provisioner"));
        }
        if new.reclaim_policy != old.reclaim_policy {
            errs.push(forbidden("reclaimPolicy"));
        }
        if new.volume_binding_mode != old.volume_binding_mode {
            let mode = new.volume_binding_mode.clone().unwrap_or_default();
            errs.push(FieldError::invalid(&FieldPath::new("volumeBindingMode"), mode, "field is immutable"));
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Provisioner", "string", "provisioner indicates the type of the provisioner."),
            Column::new(
                "ReclaimPolicy",
                "string",
                "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.",
            ),
            Column::new(
                "VolumeBindingMode",
                "string",
                "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.",
            ),
            Column::new(
                "AllowVolumeExpansion",
                "string",
                "allowVolumeExpansion shows whether the storage class allow volume expand.",
            ),
            Column::AGE,
        ]
    }

    fn cells(&self, sc: &StorageClass) -> Vec<Cell> {
        let is_default = DEFAULT_ANNOTATIONS
            .iter()
            .any(|a| sc.metadata.annotations.as_ref().and_then(|m| m.get(*a)).is_some_and(|v| v == "true"));
        let name = sc.metadata.name.clone().unwrap_or_default();
        let name = if is_default { format!("{name} (default)") } else { name };
        vec![
            name.into(),
            sc.provisioner.clone().into(),
            sc.reclaim_policy.clone().unwrap_or("Delete".into()).into(),
            sc.volume_binding_mode.clone().unwrap_or("Immediate".into()).into(),
            sc.allow_volume_expansion.unwrap_or(false).into(),
            table::age(&sc.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_default_class_name() {
        let mut v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "standard",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "krust.io/hostpath"}))
            .unwrap()
            .object;
        DEF.strategy.default(&mut v);
        assert_eq!(v["reclaimPolicy"], "Delete");
        assert_eq!(v["volumeBindingMode"], "Immediate");
        assert!(DEF.strategy.validate(&v).is_empty());
        let cells = DEF.strategy.cells(&v);
        assert_eq!(
            &cells[..5],
            &[
                json!("standard (default)"),
                json!("krust.io/hostpath"),
                json!("Delete"),
                json!("Immediate"),
                json!(false)
            ]
        );
    }
}
