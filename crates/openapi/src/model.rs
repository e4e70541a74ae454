//! The model both renderings share: operations with their parameters, bodies and replies,
//! grouped by path and group-version.

use crate::params::Param;
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
pub const LOG_MEDIA: &[&str] =
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
    pub fn title(self) -> &'static str {
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

/// A successful reply carrying an object of `definition`.
pub fn ok(code: u16, definition: &str, media: &'static [&'static str]) -> Reply {
    let description = match code {
        201 => "Created",
        202 => "Accepted",
        _ => "OK",
    };
    Reply { code, description, payload: Some(Payload::Definition(definition.to_owned())), media }
}

/// A successful reply carrying text or a stream.
pub fn ok_text(media: &'static [&'static str]) -> Reply {
    Reply { code: 200, description: "OK", payload: Some(Payload::Text), media }
}

pub fn unauthorized() -> Reply {
    Reply { code: 401, description: "Unauthorized", payload: None, media: &[] }
}

/// A required request body holding an object of `definition`.
pub fn object_body(definition: &str) -> Option<Body> {
    Some(Body { payload: Payload::Definition(definition.to_owned()), media: &["*/*"], required: true })
}

/// The optional DeleteOptions body of delete and deletecollection.
pub fn delete_options_body() -> Option<Body> {
    Some(Body { payload: Payload::Definition(DELETE_OPTIONS.to_owned()), media: &["*/*"], required: false })
}
