//! Pod priority and preemption end to end with the real kubectl: on one simulated node
//! (8 cpu) filled by a low-priority Deployment, a pod of a higher PriorityClass that does
//! not fit preempts one replica, is nominated to the node, and runs there; the victim is
//! told why in a `Preempted` event and its replacement waits, unable to preempt anyone.
//! A pod whose class says `preemptionPolicy: Never` waits without preempting.

mod support;

use support::{Cluster, eventually};

fn one_node_cluster() -> Cluster {
    let cluster = Cluster::start_with(&["--simulated-nodes", "1"]);
    eventually(30, || {
        let nodes = cluster.ok(&["get", "nodes", "--no-headers"]);
        nodes.lines().any(|l| l.split_whitespace().nth(1) == Some("Ready")).then_some(())
    });
    cluster
}

const CLASSES: &str = "\
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: important
value: 1000
description: preempts the filler
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: polite
value: 2000
preemptionPolicy: Never
";

/// Three replicas of 2500m: 7.5 of the node's 8 cpu.
const FILLER: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: filler
spec:
  replicas: 3
  selector:
    matchLabels: {app: filler}
  template:
    metadata:
      labels: {app: filler}
    spec:
      containers:
      - name: app
        image: nginx
        resources:
          requests: {cpu: 2500m}
";

fn pod(name: &str, class: &str, cpu: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  priorityClassName: {class}\n  containers:\n  - \
         name: app\n    image: nginx\n    resources:\n      requests:\n        cpu: \"{cpu}\"\n"
    )
}

/// `name phase nodeName` of every filler pod, one per line.
fn filler_pods(cluster: &Cluster) -> Vec<(String, String, String)> {
    let out = cluster.ok(&[
        "get",
        "pods",
        "-l",
        "app=filler",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.spec.nodeName}{\"\\n\"}{end}",
    ]);
    out.lines()
        .map(|line| {
            let mut fields = line.split(' ');
            let mut next = || fields.next().unwrap_or_default().to_owned();
            (next(), next(), next())
        })
        .collect()
}

fn scheduled_message(cluster: &Cluster, pod: &str) -> String {
    cluster.ok(&["get", "pod", pod, "-o", "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].message}"])
}

#[test]
fn a_higher_priority_pod_preempts_a_lower_priority_one() {
    let cluster = one_node_cluster();
    cluster.ok_stdin(&["apply", "-f", "-"], CLASSES);
    cluster.ok_stdin(&["apply", "-f", "-"], FILLER);
    let before = eventually(60, || {
        let pods = filler_pods(&cluster);
        (pods.len() == 3 && pods.iter().all(|(_, phase, _)| phase == "Running")).then_some(pods)
    });
    let before: Vec<String> = before.into_iter().map(|(name, _, _)| name).collect();

    cluster.ok_stdin(&["apply", "-f", "-"], &pod("vip", "important", "2"));
    assert_eq!(cluster.ok(&["get", "pod", "vip", "-o", "jsonpath={.spec.priority}"]), "1000");
    eventually(60, || {
        let out = cluster.ok(&["get", "pod", "vip", "-o", "jsonpath={.status.phase} {.spec.nodeName}"]);
        (out == "Running sim-node-1").then_some(())
    });
    // Nominated on the way (upstream v1.33 leaves the field after binding).
    let nominated = cluster.ok(&["get", "pod", "vip", "-o", "jsonpath={.status.nominatedNodeName}"]);
    assert_eq!(nominated, "sim-node-1");

    // Exactly one filler pod went; its replacement waits and cannot preempt its peers.
    let (replacement, after) = eventually(60, || {
        let pods = filler_pods(&cluster);
        let survivors = pods.iter().filter(|(name, _, _)| before.contains(name)).count();
        let pending: Vec<_> = pods.iter().filter(|(_, phase, node)| phase == "Pending" && node.is_empty()).collect();
        (pods.len() == 3 && survivors == 2 && pending.len() == 1).then(|| (pending[0].0.clone(), pods.clone()))
    });
    let victim = before.iter().find(|name| !after.iter().any(|(n, _, _)| n == *name)).expect("a victim");
    let waiting = eventually(30, || {
        let message = scheduled_message(&cluster, &replacement);
        message.contains("preemption").then_some(message)
    });
    assert_eq!(
        waiting,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: \
         1 No preemption victims found for incoming pod."
    );

    // The victim was told who took its place.
    let uid = cluster.ok(&["get", "pod", "vip", "-o", "jsonpath={.metadata.uid}"]);
    let selector = format!("reason=Preempted,involvedObject.name={victim}");
    let events = eventually(20, || {
        let out = cluster.ok(&["get", "events", "--field-selector", &selector, "--no-headers"]);
        (!out.is_empty()).then_some(out)
    });
    assert!(events.contains(&format!("Preempted by pod {uid} on node sim-node-1")), "{events}");
    assert!(events.contains("Normal"), "{events}");
    let all = cluster.ok(&["get", "events"]);
    assert!(all.contains(&format!("pod/{victim}")) && all.contains("Preempted"), "{all}");

    // A more important pod that may not preempt waits instead, and says why.
    cluster.ok_stdin(&["apply", "-f", "-"], &pod("polite", "polite", "2"));
    let refused = eventually(30, || {
        let message = scheduled_message(&cluster, "polite");
        (!message.is_empty()).then_some(message)
    });
    assert_eq!(
        refused,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    );
    let describe = cluster.ok(&["describe", "pod", "polite"]);
    assert!(describe.contains("FailedScheduling") && describe.contains("preemptionPolicy=Never"), "{describe}");
    assert_eq!(filler_pods(&cluster).iter().filter(|(_, phase, _)| phase == "Running").count(), 2);
}
