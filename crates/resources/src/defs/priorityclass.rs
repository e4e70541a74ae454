//! scheduling.k8s.io/v1 PriorityClass: a named pod priority and preemption policy.

use super::shared::default_str;
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::scheduling::v1::PriorityClass;

pub const DEF: ResourceDef = ResourceDef {
    group: "scheduling.k8s.io",
    version: "v1",
    kind: "PriorityClass",
    plural: "priorityclasses",
    singular: "priorityclass",
    short_names: &["pc"],
    categories: &[],
    namespaced: false,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.scheduling.v1.PriorityClass",
    strategy: &Typed(PriorityClassStrategy),
};

pub struct PriorityClassStrategy;

/// The highest priority a user-defined class may have.
const HIGHEST_USER_PRIORITY: i32 = 1_000_000_000;
/// The built-in classes, which alone may use the `system-` prefix and higher values.
const SYSTEM_CLASSES: &[&str] = &["system-cluster-critical", "system-node-critical"];
const PREEMPTION_POLICIES: &[&str] = &["Never", "PreemptLowerPriority"];

fn validate_class(pc: &PriorityClass) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = pc.metadata.name.as_deref().unwrap_or_default();
    let system = SYSTEM_CLASSES.contains(&name);
    if name.starts_with("system-") && !system {
        errs.push(FieldError::forbidden(
            &FieldPath::new("metadata").child("name"),
            "priority class names with 'system-' prefix are reserved",
        ));
    }
    if pc.value > HIGHEST_USER_PRIORITY && !system {
        errs.push(FieldError::forbidden(
            &FieldPath::new("value"),
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
        ));
    }
    if let Some(p) = pc.preemption_policy.as_deref().filter(|p| !PREEMPTION_POLICIES.contains(p)) {
        errs.push(FieldError::not_supported(&FieldPath::new("preemptionPolicy"), p, PREEMPTION_POLICIES));
    }
    errs
}

impl TypedStrategy for PriorityClassStrategy {
    type Object = PriorityClass;

    fn default(&self, pc: &mut PriorityClass) {
        default_str(&mut pc.preemption_policy, "PreemptLowerPriority");
    }

    fn validate(&self, pc: &PriorityClass) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&pc.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_class(pc));
        errs
    }

    fn validate_update(&self, new: &PriorityClass, old: &PriorityClass) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_class(new));
        if new.value != old.value {
            errs.push(FieldError::forbidden(&FieldPath::new("value"), "may not be changed in an update."));
        }
        if new.preemption_policy != old.preemption_policy {
            let policy = new.preemption_policy.clone().unwrap_or_default();
            errs.push(FieldError::invalid(&FieldPath::new("preemptionPolicy"), policy, "field is immutable"));
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new(
                "Value",
                "integer",
                "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.",
            ),
            Column::new(
                "Global-Default",
                "boolean",
                "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority.",
            ),
            Column::AGE,
            Column::new(
                "PreemptionPolicy",
                "string",
                "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.",
            ),
        ]
    }

    fn cells(&self, pc: &PriorityClass) -> Vec<Cell> {
        vec![
            table::name(&pc.metadata),
            pc.value.into(),
            pc.global_default.unwrap_or(false).into(),
            table::age(&pc.metadata),
            pc.preemption_policy.clone().unwrap_or_default().into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_reserved_names() {
        let mut v = DEF.strategy.decode(json!({"metadata": {"name": "high"}, "value": 1000})).unwrap().object;
        DEF.strategy.default(&mut v);
        assert_eq!(v["preemptionPolicy"], "PreemptLowerPriority");
        assert!(DEF.strategy.validate(&v).is_empty());
        assert_eq!(&DEF.strategy.cells(&v)[1..3], &[json!(1000), json!(false)]);
        let v = DEF.strategy.decode(json!({"metadata": {"name": "system-mine"}, "value": 1})).unwrap().object;
        let msgs: Vec<String> = DEF.strategy.validate(&v).iter().map(ToString::to_string).collect();
        assert_eq!(msgs, vec!["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved"]);
    }
}
