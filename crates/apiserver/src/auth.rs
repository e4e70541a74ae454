//! Who is calling (authentication) and whether they may (authorization).
//!
//! Authentication here: the TLS client certificate (user = CN, groups = O), else
//! anonymous. Authorization: `system:masters` may do anything; anonymous may read the
//! public health and version paths; everyone else is refused with upstream's 403.

use crate::request_info::RequestInfo;
use crate::status::{ApiError, Subject};

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

impl User {
    pub fn anonymous() -> Self {
        User { name: "system:anonymous".to_owned(), groups: vec!["system:unauthenticated".to_owned()] }
    }

    pub fn is_anonymous(&self) -> bool {
        self.name == "system:anonymous"
    }

    /// From a verified client certificate: every such user is also `system:authenticated`.
    pub fn from_certificate(name: String, mut groups: Vec<String>) -> Self {
        groups.push("system:authenticated".to_owned());
        User { name, groups }
    }
}

/// Identities of the components `krust server` runs in-process.
pub const CONTROL_PLANE_USERS: &[&str] = &["system:kube-controller-manager", "system:kube-scheduler"];

/// Paths anyone may read (upstream's `system:public-info-viewer`).
const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/version/"];

fn is_public(path: &str) -> bool {
    PUBLIC_PATHS.contains(&path) || ["/healthz/", "/livez/", "/readyz/"].iter().any(|p| path.starts_with(p))
}

/// Decide a request. Anonymous callers get 401 outside the public paths (anonymous
/// access is limited to those, as kube-apiserver's anonymous config does); others
/// need `system:masters` until RBAC exists.
pub fn authorize(user: &User, info: &RequestInfo) -> Result<(), ApiError> {
    if is_public(&info.path) {
        return Ok(());
    }
    if user.is_anonymous() {
        return Err(ApiError::Unauthorized);
    }
    if user.groups.iter().any(|g| g == "system:masters") {
        return Ok(());
    }
    // The built-in control-plane components act with their own identities. Until the RBAC
    // authorizer holds their bootstrap roles, they are trusted as upstream's roles would.
    if CONTROL_PLANE_USERS.contains(&user.name.as_str()) {
        return Ok(());
    }
    Err(forbidden(user, info))
}

/// Upstream's 403 message for a refused request.
pub fn forbidden(user: &User, info: &RequestInfo) -> ApiError {
    if !info.is_resource {
        return ApiError::Forbidden {
            message: format!("forbidden: User \"{}\" cannot {} path \"{}\"", user.name, info.verb, info.path),
            subject: Subject::default(),
        };
    }
    let resource = if info.subresource.is_empty() {
        info.resource.clone()
    } else {
        format!("{}/{}", info.resource, info.subresource)
    };
    let group_resource =
        if info.group.is_empty() { resource.clone() } else { format!("{}.{}", info.resource, info.group) };
    let object =
        if info.name.is_empty() { group_resource.clone() } else { format!("{group_resource} \"{}\"", info.name) };
    let scope = if info.namespace.is_empty() {
        "at the cluster scope".to_owned()
    } else {
        format!("in the namespace \"{}\"", info.namespace)
    };
    ApiError::Forbidden {
        message: format!(
            "{object} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
            user.name, info.verb, info.group
        ),
        subject: Subject { name: info.name.clone(), group: info.group.clone(), kind: info.resource.clone() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn anonymous_gets_401_on_resources_and_reads_public_paths() {
        let anon = User::anonymous();
        let pods = RequestInfo::parse(&Method::GET, "/api/v1/pods", false);
        assert!(matches!(authorize(&anon, &pods), Err(ApiError::Unauthorized)));
        let version = RequestInfo::parse(&Method::GET, "/version", false);
        assert!(authorize(&anon, &version).is_ok());
    }

    #[test]
    fn forbidden_message_matches_upstream() {
        let user = User::from_certificate("x".into(), vec![]);
        let info = RequestInfo::parse(&Method::GET, "/api/v1/namespaces/default/secrets", false);
        let err = authorize(&user, &info).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secrets is forbidden: User \"x\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
        );
        let admin = User::from_certificate("admin".into(), vec!["system:masters".into()]);
        assert!(authorize(&admin, &info).is_ok());
    }
}
