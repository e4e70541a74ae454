//! The controller manager's garbage collector and namespace controller, driven by kubectl:
//! cascading deletes (orphan, background, foreground) and namespace deletion.

mod support;

use support::{Cluster, eventually};

/// A Deployment and a ReplicaSet that names it as its controlling owner (made by hand: the
/// deployment controller does not exist yet). Returns the Deployment's uid.
fn deployment_with_replicaset(c: &Cluster, name: &str) -> String {
    c.ok(&["create", "deployment", name, "--image=nginx"]);
    let uid = c.ok(&["get", "deployment", name, "-o", "jsonpath={.metadata.uid}"]);
    let rs = format!(
        r#"{{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{{"name":"{name}-rs","labels":{{"app":"{name}"}},
        "ownerReferences":[{{"apiVersion":"apps/v1","kind":"Deployment","name":"{name}","uid":"{uid}",
        "controller":true,"blockOwnerDeletion":true}}]}},
        "spec":{{"replicas":0,"selector":{{"matchLabels":{{"app":"{name}"}}}},
        "template":{{"metadata":{{"labels":{{"app":"{name}"}}}},"spec":{{"containers":[{{"name":"nginx","image":"nginx"}}]}}}}}}}}"#
    );
    let run = c.kubectl_stdin(&["create", "-f", "-"], Some(&rs));
    assert!(run.success, "{}", run.stderr);
    uid
}

fn exists(c: &Cluster, args: &[&str]) -> bool {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--ignore-not-found", "-o", "name"]);
    !c.ok(&all).trim().is_empty()
}

#[test]
fn orphan_cascade_keeps_the_replicaset_without_its_owner_reference() {
    let c = Cluster::start();
    deployment_with_replicaset(&c, "web");
    c.ok(&["delete", "deployment", "web", "--cascade=orphan", "--timeout=30s"]);
    assert!(!exists(&c, &["deployment", "web"]));
    assert!(exists(&c, &["replicaset", "web-rs"]));
    assert_eq!(c.ok(&["get", "replicaset", "web-rs", "-o", "jsonpath={.metadata.ownerReferences}"]), "");
}

#[test]
fn background_cascade_deletes_the_owned_replicaset() {
    let c = Cluster::start();
    deployment_with_replicaset(&c, "web");
    c.ok(&["delete", "deployment", "web", "--timeout=30s"]);
    eventually(30, || (!exists(&c, &["replicaset", "web-rs"])).then_some(()));
}

#[test]
fn foreground_cascade_deletes_dependents_before_the_owner() {
    let c = Cluster::start();
    deployment_with_replicaset(&c, "web");
    // kubectl waits until the owner is gone, which the collector allows only once the
    // blocking ReplicaSet is gone.
    c.ok(&["delete", "deployment", "web", "--cascade=foreground", "--timeout=30s"]);
    assert!(!exists(&c, &["replicaset", "web-rs"]));
    assert!(!exists(&c, &["deployment", "web"]));
}

#[test]
fn a_dependent_created_after_its_owner_is_gone_is_collected() {
    let c = Cluster::start();
    let uid = deployment_with_replicaset(&c, "web");
    c.ok(&["delete", "deployment", "web", "--cascade=orphan", "--timeout=30s"]);
    let cm = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"leftover","ownerReferences":[
        {{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"{uid}"}}]}}}}"#
    );
    assert!(c.kubectl_stdin(&["create", "-f", "-"], Some(&cm)).success);
    eventually(30, || (!exists(&c, &["configmap", "leftover"])).then_some(()));
}

#[test]
fn deleting_a_namespace_deletes_its_content_and_then_the_namespace() {
    let c = Cluster::start();
    c.ok(&["create", "namespace", "demo"]);
    c.ok(&["create", "configmap", "one", "-n", "demo", "--from-literal=a=b"]);
    c.ok(&["create", "configmap", "two", "-n", "demo", "--from-literal=a=b"]);
    c.ok(&["create", "deployment", "web", "-n", "demo", "--image=nginx"]);
    c.ok(&["delete", "namespace", "demo", "--timeout=60s"]);
    assert!(!exists(&c, &["namespace", "demo"]));
    assert!(c.ok(&["get", "configmaps", "-n", "demo", "-o", "name"]).trim().is_empty());
}

#[test]
fn a_namespace_held_by_a_finalizer_is_terminating_with_conditions_until_it_goes() {
    let c = Cluster::start();
    c.ok(&["create", "namespace", "held"]);
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","namespace":"held","finalizers":["example.com/hold"]}}"#;
    assert!(c.kubectl_stdin(&["create", "-f", "-"], Some(cm)).success);
    c.ok(&["delete", "namespace", "held", "--wait=false"]);
    let condition = |t: &str| {
        let path = format!("jsonpath={{.status.conditions[?(@.type==\"{t}\")].message}}");
        c.ok(&["get", "namespace", "held", "-o", &path])
    };
    eventually(30, || {
        (condition("NamespaceFinalizersRemaining")
            == "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
            .then_some(())
    });
    assert_eq!(c.ok(&["get", "namespace", "held", "-o", "jsonpath={.status.phase}"]), "Terminating");
    assert_eq!(
        condition("NamespaceContentRemaining"),
        "Some resources are remaining: configmaps. has 1 resource instances"
    );
    assert_eq!(condition("NamespaceDeletionDiscoveryFailure"), "All resources successfully discovered");
    c.ok(&["patch", "configmap", "held", "-n", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    c.ok(&["wait", "--for=delete", "namespace/held", "--timeout=30s"]);
}

#[test]
fn disabled_controllers_leave_an_orphaning_owner_waiting() {
    let c = Cluster::start_with(&["--disable=controllers"]);
    deployment_with_replicaset(&c, "web");
    c.ok(&["delete", "deployment", "web", "--cascade=orphan", "--wait=false"]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(c.ok(&["get", "deployment", "web", "-o", "jsonpath={.metadata.finalizers}"]), r#"["orphan"]"#);
}
