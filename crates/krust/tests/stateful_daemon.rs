//! StatefulSets and DaemonSets end to end on simulated nodes with the real kubectl: a
//! StatefulSet creates `<set>-0` before `<set>-1` (only once `-0` is Ready) with its claims
//! and removes them from the highest ordinal down; a DaemonSet runs one pod on every node
//! and rolls out a new template.

mod support;

use std::process::{Child, Stdio};
use support::{Cluster, eventually};

fn cluster() -> Cluster {
    let cluster = Cluster::start_with(&["--simulated-nodes", "3"]);
    eventually(30, || {
        let nodes = cluster.ok(&["get", "nodes", "--no-headers"]);
        (nodes.lines().filter(|l| l.split_whitespace().nth(1) == Some("Ready")).count() == 3).then_some(())
    });
    cluster
}

const STATEFUL_SET: &str = "apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
";

const DAEMON_SET: &str = "apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: busybox
";

/// A `kubectl get pods -w` of the `app=web` pods writing to `path`, started now.
fn watch_pods(cluster: &Cluster, path: &std::path::Path) -> Child {
    let out = std::fs::File::create(path).expect("watch log");
    cluster
        .kubectl_cmd()
        .args(["get", "pods", "-l", "app=web", "-w", "--output-watch-events", "--no-headers"])
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl watch")
}

/// The watch lines so far, as (event, pod, ready, status).
fn watched(path: &std::path::Path) -> Vec<(String, String, String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            (c.len() >= 4).then(|| (c[0].to_owned(), c[1].to_owned(), c[2].to_owned(), c[3].to_owned()))
        })
        .collect()
}

#[test]
fn a_stateful_set_creates_and_removes_pods_in_order_with_their_claims() {
    let cluster = cluster();
    let log = cluster.dir.path().join("watch.log");
    let mut watch = watch_pods(&cluster, &log);
    std::thread::sleep(std::time::Duration::from_millis(500));
    cluster.ok_stdin(&["apply", "-f", "-"], STATEFUL_SET);
    cluster.ok(&["rollout", "status", "statefulset/web", "--timeout=60s"]);

    let pods = cluster.ok(&["get", "pods", "-l", "app=web", "-o", "wide", "--no-headers"]);
    assert!(pods.lines().any(|l| l.starts_with("web-0 ") && l.contains("Running")), "{pods}");
    assert!(pods.lines().any(|l| l.starts_with("web-1 ") && l.contains("Running")), "{pods}");
    let labels = cluster.ok(&["get", "pod", "web-1", "-o", "jsonpath={.metadata.labels}"]);
    assert!(labels.contains(r#""statefulset.kubernetes.io/pod-name":"web-1""#), "{labels}");
    assert!(labels.contains(r#""apps.kubernetes.io/pod-index":"1""#), "{labels}");
    let revision = cluster.ok(&["get", "sts", "web", "-o", "jsonpath={.status.updateRevision}"]);
    assert!(labels.contains(&format!(r#""controller-revision-hash":"{revision}""#)), "{labels} vs {revision}");
    assert!(cluster.ok(&["get", "controllerrevisions", "--no-headers"]).contains(&revision));
    let host = cluster.ok(&["get", "pod", "web-1", "-o", "jsonpath={.spec.hostname}/{.spec.subdomain}"]);
    assert_eq!(host, "web-1/web");
    let claims = cluster.ok(&["get", "pvc", "--no-headers"]);
    assert!(claims.contains("data-web-0") && claims.contains("data-web-1"), "{claims}");
    let claim = cluster.ok(&[
        "get",
        "pod",
        "web-0",
        "-o",
        "jsonpath={.spec.volumes[?(@.name=='data')].persistentVolumeClaim.claimName}",
    ]);
    assert_eq!(claim, "data-web-0");
    let status = cluster.ok(&["get", "sts", "web", "--no-headers"]);
    assert!(status.split_whitespace().nth(1) == Some("2/2"), "{status}");

    // web-1 appears only after web-0 was seen Running and Ready.
    let events = watched(&log);
    let web1_added = events.iter().position(|e| e.1 == "web-1").expect("web-1 watched");
    let web0_ready = events.iter().position(|e| e.1 == "web-0" && e.2 == "1/1" && e.3 == "Running");
    assert!(web0_ready.is_some_and(|r| r < web1_added), "{events:?}");

    cluster.ok(&["scale", "statefulset/web", "--replicas=0"]);
    eventually(60, || cluster.ok(&["get", "pods", "-l", "app=web", "--no-headers"]).trim().is_empty().then_some(()));
    let events = watched(&log);
    let web1_gone = events.iter().position(|e| e.0 == "DELETED" && e.1 == "web-1").expect("web-1 deleted");
    let web0_terminating = events.iter().position(|e| e.1 == "web-0" && (e.3 == "Terminating" || e.0 == "DELETED"));
    assert!(web0_terminating.is_some_and(|t| t > web1_gone), "web-1 goes before web-0: {events:?}");
    let claims = cluster.ok(&["get", "pvc", "--no-headers"]);
    assert!(claims.contains("data-web-0") && claims.contains("data-web-1"), "claims are retained: {claims}");
    watch.kill().ok();
    watch.wait().ok();
}

#[test]
fn a_daemon_set_runs_one_pod_per_node_and_rolls_out() {
    let cluster = cluster();
    cluster.ok_stdin(&["apply", "-f", "-"], DAEMON_SET);
    cluster.ok(&["rollout", "status", "ds/agent", "--timeout=60s"]);
    let pods = cluster.ok(&["get", "pods", "-l", "app=agent", "-o", "wide", "--no-headers"]);
    let mut nodes: Vec<&str> = pods.lines().map(|l| l.split_whitespace().nth(6).unwrap_or_default()).collect();
    nodes.sort();
    assert_eq!(nodes, ["sim-node-1", "sim-node-2", "sim-node-3"], "{pods}");
    let ds = cluster.ok(&["get", "ds", "agent", "--no-headers"]);
    let counts: Vec<&str> = ds.split_whitespace().skip(1).take(5).collect();
    assert_eq!(counts, ["3", "3", "3", "3", "3"], "DESIRED CURRENT READY UP-TO-DATE AVAILABLE: {ds}");
    let tolerations = cluster.ok(&["get", "pods", "-l", "app=agent", "-o", "jsonpath={.items[0].spec.tolerations}"]);
    assert!(tolerations.contains("node.kubernetes.io/unschedulable"), "{tolerations}");

    cluster.ok(&["set", "image", "ds/agent", "agent=busybox:1.36"]);
    cluster.ok(&["rollout", "status", "ds/agent", "--timeout=90s"]);
    eventually(30, || {
        let images =
            cluster.ok(&["get", "pods", "-l", "app=agent", "-o", "jsonpath={.items[*].spec.containers[0].image}"]);
        (images.split_whitespace().collect::<Vec<_>>() == ["busybox:1.36"; 3]).then_some(())
    });
    let revisions = cluster.ok(&["get", "controllerrevisions", "-l", "app=agent", "--no-headers"]);
    assert_eq!(revisions.lines().count(), 2, "{revisions}");
}
