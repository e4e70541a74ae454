//! policy/v1 PodDisruptionBudget: how many of a set of pods voluntary disruptions may take down.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const DEF: ResourceDef = ResourceDef {
    group: "policy",
    version: "v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    singular: "poddisruptionbudget",
    short_names: &["pdb"],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status],
    definition: "io.k8s.api.policy.v1.PodDisruptionBudget",
    strategy: &Typed(PodDisruptionBudgetStrategy),
};

pub struct PodDisruptionBudgetStrategy;

const EVICTION_POLICIES: &[&str] = &["AlwaysAllow", "IfHealthyBudget"];

/// Upstream's `ValidatePositiveIntOrPercent` plus the 100% cap.
fn validate_int_or_percent(v: &IntOrString, path: &FieldPath) -> Vec<FieldError> {
    match v {
        IntOrString::Int(n) if *n < 0 => vec![FieldError::invalid(path, *n, "must be greater than or equal to 0")],
        IntOrString::Int(_) => Vec::new(),
        IntOrString::String(s) => match s.strip_suffix('%').and_then(|n| n.parse::<i64>().ok()) {
            None => vec![FieldError::invalid(path, s.as_str(), "must be an integer or percentage (e.g '5%')")],
            Some(n) if n > 100 => vec![FieldError::invalid(path, s.as_str(), "must not be greater than 100%")],
            Some(_) => Vec::new(),
        },
    }
}

fn validate_spec(pdb: &PodDisruptionBudget) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let spec = pdb.spec.clone().unwrap_or_default();
    let mut errs = Vec::new();
    if spec.min_available.is_some() && spec.max_unavailable.is_some() {
        let value = serde_json::to_value(&spec).unwrap_or_default();
        errs.push(FieldError::invalid(&path, value, "minAvailable and maxUnavailable cannot be both set"));
    }
    if let Some(v) = &spec.min_available {
        errs.extend(validate_int_or_percent(v, &path.child("minAvailable")));
    }
    if let Some(v) = &spec.max_unavailable {
        errs.extend(validate_int_or_percent(v, &path.child("maxUnavailable")));
    }
    if let Some(sel) = &spec.selector {
        errs.extend(meta::validate_labels(sel.match_labels.as_ref(), &path.child("selector").child("matchLabels")));
    }
    if let Some(p) = spec.unhealthy_pod_eviction_policy.as_deref().filter(|p| !EVICTION_POLICIES.contains(p)) {
        errs.push(FieldError::not_supported(&path.child("unhealthyPodEvictionPolicy"), p, EVICTION_POLICIES));
    }
    errs
}

fn int_or_string(v: Option<&IntOrString>) -> String {
    match v {
        Some(IntOrString::Int(n)) => n.to_string(),
        Some(IntOrString::String(s)) => s.clone(),
        None => "N/A".to_owned(),
    }
}

impl TypedStrategy for PodDisruptionBudgetStrategy {
    type Object = PodDisruptionBudget;
    const GENERATION: bool = true;

    /// Upstream's PrepareForCreate resets the status to its zero value, which Go writes
    /// out (`status: {}`, or the counters that have no `omitempty`).
    fn prepare_for_create(&self, pdb: &mut PodDisruptionBudget) {
        pdb.status = Some(Default::default());
    }

    fn validate(&self, pdb: &PodDisruptionBudget) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&pdb.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(pdb));
        errs
    }

    fn validate_update(&self, new: &PodDisruptionBudget, old: &PodDisruptionBudget) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(new));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Min Available", "string", "The minimum number of pods that must be available."),
            Column::new("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
            Column::new(
                "Allowed Disruptions",
                "integer",
                "Calculated number of pods that may be disrupted at this time.",
            ),
            Column::AGE,
        ]
    }

    fn cells(&self, pdb: &PodDisruptionBudget) -> Vec<Cell> {
        let spec = pdb.spec.clone().unwrap_or_default();
        let allowed = pdb.status.as_ref().map_or(0, |s| s.disruptions_allowed);
        vec![
            table::name(&pdb.metadata),
            int_or_string(spec.min_available.as_ref()).into(),
            int_or_string(spec.max_unavailable.as_ref()).into(),
            allowed.into(),
            table::age(&pdb.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn created_with_zero_status_counters() {
        let mut v =
            DEF.strategy.decode(json!({"metadata": {"name": "web"}, "spec": {"minAvailable": 1}})).unwrap().object;
        DEF.strategy.prepare_for_create(&mut v);
        assert_eq!(
            v["status"],
            json!({"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0})
        );
    }

    #[test]
    fn min_xor_max() {
        let v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "web", "namespace": "default"},
                "spec": {"minAvailable": 1, "maxUnavailable": "50%", "selector": {"matchLabels": {"app": "web"}}}}))
            .unwrap()
            .object;
        let msgs: Vec<String> = DEF.strategy.validate(&v).iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 1);
        assert!(
            msgs[0].starts_with("spec: Invalid value: ")
                && msgs[0].ends_with("minAvailable and maxUnavailable cannot be both set")
        );
        assert_eq!(&DEF.strategy.cells(&v)[1..4], &[json!("1"), json!("50%"), json!(0)]);
    }
}
