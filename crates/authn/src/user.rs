//! The identity an authenticator vouches for (upstream's `user.Info`).

use std::collections::BTreeMap;

/// The group every authenticated user is in.
pub const ALL_AUTHENTICATED: &str = "system:authenticated";
/// The group of anonymous requests; a user already in it is not also made authenticated.
const ALL_UNAUTHENTICATED: &str = "system:unauthenticated";

/// An authenticated user: name, UID, groups and extra attributes (upstream's `DefaultInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user an authenticator accepted: `system:authenticated` is appended to `groups`
    /// unless it (or `system:unauthenticated`) is already there, as upstream's
    /// `AuthenticatedGroupAdder` does.
    pub fn authenticated(
        name: String,
        uid: String,
        mut groups: Vec<String>,
        extra: BTreeMap<String, Vec<String>>,
    ) -> Self {
        if !groups.iter().any(|g| g == ALL_AUTHENTICATED || g == ALL_UNAUTHENTICATED) {
            groups.push(ALL_AUTHENTICATED.to_owned());
        }
        UserInfo { name, uid, groups, extra }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticated_group_is_added_once() {
        let user = UserInfo::authenticated("u".into(), String::new(), vec!["g".into()], BTreeMap::new());
        assert_eq!(user.groups, ["g", ALL_AUTHENTICATED]);
        let again = UserInfo::authenticated("u".into(), String::new(), user.groups.clone(), BTreeMap::new());
        assert_eq!(again.groups, ["g", ALL_AUTHENTICATED]);
    }
}
