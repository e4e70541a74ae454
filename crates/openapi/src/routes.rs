//! The operations the API serves, per group-version, as upstream's API installer registers
//! them: one model rendered both as OpenAPI v3 and as Swagger 2.0.

use crate::params::{self, Param};
use resources::{ResourceDef, Subresource};
use std::collections::BTreeMap;

pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";

/// Media types of a response carrying one object.
pub const OBJECT_MEDIA: &[&str] = &["application/json", "application/vnd.kubernetes.protobuf", "application/yaml"];
/// Media types of list and watch responses.
pub const STREAM_MEDIA: &[&str] = &[
    "application/json",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf",
    "application/vnd.kubernetes.protobuf;stream=watch",
    "application/yaml",
];
/// Media types of `pods/log`.
const LOG_MEDIA: &[&str] =
    &["application/json", "application/vnd.kubernetes.protobuf", "application/yaml", "text/plain"];
/// Request types of PATCH. (`application/apply-patch+cbor` is behind the alpha CBOR gate in 1.33.)
pub const PATCH_MEDIA: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    Delete,
    Get,
    Head,
    Options,
    Patch,
    Post,
    Put,
}

impl Method {
    /// The lower-case key of a path item.
    pub fn key(self) -> &'static str {
        match self {
            Method::Delete => "delete",
            Method::Get => "get",
            Method::Head => "head",
            Method::Options => "options",
            Method::Patch => "patch",
            Method::Post => "post",
            Method::Put => "put",
        }
    }

    /// How connect operation ids name the method (`connectCoreV1GetNamespacedPodExec`).
    fn title(self) -> &'static str {
        match self {
            Method::Delete => "Delete",
            Method::Get => "Get",
            Method::Head => "Head",
            Method::Options => "Options",
            Method::Patch => "Patch",
            Method::Post => "Post",
            Method::Put => "Put",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

/// What a response or request body carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// An object of this definition.
    Definition(String),
    /// Plain text or a stream.
    Text,
}

#[derive(Clone, Debug)]
pub struct Reply {
    pub code: u16,
    pub description: &'static str,
    /// None for 401, which carries no body.
    pub payload: Option<Payload>,
    pub media: &'static [&'static str],
}

#[derive(Clone, Debug)]
pub struct Body {
    pub payload: Payload,
    pub media: &'static [&'static str],
    pub required: bool,
}

#[derive(Clone, Debug)]
pub struct Operation {
    pub method: Method,
    pub id: String,
    pub description: String,
    pub tag: String,
    /// `x-kubernetes-action`; None for the discovery operation.
    pub action: Option<&'static str>,
    pub gvk: Option<Gvk>,
    pub params: Vec<Param>,
    pub body: Option<Body>,
    pub replies: Vec<Reply>,
}

/// The paths of one group-version, in path order; each path's operations in method order.
#[derive(Debug)]
pub struct GroupVersion {
    /// `api/v1` or `apis/apps/v1`: the key of the v3 index.
    pub key: String,
    pub paths: BTreeMap<String, Vec<Operation>>,
}

impl GroupVersion {
    /// The definitions the operations name directly.
    pub fn definitions(&self) -> impl Iterator<Item = &str> {
        let ops = self.paths.values().flatten();
        let bodies = ops.clone().filter_map(|op| op.body.as_ref().map(|b| &b.payload));
        let replies = ops.flat_map(|op| op.replies.iter().filter_map(|r| r.payload.as_ref()));
        bodies.chain(replies).filter_map(|p| match p {
            Payload::Definition(name) => Some(name.as_str()),
            Payload::Text => None,
        })
    }
}

