//! Bootstrap tokens (`abcdef.0123456789abcdef`), checked against the Secret of type
//! `bootstrap.kubernetes.io/token` named `bootstrap-token-<id>` in `kube-system`, as
//! kube-apiserver's bootstrap token authenticator does.
//!
//! The caller parses the bearer token with [`BootstrapToken::parse`], fetches the Secret
//! named by [`BootstrapToken::secret_name`] from [`NAMESPACE`], and passes it to
//! [`BootstrapToken::authenticate`]. A missing Secret means the token is not valid.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use subtle::ConstantTimeEq;

use crate::user::UserInfo;

/// Where bootstrap token Secrets live.
pub const NAMESPACE: &str = "kube-system";
/// The type of a bootstrap token Secret.
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// A bootstrap token Secret's name is this prefix and the token ID.
pub const SECRET_NAME_PREFIX: &str = "bootstrap-token-";
/// A bootstrap token's user is this prefix and the token ID.
pub const USER_PREFIX: &str = "system:bootstrap:";
/// The group every bootstrap token user is in.
pub const DEFAULT_GROUP: &str = "system:bootstrappers";

const TOKEN_ID_KEY: &str = "token-id";
const TOKEN_SECRET_KEY: &str = "token-secret";
const EXPIRATION_KEY: &str = "expiration";
const USAGE_AUTHENTICATION_KEY: &str = "usage-bootstrap-authentication";
const EXTRA_GROUPS_KEY: &str = "auth-extra-groups";

/// Why a well-formed bootstrap token was refused; worded as upstream logs it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BootstrapError {
    #[error("Bootstrap secret {0} is not the secret for this token")]
    WrongSecret(String),
    #[error("Bootstrap secret {0} matching bearer token is deleted and awaiting removal")]
    Deleted(String),
    #[error("Bootstrap secret {0} matching bearer token has invalid type, expected {SECRET_TYPE}.")]
    WrongType(String),
    #[error("Bootstrap secret {0} matching bearer token has invalid value for key {TOKEN_SECRET_KEY}.")]
    SecretMismatch(String),
    #[error("Bootstrap secret {0} matching bearer token has invalid value for key {TOKEN_ID_KEY}.")]
    IdMismatch(String),
    #[error("Bootstrap secret {0} matching bearer token has expired")]
    Expired(String),
    #[error("Bootstrap secret {0} matching bearer token not marked {USAGE_AUTHENTICATION_KEY}=true.")]
    NotForAuthentication(String),
    #[error(
        "Bootstrap secret {secret} matching bearer token has invalid value for key {EXTRA_GROUPS_KEY}: {group:?} is not a valid bootstrap group name (must match ^system:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9]$)."
    )]
    InvalidGroup { secret: String, group: String },
}

/// A bearer token of the form `<6 [a-z0-9]>.<16 [a-z0-9]>`.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    id: String,
    secret: String,
}

impl std::fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapToken").field("id", &self.id).finish_non_exhaustive()
    }
}

