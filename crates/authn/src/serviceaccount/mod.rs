//! Service account tokens: the signing key ([`SigningKey`]), minting ([`Issuer`]) and
//! validation ([`Validator`]) of bound tokens and of legacy secret-based tokens, and the
//! check that the objects a token is bound to still exist ([`BoundObjects::check`]).
//!
//! The flow for a bearer token: [`Validator::validate`] verifies signature, issuer,
//! audience and lifetime and returns the [`ServiceAccountToken`] with its user; the caller
//! then fetches what [`BoundObjects`] names from the store and calls
//! [`BoundObjects::check`]. Only when both pass is the user authenticated.

mod bound;
mod claims;
mod error;
mod issuer;
mod keys;
mod validator;

use std::collections::BTreeMap;

pub use bound::{BoundObjects, LiveObjects};
pub use claims::{BoundClaims, KubernetesClaims, LegacyClaims, ObjectRef};
pub use error::TokenError;
pub use issuer::{Binding, Issuer, MintError, TokenRequest};
pub use keys::{KEY_FILE, KeyError, PUBLIC_KEY_FILE, PublicKey, SigningKey};
pub use validator::{ServiceAccountToken, TokenClaims, Validator};

use crate::user::UserInfo;

/// kube-apiserver's default `--service-account-issuer` (and so API audience).
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The issuer of legacy secret-based tokens.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";
/// A service account's user name is this prefix, the namespace, `:` and the name.
pub const USERNAME_PREFIX: &str = "system:serviceaccount:";
/// The group of every service account; `system:serviceaccounts:<ns>` is the namespace's.
pub const ALL_SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";
/// Extra keys of a service account user.
pub const POD_NAME_KEY: &str = "authentication.kubernetes.io/pod-name";
pub const POD_UID_KEY: &str = "authentication.kubernetes.io/pod-uid";
pub const NODE_NAME_KEY: &str = "authentication.kubernetes.io/node-name";
pub const NODE_UID_KEY: &str = "authentication.kubernetes.io/node-uid";
pub const CREDENTIAL_ID_KEY: &str = "authentication.kubernetes.io/credential-id";
/// A legacy token Secret with this label is refused.
pub const INVALID_SINCE_LABEL: &str = "kubernetes.io/legacy-token-invalid-since";
/// Clock skew tolerated on `exp`, `nbf`, `iat`, and the grace period of a bound object's
/// deletion (Go JOSE's `DefaultLeeway`).
pub const LEEWAY_SECONDS: i64 = 60;
/// A TokenRequest for a pod with exactly this lifetime (what kubelets ask for) is extended
/// to [`EXPIRATION_EXTENSION_SECONDS`] and warns after the requested lifetime, when
/// `--service-account-extend-token-expiration` is on.
pub const WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS: i64 = 60 * 60 + 7;
pub const EXPIRATION_EXTENSION_SECONDS: i64 = 24 * 365 * 60 * 60;

/// `system:serviceaccount:<namespace>:<name>`.
pub fn username(namespace: &str, name: &str) -> String {
    format!("{USERNAME_PREFIX}{namespace}:{name}")
}

/// The namespace and name of a service account user name; `None` for any other name.
pub fn split_username(username: &str) -> Option<(&str, &str)> {
    let (namespace, name) = username.strip_prefix(USERNAME_PREFIX)?.split_once(':')?;
    (is_dns_label(namespace) && !name.contains(':') && is_dns_subdomain(name)).then_some((namespace, name))
}

/// The user of a service account token: upstream's `ServiceAccountInfo.UserInfo()` plus
/// `system:authenticated`.
pub(crate) fn user_info(
    namespace: &str,
    service_account: &ObjectRef,
    pod: Option<&ObjectRef>,
    node: Option<&ObjectRef>,
    jti: &str,
) -> UserInfo {
    let mut extra = BTreeMap::new();
    if let Some(pod) = pod.filter(|p| !p.name.is_empty()) {
        extra.insert(POD_NAME_KEY.to_owned(), vec![pod.name.clone()]);
        extra.insert(POD_UID_KEY.to_owned(), vec![pod.uid.clone()]);
    }
    if !jti.is_empty() {
        extra.insert(CREDENTIAL_ID_KEY.to_owned(), vec![format!("JTI={jti}")]);
    }
    if let Some(node) = node.filter(|n| !n.name.is_empty()) {
        extra.insert(NODE_NAME_KEY.to_owned(), vec![node.name.clone()]);
        if !node.uid.is_empty() {
            extra.insert(NODE_UID_KEY.to_owned(), vec![node.uid.clone()]);
        }
    }
    UserInfo::authenticated(
        username(namespace, &service_account.name),
        service_account.uid.clone(),
        vec![ALL_SERVICE_ACCOUNTS_GROUP.to_owned(), format!("{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}")],
        extra,
    )
}

fn is_dns_label(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && alnum(bytes[0])
        && alnum(bytes[bytes.len() - 1])
        && bytes.iter().all(|&b| alnum(b) || b == b'-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_round_trip_and_reject_other_names() {
        assert_eq!(username("default", "builder"), "system:serviceaccount:default:builder");
        assert_eq!(split_username("system:serviceaccount:kube-system:a.b-c"), Some(("kube-system", "a.b-c")));
        for bad in [
            "system:serviceaccount:ns",
            "system:serviceaccount:ns:a:b",
            "system:serviceaccount:NS:a",
            "user:ns:a",
            "system:serviceaccount::a",
            "system:serviceaccount:ns:",
        ] {
            assert_eq!(split_username(bad), None, "{bad}");
        }
    }

    #[test]
    fn user_info_matches_upstream_extras() {
        let user = user_info(
            "ns",
            &ObjectRef::new("sa", "sa-uid"),
            Some(&ObjectRef::new("p", "p-uid")),
            Some(&ObjectRef::new("n", "")),
            "j1",
        );
        assert_eq!(user.name, "system:serviceaccount:ns:sa");
        assert_eq!(user.uid, "sa-uid");
        assert_eq!(user.groups, ["system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"]);
        let extra: Vec<(&str, &str)> = user.extra.iter().map(|(k, v)| (k.as_str(), v[0].as_str())).collect();
        assert_eq!(
            extra,
            [(CREDENTIAL_ID_KEY, "JTI=j1"), (NODE_NAME_KEY, "n"), (POD_NAME_KEY, "p"), (POD_UID_KEY, "p-uid"),]
        );
        assert!(user_info("ns", &ObjectRef::new("sa", "u"), None, None, "").extra.is_empty());
    }
}
