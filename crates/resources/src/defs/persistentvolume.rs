//! core/v1 PersistentVolume: a piece of storage in the cluster, bound to one claim.

use super::shared::{access_modes, default_str};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeSpec, PersistentVolumeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::Value;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "PersistentVolume",
    plural: "persistentvolumes",
    singular: "persistentvolume",
    short_names: &["pv"],
    categories: &[],
    namespaced: false,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status],
    definition: "io.k8s.api.core.v1.PersistentVolume",
    strategy: &Typed(PersistentVolumeStrategy),
};

pub struct PersistentVolumeStrategy;

/// Access modes, as upstream lists the supported ones.
pub const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
/// Volume modes.
pub const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
const RECLAIM_POLICIES: &[&str] = &["Delete", "Recycle", "Retain"];
/// The beta annotation that still takes precedence over `storageClassName`.
pub const STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";
/// Spec fields that are volume sources (exactly one must be set).
const SOURCES: &[&str] = &[
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "csi",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "glusterfs",
    "hostPath",
    "iscsi",
    "local",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
];

/// Validate a list of access modes at `path` (required, each supported).
pub fn validate_access_modes(modes: &[String], path: &FieldPath, required_detail: &str) -> Vec<FieldError> {
    if modes.is_empty() {
        return vec![FieldError::required(path, required_detail)];
    }
    modes
        .iter()
        .filter(|m| !ACCESS_MODES.contains(&m.as_str()))
        .map(|m| FieldError::not_supported(path, m.as_str(), ACCESS_MODES))
        .collect()
}

/// The storage class: the beta annotation, else `storageClassName`.
pub fn storage_class(meta: &ObjectMeta, spec_class: Option<&String>) -> String {
    meta.annotations.as_ref().and_then(|a| a.get(STORAGE_CLASS_ANNOTATION)).or(spec_class).cloned().unwrap_or_default()
}

