//! A snapshot of the cluster's RBAC objects, indexed for per-request decisions
//! (upstream's `DefaultRuleResolver` over listers, and the `RBACAuthorizer`).

use std::collections::HashMap;

use k8s_openapi::api::authorization::v1::{NonResourceRule, ResourceRule};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};

use crate::attributes::service_account_username;
use crate::escalation::{EscalationError, confirm_no_escalation};
use crate::rule::rule_allows;
use crate::{Attributes, Decision, UserInfo};

/// The RBAC objects at one moment. Build a new one when any of them changes; every
/// method is a read.
#[derive(Debug, Default)]
pub struct Policy {
    cluster_roles: HashMap<String, Vec<PolicyRule>>,
    /// Keyed by (namespace, name).
    roles: HashMap<(String, String), Vec<PolicyRule>>,
    cluster_bindings: Bindings,
    /// Keyed by namespace.
    role_bindings: HashMap<String, Bindings>,
}

/// What `rules_for` found (the content of a SelfSubjectRulesReview status).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RulesReview {
    pub resource_rules: Vec<ResourceRule>,
    pub non_resource_rules: Vec<NonResourceRule>,
    /// RBAC always knows every rule it holds, so this is false, as upstream's RBAC
    /// authorizer reports; unresolvable bindings are reported in `evaluation_error`.
    pub incomplete: bool,
    pub evaluation_error: Option<String>,
}

/// One binding, reduced to what resolution needs.
#[derive(Debug)]
struct Binding {
    name: String,
    /// Empty for ClusterRoleBindings.
    namespace: String,
    role_ref: RoleRef,
    subjects: Vec<Subject>,
}

/// Bindings in a scope, with the positions of those naming each user or group, so a
/// request looks only at bindings that can apply to its caller.
#[derive(Debug, Default)]
struct Bindings {
    bindings: Vec<Binding>,
    by_user: HashMap<String, Vec<usize>>,
    by_group: HashMap<String, Vec<usize>>,
}

/// What the rule walk hands its visitor: a rule with its source, or why a binding's role
/// could not be resolved.
type Visited<'r, 's> = Result<(&'r PolicyRule, &'r Source<'s>), String>;

/// Where a rule came from, worded as upstream's allow reasons are.
struct Source<'a> {
    binding: &'a Binding,
    subject: &'a Subject,
}

impl std::fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.binding;
        let subject = &self.subject;
        let described = if subject.kind == "ServiceAccount" {
            let ns = subject.namespace.as_deref().filter(|ns| !ns.is_empty()).unwrap_or(&b.namespace);
            format!("{} {:?}", subject.kind, format!("{}/{ns}", subject.name))
        } else {
            format!("{} {:?}", subject.kind, subject.name)
        };
        if b.namespace.is_empty() {
            write!(f, "ClusterRoleBinding {:?} of {} {:?} to {described}", b.name, b.role_ref.kind, b.role_ref.name)
        } else {
            let name = format!("{}/{}", b.name, b.namespace);
            write!(f, "RoleBinding {name:?} of {} {:?} to {described}", b.role_ref.kind, b.role_ref.name)
        }
    }
}

impl Bindings {
    fn push(&mut self, binding: Binding) {
        let index = self.bindings.len();
        for subject in &binding.subjects {
            match subject.kind.as_str() {
                "User" => self.by_user.entry(subject.name.clone()).or_default().push(index),
                "Group" => self.by_group.entry(subject.name.clone()).or_default().push(index),
                "ServiceAccount" => {
                    let ns = subject.namespace.as_deref().filter(|ns| !ns.is_empty()).unwrap_or(&binding.namespace);
                    // A ClusterRoleBinding's service account without a namespace names nobody.
                    if !ns.is_empty() {
                        let user = service_account_username(ns, &subject.name);
                        self.by_user.entry(user).or_default().push(index);
                    }
                }
                _ => {}
            }
        }
        self.bindings.push(binding);
    }

    /// The bindings naming `user` (by name, group or service account), in binding order,
    /// each with the first of its subjects that applies.
    fn applying_to<'a>(&'a self, user: &UserInfo) -> Vec<(&'a Binding, &'a Subject)> {
        let mut indices: Vec<usize> = self.by_user.get(&user.name).into_iter().flatten().copied().collect();
        for group in &user.groups {
            indices.extend(self.by_group.get(group).into_iter().flatten().copied());
        }
        indices.sort_unstable();
        indices.dedup();
        indices
            .into_iter()
            .filter_map(|i| {
                let binding = &self.bindings[i];
                binding.subjects.iter().find(|s| applies_to(user, s, &binding.namespace)).map(|s| (binding, s))
            })
            .collect()
    }
}

