//! Upstream's default system ClusterRoles and all default ClusterRoleBindings (`policy.go`):
//! discovery, self-review, certificates, and the control-plane and node components.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule};

use super::{READ, cluster_binding, cluster_role, events_rule, group, rule, service_account, user};

fn approver(name: &str, signer: &str) -> ClusterRole {
    cluster_role(
        name,
        vec![rule(&["approve"]).groups(&["certificates.k8s.io"]).resources(&["signers"]).names(&[signer]).build()],
    )
}

/// Discovery, self-review, health and certificate roles.
fn system_roles() -> Vec<ClusterRole> {
    let token_review = || rule(&["create"]).groups(&["authentication.k8s.io"]).resources(&["tokenreviews"]).build();
    let access_review =
        || rule(&["create"]).groups(&["authorization.k8s.io"]).resources(&["subjectaccessreviews"]).build();
    vec![
        cluster_role("system:auth-delegator", vec![token_review(), access_review()]),
        cluster_role(
            "system:basic-user",
            vec![
                rule(&["create"])
                    .groups(&["authorization.k8s.io"])
                    .resources(&["selfsubjectaccessreviews", "selfsubjectrulesreviews"])
                    .build(),
                rule(&["create"]).groups(&["authentication.k8s.io"]).resources(&["selfsubjectreviews"]).build(),
            ],
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            vec![
                rule(&["create"])
                    .groups(&["certificates.k8s.io"])
                    .resources(&["certificatesigningrequests/nodeclient"])
                    .build(),
            ],
        ),
        cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            vec![
                rule(&["create"])
                    .groups(&["certificates.k8s.io"])
                    .resources(&["certificatesigningrequests/selfnodeclient"])
                    .build(),
            ],
        ),
        approver("system:certificates.k8s.io:kube-apiserver-client-approver", "kubernetes.io/kube-apiserver-client"),
        approver(
            "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
            "kubernetes.io/kube-apiserver-client-kubelet",
        ),
        approver("system:certificates.k8s.io:kubelet-serving-approver", "kubernetes.io/kubelet-serving"),
        approver("system:certificates.k8s.io:legacy-unknown-approver", "kubernetes.io/legacy-unknown"),
        cluster_role(
            "system:discovery",
            vec![
                rule(&["get"])
                    .urls(&[
                        "/livez",
                        "/readyz",
                        "/healthz",
                        "/version",
                        "/version/",
                        "/openapi",
                        "/openapi/*",
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                    ])
                    .build(),
            ],
        ),
        cluster_role(
            "system:heapster",
            vec![
                rule(READ).groups(&[""]).resources(&["events", "pods", "nodes", "namespaces"]).build(),
                rule(READ).groups(&["extensions"]).resources(&["deployments"]).build(),
            ],
        ),
        cluster_role(
            "system:kube-aggregator",
            vec![rule(READ).groups(&[""]).resources(&["services", "endpoints"]).build()],
        ),
    ]
}

