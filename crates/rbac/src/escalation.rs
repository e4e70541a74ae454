//! Privilege-escalation prevention: a user may only grant the rules they hold
//! (upstream's `validation.Covers`, `CompactRules`, `CompactString` and
//! `ConfirmNoEscalation`).

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::UserInfo;
use crate::rule::url_covers;

const ALL: &str = "*";

/// A Role or binding write refused because it grants more than the writer holds.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct EscalationError {
    /// Upstream's message: `user "x" (groups=["a" "b"]) is attempting to grant RBAC
    /// permissions not currently held:` and one compact rule a line.
    pub message: String,
    /// The requested rules the user lacks, broken down to one verb and resource each.
    pub missing: Vec<PolicyRule>,
}

fn list(field: &Option<Vec<String>>) -> &[String] {
    field.as_deref().unwrap_or_default()
}

fn one(value: &str) -> Option<Vec<String>> {
    Some(vec![value.to_owned()])
}

/// Split a rule into rules of one group, resource, verb and name each (non-resource URLs
/// combine only with verbs).
pub fn breakdown_rule(rule: &PolicyRule) -> Vec<PolicyRule> {
    let mut parts = Vec::new();
    for group in list(&rule.api_groups) {
        for resource in list(&rule.resources) {
            for verb in &rule.verbs {
                let base = PolicyRule {
                    api_groups: one(group),
                    resources: one(resource),
                    verbs: vec![verb.clone()],
                    ..Default::default()
                };
                if list(&rule.resource_names).is_empty() {
                    parts.push(base);
                } else {
                    parts.extend(
                        list(&rule.resource_names)
                            .iter()
                            .map(|name| PolicyRule { resource_names: one(name), ..base.clone() }),
                    );
                }
            }
        }
    }
    for url in list(&rule.non_resource_urls) {
        for verb in &rule.verbs {
            parts.push(PolicyRule { non_resource_urls: one(url), verbs: vec![verb.clone()], ..Default::default() });
        }
    }
    parts
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| set.contains(w))
}

/// Owner resources cover wanted ones: `*`, exact, or `*/sub` for a wanted `res/sub`.
fn resources_cover(owner: &[String], wanted: &[String]) -> bool {
    if owner.iter().any(|r| r == ALL) || has_all(owner, wanted) {
        return true;
    }
    wanted.iter().all(|path| {
        owner.contains(path)
            || path.split_once('/').is_some_and(|(_, sub)| owner.iter().any(|r| r == &format!("*/{sub}")))
    })
}

fn urls_cover(owner: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|path| owner.iter().any(|o| o == path || (o.ends_with('*') && url_covers(o, path))))
}

fn rule_covers(owner: &PolicyRule, wanted: &PolicyRule) -> bool {
    let verbs = owner.verbs.iter().any(|v| v == ALL) || has_all(&owner.verbs, &wanted.verbs);
    let groups =
        list(&owner.api_groups).iter().any(|g| g == ALL) || has_all(list(&owner.api_groups), list(&wanted.api_groups));
    let resources = resources_cover(list(&owner.resources), list(&wanted.resources));
    let urls = urls_cover(list(&owner.non_resource_urls), list(&wanted.non_resource_urls));
    let owner_names = list(&owner.resource_names);
    let names = if list(&wanted.resource_names).is_empty() {
        owner_names.is_empty()
    } else {
        owner_names.is_empty() || has_all(owner_names, list(&wanted.resource_names))
    };
    verbs && groups && resources && names && urls
}

/// Whether `owner` rules grant everything `requested` rules do, and if not, the
/// requested rules (broken down) that no owner rule covers.
pub fn covers(owner: &[PolicyRule], requested: &[PolicyRule]) -> (bool, Vec<PolicyRule>) {
    let uncovered: Vec<PolicyRule> = requested
        .iter()
        .flat_map(breakdown_rule)
        .filter(|wanted| !owner.iter().any(|o| rule_covers(o, wanted)))
        .collect();
    (uncovered.is_empty(), uncovered)
}

/// Merge rules naming one group and one resource (and at most one name), differing only
/// in verbs, into one rule per resource; other rules are kept as they are.
pub fn compact_rules(rules: &[PolicyRule]) -> Vec<PolicyRule> {
    let mut compacted = Vec::new();
    let mut simple: Vec<PolicyRule> = Vec::new();
    let mut simple_index: HashMap<(String, String, Option<String>), usize> = HashMap::new();
    for rule in rules {
        let groups = list(&rule.api_groups);
        let resources = list(&rule.resources);
        let names = list(&rule.resource_names);
        let is_simple =
            names.len() <= 1 && list(&rule.non_resource_urls).is_empty() && groups.len() == 1 && resources.len() == 1;
        if !is_simple {
            compacted.push(rule.clone());
            continue;
        }
        let key = (groups[0].clone(), resources[0].clone(), names.first().cloned());
        match simple_index.get(&key) {
            Some(&i) => {
                for verb in &rule.verbs {
                    if !simple[i].verbs.contains(verb) {
                        simple[i].verbs.push(verb.clone());
                    }
                }
            }
            None => {
                simple_index.insert(key, simple.len());
                simple.push(rule.clone());
            }
        }
    }
    compacted.extend(simple);
    compacted
}

