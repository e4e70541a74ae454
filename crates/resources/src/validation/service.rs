//! Service validation (upstream's `ValidateService` and `ValidateServiceUpdate`), with
//! upstream's field paths and messages. The API server allocates cluster IPs and node
//! ports before validation runs, so allocated values are checked here too.

use super::{meta, names};
use crate::{FieldError, FieldPath};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;
use std::collections::BTreeSet;
use std::net::IpAddr;

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const SESSION_AFFINITIES: &[&str] = &["ClientIP", "None"];
const TRAFFIC_POLICIES: &[&str] = &["Cluster", "Local"];
const NODE_PORT_RANGE: std::ops::RangeInclusive<i32> = 30000..=32767;
const KUBELET_PORT: i32 = 10250;

/// Upstream's `IsValidPortNum` message.
pub const PORT_RANGE_MSG: &str = "must be between 1 and 65535, inclusive";

fn svc_type(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().unwrap_or_default()
}

/// A headless Service: `clusterIP: None`.
pub fn is_headless(spec: &ServiceSpec) -> bool {
    spec.cluster_ip.as_deref() == Some("None")
}

/// Upstream's `IsValidPortName`: an IANA service name.
pub fn port_name_errors(name: &str) -> Vec<&'static str> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters");
    }
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)");
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen");
    }
    errs
}

/// Upstream's `ValidatePortNumOrName`.
pub fn validate_port_num_or_name(port: &IntOrString, path: &FieldPath) -> Vec<FieldError> {
    match port {
        IntOrString::Int(n) if !(1..=65535).contains(n) => vec![FieldError::invalid(path, *n, PORT_RANGE_MSG)],
        IntOrString::Int(_) => Vec::new(),
        IntOrString::String(s) => {
            port_name_errors(s).into_iter().map(|m| FieldError::invalid(path, s.as_str(), m)).collect()
        }
    }
}

fn validate_port(
    sp: &ServicePort,
    require_name: bool,
    names_seen: &mut BTreeSet<String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = sp.name.as_deref().unwrap_or_default();
    if require_name && name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else if !name.is_empty() {
        for msg in names::dns1123_label(name) {
            errs.push(FieldError::invalid(&path.child("name"), name, msg));
        }
        if !names_seen.insert(name.to_owned()) {
            errs.push(FieldError::duplicate(&path.child("name"), name));
        }
    }
    if !(1..=65535).contains(&sp.port) {
        errs.push(FieldError::invalid(&path.child("port"), sp.port, PORT_RANGE_MSG));
    }
    match sp.protocol.as_deref().unwrap_or_default() {
        "" => errs.push(FieldError::required(&path.child("protocol"), "")),
        p if !PROTOCOLS.contains(&p) => errs.push(FieldError::not_supported(&path.child("protocol"), p, PROTOCOLS)),
        _ => {}
    }
    if let Some(target) = &sp.target_port {
        errs.extend(validate_port_num_or_name(target, &path.child("targetPort")));
    }
    if let Some(app) = &sp.app_protocol {
        for msg in names::qualified_name(app) {
            errs.push(FieldError::invalid(&path.child("appProtocol"), app.as_str(), msg));
        }
    }
    if let Some(np) = sp.node_port.filter(|np| *np != 0 && !NODE_PORT_RANGE.contains(np)) {
        errs.push(FieldError::invalid(
            &path.child("nodePort"),
            np,
            "provided port is not in the valid range. The range of valid ports is 30000-32767",
        ));
    }
    errs
}

