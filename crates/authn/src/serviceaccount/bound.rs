//! The objects a service account token depends on, and the check, once the caller has
//! fetched them from the store, that they are still the ones the token was issued for.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use subtle::ConstantTimeEq;

use super::claims::ObjectRef;
use super::error::TokenError;
use super::{INVALID_SINCE_LABEL, LEEWAY_SECONDS};

/// The key of a legacy token Secret's `data` that holds the token.
const TOKEN_KEY: &str = "token";

/// What the caller must look up for a token to be valid. All but `node` are in
/// `namespace`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundObjects {
    pub namespace: String,
    /// Always fetched: the service account (its `uid` must match).
    pub service_account: ObjectRef,
    /// The pod a bound token is bound to.
    pub pod: Option<ObjectRef>,
    /// The Secret a bound token is bound to.
    pub secret: Option<ObjectRef>,
    /// The node a bound token is bound to (not set for a pod-bound token's node).
    pub node: Option<ObjectRef>,
    /// For a legacy token, the `kubernetes.io/service-account-token` Secret whose
    /// `data.token` must be this very token.
    pub legacy_secret: Option<String>,
}

/// The objects as the store has them now; `None` for one that does not exist. `secret`
/// is the bound Secret or, for a legacy token, the legacy Secret.
#[derive(Clone, Copy, Debug, Default)]
pub struct LiveObjects<'a> {
    pub service_account: Option<&'a ServiceAccount>,
    pub pod: Option<&'a Pod>,
    pub secret: Option<&'a Secret>,
    pub node: Option<&'a Node>,
}

impl BoundObjects {
    /// Decides, in upstream's order and with its messages, whether `token` (the bearer
    /// token as presented) is still backed by `live` at time `now`. Objects being deleted
    /// stay valid for [`LEEWAY_SECONDS`] for bound tokens, not at all for legacy ones.
    pub fn check(&self, live: &LiveObjects<'_>, token: &str, now: Timestamp) -> Result<(), TokenError> {
        match &self.legacy_secret {
            Some(secret_name) => self.check_legacy(live, secret_name, token),
            None => self.check_bound(live, now.as_second() - LEEWAY_SECONDS),
        }
    }

    fn check_bound(&self, live: &LiveObjects<'_>, deleted_before: i64) -> Result<(), TokenError> {
        let sa_ref = &self.service_account;
        let sa = live.service_account.ok_or_else(|| TokenError::ServiceAccountNotFound(sa_ref.name.clone()))?;
        let sa_uid = uid(&sa.metadata);
        if sa_uid != sa_ref.uid {
            return Err(TokenError::ServiceAccountUid { actual: sa_uid.into(), claimed: sa_ref.uid.clone() });
        }
        if deleted_long_ago(&sa.metadata, deleted_before) {
            return Err(TokenError::ServiceAccountDeleted(format!("{}/{}", self.namespace, sa_ref.name)));
        }
        let bound = [
            ("secret", self.secret.as_ref(), live.secret.map(|s| &s.metadata)),
            ("pod", self.pod.as_ref(), live.pod.map(|p| &p.metadata)),
            ("node", self.node.as_ref(), live.node.map(|n| &n.metadata)),
        ];
        for (kind, claimed, found) in bound {
            let Some(claimed) = claimed else { continue };
            let found = found.ok_or(TokenError::Invalidated)?;
            if uid(found) != claimed.uid {
                return Err(TokenError::BoundObjectUid {
                    kind,
                    actual: uid(found).into(),
                    claimed: claimed.uid.clone(),
                });
            }
            if deleted_long_ago(found, deleted_before) {
                return Err(TokenError::Invalidated);
            }
        }
        Ok(())
    }

