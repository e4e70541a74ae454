//! What the four RBAC kinds share beyond validation: subject defaulting and the
//! binding table (Role, Age; wide Users, Groups, ServiceAccounts).

use crate::table::Cell;
use crate::table::Column;
use crate::validation::rbac::GROUP;
use k8s_openapi::api::rbac::v1::{RoleRef, Subject};

/// `SetDefaults_Subject` and the roleRef's API group.
pub fn default_binding(role_ref: &mut RoleRef, subjects: Option<&mut Vec<Subject>>) {
    if role_ref.api_group.is_empty() {
        role_ref.api_group = GROUP.to_owned();
    }
    for subject in subjects.into_iter().flatten() {
        if subject.api_group.is_none() && matches!(subject.kind.as_str(), "User" | "Group") {
            subject.api_group = Some(GROUP.to_owned());
        }
    }
}

/// The binding columns; `what` is `roleBinding` or `clusterRoleBinding`.
pub fn binding_columns(what: &'static str, role_doc: &'static str) -> Vec<Column> {
    let (users, groups, sas) = match what {
        "roleBinding" => {
            ("Users in the roleBinding", "Groups in the roleBinding", "ServiceAccounts in the roleBinding")
        }
        _ => (
            "Users in the clusterRoleBinding",
            "Groups in the clusterRoleBinding",
            "ServiceAccounts in the clusterRoleBinding",
        ),
    };
    vec![
        Column::NAME,
        Column::new("Role", "string", role_doc),
        Column::AGE,
        Column::new("Users", "string", users).wide(),
        Column::new("Groups", "string", groups).wide(),
        Column::new("ServiceAccounts", "string", sas).wide(),
    ]
}

/// Role, then the wide Users, Groups and ServiceAccounts cells (`ns/name` for accounts).
pub fn binding_cells(role_ref: &RoleRef, subjects: &[Subject]) -> (Cell, [Cell; 3]) {
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for s in subjects {
        match s.kind.as_str() {
            "User" => users.push(s.name.clone()),
            "Group" => groups.push(s.name.clone()),
            "ServiceAccount" => sas.push(format!("{}/{}", s.namespace.as_deref().unwrap_or_default(), s.name)),
            _ => {}
        }
    }
    (
        format!("{}/{}", role_ref.kind, role_ref.name).into(),
        [users.join(", ").into(), groups.join(", ").into(), sas.join(", ").into()],
    )
}