/// `rbac.authorization` → `RbacAuthorization` (or `rbacAuthorization`): upstream's
/// `ToValidOperationID`, which drops punctuation and capitalises what follows it.
fn camel(s: &str, capitalise_first: bool) -> String {
    let mut out = String::new();
    let mut upper = capitalise_first;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

/// Every served group-version in registry order, with its operations.
pub fn group_versions(registry: &[ResourceDef]) -> Vec<GroupVersion> {
    let mut out: Vec<GroupVersion> = Vec::new();
    for def in registry {
        let key = if def.group.is_empty() {
            format!("api/{}", def.version)
        } else {
            format!("apis/{}/{}", def.group, def.version)
        };
        let index = match out.iter().position(|gv| gv.key == key) {
            Some(i) => i,
            None => {
                out.push(discovery(def, key));
                out.len() - 1
            }
        };
        Builder::new(def).add(&mut out[index].paths);
    }
    out
}

/// The group-version's `get available resources` operation.
fn discovery(def: &ResourceDef, key: String) -> GroupVersion {
    let b = Builder::new(def);
    let op = Operation {
        method: Method::Get,
        id: format!("get{}APIResources", b.gv),
        description: "get available resources".into(),
        tag: b.tag.clone(),
        action: None,
        gvk: None,
        params: Vec::new(),
        body: None,
        replies: vec![ok(200, API_RESOURCE_LIST, OBJECT_MEDIA), unauthorized()],
    };
    let mut paths = BTreeMap::new();
    paths.insert(format!("{}/", b.prefix), vec![op]);
    GroupVersion { key, paths }
}

fn ok(code: u16, definition: &str, media: &'static [&'static str]) -> Reply {
    let description = match code {
        201 => "Created",
        202 => "Accepted",
        _ => "OK",
    };
    Reply { code, description, payload: Some(Payload::Definition(definition.to_owned())), media }
}

fn unauthorized() -> Reply {
    Reply { code: 401, description: "Unauthorized", payload: None, media: &[] }
}

fn object_body(definition: &str) -> Option<Body> {
    Some(Body { payload: Payload::Definition(definition.to_owned()), media: &["*/*"], required: true })
}

/// Builds the operations of one resource.
struct Builder<'a> {
    def: &'a ResourceDef,
    /// `/api/v1` or `/apis/apps/v1`.
    prefix: String,
    /// `CoreV1`, `AppsV1`, `RbacAuthorizationV1`.
    gv: String,
    tag: String,
    /// `Namespaced` or empty.
    scope: &'static str,
    /// `/namespaces/{namespace}` or empty.
    ns_path: &'static str,
}

impl<'a> Builder<'a> {
    fn new(def: &'a ResourceDef) -> Self {
        let (prefix, group) = if def.group.is_empty() {
            (format!("/api/{}", def.version), "core")
        } else {
            (format!("/apis/{}/{}", def.group, def.version), def.group.trim_end_matches(".k8s.io"))
        };
        Builder {
            def,
            prefix,
            gv: format!("{}{}", camel(group, true), camel(def.version, true)),
            tag: format!("{}_{}", camel(group, false), def.version),
            scope: if def.namespaced { "Namespaced" } else { "" },
            ns_path: if def.namespaced { "/namespaces/{namespace}" } else { "" },
        }
    }

    fn gvk(&self) -> Gvk {
        Gvk { group: self.def.group.into(), version: self.def.version.into(), kind: self.def.kind.into() }
    }

    fn list_definition(&self) -> String {
        format!("{}List", self.def.definition)
    }

    /// An operation of the resource itself (or a subresource of the same kind).
    #[allow(clippy::too_many_arguments)]
    fn op(
        &self,
        method: Method,
        id: String,
        description: String,
        action: &'static str,
        gvk: Gvk,
        params: Vec<Param>,
        body: Option<Body>,
        replies: Vec<Reply>,
    ) -> Operation {
        Operation {
            method,
            id,
            description,
            tag: self.tag.clone(),
            action: Some(action),
            gvk: Some(gvk),
            params,
            body,
            replies,
        }
    }

    /// Path parameters (and `pretty`) every operation on `{name}` paths takes.
    fn item_params(&self, name_of: &str, pretty: bool) -> Vec<Param> {
        let mut p = vec![params::name(name_of)];
        if self.def.namespaced {
            p.push(params::namespace());
        }
        if pretty {
            p.push(params::pretty());
        }
        p
    }

    fn collection_params(&self) -> Vec<Param> {
        let mut p = Vec::new();
        if self.def.namespaced {
            p.push(params::namespace());
        }
        p.push(params::pretty());
        p
    }

