//! core/v1 Service: a stable virtual IP (or DNS alias) in front of a set of pods.

use super::shared::default_str;
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::service as validate;
use crate::{FieldError, ResourceDef, Subresource};
use k8s_openapi::api::core::v1::{ClientIPConfig, Service, ServiceSpec, ServiceStatus, SessionAffinityConfig};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "Service",
    plural: "services",
    singular: "service",
    short_names: &["svc"],
    categories: &["all"],
    namespaced: true,
    verbs: crate::ALL_VERBS,
    subresources: &[Subresource::Status, Subresource::Proxy],
    definition: "io.k8s.api.core.v1.Service",
    strategy: &Typed(ServiceStrategy),
};

pub struct ServiceStrategy;

/// Upstream's default ClientIP affinity timeout (3 hours).
const DEFAULT_CLIENT_IP_TIMEOUT: i32 = 10800;

fn is_external(ty: &str) -> bool {
    ty == "NodePort" || ty == "LoadBalancer"
}

/// `SetDefaults_Service`, plus the cluster-IP and IP-family normalisation the service REST
/// layer does before allocation.
fn default_spec(spec: &mut ServiceSpec) {
    default_str(&mut spec.session_affinity, "None");
    match spec.session_affinity.as_deref() {
        Some("None") => spec.session_affinity_config = None,
        Some("ClientIP") => {
            let timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds);
            if timeout.is_none() {
                spec.session_affinity_config = Some(SessionAffinityConfig {
                    client_ip: Some(ClientIPConfig { timeout_seconds: Some(DEFAULT_CLIENT_IP_TIMEOUT) }),
                });
            }
        }
        _ => {}
    }
    default_str(&mut spec.type_, "ClusterIP");
    for port in spec.ports.iter_mut().flatten() {
        default_str(&mut port.protocol, "TCP");
        let unset = match &port.target_port {
            None => true,
            Some(IntOrString::Int(n)) => *n == 0,
            Some(IntOrString::String(s)) => s.is_empty(),
        };
        if unset {
            port.target_port = Some(IntOrString::Int(port.port));
        }
    }
    let ty = spec.type_.clone().unwrap_or_default();
    if is_external(&ty) {
        default_str(&mut spec.external_traffic_policy, "Cluster");
    }
    if spec.internal_traffic_policy.is_none() && (is_external(&ty) || ty == "ClusterIP") {
        spec.internal_traffic_policy = Some("Cluster".to_owned());
    }
    if ty == "LoadBalancer" && spec.allocate_load_balancer_node_ports.is_none() {
        spec.allocate_load_balancer_node_ports = Some(true);
    }
    if ty == "ExternalName" {
        return;
    }
    let cluster_ip = spec.cluster_ip.clone().unwrap_or_default();
    let cluster_ips = spec.cluster_ips.get_or_insert_with(Vec::new);
    if cluster_ips.is_empty() && !cluster_ip.is_empty() {
        cluster_ips.push(cluster_ip.clone());
    }
    if cluster_ip.is_empty() {
        spec.cluster_ip = cluster_ips.first().cloned();
    }
    if cluster_ips.is_empty() {
        spec.cluster_ips = None;
    }
    if !validate::is_headless(spec) || spec.selector.as_ref().is_some_and(|s| !s.is_empty()) {
        default_str(&mut spec.ip_family_policy, "SingleStack");
    }
    if spec.ip_families.as_deref().unwrap_or_default().is_empty() && spec.ip_family_policy.is_some() {
        let primary_v6 = spec.cluster_ip.as_deref().is_some_and(|ip| ip.contains(':'));
        spec.ip_families = Some(vec![if primary_v6 { "IPv6" } else { "IPv4" }.to_owned()]);
    }
}