/// Upstream's `appliesToUser`: users by name, groups by membership, service accounts by
/// their user name (namespace defaulting to the binding's).
fn applies_to(user: &UserInfo, subject: &Subject, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let ns = subject.namespace.as_deref().filter(|ns| !ns.is_empty()).unwrap_or(binding_namespace);
            !ns.is_empty() && user.name == service_account_username(ns, &subject.name)
        }
        _ => false,
    }
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn namespace_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}

impl Policy {
    /// Index the given objects. Bindings are considered in name order, so allow reasons
    /// are stable.
    pub fn new(
        cluster_roles: &[ClusterRole],
        roles: &[Role],
        cluster_role_bindings: &[ClusterRoleBinding],
        role_bindings: &[RoleBinding],
    ) -> Policy {
        let mut policy = Policy::default();
        for role in cluster_roles {
            policy.cluster_roles.insert(name_of(&role.metadata), role.rules.clone().unwrap_or_default());
        }
        for role in roles {
            let key = (namespace_of(&role.metadata), name_of(&role.metadata));
            policy.roles.insert(key, role.rules.clone().unwrap_or_default());
        }
        let mut cluster: Vec<Binding> = cluster_role_bindings
            .iter()
            .map(|b| Binding {
                name: name_of(&b.metadata),
                namespace: String::new(),
                role_ref: b.role_ref.clone(),
                subjects: b.subjects.clone().unwrap_or_default(),
            })
            .collect();
        cluster.sort_by(|a, b| a.name.cmp(&b.name));
        cluster.into_iter().for_each(|b| policy.cluster_bindings.push(b));
        let mut namespaced: Vec<Binding> = role_bindings
            .iter()
            .map(|b| Binding {
                name: name_of(&b.metadata),
                namespace: namespace_of(&b.metadata),
                role_ref: b.role_ref.clone(),
                subjects: b.subjects.clone().unwrap_or_default(),
            })
            .filter(|b| !b.namespace.is_empty())
            .collect();
        namespaced.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        for binding in namespaced {
            policy.role_bindings.entry(binding.namespace.clone()).or_default().push(binding);
        }
        policy
    }

    /// Upstream's `GetRoleReferenceRules`: a ClusterRole, or a Role in the binding's namespace.
    fn role_rules(&self, role_ref: &RoleRef, namespace: &str) -> Result<&[PolicyRule], String> {
        match role_ref.kind.as_str() {
            "ClusterRole" => self
                .cluster_roles
                .get(&role_ref.name)
                .map(Vec::as_slice)
                .ok_or_else(|| format!("clusterrole.rbac.authorization.k8s.io {:?} not found", role_ref.name)),
            "Role" => self
                .roles
                .get(&(namespace.to_owned(), role_ref.name.clone()))
                .map(Vec::as_slice)
                .ok_or_else(|| format!("role.rbac.authorization.k8s.io {:?} not found", role_ref.name)),
            other => Err(format!("unsupported role reference kind: {other:?}")),
        }
    }

