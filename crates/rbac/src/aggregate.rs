//! ClusterRole aggregation (upstream's clusterrole-aggregation controller): a ClusterRole
//! with an `aggregationRule` holds the union of the rules of every other ClusterRole its
//! selectors match.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` satisfy `selector` (`matchLabels` and `matchExpressions` with In,
/// NotIn, Exists, DoesNotExist; an empty selector matches everything). `None` when the
/// selector is invalid (an unknown operator, or In/NotIn without values).
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> Option<bool> {
    let mut matches = true;
    for (key, value) in selector.match_labels.iter().flatten() {
        matches &= labels.get(key) == Some(value);
    }
    for requirement in selector.match_expressions.iter().flatten() {
        let values = requirement.values.as_deref().unwrap_or_default();
        let value = labels.get(&requirement.key);
        let ok = match requirement.operator.as_str() {
            "In" if !values.is_empty() => value.is_some_and(|v| values.contains(v)),
            "NotIn" if !values.is_empty() => value.is_none_or(|v| !values.contains(v)),
            "Exists" if values.is_empty() => value.is_some(),
            "DoesNotExist" if values.is_empty() => value.is_none(),
            _ => return None,
        };
        matches &= ok;
    }
    Some(matches)
}

/// Rules are equal as upstream's semantic equality sees them: an absent list and an empty
/// one are the same.
fn same_rule(a: &PolicyRule, b: &PolicyRule) -> bool {
    let norm = |l: &Option<Vec<String>>| l.clone().unwrap_or_default();
    a.verbs == b.verbs
        && norm(&a.api_groups) == norm(&b.api_groups)
        && norm(&a.resources) == norm(&b.resources)
        && norm(&a.resource_names) == norm(&b.resource_names)
        && norm(&a.non_resource_urls) == norm(&b.non_resource_urls)
}

fn same_rules(a: &[PolicyRule], b: &[PolicyRule]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_rule(x, y))
}

/// The rules of every ClusterRole with an aggregation rule, once aggregation has settled:
/// for each selector in order, the matching roles (other than itself) by name, each rule
/// added unless an equal one is already there. Aggregated roles feeding other aggregated
/// roles (view into edit into admin) are followed until nothing changes. Roles with an
/// invalid selector are left out, as upstream leaves them untouched.
pub fn aggregate(cluster_roles: &[ClusterRole]) -> Vec<(String, Vec<PolicyRule>)> {
    let mut sorted: Vec<&ClusterRole> = cluster_roles.iter().collect();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let name = |role: &ClusterRole| role.metadata.name.clone().unwrap_or_default();
    let mut current: HashMap<String, Vec<PolicyRule>> =
        sorted.iter().map(|r| (name(r), r.rules.clone().unwrap_or_default())).collect();
    let aggregated: Vec<&ClusterRole> = sorted.iter().copied().filter(|r| r.aggregation_rule.is_some()).collect();
    let mut settled: Vec<(String, Vec<PolicyRule>)> = Vec::new();
    // Each pass propagates one more level of nesting; a cycle stops at the bound.
    for _ in 0..=aggregated.len() {
        settled.clear();
        let mut changed = false;
        for role in &aggregated {
            let Some(rules) = aggregate_one(role, &sorted, &current) else { continue };
            let own = name(role);
            if !same_rules(&rules, &current[&own]) {
                current.insert(own.clone(), rules.clone());
                changed = true;
            }
            settled.push((own, rules));
        }
        if !changed {
            break;
        }
    }
    settled
}

fn aggregate_one(
    role: &ClusterRole,
    all: &[&ClusterRole],
    current: &HashMap<String, Vec<PolicyRule>>,
) -> Option<Vec<PolicyRule>> {
    let own = role.metadata.name.clone().unwrap_or_default();
    let selectors = role.aggregation_rule.as_ref()?.cluster_role_selectors.as_deref().unwrap_or_default();
    let mut rules: Vec<PolicyRule> = Vec::new();
    for selector in selectors {
        for other in all {
            let other_name = other.metadata.name.clone().unwrap_or_default();
            let labels = other.metadata.labels.clone().unwrap_or_default();
            let matches = selector_matches(selector, &labels)?;
            if other_name == own || !matches {
                continue;
            }
            for rule in current.get(&other_name).into_iter().flatten() {
                if !rules.iter().any(|r| same_rule(r, rule)) {
                    rules.push(rule.clone());
                }
            }
        }
    }
    Some(rules)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::rbac::v1::AggregationRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, ObjectMeta};

    use super::*;

    fn role(name: &str, labels: &[(&str, &str)], verb: &str, selector: Option<LabelSelector>) -> ClusterRole {
        ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
                ..Default::default()
            },
            rules: selector.is_none().then(|| vec![PolicyRule { verbs: vec![verb.into()], ..Default::default() }]),
            aggregation_rule: selector.map(|s| AggregationRule { cluster_role_selectors: Some(vec![s]) }),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: Some(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn nested_aggregation_settles_and_deduplicates() {
        let roles = [
            role("top", &[], "", Some(labels(&[("to-top", "true")]))),
            role("middle", &[("to-top", "true")], "", Some(labels(&[("to-middle", "true")]))),
            role("a", &[("to-middle", "true")], "get", None),
            role("b", &[("to-middle", "true"), ("to-top", "true")], "get", None),
            role("c", &[("to-top", "true")], "delete", None),
        ];
        let result: HashMap<String, Vec<PolicyRule>> = aggregate(&roles).into_iter().collect();
        let verbs = |name: &str| result[name].iter().map(|r| r.verbs[0].clone()).collect::<Vec<_>>();
        assert_eq!(verbs("middle"), vec!["get"]);
        assert_eq!(verbs("top"), vec!["get", "delete"]);
    }

    #[test]
    fn expressions_and_invalid_selectors() {
        let with = |op: &str, values: &[&str]| LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: op.into(),
                values: (!values.is_empty()).then(|| values.iter().map(|v| (*v).to_owned()).collect()),
            }]),
            ..Default::default()
        };
        let web: BTreeMap<String, String> = [("tier".to_owned(), "web".to_owned())].into();
        assert_eq!(selector_matches(&with("In", &["web", "db"]), &web), Some(true));
        assert_eq!(selector_matches(&with("NotIn", &["web"]), &web), Some(false));
        assert_eq!(selector_matches(&with("NotIn", &["web"]), &BTreeMap::new()), Some(true));
        assert_eq!(selector_matches(&with("Exists", &[]), &web), Some(true));
        assert_eq!(selector_matches(&with("DoesNotExist", &[]), &web), Some(false));
        assert_eq!(selector_matches(&with("In", &[]), &web), None);
        assert_eq!(selector_matches(&LabelSelector::default(), &web), Some(true));
    }
}
