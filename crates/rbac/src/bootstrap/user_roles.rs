//! The user-facing default ClusterRoles: cluster-admin, and admin, edit and view, which
//! aggregate the `system:aggregate-to-*` roles (and any role a user labels the same way).

use k8s_openapi::api::rbac::v1::{AggregationRule, ClusterRole, PolicyRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::{READ, READ_WRITE, WRITE, cluster_role, default_meta, rule};

const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

/// A role whose rules are aggregated from roles labelled `selector_label: "true"`.
fn aggregated(name: &str, selector_label: &str, labels: &[(&str, &str)]) -> ClusterRole {
    let selector = LabelSelector {
        match_labels: Some([(selector_label.to_owned(), "true".to_owned())].into()),
        ..Default::default()
    };
    ClusterRole {
        metadata: default_meta(name, None, labels),
        aggregation_rule: Some(AggregationRule { cluster_role_selectors: Some(vec![selector]) }),
        rules: None,
    }
}

fn labelled(name: &str, label: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole { metadata: default_meta(name, None, &[(label, "true")]), rules: Some(rules), aggregation_rule: None }
}

/// The user-facing roles: cluster-admin and the aggregated admin, edit and view.
pub(super) fn user_roles() -> Vec<ClusterRole> {
    vec![
        aggregated("admin", AGGREGATE_TO_ADMIN, &[]),
        cluster_role(
            "cluster-admin",
            vec![rule(&["*"]).groups(&["*"]).resources(&["*"]).build(), rule(&["*"]).urls(&["*"]).build()],
        ),
        aggregated("edit", AGGREGATE_TO_EDIT, &[(AGGREGATE_TO_ADMIN, "true")]),
        labelled(
            "system:aggregate-to-admin",
            AGGREGATE_TO_ADMIN,
            vec![
                rule(&["create"]).groups(&["authorization.k8s.io"]).resources(&["localsubjectaccessreviews"]).build(),
                rule(READ_WRITE).groups(&["rbac.authorization.k8s.io"]).resources(&["roles", "rolebindings"]).build(),
            ],
        ),
        labelled(
            "system:aggregate-to-edit",
            AGGREGATE_TO_EDIT,
            vec![
                rule(READ)
                    .groups(&[""])
                    .resources(&[
                        "pods/attach",
                        "pods/proxy",
                        "pods/exec",
                        "pods/portforward",
                        "secrets",
                        "services/proxy",
                    ])
                    .build(),
                rule(&["impersonate"]).groups(&[""]).resources(&["serviceaccounts"]).build(),
                rule(WRITE)
                    .groups(&[""])
                    .resources(&["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"])
                    .build(),
                rule(&["create"]).groups(&[""]).resources(&["pods/eviction"]).build(),
                rule(WRITE)
                    .groups(&[""])
                    .resources(&[
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                        "persistentvolumeclaims",
                        "configmaps",
                        "secrets",
                        "events",
                    ])
                    .build(),
                rule(&["create"]).groups(&[""]).resources(&["serviceaccounts/token"]).build(),
                rule(WRITE)
                    .groups(&["apps"])
                    .resources(&[
                        "statefulsets",
                        "statefulsets/scale",
                        "daemonsets",
                        "deployments",
                        "deployments/scale",
                        "deployments/rollback",
                        "replicasets",
                        "replicasets/scale",
                    ])
                    .build(),
                rule(WRITE).groups(&["autoscaling"]).resources(&["horizontalpodautoscalers"]).build(),
                rule(WRITE).groups(&["batch"]).resources(&["jobs", "cronjobs"]).build(),
                rule(WRITE)
                    .groups(&["extensions"])
                    .resources(&[
                        "daemonsets",
                        "deployments",
                        "deployments/scale",
                        "deployments/rollback",
                        "ingresses",
                        "replicasets",
                        "replicasets/scale",
                        "replicationcontrollers/scale",
                        "networkpolicies",
                    ])
                    .build(),
                rule(WRITE).groups(&["policy"]).resources(&["poddisruptionbudgets"]).build(),
                rule(WRITE).groups(&["networking.k8s.io"]).resources(&["networkpolicies", "ingresses"]).build(),
                rule(READ_WRITE).groups(&["coordination.k8s.io"]).resources(&["leases"]).build(),
            ],
        ),
        labelled(
            "system:aggregate-to-view",
            AGGREGATE_TO_VIEW,
            vec![
                rule(READ)
                    .groups(&[""])
                    .resources(&[
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "configmaps",
                    ])
                    .build(),
                rule(READ)
                    .groups(&[""])
                    .resources(&[
                        "limitranges",
                        "resourcequotas",
                        "bindings",
                        "events",
                        "pods/status",
                        "resourcequotas/status",
                        "namespaces/status",
                        "replicationcontrollers/status",
                        "pods/log",
                    ])
                    .build(),
                // Reading namespaces at namespace scope reads *this* namespace: an indicator
                // of which namespaces a user may use.
                rule(READ).groups(&[""]).resources(&["namespaces"]).build(),
                rule(READ).groups(&["discovery.k8s.io"]).resources(&["endpointslices"]).build(),
                rule(READ)
                    .groups(&["apps"])
                    .resources(&[
                        "controllerrevisions",
                        "statefulsets",
                        "statefulsets/status",
                        "statefulsets/scale",
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/status",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/status",
                        "replicasets/scale",
                    ])
                    .build(),
                rule(READ)
                    .groups(&["autoscaling"])
                    .resources(&["horizontalpodautoscalers", "horizontalpodautoscalers/status"])
                    .build(),
                rule(READ)
                    .groups(&["batch"])
                    .resources(&["jobs", "cronjobs", "cronjobs/status", "jobs/status"])
                    .build(),
                rule(READ)
                    .groups(&["extensions"])
                    .resources(&[
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "ingresses",
                        "ingresses/status",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "replicationcontrollers/scale",
                        "networkpolicies",
                    ])
                    .build(),
                rule(READ)
                    .groups(&["policy"])
                    .resources(&["poddisruptionbudgets", "poddisruptionbudgets/status"])
                    .build(),
                rule(READ)
                    .groups(&["networking.k8s.io"])
                    .resources(&["networkpolicies", "ingresses", "ingresses/status"])
                    .build(),
            ],
        ),
        aggregated("view", AGGREGATE_TO_VIEW, &[(AGGREGATE_TO_EDIT, "true")]),
    ]
}
