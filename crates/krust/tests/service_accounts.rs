//! The controllers that furnish namespaces and identities, driven by kubectl: every
//! namespace gets the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap, legacy
//! token Secrets get a token the API server accepts (scenario B4), and aggregated
//! ClusterRoles pick up the rules of roles labelled for them.

mod support;

use authn::serviceaccount::{DEFAULT_ISSUER, PUBLIC_KEY_FILE, PublicKey, Validator};
use support::{Cluster, eventually};

const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

fn get(c: &Cluster, args: &[&str]) -> Option<String> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    let run = c.kubectl(&all);
    (run.success && !run.stdout.is_empty()).then_some(run.stdout)
}

fn ca_pem(c: &Cluster) -> String {
    std::fs::read_to_string(c.pki("ca.crt")).expect("the cluster CA")
}

/// The published CA bundle of `namespace`, once there.
fn published_ca(c: &Cluster, namespace: &str) -> Option<String> {
    get(c, &["configmap", "kube-root-ca.crt", "-n", namespace, "-o", r"jsonpath={.data.ca\.crt}"])
}

#[test]
fn a_new_namespace_gets_the_default_service_account_and_the_root_ca() {
    let c = Cluster::start();
    for existing in ["default", "kube-system", "kube-public"] {
        eventually(30, || get(&c, &["serviceaccount", "default", "-n", existing, "-o", "name"]));
        assert_eq!(eventually(30, || published_ca(&c, existing)), ca_pem(&c));
    }
    c.ok(&["create", "namespace", "team"]);
    let sa = eventually(30, || get(&c, &["serviceaccount", "default", "-n", "team", "-o", "name"]));
    assert_eq!(sa.trim(), "serviceaccount/default");
    assert_eq!(eventually(30, || published_ca(&c, "team")), ca_pem(&c));
    let description = r"jsonpath={.metadata.annotations.kubernetes\.io/description}";
    assert_eq!(c.ok(&["get", "configmap", "kube-root-ca.crt", "-n", "team", "-o", description]), DESCRIPTION);
}

#[test]
fn a_deleted_default_service_account_and_an_edited_root_ca_come_back() {
    let c = Cluster::start();
    c.ok(&["create", "namespace", "team"]);
    let uid_path = "jsonpath={.metadata.uid}";
    let first = eventually(30, || get(&c, &["serviceaccount", "default", "-n", "team", "-o", uid_path]));
    eventually(30, || published_ca(&c, "team"));

    c.ok(&["delete", "serviceaccount", "default", "-n", "team"]);
    let second = eventually(30, || {
        get(&c, &["serviceaccount", "default", "-n", "team", "-o", uid_path]).filter(|uid| *uid != first)
    });
    assert_ne!(second, first);

    let edit = r#"{"data":{"ca.crt":"not a CA"}}"#;
    c.ok(&["patch", "configmap", "kube-root-ca.crt", "-n", "team", "--type=merge", "-p", edit]);
    eventually(30, || published_ca(&c, "team").filter(|ca| *ca == ca_pem(&c)));
    c.ok(&["delete", "configmap", "kube-root-ca.crt", "-n", "team"]);
    eventually(30, || published_ca(&c, "team").filter(|ca| *ca == ca_pem(&c)));
}

fn token_secret(name: &str, service_account: &str) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/service-account-token",
        "metadata":{{"name":"{name}","annotations":{{"kubernetes.io/service-account.name":"{service_account}"}}}}}}"#
    )
}