    fn add(&self, paths: &mut BTreeMap<String, Vec<Operation>>) {
        let d = self.def;
        let (kind, gv, scope, plural) = (d.kind, &self.gv, self.scope, d.plural);
        let collection = format!("{}{}/{}", self.prefix, self.ns_path, plural);
        let item = format!("{collection}/{{name}}");
        let has = |verb: &str| d.verbs.contains(&verb);
        let mut push = |path: &str, op: Operation| paths.entry(path.to_owned()).or_default().push(op);

        if has("list") {
            let mut p = self.collection_params();
            p.extend(params::list(true));
            let replies = vec![ok(200, &self.list_definition(), STREAM_MEDIA), unauthorized()];
            let description = format!("list or watch objects of kind {kind}");
            push(
                &collection,
                self.op(
                    Method::Get,
                    format!("list{gv}{scope}{kind}"),
                    description.clone(),
                    "list",
                    self.gvk(),
                    p,
                    None,
                    replies.clone(),
                ),
            );
            if d.namespaced {
                let mut p = params::list(true);
                p.push(params::pretty());
                let id = format!("list{gv}{kind}ForAllNamespaces");
                push(
                    &format!("{}/{plural}", self.prefix),
                    self.op(Method::Get, id, description, "list", self.gvk(), p, None, replies),
                );
            }
        }
        if has("create") {
            let mut p = self.collection_params();
            p.extend(params::write());
            let replies = vec![
                ok(200, d.definition, OBJECT_MEDIA),
                ok(201, d.definition, OBJECT_MEDIA),
                ok(202, d.definition, OBJECT_MEDIA),
                unauthorized(),
            ];
            let op = self.op(
                Method::Post,
                format!("create{gv}{scope}{kind}"),
                format!("create a {kind}"),
                "post",
                self.gvk(),
                p,
                object_body(d.definition),
                replies,
            );
            push(&collection, op);
        }
        if has("deletecollection") {
            let mut p = self.collection_params();
            p.extend(params::delete_collection());
            let body =
                Some(Body { payload: Payload::Definition(DELETE_OPTIONS.into()), media: &["*/*"], required: false });
            let replies = vec![ok(200, STATUS, OBJECT_MEDIA), unauthorized()];
            let op = self.op(
                Method::Delete,
                format!("delete{gv}Collection{scope}{kind}"),
                format!("delete collection of {kind}"),
                "deletecollection",
                self.gvk(),
                p,
                body,
                replies,
            );
            push(&collection, op);
        }
        if has("get") {
            let op = self.op(
                Method::Get,
                format!("read{gv}{scope}{kind}"),
                format!("read the specified {kind}"),
                "get",
                self.gvk(),
                self.item_params(kind, true),
                None,
                vec![ok(200, d.definition, OBJECT_MEDIA), unauthorized()],
            );
            push(&item, op);
        }
        if has("update") {
            push(&item, self.replace("", "the specified", d.definition, self.gvk()));
        }
        if has("patch") {
            push(&item, self.patch("", "the specified", d.definition, self.gvk()));
        }
        if has("delete") {
            let mut p = self.item_params(kind, true);
            p.extend(params::delete());
            let body =
                Some(Body { payload: Payload::Definition(DELETE_OPTIONS.into()), media: &["*/*"], required: false });
            let replies = vec![ok(200, STATUS, OBJECT_MEDIA), ok(202, STATUS, OBJECT_MEDIA), unauthorized()];
            push(
                &item,
                self.op(
                    Method::Delete,
                    format!("delete{gv}{scope}{kind}"),
                    format!("delete a {kind}"),
                    "delete",
                    self.gvk(),
                    p,
                    body,
                    replies,
                ),
            );
        }
        if has("watch") {
            self.add_watches(&mut push);
        }
        for sub in d.subresources {
            self.add_subresource(*sub, &item, &mut push);
        }
    }

    fn replace(&self, suffix: &str, what: &str, definition: &str, gvk: Gvk) -> Operation {
        let (kind, gv, scope) = (self.def.kind, &self.gv, self.scope);
        let mut p = self.item_params(kind, true);
        p.extend(params::write());
        let replies = vec![ok(200, definition, OBJECT_MEDIA), ok(201, definition, OBJECT_MEDIA), unauthorized()];
        let description = format!("replace {what} {kind}");
        self.op(
            Method::Put,
            format!("replace{gv}{scope}{kind}{suffix}"),
            description,
            "put",
            gvk,
            p,
            object_body(definition),
            replies,
        )
    }