/// Upstream's `dropTypeDependentFields`: fields the old type needed and the user left
/// unchanged are dropped when the type changes to one that does not use them.
fn drop_type_dependent_fields(new: &mut ServiceSpec, old: &ServiceSpec) {
    let ty = new.type_.clone().unwrap_or_default();
    if new.type_ == old.type_ {
        return;
    }
    if ty == "ExternalName" && new.cluster_ip == old.cluster_ip && new.cluster_ips == old.cluster_ips {
        new.cluster_ip = None;
        new.cluster_ips = None;
        new.ip_families = None;
        new.ip_family_policy = None;
    }
    if !is_external(&ty) {
        let old_ports = old.ports.clone().unwrap_or_default();
        for port in new.ports.iter_mut().flatten() {
            let unchanged = old_ports.iter().any(|o| o.port == port.port && o.node_port == port.node_port);
            if unchanged {
                port.node_port = None;
            }
        }
        if new.external_traffic_policy == old.external_traffic_policy {
            new.external_traffic_policy = None;
        }
    }
    if ty != "LoadBalancer" {
        if new.health_check_node_port == old.health_check_node_port {
            new.health_check_node_port = None;
        }
        if new.allocate_load_balancer_node_ports == old.allocate_load_balancer_node_ports {
            new.allocate_load_balancer_node_ports = None;
        }
        if new.load_balancer_class == old.load_balancer_class {
            new.load_balancer_class = None;
        }
    }
}

/// The External-IP cell: external IPs, load-balancer ingress, `<pending>`, or the DNS name.
fn external_ip(svc: &Service) -> String {
    let spec = svc.spec.clone().unwrap_or_default();
    let external_ips = spec.external_ips.unwrap_or_default();
    match spec.type_.as_deref().unwrap_or_default() {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_owned(),
        "LoadBalancer" => {
            let mut lb: Vec<String> = svc
                .status
                .iter()
                .flat_map(|s| s.load_balancer.iter())
                .flat_map(|lb| lb.ingress.iter().flatten())
                .filter_map(|i| i.ip.clone().filter(|ip| !ip.is_empty()).or_else(|| i.hostname.clone()))
                .filter(|s| !s.is_empty())
                .collect();
            lb.sort();
            lb.dedup();
            lb.extend(external_ips);
            if lb.is_empty() { "<pending>".to_owned() } else { lb.join(",") }
        }
        "ExternalName" => spec.external_name.unwrap_or_default(),
        _ => "<unknown>".to_owned(),
    }
}

/// The Port(s) cell: `80/TCP`, `80:30080/TCP,443:31443/TCP`, or `<none>`.
fn ports(spec: &ServiceSpec) -> String {
    let parts: Vec<String> = spec
        .ports
        .iter()
        .flatten()
        .map(|p| {
            let protocol = p.protocol.as_deref().unwrap_or_default();
            match p.node_port.filter(|n| *n > 0) {
                Some(np) => format!("{}:{np}/{protocol}", p.port),
                None => format!("{}/{protocol}", p.port),
            }
        })
        .collect();
    if parts.is_empty() { "<none>".to_owned() } else { parts.join(",") }
}