/// The checks of upstream's `ValidateService` on the spec.
fn validate_spec(spec: &ServiceSpec) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let mut errs = Vec::new();
    let ty = svc_type(spec);
    let ports = spec.ports.as_deref().unwrap_or_default();
    let cluster_ips = spec.cluster_ips.as_deref().unwrap_or_default();
    let headless = is_headless(spec);
    if ports.is_empty() && !headless && ty != "ExternalName" {
        errs.push(FieldError::required(&path.child("ports"), ""));
    }
    match ty {
        "LoadBalancer" | "NodePort" if headless => errs.push(FieldError::invalid(
            &path.child("clusterIPs").index(0),
            "None",
            format!("may not be set to 'None' for {ty} services"),
        )),
        "ExternalName" => errs.extend(validate_external_name(spec, &path)),
        _ => {}
    }
    if ty == "LoadBalancer" {
        for (i, p) in ports.iter().enumerate().filter(|(_, p)| p.port == KUBELET_PORT) {
            errs.push(FieldError::invalid(
                &path.child("ports").index(i),
                p.port,
                format!("may not expose port {KUBELET_PORT} externally since it is used by kubelet"),
            ));
        }
    }
    let mut names_seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        errs.extend(validate_port(p, ports.len() > 1, &mut names_seen, &path.child("ports").index(i)));
    }
    errs.extend(meta::validate_labels(spec.selector.as_ref(), &path.child("selector")));
    let affinity = spec.session_affinity.as_deref().unwrap_or_default();
    if affinity.is_empty() {
        errs.push(FieldError::required(&path.child("sessionAffinity"), ""));
    } else if !SESSION_AFFINITIES.contains(&affinity) {
        errs.push(FieldError::not_supported(&path.child("sessionAffinity"), affinity, SESSION_AFFINITIES));
    } else if affinity == "None" && spec.session_affinity_config.is_some() {
        errs.push(FieldError::forbidden(
            &path.child("sessionAffinityConfig"),
            "must not be set when session affinity is None",
        ));
    }
    if ty != "ExternalName" && !cluster_ips.is_empty() {
        errs.extend(validate_cluster_ips(spec, cluster_ips, &path));
    }
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        if ip.parse::<IpAddr>().is_err() {
            errs.push(FieldError::invalid(
                &path.child("externalIPs").index(i),
                ip.as_str(),
                "must be a valid IP address",
            ));
        }
    }
    if ty.is_empty() {
        errs.push(FieldError::required(&path.child("type"), ""));
    } else if !SERVICE_TYPES.contains(&ty) {
        errs.push(FieldError::not_supported(&path.child("type"), ty, SERVICE_TYPES));
    }
    if ty == "ClusterIP" {
        for (i, _) in ports.iter().enumerate().filter(|(_, p)| p.node_port.unwrap_or(0) != 0) {
            errs.push(FieldError::forbidden(
                &path.child("ports").index(i).child("nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
    }
    errs.extend(validate_duplicate_ports(ports, &path));
    if spec.allocate_load_balancer_node_ports.is_some() && ty != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            &path.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    errs.extend(validate_traffic_policies(spec, &path));
    errs
}

fn validate_external_name(spec: &ServiceSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if !spec.cluster_ips.as_deref().unwrap_or_default().is_empty() {
        errs.push(FieldError::forbidden(&path.child("clusterIPs"), "may not be set for ExternalName services"));
    }
    if !spec.ip_families.as_deref().unwrap_or_default().is_empty() {
        errs.push(FieldError::forbidden(&path.child("ipFamilies"), "may not be set for ExternalName services"));
    }
    if spec.ip_family_policy.is_some() {
        errs.push(FieldError::forbidden(&path.child("ipFamilyPolicy"), "may not be set for ExternalName services"));
    }
    let cname = spec.external_name.as_deref().unwrap_or_default().trim_end_matches('.');
    if cname.is_empty() {
        errs.push(FieldError::required(&path.child("externalName"), ""));
    } else {
        for msg in names::dns1123_subdomain(cname) {
            errs.push(FieldError::invalid(&path.child("externalName"), cname, msg));
        }
    }
    errs
}

fn validate_cluster_ips(spec: &ServiceSpec, cluster_ips: &[String], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let first = &cluster_ips[0];
    if spec.cluster_ip.as_deref().unwrap_or_default() != first {
        errs.push(FieldError::invalid(
            &path.child("clusterIP"),
            spec.cluster_ip.clone().unwrap_or_default(),
            "must match first value in `clusterIPs`",
        ));
    }
    for (i, ip) in cluster_ips.iter().enumerate() {
        let headless_marker = i == 0 && ip == "None";
        if !headless_marker && ip.parse::<IpAddr>().is_err() {
            errs.push(FieldError::invalid(
                &path.child("clusterIPs").index(i),
                ip.as_str(),
                "must be a valid IP address",
            ));
        }
    }
    if first == "None" && cluster_ips.len() > 1 {
        errs.push(FieldError::invalid(
            &path.child("clusterIPs"),
            json!(cluster_ips),
            "'None' must be the first and only value",
        ));
    }
    errs
}

fn validate_duplicate_ports(ports: &[ServicePort], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut node_ports = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let protocol = p.protocol.clone().unwrap_or_default();
        if let Some(np) = p.node_port.filter(|np| *np != 0 && !node_ports.insert((protocol.clone(), *np))) {
            errs.push(FieldError::duplicate(&path.child("ports").index(i).child("nodePort"), np));
        }
        if !seen.insert((protocol.clone(), p.port)) {
            errs.push(FieldError::duplicate(
                &path.child("ports").index(i),
                json!({"protocol": protocol, "port": p.port}),
            ));
        }
    }
    errs
}

fn validate_traffic_policies(spec: &ServiceSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ty = svc_type(spec);
    let externally_accessible = ty == "NodePort" || ty == "LoadBalancer";
    let etp = spec.external_traffic_policy.as_deref().unwrap_or_default();
    if !externally_accessible && !etp.is_empty() && spec.external_ips.as_deref().unwrap_or_default().is_empty() {
        errs.push(FieldError::invalid(
            &path.child("externalTrafficPolicy"),
            etp,
            "may only be set for externally-accessible services",
        ));
    } else if externally_accessible && etp.is_empty() {
        errs.push(FieldError::required(&path.child("externalTrafficPolicy"), ""));
    } else if !etp.is_empty() && !TRAFFIC_POLICIES.contains(&etp) {
        errs.push(FieldError::not_supported(&path.child("externalTrafficPolicy"), etp, TRAFFIC_POLICIES));
    }
    let needs_health_check = ty == "LoadBalancer" && etp == "Local";
    let hcnp = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check && hcnp != 0 {
        errs.push(FieldError::invalid(
            &path.child("healthCheckNodePort"),
            hcnp,
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    } else if needs_health_check && hcnp == 0 {
        errs.push(FieldError::required(&path.child("healthCheckNodePort"), ""));
    } else if needs_health_check && !(1..=65535).contains(&hcnp) {
        errs.push(FieldError::invalid(&path.child("healthCheckNodePort"), hcnp, PORT_RANGE_MSG));
    }
    match spec.internal_traffic_policy.as_deref() {
        None if ["ClusterIP", "NodePort", "LoadBalancer"].contains(&ty) => {
            errs.push(FieldError::required(&path.child("internalTrafficPolicy"), ""));
        }
        Some(p) if !TRAFFIC_POLICIES.contains(&p) => {
            errs.push(FieldError::not_supported(&path.child("internalTrafficPolicy"), p, TRAFFIC_POLICIES));
        }
        _ => {}
    }
    errs
}

/// Upstream's `ValidateService`: metadata (names are DNS-1035 labels) and spec.
pub fn validate_service(svc: &Service) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&svc.metadata, true, names::dns1035_label);
    errs.extend(validate_spec(&svc.spec.clone().unwrap_or_default()));
    errs
}

/// Upstream's `ValidateServiceUpdate`: as for create, and allocated cluster IPs may not
/// change (except when switching to or from ExternalName).
pub fn validate_service_update(new: &Service, old: &Service) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1035_label);
    let new_spec = new.spec.clone().unwrap_or_default();
    let old_spec = old.spec.clone().unwrap_or_default();
    errs.extend(validate_spec(&new_spec));
    if svc_type(&new_spec) != "ExternalName" && svc_type(&old_spec) != "ExternalName" {
        let new_ips = new_spec.cluster_ips.clone().unwrap_or_default();
        for (i, ip) in old_spec.cluster_ips.iter().flatten().enumerate() {
            if !ip.is_empty() && new_ips.get(i).is_some_and(|n| n != ip) {
                errs.push(FieldError::invalid(
                    &FieldPath::new("spec").child("clusterIPs").index(i),
                    json!(new_ips),
                    "may not change once set",
                ));
            }
        }
    }
    errs
}
