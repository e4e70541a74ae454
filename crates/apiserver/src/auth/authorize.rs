//! Authorization: anonymous callers only on the public paths, the privileged group
//! `system:masters` (and the in-process control plane) always, kubelets by the Node
//! authorizer, everyone (kubelets too) by RBAC. Refusals carry upstream's 403 message.

use super::node::NodeAuthorizer;
use super::{User, is_anonymous};
use crate::request_info::RequestInfo;
use crate::status::{ApiError, Subject};

/// Identities of the components `krust server` runs in-process: privileged, like
/// upstream's controller manager and scheduler with their broad bootstrap roles.
pub const CONTROL_PLANE_USERS: &[&str] = &["system:kube-controller-manager", "system:kube-scheduler"];

/// Paths anyone may read (RBAC's `system:public-info-viewer` grants them too).
const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/version/"];

fn is_public(path: &str) -> bool {
    PUBLIC_PATHS.contains(&path) || ["/healthz/", "/livez/", "/readyz/"].iter().any(|p| path.starts_with(p))
}

/// RBAC's request attributes for `info`.
pub fn attributes(user: &User, info: &RequestInfo) -> rbac::Attributes {
    rbac::Attributes {
        user: user.clone(),
        verb: info.verb.clone(),
        is_resource: info.is_resource,
        api_group: info.group.clone(),
        resource: info.resource.clone(),
        subresource: info.subresource.clone(),
        namespace: info.namespace.clone(),
        name: info.name.clone(),
        path: info.path.clone(),
    }
}

/// Users every request of whom is allowed: `system:masters` and the control plane.
pub fn is_privileged(user: &User) -> bool {
    user.groups.iter().any(|g| g == "system:masters") || CONTROL_PLANE_USERS.contains(&user.name.as_str())
}

/// The decision for `attrs` and its reason: privileged identities, then RBAC.
pub fn decide(policy: &rbac::Policy, attrs: &rbac::Attributes) -> (bool, String) {
    if is_privileged(&attrs.user) {
        return (true, String::new());
    }
    let decision = policy.authorize(attrs);
    (decision.is_allowed(), decision.reason().to_owned())
}

/// Upstream's default chain (`--authorization-mode=Node,RBAC`): privileged identities,
/// the Node authorizer, then RBAC. Refused, the reasons of both are joined as upstream's
/// union authorizer joins them.
pub fn decide_with_nodes(nodes: &NodeAuthorizer, policy: &rbac::Policy, attrs: &rbac::Attributes) -> (bool, String) {
    if is_privileged(&attrs.user) {
        return (true, String::new());
    }
    let by_node = nodes.authorize(attrs);
    if by_node.is_allowed() {
        return (true, by_node.reason().to_owned());
    }
    let by_rbac = policy.authorize(attrs);
    if by_rbac.is_allowed() {
        return (true, by_rbac.reason().to_owned());
    }
    let reasons: Vec<&str> = [by_node.reason(), by_rbac.reason()].into_iter().filter(|r| !r.is_empty()).collect();
    (false, reasons.join("\n"))
}

/// Decide a request. Anonymous callers get 401 outside the public paths (anonymous
/// access is limited to those, as kube-apiserver's anonymous configuration does).
pub fn authorize(
    nodes: &NodeAuthorizer,
    policy: &rbac::Policy,
    user: &User,
    info: &RequestInfo,
) -> Result<(), ApiError> {
    if is_anonymous(user) && !is_public(&info.path) {
        return Err(ApiError::Unauthorized);
    }
    match decide_with_nodes(nodes, policy, &attributes(user, info)) {
        (true, _) => Ok(()),
        (false, reason) => Err(forbidden(user, info, &reason)),
    }
}

/// Upstream's 403 for a refused request, with the authorizer's reason appended.
pub fn forbidden(user: &User, info: &RequestInfo, reason: &str) -> ApiError {
    let suffix = if reason.is_empty() { String::new() } else { format!(": {reason}") };
    if !info.is_resource {
        return ApiError::Forbidden {
            message: format!("forbidden: User \"{}\" cannot {} path \"{}\"{suffix}", user.name, info.verb, info.path),
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
            "{object} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}{suffix}",
            user.name, info.verb, info.group
        ),
        subject: Subject { name: info.name.clone(), group: info.group.clone(), kind: info.resource.clone() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{anonymous, from_certificate};
    use axum::http::Method;

    fn bootstrap() -> rbac::Policy {
        let p = rbac::bootstrap_policy();
        rbac::Policy::new(&p.cluster_roles, &p.roles, &p.cluster_role_bindings, &p.role_bindings)
    }

    #[test]
    fn anonymous_gets_401_on_resources_and_reads_public_paths() {
        let policy = bootstrap();
        let pods = RequestInfo::parse(&Method::GET, "/api/v1/pods", false);
        assert!(matches!(
            authorize(&NodeAuthorizer::default(), &policy, &anonymous(), &pods),
            Err(ApiError::Unauthorized)
        ));
        let version = RequestInfo::parse(&Method::GET, "/version", false);
        assert!(authorize(&NodeAuthorizer::default(), &policy, &anonymous(), &version).is_ok());
    }

    #[test]
    fn forbidden_message_matches_upstream() {
        let policy = bootstrap();
        let user = from_certificate("x".into(), vec![]);
        let info = RequestInfo::parse(&Method::GET, "/api/v1/namespaces/default/secrets", false);
        let err = authorize(&NodeAuthorizer::default(), &policy, &user, &info).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secrets is forbidden: User \"x\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\""
        );
        let admin = from_certificate("admin".into(), vec!["system:masters".into()]);
        assert!(authorize(&NodeAuthorizer::default(), &policy, &admin, &info).is_ok());
        // Every authenticated user may discover the API (system:discovery).
        let apis = RequestInfo::parse(&Method::GET, "/apis", false);
        assert!(authorize(&NodeAuthorizer::default(), &policy, &user, &apis).is_ok());
    }

    #[test]
    fn the_node_authorizer_comes_before_rbac() {
        use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject as RbacSubject};
        let kubelet = from_certificate("system:node:n1".into(), vec!["system:nodes".into()]);
        let secret = RequestInfo::parse(&Method::GET, "/api/v1/namespaces/default/secrets/s", false);
        let err = authorize(&NodeAuthorizer::default(), &bootstrap(), &kubelet, &secret).unwrap_err();
        assert!(err.to_string().ends_with(": no relationship found between node 'n1' and this object"), "{err}");
        // A binding RBAC honours still lets the kubelet in.
        let p = rbac::bootstrap_policy();
        let mut bindings = p.cluster_role_bindings.clone();
        bindings.push(ClusterRoleBinding {
            metadata: Default::default(),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "ClusterRole".into(),
                name: "admin".into(),
            },
            subjects: Some(vec![RbacSubject {
                kind: "Group".into(),
                name: "system:nodes".into(),
                ..Default::default()
            }]),
        });
        let policy = rbac::Policy::new(&p.cluster_roles, &p.roles, &bindings, &p.role_bindings);
        assert!(authorize(&NodeAuthorizer::default(), &policy, &kubelet, &secret).is_ok());
    }
}
