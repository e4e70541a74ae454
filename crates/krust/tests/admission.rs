//! Admission plugins seen through kubectl: ServiceAccount defaults and the API-access
//! volume, LimitRange defaults, ResourceQuota refusals and NodeRestriction for kubelets.

mod support;

use support::{Cluster, eventually};

/// Wait until the namespace's `default` ServiceAccount exists (its controller creates it).
fn wait_for_default_account(c: &Cluster, namespace: &str) {
    eventually(30, || {
        let run = c.kubectl(&["get", "serviceaccount", "default", "-n", namespace, "-o", "name"]);
        run.success.then_some(())
    });
}

fn pod(name: &str, extra_container: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: nginx\n{extra_container}"
    )
}

#[test]
fn a_pod_runs_as_the_default_account_with_the_api_access_volume() {
    let c = Cluster::start();
    wait_for_default_account(&c, "default");
    c.kubectl_stdin(&["apply", "-f", "-"], Some(&pod("web", ""))).success.then_some(()).expect("pod created");
    let get = |path: &str| c.ok(&["get", "pod", "web", "-o", &format!("jsonpath={path}")]);
    assert_eq!(get("{.spec.serviceAccountName}"), "default");
    assert_eq!(get("{.spec.serviceAccount}"), "default");
    let volume = get("{.spec.volumes[0].name}");
    assert!(volume.starts_with("kube-api-access-") && volume.len() == 21, "{volume}");
    assert_eq!(get("{.spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds}"), "3607");
    assert_eq!(get("{.spec.volumes[0].projected.sources[1].configMap.name}"), "kube-root-ca.crt");
    assert_eq!(
        get("{.spec.volumes[0].projected.sources[2].downwardAPI.items[0].fieldRef.fieldPath}"),
        "metadata.namespace"
    );
    assert_eq!(get("{.spec.volumes[0].projected.defaultMode}"), "420");
    assert_eq!(
        get("{.spec.containers[0].volumeMounts[0]}"),
        format!(r#"{{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"{volume}","readOnly":true}}"#)
    );

    let err = c.fails(&["run", "ghost", "--image=nginx", "--overrides", r#"{"spec":{"serviceAccountName":"ghost"}}"#]);
    assert!(
        err.contains(
            "pods \"ghost\" is forbidden: error looking up service account default/ghost: serviceaccount \"ghost\" not found"
        ),
        "{err}"
    );
}

#[test]
fn limit_range_defaults_reach_new_pods_and_bounds_refuse_others() {
    let c = Cluster::start();
    wait_for_default_account(&c, "default");
    let range = "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: lr\nspec:\n  limits:\n  - type: Container\n    \
                 default: {cpu: 500m, memory: 256Mi}\n    defaultRequest: {cpu: 250m, memory: 128Mi}\n    min: {cpu: 100m}\n";
    assert!(c.kubectl_stdin(&["apply", "-f", "-"], Some(range)).success);
    assert!(c.kubectl_stdin(&["apply", "-f", "-"], Some(&pod("web", ""))).success);
    let resources = c.ok(&["get", "pod", "web", "-o", "jsonpath={.spec.containers[0].resources}"]);
    assert_eq!(resources, r#"{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"250m","memory":"128Mi"}}"#);
    let note = c.ok(&["get", "pod", "web", "-o", r"jsonpath={.metadata.annotations.kubernetes\.io/limit-ranger}"]);
    assert_eq!(note, "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c");

    let small = pod("small", "    resources:\n      requests: {cpu: 50m}\n");
    let run = c.kubectl_stdin(&["apply", "-f", "-"], Some(&small));
    assert!(!run.success);
    assert!(
        run.stderr.contains("pods \"small\" is forbidden: minimum cpu usage per Container is 100m, but request is 50m"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_quota_refuses_what_exceeds_it_and_reports_usage() {
    let c = Cluster::start();
    wait_for_default_account(&c, "default");
    c.ok(&["create", "quota", "q", "--hard=pods=1,configmaps=100"]);
    assert!(c.kubectl_stdin(&["apply", "-f", "-"], Some(&pod("first", ""))).success);
    let run = c.kubectl_stdin(&["apply", "-f", "-"], Some(&pod("second", "")));
    assert!(!run.success);
    assert!(
        run.stderr.contains(
            "pods \"second\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1"
        ),
        "{}",
        run.stderr
    );
    let used = c.ok(&["get", "quota", "q", "-o", "jsonpath={.status.used.pods}/{.status.hard.pods}"]);
    assert_eq!(used, "1/1");

    c.ok(&["create", "quota", "compute", "--hard=limits.cpu=2"]);
    let err = c.fails(&["run", "third", "--image=nginx"]);
    assert!(
        err.contains("pods \"third\" is forbidden: failed quota: compute: must specify limits.cpu for: third"),
        "{err}"
    );
}

#[test]
fn a_kubelet_may_not_modify_another_node() {
    let c = Cluster::start();
    for node in ["n1", "n2"] {
        let manifest = format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {node}\n");
        assert!(c.kubectl_stdin(&["apply", "-f", "-"], Some(&manifest)).success);
    }
    // Krust has no Node authorizer: grant kubelets their role through RBAC, as clusters
    // before the Node authorizer did.
    c.ok(&["create", "clusterrolebinding", "kubelets", "--clusterrole=system:node", "--group=system:nodes"]);
    let pki = pki::Pki::load_or_create(&c.dir.path().join("pki"), &Default::default()).expect("cluster PKI");
    let (cert, key) = pki.issue_client_cert("system:node:n1", &["system:nodes"]).expect("node certificate");
    let kubeconfig = c.dir.path().join("n1.kubeconfig");
    pki::Kubeconfig::new(&c.url(""), pki.ca_pem(), &cert, &key, "system:node:n1")
        .write(&kubeconfig)
        .expect("kubeconfig");
    let as_node = |args: &[&str]| {
        let mut cmd = std::process::Command::new("kubectl");
        cmd.arg("--kubeconfig").arg(&kubeconfig).args(args);
        cmd.output().expect("kubectl")
    };
    let own = as_node(&["label", "node", "n1", "example.com/role=web"]);
    assert!(own.status.success(), "{}", String::from_utf8_lossy(&own.stderr));
    let other = as_node(&["label", "node", "n2", "example.com/role=web"]);
    assert!(!other.status.success());
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(stderr.contains("nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\""), "{stderr}");
}

#[test]
fn pods_get_priority_and_default_tolerations_claims_the_default_class() {
    let c = Cluster::start();
    support::eventually(20, || c.kubectl(&["get", "serviceaccount", "default"]).success.then_some(()));
    c.ok(&["run", "plain", "--image=busybox", "--restart=Never"]);
    let got = c.ok(&[
        "get",
        "pod",
        "plain",
        "-o",
        "jsonpath={.spec.priority} {.spec.preemptionPolicy} {.spec.tolerations[*].key}",
    ]);
    assert_eq!(got, "0 PreemptLowerPriority node.kubernetes.io/not-ready node.kubernetes.io/unreachable");
    let critical = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"critical"},"spec":{"priorityClassName":"system-cluster-critical","containers":[{"name":"c","image":"busybox"}]}}"#;
    c.ok_stdin(&["create", "-f", "-"], critical);
    assert_eq!(c.ok(&["get", "pod", "critical", "-o", "jsonpath={.spec.priority}"]), "2000000000");
    let missing = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nope"},"spec":{"priorityClassName":"no-such","containers":[{"name":"c","image":"busybox"}]}}"#;
    let run = c.kubectl_stdin(&["create", "-f", "-"], Some(missing));
    assert!(
        run.stderr.contains(r#"pods "nope" is forbidden: no PriorityClass with name no-such was found"#),
        "{}",
        run.stderr
    );

    let sc = r#"{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"standard","annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},"provisioner":"example.com/none"}"#;
    c.ok_stdin(&["create", "-f", "-"], sc);
    let pvc = r#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}"#;
    c.ok_stdin(&["create", "-f", "-"], pvc);
    assert_eq!(c.ok(&["get", "pvc", "data", "-o", "jsonpath={.spec.storageClassName}"]), "standard");
}
