//! A pod's sandbox as CRI describes it: its name and labels (which also let a restarted
//! agent find it), hostname, log directory, DNS (`dnsPolicy`), host ports, and which
//! namespaces it shares with the node.

use crate::paths::Paths;
use k8s_cri::v1::{
    DnsConfig, LinuxPodSandboxConfig, LinuxSandboxSecurityContext, NamespaceOption, PodSandboxConfig,
    PodSandboxMetadata, PortMapping,
};
use k8s_openapi::api::core::v1::Pod;
use std::collections::HashMap;

/// Labels Krust puts on every sandbox and container it creates, as upstream's kubelet does.
pub const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
pub const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME_LABEL: &str = "io.kubernetes.container.name";

/// CRI's namespace modes.
pub const NAMESPACE_POD: i32 = 0;
pub const NAMESPACE_CONTAINER: i32 = 1;
pub const NAMESPACE_NODE: i32 = 2;
pub const NAMESPACE_TARGET: i32 = 3;

/// The cluster's DNS, for `dnsPolicy: ClusterFirst`.
#[derive(Clone, Debug)]
pub struct ClusterDns {
    pub server: String,
    pub domain: String,
}

/// The identifying labels of `pod`'s sandbox and containers.
pub fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    let meta = &pod.metadata;
    HashMap::from([
        (POD_NAME_LABEL.to_owned(), meta.name.clone().unwrap_or_default()),
        (POD_NAMESPACE_LABEL.to_owned(), meta.namespace.clone().unwrap_or_default()),
        (POD_UID_LABEL.to_owned(), meta.uid.clone().unwrap_or_default()),
    ])
}

