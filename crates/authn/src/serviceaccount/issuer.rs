//! Minting service account tokens: bound tokens with kube-apiserver's claims (what the
//! TokenRequest API returns) and legacy tokens for `kubernetes.io/service-account-token`
//! Secrets. Tokens are ES256 JWTs whose header carries only `alg` and `kid`, as upstream's.

use jiff::Timestamp;
use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;

use super::claims::{BoundClaims, KubernetesClaims, LegacyClaims, ObjectRef};
use super::keys::{PublicKey, SigningKey};
use super::validator::Validator;
use super::{LEGACY_ISSUER, username};

/// What a token is bound to besides its service account; at most one kind of object, as
/// upstream allows (a pod-bound token may also name the pod's node, for information).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Binding {
    #[default]
    None,
    Pod {
        pod: ObjectRef,
        node: Option<ObjectRef>,
    },
    Secret(ObjectRef),
    Node(ObjectRef),
}

/// A request for a bound token (the parts of a TokenRequest that reach the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    pub namespace: String,
    pub service_account: ObjectRef,
    /// Empty means the issuer's API audiences.
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    pub binding: Binding,
    /// Seconds after issue when the token becomes stale (`kubernetes.io.warnafter`).
    pub warn_after_seconds: Option<i64>,
}

/// Signing failed (the key does not fit the algorithm).
#[derive(Debug, thiserror::Error)]
#[error("failed to generate token: {0}")]
pub struct MintError(String);

/// Mints tokens for one issuer with one key.
pub struct Issuer {
    issuer: String,
    api_audiences: Vec<String>,
    key: SigningKey,
}

impl Issuer {
    /// An issuer whose API audiences are just the issuer itself (upstream's default for
    /// `--api-audiences`).
    pub fn new(issuer: impl Into<String>, key: SigningKey) -> Issuer {
        let issuer = issuer.into();
        Issuer { api_audiences: vec![issuer.clone()], issuer, key }
    }

    /// Replaces the API audiences (`--api-audiences`).
    pub fn with_api_audiences(mut self, audiences: Vec<String>) -> Issuer {
        self.api_audiences = audiences;
        self
    }

    /// The `iss` of bound tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audiences a token gets when its request names none, and that the API server
    /// accepts.
    pub fn api_audiences(&self) -> &[String] {
        &self.api_audiences
    }

    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// A validator that accepts this issuer's tokens (bound and legacy) and audiences.
    pub fn validator(&self) -> Validator {
        Validator::new(vec![self.issuer.clone()], self.api_audiences.clone(), vec![self.public_key().clone()])
    }

    /// Mints a bound token at time `now`; returns the JWT and its claims.
    pub fn mint(&self, request: &TokenRequest, now: Timestamp) -> Result<(String, BoundClaims), MintError> {
        let now = now.as_second();
        let (pod, secret, node) = match &request.binding {
            Binding::None => (None, None, None),
            Binding::Pod { pod, node } => (Some(pod.clone()), None, node.clone()),
            Binding::Secret(secret) => (None, Some(secret.clone()), None),
            Binding::Node(node) => (None, None, Some(node.clone())),
        };
        let audiences =
            if request.audiences.is_empty() { self.api_audiences.clone() } else { request.audiences.clone() };
        let claims = BoundClaims {
            aud: audiences,
            exp: Some(now.saturating_add(request.expiration_seconds)),
            iat: Some(now),
            iss: self.issuer.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
            kubernetes: KubernetesClaims {
                namespace: request.namespace.clone(),
                node,
                pod,
                secret,
                serviceaccount: request.service_account.clone(),
                warnafter: request.warn_after_seconds.map(|after| now.saturating_add(after)),
            },
            nbf: Some(now),
            sub: username(&request.namespace, &request.service_account.name),
        };
        Ok((self.sign(&claims)?, claims))
    }

    /// Mints the legacy token stored in Secret `secret_name` for a service account: issuer
    /// `kubernetes/serviceaccount`, no audience, no expiry.
    pub fn mint_legacy(
        &self,
        namespace: &str,
        service_account: &ObjectRef,
        secret_name: &str,
    ) -> Result<(String, LegacyClaims), MintError> {
        let claims = LegacyClaims {
            iss: LEGACY_ISSUER.to_owned(),
            namespace: namespace.to_owned(),
            secret_name: secret_name.to_owned(),
            service_account_name: service_account.name.clone(),
            service_account_uid: service_account.uid.clone(),
            sub: username(namespace, &service_account.name),
        };
        Ok((self.sign(&claims)?, claims))
    }

