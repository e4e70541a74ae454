//! Scenario A and the public endpoints, driven by the real kubectl and curl.

mod support;

use support::Cluster;

#[test]
fn version_discovery_and_public_endpoints() {
    let c = Cluster::start();
    let version = c.ok(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&version).unwrap();
    assert_eq!(v["serverVersion"]["major"], "1");
    assert_eq!(v["serverVersion"]["minor"], "33");
    for field in ["gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"] {
        assert!(v["serverVersion"][field].as_str().is_some_and(|s| !s.is_empty()), "{field} missing: {v}");
    }

    let resources = c.ok(&["api-resources"]);
    for line in [
        "pods                                po           v1                                true         Pod",
        "deployments                         deploy       apps/v1                           true         Deployment",
    ] {
        let want: Vec<&str> = line.split_whitespace().collect();
        assert!(
            resources.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == want),
            "api-resources lacks {want:?}:\n{resources}"
        );
    }
    let versions = c.ok(&["api-versions"]);
    for gv in ["v1", "apps/v1", "batch/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1"] {
        assert!(versions.lines().any(|l| l == gv), "api-versions lacks {gv}:\n{versions}");
    }
    let root: serde_json::Value = serde_json::from_str(&c.ok(&["get", "--raw", "/"])).unwrap();
    let paths: Vec<&str> = root["paths"].as_array().unwrap().iter().filter_map(|p| p.as_str()).collect();
    for p in ["/api", "/api/v1", "/apis", "/apis/apps/v1", "/healthz", "/version", "/metrics", "/openapi/v3"] {
        assert!(paths.contains(&p), "GET / lacks {p}: {paths:?}");
    }

    // A1, A2: anonymous may read /version and health.
    let (code, body) = c.curl("/version", &[]);
    assert_eq!(code, 200);
    assert!(body.contains("\"gitVersion\""));
    for p in ["/healthz", "/livez", "/readyz"] {
        assert_eq!(c.curl(p, &[]), (200, "ok".to_owned()), "{p}");
    }
    let (code, verbose) = c.curl("/readyz?verbose", &[]);
    assert_eq!(code, 200);
    assert!(verbose.contains("[+]etcd ok") && verbose.ends_with("readyz check passed\n"), "{verbose}");
    // Single checks are for monitoring (system:monitoring), not anonymous callers.
    assert_eq!(c.curl("/livez/ping", &[]).0, 403);
    assert_eq!(c.curl_admin("/livez/ping", &[]), (200, "ok".to_owned()));

    // A3: anonymous on a resource path: 401 with exactly upstream's Status.
    let (code, body) = c.curl("/api/v1/pods", &[]);
    assert_eq!(code, 401);
    assert_eq!(
        body,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#
    );
    // A4: with the admin client certificate, a PodList.
    let (code, body) = c.curl_admin("/api/v1/pods", &[]);
    assert_eq!(code, 200);
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["kind"], "PodList");

    let (code, metrics) = c.curl_admin("/metrics", &[]);
    assert_eq!(code, 200);
    assert!(metrics.contains("apiserver_request_total"), "{metrics}");
    assert!(metrics.contains("apiserver_storage_operation_duration_seconds"), "{metrics}");
}

#[test]
fn system_namespaces_and_kubernetes_service_exist() {
    let c = Cluster::start();
    let ns = c.ok(&["get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}"]);
    for want in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.split_whitespace().any(|n| n == want), "{want} missing from {ns}");
    }
    let ip = c.ok(&["get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"]);
    assert_eq!(ip, "10.0.0.1");
    let ep = c.ok(&[
        "get",
        "endpoints",
        "kubernetes",
        "-o",
        "jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}",
    ]);
    assert_eq!(ep, format!("127.0.0.1:{}", c.port));
    let slices = c.ok(&["get", "endpointslices", "-l", "kubernetes.io/service-name=kubernetes", "-o", "name"]);
    assert_eq!(slices.trim(), "endpointslice.discovery.k8s.io/kubernetes");
}
