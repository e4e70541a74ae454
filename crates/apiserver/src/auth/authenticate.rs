//! Authentication, in kube-apiserver's order: the TLS client certificate, then a bearer
//! token (static token file, service account JWT, bootstrap token), else anonymous.
//! A presented credential that fails is a 401; it never falls through to anonymous.

use super::{User, anonymous, from_authn};
use crate::registry::Registry;
use crate::status::{ApiError, ApiResult};
use authn::bootstrap::BootstrapToken;
use authn::serviceaccount::{LiveObjects, Validator};
use axum::http::{HeaderMap, header};
use k8s_openapi::api::core::v1::{Node, Pod, Secret, ServiceAccount};
use serde::de::DeserializeOwned;

pub struct Authenticator {
    pub token_file: Option<authn::TokenFile>,
    pub service_accounts: Validator,
}

/// Read one object as its typed form; `None` when it does not exist.
async fn fetch<T: DeserializeOwned>(
    registry: &Registry,
    plural: &str,
    namespace: &str,
    name: &str,
) -> ApiResult<Option<T>> {
    let def = resources::find("", "v1", plural).expect("core kinds are served");
    match registry.get(def, namespace, name).await {
        Ok(v) => Ok(serde_json::from_value(v).ok()),
        Err(ApiError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Authenticator {
    /// The caller of a request: `cert_user` when a verified client certificate named
    /// one, else the bearer token's user, else anonymous.
    pub async fn authenticate(
        &self,
        registry: &Registry,
        cert_user: Option<&User>,
        headers: &HeaderMap,
    ) -> ApiResult<User> {
        if let Some(user) = cert_user {
            return Ok(user.clone());
        }
        let Some(auth) = headers.get(header::AUTHORIZATION) else { return Ok(anonymous()) };
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        self.token_user(registry, token).await?.ok_or(ApiError::Unauthorized)
    }

    /// The user a bearer token authenticates, or None when no authenticator accepts it
    /// (also what TokenReview asks).
    pub async fn token_user(&self, registry: &Registry, token: &str) -> ApiResult<Option<User>> {
        if let Some(user) = self.token_file.as_ref().and_then(|f| f.authenticate(token)) {
            return Ok(Some(from_authn(user)));
        }
        let now = jiff::Timestamp::now();
        match self.service_accounts.validate(token, now) {
            Ok(Some(sa)) => {
                let bound = &sa.bound;
                let ns = bound.namespace.as_str();
                let account: Option<ServiceAccount> =
                    fetch(registry, "serviceaccounts", ns, &bound.service_account.name).await?;
                let pod: Option<Pod> = match &bound.pod {
                    Some(p) => fetch(registry, "pods", ns, &p.name).await?,
                    None => None,
                };
                let secret_name = bound.secret.as_ref().map(|s| s.name.clone()).or_else(|| bound.legacy_secret.clone());
                let secret: Option<Secret> = match secret_name {
                    Some(name) => fetch(registry, "secrets", ns, &name).await?,
                    None => None,
                };
                let node: Option<Node> = match &bound.node {
                    Some(n) => fetch(registry, "nodes", "", &n.name).await?,
                    None => None,
                };
                let live = LiveObjects {
                    service_account: account.as_ref(),
                    pod: pod.as_ref(),
                    secret: secret.as_ref(),
                    node: node.as_ref(),
                };
                return match bound.check(&live, token, now) {
                    Ok(()) => Ok(Some(from_authn(sa.user))),
                    Err(e) => {
                        tracing::debug!(error = %e, "service account token refused");
                        Ok(None)
                    }
                };
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "service account token refused");
                return Ok(None);
            }
        }
        if let Some(bootstrap) = BootstrapToken::parse(token) {
            let secret: Option<Secret> =
                fetch(registry, "secrets", authn::bootstrap::NAMESPACE, &bootstrap.secret_name()).await?;
            return Ok(secret.and_then(|s| bootstrap.authenticate(&s, now).ok()).map(from_authn));
        }
        Ok(None)
    }
}
