//! Who is calling and whether they may: [`authenticate`] (client certificates, bearer
//! tokens, anonymous), [`impersonate`] (the `Impersonate-*` headers), [`authorize`]
//! (privileged groups, then the [`node`] authorizer for kubelets, then RBAC over the
//! [`policy`] kept current from the store).

pub mod authenticate;
pub mod authorize;
pub mod impersonate;
pub mod node;
pub mod policy;

pub use authorize::{authorize, forbidden};

/// An authenticated caller: name, uid, groups and extra, as RBAC sees it.
pub type User = rbac::UserInfo;

pub fn anonymous() -> User {
    User::new("system:anonymous", &["system:unauthenticated"])
}

pub fn is_anonymous(user: &User) -> bool {
    user.name == "system:anonymous"
}

/// From a verified client certificate (CN, O): such users are also `system:authenticated`.
pub fn from_certificate(name: String, mut groups: Vec<String>) -> User {
    groups.push("system:authenticated".to_owned());
    User { name, groups, ..Default::default() }
}

/// The identity of the API server's own writes (bootstrap objects).
pub fn system_user() -> User {
    User::new("system:apiserver", &["system:masters", "system:authenticated"])
}

/// An authenticator's user as the API server's [`User`].
pub fn from_authn(u: authn::UserInfo) -> User {
    User { name: u.name, uid: u.uid, groups: u.groups, extra: u.extra }
}