#[test]
fn a_token_secret_is_filled_with_a_token_the_api_server_accepts() {
    let c = Cluster::start();
    c.ok(&["create", "serviceaccount", "builder"]);
    let sa_uid = c.ok(&["get", "serviceaccount", "builder", "-o", "jsonpath={.metadata.uid}"]);
    assert!(c.kubectl_stdin(&["create", "-f", "-"], Some(&token_secret("builder-token", "builder"))).success);

    let token = eventually(30, || {
        get(&c, &["secret", "builder-token", "-o", "go-template={{.data.token | base64decode}}"])
            .filter(|t| t != "<no value>")
    });
    let decoded = |key: &str| {
        c.ok(&[
            "get",
            "secret",
            "builder-token",
            "-o",
            &format!("go-template={{{{index .data \"{key}\" | base64decode}}}}"),
        ])
    };
    assert_eq!(decoded("ca.crt"), ca_pem(&c));
    assert_eq!(decoded("namespace"), "default");
    let uid_annotation = r"jsonpath={.metadata.annotations.kubernetes\.io/service-account\.uid}";
    assert_eq!(c.ok(&["get", "secret", "builder-token", "-o", uid_annotation]), sa_uid);

    // The key the API server validates with, from the cluster's data dir.
    let public = PublicKey::from_pem(&std::fs::read_to_string(c.pki(PUBLIC_KEY_FILE)).unwrap()).unwrap();
    let validator = Validator::new(vec![DEFAULT_ISSUER.into()], vec![DEFAULT_ISSUER.into()], vec![public]);
    let valid = validator.validate(&token, jiff::Timestamp::now()).unwrap().expect("a token of this cluster");
    assert_eq!(valid.user.name, "system:serviceaccount:default:builder");
    assert_eq!(valid.user.uid, sa_uid);

    // Scenario B4: the token authenticates curl; the account may discover but not list pods.
    let bearer = format!("Authorization: Bearer {token}");
    let (status, _) = c.curl("/api", &["-H", &bearer]);
    assert_eq!(status, 200);
    let (status, body) = c.curl("/api/v1/namespaces/default/pods", &["-H", &bearer]);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(r#"User \"system:serviceaccount:default:builder\" cannot list resource \"pods\""#), "{body}");
}

#[test]
fn tokens_without_their_service_account_are_deleted() {
    let c = Cluster::start();
    assert!(c.kubectl_stdin(&["create", "-f", "-"], Some(&token_secret("ghost-token", "ghost"))).success);
    eventually(30, || get(&c, &["secret", "ghost-token", "-o", "name"]).is_none().then_some(()));

    c.ok(&["create", "serviceaccount", "builder"]);
    assert!(c.kubectl_stdin(&["create", "-f", "-"], Some(&token_secret("builder-token", "builder"))).success);
    eventually(30, || get(&c, &["secret", "builder-token", "-o", "jsonpath={.data.token}"]).filter(|t| !t.is_empty()));
    c.ok(&["delete", "serviceaccount", "builder"]);
    eventually(30, || get(&c, &["secret", "builder-token", "-o", "name"]).is_none().then_some(()));
}

#[test]
fn a_role_labelled_for_view_is_aggregated_into_view_and_edit() {
    let c = Cluster::start();
    let role = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
        "metadata":{"name":"widget-reader","labels":{"rbac.authorization.k8s.io/aggregate-to-view":"true"}},
        "rules":[{"apiGroups":["example.com"],"resources":["widgets"],"verbs":["get","list","watch"]}]}"#;
    assert!(c.kubectl_stdin(&["create", "-f", "-"], Some(role)).success);
    let widgets = |name: &str| {
        let path = r#"jsonpath={.rules[?(@.resources[0]=="widgets")].verbs}"#;
        c.ok(&["get", "clusterrole", name, "-o", path])
    };
    eventually(30, || (widgets("view") == r#"["get","list","watch"]"#).then_some(()));
    // edit aggregates view (view is labelled aggregate-to-edit), and admin aggregates edit.
    eventually(30, || (widgets("edit") == r#"["get","list","watch"]"#).then_some(()));
    eventually(30, || (widgets("admin") == r#"["get","list","watch"]"#).then_some(()));
    let view: serde_json::Value = serde_json::from_str(&c.ok(&["get", "clusterrole", "view", "-o", "json"])).unwrap();
    let grants_pods = view["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["resources"].as_array().is_some_and(|l| l.contains(&"pods".into())));
    assert!(grants_pods, "the rules of the bootstrap roles stay: {view}");

    c.ok(&["delete", "clusterrole", "widget-reader"]);
    eventually(30, || widgets("view").is_empty().then_some(()));
    eventually(30, || widgets("admin").is_empty().then_some(()));
}
