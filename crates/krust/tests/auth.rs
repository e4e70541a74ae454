//! Who may talk to the API server (issue 3): token-file users under RBAC, `auth can-i`,
//! `auth whoami`, `create token`, impersonation and privilege-escalation prevention.

mod support;

use support::{Cluster, eventually};

const TOKENS: &str = "jane-token-123,jane,u-1001,\"devs,testers\"\n";

fn cluster_with_jane() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.csv");
    std::fs::write(&file, TOKENS).unwrap();
    let c = Cluster::start_with(&["--token-auth-file", file.to_str().unwrap()]);
    // The token file is read at start; the temp dir may go now.
    drop(dir);
    c
}

fn as_jane(c: &Cluster, path: &str) -> (u16, String) {
    c.curl(path, &["-H", "Authorization: Bearer jane-token-123"])
}

#[test]
fn a_role_limits_a_token_user_to_what_it_grants() {
    let c = cluster_with_jane();
    c.ok(&["create", "namespace", "a"]);
    c.ok(&["create", "namespace", "b"]);
    c.ok(&["create", "role", "pod-reader", "--verb=get", "--resource=pods", "-n", "a"]);
    c.ok(&["create", "rolebinding", "jane-reads", "--role=pod-reader", "--user=jane", "-n", "a"]);
    eventually(10, || {
        (c.ok(&["auth", "can-i", "get", "pods", "-n", "a", "--as", "jane"]).trim() == "yes").then_some(())
    });
    let no = c.kubectl(&["auth", "can-i", "list", "pods", "-n", "a", "--as", "jane"]);
    assert_eq!(no.stdout.trim(), "no");
    assert_eq!(c.kubectl(&["auth", "can-i", "get", "pods", "-n", "b", "--as", "jane"]).stdout.trim(), "no");

    let (code, body) = as_jane(&c, "/api/v1/namespaces/a/pods");
    assert_eq!(code, 403);
    assert!(
        body.contains(
            r#"pods is forbidden: User \"jane\" cannot list resource \"pods\" in API group \"\" in the namespace \"a\""#
        ),
        "{body}"
    );
    let (code, body) = as_jane(&c, "/api/v1/namespaces/b/pods/x");
    assert_eq!(code, 403, "{body}");
    assert!(body.contains(r#"in the namespace \"b\""#), "{body}");
    // The grant itself works: a get of a missing pod is a 404, not a 403.
    let (code, _) = as_jane(&c, "/api/v1/namespaces/a/pods/missing");
    assert_eq!(code, 404);
    // A wrong token is a 401, never anonymous.
    let (code, body) = c.curl("/api/v1/namespaces/a/pods", &["-H", "Authorization: Bearer nope"]);
    assert_eq!(code, 401, "{body}");

    let list = c.ok(&["auth", "can-i", "--list", "-n", "a", "--as", "jane"]);
    assert!(list.lines().any(|l| l.starts_with("pods ") && l.contains("[get]")), "{list}");
}

#[test]
fn whoami_and_create_token() {
    let c = Cluster::start();
    let who = c.ok(&["auth", "whoami"]);
    assert!(who.contains("admin") && who.contains("system:masters"), "{who}");
    eventually(20, || c.kubectl(&["get", "serviceaccount", "default"]).success.then_some(()));
    let token = c.ok(&["create", "token", "default"]);
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");
    let (code, body) = c.curl(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-H",
            &format!("Authorization: Bearer {token}"),
            "--data",
            r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#,
        ],
    );
    assert_eq!(code, 201, "{body}");
    assert!(body.contains("system:serviceaccount:default:default"), "{body}");
    // The default service account holds no permissions.
    let (code, _) = c.curl("/api/v1/namespaces/default/pods", &["-H", &format!("Authorization: Bearer {token}")]);
    assert_eq!(code, 403);
}

#[test]
fn escalation_is_refused_and_holding_the_rules_is_enough() {
    let c = cluster_with_jane();
    c.ok(&["create", "namespace", "a"]);
    // jane may manage Roles in `a` and read pods there, nothing more.
    c.ok(&["create", "role", "role-admin", "--verb=create,get,list", "--resource=roles,pods", "-n", "a"]);
    c.ok(&["create", "rolebinding", "jane-admin", "--role=role-admin", "--user=jane", "-n", "a"]);
    eventually(10, || {
        (c.ok(&["auth", "can-i", "create", "roles", "-n", "a", "--as", "jane"]).trim() == "yes").then_some(())
    });
    let run =
        c.kubectl(&["create", "role", "secrets-reader", "--verb=get", "--resource=secrets", "-n", "a", "--as", "jane"]);
    assert!(!run.success);
    assert!(run.stderr.contains("is attempting to grant RBAC permissions not currently held"), "{}", run.stderr);
    c.ok(&["create", "role", "pods-reader", "--verb=get", "--resource=pods", "-n", "a", "--as", "jane"]);
}

#[test]
fn impersonation_needs_the_impersonate_verb() {
    let c = cluster_with_jane();
    // The admin may impersonate anyone; jane may not.
    assert!(c.ok(&["auth", "whoami", "--as", "jane", "--as-group", "devs"]).contains("jane"));
    let (code, body) =
        c.curl("/api/v1/namespaces", &["-H", "Authorization: Bearer jane-token-123", "-H", "Impersonate-User: admin"]);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains(r#"cannot impersonate resource \"users\""#), "{body}");
}
