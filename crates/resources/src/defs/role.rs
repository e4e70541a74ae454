//! rbac.authorization.k8s.io/v1 Role: a named set of permissions within a namespace.

use super::shared::{default_cells, default_columns};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{Cell, Column};
use crate::validation::{meta, names, rbac};
use crate::{ALL_VERBS, FieldError, ResourceDef};
use k8s_openapi::api::rbac::v1::Role;

pub const DEF: ResourceDef = ResourceDef {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "Role",
    plural: "roles",
    singular: "role",
    short_names: &[],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.rbac.v1.Role",
    strategy: &Typed(RoleStrategy),
};

pub struct RoleStrategy;

impl TypedStrategy for RoleStrategy {
    type Object = Role;

    fn validate(&self, role: &Role) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&role.metadata, true, names::path_segment_name);
        errs.extend(rbac::validate_rules(role.rules.as_deref().unwrap_or_default(), true));
        errs
    }

    fn validate_update(&self, new: &Role, old: &Role) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::path_segment_name);
        errs.extend(rbac::validate_rules(new.rules.as_deref().unwrap_or_default(), true));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        default_columns()
    }

    fn cells(&self, role: &Role) -> Vec<Cell> {
        default_cells(&role.metadata)
    }
}