    fn check_legacy(&self, live: &LiveObjects<'_>, secret_name: &str, token: &str) -> Result<(), TokenError> {
        let secret = live.secret.ok_or(TokenError::LegacyInvalidated)?;
        if secret.metadata.deletion_timestamp.is_some() {
            return Err(TokenError::LegacyInvalidated);
        }
        let stored = secret.data.as_ref().and_then(|d| d.get(TOKEN_KEY)).map(|v| v.0.as_slice()).unwrap_or_default();
        if !bool::from(stored.ct_eq(token.as_bytes())) {
            return Err(TokenError::LegacyTokenMismatch);
        }
        let sa_ref = &self.service_account;
        let sa_label = format!("{}/{}", self.namespace, sa_ref.name);
        let sa = live.service_account.ok_or_else(|| TokenError::ServiceAccountNotFound(sa_ref.name.clone()))?;
        if sa.metadata.deletion_timestamp.is_some() {
            return Err(TokenError::LegacyServiceAccountDeleted(sa_label));
        }
        let sa_uid = uid(&sa.metadata);
        if sa_uid != sa_ref.uid {
            return Err(TokenError::LegacyServiceAccountUid { actual: sa_uid.into(), claimed: sa_ref.uid.clone() });
        }
        let marked_invalid = secret.metadata.labels.as_ref().and_then(|l| l.get(INVALID_SINCE_LABEL));
        if marked_invalid.is_some_and(|since| !since.is_empty()) {
            return Err(TokenError::LegacyMarkedInvalid {
                secret: format!("{}/{secret_name}", self.namespace),
                service_account: sa_label,
            });
        }
        Ok(())
    }
}

fn uid(meta: &ObjectMeta) -> &str {
    meta.uid.as_deref().unwrap_or_default()
}

