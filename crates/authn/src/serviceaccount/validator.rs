//! Validating service account tokens as kube-apiserver's JWT token authenticator does:
//! a token whose (unverified) issuer is not ours is not ours to judge (`Ok(None)`); one
//! that is must carry a signature from one of our keys, an accepted issuer, an audience
//! the API server accepts and, for bound tokens, a current lifetime.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::bound::BoundObjects;
use super::claims::{BoundClaims, LegacyClaims, ObjectRef};
use super::error::{TokenError, go_quoted_list};
use super::keys::PublicKey;
use super::{LEEWAY_SECONDS, LEGACY_ISSUER, split_username, user_info};
use crate::user::UserInfo;

/// The verified claims of a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenClaims {
    Bound(Box<BoundClaims>),
    Legacy(LegacyClaims),
}

/// A token whose signature, issuer, audience and lifetime are valid. It authenticates
/// [`ServiceAccountToken::user`] once [`BoundObjects::check`] passes too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccountToken {
    pub user: UserInfo,
    /// The token's audiences that the request's audiences accept.
    pub audiences: Vec<String>,
    pub claims: TokenClaims,
    /// What the caller must still find in the store.
    pub bound: BoundObjects,
}

/// Checks service account tokens against a set of issuers, audiences and keys.
#[derive(Clone, Debug)]
pub struct Validator {
    issuers: Vec<String>,
    api_audiences: Vec<String>,
    keys: Vec<PublicKey>,
}

impl Validator {
    /// `issuers` are accepted for bound tokens (legacy tokens always have
    /// `kubernetes/serviceaccount`); `api_audiences` are the audiences the API server
    /// accepts and assumes for tokens that name none; any of `keys` may have signed.
    pub fn new(issuers: Vec<String>, api_audiences: Vec<String>, keys: Vec<PublicKey>) -> Validator {
        Validator { issuers, api_audiences, keys }
    }

    /// Validates `token` for the API server's own audiences at time `now`.
    pub fn validate(&self, token: &str, now: Timestamp) -> Result<Option<ServiceAccountToken>, TokenError> {
        self.validate_for(token, &self.api_audiences, now)
    }

    /// Validates `token` for a request that targets `audiences` (a TokenReview's
    /// `spec.audiences`) at time `now`.
    pub fn validate_for(
        &self,
        token: &str,
        audiences: &[String],
        now: Timestamp,
    ) -> Result<Option<ServiceAccountToken>, TokenError> {
        let Some(issuer) = unverified_issuer(token) else {
            return Ok(None);
        };
        let legacy = issuer == LEGACY_ISSUER;
        if !legacy && !self.issuers.contains(&issuer) {
            return Ok(None);
        }
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return Ok(None);
        };
        let payload = self.verify_signature(token, header.kid.as_deref().unwrap_or_default())?;
        let (token_audiences, claims) = if legacy {
            let claims: LegacyClaims = parse_claims(payload)?;
            (Vec::new(), TokenClaims::Legacy(claims))
        } else {
            let claims: BoundClaims = parse_claims(payload)?;
            (claims.aud.clone(), TokenClaims::Bound(Box::new(claims)))
        };
        let verified_issuer = match &claims {
            TokenClaims::Bound(c) => &c.iss,
            TokenClaims::Legacy(c) => &c.iss,
        };
        if *verified_issuer != issuer {
            return Err(TokenError::Issuer(verified_issuer.clone()));
        }
        let audiences = self.check_audiences(token_audiences, audiences)?;
        let (user, bound) = match &claims {
            TokenClaims::Bound(c) => validate_bound(c, now.as_second())?,
            TokenClaims::Legacy(c) => validate_legacy(c)?,
        };
        Ok(Some(ServiceAccountToken { user, audiences, claims, bound }))
    }

    /// Tries the keys named by `kid` (all keys when there is none); the first whose
    /// signature checks gives the payload.
    fn verify_signature(&self, token: &str, kid: &str) -> Result<serde_json::Value, TokenError> {
        let keys: Vec<&PublicKey> = self.keys.iter().filter(|k| kid.is_empty() || k.key_id() == kid).collect();
        if keys.is_empty() {
            return Err(TokenError::NoKeys);
        }
        let mut validation = Validation::new(Algorithm::ES256);
        // Claims are checked here, with upstream's rules and messages.
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let mut errors = Vec::new();
        for key in keys {
            match jsonwebtoken::decode::<serde_json::Value>(token, key.decoding_key(), &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => errors.push(e.to_string()),
            }
        }
        Err(TokenError::Signature(errors))
    }

    /// The token's audiences that the target audiences accept; a token without audiences
    /// (legacy) stands for the API audiences.
    fn check_audiences(&self, token: Vec<String>, target: &[String]) -> Result<Vec<String>, TokenError> {
        let token = if token.is_empty() { self.api_audiences.clone() } else { token };
        let accepted: Vec<String> = token.iter().filter(|a| target.contains(a)).cloned().collect();
        if accepted.is_empty() && !self.api_audiences.is_empty() {
            return Err(TokenError::Audience { token: go_quoted_list(&token), target: go_quoted_list(target) });
        }
        Ok(accepted)
    }
}

