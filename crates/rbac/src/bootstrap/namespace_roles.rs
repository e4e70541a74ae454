//! Upstream's default Roles and RoleBindings in kube-system and kube-public
//! (`namespace_policy.go`): leader election, the authentication ConfigMap, bootstrap tokens.

use k8s_openapi::api::rbac::v1::{Role, RoleBinding};

use super::{default_meta, events_rule, role_binding, rule, service_account, user};

const KUBE_SYSTEM: &str = "kube-system";
const KUBE_PUBLIC: &str = "kube-public";

fn role(namespace: &str, name: &str, rules: Vec<k8s_openapi::api::rbac::v1::PolicyRule>) -> Role {
    Role { metadata: default_meta(name, Some(namespace), &[]), rules: Some(rules) }
}

fn leader_locking(namespace: &str, name: &str) -> Role {
    let verbs = &["watch", "get", "list", "create", "update"];
    role(
        namespace,
        name,
        vec![
            rule(verbs).groups(&["coordination.k8s.io"]).resources(&["leases"]).build(),
            rule(verbs).groups(&["coordination.k8s.io"]).resources(&["leasecandidates"]).build(),
        ],
    )
}

/// The default Roles and RoleBindings, in upstream's order (namespace, then name).
pub(super) fn namespace_roles() -> (Vec<Role>, Vec<RoleBinding>) {
    let roles = vec![
        role(
            KUBE_PUBLIC,
            "system:controller:bootstrap-signer",
            vec![
                rule(&["get", "list", "watch"]).groups(&[""]).resources(&["configmaps"]).build(),
                rule(&["update"]).groups(&[""]).resources(&["configmaps"]).names(&["cluster-info"]).build(),
                events_rule(),
            ],
        ),
        role(
            KUBE_SYSTEM,
            "extension-apiserver-authentication-reader",
            vec![
                rule(&["get", "list", "watch"])
                    .groups(&[""])
                    .resources(&["configmaps"])
                    .names(&["extension-apiserver-authentication"])
                    .build(),
            ],
        ),
        leader_locking(KUBE_SYSTEM, "system::leader-locking-kube-controller-manager"),
        leader_locking(KUBE_SYSTEM, "system::leader-locking-kube-scheduler"),
        role(
            KUBE_SYSTEM,
            "system:controller:bootstrap-signer",
            vec![rule(&["get", "list", "watch"]).groups(&[""]).resources(&["secrets"]).build()],
        ),
        role(
            KUBE_SYSTEM,
            "system:controller:cloud-provider",
            vec![rule(&["create", "get", "list", "watch"]).groups(&[""]).resources(&["configmaps"]).build()],
        ),
        role(
            KUBE_SYSTEM,
            "system:controller:token-cleaner",
            vec![
                rule(&["delete", "get", "list", "watch"]).groups(&[""]).resources(&["secrets"]).build(),
                events_rule(),
            ],
        ),
    ];
    let bindings = vec![
        role_binding(
            KUBE_PUBLIC,
            "system:controller:bootstrap-signer",
            "system:controller:bootstrap-signer",
            vec![service_account(KUBE_SYSTEM, "bootstrap-signer")],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system::extension-apiserver-authentication-reader",
            "extension-apiserver-authentication-reader",
            vec![user("system:kube-controller-manager"), user("system:kube-scheduler")],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system::leader-locking-kube-controller-manager",
            "system::leader-locking-kube-controller-manager",
            vec![
                user("system:kube-controller-manager"),
                service_account(KUBE_SYSTEM, "kube-controller-manager"),
                service_account(KUBE_SYSTEM, "leader-election-controller"),
            ],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system::leader-locking-kube-scheduler",
            "system::leader-locking-kube-scheduler",
            vec![user("system:kube-scheduler"), service_account(KUBE_SYSTEM, "kube-scheduler")],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system:controller:bootstrap-signer",
            "system:controller:bootstrap-signer",
            vec![service_account(KUBE_SYSTEM, "bootstrap-signer")],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system:controller:cloud-provider",
            "system:controller:cloud-provider",
            vec![service_account(KUBE_SYSTEM, "cloud-provider")],
        ),
        role_binding(
            KUBE_SYSTEM,
            "system:controller:token-cleaner",
            "system:controller:token-cleaner",
            vec![service_account(KUBE_SYSTEM, "token-cleaner")],
        ),
    ];
    (roles, bindings)
}