    /// Upstream's `VisitRulesFor`: ClusterRoleBindings first, then the RoleBindings of
    /// `namespace` (if any). The visitor sees each rule with its source, or a resolution
    /// error; returning false stops the walk.
    fn visit_rules_for(&self, user: &UserInfo, namespace: &str, visitor: &mut dyn FnMut(Visited<'_, '_>) -> bool) {
        let scopes = std::iter::once(&self.cluster_bindings)
            .chain((!namespace.is_empty()).then(|| self.role_bindings.get(namespace)).flatten());
        for bindings in scopes {
            for (binding, subject) in bindings.applying_to(user) {
                match self.role_rules(&binding.role_ref, &binding.namespace) {
                    Err(err) => {
                        if !visitor(Err(err)) {
                            return;
                        }
                    }
                    Ok(rules) => {
                        let source = Source { binding, subject };
                        for rule in rules {
                            if !visitor(Ok((rule, &source))) {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Decide a request as upstream's RBAC authorizer does.
    pub fn authorize(&self, attributes: &Attributes) -> Decision {
        let mut allowed_by = None;
        let mut errors = Vec::new();
        self.visit_rules_for(&attributes.user, &attributes.namespace, &mut |visited| match visited {
            Ok((rule, source)) if rule_allows(attributes, rule) => {
                allowed_by = Some(source.to_string());
                false
            }
            Ok(_) => true,
            Err(err) => {
                errors.push(err);
                true
            }
        });
        match allowed_by {
            Some(source) => Decision::Allow(format!("RBAC: allowed by {source}")),
            None if errors.is_empty() => Decision::NoOpinion(String::new()),
            None => Decision::NoOpinion(format!("RBAC: {}", aggregate_errors(&errors))),
        }
    }

    /// Every rule granted to `user` in `namespace` (cluster-wide rules included), with the
    /// bindings that could not be resolved (upstream's `RulesFor`).
    pub fn policy_rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Option<String>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        self.visit_rules_for(user, namespace, &mut |visited| {
            match visited {
                Ok((rule, _)) => rules.push(rule.clone()),
                Err(err) => errors.push(err),
            }
            true
        });
        let error = (!errors.is_empty()).then(|| aggregate_errors(&errors));
        (rules, error)
    }

    /// What `user` may do in `namespace`, split as a SelfSubjectRulesReview reports it
    /// (what `kubectl auth can-i --list` prints).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> RulesReview {
        let (rules, evaluation_error) = self.policy_rules_for(user, namespace);
        let mut review = RulesReview { evaluation_error, ..Default::default() };
        for rule in rules {
            if rule.resources.as_ref().is_some_and(|r| !r.is_empty()) {
                review.resource_rules.push(ResourceRule {
                    verbs: rule.verbs.clone(),
                    api_groups: rule.api_groups.clone(),
                    resources: rule.resources.clone(),
                    resource_names: rule.resource_names.clone(),
                });
            }
            if rule.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty()) {
                review
                    .non_resource_rules
                    .push(NonResourceRule { verbs: rule.verbs, non_resource_urls: rule.non_resource_urls });
            }
        }
        review
    }

    /// Refuse a Role or ClusterRole write that would grant `requested` rules `user` does
    /// not hold in `namespace` ("" for cluster roles), as upstream's role and binding
    /// storage does before the `escalate`/`bind` verb exceptions.
    pub fn confirm_no_escalation(
        &self,
        user: &UserInfo,
        namespace: &str,
        requested: &[PolicyRule],
    ) -> Result<(), EscalationError> {
        let (owner_rules, resolution_error) = self.policy_rules_for(user, namespace);
        confirm_no_escalation(user, &owner_rules, resolution_error.as_deref(), requested)
    }
}

/// Upstream's `utilerrors.NewAggregate(...).Error()`: one message alone, several
/// de-duplicated in brackets.
fn aggregate_errors(errors: &[String]) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for err in errors {
        if !unique.contains(&err.as_str()) {
            unique.push(err);
        }
    }
    match unique.as_slice() {
        [one] => (*one).to_owned(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta { name: Some(name.into()), namespace: namespace.map(Into::into), ..Default::default() }
    }

    fn rule(verbs: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        let strings = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        PolicyRule {
            verbs: strings(verbs),
            api_groups: Some(vec![String::new()]),
            resources: Some(strings(resources)),
            resource_names: (!names.is_empty()).then(|| strings(names)),
            non_resource_urls: None,
        }
    }

    fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
        Subject { kind: kind.into(), name: name.into(), namespace: namespace.map(Into::into), api_group: None }
    }

    fn binding(ns: &str, name: &str, kind: &str, role: &str, subjects: Vec<Subject>) -> RoleBinding {
        let role_ref = RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: kind.into(), name: role.into() };
        RoleBinding { metadata: meta(Some(ns), name), role_ref, subjects: Some(subjects) }
    }

    fn can(policy: &Policy, user: &UserInfo, verb: &str, resource: &str, ns: &str, name: &str) -> bool {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        let attributes = Attributes {
            user: user.clone(),
            verb: verb.into(),
            is_resource: true,
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: ns.into(),
            name: name.into(),
            ..Default::default()
        };
        policy.authorize(&attributes).is_allowed()
    }

    /// Role `reader` in `a` (get pods, get pods/log, get configmap "one"), bound to alice,
    /// to service account `a/robot`, and (through a ClusterRole) to group `devs`.
    fn policy() -> Policy {
        let roles = [Role {
            metadata: meta(Some("a"), "reader"),
            rules: Some(vec![rule(&["get"], &["pods", "pods/log"], &[]), rule(&["get"], &["configmaps"], &["one"])]),
        }];
        let cluster_roles = [ClusterRole {
            metadata: meta(None, "lister"),
            rules: Some(vec![rule(&["list"], &["secrets"], &[])]),
            ..Default::default()
        }];
        let bindings = [
            binding("a", "alice-reads", "Role", "reader", vec![subject("User", "alice", None)]),
            binding("a", "robot-reads", "Role", "reader", vec![subject("ServiceAccount", "robot", None)]),
            binding("b", "devs-list", "ClusterRole", "lister", vec![subject("Group", "devs", None)]),
            binding("b", "dangling", "ClusterRole", "missing", vec![subject("User", "alice", None)]),
        ];
        Policy::new(&cluster_roles, &roles, &[], &bindings)
    }

    #[test]
    fn role_grants_only_its_verbs_resources_and_namespace() {
        let p = policy();
        let alice = UserInfo::new("alice", &["system:authenticated"]);
        assert!(can(&p, &alice, "get", "pods", "a", "web"));
        assert!(!can(&p, &alice, "list", "pods", "a", ""));
        assert!(!can(&p, &alice, "get", "pods", "c", "web"));
        assert!(!can(&p, &alice, "get", "pods", "", "web"));
        assert!(can(&p, &alice, "get", "pods/log", "a", "web"));
        assert!(!can(&p, &alice, "get", "pods/exec", "a", "web"));
        assert!(can(&p, &alice, "get", "configmaps", "a", "one"));
        assert!(!can(&p, &alice, "get", "configmaps", "a", "two"));
        assert!(!can(&p, &UserInfo::new("bob", &[]), "get", "pods", "a", "web"));
    }

    #[test]
    fn allow_reason_names_the_binding() {
        let p = policy();
        let attributes = Attributes {
            user: UserInfo::new("alice", &[]),
            verb: "get".into(),
            is_resource: true,
            resource: "pods".into(),
            namespace: "a".into(),
            name: "web".into(),
            ..Default::default()
        };
        assert_eq!(
            p.authorize(&attributes),
            Decision::Allow(r#"RBAC: allowed by RoleBinding "alice-reads/a" of Role "reader" to User "alice""#.into())
        );
    }

    #[test]
    fn service_accounts_match_by_namespace_defaulting_to_the_binding() {
        let p = policy();
        assert!(can(&p, &UserInfo::service_account("a", "robot"), "get", "pods", "a", "web"));
        assert!(!can(&p, &UserInfo::service_account("b", "robot"), "get", "pods", "a", "web"));
    }

    #[test]
    fn role_binding_to_cluster_role_is_scoped_to_its_namespace() {
        let p = policy();
        let dev = UserInfo::new("carol", &["devs"]);
        assert!(can(&p, &dev, "list", "secrets", "b", ""));
        assert!(!can(&p, &dev, "list", "secrets", "a", ""));
        assert!(!can(&p, &dev, "list", "secrets", "", ""));
    }

    #[test]
    fn unresolvable_bindings_are_the_no_opinion_reason() {
        let p = policy();
        let attributes = Attributes {
            user: UserInfo::new("alice", &[]),
            verb: "delete".into(),
            is_resource: true,
            resource: "pods".into(),
            namespace: "b".into(),
            ..Default::default()
        };
        assert_eq!(
            p.authorize(&attributes),
            Decision::NoOpinion(r#"RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found"#.into())
        );
        let review = p.rules_for(&UserInfo::new("alice", &[]), "b");
        assert!(review.resource_rules.is_empty() && !review.incomplete);
        assert_eq!(
            review.evaluation_error.as_deref(),
            Some(r#"clusterrole.rbac.authorization.k8s.io "missing" not found"#)
        );
    }

    #[test]
    fn rules_for_lists_cluster_and_namespace_rules() {
        let p = policy();
        let review = p.rules_for(&UserInfo::new("alice", &[]), "a");
        assert_eq!(review.resource_rules.len(), 2);
        assert_eq!(review.resource_rules[1].resource_names, Some(vec!["one".to_owned()]));
        assert!(review.non_resource_rules.is_empty());
        assert_eq!(review.evaluation_error, None);
    }
}