    fn patch(&self, suffix: &str, what: &str, definition: &str, gvk: Gvk) -> Operation {
        let (kind, gv, scope) = (self.def.kind, &self.gv, self.scope);
        let mut p = self.item_params(kind, true);
        p.extend(params::patch());
        let body = Some(Body { payload: Payload::Definition(PATCH.into()), media: PATCH_MEDIA, required: true });
        let replies = vec![ok(200, definition, OBJECT_MEDIA), ok(201, definition, OBJECT_MEDIA), unauthorized()];
        let description = format!("partially update {what} {kind}");
        self.op(Method::Patch, format!("patch{gv}{scope}{kind}{suffix}"), description, "patch", gvk, p, body, replies)
    }

    fn add_watches(&self, push: &mut impl FnMut(&str, Operation)) {
        let d = self.def;
        let (kind, gv, scope, plural) = (d.kind, &self.gv, self.scope, d.plural);
        let watch_collection = format!("{}/watch{}/{plural}", self.prefix, self.ns_path);
        let replies = vec![ok(200, WATCH_EVENT, STREAM_MEDIA), unauthorized()];
        let list_description = format!(
            "watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."
        );
        let with_list = |mut p: Vec<Param>| {
            p.extend(params::list(true));
            p
        };
        push(
            &watch_collection,
            self.op(
                Method::Get,
                format!("watch{gv}{scope}{kind}List"),
                list_description.clone(),
                "watchlist",
                self.gvk(),
                with_list(self.collection_params()),
                None,
                replies.clone(),
            ),
        );
        let description = format!(
            "watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."
        );
        push(
            &format!("{watch_collection}/{{name}}"),
            self.op(
                Method::Get,
                format!("watch{gv}{scope}{kind}"),
                description,
                "watch",
                self.gvk(),
                with_list(self.item_params(kind, true)),
                None,
                replies.clone(),
            ),
        );
        if d.namespaced {
            let path = format!("{}/watch/{plural}", self.prefix);
            let id = format!("watch{gv}{kind}ListForAllNamespaces");
            push(
                &path,
                self.op(
                    Method::Get,
                    id,
                    list_description,
                    "watchlist",
                    self.gvk(),
                    with_list(vec![params::pretty()]),
                    None,
                    replies,
                ),
            );
        }
    }

