//! RBAC validation (upstream's `pkg/apis/rbac/validation`): policy rules, role
//! references and binding subjects. RBAC object names are path segments.

use super::names;
use crate::{FieldError, FieldPath};
use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};

/// The RBAC API group, the only one role references and user/group subjects may name.
pub const GROUP: &str = "rbac.authorization.k8s.io";

/// Upstream's `ValidatePolicyRule`.
pub fn validate_rule(rule: &PolicyRule, namespaced: bool, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if rule.verbs.is_empty() {
        errs.push(FieldError::required(&path.child("verbs"), "verbs must contain at least one value"));
    }
    let urls = rule.non_resource_urls.clone().unwrap_or_default();
    let non_empty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    if !urls.is_empty() {
        let value = serde_json::json!(urls);
        if namespaced {
            errs.push(FieldError::invalid(
                &path.child("nonResourceURLs"),
                value.clone(),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if non_empty(&rule.api_groups) || non_empty(&rule.resources) || non_empty(&rule.resource_names) {
            errs.push(FieldError::invalid(
                &path.child("nonResourceURLs"),
                value,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if !non_empty(&rule.api_groups) {
        errs.push(FieldError::required(&path.child("apiGroups"), "resource rules must supply at least one api group"));
    }
    if !non_empty(&rule.resources) {
        errs.push(FieldError::required(&path.child("resources"), "resource rules must supply at least one resource"));
    }
    errs
}

/// Every rule of a role, under `rules[i]`.
pub fn validate_rules(rules: &[PolicyRule], namespaced: bool) -> Vec<FieldError> {
    let path = FieldPath::new("rules");
    rules.iter().enumerate().flat_map(|(i, r)| validate_rule(r, namespaced, &path.index(i))).collect()
}

/// A binding's roleRef; `kinds` are the role kinds it may name.
pub fn validate_role_ref(role_ref: &RoleRef, kinds: &[&str]) -> Vec<FieldError> {
    let path = FieldPath::new("roleRef");
    let mut errs = Vec::new();
    if role_ref.api_group != GROUP {
        errs.push(FieldError::not_supported(&path.child("apiGroup"), role_ref.api_group.as_str(), &[GROUP]));
    }
    if !kinds.contains(&role_ref.kind.as_str()) {
        errs.push(FieldError::not_supported(&path.child("kind"), role_ref.kind.as_str(), kinds));
    }
    if role_ref.name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    }
    for msg in names::path_segment_name(&role_ref.name) {
        errs.push(FieldError::invalid(&path.child("name"), role_ref.name.as_str(), msg));
    }
    errs
}

/// Upstream's `ValidateRoleBindingSubject`.
pub fn validate_subject(subject: &Subject, namespaced: bool, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if subject.name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    }
    let api_group = subject.api_group.as_deref().unwrap_or_default();
    match subject.kind.as_str() {
        "ServiceAccount" => {
            if !subject.name.is_empty() {
                for msg in names::dns1123_subdomain(&subject.name) {
                    errs.push(FieldError::invalid(&path.child("name"), subject.name.as_str(), msg));
                }
            }
            if !api_group.is_empty() {
                errs.push(FieldError::not_supported(&path.child("apiGroup"), api_group, &[""]));
            }
            if !namespaced && subject.namespace.as_deref().unwrap_or_default().is_empty() {
                errs.push(FieldError::required(&path.child("namespace"), ""));
            }
        }
        "User" | "Group" if api_group != GROUP => {
            errs.push(FieldError::not_supported(&path.child("apiGroup"), api_group, &[GROUP]));
        }
        "User" | "Group" => {}
        other => errs.push(FieldError::not_supported(&path.child("kind"), other, &["ServiceAccount", "User", "Group"])),
    }
    errs
}

/// Every subject of a binding, under `subjects[i]`.
pub fn validate_subjects(subjects: &[Subject], namespaced: bool) -> Vec<FieldError> {
    let path = FieldPath::new("subjects");
    subjects.iter().enumerate().flat_map(|(i, s)| validate_subject(s, namespaced, &path.index(i))).collect()
}

/// An update may not change the roleRef.
pub fn validate_role_ref_update(new: &RoleRef, old: &RoleRef) -> Vec<FieldError> {
    if new == old {
        return Vec::new();
    }
    let value = serde_json::to_value(new).unwrap_or_default();
    vec![FieldError::invalid(&FieldPath::new("roleRef"), value, "cannot change roleRef")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_needs_verbs() {
        let rule = PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".into()]),
            ..Default::default()
        };
        let msgs: Vec<String> = validate_rules(&[rule], true).iter().map(ToString::to_string).collect();
        assert_eq!(msgs, vec!["rules[0].verbs: Required value: verbs must contain at least one value"]);
    }
}
