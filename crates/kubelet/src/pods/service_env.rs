//! The service-link environment variables (`MY_NGINX_SERVICE_HOST`, `..._PORT_80_TCP`, ...),
//! as upstream's kubelet makes them from the Services that exist when a container starts:
//! every Service of the pod's namespace (unless `enableServiceLinks: false`) and always the
//! `kubernetes` Service of `default`.

use k8s_openapi::api::core::v1::Service;

/// The namespace of the `kubernetes` Service.
const MASTER_NAMESPACE: &str = "default";
const MASTER_SERVICE: &str = "kubernetes";

/// The variables for `services` (all the node knows of), for a pod in `namespace`.
pub fn service_env(services: &[Service], namespace: &str, enable_service_links: bool) -> Vec<(String, String)> {
    // By name; a Service of the pod's own namespace wins over the master of the same name.
    let mut chosen: std::collections::BTreeMap<&str, &Service> = std::collections::BTreeMap::new();
    for service in services.iter().filter(|s| has_cluster_ip(s)) {
        let ns = service.metadata.namespace.as_deref().unwrap_or_default();
        let name = service.metadata.name.as_deref().unwrap_or_default();
        if ns == namespace && (enable_service_links || ns == MASTER_NAMESPACE && name == MASTER_SERVICE) {
            chosen.insert(name, service);
        } else if ns == MASTER_NAMESPACE && name == MASTER_SERVICE {
            chosen.entry(name).or_insert(service);
        }
    }
    chosen.values().flat_map(|s| variables(s)).collect()
}

fn has_cluster_ip(service: &Service) -> bool {
    let ip = service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()).unwrap_or_default();
    !ip.is_empty() && ip != "None"
}

fn env_name(name: &str) -> String {
    name.to_uppercase().replace('-', "_")
}

/// The variables of one Service, in upstream's order.
fn variables(service: &Service) -> Vec<(String, String)> {
    let spec = service.spec.clone().unwrap_or_default();
    let ip = spec.cluster_ip.unwrap_or_default();
    let name = env_name(service.metadata.name.as_deref().unwrap_or_default());
    let ports = spec.ports.unwrap_or_default();
    let mut env = Vec::new();
    let Some(first) = ports.first() else { return env };
    env.push((format!("{name}_SERVICE_HOST"), ip.clone()));
    env.push((format!("{name}_SERVICE_PORT"), first.port.to_string()));
    for port in &ports {
        if let Some(port_name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            env.push((format!("{name}_SERVICE_PORT_{}", env_name(port_name)), port.port.to_string()));
        }
    }
    let protocol = |p: &k8s_openapi::api::core::v1::ServicePort| p.protocol.clone().unwrap_or_else(|| "TCP".into());
    let host = if ip.contains(':') { format!("[{ip}]") } else { ip.clone() };
    env.push((format!("{name}_PORT"), format!("{}://{host}:{}", protocol(first).to_lowercase(), first.port)));
    for port in &ports {
        let proto = protocol(port);
        let prefix = format!("{name}_PORT_{}_{}", port.port, proto.to_uppercase());
        env.push((prefix.clone(), format!("{}://{host}:{}", proto.to_lowercase(), port.port)));
        env.push((format!("{prefix}_PROTO"), proto.to_lowercase()));
        env.push((format!("{prefix}_PORT"), port.port.to_string()));
        env.push((format!("{prefix}_ADDR"), ip.clone()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(namespace: &str, name: &str, ip: &str, ports: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterIP": ip, "ports": ports}}))
        .unwrap()
    }

    fn kubernetes() -> Service {
        service("default", "kubernetes", "10.0.0.1", json!([{"name": "https", "port": 443, "protocol": "TCP"}]))
    }

    #[test]
    fn a_service_gives_upstreams_variables() {
        let nginx = service("web", "my-nginx", "10.0.0.20", json!([{"port": 80, "protocol": "TCP"}]));
        let env: std::collections::BTreeMap<String, String> =
            service_env(&[kubernetes(), nginx], "web", true).into_iter().collect();
        assert_eq!(env["MY_NGINX_SERVICE_HOST"], "10.0.0.20");
        assert_eq!(env["MY_NGINX_SERVICE_PORT"], "80");
        assert_eq!(env["MY_NGINX_PORT"], "tcp://10.0.0.20:80");
        assert_eq!(env["MY_NGINX_PORT_80_TCP"], "tcp://10.0.0.20:80");
        assert_eq!(env["MY_NGINX_PORT_80_TCP_PROTO"], "tcp");
        assert_eq!(env["MY_NGINX_PORT_80_TCP_PORT"], "80");
        assert_eq!(env["MY_NGINX_PORT_80_TCP_ADDR"], "10.0.0.20");
        assert_eq!(env["KUBERNETES_SERVICE_HOST"], "10.0.0.1");
        assert_eq!(env["KUBERNETES_SERVICE_PORT"], "443");
        assert_eq!(env["KUBERNETES_SERVICE_PORT_HTTPS"], "443");
        assert_eq!(env["KUBERNETES_PORT_443_TCP"], "tcp://10.0.0.1:443");
    }

    #[test]
    fn links_can_be_turned_off_and_other_namespaces_and_headless_services_never_show() {
        let services = [
            kubernetes(),
            service("web", "a", "10.0.0.2", json!([{"port": 1}])),
            service("other", "b", "10.0.0.3", json!([{"port": 1}])),
            service("web", "headless", "None", json!([{"port": 1}])),
        ];
        let names = |env: Vec<(String, String)>| -> Vec<String> {
            env.into_iter().map(|(k, _)| k).filter(|k| k.ends_with("_SERVICE_HOST")).collect()
        };
        assert_eq!(names(service_env(&services, "web", true)), ["A_SERVICE_HOST", "KUBERNETES_SERVICE_HOST"]);
        assert_eq!(names(service_env(&services, "web", false)), ["KUBERNETES_SERVICE_HOST"]);
    }
}
