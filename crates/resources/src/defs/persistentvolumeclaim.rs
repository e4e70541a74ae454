//! core/v1 PersistentVolumeClaim: a request for storage, bound to a PersistentVolume.

use super::persistentvolume::{VOLUME_MODES, storage_class, validate_access_modes};
use super::shared::{access_modes, default_str};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimStatus};

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "PersistentVolumeClaim",
    plural: "persistentvolumeclaims",
    singular: "persistentvolumeclaim",
    short_names: &["pvc"],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status],
    definition: "io.k8s.api.core.v1.PersistentVolumeClaim",
    strategy: &Typed(PersistentVolumeClaimStrategy),
};

pub struct PersistentVolumeClaimStrategy;

fn validate_spec(spec: &PersistentVolumeClaimSpec) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let mut errs = validate_access_modes(
        spec.access_modes.as_deref().unwrap_or_default(),
        &path.child("accessModes"),
        "at least 1 access mode is required",
    );
    let storage = spec.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage"));
    match storage {
        None => errs.push(FieldError::required(&path.child("resources").key("storage"), "")),
        Some(q) if q.0.trim_start_matches(['0', '.']).is_empty() || q.0.starts_with('-') => errs.push(
            FieldError::invalid(&path.child("resources").key("storage"), q.0.as_str(), "must be greater than zero"),
        ),
        Some(_) => {}
    }
    if let Some(class) = spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) {
        for msg in names::dns1123_subdomain(class) {
            errs.push(FieldError::invalid(&path.child("storageClassName"), class, msg));
        }
    }
    if let Some(mode) = spec.volume_mode.as_deref().filter(|m| !VOLUME_MODES.contains(m)) {
        errs.push(FieldError::not_supported(&path.child("volumeMode"), mode, VOLUME_MODES));
    }
    errs
}

impl TypedStrategy for PersistentVolumeClaimStrategy {
    type Object = PersistentVolumeClaim;

    fn default(&self, pvc: &mut PersistentVolumeClaim) {
        default_str(&mut pvc.spec.get_or_insert_with(Default::default).volume_mode, "Filesystem");
        default_str(&mut pvc.status.get_or_insert_with(Default::default).phase, "Pending");
    }

    fn prepare_for_create(&self, pvc: &mut PersistentVolumeClaim) {
        pvc.status = Some(PersistentVolumeClaimStatus { phase: Some("Pending".to_owned()), ..Default::default() });
    }

    fn validate(&self, pvc: &PersistentVolumeClaim) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&pvc.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&pvc.spec.clone().unwrap_or_default()));
        errs
    }

    /// The spec is immutable but for storage requests, the volume attributes class, and
    /// binding an unbound claim to a volume.
    fn validate_update(&self, new: &PersistentVolumeClaim, old: &PersistentVolumeClaim) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        let new_spec = new.spec.clone().unwrap_or_default();
        errs.extend(validate_spec(&new_spec));
        let mut old_spec = old.spec.clone().unwrap_or_default();
        if old_spec.volume_name.as_deref().unwrap_or_default().is_empty() {
            old_spec.volume_name = new_spec.volume_name.clone();
        }
        let mut comparable = new_spec.clone();
        comparable.volume_attributes_class_name = old_spec.volume_attributes_class_name.clone();
        if let (Some(n), Some(o)) = (comparable.resources.as_mut(), old_spec.resources.as_ref()) {
            n.requests = o.requests.clone();
        }
        if comparable != old_spec {
            errs.push(FieldError::forbidden(
                &FieldPath::new("spec"),
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
            ));
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Status", "string", "phase represents the current phase of PersistentVolumeClaim."),
            Column::new("Volume", "string", "volumeName is the binding reference to the PersistentVolume backing this claim."),
            Column::new("Capacity", "string", "capacity represents the actual resources of the underlying volume."),
            Column::new("Access Modes", "string", "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1"),
            Column::new("StorageClass", "string", "StorageClass of the pvc"),
            Column::new("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
            Column::AGE,
            Column::new("VolumeMode", "string", "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.").wide(),
        ]
    }

    fn cells(&self, pvc: &PersistentVolumeClaim) -> Vec<Cell> {
        let spec = pvc.spec.clone().unwrap_or_default();
        let status = pvc.status.clone().unwrap_or_default();
        let volume = spec.volume_name.clone().unwrap_or_default();
        let (capacity, modes) = if volume.is_empty() {
            (String::new(), String::new())
        } else {
            let cap = status.capacity.as_ref().and_then(|c| c.get("storage")).map_or("0".to_owned(), |q| q.0.clone());
            (cap, access_modes(status.access_modes.as_deref().unwrap_or_default()))
        };
        let phase =
            if pvc.metadata.deletion_timestamp.is_some() { Some("Terminating".to_owned()) } else { status.phase };
        vec![
            table::name(&pvc.metadata),
            phase.unwrap_or_default().into(),
            volume.into(),
            capacity.into(),
            modes.into(),
            storage_class(&pvc.metadata, spec.storage_class_name.as_ref()).into(),
            spec.volume_attributes_class_name.clone().unwrap_or("<unset>".into()).into(),
            table::age(&pvc.metadata),
            spec.volume_mode.clone().unwrap_or("<unset>".into()).into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pending_claim() {
        let mut v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "data", "namespace": "default"}, "spec": {"accessModes": ["ReadWriteOnce"]}}))
            .unwrap()
            .object;
        DEF.strategy.default(&mut v);
        DEF.strategy.prepare_for_create(&mut v);
        assert_eq!(v["status"]["phase"], "Pending");
        assert_eq!(v["spec"]["volumeMode"], "Filesystem");
        let msgs: Vec<String> = DEF.strategy.validate(&v).iter().map(ToString::to_string).collect();
        assert_eq!(msgs, vec!["spec.resources[storage]: Required value"]);
        assert_eq!(DEF.strategy.cells(&v)[1], "Pending");
    }
}
