//! storage.k8s.io/v1 VolumeAttachment: a request to attach a volume to a node.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::storage::v1::VolumeAttachment;

pub const DEF: ResourceDef = ResourceDef {
    group: "storage.k8s.io",
    version: "v1",
    kind: "VolumeAttachment",
    plural: "volumeattachments",
    singular: "volumeattachment",
    short_names: &[],
    categories: &[],
    namespaced: false,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status],
    definition: "io.k8s.api.storage.v1.VolumeAttachment",
    strategy: &Typed(VolumeAttachmentStrategy),
};

pub struct VolumeAttachmentStrategy;

fn validate_spec(va: &VolumeAttachment) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let spec = &va.spec;
    let mut errs = Vec::new();
    if spec.attacher.is_empty() {
        errs.push(FieldError::required(&path.child("attacher"), ""));
    }
    if spec.node_name.is_empty() {
        errs.push(FieldError::required(&path.child("nodeName"), ""));
    }
    let sources = usize::from(spec.source.persistent_volume_name.is_some())
        + usize::from(spec.source.inline_volume_spec.is_some());
    if sources != 1 {
        errs.push(FieldError::required(
            &path.child("source"),
            "must specify exactly one of inlineVolumeSpec and persistentVolumeName",
        ));
    }
    errs
}

impl TypedStrategy for VolumeAttachmentStrategy {
    type Object = VolumeAttachment;

    fn validate(&self, va: &VolumeAttachment) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&va.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_spec(va));
        errs
    }

    fn validate_update(&self, new: &VolumeAttachment, old: &VolumeAttachment) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_spec(new));
        if new.spec != old.spec {
            let spec = serde_json::to_value(&new.spec).unwrap_or_default();
            errs.push(FieldError::invalid(&FieldPath::new("spec"), spec, "field is immutable"));
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        let mut attacher = Column::new(
            "Attacher",
            "string",
            "attacher indicates the name of the volume driver that MUST handle this request. This is the name returned by GetPluginName().",
        );
        attacher.format = "name";
        vec![
            Column::NAME,
            attacher,
            Column::new("PV", "string", "persistentVolumeName represents the name of the persistent volume to attach."),
            Column::new("Node", "string", "nodeName represents the node that the volume should be attached to."),
            Column::new(
                "Attached",
                "boolean",
                "attached indicates the volume is successfully attached. This field must only be set by the entity completing the attach operation, i.e. the external-attacher.",
            ),
            Column::AGE,
        ]
    }

    fn cells(&self, va: &VolumeAttachment) -> Vec<Cell> {
        vec![
            table::name(&va.metadata),
            va.spec.attacher.clone().into(),
            va.spec.source.persistent_volume_name.clone().unwrap_or_default().into(),
            va.spec.node_name.clone().into(),
            va.status.as_ref().is_some_and(|s| s.attached).into(),
            table::age(&va.metadata),
        ]
    }
}
