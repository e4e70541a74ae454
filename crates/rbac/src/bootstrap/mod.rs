//! The default roles and bindings every cluster starts with (upstream's
//! `bootstrappolicy`: `policy.go`, `controller_policy.go`, `namespace_policy.go`), with
//! the aggregated ClusterRoles (admin, edit, view) already filled in.

mod cluster_roles;
mod controller_roles;
mod namespace_roles;

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::aggregate;

/// Marks an object as one of the defaults: `kubernetes.io/bootstrapping: rbac-defaults`.
pub const BOOTSTRAPPING_LABEL: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");
/// Lets the API server reconcile a default back on start unless set to "false".
pub const AUTOUPDATE_ANNOTATION: (&str, &str) = ("rbac.authorization.kubernetes.io/autoupdate", "true");

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The default objects, in the order upstream lists them.
#[derive(Clone, Debug, Default)]
pub struct BootstrapPolicy {
    pub cluster_roles: Vec<ClusterRole>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
}

/// Upstream's default policy for Kubernetes 1.33 with default feature gates.
pub fn bootstrap_policy() -> BootstrapPolicy {
    let mut cluster_roles = cluster_roles::cluster_roles();
    cluster_roles.extend(controller_roles::controller_roles());
    for (name, rules) in aggregate(&cluster_roles) {
        if let Some(role) = cluster_roles.iter_mut().find(|r| r.metadata.name.as_deref() == Some(&name)) {
            role.rules = Some(rules);
        }
    }
    let mut cluster_role_bindings = cluster_roles::cluster_role_bindings();
    cluster_role_bindings.extend(controller_roles::controller_role_bindings());
    let (roles, role_bindings) = namespace_roles::namespace_roles();
    BootstrapPolicy { cluster_roles, cluster_role_bindings, roles, role_bindings }
}

pub(crate) const READ: &[&str] = &["get", "list", "watch"];
pub(crate) const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
pub(crate) const READ_WRITE: &[&str] =
    &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];

/// Builds a rule; like upstream's `PolicyRuleBuilder`, every list comes out sorted.
pub(crate) struct RuleBuilder(PolicyRule);

pub(crate) fn rule(verbs: &[&str]) -> RuleBuilder {
    RuleBuilder(PolicyRule { verbs: strings(verbs), ..Default::default() })
}

fn strings(items: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    out.sort();
    out.dedup();
    out
}

impl RuleBuilder {
    pub(crate) fn groups(mut self, groups: &[&str]) -> Self {
        self.0.api_groups = Some(strings(groups));
        self
    }

    pub(crate) fn resources(mut self, resources: &[&str]) -> Self {
        self.0.resources = Some(strings(resources));
        self
    }

    pub(crate) fn names(mut self, names: &[&str]) -> Self {
        self.0.resource_names = Some(strings(names));
        self
    }

    pub(crate) fn urls(mut self, urls: &[&str]) -> Self {
        self.0.non_resource_urls = Some(strings(urls));
        self
    }

    pub(crate) fn build(self) -> PolicyRule {
        self.0
    }
}

/// The rule every component that records events holds.
pub(crate) fn events_rule() -> PolicyRule {
    rule(&["create", "update", "patch"]).groups(&["", "events.k8s.io"]).resources(&["events"]).build()
}

/// Metadata with the bootstrapping label (plus `extra_labels`) and autoupdate annotation.
pub(crate) fn default_meta(name: &str, namespace: Option<&str>, extra_labels: &[(&str, &str)]) -> ObjectMeta {
    let mut labels: BTreeMap<String, String> =
        extra_labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    labels.insert(BOOTSTRAPPING_LABEL.0.to_owned(), BOOTSTRAPPING_LABEL.1.to_owned());
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(labels),
        annotations: Some(BTreeMap::from([(AUTOUPDATE_ANNOTATION.0.to_owned(), AUTOUPDATE_ANNOTATION.1.to_owned())])),
        ..Default::default()
    }
}

pub(crate) fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole { metadata: default_meta(name, None, &[]), rules: Some(rules), aggregation_rule: None }
}

pub(crate) fn user(name: &str) -> Subject {
    Subject { kind: "User".into(), api_group: Some(RBAC_GROUP.into()), name: name.into(), namespace: None }
}

pub(crate) fn group(name: &str) -> Subject {
    Subject { kind: "Group".into(), api_group: Some(RBAC_GROUP.into()), name: name.into(), namespace: None }
}

pub(crate) fn service_account(namespace: &str, name: &str) -> Subject {
    Subject { kind: "ServiceAccount".into(), api_group: None, name: name.into(), namespace: Some(namespace.into()) }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef { api_group: RBAC_GROUP.into(), kind: kind.into(), name: name.into() }
}

/// A ClusterRoleBinding of the ClusterRole of the same name.
pub(crate) fn cluster_binding(name: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: default_meta(name, None, &[]),
        role_ref: role_ref("ClusterRole", name),
        subjects: (!subjects.is_empty()).then_some(subjects),
    }
}

/// A RoleBinding named `name` in `namespace` of the Role `role`.
pub(crate) fn role_binding(namespace: &str, name: &str, role: &str, subjects: Vec<Subject>) -> RoleBinding {
    RoleBinding {
        metadata: default_meta(name, Some(namespace), &[]),
        role_ref: role_ref("Role", role),
        subjects: Some(subjects),
    }
}