/// Deleted (deletion requested) before `threshold`, in Unix seconds.
fn deleted_long_ago(meta: &ObjectMeta, threshold: i64) -> bool {
    meta.deletion_timestamp.as_ref().is_some_and(|t| t.0.as_second() < threshold)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    const NOW: i64 = 1_750_000_000;

    fn now() -> Timestamp {
        Timestamp::from_second(NOW).unwrap()
    }

    fn meta(name: &str, uid: &str, deleted_at: Option<i64>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            uid: Some(uid.into()),
            deletion_timestamp: deleted_at.map(|s| Time(Timestamp::from_second(s).unwrap())),
            ..Default::default()
        }
    }

    fn sa(uid: &str, deleted_at: Option<i64>) -> ServiceAccount {
        ServiceAccount { metadata: meta("sa", uid, deleted_at), ..Default::default() }
    }

    fn pod(uid: &str, deleted_at: Option<i64>) -> Pod {
        Pod { metadata: meta("web", uid, deleted_at), ..Default::default() }
    }

    fn pod_bound() -> BoundObjects {
        BoundObjects {
            namespace: "ns".into(),
            service_account: ObjectRef::new("sa", "sa-uid"),
            pod: Some(ObjectRef::new("web", "pod-uid")),
            secret: None,
            node: None,
            legacy_secret: None,
        }
    }

    #[test]
    fn bound_objects_must_exist_with_their_uids() {
        let bound = pod_bound();
        let (account, web) = (sa("sa-uid", None), pod("pod-uid", None));
        let live = LiveObjects { service_account: Some(&account), pod: Some(&web), ..Default::default() };
        assert_eq!(bound.check(&live, "t", now()), Ok(()));

        let missing_sa = LiveObjects { service_account: None, ..live };
        assert_eq!(bound.check(&missing_sa, "t", now()).unwrap_err().to_string(), "serviceaccounts \"sa\" not found");
        let recreated = sa("new-uid", None);
        let err = bound.check(&LiveObjects { service_account: Some(&recreated), ..live }, "t", now()).unwrap_err();
        assert_eq!(err.to_string(), "service account UID (new-uid) does not match claim (sa-uid)");
        assert_eq!(bound.check(&LiveObjects { pod: None, ..live }, "t", now()), Err(TokenError::Invalidated));
        let other_pod = pod("other", None);
        let err = bound.check(&LiveObjects { pod: Some(&other_pod), ..live }, "t", now()).unwrap_err();
        assert_eq!(err.to_string(), "pod UID (other) does not match service account pod ref claim (pod-uid)");
    }

    #[test]
    fn deletion_is_tolerated_for_the_leeway_only() {
        let bound = pod_bound();
        let account = sa("sa-uid", None);
        let just_deleted = pod("pod-uid", Some(NOW - LEEWAY_SECONDS));
        let long_deleted = pod("pod-uid", Some(NOW - LEEWAY_SECONDS - 1));
        let live = LiveObjects { service_account: Some(&account), pod: Some(&just_deleted), ..Default::default() };
        assert_eq!(bound.check(&live, "t", now()), Ok(()));
        let live = LiveObjects { pod: Some(&long_deleted), ..live };
        assert_eq!(bound.check(&live, "t", now()), Err(TokenError::Invalidated));
        let deleted_sa = sa("sa-uid", Some(NOW - 3600));
        let err = bound.check(&LiveObjects { service_account: Some(&deleted_sa), ..live }, "t", now()).unwrap_err();
        assert_eq!(err.to_string(), "service account ns/sa has been deleted");
    }

    #[test]
    fn node_and_secret_bindings_are_checked() {
        let account = sa("sa-uid", None);
        let node = Node { metadata: meta("n1", "node-uid", None), ..Default::default() };
        let secret = Secret { metadata: meta("s", "secret-uid", None), ..Default::default() };
        let bound = BoundObjects {
            pod: None,
            node: Some(ObjectRef::new("n1", "node-uid")),
            secret: Some(ObjectRef::new("s", "secret-uid")),
            ..pod_bound()
        };
        let live = LiveObjects { service_account: Some(&account), node: Some(&node), secret: Some(&secret), pod: None };
        assert_eq!(bound.check(&live, "t", now()), Ok(()));
        assert_eq!(bound.check(&LiveObjects { node: None, ..live }, "t", now()), Err(TokenError::Invalidated));
        let other = Secret { metadata: meta("s", "x", None), ..Default::default() };
        let err = bound.check(&LiveObjects { secret: Some(&other), ..live }, "t", now()).unwrap_err();
        assert_eq!(err.to_string(), "secret UID (x) does not match service account secret ref claim (secret-uid)");
    }

    #[test]
    fn legacy_tokens_need_their_secret_holding_the_same_token() {
        let bound = BoundObjects { pod: None, legacy_secret: Some("sa-token".into()), ..pod_bound() };
        let account = sa("sa-uid", None);
        let mut secret = Secret {
            metadata: meta("sa-token", "s-uid", None),
            data: Some(BTreeMap::from([(TOKEN_KEY.to_owned(), ByteString(b"the.jwt.token".to_vec()))])),
            ..Default::default()
        };
        let check = |secret: &Secret, account: &ServiceAccount, token: &str| {
            let live = LiveObjects { service_account: Some(account), secret: Some(secret), ..Default::default() };
            bound.check(&live, token, now())
        };
        assert_eq!(check(&secret, &account, "the.jwt.token"), Ok(()));
        assert_eq!(check(&secret, &account, "the.jwt.tokem"), Err(TokenError::LegacyTokenMismatch));
        assert_eq!(
            check(&secret, &sa("other", None), "the.jwt.token").unwrap_err().to_string(),
            "ServiceAccount UID (other) does not match claim (sa-uid)"
        );
        assert_eq!(
            check(&secret, &sa("sa-uid", Some(NOW)), "the.jwt.token").unwrap_err().to_string(),
            "ServiceAccount ns/sa has been deleted"
        );
        secret.metadata.labels = Some(BTreeMap::from([(INVALID_SINCE_LABEL.to_owned(), "2025-01-01".to_owned())]));
        let err = check(&secret, &account, "the.jwt.token").unwrap_err().to_string();
        assert!(
            err.starts_with("the token in secret ns/sa-token for service account ns/sa has been marked invalid."),
            "{err}"
        );
        secret.metadata.labels = None;
        secret.metadata.deletion_timestamp = Some(Time(now()));
        assert_eq!(check(&secret, &account, "the.jwt.token"), Err(TokenError::LegacyInvalidated));
        let live = LiveObjects { service_account: Some(&account), ..Default::default() };
        assert_eq!(bound.check(&live, "the.jwt.token", now()), Err(TokenError::LegacyInvalidated));
    }
}
