//! Container validation (upstream's `validateContainers`, `validateInitContainers` and
//! what they call): names, images, ports, env, volume mounts, probes, lifecycle hooks,
//! resources and policies, with upstream's field paths and messages.

use super::names;
use super::service::{PORT_RANGE_MSG, port_name_errors, validate_port_num_or_name};
use super::workload::nonnegative;
use crate::quantity::Quantity;
use crate::{ErrorType, FieldError, FieldPath};
use k8s_openapi::api::core::v1::{Container, EnvVar, HTTPGetAction, Probe, ResourceRequirements};
use std::collections::{BTreeMap, BTreeSet};

const INIT_ONLY_WITH_RESTART: &str = "may not be set for init containers without restartPolicy=Always";

/// Names of the pod's volumes, which volume mounts must refer to.
pub type VolumeNames<'a> = BTreeSet<&'a str>;

/// Regular containers: at least one, names unique among them, probes and hooks allowed.
pub fn validate_containers(containers: &[Container], volumes: &VolumeNames, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if containers.is_empty() {
        errs.push(FieldError::required(path, ""));
    }
    let mut seen = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_common(c, volumes, &p));
        if !seen.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), c.name.as_str()));
        }
        errs.extend(validate_probes_and_hooks(c, &p));
        if c.restart_policy.is_some() {
            errs.push(FieldError::forbidden(&p.child("restartPolicy"), "may not be set for non-init containers"));
        }
    }
    errs.extend(host_port_conflicts(containers, path));
    errs
}

/// Init containers: names unique among all containers; probes and hooks only for
/// sidecars (`restartPolicy: Always`).
pub fn validate_init_containers(
    init: &[Container],
    regular: &[Container],
    volumes: &VolumeNames,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen: BTreeSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in init.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_common(c, volumes, &p));
        let sidecar = c.restart_policy.as_deref() == Some("Always");
        if let Some(policy) = c.restart_policy.as_deref().filter(|p| *p != "Always") {
            errs.push(FieldError::not_supported(&p.child("restartPolicy"), policy, &["Always"]));
        }
        if seen.contains(c.name.as_str()) {
            errs.push(FieldError::duplicate(&p.child("name"), c.name.as_str()));
        } else if !c.name.is_empty() {
            seen.insert(c.name.as_str());
        }
        errs.extend(host_port_conflicts(std::slice::from_ref(c), path));
        if sidecar {
            errs.extend(validate_probes_and_hooks(c, &p));
        } else {
            let set = [
                ("lifecycle", c.lifecycle.is_some()),
                ("livenessProbe", c.liveness_probe.is_some()),
                ("readinessProbe", c.readiness_probe.is_some()),
                ("startupProbe", c.startup_probe.is_some()),
            ];
            for (field, _) in set.iter().filter(|(_, present)| *present) {
                errs.push(FieldError::forbidden(&p.child(field), INIT_ONLY_WITH_RESTART));
            }
        }
    }
    errs
}

/// `validateContainerCommon`: what every kind of container must satisfy.
fn validate_common(c: &Container, volumes: &VolumeNames, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = path.child("name");
    if c.name.is_empty() {
        errs.push(FieldError::required(&name, ""));
    } else {
        errs.extend(names::dns1123_label(&c.name).into_iter().map(|m| FieldError::invalid(&name, c.name.as_str(), m)));
    }
    if c.image.as_deref().unwrap_or_default().is_empty() {
        errs.push(FieldError::required(&path.child("image"), ""));
    }
    errs.extend(one_of(
        c.termination_message_policy.as_deref(),
        &["File", "FallbackToLogsOnError"],
        &path.child("terminationMessagePolicy"),
    ));
    errs.extend(validate_ports(c, &path.child("ports")));
    errs.extend(validate_env(c.env.as_deref().unwrap_or_default(), &path.child("env")));
    errs.extend(validate_volume_mounts(c, volumes, &path.child("volumeMounts")));
    errs.extend(one_of(
        c.image_pull_policy.as_deref(),
        &["Always", "IfNotPresent", "Never"],
        &path.child("imagePullPolicy"),
    ));
    if let Some(r) = &c.resources {
        errs.extend(validate_resources(r, &path.child("resources")));
    }
    errs
}

