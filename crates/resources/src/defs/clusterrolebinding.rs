//! rbac.authorization.k8s.io/v1 ClusterRoleBinding: grants a role's permissions to subjects cluster-wide.

use super::rbac_table::{binding_cells, binding_columns, default_binding};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names, rbac};
use crate::{ALL_VERBS, FieldError, ResourceDef};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;

pub const DEF: ResourceDef = ResourceDef {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    singular: "clusterrolebinding",
    short_names: &[],
    categories: &[],
    namespaced: false,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.rbac.v1.ClusterRoleBinding",
    strategy: &Typed(ClusterRoleBindingStrategy),
};

pub struct ClusterRoleBindingStrategy;

fn validate_binding(b: &ClusterRoleBinding) -> Vec<FieldError> {
    let mut errs = rbac::validate_role_ref(&b.role_ref, &["ClusterRole"]);
    errs.extend(rbac::validate_subjects(b.subjects.as_deref().unwrap_or_default(), false));
    errs
}

impl TypedStrategy for ClusterRoleBindingStrategy {
    type Object = ClusterRoleBinding;

    fn default(&self, b: &mut ClusterRoleBinding) {
        default_binding(&mut b.role_ref, b.subjects.as_mut());
    }

    fn validate(&self, b: &ClusterRoleBinding) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&b.metadata, false, names::path_segment_name);
        errs.extend(validate_binding(b));
        errs
    }

    fn validate_update(&self, new: &ClusterRoleBinding, old: &ClusterRoleBinding) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, false, names::path_segment_name);
        errs.extend(validate_binding(new));
        errs.extend(rbac::validate_role_ref_update(&new.role_ref, &old.role_ref));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        binding_columns(
            "clusterRoleBinding",
            "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.",
        )
    }

    fn cells(&self, b: &ClusterRoleBinding) -> Vec<Cell> {
        let (role, [users, groups, sas]) = binding_cells(&b.role_ref, b.subjects.as_deref().unwrap_or_default());
        vec![table::name(&b.metadata), role, table::age(&b.metadata), users, groups, sas]
    }
}
