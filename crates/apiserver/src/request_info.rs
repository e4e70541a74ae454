//! What a request is about, parsed from its path and method (upstream's `RequestInfo`):
//! group, version, resource, namespace, name, subresource and verb.

use axum::http::Method;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// False for non-resource paths (`/healthz`, `/version`, discovery roots).
    pub is_resource: bool,
    pub group: String,
    pub version: String,
    pub namespace: String,
    pub resource: String,
    pub name: String,
    pub subresource: String,
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
    pub path: String,
}

impl RequestInfo {
    /// Parse a request. `watch` says whether the query asked `watch=true`.
    pub fn parse(method: &Method, path: &str, watch: bool) -> RequestInfo {
        let mut info = RequestInfo { path: path.to_owned(), ..Default::default() };
        info.verb = method.as_str().to_lowercase();
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let rest = match parts.as_slice() {
            ["api", version, rest @ ..] => {
                info.version = (*version).to_owned();
                rest
            }
            ["apis", group, version, rest @ ..] => {
                info.group = (*group).to_owned();
                info.version = (*version).to_owned();
                rest
            }
            _ => return info,
        };
        // The deprecated `/watch/` prefix: `/api/v1/watch/pods`.
        let (legacy_watch, rest) = match rest {
            ["watch", rest @ ..] => (true, rest),
            _ => (false, rest),
        };
        let rest: Vec<&str> = match rest {
            // `/namespaces/{ns}/{resource}/...`, but `/namespaces/{name}` and its
            // subresources are the namespace object itself.
            ["namespaces", ns, resource, tail @ ..] if *resource != "status" && *resource != "finalize" => {
                info.namespace = (*ns).to_owned();
                std::iter::once(*resource).chain(tail.iter().copied()).collect()
            }
            other => other.to_vec(),
        };
        if rest.is_empty() {
            return info;
        }
        info.is_resource = true;
        info.resource = rest[0].to_owned();
        if let Some(name) = rest.get(1) {
            info.name = (*name).to_owned();
        }
        if let Some(sub) = rest.get(2) {
            info.subresource = (*sub).to_owned();
        }
        info.verb = match (method.as_str(), info.name.is_empty()) {
            ("GET" | "HEAD", _) if watch || legacy_watch => "watch",
            ("GET" | "HEAD", true) => "list",
            ("GET" | "HEAD", false) => "get",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", true) => "deletecollection",
            ("DELETE", false) => "delete",
            (other, _) => return RequestInfo { verb: other.to_lowercase(), ..info },
        }
        .to_owned();
        info
    }

    /// The request as authorization sees it: a list or watch whose field selector pins
    /// `metadata.name` is about that one object (upstream's RequestInfoFactory does the
    /// same, so that a node may watch its own Node by `fieldSelector=metadata.name=<node>`).
    pub fn for_authorization(&self, field_selector: Option<&str>) -> RequestInfo {
        let mut info = self.clone();
        if info.name.is_empty() && matches!(info.verb.as_str(), "list" | "watch") {
            let pinned = field_selector.into_iter().flat_map(|s| s.split(',')).find_map(|term| {
                let (key, value) = term.split_once('=')?;
                let value = value.strip_prefix('=').unwrap_or(value);
                (key.trim() == "metadata.name" && !key.ends_with('!')).then(|| value.trim().to_owned())
            });
            if let Some(name) = pinned {
                info.name = name;
            }
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_pinned_to_one_name_is_authorized_as_that_name() {
        let list = RequestInfo::parse(&Method::GET, "/api/v1/nodes", true);
        assert_eq!(list.for_authorization(Some("metadata.name=n1")).name, "n1");
        assert_eq!(list.for_authorization(Some("metadata.name==n1,spec.unschedulable=false")).name, "n1");
        assert_eq!(list.for_authorization(Some("metadata.name!=n1")).name, "");
        assert_eq!(list.for_authorization(None).name, "");
        let create = RequestInfo::parse(&Method::POST, "/api/v1/nodes", false);
        assert_eq!(create.for_authorization(Some("metadata.name=n1")).name, "");
    }

    #[test]
    fn parses_resource_paths() {
        let i = RequestInfo::parse(&Method::GET, "/apis/apps/v1/namespaces/default/deployments/web/scale", false);
        assert_eq!(
            (i.group.as_str(), i.namespace.as_str(), i.resource.as_str(), i.name.as_str(), i.subresource.as_str()),
            ("apps", "default", "deployments", "web", "scale")
        );
        assert_eq!(i.verb, "get");
        let i = RequestInfo::parse(&Method::GET, "/api/v1/pods", true);
        assert_eq!((i.resource.as_str(), i.verb.as_str()), ("pods", "watch"));
        let i = RequestInfo::parse(&Method::DELETE, "/api/v1/namespaces/kube-system", false);
        assert_eq!((i.resource.as_str(), i.name.as_str(), i.verb.as_str()), ("namespaces", "kube-system", "delete"));
        let i = RequestInfo::parse(&Method::PUT, "/api/v1/namespaces/x/status", false);
        assert_eq!((i.resource.as_str(), i.name.as_str(), i.subresource.as_str()), ("namespaces", "x", "status"));
        let i = RequestInfo::parse(&Method::GET, "/api/v1/watch/namespaces/a/pods", false);
        assert_eq!((i.namespace.as_str(), i.verb.as_str()), ("a", "watch"));
        assert!(!RequestInfo::parse(&Method::GET, "/apis/apps/v1", false).is_resource);
    }
}