/// A required enum field: `Required` when empty, `Unsupported value` when unknown.
pub fn one_of(value: Option<&str>, allowed: &[&str], path: &FieldPath) -> Vec<FieldError> {
    match value.unwrap_or_default() {
        "" => vec![FieldError::required(path, "")],
        v if allowed.contains(&v) => Vec::new(),
        v => vec![FieldError::not_supported(path, v, allowed)],
    }
}

fn validate_ports(c: &Container, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names_seen = BTreeSet::new();
    for (i, port) in c.ports.iter().flatten().enumerate() {
        let p = path.index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let msgs = port_name_errors(name);
            if !msgs.is_empty() {
                errs.extend(msgs.into_iter().map(|m| FieldError::invalid(&p.child("name"), name, m)));
            } else if !names_seen.insert(name) {
                errs.push(FieldError::duplicate(&p.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(&p.child("containerPort"), ""));
        } else if !(1..=65535).contains(&port.container_port) {
            errs.push(FieldError::invalid(&p.child("containerPort"), port.container_port, PORT_RANGE_MSG));
        }
        if let Some(host_port) = port.host_port.filter(|hp| *hp != 0 && !(1..=65535).contains(hp)) {
            errs.push(FieldError::invalid(&p.child("hostPort"), host_port, PORT_RANGE_MSG));
        }
        errs.extend(one_of(port.protocol.as_deref(), &["SCTP", "TCP", "UDP"], &p.child("protocol")));
    }
    errs
}

/// `AccumulateUniqueHostPorts`: one host port per protocol and host IP.
fn host_port_conflicts(containers: &[Container], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in c.ports.iter().flatten().enumerate() {
            let Some(host_port) = port.host_port.filter(|hp| *hp != 0) else { continue };
            let key = format!(
                "{}/{}/{host_port}",
                port.protocol.as_deref().unwrap_or_default(),
                port.host_ip.as_deref().unwrap_or_default()
            );
            if !seen.insert(key.clone()) {
                errs.push(FieldError::duplicate(&path.index(ci).child("ports").index(pi).child("hostPort"), key));
            }
        }
    }
    errs
}