fn sources(spec: &PersistentVolumeSpec) -> Value {
    let v = serde_json::to_value(spec).unwrap_or_default();
    SOURCES
        .iter()
        .filter_map(|s| v.get(*s).map(|x| ((*s).to_owned(), x.clone())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn validate_spec(spec: &PersistentVolumeSpec) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let mut errs =
        validate_access_modes(spec.access_modes.as_deref().unwrap_or_default(), &path.child("accessModes"), "");
    let capacity = spec.capacity.clone().unwrap_or_default();
    if capacity.is_empty() {
        errs.push(FieldError::required(&path.child("capacity"), ""));
    } else if !capacity.contains_key("storage") || capacity.len() > 1 {
        let names: Vec<&String> = capacity.keys().collect();
        errs.push(FieldError::not_supported(&path.child("capacity"), serde_json::json!(names), &["storage"]));
    }
    if sources(spec).as_object().is_none_or(|m| m.is_empty()) {
        errs.push(FieldError::required(&path, "must specify a volume type"));
    } else if sources(spec).as_object().is_some_and(|m| m.len() > 1) {
        errs.push(FieldError::forbidden(&path, "may not specify more than 1 volume type"));
    }
    let policy = spec.persistent_volume_reclaim_policy.as_deref().unwrap_or_default();
    if !policy.is_empty() && !RECLAIM_POLICIES.contains(&policy) {
        errs.push(FieldError::not_supported(&path.child("persistentVolumeReclaimPolicy"), policy, RECLAIM_POLICIES));
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

impl TypedStrategy for PersistentVolumeStrategy {
    type Object = PersistentVolume;

    fn default(&self, pv: &mut PersistentVolume) {
        let spec = pv.spec.get_or_insert_with(Default::default);
        default_str(&mut spec.persistent_volume_reclaim_policy, "Retain");
        default_str(&mut spec.volume_mode, "Filesystem");
        default_str(&mut pv.status.get_or_insert_with(Default::default).phase, "Pending");
    }

    fn prepare_for_create(&self, pv: &mut PersistentVolume) {
        pv.status = Some(PersistentVolumeStatus {
            phase: Some("Pending".to_owned()),
            last_phase_transition_time: Some(Time(
                jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_default(),
            )),
            ..Default::default()
        });
    }

    fn validate(&self, pv: &PersistentVolume) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&pv.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_spec(&pv.spec.clone().unwrap_or_default()));
        errs
    }

    fn validate_update(&self, new: &PersistentVolume, old: &PersistentVolume) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, false, names::dns1123_subdomain);
        let (new_spec, old_spec) = (new.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
        errs.extend(validate_spec(&new_spec));
        if sources(&new_spec) != sources(&old_spec) {
            errs.push(FieldError::forbidden(
                &FieldPath::new("spec").child("persistentvolumesource"),
                "spec.persistentvolumesource is immutable after creation",
            ));
        }
        if new_spec.volume_mode != old_spec.volume_mode {
            let mode = new_spec.volume_mode.clone().unwrap_or_default();
            errs.push(FieldError::invalid(&FieldPath::new("spec").child("volumeMode"), mode, "field is immutable"));
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        let doc = |field| match field {
            "capacity" => {
                "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity"
            }
            "accessModes" => {
                "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes"
            }
            "reclaim" => {
                "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming"
            }
            "phase" => {
                "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase"
            }
            "claimRef" => {
                "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding"
            }
            "reason" => {
                "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."
            }
            _ => {
                "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec."
            }
        };
        vec![
            Column::NAME,
            Column::new("Capacity", "string", doc("capacity")),
            Column::new("Access Modes", "string", doc("accessModes")),
            Column::new("Reclaim Policy", "string", doc("reclaim")),
            Column::new("Status", "string", doc("phase")),
            Column::new("Claim", "string", doc("claimRef")),
            Column::new("StorageClass", "string", "StorageClass of the pv"),
            Column::new("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
            Column::new("Reason", "string", doc("reason")),
            Column::AGE,
            Column::new("VolumeMode", "string", doc("volumeMode")).wide(),
        ]
    }

    fn cells(&self, pv: &PersistentVolume) -> Vec<Cell> {
        let spec = pv.spec.clone().unwrap_or_default();
        let status = pv.status.clone().unwrap_or_default();
        let claim = spec.claim_ref.as_ref().map_or(String::new(), |c| {
            format!("{}/{}", c.namespace.as_deref().unwrap_or_default(), c.name.as_deref().unwrap_or_default())
        });
        let capacity = spec.capacity.as_ref().and_then(|c| c.get("storage")).map_or("0".to_owned(), |q| q.0.clone());
        let phase =
            if pv.metadata.deletion_timestamp.is_some() { Some("Terminating".to_owned()) } else { status.phase };
        vec![
            table::name(&pv.metadata),
            capacity.into(),
            access_modes(spec.access_modes.as_deref().unwrap_or_default()).into(),
            spec.persistent_volume_reclaim_policy.clone().unwrap_or_default().into(),
            phase.unwrap_or_default().into(),
            claim.into(),
            storage_class(&pv.metadata, spec.storage_class_name.as_ref()).into(),
            spec.volume_attributes_class_name.clone().unwrap_or("<unset>".into()).into(),
            status.reason.unwrap_or_default().into(),
            table::age(&pv.metadata),
            spec.volume_mode.clone().unwrap_or("<unset>".into()).into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_validation_and_cells() {
        let mut v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "pv0"}, "spec": {"capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}, "storageClassName": "manual"}}))
            .unwrap()
            .object;
        DEF.strategy.default(&mut v);
        DEF.strategy.prepare_for_create(&mut v);
        assert_eq!(v["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(v["spec"]["volumeMode"], "Filesystem");
        assert_eq!(v["status"]["phase"], "Pending");
        assert!(DEF.strategy.validate(&v).is_empty(), "{:?}", DEF.strategy.validate(&v));
        let cells = DEF.strategy.cells(&v);
        assert_eq!(
            &cells[1..8],
            &[
                json!("1Gi"),
                json!("RWO"),
                json!("Retain"),
                json!("Pending"),
                json!(""),
                json!("manual"),
                json!("<unset>")
            ]
        );

        let bad = DEF.strategy.decode(json!({"metadata": {"name": "pv1"}, "spec": {}})).unwrap().object;
        let msgs: Vec<String> = DEF.strategy.validate(&bad).iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec![
                "spec.accessModes: Required value",
                "spec.capacity: Required value",
                "spec: Required value: must specify a volume type"
            ]
        );
    }
}
