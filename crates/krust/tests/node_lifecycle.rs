//! Node lifecycle end to end with the real kubectl: a node whose kubelet goes silent turns
//! Unknown with the unreachable taints and its pods are evicted after their
//! tolerationSeconds and replaced elsewhere; `kubectl drain` evicts through
//! PodDisruptionBudgets, refused while the budget has no disruption to give.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use support::{Cluster, eventually};

/// Two simulated nodes; `extra` flags. Simulated nodes renew their Leases every 10 s, so a
/// shortened grace period stays above that.
fn cluster(extra: &[&str]) -> Cluster {
    let cluster = Cluster::start_with(&[&["--simulated-nodes", "2"], extra].concat());
    eventually(30, || {
        let nodes = cluster.ok(&["get", "nodes", "--no-headers"]);
        (nodes.lines().filter(|l| l.split_whitespace().nth(1) == Some("Ready")).count() == 2).then_some(())
    });
    cluster
}

fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A node kept alive by the test: a Node reporting Ready and a Lease renewed every 500 ms
/// until `stop` is set.
fn fake_node(cluster: &Cluster, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    cluster.ok_stdin(&["create", "-f", "-"], "apiVersion: v1\nkind: Node\nmetadata:\n  name: fake-node\n");
    let status = format!(
        r#"{{"status":{{"capacity":{{"cpu":"4","memory":"8Gi","pods":"110"}},"allocatable":{{"cpu":"4","memory":"8Gi","pods":"110"}},"conditions":[{{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status","lastHeartbeatTime":"{t}","lastTransitionTime":"{t}"}}]}}}}"#,
        t = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ")
    );
    cluster.ok(&["patch", "node", "fake-node", "--subresource=status", "--type=merge", "-p", &status]);
    let lease = format!(
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: fake-node\n  namespace: kube-node-lease\n\
         spec:\n  holderIdentity: fake-node\n  leaseDurationSeconds: 40\n  renewTime: \"{}\"\n",
        now()
    );
    cluster.ok_stdin(&["create", "-f", "-"], &lease);
    let renewer = cluster.kubectl_cmd();
    let program = renewer.get_program().to_owned();
    let args: Vec<_> = renewer.get_args().map(ToOwned::to_owned).collect();
    let envs: Vec<_> = renewer.get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))).collect();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let patch = format!(r#"{{"spec":{{"renewTime":"{}"}}}}"#, now());
            let _ = std::process::Command::new(&program)
                .args(&args)
                .envs(envs.iter().map(|(k, v)| (k, v)))
                .args(["patch", "lease", "fake-node", "-n", "kube-node-lease", "--type=merge", "-p", &patch])
                .output();
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    })
}

const REPLICASET: &str = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  \
selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      \
tolerations:\n      - key: node.kubernetes.io/unreachable\n        operator: Exists\n        effect: NoExecute\n        \
tolerationSeconds: 2\n      containers:\n      - name: app\n        image: nginx\n";

