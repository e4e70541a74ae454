//! storage.k8s.io/v1 CSIDriver: how the cluster talks to an installed CSI volume driver.

use super::shared::default_str;
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::storage::v1::CSIDriver;

pub const DEF: ResourceDef = ResourceDef {
    group: "storage.k8s.io",
    version: "v1",
    kind: "CSIDriver",
    plural: "csidrivers",
    singular: "csidriver",
    short_names: &[],
    categories: &[],
    namespaced: false,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.storage.v1.CSIDriver",
    strategy: &Typed(CSIDriverStrategy),
};

pub struct CSIDriverStrategy;

const LIFECYCLE_MODES: &[&str] = &["Ephemeral", "Persistent"];
const FS_GROUP_POLICIES: &[&str] = &["File", "None", "ReadWriteOnceWithFSType"];

fn validate_spec(d: &CSIDriver) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let mut errs = Vec::new();
    for mode in d.spec.volume_lifecycle_modes.iter().flatten().filter(|m| !LIFECYCLE_MODES.contains(&m.as_str())) {
        errs.push(FieldError::not_supported(&path.child("volumeLifecycleModes"), mode.as_str(), LIFECYCLE_MODES));
    }
    if let Some(p) = d.spec.fs_group_policy.as_deref().filter(|p| !FS_GROUP_POLICIES.contains(p)) {
        errs.push(FieldError::not_supported(&path.child("fsGroupPolicy"), p, FS_GROUP_POLICIES));
    }
    errs
}

impl TypedStrategy for CSIDriverStrategy {
    type Object = CSIDriver;

    fn default(&self, d: &mut CSIDriver) {
        let spec = &mut d.spec;
        spec.attach_required.get_or_insert(true);
        spec.pod_info_on_mount.get_or_insert(false);
        spec.storage_capacity.get_or_insert(false);
        spec.requires_republish.get_or_insert(false);
        spec.se_linux_mount.get_or_insert(false);
        default_str(&mut spec.fs_group_policy, "ReadWriteOnceWithFSType");
        if spec.volume_lifecycle_modes.as_deref().unwrap_or_default().is_empty() {
            spec.volume_lifecycle_modes = Some(vec!["Persistent".to_owned()]);
        }
    }

