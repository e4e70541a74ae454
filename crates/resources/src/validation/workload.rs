//! Validation shared by the workload controllers' objects (Deployments, ReplicaSets,
//! StatefulSets, DaemonSets, Jobs, ReplicationControllers): label selectors, the
//! selector-matches-template rule, replica counts, int-or-percent fields, immutable
//! selectors, and Go-style rendering of the values upstream's messages print.

use super::{meta, names, pod};
use crate::{ErrorType, FieldError, FieldPath};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// Upstream's `IsNegativeErrorMsg`.
pub const NEGATIVE_MSG: &str = "must be greater than or equal to 0";
/// Upstream's `FieldImmutableErrorMsg`.
pub const IMMUTABLE_MSG: &str = "field is immutable";

/// `ValidateNonnegativeField`.
pub fn nonnegative(value: Option<i64>, path: &FieldPath) -> Vec<FieldError> {
    match value {
        Some(v) if v < 0 => vec![FieldError::invalid(path, v, NEGATIVE_MSG)],
        _ => Vec::new(),
    }
}

/// An Invalid error whose value upstream prints with Go's `%#v` (maps and structs),
/// which a JSON value cannot reproduce: the rendering leads the detail instead, so the
/// message reads exactly as upstream's.
pub fn invalid_go(path: &FieldPath, rendered: String, detail: &str) -> FieldError {
    FieldError {
        kind: ErrorType::Invalid,
        field: path.to_string(),
        value: None,
        detail: format!("{rendered}: {detail}"),
    }
}

/// A `map[string]string` as Go's `%#v` prints it: `map[string]string{"a":"1", "b":"2"}`.
pub fn go_map(map: Option<&BTreeMap<String, String>>) -> String {
    match map {
        None => "map[string]string(nil)".to_owned(),
        Some(m) => {
            let entries: Vec<String> = m.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

/// A `metav1.LabelSelector` as Go's `%#v` prints it.
pub fn go_label_selector(sel: &LabelSelector) -> String {
    let expressions = match &sel.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_owned(),
        Some(exprs) => {
            let items: Vec<String> = exprs.iter().map(go_requirement).collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{expressions}}}", go_map(sel.match_labels.as_ref()))
}

fn go_requirement(r: &LabelSelectorRequirement) -> String {
    let values = match &r.values {
        None => "[]string(nil)".to_owned(),
        Some(v) => format!("[]string{{{}}}", v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")),
    };
    format!("v1.LabelSelectorRequirement{{Key:{:?}, Operator:{:?}, Values:{values}}}", r.key, r.operator)
}

/// Whether a selector has no requirements (upstream treats it as selecting everything;
/// controllers reject it).
pub fn selector_is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty) && sel.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// Whether `labels` satisfy every requirement of `sel` (upstream's `Selector.Matches`).
pub fn selector_matches(sel: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k));
    let labels_match = sel.match_labels.iter().flatten().all(|(k, v)| get(k) == Some(v));
    let exprs_match = sel.match_expressions.iter().flatten().all(|r| {
        let values = r.values.as_deref().unwrap_or_default();
        match r.operator.as_str() {
            "In" => get(&r.key).is_some_and(|v| values.contains(v)),
            "NotIn" => get(&r.key).is_none_or(|v| !values.contains(v)),
            "Exists" => get(&r.key).is_some(),
            "DoesNotExist" => get(&r.key).is_none(),
            _ => false,
        }
    });
    labels_match && exprs_match
}

/// `ValidateLabelSelector`: label syntax of `matchLabels`, and each expression's
/// operator, key and values.
pub fn validate_label_selector(sel: &LabelSelector, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = meta::validate_labels(sel.match_labels.as_ref(), &path.child("matchLabels"));
    for (i, r) in sel.match_expressions.iter().flatten().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let values = r.values.as_deref().unwrap_or_default();
        match r.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errs
                .push(FieldError::required(&p.child("values"), "must be specified when `operator` is 'In' or 'NotIn'")),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
                &p.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            op => errs.push(FieldError::invalid(&p.child("operator"), op, "not a valid selector operator")),
        }
        for msg in names::qualified_name(&r.key) {
            errs.push(FieldError::invalid(&p.child("key"), r.key.as_str(), msg));
        }
        for (j, v) in values.iter().enumerate() {
            for msg in names::label_value(v) {
                errs.push(FieldError::invalid(&p.child("values").index(j), v.as_str(), msg));
            }
        }
    }
    errs
}

/// The `spec.selector` rule of Deployments, ReplicaSets, StatefulSets and DaemonSets:
/// required and well-formed.
pub fn validate_required_selector(sel: &LabelSelector, path: &FieldPath) -> Vec<FieldError> {
    // The typed decoder turns a missing selector into an empty one, so upstream's
    // "required" (nil) and "empty selector is invalid" (`{}`) cases arrive alike; the
    // missing selector is by far the common one.
    if selector_is_empty(sel) {
        return vec![FieldError::required(path, "")];
    }
    validate_label_selector(sel, path)
}