#[test]
fn a_silent_node_is_tainted_and_its_pods_move_elsewhere() {
    let cluster = cluster(&["--node-monitor-grace-period", "15"]);
    // Only the fake node takes the ReplicaSet's pod.
    cluster.ok(&["cordon", "sim-node-1", "sim-node-2"]);
    let stop = Arc::new(AtomicBool::new(false));
    let renewer = fake_node(&cluster, stop.clone());
    cluster.ok_stdin(&["apply", "-f", "-"], REPLICASET);
    let first = eventually(30, || {
        let out = cluster.ok(&[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[0].metadata.name} {.items[0].spec.nodeName}",
        ]);
        out.ends_with(" fake-node").then(|| out.split(' ').next().unwrap().to_owned())
    });
    // Healthy while the lease is renewed, past the grace period.
    std::thread::sleep(std::time::Duration::from_secs(17));
    let ready =
        cluster.ok(&["get", "node", "fake-node", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"]);
    assert_eq!(ready, "True");
    cluster.ok(&["uncordon", "sim-node-1", "sim-node-2"]);
    stop.store(true, Ordering::SeqCst);
    renewer.join().unwrap();

    let taints = eventually(45, || {
        let out =
            cluster.ok(&["get", "node", "fake-node", "-o", "jsonpath={range .spec.taints[*]}{.key}:{.effect} {end}"]);
        out.contains("NoExecute").then_some(out)
    });
    assert_eq!(taints.trim(), "node.kubernetes.io/unreachable:NoSchedule node.kubernetes.io/unreachable:NoExecute");
    let ready = cluster.ok(&["get", "node", "fake-node", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')]}"]);
    assert!(
        ready.contains(r#""status":"Unknown""#) && ready.contains("Kubelet stopped posting node status."),
        "{ready}"
    );
    assert!(ready.contains(r#""reason":"NodeStatusUnknown""#), "{ready}");
    let nodes = cluster.ok(&["get", "node", "fake-node", "--no-headers"]);
    assert!(nodes.contains("NotReady"), "{nodes}");

    // After its 2 s toleration the pod is deleted and the ReplicaSet replaces it on a sim node.
    let replacement = eventually(40, || {
        let out = cluster.ok(&["get", "pods", "-l", "app=web", "-o", "wide", "--no-headers"]);
        out.lines()
            .find(|l| !l.starts_with(&first) && l.contains("Running") && l.contains("sim-node-"))
            .map(str::to_owned)
    });
    assert!(!replacement.contains("fake-node"), "{replacement}");
    let deleting = cluster.ok(&["get", "pod", &first, "-o", "jsonpath={.metadata.deletionTimestamp}"]);
    assert!(!deleting.is_empty(), "the evicted pod is being deleted");
    let events = cluster.ok(&["get", "events", "--field-selector", "reason=TaintManagerEviction", "--no-headers"]);
    assert!(events.contains(&format!("Marking for deletion Pod default/{first}")), "{events}");
}

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  \
selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      \
containers:\n      - name: app\n        image: nginx\n";

const BUDGET: &str = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\nspec:\n  minAvailable: 2\n  \
selector:\n    matchLabels:\n      app: web\n";

fn budget_status(cluster: &Cluster) -> String {
    cluster.ok(&[
        "get",
        "pdb",
        "web",
        "-o",
        "jsonpath={.status.currentHealthy}/{.status.desiredHealthy}/{.status.disruptionsAllowed}/{.status.expectedPods}",
    ])
}

/// Wait until the budget's status reads `want` (`current/desired/allowed/expected`).
fn wait_for_budget(cluster: &Cluster, want: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let status = budget_status(cluster);
        if status == want {
            return;
        }
        if std::time::Instant::now() > deadline {
            let pods = cluster.ok(&["get", "pods", "-o", "wide"]) + &cluster.ok(&["get", "events"]);
            panic!("budget status {status}, wanted {want}; pods:\n{pods}");
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
fn drain_honours_the_disruption_budget() {
    let cluster = cluster(&[]);
    cluster.ok(&["cordon", "sim-node-2"]);
    cluster.ok_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    cluster.ok_stdin(&["apply", "-f", "-"], BUDGET);
    wait_for_budget(&cluster, "2/2/0/2");
    let condition = cluster.ok(&["get", "pdb", "web", "-o", "jsonpath={.status.conditions[0].reason}"]);
    assert_eq!(condition, "InsufficientPods");
    let pdbs = cluster.ok(&["get", "pdb", "web", "--no-headers"]);
    assert!(pdbs.split_whitespace().collect::<Vec<_>>()[1..4] == ["2", "N/A", "0"], "{pdbs}");

    let refused =
        cluster.fails(&["drain", "sim-node-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=3s"]);
    assert!(refused.contains("Cannot evict pod as it would violate the pod's disruption budget."), "{refused}");
    let pods = cluster.ok(&["get", "pods", "-l", "app=web", "--no-headers"]);
    assert_eq!(pods.lines().filter(|l| l.contains("Running")).count(), 2, "{pods}");

    // With a third pod on the other node the budget allows one disruption at a time.
    cluster.ok(&["uncordon", "sim-node-2"]);
    cluster.ok(&["scale", "deployment", "web", "--replicas=3"]);
    wait_for_budget(&cluster, "3/2/1/3");
    let drained =
        cluster.ok(&["drain", "sim-node-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=90s"]);
    assert!(drained.contains("evicted") && drained.contains("node/sim-node-1 drained"), "{drained}");
    let wide = cluster.ok(&["get", "pods", "-l", "app=web", "-o", "wide", "--no-headers"]);
    assert!(!wide.contains("sim-node-1"), "{wide}");
    wait_for_budget(&cluster, "3/2/1/3");
}
