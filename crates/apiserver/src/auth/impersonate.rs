//! Impersonation: `Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid` and
//! `Impersonate-Extra-*` headers, each checked against the `impersonate` verb, turn the
//! request into the impersonated user's (upstream's impersonation filter).

use super::User;
use super::authorize::{decide, forbidden};
use crate::request_info::RequestInfo;
use crate::status::{ApiError, ApiResult};
use axum::http::HeaderMap;

fn values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect()
}

/// One permission to check: impersonate `resource` named `name`.
fn check(
    policy: &rbac::Policy,
    user: &User,
    group: &str,
    resource: &str,
    sub: &str,
    ns: &str,
    name: &str,
) -> ApiResult<()> {
    let info = RequestInfo {
        is_resource: true,
        group: group.to_owned(),
        version: "v1".to_owned(),
        namespace: ns.to_owned(),
        resource: resource.to_owned(),
        name: name.to_owned(),
        subresource: sub.to_owned(),
        verb: "impersonate".to_owned(),
        path: String::new(),
    };
    match decide(policy, &super::authorize::attributes(user, &info)) {
        (true, _) => Ok(()),
        (false, reason) => Err(forbidden(user, &info, &reason)),
    }
}

/// The user the request acts as: `user` itself, or whom it may impersonate.
pub fn impersonate(policy: &rbac::Policy, user: &User, headers: &HeaderMap) -> ApiResult<User> {
    let name = values(headers, "impersonate-user").first().map(|s| (*s).to_owned());
    let groups: Vec<String> = values(headers, "impersonate-group").into_iter().map(str::to_owned).collect();
    let uid = values(headers, "impersonate-uid").first().map(|s| (*s).to_owned());
    let extras: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| {
            let key = k.as_str().strip_prefix("impersonate-extra-")?;
            Some((key.to_owned(), v.to_str().ok()?.to_owned()))
        })
        .collect();
    let Some(name) = name else {
        if groups.is_empty() && uid.is_none() && extras.is_empty() {
            return Ok(user.clone());
        }
        return Err(ApiError::BadRequest(
            "requested impersonation of groups, uid or extra without impersonating a user".to_owned(),
        ));
    };
    let mut target = User { name: name.clone(), ..Default::default() };
    match authn::serviceaccount::split_username(&name) {
        Some((ns, sa)) => {
            check(policy, user, "", "serviceaccounts", "", ns, sa)?;
            target.groups.extend(["system:serviceaccounts".to_owned(), format!("system:serviceaccounts:{ns}")]);
        }
        None => check(policy, user, "", "users", "", "", &name)?,
    }
    for g in &groups {
        check(policy, user, "", "groups", "", "", g)?;
        target.groups.push(g.clone());
    }
    if let Some(uid) = uid {
        check(policy, user, "authentication.k8s.io", "uids", "", "", &uid)?;
        target.uid = uid;
    }
    for (key, value) in extras {
        check(policy, user, "authentication.k8s.io", "userextras", &key, "", &value)?;
        target.extra.entry(key).or_default().push(value);
    }
    if name == "system:anonymous" {
        target.groups.push("system:unauthenticated".to_owned());
    } else if !target.groups.iter().any(|g| g == "system:authenticated") {
        target.groups.push("system:authenticated".to_owned());
    }
    Ok(target)
}
