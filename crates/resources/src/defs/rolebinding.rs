//! rbac.authorization.k8s.io/v1 RoleBinding: grants a role's permissions to subjects in a namespace.

use super::rbac_table::{binding_cells, binding_columns, default_binding};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names, rbac};
use crate::{ALL_VERBS, FieldError, ResourceDef};
use k8s_openapi::api::rbac::v1::RoleBinding;

pub const DEF: ResourceDef = ResourceDef {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "RoleBinding",
    plural: "rolebindings",
    singular: "rolebinding",
    short_names: &[],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.rbac.v1.RoleBinding",
    strategy: &Typed(RoleBindingStrategy),
};

pub struct RoleBindingStrategy;

fn validate_binding(b: &RoleBinding) -> Vec<FieldError> {
    let mut errs = rbac::validate_role_ref(&b.role_ref, &["ClusterRole", "Role"]);
    errs.extend(rbac::validate_subjects(b.subjects.as_deref().unwrap_or_default(), true));
    errs
}

impl TypedStrategy for RoleBindingStrategy {
    type Object = RoleBinding;

    fn default(&self, b: &mut RoleBinding) {
        default_binding(&mut b.role_ref, b.subjects.as_mut());
    }

    fn validate(&self, b: &RoleBinding) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&b.metadata, true, names::path_segment_name);
        errs.extend(validate_binding(b));
        errs
    }

    fn validate_update(&self, new: &RoleBinding, old: &RoleBinding) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::path_segment_name);
        errs.extend(validate_binding(new));
        errs.extend(rbac::validate_role_ref_update(&new.role_ref, &old.role_ref));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        binding_columns(
            "roleBinding",
            "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.",
        )
    }

    fn cells(&self, b: &RoleBinding) -> Vec<Cell> {
        let (role, [users, groups, sas]) = binding_cells(&b.role_ref, b.subjects.as_deref().unwrap_or_default());
        vec![table::name(&b.metadata), role, table::age(&b.metadata), users, groups, sas]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_cells_and_immutable_role_ref() {
        let mut v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "read-pods", "namespace": "default"},
                "roleRef": {"kind": "Role", "name": "pod-reader", "apiGroup": ""},
                "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}]}))
            .unwrap()
            .object;
        DEF.strategy.default(&mut v);
        assert_eq!(v["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(v["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        assert!(DEF.strategy.validate(&v).is_empty(), "{:?}", DEF.strategy.validate(&v));
        let cells = DEF.strategy.cells(&v);
        assert_eq!(cells[1], "Role/pod-reader");
        assert_eq!(&cells[3..], &[json!("jane"), json!(""), json!("ci/bot")]);
        let mut new = v.clone();
        new["roleRef"]["name"] = json!("other");
        let msgs: Vec<String> = DEF.strategy.validate_update(&new, &v).iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 1);
        assert!(msgs[0].starts_with("roleRef: Invalid value: ") && msgs[0].ends_with(": cannot change roleRef"));
    }
}