    fn validate(&self, d: &CSIDriver) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&d.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_spec(d));
        errs
    }

    fn validate_update(&self, new: &CSIDriver, old: &CSIDriver) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_spec(new));
        let path = FieldPath::new("spec");
        for (field, changed) in [
            ("attachRequired", new.spec.attach_required != old.spec.attach_required),
            ("podInfoOnMount", new.spec.pod_info_on_mount != old.spec.pod_info_on_mount),
            ("volumeLifecycleModes", new.spec.volume_lifecycle_modes != old.spec.volume_lifecycle_modes),
        ] {
            if changed {
                errs.push(FieldError::invalid(&path.child(field), serde_json::Value::Null, "field is immutable"));
            }
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new(
                "AttachRequired",
                "boolean",
                "attachRequired indicates this CSI volume driver requires an attach operation (because it implements the CSI ControllerPublishVolume() method), and that the Kubernetes attach detach controller should call the attach volume interface which checks the volumeattachment status and waits until the volume is attached before proceeding to mounting. The CSI external-attacher coordinates with CSI volume driver and updates the volumeattachment status when the attach operation is complete. If the CSIDriverRegistry feature gate is enabled and the value is specified to false, the attach operation will be skipped. Otherwise the attach operation will be called.\n\nThis field is immutable.",
            ),
            Column::new(
                "PodInfoOnMount",
                "boolean",
                "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations, if set to true. If set to false, pod information will not be passed on mount. Default is false.\n\nThe CSI driver specifies podInfoOnMount as part of driver deployment. If true, Kubelet will pass pod information as VolumeContext in the CSI NodePublishVolume() calls. The CSI driver is responsible for parsing and validating the information passed in as VolumeContext.\n\nThe following VolumeContext will be passed if podInfoOnMount is set to true. This list might grow, but the prefix will be used. \"csi.storage.k8s.io/pod.name\": pod.Name \"csi.storage.k8s.io/pod.namespace\": pod.Namespace \"csi.storage.k8s.io/pod.uid\": string(pod.UID) \"csi.storage.k8s.io/ephemeral\": \"true\" if the volume is an ephemeral inline volume\n                                defined by a CSIVolumeSource, otherwise \"false\"\n\n\"csi.storage.k8s.io/ephemeral\" is a new feature in Kubernetes 1.16. It is only required for drivers which support both the \"Persistent\" and \"Ephemeral\" VolumeLifecycleMode. Other drivers can leave pod info disabled and/or ignore this field. As Kubernetes 1.15 doesn't support this field, drivers can only support one mode when deployed on such a cluster and the deployment determines which mode that is, for example via a command line parameter of the driver.\n\nThis field was immutable in Kubernetes \\< 1.29 and now is mutable.",
            ),
            Column::new(
                "StorageCapacity",
                "boolean",
                "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report by creating CSIStorageCapacity objects with capacity information, if set to true.\n\nThe check can be enabled immediately when deploying a driver. In that case, provisioning new volumes with late binding will pause until the driver deployment has published some suitable CSIStorageCapacity object.\n\nAlternatively, the driver can be deployed with the field unset or false and it can be flipped later when storage capacity information has been published.\n\nThis field was immutable in Kubernetes \\<= 1.22 and now is mutable.",
            ),
            Column::new(
                "TokenRequests",
                "string",
                "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication. Kubelet will pass the tokens in VolumeContext in the CSI NodePublishVolume calls. The CSI driver should parse and validate the following VolumeContext: \"csi.storage.k8s.io/serviceAccount.tokens\": {\n  \"\\<audience\\>\": {\n    \"token\": \\<token\\>,\n    \"expirationTimestamp\": \\<expiration timestamp in RFC3339\\>,\n  },\n  ...\n}\n\nNote: Audience in each TokenRequest should be different and at most one token is empty string. To receive a new token after expiry, RequiresRepublish can be used to trigger NodePublishVolume periodically.",
            ),
            Column::new(
                "RequiresRepublish",
                "boolean",
                "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume. This field defaults to false.\n\nNote: After a successful initial NodePublishVolume call, subsequent calls to NodePublishVolume should only update the contents of the volume. New mount points will not be seen by a running container.",
            ),
            Column::new(
                "Modes",
                "string",
                "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports. The default if the list is empty is \"Persistent\", which is the usage defined by the CSI specification and implemented in Kubernetes via the usual PV/PVC mechanism.\n\nThe other mode is \"Ephemeral\". In this mode, volumes are defined inline inside the pod spec with CSIVolumeSource and their lifecycle is tied to the lifecycle of that pod. A driver has to be aware of this because it is only going to get a NodePublishVolume call for such a volume.\n\nFor more information about implementing this mode, see https://kubernetes-csi.github.io/docs/ephemeral-local-volumes.html A driver can support one or more of these modes and more modes may be added in the future.\n\nThis field is beta. This field is immutable.",
            ),
            Column::AGE,
        ]
    }

    fn cells(&self, d: &CSIDriver) -> Vec<Cell> {
        let spec = &d.spec;
        let tokens = spec
            .token_requests
            .as_ref()
            .map_or("<unset>".to_owned(), |t| t.iter().map(|r| r.audience.as_str()).collect::<Vec<_>>().join(","));
        let modes = spec.volume_lifecycle_modes.clone().unwrap_or_default().join(",");
        vec![
            table::name(&d.metadata),
            spec.attach_required.unwrap_or(true).into(),
            spec.pod_info_on_mount.unwrap_or(false).into(),
            spec.storage_capacity.unwrap_or(false).into(),
            tokens.into(),
            spec.requires_republish.unwrap_or(false).into(),
            if modes.is_empty() { "<none>".to_owned() } else { modes }.into(),
            table::age(&d.metadata),
        ]
    }
}
