//! rbac.authorization.k8s.io/v1 ClusterRole: a named set of permissions across the cluster.

use super::shared::{default_cells, default_columns};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{Cell, Column};
use crate::validation::{meta, names, rbac};
use crate::{ALL_VERBS, FieldError, ResourceDef};
use k8s_openapi::api::rbac::v1::ClusterRole;

pub const DEF: ResourceDef = ResourceDef {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRole",
    plural: "clusterroles",
    singular: "clusterrole",
    short_names: &[],
    categories: &[],
    namespaced: false,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.rbac.v1.ClusterRole",
    strategy: &Typed(ClusterRoleStrategy),
};

pub struct ClusterRoleStrategy;

impl TypedStrategy for ClusterRoleStrategy {
    type Object = ClusterRole;

    fn validate(&self, role: &ClusterRole) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&role.metadata, false, names::path_segment_name);
        errs.extend(rbac::validate_rules(role.rules.as_deref().unwrap_or_default(), false));
        errs
    }

    fn validate_update(&self, new: &ClusterRole, old: &ClusterRole) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, false, names::path_segment_name);
        errs.extend(rbac::validate_rules(new.rules.as_deref().unwrap_or_default(), false));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        default_columns()
    }

    fn cells(&self, role: &ClusterRole) -> Vec<Cell> {
        default_cells(&role.metadata)
    }
}
