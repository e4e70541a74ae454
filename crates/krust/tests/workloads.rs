//! The Deployment and ReplicaSet controllers driven by kubectl. No kubelet runs, so the
//! tests mark pods Running and Ready themselves through the pods' status subresource.

mod support;

use support::{Cluster, eventually, manifest};

fn lines(text: String) -> Vec<String> {
    let mut v: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    v.sort();
    v
}

fn pods(c: &Cluster) -> Vec<String> {
    lines(c.ok(&["get", "pods", "-l", "run=my-nginx", "-o", "jsonpath={.items[*].metadata.name}"]))
}

fn replica_sets(c: &Cluster) -> Vec<String> {
    lines(c.ok(&["get", "replicasets", "-l", "run=my-nginx", "-o", "jsonpath={.items[*].metadata.name}"]))
}

/// Mark every pod of the Deployment Running and Ready, as a kubelet would.
fn mark_ready(c: &Cluster) {
    let status = r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#;
    for pod in pods(c) {
        // A pod deleted meanwhile is fine.
        c.kubectl(&["patch", "pod", &pod, "--subresource=status", "--type=merge", "-p", status]);
    }
}

/// Keep marking pods ready until `kubectl rollout status` reports success.
fn roll_out(c: &Cluster) -> String {
    eventually(60, || {
        mark_ready(c);
        let run = c.kubectl(&["rollout", "status", "deployment/my-nginx", "--timeout=2s"]);
        run.success.then_some(run.stdout)
    })
}

#[test]
fn a_deployment_rolls_out_scales_updates_and_rolls_back() {
    let c = Cluster::start();
    c.ok(&["apply", "-f", manifest("run-my-nginx.yaml").to_str().unwrap()]);

    let rs = eventually(30, || {
        let sets = replica_sets(&c);
        (sets.len() == 1 && pods(&c).len() == 2).then(|| sets[0].clone())
    });
    let hash = c.ok(&["get", "rs", &rs, "-o", "jsonpath={.metadata.labels.pod-template-hash}"]);
    assert_eq!(rs, format!("my-nginx-{hash}"));
    for pod in pods(&c) {
        assert!(pod.starts_with(&format!("{rs}-")) && pod.len() == rs.len() + 6, "pod {pod} of {rs}");
        let owner = c.ok(&["get", "pod", &pod, "-o", "jsonpath={.metadata.ownerReferences[0].name}"]);
        assert_eq!(owner, rs);
    }
    assert!(roll_out(&c).contains("successfully rolled out"));
    assert_eq!(c.ok(&["get", "deployment", "my-nginx", "-o", "jsonpath={.status.availableReplicas}"]), "2");
    let events = c.ok(&["get", "events", "-o", "jsonpath={.items[*].message}"]);
    assert!(events.contains(&format!("Scaled up replica set {rs} to 2 from 0")), "{events}");
    assert!(events.contains("Created pod: "), "{events}");

    // Scale to zero and back: new pods.
    let before = pods(&c);
    c.ok(&["scale", "deployment/my-nginx", "--replicas=0"]);
    eventually(30, || pods(&c).is_empty().then_some(()));
    c.ok(&["scale", "deployment/my-nginx", "--replicas=2"]);
    let after = eventually(30, || Some(pods(&c)).filter(|p| p.len() == 2));
    assert!(after.iter().all(|p| !before.contains(p)), "{before:?} then {after:?}");
    roll_out(&c);

    // A new image: a second ReplicaSet, rolled out as its pods become ready.
    c.ok(&["set", "image", "deployment/my-nginx", "my-nginx=nginx:1.25"]);
    roll_out(&c);
    let sets = replica_sets(&c);
    assert_eq!(sets.len(), 2, "{sets:?}");
    let history = c.ok(&["rollout", "history", "deployment/my-nginx"]);
    let revisions: Vec<&str> = history.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(revisions, ["deployment.apps/my-nginx", "REVISION", "1", "2"], "{history}");
    let new_rs = sets.iter().find(|s| **s != rs).unwrap();
    assert_eq!(c.ok(&["get", "rs", &rs, "-o", "jsonpath={.spec.replicas}"]), "0");
    assert_eq!(
        c.ok(&["get", "rs", new_rs, "-o", "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}"]),
        "2"
    );
    let image = |c: &Cluster| {
        c.ok(&["get", "deployment", "my-nginx", "-o", "jsonpath={.spec.template.spec.containers[0].image}"])
    };
    assert_eq!(image(&c), "nginx:1.25");

    // Undo: back to the first template, whose ReplicaSet becomes revision 3.
    c.ok(&["rollout", "undo", "deployment/my-nginx"]);
    assert_eq!(image(&c), "nginx");
    roll_out(&c);
    assert_eq!(c.ok(&["get", "rs", &rs, "-o", "jsonpath={.spec.replicas}"]), "2");
    assert_eq!(
        c.ok(&["get", "rs", &rs, "-o", "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}"]),
        "3"
    );
    let pods_now = pods(&c);
    assert!(pods_now.iter().all(|p| p.starts_with(&format!("{rs}-"))), "{pods_now:?}");

    // Deleting the Deployment takes its ReplicaSets and pods with it.
    c.ok(&["delete", "deployment", "my-nginx", "--timeout=30s"]);
    eventually(30, || (replica_sets(&c).is_empty() && pods(&c).is_empty()).then_some(()));
}

#[test]
fn a_replication_controller_keeps_its_pods_and_adopts_orphans() {
    let c = Cluster::start();
    let orphan = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"stray","labels":{"app":"rc"}},
        "spec":{"containers":[{"name":"c","image":"nginx"}]}}"#;
    assert!(c.kubectl_stdin(&["create", "-f", "-"], Some(orphan)).success);
    let rc = r#"{"apiVersion":"v1","kind":"ReplicationController","metadata":{"name":"rc"},
        "spec":{"replicas":3,"selector":{"app":"rc"},
        "template":{"metadata":{"labels":{"app":"rc"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#;
    assert!(c.kubectl_stdin(&["create", "-f", "-"], Some(rc)).success);
    let names = || lines(c.ok(&["get", "pods", "-l", "app=rc", "-o", "jsonpath={.items[*].metadata.name}"]));
    eventually(30, || (names().len() == 3).then_some(()));
    assert!(names().contains(&"stray".to_owned()), "the orphan is adopted and counted");
    assert_eq!(
        c.ok(&["get", "pod", "stray", "-o", "jsonpath={.metadata.ownerReferences[0].kind}"]),
        "ReplicationController"
    );
    eventually(30, || (c.ok(&["get", "rc", "rc", "-o", "jsonpath={.status.replicas}"]) == "3").then_some(()));

    // A pod that stops matching is released and replaced.
    c.ok(&["label", "pod", "stray", "app=other", "--overwrite"]);
    eventually(30, || {
        let released = c.ok(&["get", "pod", "stray", "-o", "jsonpath={.metadata.ownerReferences}"]).is_empty();
        (released && names().len() == 3).then_some(())
    });
    c.ok(&["scale", "rc/rc", "--replicas=1"]);
    eventually(30, || (names().len() == 1).then_some(()));
}
