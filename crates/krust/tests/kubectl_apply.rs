//! `kubectl apply` (client- and server-side), scale, describe, explain and `get all`
//! with the seeds' manifests.

mod support;

use support::{Cluster, manifest};

#[test]
fn apply_seed_manifests_scale_and_get_all() {
    let c = Cluster::start();
    let deploy = manifest("run-my-nginx.yaml");
    assert_eq!(c.ok(&["apply", "-f", deploy.to_str().unwrap()]).trim(), "deployment.apps/my-nginx created");
    assert_eq!(c.ok(&["apply", "-f", deploy.to_str().unwrap()]).trim(), "deployment.apps/my-nginx unchanged");
    let svc = manifest("nginx-svc.yaml");
    assert_eq!(c.ok(&["apply", "-f", svc.to_str().unwrap()]).trim(), "service/my-nginx created");
    // Defaults as upstream applies them.
    let d: serde_json::Value = serde_json::from_str(&c.ok(&["get", "deploy", "my-nginx", "-o", "json"])).unwrap();
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "Always");
    assert_eq!(d["metadata"]["generation"], 1);
    assert!(d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_string());

    let out = c.ok(&["scale", "deployment", "my-nginx", "--replicas=3"]);
    assert_eq!(out.trim(), "deployment.apps/my-nginx scaled");
    assert_eq!(c.ok(&["get", "deploy", "my-nginx", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"]), "3 2");

    let all = c.ok(&["get", "all"]);
    assert!(all.contains("service/kubernetes") && all.contains("service/my-nginx"), "{all}");
    assert!(all.contains("deployment.apps/my-nginx"), "{all}");
    let wide = c.ok(&["get", "deploy", "-o", "wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]);
    assert!(wide.contains("run=my-nginx") && wide.contains("nginx"), "{wide}");

    let described = c.ok(&["describe", "service", "my-nginx"]);
    assert!(described.contains("Selector:") && described.contains("run=my-nginx"), "{described}");
    let described = c.ok(&["describe", "deployment", "my-nginx"]);
    assert!(described.contains("RollingUpdateStrategy:  25% max unavailable, 25% max surge"), "{described}");

    let explained = c.ok(&["explain", "deployment.spec.replicas"]);
    assert!(explained.contains("FIELD: replicas <integer>"), "{explained}");

    // A two-document file (seed 003's secure app): a NodePort Service and a Deployment.
    c.ok(&["delete", "deployments,svc", "my-nginx"]);
    let both = manifest("nginx-secure-app.yaml");
    let out = c.ok(&["create", "-f", both.to_str().unwrap()]);
    assert!(out.contains("service/my-nginx created") && out.contains("deployment.apps/my-nginx created"), "{out}");
    let ports = c.ok(&["get", "svc", "my-nginx", "-o", "jsonpath={.spec.ports[*].nodePort}"]);
    let ports: Vec<u16> = ports.split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert_eq!(ports.len(), 2);
    assert!(ports.iter().all(|p| (30000..=32767).contains(p)) && ports[0] != ports[1], "{ports:?}");
}

#[test]
fn apply_a_list_file() {
    let c = Cluster::start();
    let list = r#"{"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"one"},"data":{"a":"1"}},
        {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"two"},"data":{"b":"2"}}]}"#;
    let path = c.dir.path().join("list.json");
    std::fs::write(&path, list).unwrap();
    let out = c.ok(&["apply", "-f", path.to_str().unwrap()]);
    assert!(out.contains("configmap/one created") && out.contains("configmap/two created"), "{out}");
}

#[test]
fn server_side_apply_tracks_ownership_and_conflicts() {
    let c = Cluster::start();
    let deploy = manifest("run-my-nginx.yaml");
    let out = c.ok(&["apply", "--server-side", "-f", deploy.to_str().unwrap()]);
    assert_eq!(out.trim(), "deployment.apps/my-nginx serverside-applied");
    let managers = c.ok(&[
        "get",
        "deploy",
        "my-nginx",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[?(@.operation==\"Apply\")].manager}",
    ]);
    // kubectl owns what it applied; the deployment controller owns the status it writes.
    assert_eq!(managers, "kubectl");
    // Another manager takes replicas; re-applying the old value then conflicts.
    c.ok(&["scale", "deployment", "my-nginx", "--replicas=5"]);
    let err = c.fails(&["apply", "--server-side", "--field-manager=kubectl", "-f", deploy.to_str().unwrap()]);
    assert!(err.contains("conflict") && err.contains(".spec.replicas"), "{err}");
    let out = c.ok(&["apply", "--server-side", "--force-conflicts", "-f", deploy.to_str().unwrap()]);
    assert!(out.contains("serverside-applied"), "{out}");
    assert_eq!(c.ok(&["get", "deploy", "my-nginx", "-o", "jsonpath={.spec.replicas}"]), "2");
}