/// Roles of the control-plane and node components.
fn component_roles() -> Vec<ClusterRole> {
    let token_review = || rule(&["create"]).groups(&["authentication.k8s.io"]).resources(&["tokenreviews"]).build();
    let access_review =
        || rule(&["create"]).groups(&["authorization.k8s.io"]).resources(&["subjectaccessreviews"]).build();
    let leases = |verbs: &[&str]| rule(verbs).groups(&["coordination.k8s.io"]).resources(&["leases"]);
    vec![
        cluster_role(
            "system:kube-controller-manager",
            vec![
                events_rule(),
                leases(&["create"]).build(),
                leases(&["get", "update"]).names(&["kube-controller-manager"]).build(),
                rule(&["create"]).groups(&[""]).resources(&["secrets", "serviceaccounts"]).build(),
                rule(&["delete"]).groups(&[""]).resources(&["secrets"]).build(),
                rule(&["get"])
                    .groups(&[""])
                    .resources(&["namespaces", "secrets", "serviceaccounts", "configmaps"])
                    .build(),
                rule(&["update"]).groups(&[""]).resources(&["secrets", "serviceaccounts"]).build(),
                token_review(),
                access_review(),
                rule(&["list", "watch"]).groups(&["*"]).resources(&["*"]).build(),
                rule(&["create"]).groups(&[""]).resources(&["serviceaccounts/token"]).build(),
            ],
        ),
        cluster_role(
            "system:kube-dns",
            vec![rule(&["list", "watch"]).groups(&[""]).resources(&["endpoints", "services"]).build()],
        ),
        cluster_role(
            "system:kube-scheduler",
            vec![
                events_rule(),
                leases(&["create"]).build(),
                leases(&["get", "update"]).names(&["kube-scheduler"]).build(),
                rule(READ).groups(&[""]).resources(&["nodes"]).build(),
                rule(&["get", "list", "watch", "delete"]).groups(&[""]).resources(&["pods"]).build(),
                rule(&["create"]).groups(&[""]).resources(&["pods/binding", "bindings"]).build(),
                rule(&["patch", "update"]).groups(&[""]).resources(&["pods/status"]).build(),
                rule(READ).groups(&[""]).resources(&["replicationcontrollers", "services"]).build(),
                rule(READ).groups(&["apps", "extensions"]).resources(&["replicasets"]).build(),
                rule(READ).groups(&["apps"]).resources(&["statefulsets"]).build(),
                rule(READ).groups(&["policy"]).resources(&["poddisruptionbudgets"]).build(),
                rule(READ).groups(&[""]).resources(&["persistentvolumeclaims", "persistentvolumes"]).build(),
                rule(&["patch", "update"]).groups(&[""]).resources(&["persistentvolumeclaims"]).build(),
                rule(READ).groups(&["storage.k8s.io"]).resources(&["storageclasses"]).build(),
                token_review(),
                access_review(),
                rule(READ).groups(&["storage.k8s.io"]).resources(&["csinodes"]).build(),
                rule(READ).groups(&[""]).resources(&["namespaces"]).build(),
                rule(READ).groups(&["storage.k8s.io"]).resources(&["csidrivers"]).build(),
                rule(READ).groups(&["storage.k8s.io"]).resources(&["csistoragecapacities"]).build(),
            ],
        ),
        cluster_role(
            "system:kubelet-api-admin",
            vec![
                rule(READ).groups(&[""]).resources(&["nodes"]).build(),
                rule(&["proxy"]).groups(&[""]).resources(&["nodes"]).build(),
                rule(&["*"])
                    .groups(&[""])
                    .resources(&["nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"])
                    .build(),
            ],
        ),
        cluster_role(
            "system:monitoring",
            vec![
                rule(&["get"])
                    .urls(&[
                        "/metrics",
                        "/metrics/slis",
                        "/livez",
                        "/readyz",
                        "/healthz",
                        "/livez/*",
                        "/readyz/*",
                        "/healthz/*",
                    ])
                    .build(),
            ],
        ),
        cluster_role("system:node", node_rules()),
        cluster_role(
            "system:node-bootstrapper",
            vec![
                rule(&["create", "get", "list", "watch"])
                    .groups(&["certificates.k8s.io"])
                    .resources(&["certificatesigningrequests"])
                    .build(),
            ],
        ),
        cluster_role(
            "system:node-problem-detector",
            vec![
                rule(&["get"]).groups(&[""]).resources(&["nodes"]).build(),
                rule(&["patch"]).groups(&[""]).resources(&["nodes/status"]).build(),
                events_rule(),
            ],
        ),
        cluster_role(
            "system:node-proxier",
            vec![
                rule(&["list", "watch"]).groups(&[""]).resources(&["services", "endpoints"]).build(),
                rule(READ).groups(&[""]).resources(&["nodes"]).build(),
                events_rule(),
                rule(&["list", "watch"]).groups(&["discovery.k8s.io"]).resources(&["endpointslices"]).build(),
            ],
        ),
        cluster_role(
            "system:persistent-volume-provisioner",
            vec![
                rule(&["get", "list", "watch", "create", "delete"])
                    .groups(&[""])
                    .resources(&["persistentvolumes"])
                    .build(),
                // update lets the provisioner mark a claim's provisioning as failed.
                rule(&["get", "list", "watch", "update"]).groups(&[""]).resources(&["persistentvolumeclaims"]).build(),
                rule(READ).groups(&["storage.k8s.io"]).resources(&["storageclasses"]).build(),
                rule(&["watch"]).groups(&[""]).resources(&["events"]).build(),
                events_rule(),
            ],
        ),
        cluster_role(
            "system:public-info-viewer",
            vec![rule(&["get"]).urls(&["/livez", "/readyz", "/healthz", "/version", "/version/"]).build()],
        ),
        cluster_role(
            "system:service-account-issuer-discovery",
            vec![rule(&["get"]).urls(&["/.well-known/openid-configuration", "/openid/v1/jwks"]).build()],
        ),
        cluster_role(
            "system:volume-scheduler",
            vec![
                rule(&["get", "list", "watch", "patch", "update"])
                    .groups(&[""])
                    .resources(&["persistentvolumes"])
                    .build(),
                rule(READ).groups(&["storage.k8s.io"]).resources(&["storageclasses"]).build(),
                rule(&["get", "list", "watch", "patch", "update"])
                    .groups(&[""])
                    .resources(&["persistentvolumeclaims"])
                    .build(),
            ],
        ),
    ]
}

