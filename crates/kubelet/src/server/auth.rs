//! Who may call the kubelet API, as upstream's kubelet decides: a client certificate from
//! the cluster CA names the caller (a bearer token is checked with a TokenReview), and a
//! SubjectAccessReview asks the API server whether that caller may use the node's
//! subresource the path maps to (`nodes/proxy` for logs and streams, `nodes/stats`, ...).
//! Answers are cached briefly (allowed 5 minutes, denied 30 seconds, as upstream's).

use k8s_openapi::api::authentication::v1::TokenReview;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use kube::api::{Api, PostParams};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const ALLOWED_TTL: Duration = Duration::from_secs(300);
const DENIED_TTL: Duration = Duration::from_secs(30);

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Caller {
    pub user: String,
    pub groups: Vec<String>,
}

/// The node subresource a kubelet path is authorized as.
pub fn subresource(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    match first {
        "stats" => "stats",
        "metrics" => "metrics",
        "logs" => "log",
        "spec" => "spec",
        "healthz" => "healthz",
        "pods" => "pods",
        _ => "proxy",
    }
}

/// The verb of an HTTP method.
pub fn verb(method: &http::Method) -> &'static str {
    match *method {
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "get",
    }
}

type Key = (Caller, &'static str, &'static str);

/// Authenticates tokens and authorizes callers through the API server.
pub struct Authorizer {
    client: kube::Client,
    node: String,
    cache: Mutex<HashMap<Key, (bool, Instant)>>,
}

impl Authorizer {
    pub fn new(client: kube::Client, node: &str) -> Authorizer {
        Authorizer { client, node: node.to_owned(), cache: Mutex::new(HashMap::new()) }
    }

    /// The caller a bearer token names, by TokenReview.
    pub async fn authenticate_token(&self, token: &str) -> Option<Caller> {
        let review: TokenReview = serde_json::from_value(json!({"spec": {"token": token}})).ok()?;
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let reviewed = api.create(&PostParams::default(), &review).await.ok()?;
        let status = reviewed.status?;
        if status.authenticated != Some(true) {
            return None;
        }
        let user = status.user?;
        Some(Caller { user: user.username?, groups: user.groups.unwrap_or_default() })
    }

    /// Whether `caller` may `verb` this node's `subresource`.
    pub async fn allowed(&self, caller: &Caller, verb: &'static str, subresource: &'static str) -> bool {
        let key = (caller.clone(), verb, subresource);
        if let Some((allowed, at)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key).copied() {
            let ttl = if allowed { ALLOWED_TTL } else { DENIED_TTL };
            if at.elapsed() < ttl {
                return allowed;
            }
        }
        let review: SubjectAccessReview = serde_json::from_value(json!({
            "spec": {
                "user": caller.user,
                "groups": caller.groups,
                "resourceAttributes": {"verb": verb, "resource": "nodes", "subresource": subresource, "name": self.node},
            }
        }))
        .expect("a SubjectAccessReview");
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let allowed = match api.create(&PostParams::default(), &review).await {
            Ok(reviewed) => reviewed.status.is_some_and(|s| s.allowed),
            Err(error) => {
                tracing::warn!(%error, "authorizing a kubelet API call failed");
                return false;
            }
        };
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(key, (allowed, Instant::now()));
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_upstreams_node_subresources() {
        assert_eq!(subresource("/containerLogs/ns/p/c"), "proxy");
        assert_eq!(subresource("/exec/ns/p/c"), "proxy");
        assert_eq!(subresource("/stats/summary"), "stats");
        assert_eq!(subresource("/metrics"), "metrics");
        assert_eq!(subresource("/pods"), "pods");
        assert_eq!(verb(&http::Method::POST), "create");
    }
}
