//! The `/etc/hosts` the kubelet manages for each pod (not for pods on the node's network):
//! the loopback names, the pod's own IP with its hostname (and FQDN when it has a
//! subdomain), then `hostAliases`.

use k8s_openapi::api::core::v1::Pod;

/// The file's content for `pod` at `pod_ips`, in `cluster_domain`.
pub fn etc_hosts(pod: &Pod, pod_ips: &[String], cluster_domain: &str) -> String {
    let spec = pod.spec.clone().unwrap_or_default();
    let hostname = super::sandbox::hostname(pod);
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    let names = match spec.subdomain.as_deref().filter(|s| !s.is_empty()) {
        Some(subdomain) => {
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            format!("{hostname}.{subdomain}.{namespace}.svc.{cluster_domain}\t{hostname}")
        }
        None => hostname,
    };
    for ip in pod_ips {
        out.push_str(&format!("{ip}\t{names}\n"));
    }
    let aliases = spec.host_aliases.unwrap_or_default();
    if !aliases.is_empty() {
        out.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            out.push_str(&format!("{}\t{}\n", alias.ip, alias.hostnames.unwrap_or_default().join("\t")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_pod_ip_names_the_pod_and_aliases_follow() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "shop"},
            "spec": {"containers": [], "subdomain": "web", "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["a", "b"]}]},
        }))
        .unwrap();
        let hosts = etc_hosts(&pod, &["10.244.0.7".to_owned()], "cluster.local");
        assert!(hosts.contains("10.244.0.7\tweb-0.web.shop.svc.cluster.local\tweb-0\n"));
        assert!(hosts.ends_with("# Entries added by HostAliases.\n1.2.3.4\ta\tb\n"));
    }
}
