//! networking.k8s.io/v1 Ingress: HTTP(S) routing from outside the cluster to Services.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names, service::port_name_errors};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::networking::v1::{HTTPIngressPath, Ingress, IngressBackend, IngressSpec, IngressStatus};
use std::net::IpAddr;

pub const DEF: ResourceDef = ResourceDef {
    group: "networking.k8s.io",
    version: "v1",
    kind: "Ingress",
    plural: "ingresses",
    singular: "ingress",
    short_names: &["ing"],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status],
    definition: "io.k8s.api.networking.v1.Ingress",
    strategy: &Typed(IngressStrategy),
};

pub struct IngressStrategy;

const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];
/// Hosts shown before ` + N more...`.
const SHOWN_HOSTS: usize = 3;

fn validate_backend(backend: &IngressBackend, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match (&backend.service, &backend.resource) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(path, "", "cannot set both service and resource backends")),
        (None, None) => errs.push(FieldError::invalid(path, "", "one backend (service or resource) must be specified")),
        (Some(svc), None) => {
            let p = path.child("service");
            errs.extend(
                names::dns1035_label(&svc.name)
                    .into_iter()
                    .map(|m| FieldError::invalid(&p.child("name"), svc.name.as_str(), m)),
            );
            let port = svc.port.clone().unwrap_or_default();
            match (port.name.as_deref().filter(|n| !n.is_empty()), port.number.filter(|n| *n != 0)) {
                (Some(_), Some(_)) => {
                    errs.push(FieldError::invalid(&p.child("port"), "", "cannot set both port name & port number"))
                }
                (Some(name), None) => errs.extend(
                    port_name_errors(name)
                        .into_iter()
                        .map(|m| FieldError::invalid(&p.child("port").child("name"), name, m)),
                ),
                (None, Some(n)) if !(1..=65535).contains(&n) => errs.push(FieldError::invalid(
                    &p.child("port").child("number"),
                    n,
                    crate::validation::service::PORT_RANGE_MSG,
                )),
                (None, Some(_)) => {}
                (None, None) => errs.push(FieldError::invalid(&p.child("port"), "", "port name or number is required")),
            }
        }
        (None, Some(_)) => {}
    }
    errs
}

fn validate_path(p: &HTTPIngressPath, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let value = p.path.as_deref().unwrap_or_default();
    if p.path_type.is_empty() {
        errs.push(FieldError::required(&path.child("pathType"), "pathType must be specified"));
    } else if !PATH_TYPES.contains(&p.path_type.as_str()) {
        errs.push(FieldError::not_supported(&path.child("pathType"), p.path_type.as_str(), PATH_TYPES));
    } else if p.path_type != "ImplementationSpecific" && !value.starts_with('/') {
        errs.push(FieldError::invalid(&path.child("path"), value, "must be an absolute path"));
    }
    errs.extend(validate_backend(&p.backend, &path.child("backend")));
    errs
}

fn validate_spec(spec: &IngressSpec) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let mut errs = Vec::new();
    let rules = spec.rules.as_deref().unwrap_or_default();
    if spec.default_backend.is_none() && rules.is_empty() {
        errs.push(FieldError::invalid(
            &path,
            serde_json::Value::Null,
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = &spec.default_backend {
        errs.extend(validate_backend(b, &path.child("defaultBackend")));
    }
    for (i, rule) in rules.iter().enumerate() {
        let rp = path.child("rules").index(i);
        if let Some(host) = rule.host.as_deref().filter(|h| !h.is_empty()) {
            if host.parse::<IpAddr>().is_ok() {
                errs.push(FieldError::invalid(&rp.child("host"), host, "must be a DNS name, not an IP address"));
            } else {
                let name = host.strip_prefix("*.").unwrap_or(host);
                errs.extend(
                    names::dns1123_subdomain(name).into_iter().map(|m| FieldError::invalid(&rp.child("host"), host, m)),
                );
            }
        }
        if let Some(http) = &rule.http {
            let pp = rp.child("http").child("paths");
            if http.paths.is_empty() {
                errs.push(FieldError::required(&pp, ""));
            }
            for (j, p) in http.paths.iter().enumerate() {
                errs.extend(validate_path(p, &pp.index(j)));
            }
        }
    }
    errs
}

fn hosts(spec: &IngressSpec) -> String {
    let rules = spec.rules.as_deref().unwrap_or_default();
    let list: Vec<&str> =
        rules.iter().take(SHOWN_HOSTS).filter_map(|r| r.host.as_deref()).filter(|h| !h.is_empty()).collect();
    if list.is_empty() {
        return "*".to_owned();
    }
    let shown = list.join(",");
    if rules.len() > SHOWN_HOSTS { format!("{shown} + {} more...", rules.len() - SHOWN_HOSTS) } else { shown }
}

fn address(ing: &Ingress) -> String {
    let mut addrs: Vec<String> = ing
        .status
        .iter()
        .flat_map(|s| s.load_balancer.iter())
        .flat_map(|lb| lb.ingress.iter().flatten())
        .filter_map(|i| i.ip.clone().filter(|ip| !ip.is_empty()).or_else(|| i.hostname.clone()))
        .filter(|a| !a.is_empty())
        .collect();
    addrs.sort();
    addrs.dedup();
    addrs.join(",")
}

impl TypedStrategy for IngressStrategy {
    type Object = Ingress;
    const GENERATION: bool = true;

    /// Upstream's PrepareForCreate resets the status; Go writes its load-balancer part out
    /// as `status: {loadBalancer: {}}`.
    fn prepare_for_create(&self, ing: &mut Ingress) {
        ing.status = Some(IngressStatus { load_balancer: Some(Default::default()) });
    }

    fn validate(&self, ing: &Ingress) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&ing.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&ing.spec.clone().unwrap_or_default()));
        errs
    }

    fn validate_update(&self, new: &Ingress, old: &Ingress) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&new.spec.clone().unwrap_or_default()));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new(
                "Class",
                "string",
                "The name of the IngressClass resource that should be used for additional configuration",
            ),
            Column::new("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
            Column::new("Address", "string", "Address is a list containing ingress points for the load-balancer"),
            Column::new("Ports", "string", "Ports of TLS configurations that open"),
            Column::AGE,
        ]
    }

    fn cells(&self, ing: &Ingress) -> Vec<Cell> {
        let spec = ing.spec.clone().unwrap_or_default();
        let ports = if spec.tls.as_deref().unwrap_or_default().is_empty() { "80" } else { "80, 443" };
        vec![
            table::name(&ing.metadata),
            spec.ingress_class_name.clone().unwrap_or("<none>".into()).into(),
            hosts(&spec).into(),
            address(ing).into(),
            ports.into(),
            table::age(&ing.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_and_path_type() {
        let v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {
                "ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
                "rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]
            }}))
            .unwrap()
            .object;
        assert!(DEF.strategy.validate(&v).is_empty(), "{:?}", DEF.strategy.validate(&v));
        let cells = DEF.strategy.cells(&v);
        assert_eq!(&cells[1..5], &[json!("nginx"), json!("a.example.com"), json!(""), json!("80, 443")]);
        let mut bad = v.clone();
        bad["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = json!("");
        let msgs: Vec<String> = DEF.strategy.validate(&bad).iter().map(ToString::to_string).collect();
        assert_eq!(msgs, vec!["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"]);
    }
}
