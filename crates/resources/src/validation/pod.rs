//! Pod spec validation (upstream's `ValidatePodSpec`, `ValidatePodTemplateSpec`,
//! `ValidatePodCreate` and `ValidatePodUpdate`), with upstream's field paths and
//! messages. Containers are checked in [`super::container`].

use super::container::{self, VolumeNames, one_of};
use super::{meta, names};
use crate::{FieldError, FieldPath};
use k8s_openapi::api::core::v1::{Pod, PodSpec, PodTemplateSpec, Toleration, Volume};
use serde_json::Value;

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Volume source fields in the order upstream's `validateVolumeSource` checks them; a
/// second source is reported at its own path.
const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flexVolume",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "configMap",
    "projected",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// Pod updates may change only these (upstream's list, in its wording).
const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodCreate`: metadata, spec, and the create-only rules.
pub fn validate_pod(pod: &Pod) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&pod.metadata, true, names::dns1123_subdomain);
    let spec_path = FieldPath::new("spec");
    let default_spec = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_pod_spec(spec, &spec_path));
    for (field, list) in [("containers", Some(&spec.containers)), ("initContainers", spec.init_containers.as_ref())] {
        for (i, c) in list.into_iter().flatten().enumerate() {
            let image = c.image.as_deref().unwrap_or_default();
            if image.trim() != image {
                let p = spec_path.child(field).index(i).child("image");
                errs.push(FieldError::invalid(&p, image, "must not have leading or trailing whitespace"));
            }
        }
    }
    if spec.ephemeral_containers.as_ref().is_some_and(|e| !e.is_empty()) {
        errs.push(FieldError::forbidden(&spec_path.child("ephemeralContainers"), "cannot be set on create"));
    }
    let gated = spec.scheduling_gates.as_ref().is_some_and(|g| !g.is_empty());
    if gated && !spec.node_name.as_deref().unwrap_or_default().is_empty() {
        errs.push(FieldError::forbidden(
            &spec_path.child("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errs
}

/// `ValidatePodTemplateSpec`: the template's labels and annotations (at
/// `<path>.labels`, as upstream names them) and its pod spec.
pub fn validate_pod_template_spec(template: &PodTemplateSpec, path: &FieldPath) -> Vec<FieldError> {
    let meta = template.metadata.as_ref();
    let mut errs = meta::validate_labels(meta.and_then(|m| m.labels.as_ref()), &path.child("labels"));
    errs.extend(meta::validate_annotations(meta.and_then(|m| m.annotations.as_ref()), &path.child("annotations")));
    let default_spec = PodSpec::default();
    let spec = template.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_pod_spec(spec, &path.child("spec")));
    if spec.ephemeral_containers.as_ref().is_some_and(|e| !e.is_empty()) {
        errs.push(FieldError::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// `ValidatePodSpec`: volumes, containers, policies and scheduling fields.
pub fn validate_pod_spec(spec: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let volumes = spec.volumes.as_deref().unwrap_or_default();
    let mut errs = validate_volumes(volumes, &path.child("volumes"));
    let volume_names: VolumeNames = volumes.iter().map(|v| v.name.as_str()).collect();
    errs.extend(container::validate_containers(&spec.containers, &volume_names, &path.child("containers")));
    let init = spec.init_containers.as_deref().unwrap_or_default();
    errs.extend(container::validate_init_containers(
        init,
        &spec.containers,
        &volume_names,
        &path.child("initContainers"),
    ));
    if spec.host_network == Some(true) {
        errs.extend(host_network_ports(spec, path));
    }
    errs.extend(one_of(spec.restart_policy.as_deref(), RESTART_POLICIES, &path.child("restartPolicy")));
    errs.extend(one_of(spec.dns_policy.as_deref(), DNS_POLICIES, &path.child("dnsPolicy")));
    errs.extend(meta::validate_labels(spec.node_selector.as_ref(), &path.child("nodeSelector")));
    for (i, gate) in spec.scheduling_gates.iter().flatten().enumerate() {
        let p = path.child("schedulingGates").index(i).child("name");
        errs.extend(
            names::qualified_name(&gate.name).into_iter().map(|m| FieldError::invalid(&p, gate.name.as_str(), m)),
        );
    }
    for (field, value) in [("serviceAccountName", &spec.service_account_name), ("nodeName", &spec.node_name)] {
        let v = value.as_deref().unwrap_or_default();
        if !v.is_empty() {
            let p = path.child(field);
            errs.extend(names::dns1123_subdomain(v).into_iter().map(|m| FieldError::invalid(&p, v, m)));
        }
    }
    if let Some(v) = spec.active_deadline_seconds.filter(|v| !(1..=i64::from(i32::MAX)).contains(v)) {
        errs.push(FieldError::invalid(
            &path.child("activeDeadlineSeconds"),
            v,
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        let v = value.as_deref().unwrap_or_default();
        if !v.is_empty() {
            let p = path.child(field);
            errs.extend(names::dns1123_label(v).into_iter().map(|m| FieldError::invalid(&p, v, m)));
        }
    }
    errs.extend(validate_tolerations(spec.tolerations.as_deref().unwrap_or_default(), &path.child("tolerations")));
    errs
}

/// With host networking a container's host port, when set, must equal its port.
fn host_network_ports(spec: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (ci, c) in spec.containers.iter().enumerate() {
        for (pi, port) in c.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port != 0 && host_port != port.container_port {
                let p = path.child("containers").index(ci).child("ports").index(pi).child("hostPort");
                errs.push(FieldError::invalid(&p, host_port, "must match `containerPort` when `hostNetwork` is true"));
            }
        }
    }
    errs
}

/// `ValidateVolumes`: unique DNS-label names, exactly one source each.
fn validate_volumes(volumes: &[Volume], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_volume_source(v, &p));
        let name = p.child("name");
        if v.name.is_empty() {
            errs.push(FieldError::required(&name, ""));
        } else {
            errs.extend(
                names::dns1123_label(&v.name).into_iter().map(|m| FieldError::invalid(&name, v.name.as_str(), m)),
            );
        }
        if !seen.insert(v.name.as_str()) {
            errs.push(FieldError::duplicate(&name, v.name.as_str()));
        }
    }
    errs
}

fn validate_volume_source(v: &Volume, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let json = serde_json::to_value(v).unwrap_or(Value::Null);
    let present: Vec<&str> = VOLUME_SOURCES.iter().copied().filter(|s| json.get(s).is_some()).collect();
    match present.as_slice() {
        [] => errs.push(FieldError::required(path, "must specify a volume type")),
        [_, extra @ ..] => {
            for source in extra {
                errs.push(FieldError::forbidden(&path.child(source), "may not specify more than 1 volume type"));
            }
        }
    }
    let required = |source: &str, field: &str, value: Option<&str>, errs: &mut Vec<FieldError>| {
        if value.unwrap_or_default().is_empty() {
            errs.push(FieldError::required(&path.child(source).child(field), ""));
        }
    };
    if let Some(s) = &v.secret {
        required("secret", "secretName", s.secret_name.as_deref(), &mut errs);
    }
    if let Some(s) = &v.config_map {
        required("configMap", "name", Some(&s.name), &mut errs);
    }
    if let Some(s) = &v.persistent_volume_claim {
        required("persistentVolumeClaim", "claimName", Some(&s.claim_name), &mut errs);
    }
    if let Some(s) = &v.host_path {
        required("hostPath", "path", Some(&s.path), &mut errs);
    }
    if let Some(s) = &v.nfs {
        required("nfs", "server", Some(&s.server), &mut errs);
        required("nfs", "path", Some(&s.path), &mut errs);
    }
    errs
}

/// `ValidateTolerations`.
pub fn validate_tolerations(tolerations: &[Toleration], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let p = path.index(i);
        let key = t.key.as_deref().unwrap_or_default();
        let operator = t.operator.as_deref().unwrap_or_default();
        let effect = t.effect.as_deref().unwrap_or_default();
        let value = t.value.as_deref().unwrap_or_default();
        if !key.is_empty() {
            errs.extend(names::qualified_name(key).into_iter().map(|m| FieldError::invalid(&p.child("key"), key, m)));
        }
        if key.is_empty() && operator != "Exists" {
            errs.push(FieldError::invalid(
                &p.child("operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                &p.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let msgs = names::label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(&p.child("operator"), value, msgs.join(";")));
                }
            }
            "Exists" if !value.is_empty() => errs.push(FieldError::invalid(
                &p.child("operator"),
                serde_json::to_value(t).unwrap_or(Value::Null),
                "value must be empty when `operator` is 'Exists'",
            )),
            "Exists" => {}
            other => errs.push(FieldError::not_supported(&p.child("operator"), other, &["Equal", "Exists"])),
        }
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            errs.push(FieldError::not_supported(&p.child("effect"), effect, TAINT_EFFECTS));
        }
    }
    errs
}

/// `ValidatePodUpdate`: metadata and spec as for create, then only the updatable fields
/// may differ from the stored pod.
pub fn validate_pod_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
    let spec_path = FieldPath::new("spec");
    let empty = PodSpec::default();
    let (new_spec, old_spec) = (new.spec.as_ref().unwrap_or(&empty), old.spec.as_ref().unwrap_or(&empty));
    errs.extend(validate_pod_spec(new_spec, &spec_path));
    let init_count = |s: &PodSpec| s.init_containers.as_ref().map_or(0, Vec::len);
    let counts = [
        ("containers", new_spec.containers.len(), old_spec.containers.len()),
        ("initContainers", init_count(new_spec), init_count(old_spec)),
    ];
    for (field, new_count, old_count) in counts {
        if new_count != old_count {
            errs.push(FieldError::forbidden(&spec_path.child(field), "pod updates may not add or remove containers"));
            return errs;
        }
    }
    errs.extend(active_deadline_update(new_spec.active_deadline_seconds, old_spec.active_deadline_seconds, &spec_path));
    let old_tolerations = old_spec.tolerations.as_deref().unwrap_or_default();
    let new_tolerations = new_spec.tolerations.as_deref().unwrap_or_default();
    let modified = old_tolerations.iter().any(|o| {
        !new_tolerations.iter().any(|n| Toleration { toleration_seconds: n.toleration_seconds, ..o.clone() } == *n)
    });
    if modified {
        errs.push(FieldError::forbidden(
            &spec_path.child("tolerations"),
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }
    let munged = munge_updatable_fields(new_spec, old_spec);
    if munged != *old_spec {
        let diff = spec_diff(old_spec, &munged);
        errs.push(FieldError::forbidden(
            &spec_path,
            format!("pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n{diff}"),
        ));
    }
    errs
}

fn active_deadline_update(new: Option<i64>, old: Option<i64>, spec_path: &FieldPath) -> Vec<FieldError> {
    let p = spec_path.child("activeDeadlineSeconds");
    match (new, old) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            vec![FieldError::invalid(&p, n, "must be between 0 and 2147483647, inclusive")]
        }
        (Some(n), Some(o)) if o < n => vec![FieldError::invalid(&p, n, "must be less than or equal to previous value")],
        (None, Some(_)) => {
            vec![FieldError::invalid(&p, Value::Null, "must not update from a positive integer to nil value")]
        }
        _ => Vec::new(),
    }
}

/// The new spec with every field a pod update may change set back to the old value, so
/// what remains different is forbidden.
fn munge_updatable_fields(new: &PodSpec, old: &PodSpec) -> PodSpec {
    let mut munged = new.clone();
    for (c, o) in munged.containers.iter_mut().zip(&old.containers) {
        c.image.clone_from(&o.image);
    }
    for (c, o) in munged.init_containers.iter_mut().flatten().zip(old.init_containers.iter().flatten()) {
        c.image.clone_from(&o.image);
    }
    munged.active_deadline_seconds = old.active_deadline_seconds;
    munged.tolerations.clone_from(&old.tolerations);
    if old.termination_grace_period_seconds.is_some_and(|g| g < 0) && new.termination_grace_period_seconds == Some(1) {
        munged.termination_grace_period_seconds = old.termination_grace_period_seconds;
    }
    // Scheduling gates may only be removed.
    let old_gates = old.scheduling_gates.as_deref().unwrap_or_default();
    if munged.scheduling_gates.iter().flatten().all(|g| old_gates.contains(g)) {
        munged.scheduling_gates.clone_from(&old.scheduling_gates);
    }
    munged
}

/// The changed top-level spec fields, one `-`/`+` pair each (upstream prints a Go
/// structure diff here; this keeps its shape: what was, what would be).
fn spec_diff(old: &PodSpec, new: &PodSpec) -> String {
    let (old, new) =
        (serde_json::to_value(old).unwrap_or(Value::Null), serde_json::to_value(new).unwrap_or(Value::Null));
    let mut keys: Vec<&String> = old.as_object().into_iter().chain(new.as_object()).flat_map(|o| o.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut lines = vec!["  core.PodSpec{".to_owned()];
    for key in keys.into_iter().filter(|k| old.get(k) != new.get(k)) {
        let field = go_field_name(key);
        let show = |v: Option<&Value>| v.map_or_else(|| "nil".to_owned(), Value::to_string);
        lines.push(format!("- \t{field}: {},", show(old.get(key))));
        lines.push(format!("+ \t{field}: {},", show(new.get(key))));
    }
    lines.push("  }".to_owned());
    lines.join("\n")
}

fn go_field_name(json_name: &str) -> String {
    let mut chars = json_name.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults;
    use serde_json::json;

    fn pod(v: Value) -> Pod {
        let mut p: Pod = serde_json::from_value(v).unwrap();
        defaults::pod::pod(&mut p);
        p
    }

    #[test]
    fn a_pod_needs_containers() {
        let p = pod(json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": []}}));
        let errs: Vec<String> = validate_pod(&p).iter().map(ToString::to_string).collect();
        assert_eq!(errs, vec!["spec.containers: Required value"]);
    }

    #[test]
    fn volumes_need_one_source_and_unique_names() {
        let p = pod(json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {
            "containers": [{"name": "c", "image": "x"}],
            "volumes": [{"name": "a", "emptyDir": {}, "secret": {"secretName": "s"}}, {"name": "a"}],
            "restartPolicy": "Sometimes"}}));
        let errs: Vec<String> = validate_pod(&p).iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            vec![
                "spec.volumes[0].secret: Forbidden: may not specify more than 1 volume type",
                r#"spec.volumes[1].name: Duplicate value: "a""#,
                r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#,
            ]
        );
    }

    #[test]
    fn pod_updates_change_only_images() {
        let old = pod(json!({"metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}));
        let mut new = old.clone();
        new.spec.as_mut().unwrap().containers[0].image = Some("nginx:1.27".into());
        assert!(validate_pod_update(&new, &old).is_empty());
        new.spec.as_mut().unwrap().restart_policy = Some("Never".into());
        let errs = validate_pod_update(&new, &old);
        assert_eq!(errs.len(), 1);
        let msg = errs[0].to_string();
        assert!(
            msg.starts_with(
                "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
            )
        );
        assert!(msg.contains("- \tRestartPolicy: \"Always\",\n+ \tRestartPolicy: \"Never\","));
    }
}
