//! The operations the API serves for each resource, as upstream's API installer registers
//! them (paths, operation ids, descriptions, parameters, replies). Subresources are in
//! [`crate::subresources`].

use crate::model::*;
use crate::params::{self, Param};
use resources::ResourceDef;
use std::collections::BTreeMap;

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
        let builder = Builder::new(def);
        let mut push = |path: &str, op: Operation| out[index].paths.entry(path.to_owned()).or_default().push(op);
        builder.add(&mut push);
        for sub in def.subresources {
            builder.add_subresource(*sub, &mut push);
        }
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

/// Builds the operations of one resource.
pub struct Builder<'a> {
    pub def: &'a ResourceDef,
    /// `/api/v1` or `/apis/apps/v1`.
    pub prefix: String,
    /// `CoreV1`, `AppsV1`, `RbacAuthorizationV1`: the group-version part of operation ids.
    pub gv: String,
    /// `core_v1`, `rbacAuthorization_v1`.
    pub tag: String,
    /// `Namespaced` or empty: the scope part of operation ids.
    pub scope: &'static str,
    /// `/namespaces/{namespace}` or empty.
    pub ns_path: &'static str,
}

impl<'a> Builder<'a> {
    pub fn new(def: &'a ResourceDef) -> Self {
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

    pub fn gvk(&self) -> Gvk {
        Gvk { group: self.def.group.into(), version: self.def.version.into(), kind: self.def.kind.into() }
    }

    /// `/api/v1/namespaces/{namespace}/pods/{name}`.
    pub fn item_path(&self) -> String {
        format!("{}{}/{}/{{name}}", self.prefix, self.ns_path, self.def.plural)
    }

    /// An operation without parameters or body, answering only 401; callers fill in the
    /// rest with struct update syntax.
    pub fn op(&self, method: Method, id: String, description: String, action: &'static str, gvk: Gvk) -> Operation {
        Operation {
            method,
            id,
            description,
            tag: self.tag.clone(),
            action: Some(action),
            gvk: Some(gvk),
            params: Vec::new(),
            body: None,
            replies: vec![unauthorized()],
        }
    }

    /// `name`, `namespace` (when namespaced) and, with `pretty`, the `pretty` parameter.
    pub fn item_params(&self, name_of: &str, pretty: bool) -> Vec<Param> {
        let mut p = vec![params::name(name_of)];
        p.extend(self.collection_params(pretty));
        p
    }

    fn collection_params(&self, pretty: bool) -> Vec<Param> {
        let mut p = Vec::new();
        if self.def.namespaced {
            p.push(params::namespace());
        }
        if pretty {
            p.push(params::pretty());
        }
        p
    }

    fn add(&self, push: &mut impl FnMut(&str, Operation)) {
        let d = self.def;
        let (kind, gv, scope, plural) = (d.kind, &self.gv, self.scope, d.plural);
        let collection = format!("{}{}/{plural}", self.prefix, self.ns_path);
        let item = self.item_path();
        let has = |verb: &str| d.verbs.contains(&verb);
        let with = |mut p: Vec<Param>, more: Vec<Param>| {
            p.extend(more);
            p
        };

        if has("list") {
            let replies = vec![ok(200, &format!("{}List", d.definition), STREAM_MEDIA), unauthorized()];
            let description = format!("list or watch objects of kind {kind}");
            let op = self.op(Method::Get, format!("list{gv}{scope}{kind}"), description.clone(), "list", self.gvk());
            let params = with(self.collection_params(true), params::list(true));
            push(&collection, Operation { params, replies: replies.clone(), ..op });
            if d.namespaced {
                let id = format!("list{gv}{kind}ForAllNamespaces");
                let params = with(vec![params::pretty()], params::list(true));
                let op = self.op(Method::Get, id, description, "list", self.gvk());
                push(&format!("{}/{plural}", self.prefix), Operation { params, replies, ..op });
            }
        }
        if has("create") {
            let op = self.op(
                Method::Post,
                format!("create{gv}{scope}{kind}"),
                format!("create a {kind}"),
                "post",
                self.gvk(),
            );
            let replies = [200, 201, 202].map(|code| ok(code, d.definition, OBJECT_MEDIA));
            push(
                &collection,
                Operation {
                    params: with(self.collection_params(true), params::write()),
                    body: object_body(d.definition),
                    replies: with_unauthorized(replies),
                    ..op
                },
            );
        }
        if has("deletecollection") {
            let id = format!("delete{gv}Collection{scope}{kind}");
            let op =
                self.op(Method::Delete, id, format!("delete collection of {kind}"), "deletecollection", self.gvk());
            push(
                &collection,
                Operation {
                    params: with(self.collection_params(true), params::delete_collection()),
                    body: delete_options_body(),
                    replies: vec![ok(200, STATUS, OBJECT_MEDIA), unauthorized()],
                    ..op
                },
            );
        }
        if has("get") {
            let id = format!("read{gv}{scope}{kind}");
            let op = self.op(Method::Get, id, format!("read the specified {kind}"), "get", self.gvk());
            let replies = vec![ok(200, d.definition, OBJECT_MEDIA), unauthorized()];
            push(&item, Operation { params: self.item_params(kind, true), replies, ..op });
        }
        if has("update") {
            push(&item, self.replace("", "the specified", d.definition, self.gvk()));
        }
        if has("patch") {
            push(&item, self.patch("", "the specified", d.definition, self.gvk()));
        }
        if has("delete") {
            let op = self.op(
                Method::Delete,
                format!("delete{gv}{scope}{kind}"),
                format!("delete a {kind}"),
                "delete",
                self.gvk(),
            );
            let replies = [200, 202].map(|code| ok(code, STATUS, OBJECT_MEDIA));
            push(
                &item,
                Operation {
                    params: with(self.item_params(kind, true), params::delete()),
                    body: delete_options_body(),
                    replies: with_unauthorized(replies),
                    ..op
                },
            );
        }
        if has("watch") {
            self.add_watches(push);
        }
    }

    /// PUT of the object (`suffix` empty) or of a subresource.
    pub fn replace(&self, suffix: &str, what: &str, definition: &str, gvk: Gvk) -> Operation {
        let (kind, gv, scope) = (self.def.kind, &self.gv, self.scope);
        let id = format!("replace{gv}{scope}{kind}{suffix}");
        let op = self.op(Method::Put, id, format!("replace {what} {kind}"), "put", gvk);
        let mut params = self.item_params(kind, true);
        params.extend(params::write());
        let replies = with_unauthorized([200, 201].map(|code| ok(code, definition, OBJECT_MEDIA)));
        Operation { params, body: object_body(definition), replies, ..op }
    }

    /// PATCH of the object (`suffix` empty) or of a subresource.
    pub fn patch(&self, suffix: &str, what: &str, definition: &str, gvk: Gvk) -> Operation {
        let (kind, gv, scope) = (self.def.kind, &self.gv, self.scope);
        let id = format!("patch{gv}{scope}{kind}{suffix}");
        let op = self.op(Method::Patch, id, format!("partially update {what} {kind}"), "patch", gvk);
        let mut params = self.item_params(kind, true);
        params.extend(params::patch());
        let body = Some(Body { payload: Payload::Definition(PATCH.into()), media: PATCH_MEDIA, required: true });
        let replies = with_unauthorized([200, 201].map(|code| ok(code, definition, OBJECT_MEDIA)));
        Operation { params, body, replies, ..op }
    }

    fn add_watches(&self, push: &mut impl FnMut(&str, Operation)) {
        let d = self.def;
        let (kind, gv, scope, plural) = (d.kind, &self.gv, self.scope, d.plural);
        let collection = format!("{}/watch{}/{plural}", self.prefix, self.ns_path);
        let list_description = format!(
            "watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."
        );
        let item_description = format!(
            "watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."
        );
        let mut watch = |path: String, id: String, description: &str, action, mut params: Vec<Param>| {
            params.extend(params::list(true));
            let replies = vec![ok(200, WATCH_EVENT, STREAM_MEDIA), unauthorized()];
            let op = self.op(Method::Get, id, description.to_owned(), action, self.gvk());
            push(&path, Operation { params, replies, ..op });
        };
        let id = format!("watch{gv}{scope}{kind}List");
        watch(collection.clone(), id, &list_description, "watchlist", self.collection_params(true));
        let id = format!("watch{gv}{scope}{kind}");
        watch(format!("{collection}/{{name}}"), id, &item_description, "watch", self.item_params(kind, true));
        if d.namespaced {
            let id = format!("watch{gv}{kind}ListForAllNamespaces");
            let path = format!("{}/watch/{plural}", self.prefix);
            watch(path, id, &list_description, "watchlist", vec![params::pretty()]);
        }
    }
}

/// The replies followed by 401 Unauthorized.
pub fn with_unauthorized<const N: usize>(replies: [Reply; N]) -> Vec<Reply> {
    let mut out = replies.to_vec();
    out.push(unauthorized());
    out
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
