//! Label selectors: the `matchLabels`/`matchExpressions` form of workloads and the plain
//! map of Services and `nodeSelector`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// Whether `labels` carry every pair of `selector`. An empty map selects everything.
pub fn map_matches(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(key, value)| labels.get(key) == Some(value))
}

/// Whether `labels` satisfy `selector`. An empty selector selects everything.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    if !selector.match_labels.as_ref().is_none_or(|m| map_matches(m, labels)) {
        return false;
    }
    selector.match_expressions.iter().flatten().all(|requirement| {
        let values = requirement.values.as_deref().unwrap_or_default();
        let value = labels.get(&requirement.key);
        match requirement.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    })
}

/// Whether `selector` selects nothing (an empty `matchLabels` and no expressions).
pub fn selector_is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && selector.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn expressions_and_labels_must_all_hold() {
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]
        }))
        .unwrap();
        assert!(selector_matches(&selector, &labels(&[("app", "web"), ("tier", "a")])));
        assert!(!selector_matches(&selector, &labels(&[("app", "web"), ("tier", "c")])));
        assert!(!selector_matches(&selector, &labels(&[("tier", "a")])));
    }
}