impl BootstrapToken {
    /// Splits a bearer token into ID and secret; `None` when it is not a bootstrap token.
    pub fn parse(token: &str) -> Option<BootstrapToken> {
        let (id, secret) = token.split_once('.')?;
        let valid = |part: &str, len: usize| {
            part.len() == len && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        (valid(id, 6) && valid(secret, 16)).then(|| BootstrapToken { id: id.to_owned(), secret: secret.to_owned() })
    }

    /// The token ID (the public half).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The name of the Secret in [`NAMESPACE`] that holds this token.
    pub fn secret_name(&self) -> String {
        format!("{SECRET_NAME_PREFIX}{}", self.id)
    }

    /// Checks the token against its Secret at time `now` and returns its user:
    /// `system:bootstrap:<id>` in `system:bootstrappers`, the Secret's
    /// `auth-extra-groups` (sorted, without duplicates) and `system:authenticated`.
    pub fn authenticate(&self, secret: &Secret, now: Timestamp) -> Result<UserInfo, BootstrapError> {
        let name = secret.metadata.name.as_deref().unwrap_or_default();
        let namespace = secret.metadata.namespace.as_deref().unwrap_or(NAMESPACE);
        let label = format!("{namespace}/{name}");
        if name != self.secret_name() || namespace != NAMESPACE {
            return Err(BootstrapError::WrongSecret(label));
        }
        if secret.metadata.deletion_timestamp.is_some() {
            return Err(BootstrapError::Deleted(label));
        }
        if secret.type_.as_deref() != Some(SECRET_TYPE) || secret.data.is_none() {
            return Err(BootstrapError::WrongType(label));
        }
        let stored_secret = data(secret, TOKEN_SECRET_KEY);
        if !bool::from(stored_secret.as_bytes().ct_eq(self.secret.as_bytes())) {
            return Err(BootstrapError::SecretMismatch(label));
        }
        if data(secret, TOKEN_ID_KEY) != self.id {
            return Err(BootstrapError::IdMismatch(label));
        }
        if has_expired(&data(secret, EXPIRATION_KEY), now) {
            return Err(BootstrapError::Expired(label));
        }
        if data(secret, USAGE_AUTHENTICATION_KEY) != "true" {
            return Err(BootstrapError::NotForAuthentication(label));
        }
        let groups = groups(&data(secret, EXTRA_GROUPS_KEY))
            .map_err(|group| BootstrapError::InvalidGroup { secret: label, group })?;
        Ok(UserInfo::authenticated(format!("{USER_PREFIX}{}", self.id), String::new(), groups, BTreeMap::new()))
    }
}

/// A value of the Secret's `data`, as text (empty when absent).
fn data(secret: &Secret, key: &str) -> String {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        .unwrap_or_default()
}

/// An expiration that does not parse as RFC 3339 counts as expired; none never expires.
fn has_expired(expiration: &str, now: Timestamp) -> bool {
    if expiration.is_empty() {
        return false;
    }
    match expiration.parse::<Timestamp>() {
        Ok(at) => at <= now,
        Err(_) => true,
    }
}

/// The default group plus the comma-separated extra groups, sorted and de-duplicated;
/// the first invalid group name is the error.
fn groups(extra: &str) -> Result<Vec<String>, String> {
    let mut groups = std::collections::BTreeSet::from([DEFAULT_GROUP.to_owned()]);
    if !extra.is_empty() {
        for group in extra.split(',') {
            if !valid_group(group) {
                return Err(group.to_owned());
            }
            groups.insert(group.to_owned());
        }
    }
    Ok(groups.into_iter().collect())
}

/// `^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$`
fn valid_group(group: &str) -> bool {
    let Some(rest) = group.strip_prefix("system:bootstrappers:") else {
        return false;
    };
    let Some(last) = rest.bytes().last() else {
        return false;
    };
    let lower_or_digit = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    rest.len() <= 256 && lower_or_digit(last) && rest.bytes().all(|b| lower_or_digit(b) || b == b':' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ALL_AUTHENTICATED;
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    const NOW: &str = "2025-06-01T00:00:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        let mut data: BTreeMap<String, ByteString> = [
            ("token-id", "abcdef"),
            ("token-secret", "0123456789abcdef"),
            ("usage-bootstrap-authentication", "true"),
            ("expiration", "2025-06-02T00:00:00Z"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
        .collect();
        for (k, v) in pairs {
            data.insert(k.to_string(), ByteString(v.as_bytes().to_vec()));
        }
        Secret {
            metadata: ObjectMeta {
                name: Some("bootstrap-token-abcdef".into()),
                namespace: Some("kube-system".into()),
                ..Default::default()
            },
            type_: Some(SECRET_TYPE.into()),
            data: Some(data),
            ..Default::default()
        }
    }

    fn token() -> BootstrapToken {
        BootstrapToken::parse("abcdef.0123456789abcdef").unwrap()
    }

    #[test]
    fn parse_accepts_only_the_exact_shape() {
        let token = token();
        assert_eq!((token.id(), token.secret_name().as_str()), ("abcdef", "bootstrap-token-abcdef"));
        assert!(!format!("{token:?}").contains("0123456789abcdef"));
        for bad in [
            "",
            "abcdef",
            "abcdef.",
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdef",
            "abcdef.0123456789abcdeff",
            "abcdef.0123456789abcde!",
            "abcdef:0123456789abcdef",
            "abcdef.0123456789abcdef.x",
            "é bcdef.0123456789abcdef",
        ] {
            assert_eq!(BootstrapToken::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn valid_secret_gives_bootstrap_user_and_sorted_groups() {
        let extra = "system:bootstrappers:worker,system:bootstrappers:a-b:c1,system:bootstrappers:worker";
        let user = token().authenticate(&secret(&[("auth-extra-groups", extra)]), now()).unwrap();
        assert_eq!(user.name, "system:bootstrap:abcdef");
        assert_eq!(user.uid, "");
        assert_eq!(
            user.groups,
            ["system:bootstrappers", "system:bootstrappers:a-b:c1", "system:bootstrappers:worker", ALL_AUTHENTICATED]
        );
        let no_expiry = token().authenticate(&secret(&[("expiration", "")]), now()).unwrap();
        assert_eq!(no_expiry.groups, ["system:bootstrappers", ALL_AUTHENTICATED]);
    }

    #[test]
    fn every_failed_check_refuses() {
        let t = token();
        let label = "kube-system/bootstrap-token-abcdef".to_owned();
        let check = |s: Secret| t.authenticate(&s, now()).unwrap_err();
        assert_eq!(
            check(secret(&[("token-secret", "0123456789abcdee")])),
            BootstrapError::SecretMismatch(label.clone())
        );
        assert_eq!(check(secret(&[("token-id", "abcdeg")])), BootstrapError::IdMismatch(label.clone()));
        assert_eq!(check(secret(&[("expiration", NOW)])), BootstrapError::Expired(label.clone()));
        assert_eq!(check(secret(&[("expiration", "tomorrow")])), BootstrapError::Expired(label.clone()));
        assert_eq!(
            check(secret(&[("usage-bootstrap-authentication", "false")])),
            BootstrapError::NotForAuthentication(label.clone())
        );
        for group in ["system:masters", "system:bootstrappers:", "system:bootstrappers:X", "system:bootstrappers:a-"] {
            let err = check(secret(&[("auth-extra-groups", group)]));
            assert_eq!(err, BootstrapError::InvalidGroup { secret: label.clone(), group: group.into() });
        }
        let mut wrong_type = secret(&[]);
        wrong_type.type_ = Some("Opaque".into());
        assert_eq!(check(wrong_type), BootstrapError::WrongType(label.clone()));
        let mut deleting = secret(&[]);
        deleting.metadata.deletion_timestamp = Some(Time(now()));
        assert_eq!(check(deleting), BootstrapError::Deleted(label));
        let mut other = secret(&[]);
        other.metadata.namespace = Some("default".into());
        assert!(matches!(check(other), BootstrapError::WrongSecret(_)));
        let mut renamed = secret(&[]);
        renamed.metadata.name = Some("bootstrap-token-zzzzzz".into());
        assert!(matches!(check(renamed), BootstrapError::WrongSecret(_)));
    }
}