/// The error when a template's labels do not satisfy its controller's selector.
pub fn selector_mismatch(labels: Option<&BTreeMap<String, String>>, path: &FieldPath) -> FieldError {
    invalid_go(path, go_map(labels), "`selector` does not match template `labels`")
}

/// `ValidatePodTemplateSpecForReplicaSet` (Deployments, ReplicaSets) and its siblings
/// for StatefulSets and DaemonSets: the selector must match the template's labels, the
/// template must be valid and restart its pods `Always`.
pub fn validate_controller_template(
    template: &PodTemplateSpec,
    selector: &LabelSelector,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    if !selector_is_empty(selector) && !selector_matches(selector, labels) {
        errs.push(selector_mismatch(labels, &path.child("metadata").child("labels")));
    }
    errs.extend(pod::validate_pod_template_spec(template, path));
    errs.extend(restart_always(template, path));
    errs
}

/// Controllers whose pods run forever accept only `restartPolicy: Always`.
pub fn restart_always(template: &PodTemplateSpec, path: &FieldPath) -> Vec<FieldError> {
    let policy = template.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or_default();
    if policy == "Always" {
        Vec::new()
    } else {
        vec![FieldError::not_supported(&path.child("spec").child("restartPolicy"), policy, &["Always"])]
    }
}

/// The template's `activeDeadlineSeconds`, which controllers of long-running pods reject.
pub fn active_deadline(template: &PodTemplateSpec) -> Option<i64> {
    template.spec.as_ref().and_then(|s| s.active_deadline_seconds)
}

/// `ValidateImmutableField` for a label selector.
pub fn immutable_selector(new: &LabelSelector, old: &LabelSelector, path: &FieldPath) -> Vec<FieldError> {
    if new == old { Vec::new() } else { vec![invalid_go(path, go_label_selector(new), IMMUTABLE_MSG)] }
}

/// `ValidatePositiveIntOrPercent`: a non-negative integer or a `N%` string.
pub fn validate_int_or_percent(value: Option<&IntOrString>, path: &FieldPath) -> Vec<FieldError> {
    match value {
        Some(IntOrString::Int(n)) => nonnegative(Some(i64::from(*n)), path),
        Some(IntOrString::String(s)) if percent(s).is_none() => vec![FieldError::invalid(
            path,
            s.as_str(),
            "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        )],
        _ => Vec::new(),
    }
}

fn percent(s: &str) -> Option<i64> {
    let digits = s.strip_suffix('%')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The number in an int-or-percent value (`25%` → 25), as upstream's
/// `getIntOrPercentValue` reads it for its zero checks.
pub fn int_or_percent_value(value: Option<&IntOrString>) -> i64 {
    match value {
        Some(IntOrString::Int(n)) => i64::from(*n),
        Some(IntOrString::String(s)) => percent(s).unwrap_or(0),
        None => 0,
    }
}

/// `IsNotMoreThan100Percent`.
pub fn not_more_than_100_percent(value: Option<&IntOrString>, path: &FieldPath) -> Vec<FieldError> {
    match value {
        Some(IntOrString::String(s)) if percent(s).is_some_and(|p| p > 100) => {
            vec![FieldError::invalid(path, s.as_str(), "must not be greater than 100%")]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn selector(v: serde_json::Value) -> LabelSelector {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn selectors_match_like_upstream() {
        let labels: BTreeMap<String, String> = [("app".to_owned(), "web".to_owned())].into();
        assert!(selector_matches(&selector(json!({"matchLabels": {"app": "web"}})), Some(&labels)));
        assert!(!selector_matches(&selector(json!({"matchLabels": {"app": "db"}})), Some(&labels)));
        let exprs = json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]},
            {"key": "tier", "operator": "DoesNotExist"}]});
        assert!(selector_matches(&selector(exprs), Some(&labels)));
    }

    #[test]
    fn go_renderings() {
        let labels: BTreeMap<String, String> =
            [("a".to_owned(), "1".to_owned()), ("b".to_owned(), "2".to_owned())].into();
        assert_eq!(go_map(Some(&labels)), r#"map[string]string{"a":"1", "b":"2"}"#);
        assert_eq!(go_map(None), "map[string]string(nil)");
        let sel = selector(json!({"matchLabels": {"app": "nginx2"}}));
        assert_eq!(
            immutable_selector(
                &sel,
                &selector(json!({"matchLabels": {"app": "nginx"}})),
                &FieldPath::new("spec.selector")
            )[0]
            .to_string(),
            r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"nginx2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"#
        );
    }

    #[test]
    fn int_or_percent() {
        let bad = IntOrString::String("abc".into());
        assert_eq!(validate_int_or_percent(Some(&bad), &FieldPath::new("x")).len(), 1);
        assert_eq!(int_or_percent_value(Some(&IntOrString::String("25%".into()))), 25);
        let over = IntOrString::String("120%".into());
        assert_eq!(
            not_more_than_100_percent(Some(&over), &FieldPath::new("x"))[0].detail,
            "must not be greater than 100%"
        );
    }
}