    fn add_subresource(&self, sub: Subresource, item: &str, push: &mut impl FnMut(&str, Operation)) {
        let d = self.def;
        let (kind, gv, scope) = (d.kind, &self.gv, self.scope);
        let path = format!("{item}/{}", sub.name());
        let other = |group: &str, version: &str, kind: &str| Gvk {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        };
        match sub {
            Subresource::Status | Subresource::Scale => {
                let (suffix, definition, gvk) = if sub == Subresource::Status {
                    ("Status", d.definition, self.gvk())
                } else {
                    ("Scale", "io.k8s.api.autoscaling.v1.Scale", other("autoscaling", "v1", "Scale"))
                };
                let what = format!("{} of the specified", sub.name());
                let read = self.op(
                    Method::Get,
                    format!("read{gv}{scope}{kind}{suffix}"),
                    format!("read {what} {kind}"),
                    "get",
                    gvk.clone(),
                    self.item_params(kind, true),
                    None,
                    vec![ok(200, definition, OBJECT_MEDIA), unauthorized()],
                );
                push(&path, read);
                push(&path, self.replace(suffix, &what, definition, gvk.clone()));
                push(&path, self.patch(suffix, &what, definition, gvk));
            }
            Subresource::Binding | Subresource::Eviction | Subresource::Token => {
                let (suffix, definition, gvk) = match sub {
                    Subresource::Binding => ("Binding", "io.k8s.api.core.v1.Binding", other("", "v1", "Binding")),
                    Subresource::Eviction => {
                        ("Eviction", "io.k8s.api.policy.v1.Eviction", other("policy", "v1", "Eviction"))
                    }
                    _ => (
                        "Token",
                        "io.k8s.api.authentication.v1.TokenRequest",
                        other("authentication.k8s.io", "v1", "TokenRequest"),
                    ),
                };
                let mut p = self.item_params(&gvk.kind, true);
                p.extend(params::write());
                let replies = vec![
                    ok(200, definition, OBJECT_MEDIA),
                    ok(201, definition, OBJECT_MEDIA),
                    ok(202, definition, OBJECT_MEDIA),
                    unauthorized(),
                ];
                let description = format!("create {} of a {kind}", sub.name());
                push(
                    &path,
                    self.op(
                        Method::Post,
                        format!("create{gv}{scope}{kind}{suffix}"),
                        description,
                        "post",
                        gvk,
                        p,
                        object_body(definition),
                        replies,
                    ),
                );
            }
            Subresource::Log => {
                let mut p = self.item_params(kind, true);
                p.extend(params::log());
                let reply = Reply { code: 200, description: "OK", payload: Some(Payload::Text), media: LOG_MEDIA };
                push(
                    &path,
                    self.op(
                        Method::Get,
                        format!("read{gv}{scope}{kind}Log"),
                        format!("read log of the specified {kind}"),
                        "get",
                        self.gvk(),
                        p,
                        None,
                        vec![reply, unauthorized()],
                    ),
                );
            }
            Subresource::Exec | Subresource::Attach | Subresource::PortForward => {
                let (suffix, options, query) = match sub {
                    Subresource::Exec => ("Exec", "PodExecOptions", params::exec(true)),
                    Subresource::Attach => ("Attach", "PodAttachOptions", params::exec(false)),
                    _ => ("Portforward", "PodPortForwardOptions", params::port_forward()),
                };
                for method in [Method::Get, Method::Post] {
                    let mut p = self.item_params(options, false);
                    p.extend(query.iter().cloned());
                    push(
                        &path,
                        self.connect(
                            method,
                            &format!("{kind}{suffix}"),
                            sub.name(),
                            other(d.group, d.version, options),
                            p,
                        ),
                    );
                }
            }
            Subresource::Proxy => {
                let options = format!("{kind}ProxyOptions");
                let methods = [
                    Method::Delete,
                    Method::Get,
                    Method::Head,
                    Method::Options,
                    Method::Patch,
                    Method::Post,
                    Method::Put,
                ];
                for method in methods {
                    let mut p = self.item_params(&options, false);
                    p.extend(params::proxy_query(kind));
                    push(
                        &path,
                        self.connect(method, &format!("{kind}Proxy"), "proxy", other(d.group, d.version, &options), p),
                    );
                    let mut p = self.item_params(&options, false);
                    p.push(params::proxy_path());
                    p.extend(params::proxy_query(kind));
                    push(
                        &format!("{path}/{{path}}"),
                        self.connect(
                            method,
                            &format!("{kind}ProxyWithPath"),
                            "proxy",
                            other(d.group, d.version, &options),
                            p,
                        ),
                    );
                }
            }
        }
    }

    /// A streaming operation (`connectCoreV1GetNamespacedPodExec`).
    fn connect(&self, method: Method, name: &str, sub: &str, gvk: Gvk, params: Vec<Param>) -> Operation {
        let id = format!("connect{}{}{}{name}", self.gv, method.title(), self.scope);
        let description = format!("connect {} requests to {sub} of {}", method.key().to_uppercase(), self.def.kind);
        let reply = Reply { code: 200, description: "OK", payload: Some(Payload::Text), media: &["*/*"] };
        self.op(method, id, description, "connect", gvk, params, None, vec![reply, unauthorized()])
    }
}

/// Parameters every operation of a path shares move to the path (as kube-openapi does);
/// returns them, removing them from the operations. Both lists end sorted by name.
pub fn hoist_common_params(ops: &mut [Operation]) -> Vec<Param> {
    let Some((first, rest)) = ops.split_first() else { return Vec::new() };
    let mut common: Vec<Param> =
        first.params.iter().filter(|p| rest.iter().all(|op| op.params.contains(p))).cloned().collect();
    for op in ops.iter_mut() {
        op.params.retain(|p| !common.contains(p));
        op.params.sort_by_key(|p| p.name);
    }
    common.sort_by_key(|p| p.name);
    common
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_id_parts() {
        assert_eq!(camel("rbac.authorization", true), "RbacAuthorization");
        assert_eq!(camel("rbac.authorization", false), "rbacAuthorization");
        assert_eq!(camel("v1", true), "V1");
    }
}
