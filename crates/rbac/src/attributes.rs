//! What the authorizer is asked (upstream's `authorizer.Attributes`) and what it answers.

use std::collections::BTreeMap;

/// An authenticated caller (upstream's `user.Info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn new(name: impl Into<String>, groups: &[&str]) -> Self {
        UserInfo { name: name.into(), groups: groups.iter().map(|g| (*g).to_owned()).collect(), ..Default::default() }
    }

    /// The identity a service account's token authenticates as: user
    /// `system:serviceaccount:NS:NAME` in groups `system:serviceaccounts`,
    /// `system:serviceaccounts:NS` and `system:authenticated`.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        UserInfo {
            name: service_account_username(namespace, name),
            groups: vec![
                "system:serviceaccounts".to_owned(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".to_owned(),
            ],
            ..Default::default()
        }
    }
}

/// The user name of a service account (upstream's `serviceaccount.MakeUsername`).
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// One request to decide. Resource requests use `api_group`, `resource`, `subresource`,
/// `namespace` and `name`; non-resource requests (`/healthz`, `/api`) use `path`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    pub user: UserInfo,
    /// get, list, watch, create, update, patch, delete, deletecollection, or a special
    /// verb (impersonate, bind, escalate, use, approve, sign, proxy).
    pub verb: String,
    pub is_resource: bool,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    /// Empty for cluster-scoped requests; RoleBindings then never apply.
    pub namespace: String,
    pub name: String,
    pub path: String,
}

/// RBAC's answer. RBAC only ever grants: when no rule allows a request it has no opinion
/// and another authorizer (or the default deny) decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed; the reason names the binding, role and subject that granted it
    /// (`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to Group "z"`).
    Allow(String),
    /// Not allowed by any rule. The reason is empty, or lists the bindings that could not
    /// be resolved (`RBAC: clusterrole.rbac.authorization.k8s.io "x" not found`); upstream's
    /// 403 message appends it after `": "` when it is not empty.
    NoOpinion(String),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            Decision::Allow(reason) | Decision::NoOpinion(reason) => reason,
        }
    }
}