    fn sign(&self, claims: &impl Serialize) -> Result<String, MintError> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = None;
        header.kid = Some(self.key.public_key().key_id().to_owned());
        jsonwebtoken::encode(&header, claims, self.key.encoding_key()).map_err(|e| MintError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::{Value, json};

    use super::*;
    use crate::serviceaccount::DEFAULT_ISSUER;

    fn part(token: &str, index: usize) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(index).unwrap()).unwrap()).unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_750_000_000).unwrap()
    }

    #[test]
    fn bound_token_has_upstream_header_and_claims() {
        let issuer = Issuer::new(DEFAULT_ISSUER, SigningKey::generate().unwrap());
        let request = TokenRequest {
            namespace: "default".into(),
            service_account: ObjectRef::new("builder", "sa-uid"),
            audiences: vec![],
            expiration_seconds: 3600,
            binding: Binding::Pod { pod: ObjectRef::new("web", "pod-uid"), node: Some(ObjectRef::new("n1", "n-uid")) },
            warn_after_seconds: Some(3607),
        };
        let (token, claims) = issuer.mint(&request, now()).unwrap();
        assert_eq!(part(&token, 0), json!({"alg": "ES256", "kid": issuer.public_key().key_id()}));
        let payload = part(&token, 1);
        assert_eq!(payload["aud"], json!([DEFAULT_ISSUER]));
        assert_eq!(payload["sub"], "system:serviceaccount:default:builder");
        assert_eq!((payload["iat"].as_i64(), payload["nbf"].as_i64()), (Some(1_750_000_000), Some(1_750_000_000)));
        assert_eq!(payload["exp"], 1_750_003_600);
        assert_eq!(
            payload["kubernetes.io"],
            json!({
                "namespace": "default",
                "node": {"name": "n1", "uid": "n-uid"},
                "pod": {"name": "web", "uid": "pod-uid"},
                "serviceaccount": {"name": "builder", "uid": "sa-uid"},
                "warnafter": 1_750_003_607
            })
        );
        assert_eq!(uuid::Uuid::parse_str(&claims.jti).unwrap().get_version_num(), 4);
        let (second, _) = issuer.mint(&request, now()).unwrap();
        assert_ne!(part(&second, 1)["jti"], payload["jti"]);
    }

    #[test]
    fn requested_audiences_replace_the_default_and_secret_binding_is_recorded() {
        let issuer = Issuer::new("https://issuer.test", SigningKey::generate().unwrap())
            .with_api_audiences(vec!["api".into(), "other".into()]);
        let request = TokenRequest {
            namespace: "ns".into(),
            service_account: ObjectRef::new("sa", "u"),
            audiences: vec!["vault".into()],
            expiration_seconds: 600,
            binding: Binding::Secret(ObjectRef::new("s", "s-uid")),
            warn_after_seconds: None,
        };
        let (token, _) = issuer.mint(&request, now()).unwrap();
        let payload = part(&token, 1);
        assert_eq!((payload["aud"].clone(), payload["iss"].clone()), (json!(["vault"]), json!("https://issuer.test")));
        assert_eq!(payload["kubernetes.io"]["secret"], json!({"name": "s", "uid": "s-uid"}));
        assert!(payload["kubernetes.io"].get("warnafter").is_none());
    }

    #[test]
    fn legacy_token_has_legacy_claims_only() {
        let issuer = Issuer::new(DEFAULT_ISSUER, SigningKey::generate().unwrap());
        let (token, _) = issuer.mint_legacy("ns", &ObjectRef::new("sa", "sa-uid"), "sa-token-x").unwrap();
        assert_eq!(
            part(&token, 1),
            json!({
                "iss": "kubernetes/serviceaccount",
                "kubernetes.io/serviceaccount/namespace": "ns",
                "kubernetes.io/serviceaccount/secret.name": "sa-token-x",
                "kubernetes.io/serviceaccount/service-account.name": "sa",
                "kubernetes.io/serviceaccount/service-account.uid": "sa-uid",
                "sub": "system:serviceaccount:ns:sa"
            })
        );
    }
}
