//! The scheduler and the simulated nodes, end to end with the real kubectl: nodes register
//! Ready, pods are placed and run with an address, pods nothing fits stay Pending with
//! upstream's explanation, and a Service's pods spread across nodes.

mod support;

use support::{Cluster, eventually};

fn cluster() -> Cluster {
    let cluster = Cluster::start_with(&["--simulated-nodes", "3"]);
    eventually(30, || {
        let nodes = cluster.ok(&["get", "nodes", "--no-headers"]);
        (nodes.lines().filter(|l| l.split_whitespace().nth(1) == Some("Ready")).count() == 3).then_some(())
    });
    cluster
}

fn pod_manifest(name: &str, labels: &str, cpu: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {labels}\nspec:\n  containers:\n  - name: app\n    \
         image: nginx\n    resources:\n      requests:\n        cpu: \"{cpu}\"\n"
    )
}

#[test]
fn simulated_nodes_register_ready_with_leases() {
    let cluster = cluster();
    let wide = cluster.ok(&["get", "nodes", "-o", "wide"]);
    for (name, ip) in [("sim-node-1", "10.99.0.1"), ("sim-node-2", "10.99.0.2"), ("sim-node-3", "10.99.0.3")] {
        let line = wide.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in\n{wide}"));
        assert!(line.contains("Ready") && line.contains(ip), "{line}");
    }
    let capacity = cluster.ok(&["get", "node", "sim-node-1", "-o", "jsonpath={.status.capacity}"]);
    assert!(capacity.contains(r#""cpu":"8""#) && capacity.contains(r#""memory":"32Gi""#), "{capacity}");
    let labels = cluster.ok(&["get", "node", "sim-node-2", "--show-labels", "--no-headers"]);
    assert!(labels.contains("kubernetes.io/hostname=sim-node-2") && labels.contains("kubernetes.io/os=linux"));
    let leases = eventually(20, || {
        let leases = cluster.ok(&["get", "leases", "-n", "kube-node-lease", "--no-headers"]);
        (leases.lines().count() == 3).then_some(leases)
    });
    assert!(leases.contains("sim-node-3"), "{leases}");
}

#[test]
fn a_pod_is_scheduled_and_runs_with_an_address() {
    let cluster = cluster();
    cluster.ok(&["run", "web", "--image=nginx"]);
    let line = eventually(30, || {
        let out = cluster.ok(&["get", "pod", "web", "-o", "wide", "--no-headers"]);
        out.contains("Running").then_some(out)
    });
    let columns: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(columns[1], "1/1", "{line}");
    assert!(columns[5].starts_with("10.244."), "pod IP in {line}");
    assert!(columns[6].starts_with("sim-node-"), "node in {line}");
    let host_ip = cluster.ok(&["get", "pod", "web", "-o", "jsonpath={.status.hostIP}"]);
    assert!(host_ip.starts_with("10.99.0."), "{host_ip}");
    let events = cluster.ok(&["get", "events", "--field-selector", "reason=Scheduled", "--no-headers"]);
    assert!(events.contains(&format!("Successfully assigned default/web to {}", columns[6])), "{events}");
    // Graceful deletion: the node stops the pod and removes it.
    cluster.ok(&["delete", "pod", "web", "--wait=true", "--timeout=20s"]);
    assert!(cluster.fails(&["get", "pod", "web"]).contains("NotFound"));
}

#[test]
fn a_pod_that_fits_nowhere_stays_pending_and_says_why() {
    let cluster = cluster();
    cluster.kubectl_stdin(&["apply", "-f", "-"], Some(&pod_manifest("huge", "{app: huge}", "100")));
    let message = eventually(30, || {
        let out =
            cluster.ok(&["get", "pod", "huge", "-o", "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")]}"]);
        out.contains("Unschedulable").then_some(out)
    });
    assert!(message.contains(r#""status":"False""#), "{message}");
    assert!(message.contains("0/3 nodes are available: 3 Insufficient cpu."), "{message}");
    assert!(cluster.ok(&["get", "pod", "huge", "--no-headers"]).contains("Pending"));
    let events = eventually(20, || {
        let out = cluster.ok(&["get", "events", "--field-selector", "involvedObject.name=huge", "--no-headers"]);
        out.contains("FailedScheduling").then_some(out)
    });
    assert!(events.contains("Warning") && events.contains("0/3 nodes are available: 3 Insufficient cpu."), "{events}");
    // Written through events.k8s.io/v1, as upstream's scheduler does; describe shows it.
    let v1 = cluster.ok(&[
        "get",
        "events.v1.events.k8s.io",
        "--field-selector",
        "regarding.name=huge",
        "-o",
        "jsonpath={.items[0].reportingController}/{.items[0].action}/{.items[0].eventTime}",
    ]);
    let parts: Vec<&str> = v1.split('/').collect();
    assert_eq!(parts[..2], ["default-scheduler", "Scheduling"], "{v1}");
    assert!(!parts[2].is_empty(), "{v1}");
    let describe = cluster.ok(&["describe", "pod", "huge"]);
    assert!(describe.contains("default-scheduler") && describe.contains("FailedScheduling"), "{describe}");
}

#[test]
fn a_service_s_pods_land_on_different_nodes() {
    let cluster = cluster();
    cluster.ok(&["create", "service", "clusterip", "web", "--tcp=80:80"]);
    for name in ["web-a", "web-b"] {
        cluster.kubectl_stdin(&["apply", "-f", "-"], Some(&pod_manifest(name, "{app: web}", "100m")));
    }
    let nodes = eventually(30, || {
        let out = cluster.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.nodeName}"]);
        let nodes: Vec<String> = out.split_whitespace().map(str::to_owned).collect();
        (nodes.len() == 2).then_some(nodes)
    });
    assert_ne!(nodes[0], nodes[1], "both pods on one node");
}

#[test]
fn run_to_completion_pods_succeed_or_fail() {
    let cluster = cluster();
    cluster.ok(&["run", "done", "--image=busybox", "--restart=Never", "--command", "--", "krust-sim:exit", "0"]);
    cluster.ok(&["run", "broken", "--image=busybox", "--restart=Never", "--command", "--", "krust-sim:exit", "3"]);
    for (name, phase) in [("done", "Succeeded"), ("broken", "Failed")] {
        eventually(30, || (cluster.ok(&["get", "pod", name, "-o", "jsonpath={.status.phase}"]) == phase).then_some(()));
    }
    let code = cluster.ok(&[
        "get",
        "pod",
        "broken",
        "-o",
        "jsonpath={.status.containerStatuses[0].state.terminated.exitCode}",
    ]);
    assert_eq!(code, "3");
    assert!(cluster.ok(&["get", "pod", "done", "--no-headers"]).contains("Completed"));
}

#[test]
fn an_unschedulable_pod_is_retried_when_a_node_changes() {
    let cluster = cluster();
    cluster.ok(&["run", "picky", "--image=nginx", "--overrides", r#"{"spec":{"nodeSelector":{"disk":"ssd"}}}"#]);
    let message = eventually(30, || {
        let out = cluster.ok(&["get", "pod", "picky", "-o", "jsonpath={.status.conditions[0].message}"]);
        (!out.is_empty()).then_some(out)
    });
    assert!(
        message.starts_with("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."),
        "{message}"
    );
    cluster.ok(&["label", "node", "sim-node-2", "disk=ssd"]);
    let node = eventually(30, || {
        let out = cluster.ok(&["get", "pod", "picky", "-o", "jsonpath={.spec.nodeName}"]);
        (!out.is_empty()).then_some(out)
    });
    assert_eq!(node, "sim-node-2");
    // Cordoned nodes take nothing new; the pod goes to the one left.
    cluster.ok(&["cordon", "sim-node-1"]);
    cluster.ok(&["cordon", "sim-node-3"]);
    cluster.ok(&["run", "late", "--image=nginx"]);
    let node = eventually(30, || {
        let out = cluster.ok(&["get", "pod", "late", "-o", "jsonpath={.spec.nodeName}"]);
        (!out.is_empty()).then_some(out)
    });
    assert_eq!(node, "sim-node-2");
}
