//! Upstream's per-controller roles (`controller_policy.go`): each controller of the
//! kube-controller-manager runs as service account `kube-system/NAME` bound to
//! `system:controller:NAME`. Controllers behind feature gates off by default in 1.33
//! (dynamic resource allocation, VolumeAttributesClass) are not listed.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule};

use super::{READ, cluster_binding, cluster_role, events_rule, rule, service_account};

const PREFIX: &str = "system:controller:";

/// Each controller's service account name and rules, sorted by name.
fn controllers() -> Vec<(&'static str, Vec<PolicyRule>)> {
    let core = |verbs: &[&str], resources: &[&str]| rule(verbs).groups(&[""]).resources(resources).build();
    let apps_ext =
        |verbs: &[&str], resources: &[&str]| rule(verbs).groups(&["apps", "extensions"]).resources(resources).build();
    let group =
        |verbs: &[&str], group: &str, resources: &[&str]| rule(verbs).groups(&[group]).resources(resources).build();
    let owned_pods = || core(&["list", "watch", "create", "delete", "patch"], &["pods"]);
    vec![
        (
            "attachdetach-controller",
            vec![
                core(&["list", "watch"], &["persistentvolumes", "persistentvolumeclaims"]),
                core(&["get", "list", "watch"], &["nodes"]),
                core(&["patch", "update"], &["nodes/status"]),
                core(&["list", "watch"], &["pods"]),
                events_rule(),
                group(&["get", "create", "delete", "list", "watch"], "storage.k8s.io", &["volumeattachments"]),
                group(READ, "storage.k8s.io", &["csidrivers"]),
                group(READ, "storage.k8s.io", &["csinodes"]),
            ],
        ),
        (
            "certificate-controller",
            vec![
                group(&["get", "list", "watch", "delete"], "certificates.k8s.io", &["certificatesigningrequests"]),
                group(
                    &["update"],
                    "certificates.k8s.io",
                    &["certificatesigningrequests/status", "certificatesigningrequests/approval"],
                ),
                rule(&["approve"])
                    .groups(&["certificates.k8s.io"])
                    .resources(&["signers"])
                    .names(&["kubernetes.io/kube-apiserver-client-kubelet"])
                    .build(),
                rule(&["sign"])
                    .groups(&["certificates.k8s.io"])
                    .resources(&["signers"])
                    .names(&[
                        "kubernetes.io/kube-apiserver-client",
                        "kubernetes.io/kube-apiserver-client-kubelet",
                        "kubernetes.io/kubelet-serving",
                        "kubernetes.io/legacy-unknown",
                    ])
                    .build(),
                group(&["create"], "authorization.k8s.io", &["subjectaccessreviews"]),
                events_rule(),
            ],
        ),
        (
            "clusterrole-aggregation-controller",
            vec![
                // escalate lets it write rules it does not hold itself.
                group(
                    &["escalate", "get", "list", "watch", "update", "patch"],
                    "rbac.authorization.k8s.io",
                    &["clusterroles"],
                ),
            ],
        ),
        (
            "cronjob-controller",
            vec![
                group(&["get", "list", "watch", "update"], "batch", &["cronjobs"]),
                group(&["get", "list", "watch", "create", "update", "delete", "patch"], "batch", &["jobs"]),
                group(&["update"], "batch", &["cronjobs/status"]),
                group(&["update"], "batch", &["cronjobs/finalizers"]),
                core(&["list", "watch", "delete"], &["pods"]),
                events_rule(),
            ],
        ),
        (
            "daemon-set-controller",
            vec![
                apps_ext(READ, &["daemonsets"]),
                apps_ext(&["update"], &["daemonsets/status"]),
                apps_ext(&["update"], &["daemonsets/finalizers"]),
                core(&["list", "watch"], &["nodes"]),
                owned_pods(),
                core(&["create"], &["pods/binding"]),
                group(
                    &["get", "list", "watch", "create", "delete", "update", "patch"],
                    "apps",
                    &["controllerrevisions"],
                ),
                events_rule(),
            ],
        ),
        (
            "deployment-controller",
            vec![
                apps_ext(&["get", "list", "watch", "update"], &["deployments"]),
                apps_ext(&["update"], &["deployments/status"]),
                apps_ext(&["update"], &["deployments/finalizers"]),
                apps_ext(&["get", "list", "watch", "create", "update", "patch", "delete"], &["replicasets"]),
                // Pods are read to see they are gone; update relabels them during rollbacks.
                core(&["get", "list", "update", "watch"], &["pods"]),
                events_rule(),
            ],
        ),
        (
            "disruption-controller",
            vec![
                apps_ext(READ, &["deployments"]),
                apps_ext(READ, &["replicasets"]),
                core(READ, &["replicationcontrollers"]),
                group(READ, "policy", &["poddisruptionbudgets"]),
                group(READ, "apps", &["statefulsets"]),
                group(&["update"], "policy", &["poddisruptionbudgets/status"]),
                core(&["patch", "update"], &["pods/status"]),
                rule(&["get"]).groups(&["*"]).resources(&["*/scale"]).build(),
                events_rule(),
            ],
        ),
        (
            "endpoint-controller",
            vec![
                core(READ, &["services", "pods"]),
                core(&["get", "list", "watch", "create", "update", "delete"], &["endpoints"]),
                core(&["create"], &["endpoints/restricted"]),
                events_rule(),
            ],
        ),
        (
            "endpointslice-controller",
            vec![
                core(READ, &["services", "pods", "nodes"]),
                // Owner references with blockOwnerDeletion need the owner's finalizers.
                core(&["update"], &["services/finalizers"]),
                group(&["get", "list", "watch", "create", "update", "delete"], "discovery.k8s.io", &["endpointslices"]),
                events_rule(),
            ],
        ),
        (
            "endpointslicemirroring-controller",
            vec![
                core(READ, &["services", "endpoints"]),
                core(&["update"], &["services/finalizers"]),
                core(&["update"], &["endpoints/finalizers"]),
                group(&["get", "list", "watch", "create", "update", "delete"], "discovery.k8s.io", &["endpointslices"]),
                events_rule(),
            ],
        ),
        (
            "ephemeral-volume-controller",
            vec![
                core(&["get", "list", "watch"], &["pods"]),
                core(&["update"], &["pods/finalizers"]),
                core(&["get", "list", "watch", "create"], &["persistentvolumeclaims"]),
                events_rule(),
            ],
        ),
        (
            "expand-controller",
            vec![
                core(&["get", "list", "watch", "update", "patch"], &["persistentvolumes"]),
                core(&["update", "patch"], &["persistentvolumeclaims/status"]),
                core(READ, &["persistentvolumeclaims"]),
                events_rule(),
            ],
        ),
        (
            "generic-garbage-collector",
            vec![
                // The collector deletes and updates arbitrary resources.
                rule(&["get", "list", "watch", "patch", "update", "delete"]).groups(&["*"]).resources(&["*"]).build(),
                events_rule(),
            ],
        ),
        (
            "horizontal-pod-autoscaler",
            vec![
                group(READ, "autoscaling", &["horizontalpodautoscalers"]),
                group(&["update"], "autoscaling", &["horizontalpodautoscalers/status"]),
                rule(&["get", "update"]).groups(&["*"]).resources(&["*/scale"]).build(),
                core(&["list", "watch"], &["pods"]),
                group(&["list", "watch"], "metrics.k8s.io", &["pods"]),
                group(READ, "custom.metrics.k8s.io", &["*"]),
                group(READ, "external.metrics.k8s.io", &["*"]),
                events_rule(),
            ],
        ),
        (
            "job-controller",
            vec![
                group(&["get", "list", "watch", "update", "patch"], "batch", &["jobs"]),
                group(&["update"], "batch", &["jobs/status"]),
                group(&["update"], "batch", &["jobs/finalizers"]),
                owned_pods(),
                events_rule(),
            ],
        ),
        (
            "legacy-service-account-token-cleaner",
            vec![
                rule(&["get"])
                    .groups(&[""])
                    .resources(&["configmaps"])
                    .names(&["kube-apiserver-legacy-service-account-token-tracking"])
                    .build(),
                core(&["patch", "delete"], &["secrets"]),
            ],
        ),
        (
            "namespace-controller",
            vec![
                core(&["get", "list", "watch", "delete"], &["namespaces"]),
                core(&["update"], &["namespaces/finalize", "namespaces/status"]),
                rule(&["get", "list", "delete", "deletecollection", "watch"]).groups(&["*"]).resources(&["*"]).build(),
            ],
        ),
        (
            "node-controller",
            vec![
                core(&["get", "list", "update", "delete", "patch", "watch"], &["nodes"]),
                core(&["patch", "update"], &["nodes/status"]),
                core(&["patch", "update"], &["pods/status"]),
                core(&["list", "watch", "delete", "get"], &["pods"]),
                events_rule(),
            ],
        ),
        (
            "persistent-volume-binder",
            vec![
                core(&["get", "list", "watch", "update", "create", "delete"], &["persistentvolumes"]),
                core(&["update"], &["persistentvolumes/status"]),
                core(&["get", "list", "watch", "update"], &["persistentvolumeclaims"]),
                core(&["update"], &["persistentvolumeclaims/status"]),
                core(&["list", "watch", "get", "create", "delete"], &["pods"]),
                group(READ, "storage.k8s.io", &["storageclasses"]),
                core(&["list", "watch"], &["nodes"]),
                events_rule(),
                core(&["watch"], &["events"]),
            ],
        ),
        (
            "pod-garbage-collector",
            vec![
                core(&["list", "watch", "delete"], &["pods"]),
                core(&["get", "list", "watch"], &["nodes"]),
                core(&["patch"], &["pods/status"]),
            ],
        ),
        (
            "pv-protection-controller",
            vec![core(&["get", "list", "watch", "update"], &["persistentvolumes"]), events_rule()],
        ),
        (
            "pvc-protection-controller",
            vec![
                core(&["get", "list", "watch", "update"], &["persistentvolumeclaims"]),
                core(&["update"], &["persistentvolumeclaims/status"]),
                core(&["list", "watch", "get"], &["pods"]),
                events_rule(),
            ],
        ),
        (
            "replicaset-controller",
            vec![
                apps_ext(&["get", "list", "watch", "update"], &["replicasets"]),
                apps_ext(&["update"], &["replicasets/status"]),
                apps_ext(&["update"], &["replicasets/finalizers"]),
                owned_pods(),
                events_rule(),
            ],
        ),
        (
            "replication-controller",
            vec![
                // The ReplicaSet controller code, run for ReplicationControllers.
                core(&["get", "list", "watch", "update"], &["replicationcontrollers"]),
                core(&["update"], &["replicationcontrollers/status"]),
                core(&["update"], &["replicationcontrollers/finalizers"]),
                owned_pods(),
                events_rule(),
            ],
        ),
        (
            "resourcequota-controller",
            vec![
                // Quota counts every kind of object.
                rule(&["list", "watch"]).groups(&["*"]).resources(&["*"]).build(),
                core(&["update"], &["resourcequotas/status"]),
                events_rule(),
            ],
        ),
        ("root-ca-cert-publisher", vec![core(&["create", "update"], &["configmaps"]), events_rule()]),
        (
            "route-controller",
            vec![core(&["list", "watch"], &["nodes"]), core(&["patch"], &["nodes/status"]), events_rule()],
        ),
        (
            "selinux-warning-controller",
            vec![
                events_rule(),
                core(READ, &["persistentvolumes"]),
                core(READ, &["persistentvolumeclaims"]),
                core(READ, &["pods"]),
                group(READ, "storage.k8s.io", &["csidrivers"]),
            ],
        ),
        ("service-account-controller", vec![core(&["create"], &["serviceaccounts"]), events_rule()]),
        (
            "service-cidrs-controller",
            vec![
                group(&["get", "list", "watch", "patch", "update"], "networking.k8s.io", &["servicecidrs"]),
                group(&["patch", "update"], "networking.k8s.io", &["servicecidrs/finalizers"]),
                group(&["patch", "update"], "networking.k8s.io", &["servicecidrs/status"]),
                group(READ, "networking.k8s.io", &["ipaddresses"]),
                events_rule(),
            ],
        ),
        (
            "service-controller",
            vec![
                core(READ, &["services"]),
                core(&["patch", "update"], &["services/status"]),
                core(&["list", "watch"], &["nodes"]),
                events_rule(),
            ],
        ),
        (
            "statefulset-controller",
            vec![
                core(&["list", "watch"], &["pods"]),
                group(READ, "apps", &["statefulsets"]),
                group(&["update"], "apps", &["statefulsets/status"]),
                group(&["update"], "apps", &["statefulsets/finalizers"]),
                core(&["get", "create", "delete", "update", "patch"], &["pods"]),
                group(
                    &["get", "list", "watch", "create", "delete", "update", "patch"],
                    "apps",
                    &["controllerrevisions"],
                ),
                core(&["get", "create", "list", "watch"], &["persistentvolumeclaims"]),
                core(&["update", "delete"], &["persistentvolumeclaims"]),
                core(&["update"], &["pods/finalizers"]),
                events_rule(),
            ],
        ),
        (
            "ttl-after-finished-controller",
            vec![group(&["get", "list", "watch", "delete"], "batch", &["jobs"]), events_rule()],
        ),
        ("ttl-controller", vec![core(&["update", "patch", "list", "watch"], &["nodes"]), events_rule()]),
        (
            "validatingadmissionpolicy-status-controller",
            vec![
                group(READ, "admissionregistration.k8s.io", &["validatingadmissionpolicies"]),
                group(
                    &["get", "patch", "update"],
                    "admissionregistration.k8s.io",
                    &["validatingadmissionpolicies/status"],
                ),
                events_rule(),
            ],
        ),
    ]
}

/// The `system:controller:*` ClusterRoles.
pub(super) fn controller_roles() -> Vec<ClusterRole> {
    controllers().into_iter().map(|(name, rules)| cluster_role(&format!("{PREFIX}{name}"), rules)).collect()
}

/// Each controller role bound to its controller's service account in kube-system.
pub(super) fn controller_role_bindings() -> Vec<ClusterRoleBinding> {
    controllers()
        .into_iter()
        .map(|(name, _)| cluster_binding(&format!("{PREFIX}{name}"), vec![service_account("kube-system", name)]))
        .collect()
}