impl TypedStrategy for ServiceStrategy {
    type Object = Service;
    const FIELD_SELECTORS: &'static [&'static str] = &["spec.clusterIP", "spec.type"];

    /// Upstream's PrepareForCreate resets the status; Go writes its load-balancer part out
    /// as `status: {loadBalancer: {}}`.
    fn prepare_for_create(&self, svc: &mut Service) {
        svc.status = Some(ServiceStatus { load_balancer: Some(Default::default()), ..Default::default() });
    }

    fn default(&self, svc: &mut Service) {
        default_spec(svc.spec.get_or_insert_with(Default::default));
    }

    fn selectable_fields(&self, svc: &Service) -> Vec<(&'static str, String)> {
        let spec = svc.spec.clone().unwrap_or_default();
        vec![("spec.clusterIP", spec.cluster_ip.unwrap_or_default()), ("spec.type", spec.type_.unwrap_or_default())]
    }

    fn prepare_for_update(&self, new: &mut Service, old: &Service) {
        let old_spec = old.spec.clone().unwrap_or_default();
        drop_type_dependent_fields(new.spec.get_or_insert_with(Default::default), &old_spec);
        // Load-balancer de-provisioning is asynchronous, but upstream hides that: a
        // Service that is no longer a LoadBalancer reports no ingress at once.
        let is_load_balancer = new.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
        if let Some(lb) = new.status.as_mut().and_then(|s| s.load_balancer.as_mut()).filter(|_| !is_load_balancer) {
            *lb = Default::default();
        }
    }

    fn validate(&self, svc: &Service) -> Vec<FieldError> {
        validate::validate_service(svc)
    }

    fn validate_update(&self, new: &Service, old: &Service) -> Vec<FieldError> {
        validate::validate_service_update(new, old)
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Type", "string", "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types"),
            Column::new("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
            Column::new("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system."),
            Column::new("Port(s)", "string", "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
            Column::AGE,
            Column::new("Selector", "string", "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/").wide(),
        ]
    }

    fn cells(&self, svc: &Service) -> Vec<Cell> {
        let spec = svc.spec.clone().unwrap_or_default();
        let cluster_ip = spec.cluster_ips.as_ref().and_then(|ips| ips.first()).cloned().unwrap_or("<none>".into());
        vec![
            table::name(&svc.metadata),
            spec.type_.clone().unwrap_or_default().into(),
            cluster_ip.into(),
            external_ip(svc).into(),
            ports(&spec).into(),
            table::age(&svc.metadata),
            table::map_selector(spec.selector.iter().flatten()).into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaulted(obj: serde_json::Value) -> serde_json::Value {
        let mut v = DEF.strategy.decode(obj).unwrap().object;
        DEF.strategy.default(&mut v);
        v
    }

    #[test]
    fn defaults_cluster_ip_service() {
        let v = defaulted(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "my-nginx", "namespace": "default"},
            "spec": {"selector": {"run": "my-nginx"}, "ports": [{"port": 80}]}
        }));
        let spec = &v["spec"];
        assert_eq!(spec["type"], "ClusterIP");
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["ports"][0]["protocol"], "TCP");
        assert_eq!(spec["ports"][0]["targetPort"], 80);
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
        assert!(spec.get("externalTrafficPolicy").is_none());
    }

    #[test]
    fn selectable_by_cluster_ip_and_type() {
        let mut v =
            defaulted(json!({"metadata": {"name": "h"}, "spec": {"clusterIP": "None", "selector": {"a": "b"}}}));
        DEF.strategy.prepare_for_create(&mut v);
        let fields = DEF.strategy.selectable_fields(&v);
        assert_eq!(fields, vec![("spec.clusterIP", "None".to_owned()), ("spec.type", "ClusterIP".to_owned())]);
        assert_eq!(DEF.strategy.field_selectors(), ["spec.clusterIP", "spec.type"]);
    }

    #[test]
    fn created_with_an_empty_load_balancer_status() {
        let mut svc = defaulted(json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}));
        DEF.strategy.prepare_for_create(&mut svc);
        assert_eq!(svc["status"], json!({"loadBalancer": {}}));
    }

    #[test]
    fn leaving_load_balancer_clears_its_ingress() {
        let old =
            defaulted(json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}));
        let mut new = old.clone();
        new["spec"]["type"] = json!("ClusterIP");
        DEF.strategy.prepare_for_update(&mut new, &old);
        assert_eq!(new["status"], json!({"loadBalancer": {}}));
        let mut same = old.clone();
        DEF.strategy.prepare_for_update(&mut same, &old);
        assert_eq!(same["status"], old["status"]);
    }

    #[test]
    fn defaults_load_balancer_service() {
        let v = defaulted(json!({
            "metadata": {"name": "lb", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 443, "targetPort": "https"}]}
        }));
        assert_eq!(v["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(v["spec"]["allocateLoadBalancerNodePorts"], true);
        assert_eq!(v["spec"]["ports"][0]["targetPort"], "https");
    }

    #[test]
    fn node_port_cells() {
        let mut v = defaulted(json!({
            "metadata": {"name": "my-nginx", "namespace": "default"},
            "spec": {"type": "NodePort", "clusterIP": "10.0.0.12", "selector": {"run": "my-nginx"}, "ports": [
                {"name": "http", "port": 8080, "targetPort": 80, "nodePort": 30080},
                {"name": "https", "port": 443, "nodePort": 31443}
            ]}
        }));
        DEF.strategy.prepare_for_create(&mut v);
        assert!(DEF.strategy.validate(&v).is_empty(), "{:?}", DEF.strategy.validate(&v));
        let cells = DEF.strategy.cells(&v);
        assert_eq!(cells.len(), DEF.strategy.columns().len());
        assert_eq!(cells[1], "NodePort");
        assert_eq!(cells[2], "10.0.0.12");
        assert_eq!(cells[3], "<none>");
        assert_eq!(cells[4], "8080:30080/TCP,443:31443/TCP");
        assert_eq!(cells[6], "run=my-nginx");
    }

    #[test]
    fn load_balancer_without_ingress_is_pending() {
        let v = defaulted(json!({
            "metadata": {"name": "lb", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}
        }));
        assert_eq!(DEF.strategy.cells(&v)[3], "<pending>");
    }

    #[test]
    fn validation_messages() {
        let v = defaulted(json!({
            "metadata": {"name": "1bad", "namespace": "default"},
            "spec": {"ports": [{"port": 80}, {"port": 443}]}
        }));
        let msgs: Vec<String> = DEF.strategy.validate(&v).iter().map(ToString::to_string).collect();
        assert!(msgs[0].starts_with("metadata.name: Invalid value: \"1bad\": a DNS-1035 label must consist of"));
        assert!(msgs.contains(&"spec.ports[0].name: Required value".to_owned()), "{msgs:?}");
        assert!(msgs.contains(&"spec.ports[1].name: Required value".to_owned()), "{msgs:?}");

        let v = defaulted(json!({"metadata": {"name": "x", "namespace": "default"}, "spec": {}}));
        let msgs: Vec<String> = DEF.strategy.validate(&v).iter().map(ToString::to_string).collect();
        assert_eq!(msgs, vec!["spec.ports: Required value"]);

        let v = defaulted(json!({"metadata": {"name": "x", "namespace": "default"},
            "spec": {"type": "Bogus", "ports": [{"port": 70000}]}}));
        let msgs: Vec<String> = DEF.strategy.validate(&v).iter().map(ToString::to_string).collect();
        assert!(
            msgs.contains(&"spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive".into())
        );
        assert!(msgs.contains(
            &"spec.type: Unsupported value: \"Bogus\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"".into()
        ));
    }

    #[test]
    fn cluster_ip_may_not_change() {
        let old = defaulted(json!({"metadata": {"name": "x", "namespace": "default"},
            "spec": {"clusterIP": "10.0.0.5", "ports": [{"port": 80}]}}));
        let mut new = old.clone();
        new["spec"]["clusterIP"] = json!("10.0.0.6");
        new["spec"]["clusterIPs"] = json!(["10.0.0.6"]);
        let msgs: Vec<String> = DEF.strategy.validate_update(&new, &old).iter().map(ToString::to_string).collect();
        assert_eq!(msgs, vec!["spec.clusterIPs[0]: Invalid value: [\"10.0.0.6\"]: may not change once set"]);
    }

    #[test]
    fn external_name_service() {
        let v = defaulted(json!({"metadata": {"name": "db", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "db.example.com"}}));
        assert!(DEF.strategy.validate(&v).is_empty(), "{:?}", DEF.strategy.validate(&v));
        assert_eq!(DEF.strategy.cells(&v)[3], "db.example.com");
        assert_eq!(DEF.strategy.cells(&v)[2], "<none>");
    }
}