/// The sandbox configuration of `pod` (attempt `attempt`).
pub fn sandbox_config(pod: &Pod, paths: &Paths, dns: &ClusterDns, attempt: u32) -> PodSandboxConfig {
    let meta = &pod.metadata;
    let spec = pod.spec.clone().unwrap_or_default();
    let (name, namespace, uid) = (
        meta.name.clone().unwrap_or_default(),
        meta.namespace.clone().unwrap_or_default(),
        meta.uid.clone().unwrap_or_default(),
    );
    let mut labels: HashMap<String, String> = meta.labels.clone().unwrap_or_default().into_iter().collect();
    labels.extend(pod_labels(pod));
    let port_mappings = spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.unwrap_or(0) > 0)
        .map(|p| PortMapping {
            protocol: match p.protocol.as_deref() {
                Some("UDP") => 1,
                Some("SCTP") => 2,
                _ => 0,
            },
            container_port: p.container_port,
            host_port: p.host_port.unwrap_or(0),
            host_ip: p.host_ip.clone().unwrap_or_default(),
        })
        .collect();
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: name.clone(),
            uid: uid.clone(),
            namespace: namespace.clone(),
            attempt,
        }),
        hostname: hostname(pod),
        log_directory: paths.pod_logs(&namespace, &name, &uid).to_string_lossy().into_owned(),
        dns_config: dns_config(pod, dns),
        port_mappings,
        labels,
        annotations: meta.annotations.clone().unwrap_or_default().into_iter().collect(),
        linux: Some(LinuxPodSandboxConfig {
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(namespace_options(pod)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Which namespaces the pod shares with the node (hostNetwork, hostPID, hostIPC) and
/// whether its containers share one PID namespace (`shareProcessNamespace`).
pub fn namespace_options(pod: &Pod) -> NamespaceOption {
    let spec = pod.spec.clone().unwrap_or_default();
    let host = |on: Option<bool>, otherwise: i32| if on == Some(true) { NAMESPACE_NODE } else { otherwise };
    let pid_default = if spec.share_process_namespace == Some(true) { NAMESPACE_POD } else { NAMESPACE_CONTAINER };
    NamespaceOption {
        network: host(spec.host_network, NAMESPACE_POD),
        pid: host(spec.host_pid, pid_default),
        ipc: host(spec.host_ipc, NAMESPACE_POD),
        ..Default::default()
    }
}

/// The pod's hostname: `spec.hostname`, else its name, cut to 63 characters.
pub fn hostname(pod: &Pod) -> String {
    let spec = pod.spec.clone().unwrap_or_default();
    if spec.host_network == Some(true) {
        return String::new();
    }
    let name = spec.hostname.unwrap_or_else(|| pod.metadata.name.clone().unwrap_or_default());
    name.chars().take(63).collect::<String>().trim_end_matches(['-', '.']).to_owned()
}

/// `/etc/resolv.conf` as `dnsPolicy` asks: `ClusterFirst` uses the cluster DNS with the
/// namespace's search path and `ndots:5`; `Default` (and ClusterFirst with hostNetwork)
/// inherits the node's (`None` here lets the runtime copy it); `None` only `dnsConfig`.
pub fn dns_config(pod: &Pod, dns: &ClusterDns) -> Option<DnsConfig> {
    let spec = pod.spec.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let host_network = spec.host_network == Some(true);
    let mut config = match policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" if policy == "ClusterFirstWithHostNet" || !host_network => {
            DnsConfig {
                servers: vec![dns.server.clone()],
                searches: vec![
                    format!("{namespace}.svc.{}", dns.domain),
                    format!("svc.{}", dns.domain),
                    dns.domain.clone(),
                ],
                options: vec!["ndots:5".to_owned()],
            }
        }
        "None" => DnsConfig::default(),
        _ => {
            spec.dns_config.as_ref()?;
            host_resolv_conf()
        }
    };
    if let Some(extra) = spec.dns_config {
        config.servers.extend(extra.nameservers.into_iter().flatten());
        config.searches.extend(extra.searches.into_iter().flatten());
        for option in extra.options.into_iter().flatten() {
            let text = match option.value {
                Some(value) => format!("{}:{value}", option.name.unwrap_or_default()),
                None => option.name.unwrap_or_default(),
            };
            let key = text.split(':').next().unwrap_or_default().to_owned();
            config.options.retain(|o| o.split(':').next() != Some(key.as_str()));
            config.options.push(text);
        }
    }
    Some(config)
}

/// The node's own resolver settings.
fn host_resolv_conf() -> DnsConfig {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut config = DnsConfig::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => config.servers.extend(words.next().map(str::to_owned)),
            Some("search") => config.searches.extend(words.map(str::to_owned)),
            Some("options") => config.options.extend(words.map(str::to_owned)),
            _ => {}
        }
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "web-1", "namespace": "shop", "uid": "u"}, "spec": spec}))
            .unwrap()
    }

    fn dns() -> ClusterDns {
        ClusterDns { server: "10.0.0.10".into(), domain: "cluster.local".into() }
    }

    #[test]
    fn cluster_first_uses_the_cluster_dns_and_namespace_search_path() {
        let config = dns_config(&pod(json!({"containers": []})), &dns()).unwrap();
        assert_eq!(config.servers, ["10.0.0.10"]);
        assert_eq!(config.searches, ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
        assert_eq!(config.options, ["ndots:5"]);
    }

    #[test]
    fn none_takes_only_dns_config_and_options_replace_by_name() {
        let none = pod(json!({"containers": [], "dnsPolicy": "None",
            "dnsConfig": {"nameservers": ["1.2.3.4"], "options": [{"name": "ndots", "value": "2"}]}}));
        let config = dns_config(&none, &dns()).unwrap();
        assert_eq!(config.servers, ["1.2.3.4"]);
        assert_eq!(config.options, ["ndots:2"]);
        let replaced = pod(json!({"containers": [], "dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}}));
        assert_eq!(dns_config(&replaced, &dns()).unwrap().options, ["ndots:1"]);
    }

    #[test]
    fn host_network_pods_share_the_nodes_namespaces_and_resolver() {
        let host = pod(json!({"containers": [], "hostNetwork": true}));
        assert_eq!(namespace_options(&host).network, NAMESPACE_NODE);
        assert!(dns_config(&host, &dns()).is_none());
        assert_eq!(hostname(&host), "");
        assert_eq!(namespace_options(&pod(json!({"containers": []}))).pid, NAMESPACE_CONTAINER);
    }
}
