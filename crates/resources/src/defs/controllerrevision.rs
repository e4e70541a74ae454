//! apps/v1 ControllerRevision: an immutable snapshot of a StatefulSet's or DaemonSet's
//! template, kept for rollbacks.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::workload::{IMMUTABLE_MSG, nonnegative};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::apps::v1::ControllerRevision;
use serde_json::Value;

pub const DEF: ResourceDef = ResourceDef {
    group: "apps",
    version: "v1",
    kind: "ControllerRevision",
    plural: "controllerrevisions",
    singular: "controllerrevision",
    short_names: &[],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.apps.v1.ControllerRevision",
    strategy: &Typed(ControllerRevisionStrategy),
};

pub struct ControllerRevisionStrategy;

/// The owning controller as upstream prints it: `statefulset.apps/web`, or `<none>`.
fn controller(rev: &ControllerRevision) -> String {
    let owners = rev.metadata.owner_references.as_deref().unwrap_or_default();
    let Some(owner) = owners.iter().find(|o| o.controller == Some(true)) else { return "<none>".to_owned() };
    let group = owner.api_version.rsplit_once('/').map_or("", |(group, _)| group);
    let kind = if group.is_empty() { owner.kind.clone() } else { format!("{}.{group}", owner.kind) };
    format!("{}/{}", kind.to_lowercase(), owner.name)
}

impl TypedStrategy for ControllerRevisionStrategy {
    type Object = ControllerRevision;

    fn validate(&self, rev: &ControllerRevision) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&rev.metadata, true, names::dns1123_subdomain);
        if rev.data.is_none() {
            errs.push(FieldError::required(&FieldPath::new("data"), "data is mandatory"));
        }
        errs.extend(nonnegative(Some(rev.revision), &FieldPath::new("revision")));
        errs
    }

    fn validate_update(&self, new: &ControllerRevision, old: &ControllerRevision) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(self.validate(new));
        if new.data != old.data {
            let shown = serde_json::to_value(&new.data).unwrap_or(Value::Null);
            errs.push(FieldError::invalid(&FieldPath::new("data"), shown, IMMUTABLE_MSG));
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Controller", "string", "Controller of the object"),
            Column::new("Revision", "string", "Revision indicates the revision of the state represented by Data."),
            Column::AGE,
        ]
    }

    fn cells(&self, rev: &ControllerRevision) -> Vec<Cell> {
        vec![table::name(&rev.metadata), controller(rev).into(), rev.revision.into(), table::age(&rev.metadata)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_name_the_controller() {
        let obj = json!({"metadata": {"name": "web-6b7f", "namespace": "default",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u", "controller": true}]},
            "data": {"spec": {}}, "revision": 2});
        assert_eq!(DEF.strategy.cells(&obj)[1..3], [json!("statefulset.apps/web"), json!(2)]);
        assert!(DEF.strategy.validate(&obj).is_empty());
        let mut changed = obj.clone();
        changed["data"] = json!({"spec": {"x": 1}});
        assert_eq!(DEF.strategy.validate_update(&changed, &obj)[0].field, "data");
    }
}