/// The `iss` of a compact JWT's payload, read without verifying anything; `None` when the
/// text is not a JWT at all.
fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Issuer {
        #[serde(default)]
        iss: String,
    }
    if token.trim_start().starts_with('{') {
        return None;
    }
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Issuer>(&json).ok().map(|i| i.iss)
}

fn parse_claims<T: DeserializeOwned>(payload: serde_json::Value) -> Result<T, TokenError> {
    serde_json::from_value(payload).map_err(|e| TokenError::Claims(e.to_string()))
}

/// Lifetime checks with upstream's leeway, then the user and what must still exist.
fn validate_bound(claims: &BoundClaims, now: i64) -> Result<(UserInfo, BoundObjects), TokenError> {
    if claims.nbf.is_some_and(|nbf| now.saturating_add(LEEWAY_SECONDS) < nbf) {
        return Err(TokenError::NotValidYet);
    }
    // Every bound token kube-apiserver mints expires; one that does not is not ours.
    if claims.exp.is_none_or(|exp| now.saturating_sub(LEEWAY_SECONDS) > exp) {
        return Err(TokenError::Expired);
    }
    if claims.iat.is_some_and(|iat| now.saturating_add(LEEWAY_SECONDS) < iat) {
        return Err(TokenError::IssuedInTheFuture);
    }
    let k = &claims.kubernetes;
    // A pod-bound token's node is information only; a token bound to a node alone must
    // find that node.
    let node_binding = if k.pod.is_none() { k.node.clone() } else { None };
    let bound = BoundObjects {
        namespace: k.namespace.clone(),
        service_account: k.serviceaccount.clone(),
        pod: k.pod.clone(),
        secret: k.secret.clone(),
        node: node_binding,
        legacy_secret: None,
    };
    let user = user_info(&k.namespace, &k.serviceaccount, k.pod.as_ref(), k.node.as_ref(), &claims.jti);
    Ok((user, bound))
}

/// The claims a legacy token must have, in upstream's order.
fn validate_legacy(claims: &LegacyClaims) -> Result<(UserInfo, BoundObjects), TokenError> {
    let required = [
        ("sub", &claims.sub),
        ("namespace", &claims.namespace),
        ("secretName", &claims.secret_name),
        ("serviceAccountName", &claims.service_account_name),
        ("serviceAccountUID", &claims.service_account_uid),
    ];
    if let Some((name, _)) = required.iter().find(|(_, value)| value.is_empty()) {
        return Err(TokenError::MissingClaim(name));
    }
    if split_username(&claims.sub) != Some((&claims.namespace, &claims.service_account_name)) {
        return Err(TokenError::InvalidSubject);
    }
    let service_account = ObjectRef::new(&claims.service_account_name, &claims.service_account_uid);
    let user = user_info(&claims.namespace, &service_account, None, None, "");
    let bound = BoundObjects {
        namespace: claims.namespace.clone(),
        service_account,
        pod: None,
        secret: None,
        node: None,
        legacy_secret: Some(claims.secret_name.clone()),
    };
    Ok((user, bound))
}

#[cfg(test)]
mod tests;
