//! The default roles and bindings every cluster starts with (upstream's
//! `bootstrappolicy`: `policy.go`, `controller_policy.go`, `namespace_policy.go`), with
//! the aggregated ClusterRoles (admin, edit, view) already filled in.

mod cluster_roles;
mod controller_roles;
mod namespace_roles;
mod user_roles;

pub use cluster_roles::node_rules;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attributes, Policy, UserInfo};

    fn policy() -> (BootstrapPolicy, Policy) {
        let b = bootstrap_policy();
        let p = Policy::new(&b.cluster_roles, &b.roles, &b.cluster_role_bindings, &b.role_bindings);
        (b, p)
    }

    fn can(p: &Policy, user: &UserInfo, verb: &str, group: &str, resource: &str, ns: &str) -> bool {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        p.authorize(&Attributes {
            user: user.clone(),
            verb: verb.into(),
            is_resource: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: ns.into(),
            ..Default::default()
        })
        .is_allowed()
    }

    fn can_path(p: &Policy, user: &UserInfo, verb: &str, path: &str) -> bool {
        p.authorize(&Attributes { user: user.clone(), verb: verb.into(), path: path.into(), ..Default::default() })
            .is_allowed()
    }

    fn rules_of<'a>(b: &'a BootstrapPolicy, name: &str) -> &'a [PolicyRule] {
        let role = b.cluster_roles.iter().find(|r| r.metadata.name.as_deref() == Some(name)).unwrap();
        role.rules.as_deref().unwrap()
    }

    #[test]
    fn every_default_is_labelled_and_autoupdated() {
        let b = bootstrap_policy();
        let metas = b
            .cluster_roles
            .iter()
            .map(|r| &r.metadata)
            .chain(b.cluster_role_bindings.iter().map(|r| &r.metadata))
            .chain(b.roles.iter().map(|r| &r.metadata))
            .chain(b.role_bindings.iter().map(|r| &r.metadata));
        for meta in metas {
            assert_eq!(meta.labels.as_ref().unwrap()[BOOTSTRAPPING_LABEL.0], BOOTSTRAPPING_LABEL.1);
            assert_eq!(meta.annotations.as_ref().unwrap()[AUTOUPDATE_ANNOTATION.0], AUTOUPDATE_ANNOTATION.1);
        }
        for binding in &b.cluster_role_bindings {
            assert!(b.cluster_roles.iter().any(|r| r.metadata.name == Some(binding.role_ref.name.clone())));
        }
    }

    #[test]
    fn cluster_admin_allows_everything_to_system_masters() {
        let (_, p) = policy();
        let admin = UserInfo::new("kubernetes-admin", &["system:masters", "system:authenticated"]);
        assert!(can(&p, &admin, "delete", "apps", "deployments", "x"));
        assert!(can(&p, &admin, "escalate", "rbac.authorization.k8s.io", "clusterroles", ""));
        assert!(can(&p, &admin, "get", "", "pods/log", "x"));
        assert!(can_path(&p, &admin, "post", "/anything/at/all"));
    }

    #[test]
    fn unauthenticated_may_only_read_public_info() {
        let (_, p) = policy();
        let anonymous = UserInfo::new("system:anonymous", &["system:unauthenticated"]);
        for path in ["/healthz", "/livez", "/readyz", "/version", "/version/"] {
            assert!(can_path(&p, &anonymous, "get", path), "{path}");
        }
        assert!(!can_path(&p, &anonymous, "get", "/healthz/etcd"));
        assert!(!can_path(&p, &anonymous, "get", "/api"));
        assert!(!can_path(&p, &anonymous, "get", "/metrics"));
        assert!(!can_path(&p, &anonymous, "post", "/healthz"));
        assert!(!can(&p, &anonymous, "list", "", "pods", "default"));
        assert!(!can(&p, &anonymous, "create", "authorization.k8s.io", "selfsubjectaccessreviews", ""));
    }

    #[test]
    fn authenticated_users_discover_and_review_themselves() {
        let (_, p) = policy();
        let user = UserInfo::new("jane", &["system:authenticated"]);
        assert!(can_path(&p, &user, "get", "/apis/apps/v1"));
        assert!(can_path(&p, &user, "get", "/openapi/v3"));
        assert!(!can_path(&p, &user, "get", "/metrics"));
        assert!(can(&p, &user, "create", "authorization.k8s.io", "selfsubjectrulesreviews", ""));
        assert!(!can(&p, &user, "list", "", "pods", "default"));
        let review = p.rules_for(&user, "default");
        let resources: Vec<String> =
            review.resource_rules.iter().flat_map(|r| r.resources.clone().unwrap_or_default()).collect();
        assert_eq!(resources, ["selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"]);
        assert_eq!(review.non_resource_rules.len(), 2);
    }

    #[test]
    fn admin_edit_and_view_are_aggregated() {
        let b = bootstrap_policy();
        assert_eq!(rules_of(&b, "view"), rules_of(&b, "system:aggregate-to-view"));
        let edit = rules_of(&b, "edit");
        assert_eq!(edit.len(), rules_of(&b, "system:aggregate-to-edit").len() + rules_of(&b, "view").len());
        assert_eq!(&edit[..rules_of(&b, "system:aggregate-to-edit").len()], rules_of(&b, "system:aggregate-to-edit"));
        let admin = rules_of(&b, "admin");
        assert_eq!(&admin[..edit.len()], edit);
        assert_eq!(&admin[edit.len()..], rules_of(&b, "system:aggregate-to-admin"));

        let bind = |role: &str, user: &str| RoleBinding {
            metadata: ObjectMeta { name: Some(user.into()), namespace: Some("team".into()), ..Default::default() },
            role_ref: role_ref("ClusterRole", role),
            subjects: Some(vec![super::user(user)]),
        };
        let bindings = [bind("view", "viewer"), bind("edit", "editor"), bind("admin", "owner")];
        let p2 = Policy::new(&b.cluster_roles, &[], &[], &bindings);
        let (viewer, editor, owner) =
            (UserInfo::new("viewer", &[]), UserInfo::new("editor", &[]), UserInfo::new("owner", &[]));
        assert!(can(&p2, &viewer, "list", "apps", "deployments", "team"));
        assert!(!can(&p2, &viewer, "get", "", "secrets", "team"));
        assert!(!can(&p2, &viewer, "list", "apps", "deployments", "other"));
        assert!(can(&p2, &editor, "get", "", "secrets", "team"));
        assert!(can(&p2, &editor, "patch", "apps", "deployments/scale", "team"));
        assert!(!can(&p2, &editor, "create", "rbac.authorization.k8s.io", "rolebindings", "team"));
        assert!(can(&p2, &owner, "create", "rbac.authorization.k8s.io", "rolebindings", "team"));
        assert!(!can(&p2, &owner, "get", "", "resourcequotas/status", "other"));
    }

    #[test]
    fn components_and_controllers_hold_their_roles() {
        let (_, p) = policy();
        let scheduler = UserInfo::new("system:kube-scheduler", &["system:authenticated"]);
        assert!(can(&p, &scheduler, "create", "", "pods/binding", "default"));
        assert!(can(&p, &scheduler, "update", "coordination.k8s.io", "leases", "kube-system"));
        assert!(!can(&p, &scheduler, "create", "", "pods", "default"));
        let kcm = UserInfo::new("system:kube-controller-manager", &["system:authenticated"]);
        assert!(can(&p, &kcm, "watch", "apps", "deployments", ""));
        assert!(!can(&p, &kcm, "update", "apps", "deployments", "default"));
        let deployments = UserInfo::service_account("kube-system", "deployment-controller");
        assert!(can(&p, &deployments, "update", "apps", "deployments/status", "default"));
        assert!(can(&p, &deployments, "create", "apps", "replicasets", "default"));
        assert!(!can(&p, &deployments, "create", "", "pods", "default"));
        let namespaces = UserInfo::service_account("kube-system", "namespace-controller");
        assert!(can(&p, &namespaces, "deletecollection", "example.com", "widgets", "doomed"));
        let gc = UserInfo::service_account("kube-system", "generic-garbage-collector");
        assert!(can(&p, &gc, "patch", "apps", "replicasets", "default"));
        // Service accounts are `system:serviceaccounts` too: they may read OIDC discovery.
        assert!(can_path(&p, &gc, "get", "/.well-known/openid-configuration"));
    }
}
