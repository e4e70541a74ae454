//! Whether one policy rule grants one request (upstream's `RuleAllows` and the
//! `rbacv1helpers` matchers).

use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::Attributes;

const ALL: &str = "*";

/// Whether `rule` grants the request. Resource requests match verbs, API groups, the
/// resource (`pods`, `pods/log`, `*/scale`, `*`) and resource names; non-resource requests
/// match verbs and URLs (`/healthz`, a trailing `*` prefix, or `*`).
pub fn rule_allows(attributes: &Attributes, rule: &PolicyRule) -> bool {
    if !verb_matches(rule, &attributes.verb) {
        return false;
    }
    if !attributes.is_resource {
        return non_resource_url_matches(rule, &attributes.path);
    }
    let combined = if attributes.subresource.is_empty() {
        attributes.resource.clone()
    } else {
        format!("{}/{}", attributes.resource, attributes.subresource)
    };
    api_group_matches(rule, &attributes.api_group)
        && resource_matches(rule, &combined, &attributes.subresource)
        && resource_name_matches(rule, &attributes.name)
}

fn list(field: &Option<Vec<String>>) -> &[String] {
    field.as_deref().unwrap_or_default()
}

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == ALL || v == verb)
}

fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    list(&rule.api_groups).iter().any(|g| g == ALL || g == group)
}

/// `combined` is `resource` or `resource/subresource`; a rule resource `*/sub` matches any
/// resource's `sub` subresource.
fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    list(&rule.resources).iter().any(|r| {
        r == ALL
            || r == combined
            || (!subresource.is_empty() && r.strip_prefix("*/").is_some_and(|sub| sub == subresource))
    })
}

/// No resource names means every name; otherwise the request must name one of them
/// (so a list, which names nothing, is not granted by a rule with names).
fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    let names = list(&rule.resource_names);
    names.is_empty() || names.iter().any(|n| n == name)
}

fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    list(&rule.non_resource_urls).iter().any(|url| url_covers(url, path))
}

/// Whether a rule URL covers a path: equal, `*`, or a `prefix*` the path starts with.
pub(crate) fn url_covers(rule_url: &str, path: &str) -> bool {
    rule_url == ALL || rule_url == path || (rule_url.ends_with('*') && path.starts_with(rule_url.trim_end_matches('*')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        let strings = |s: &[&str]| Some(s.iter().map(|x| (*x).to_owned()).collect());
        PolicyRule {
            verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
            api_groups: strings(groups),
            resources: strings(resources),
            resource_names: if names.is_empty() { None } else { strings(names) },
            non_resource_urls: None,
        }
    }

    fn request(verb: &str, group: &str, resource: &str, subresource: &str, name: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            is_resource: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            name: name.into(),
            namespace: "ns".into(),
            ..Default::default()
        }
    }

    #[test]
    fn subresources_need_their_own_grant_or_a_star() {
        let pods = rule(&["get"], &[""], &["pods"], &[]);
        assert!(rule_allows(&request("get", "", "pods", "", "p"), &pods));
        assert!(!rule_allows(&request("get", "", "pods", "log", "p"), &pods));
        let logs = rule(&["get"], &[""], &["pods/log"], &[]);
        assert!(rule_allows(&request("get", "", "pods", "log", "p"), &logs));
        let scale = rule(&["get"], &["*"], &["*/scale"], &[]);
        assert!(rule_allows(&request("get", "apps", "deployments", "scale", "d"), &scale));
        assert!(!rule_allows(&request("get", "apps", "deployments", "", "d"), &scale));
        assert!(!rule_allows(&request("get", "apps", "deployments", "status", "d"), &scale));
    }

    #[test]
    fn resource_names_restrict_to_named_requests() {
        let named = rule(&["get", "list"], &[""], &["configmaps"], &["a"]);
        assert!(rule_allows(&request("get", "", "configmaps", "", "a"), &named));
        assert!(!rule_allows(&request("get", "", "configmaps", "", "b"), &named));
        assert!(!rule_allows(&request("list", "", "configmaps", "", ""), &named));
    }

    #[test]
    fn non_resource_urls_match_exactly_or_by_trailing_star() {
        let urls = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: Some(vec!["/healthz".into(), "/apis/*".into()]),
            ..Default::default()
        };
        let path = |p: &str| Attributes { verb: "get".into(), path: p.into(), ..Default::default() };
        assert!(rule_allows(&path("/healthz"), &urls));
        assert!(!rule_allows(&path("/healthz/etcd"), &urls));
        assert!(rule_allows(&path("/apis/apps/v1"), &urls));
        assert!(!rule_allows(&path("/apis"), &urls));
        assert!(!rule_allows(&Attributes { verb: "post".into(), ..path("/healthz") }, &urls));
    }
}