/// Go's `%q` of one string.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quote_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| go_quote(s)).collect::<Vec<_>>().join(" "))
}

/// A rule as upstream's messages show it:
/// `{APIGroups:[""], Resources:["pods"], ResourceNames:["a"], Verbs:["get"]}`.
pub fn compact_string(rule: &PolicyRule) -> String {
    let fields = [
        ("APIGroups", list(&rule.api_groups)),
        ("Resources", list(&rule.resources)),
        ("NonResourceURLs", list(&rule.non_resource_urls)),
        ("ResourceNames", list(&rule.resource_names)),
        ("Verbs", rule.verbs.as_slice()),
    ];
    let parts: Vec<String> = fields
        .iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(label, values)| format!("{label}:{}", go_quote_list(values)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Refuse `requested` rules that `owner_rules` (everything `user` holds where the role
/// applies) do not cover. `resolution_error` is the owner's unresolvable bindings, which
/// upstream appends to the message.
pub fn confirm_no_escalation(
    user: &UserInfo,
    owner_rules: &[PolicyRule],
    resolution_error: Option<&str>,
    requested: &[PolicyRule],
) -> Result<(), EscalationError> {
    let (covered, missing) = covers(owner_rules, requested);
    if covered {
        return Ok(());
    }
    let descriptions: BTreeSet<String> = compact_rules(&missing).iter().map(compact_string).collect();
    let mut message = format!(
        "user {} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        go_quote(&user.name),
        go_quote_list(&user.groups),
        descriptions.into_iter().collect::<Vec<_>>().join("\n")
    );
    if let Some(err) = resolution_error {
        message.push_str(&format!("; resolution errors: [{err}]"));
    }
    Err(EscalationError { message, missing })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        let strings = |s: &[&str]| Some(s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>());
        PolicyRule {
            verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
            api_groups: strings(groups),
            resources: strings(resources),
            resource_names: if names.is_empty() { None } else { strings(names) },
            non_resource_urls: None,
        }
    }

    #[test]
    fn holding_more_covers_less() {
        let owner =
            [rule(&["get", "list"], &[""], &["pods", "services"], &[]), rule(&["get"], &["*"], &["*/scale"], &[])];
        assert!(covers(&owner, &[rule(&["get"], &[""], &["pods"], &[])]).0);
        assert!(covers(&owner, &[rule(&["get"], &[""], &["pods"], &["web"])]).0);
        assert!(covers(&owner, &[rule(&["get"], &["apps"], &["deployments/scale"], &[])]).0);
        let (ok, missing) = covers(&owner, &[rule(&["get", "delete"], &[""], &["pods"], &[])]);
        assert!(!ok);
        assert_eq!(missing, vec![rule(&["delete"], &[""], &["pods"], &[])]);
        // A named grant does not cover every name.
        let named = [rule(&["get"], &[""], &["pods"], &["web"])];
        assert!(!covers(&named, &[rule(&["get"], &[""], &["pods"], &[])]).0);
        let urls = [PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: Some(vec!["/apis/*".into()]),
            ..Default::default()
        }];
        let wanted = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: Some(vec!["/apis/apps".into()]),
            ..Default::default()
        };
        assert!(covers(&urls, &[wanted]).0);
    }

    #[test]
    fn escalation_is_refused_with_upstreams_message() {
        let user = UserInfo::new("x", &["devs", "system:authenticated"]);
        let owner = [rule(&["list"], &[""], &["pods"], &[])];
        let err = confirm_no_escalation(
            &user,
            &owner,
            None,
            &[rule(&["get", "list", "watch"], &[""], &["pods"], &[]), rule(&["get"], &["apps"], &["deployments"], &[])],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "user \"x\" (groups=[\"devs\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n\
             {APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"get\" \"watch\"]}\n\
             {APIGroups:[\"apps\"], Resources:[\"deployments\"], Verbs:[\"get\"]}"
        );
        assert!(confirm_no_escalation(&user, &owner, None, &[rule(&["list"], &[""], &["pods"], &[])]).is_ok());
        let with_error =
            confirm_no_escalation(&user, &[], Some("role.rbac.authorization.k8s.io \"r\" not found"), &owner);
        assert!(
            with_error
                .unwrap_err()
                .message
                .ends_with("; resolution errors: [role.rbac.authorization.k8s.io \"r\" not found]")
        );
    }

    #[test]
    fn compact_string_shows_only_present_fields() {
        let urls = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: Some(vec!["/healthz".into()]),
            ..Default::default()
        };
        assert_eq!(compact_string(&urls), r#"{NonResourceURLs:["/healthz"], Verbs:["get"]}"#);
        assert_eq!(
            compact_string(&rule(&["get"], &[""], &["configmaps"], &["a"])),
            r#"{APIGroups:[""], Resources:["configmaps"], ResourceNames:["a"], Verbs:["get"]}"#
        );
    }
}