/// `ValidateEnv` with relaxed names (the 1.33 default): printable ASCII but `=`.
fn validate_env(env: &[EnvVar], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, e) in env.iter().enumerate() {
        let p = path.index(i);
        if e.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if e.name.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
            errs.push(FieldError::invalid(
                &p.child("name"),
                e.name.as_str(),
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
        let Some(from) = &e.value_from else { continue };
        let sources = [
            from.field_ref.is_some(),
            from.resource_field_ref.is_some(),
            from.config_map_key_ref.is_some(),
            from.secret_key_ref.is_some(),
        ]
        .into_iter()
        .filter(|s| *s)
        .count();
        let from_path = p.child("valueFrom");
        if sources == 0 {
            errs.push(FieldError::invalid(
                &from_path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !e.value.as_deref().unwrap_or_default().is_empty() {
            errs.push(FieldError::invalid(&from_path, "", "may not be specified when `value` is not empty"));
        } else if sources > 1 {
            errs.push(FieldError::invalid(&from_path, "", "may not have more than one field specified at a time"));
        }
    }
    errs
}

fn validate_volume_mounts(c: &Container, volumes: &VolumeNames, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut mount_points = BTreeSet::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let p = path.index(i);
        if m.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        if !volumes.contains(m.name.as_str()) {
            // Upstream prints the missing name after "Not found"; the detail carries it.
            errs.push(FieldError {
                kind: ErrorType::NotFound,
                field: p.child("name").to_string(),
                value: None,
                detail: format!("{:?}", m.name),
            });
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(&p.child("mountPath"), ""));
        }
        if !mount_points.insert(m.mount_path.as_str()) {
            errs.push(FieldError::invalid(&p.child("mountPath"), m.mount_path.as_str(), "must be unique"));
        }
    }
    errs
}

fn validate_probes_and_hooks(c: &Container, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(lifecycle) = &c.lifecycle {
        let p = path.child("lifecycle");
        for (name, hook) in [("postStart", &lifecycle.post_start), ("preStop", &lifecycle.pre_stop)] {
            if let Some(h) = hook {
                let handlers = [
                    ("exec", h.exec.as_ref().map(|e| e.command.as_ref().is_none_or(Vec::is_empty))),
                    ("httpGet", h.http_get.as_ref().map(|_| false)),
                    ("sleep", h.sleep.as_ref().map(|_| false)),
                    ("tcpSocket", h.tcp_socket.as_ref().map(|_| false)),
                ];
                errs.extend(validate_handler(&handlers, h.http_get.as_ref(), &p.child(name)));
            }
        }
    }
    for (name, probe) in [
        ("livenessProbe", &c.liveness_probe),
        ("readinessProbe", &c.readiness_probe),
        ("startupProbe", &c.startup_probe),
    ] {
        let Some(probe) = probe else { continue };
        let p = path.child(name);
        errs.extend(validate_probe(probe, &p));
        let threshold = probe.success_threshold.unwrap_or(0);
        if name != "readinessProbe" && threshold != 1 {
            errs.push(FieldError::invalid(&p.child("successThreshold"), threshold, "must be 1"));
        }
        if let Some(grace) = probe.termination_grace_period_seconds.filter(|_| name == "readinessProbe") {
            errs.push(FieldError::invalid(
                &p.child("terminationGracePeriodSeconds"),
                grace,
                "must not be set for readinessProbes",
            ));
        }
    }
    errs
}

fn validate_probe(probe: &Probe, path: &FieldPath) -> Vec<FieldError> {
    let handlers = [
        ("exec", probe.exec.as_ref().map(|e| e.command.as_ref().is_none_or(Vec::is_empty))),
        ("httpGet", probe.http_get.as_ref().map(|_| false)),
        ("tcpSocket", probe.tcp_socket.as_ref().map(|_| false)),
        ("grpc", probe.grpc.as_ref().map(|_| false)),
    ];
    let mut errs = validate_handler(&handlers, probe.http_get.as_ref(), path);
    if let Some(tcp) = &probe.tcp_socket {
        errs.extend(validate_port_num_or_name(&tcp.port, &path.child("tcpSocket").child("port")));
    }
    if let Some(grpc) = probe.grpc.as_ref().filter(|g| !(1..=65535).contains(&g.port)) {
        errs.push(FieldError::invalid(&path.child("grpc").child("port"), grpc.port, PORT_RANGE_MSG));
    }
    for (field, value) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        errs.extend(nonnegative(value.map(i64::from), &path.child(field)));
    }
    if let Some(grace) = probe.termination_grace_period_seconds.filter(|g| *g <= 0) {
        errs.push(FieldError::invalid(&path.child("terminationGracePeriodSeconds"), grace, "must be greater than 0"));
    }
    errs
}

/// `validateHandler`: exactly one handler type. Each entry names a handler and, when
/// present, whether its exec command is missing.
fn validate_handler(
    handlers: &[(&str, Option<bool>)],
    http_get: Option<&HTTPGetAction>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut count = 0;
    for (name, missing_command) in handlers.iter().filter_map(|(n, h)| h.map(|m| (*n, m))) {
        if count > 0 {
            errs.push(FieldError::forbidden(&path.child(name), "may not specify more than 1 handler type"));
            continue;
        }
        count += 1;
        if missing_command {
            errs.push(FieldError::required(&path.child(name).child("command"), ""));
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    if let Some(h) = http_get {
        let p = path.child("httpGet");
        if h.path.as_deref().unwrap_or_default().is_empty() {
            errs.push(FieldError::required(&p.child("path"), ""));
        }
        errs.extend(validate_port_num_or_name(&h.port, &p.child("port")));
        if let Some(scheme) = h.scheme.as_deref().filter(|s| !["HTTP", "HTTPS"].contains(s)) {
            errs.push(FieldError::not_supported(&p.child("scheme"), scheme, &["HTTP", "HTTPS"]));
        }
    }
    errs
}

/// Native resources whose requests may be below their limits.
fn overcommit_allowed(name: &str) -> bool {
    ["cpu", "memory", "ephemeral-storage"].contains(&name)
}

fn validate_resource_name(name: &str, path: &FieldPath) -> Vec<FieldError> {
    let standard = overcommit_allowed(name) || name.starts_with("hugepages-");
    let mut errs: Vec<FieldError> =
        names::qualified_name(name).into_iter().map(|m| FieldError::invalid(path, name, m)).collect();
    let native = !name.contains('/') || name.starts_with("kubernetes.io/");
    if errs.is_empty() && native && !standard {
        errs.push(FieldError::invalid(path, name, "must be a standard resource for containers"));
    }
    errs
}

/// `ValidateResourceRequirements`: valid names, non-negative quantities, requests no
/// more than limits (equal for resources that cannot be overcommitted).
fn validate_resources(r: &ResourceRequirements, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let empty = BTreeMap::new();
    let limits = r.limits.as_ref().unwrap_or(&empty);
    let (lim_path, req_path) = (path.child("limits"), path.child("requests"));
    let check = |name: &str, q: &str, p: &FieldPath, errs: &mut Vec<FieldError>| {
        errs.extend(validate_resource_name(name, p));
        if Quantity::parse(q).is_some_and(|v| v < Quantity::ZERO) {
            errs.push(FieldError::invalid(p, q, super::workload::NEGATIVE_MSG));
        }
    };
    for (name, q) in limits {
        check(name, &q.0, &lim_path.key(name), &mut errs);
    }
    for (name, q) in r.requests.iter().flatten() {
        check(name, &q.0, &req_path.key(name), &mut errs);
        match limits.get(name) {
            Some(limit) => {
                let order = crate::quantity::compare(&q.0, &limit.0);
                if order.is_some_and(|o| o.is_ne()) && !overcommit_allowed(name) {
                    let msg = format!("must be equal to {name} limit of {}", limit.0);
                    errs.push(FieldError::invalid(&req_path, q.0.as_str(), msg));
                } else if order.is_some_and(|o| o.is_gt()) {
                    let msg = format!("must be less than or equal to {name} limit of {}", limit.0);
                    errs.push(FieldError::invalid(&req_path, q.0.as_str(), msg));
                }
            }
            None if !overcommit_allowed(name) => {
                errs.push(FieldError::required(&lim_path, "Limit must be set for non overcommitable resources"));
            }
            None => {}
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn containers(v: serde_json::Value) -> Vec<Container> {
        serde_json::from_value(v).unwrap()
    }

    fn messages(errs: Vec<FieldError>) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    const DEFAULTED: &str = r#"{"imagePullPolicy": "Always", "terminationMessagePolicy": "File"}"#;

    fn with_defaults(mut c: serde_json::Value) -> serde_json::Value {
        let defaults: serde_json::Value = serde_json::from_str(DEFAULTED).unwrap();
        for (k, v) in defaults.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    #[test]
    fn names_images_ports_and_resources() {
        let list = containers(json!([
            with_defaults(json!({"name": "Web_1", "image": "nginx",
                "ports": [{"containerPort": 70000, "protocol": "TCP"}]})),
            with_defaults(json!({"name": "db", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}})),
            with_defaults(json!({"name": "db", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]})),
        ]));
        let got = messages(validate_containers(&list, &VolumeNames::new(), &FieldPath::new("spec.containers")));
        assert_eq!(
            got,
            vec![
                r#"spec.containers[0].name: Invalid value: "Web_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.containers[1].image: Required value",
                r#"spec.containers[1].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1"#,
                r#"spec.containers[2].volumeMounts[0].name: Not found: "data""#,
                r#"spec.containers[2].name: Duplicate value: "db""#,
            ]
        );
        assert_eq!(
            messages(validate_containers(&[], &VolumeNames::new(), &FieldPath::new("spec.containers"))),
            vec!["spec.containers: Required value"]
        );
    }

    #[test]
    fn probes_need_one_handler() {
        let list = containers(json!([with_defaults(json!({"name": "c", "image": "x",
            "livenessProbe": {"successThreshold": 2, "periodSeconds": 10},
            "readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}))]));
        let got = messages(validate_containers(&list, &VolumeNames::new(), &FieldPath::new("c")));
        assert_eq!(
            got,
            vec![
                "c[0].livenessProbe: Required value: must specify a handler type",
                "c[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
                "c[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
            ]
        );
    }
}
