//! Service endpoints and node IPAM end to end with the real kubectl: an exposed Deployment's
//! Endpoints and EndpointSlice list its running pods' IPs and follow a scale-up, and every
//! node gets a pod range from 10.244.0.0/16 that its pods' IPs come from.

mod support;

use std::net::Ipv4Addr;
use support::{Cluster, eventually, manifest};

fn cluster() -> Cluster {
    let cluster = Cluster::start_with(&["--simulated-nodes", "3"]);
    eventually(30, || {
        let nodes = cluster.ok(&["get", "nodes", "--no-headers"]);
        (nodes.lines().filter(|l| l.split_whitespace().nth(1) == Some("Ready")).count() == 3).then_some(())
    });
    cluster
}

/// The IPs of the Running `my-nginx` pods once there are `n`.
fn running_pod_ips(cluster: &Cluster, n: usize) -> Vec<String> {
    eventually(60, || {
        let out = cluster.ok(&["get", "pods", "-l", "run=my-nginx", "-o", "wide", "--no-headers"]);
        let ips: Vec<String> = out
            .lines()
            .filter(|l| l.split_whitespace().nth(2) == Some("Running"))
            .filter_map(|l| l.split_whitespace().nth(5).map(str::to_owned))
            .filter(|ip| ip.parse::<Ipv4Addr>().is_ok())
            .collect();
        (ips.len() == n && out.lines().count() == n).then_some(ips)
    })
}

/// Wait until the Endpoints and the one slice of `my-nginx` list exactly `ips` on port 80.
fn endpoints_follow(cluster: &Cluster, ips: &[String]) {
    let mut sorted = ips.to_vec();
    sorted.sort();
    let expected: Vec<String> = sorted.iter().map(|ip| format!("{ip}:80")).collect();
    eventually(30, || {
        let ep = cluster.kubectl(&["get", "ep", "my-nginx", "--no-headers"]).stdout;
        let listed: Vec<String> = ep.split_whitespace().nth(1)?.split(',').map(str::to_owned).collect();
        let mut listed_sorted = listed.clone();
        listed_sorted.sort();
        (listed_sorted == expected || (expected.len() > 3 && ep.contains("more..."))).then_some(())
    });
    let json = cluster.ok(&["get", "ep", "my-nginx", "-o", "jsonpath={.subsets[*].addresses[*].ip}"]);
    let mut addresses: Vec<&str> = json.split_whitespace().collect();
    addresses.sort();
    assert_eq!(addresses, sorted.iter().map(String::as_str).collect::<Vec<_>>());
    eventually(30, || {
        let slices =
            cluster.ok(&["get", "endpointslices", "-l", "kubernetes.io/service-name=my-nginx", "--no-headers"]);
        let lines: Vec<&str> = slices.lines().collect();
        let [line] = lines[..] else { return None };
        let columns: Vec<&str> = line.split_whitespace().collect();
        (columns[1] == "IPv4" && columns[2] == "80" && columns[3].split(',').count() == ips.len().min(3)).then_some(())
    });
    let addresses = cluster.ok(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=my-nginx",
        "-o",
        "jsonpath={.items[0].endpoints[*].addresses[0]}",
    ]);
    let mut in_slice: Vec<&str> = addresses.split_whitespace().collect();
    in_slice.sort();
    assert_eq!(in_slice, sorted.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn an_exposed_deployment_has_endpoints_and_a_slice_that_follow_its_pods() {
    let cluster = cluster();
    cluster.ok(&["apply", "-f", manifest("run-my-nginx.yaml").to_str().unwrap()]);
    let ips = running_pod_ips(&cluster, 2);
    cluster.ok(&["expose", "deployment/my-nginx"]);
    endpoints_follow(&cluster, &ips);

    let describe = cluster.ok(&["describe", "svc", "my-nginx"]);
    let line = describe.lines().find(|l| l.starts_with("Endpoints:")).expect("an Endpoints line");
    let mut listed: Vec<&str> = line.trim_start_matches("Endpoints:").trim().split(',').collect();
    listed.sort();
    let mut expected: Vec<String> = ips.iter().map(|ip| format!("{ip}:80")).collect();
    expected.sort();
    assert_eq!(listed, expected, "{describe}");

    let slice = cluster.ok(&["get", "endpointslices", "-l", "kubernetes.io/service-name=my-nginx", "-o", "json"]);
    let slice: serde_json::Value = serde_json::from_str(&slice).unwrap();
    let slice = &slice["items"][0];
    assert!(slice["metadata"]["name"].as_str().unwrap().starts_with("my-nginx-"), "{slice}");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    let endpoint = &slice["endpoints"][0];
    assert_eq!(endpoint["conditions"]["ready"], true, "{endpoint}");
    assert_eq!(endpoint["targetRef"]["kind"], "Pod");
    assert!(endpoint["nodeName"].as_str().unwrap().starts_with("sim-node-"));

    cluster.ok(&["scale", "deployment/my-nginx", "--replicas=3"]);
    let ips = running_pod_ips(&cluster, 3);
    endpoints_follow(&cluster, &ips);
}

#[test]
fn nodes_get_pod_ranges_and_pods_take_addresses_from_them() {
    let cluster = cluster();
    let ranges = eventually(30, || {
        let out = cluster.ok(&[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.spec.podCIDR} {.spec.podCIDRs[0]}{\"\\n\"}{end}",
        ]);
        let ranges: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
                [name, cidr, first] if cidr == first => Some((name.to_owned(), cidr.to_owned())),
                _ => None,
            })
            .collect();
        (ranges.len() == 3).then_some(ranges)
    });
    let mut cidrs: Vec<&str> = ranges.iter().map(|(_, c)| c.as_str()).collect();
    cidrs.sort();
    cidrs.dedup();
    assert_eq!(cidrs.len(), 3, "distinct ranges: {ranges:?}");
    for cidr in &cidrs {
        let third: u8 = cidr.strip_prefix("10.244.").and_then(|r| r.strip_suffix(".0/24")).unwrap().parse().unwrap();
        assert!(third < 3, "the lowest free ranges: {cidr}");
    }

    cluster.ok(&["apply", "-f", manifest("run-my-nginx.yaml").to_str().unwrap()]);
    cluster.ok(&["scale", "deployment/my-nginx", "--replicas=6"]);
    running_pod_ips(&cluster, 6);
    let pods = cluster.ok(&[
        "get",
        "pods",
        "-l",
        "run=my-nginx",
        "-o",
        "jsonpath={range .items[*]}{.spec.nodeName} {.status.podIP}{\"\\n\"}{end}",
    ]);
    for line in pods.lines() {
        let (node, ip) = line.split_once(' ').unwrap();
        let cidr = &ranges.iter().find(|(n, _)| n == node).unwrap().1;
        let prefix = cidr.trim_end_matches("0/24");
        assert!(ip.starts_with(prefix), "pod {ip} on {node} outside {cidr}");
    }
}