/// What kubelets may do beyond what the Node authorizer grants them: upstream's
/// `NodeRules`, which the Node authorizer evaluates for every kubelet request it does
/// not subdivide itself (and the `system:node` ClusterRole holds).
pub fn node_rules() -> Vec<PolicyRule> {
    vec![
        // Non-mutating checks of API access.
        rule(&["create"]).groups(&["authentication.k8s.io"]).resources(&["tokenreviews"]).build(),
        rule(&["create"])
            .groups(&["authorization.k8s.io"])
            .resources(&["subjectaccessreviews", "localsubjectaccessreviews"])
            .build(),
        rule(READ).groups(&[""]).resources(&["services"]).build(),
        rule(&["create", "get", "list", "watch"]).groups(&[""]).resources(&["nodes"]).build(),
        rule(&["update", "patch"]).groups(&[""]).resources(&["nodes/status"]).build(),
        rule(&["update", "patch"]).groups(&[""]).resources(&["nodes"]).build(),
        rule(&["create", "update", "patch"]).groups(&[""]).resources(&["events"]).build(),
        rule(READ).groups(&[""]).resources(&["pods"]).build(),
        // Mirror pods of static pods.
        rule(&["create", "delete"]).groups(&[""]).resources(&["pods"]).build(),
        rule(&["update", "patch"]).groups(&[""]).resources(&["pods/status"]).build(),
        rule(&["create"]).groups(&[""]).resources(&["pods/eviction"]).build(),
        rule(READ).groups(&[""]).resources(&["secrets", "configmaps"]).build(),
        rule(&["get"]).groups(&[""]).resources(&["persistentvolumeclaims", "persistentvolumes"]).build(),
        rule(&["get"]).groups(&[""]).resources(&["endpoints"]).build(),
        rule(&["create", "get", "list", "watch"])
            .groups(&["certificates.k8s.io"])
            .resources(&["certificatesigningrequests"])
            .build(),
        rule(&["get", "create", "update", "patch", "delete"])
            .groups(&["coordination.k8s.io"])
            .resources(&["leases"])
            .build(),
        rule(&["get"]).groups(&["storage.k8s.io"]).resources(&["volumeattachments"]).build(),
        rule(&["create"]).groups(&[""]).resources(&["serviceaccounts/token"]).build(),
        rule(&["get", "update", "patch"]).groups(&[""]).resources(&["persistentvolumeclaims/status"]).build(),
        rule(READ).groups(&["storage.k8s.io"]).resources(&["csidrivers"]).build(),
        rule(&["get", "create", "update", "patch", "delete"])
            .groups(&["storage.k8s.io"])
            .resources(&["csinodes"])
            .build(),
        rule(READ).groups(&["node.k8s.io"]).resources(&["runtimeclasses"]).build(),
    ]
}

/// Every default ClusterRole except the per-controller ones, sorted by name.
pub(super) fn cluster_roles() -> Vec<ClusterRole> {
    let mut roles = super::user_roles::user_roles();
    roles.extend(system_roles());
    roles.extend(component_roles());
    roles.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    roles
}

/// The default ClusterRoleBindings of those roles.
pub(super) fn cluster_role_bindings() -> Vec<ClusterRoleBinding> {
    vec![
        cluster_binding("cluster-admin", vec![group("system:masters")]),
        cluster_binding("system:monitoring", vec![group("system:monitoring")]),
        cluster_binding("system:discovery", vec![group("system:authenticated")]),
        cluster_binding("system:basic-user", vec![group("system:authenticated")]),
        cluster_binding(
            "system:public-info-viewer",
            vec![group("system:authenticated"), group("system:unauthenticated")],
        ),
        cluster_binding("system:node-proxier", vec![user("system:kube-proxy")]),
        cluster_binding("system:kube-controller-manager", vec![user("system:kube-controller-manager")]),
        cluster_binding("system:kube-dns", vec![service_account("kube-system", "kube-dns")]),
        cluster_binding("system:kube-scheduler", vec![user("system:kube-scheduler")]),
        cluster_binding("system:volume-scheduler", vec![user("system:kube-scheduler")]),
        // Kept without subjects since the Node authorizer took over; reconciliation of
        // older clusters empties it.
        cluster_binding("system:node", vec![]),
        cluster_binding("system:service-account-issuer-discovery", vec![group("system:serviceaccounts")]),
    ]
}
