//! API discovery: the legacy documents (`/api`, `/apis`, `/api/v1`, `/apis/G`,
//! `/apis/G/V`) and the aggregated v2 ones, all built once from the resource table
//! and served with ETags.

use axum::http::{HeaderMap, header};
use axum::response::Response;
use resources::{ResourceDef, Subresource};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Verbs and response kind (group, version, kind) of a subresource.
fn subresource_info(def: &ResourceDef, sub: Subresource) -> (&'static [&'static str], (&str, &str, &str)) {
    let own = (def.group, def.version, def.kind);
    match sub {
        Subresource::Status => (&["get", "patch", "update"], own),
        Subresource::Scale => (&["get", "patch", "update"], ("autoscaling", "v1", "Scale")),
        Subresource::Binding => (&["create"], ("", "v1", "Binding")),
        Subresource::Eviction => (&["create"], ("policy", "v1", "Eviction")),
        Subresource::Log => (&["get"], ("", "v1", "Pod")),
        Subresource::Exec => (&["create", "get"], ("", "v1", "PodExecOptions")),
        Subresource::Attach => (&["create", "get"], ("", "v1", "PodAttachOptions")),
        Subresource::PortForward => (&["create", "get"], ("", "v1", "PodPortForwardOptions")),
        Subresource::Proxy => (&["create", "delete", "get", "patch", "update"], ("", "v1", proxy_kind(def))),
        Subresource::Token => (&["create"], ("authentication.k8s.io", "v1", "TokenRequest")),
        Subresource::Finalize => (&["update"], own),
        Subresource::EphemeralContainers => (&["get", "patch", "update"], own),
    }
}

fn proxy_kind(def: &ResourceDef) -> &'static str {
    match def.plural {
        "nodes" => "NodeProxyOptions",
        "services" => "ServiceProxyOptions",
        _ => "PodProxyOptions",
    }
}

/// Served group-versions in discovery order: ("" or group, version).
fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for def in resources::registry() {
        if !out.contains(&(def.group, def.version)) {
            out.push((def.group, def.version));
        }
    }
    out
}

fn resources_of(group: &str, version: &str) -> impl Iterator<Item = &'static ResourceDef> {
    resources::registry().iter().filter(move |d| d.group == group && d.version == version)
}

fn gv_string(group: &str, version: &str) -> String {
    if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") }
}

fn scope(def: &ResourceDef) -> &'static str {
    if def.namespaced { "Namespaced" } else { "Cluster" }
}

/// A storage-version hash, stable per resource, as discovery carries it.
fn storage_version_hash(def: &ResourceDef) -> String {
    use base64::Engine as _;
    let digest = Sha256::digest(format!("{}/{}/{}", def.group, def.version, def.kind));
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

fn api_resource_list(group: &str, version: &str) -> Value {
    let mut list = Vec::new();
    for def in resources_of(group, version) {
        let mut r = json!({
            "name": def.plural, "singularName": def.singular, "namespaced": def.namespaced,
            "kind": def.kind, "verbs": def.verbs,
        });
        if !def.short_names.is_empty() {
            r["shortNames"] = json!(def.short_names);
        }
        if !def.categories.is_empty() {
            r["categories"] = json!(def.categories);
        }
        r["storageVersionHash"] = json!(storage_version_hash(def));
        list.push(r);
        for sub in def.subresources {
            let (verbs, (g, v, k)) = subresource_info(def, *sub);
            let mut s = json!({
                "name": format!("{}/{}", def.plural, sub.name()), "singularName": "",
                "namespaced": def.namespaced, "kind": k, "verbs": verbs,
            });
            if (g, v) != (def.group, def.version) {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            list.push(s);
        }
    }
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv_string(group, version), "resources": list})
}

fn aggregated_group(group: &str) -> Value {
    let versions: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| {
            let resources: Vec<Value> = resources_of(g, v)
                .map(|def| {
                    let mut r = json!({
                        "resource": def.plural,
                        "responseKind": {"group": def.group, "version": def.version, "kind": def.kind},
                        "scope": scope(def),
                        "singularResource": def.singular,
                        "verbs": def.verbs,
                    });
                    if !def.short_names.is_empty() {
                        r["shortNames"] = json!(def.short_names);
                    }
                    if !def.categories.is_empty() {
                        r["categories"] = json!(def.categories);
                    }
                    if !def.subresources.is_empty() {
                        r["subresources"] = def
                            .subresources
                            .iter()
                            .map(|sub| {
                                let (verbs, (g, v, k)) = subresource_info(def, *sub);
                                json!({"subresource": sub.name(), "responseKind": {"group": g, "version": v, "kind": k}, "verbs": verbs})
                            })
                            .collect();
                    }
                    r
                })
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    let mut metadata = json!({"creationTimestamp": null});
    if !group.is_empty() {
        metadata["name"] = json!(group);
    }
    json!({"metadata": metadata, "versions": versions})
}

fn aggregated(core: bool) -> Value {
    let mut groups: Vec<&str> = Vec::new();
    for (g, _) in group_versions() {
        if g.is_empty() == core && !groups.contains(&g) {
            groups.push(g);
        }
    }
    json!({
        "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
        "items": groups.into_iter().map(aggregated_group).collect::<Vec<_>>(),
    })
}

fn api_group(group: &str) -> Value {
    let versions: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| json!({"groupVersion": gv_string(g, v), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions, "preferredVersion": preferred})
}

fn api_group_list() -> Value {
    let mut groups: Vec<&str> = Vec::new();
    for (g, _) in group_versions() {
        if !g.is_empty() && !groups.contains(&g) {
            groups.push(g);
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|g| {
            let mut v = api_group(g);
            if let Some(o) = v.as_object_mut() {
                o.remove("kind");
                o.remove("apiVersion");
            }
            v
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// A discovery document, rendered once, with its ETag.
struct Doc {
    body: Vec<u8>,
    etag: String,
}

impl Doc {
    fn new(v: &Value) -> Doc {
        let body = serde_json::to_vec(v).unwrap_or_default();
        let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&body)[..16]));
        Doc { body, etag }
    }
}

fn cached(cell: &'static OnceLock<Doc>, make: fn() -> Value) -> &'static Doc {
    cell.get_or_init(|| Doc::new(&make()))
}

fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=APIGroupDiscoveryList") && a.contains("g=apidiscovery.k8s.io"))
}

fn serve(doc: &Doc, content_type: &'static str, headers: &HeaderMap) -> Response {
    super::output::with_etag(&doc.body, content_type, &doc.etag, headers)
}

/// Serve a discovery path, or None when the path is not a discovery document.
pub fn handle(path: &str, headers: &HeaderMap, server_address: &str) -> Option<Response> {
    static API: OnceLock<Doc> = OnceLock::new();
    static APIS: OnceLock<Doc> = OnceLock::new();
    static AGG_CORE: OnceLock<Doc> = OnceLock::new();
    static AGG_GROUPS: OnceLock<Doc> = OnceLock::new();
    let aggregated_ok = wants_aggregated(headers);
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api"] if aggregated_ok => Some(serve(cached(&AGG_CORE, || aggregated(true)), AGGREGATED, headers)),
        ["apis"] if aggregated_ok => Some(serve(cached(&AGG_GROUPS, || aggregated(false)), AGGREGATED, headers)),
        ["api"] => {
            let doc = API.get_or_init(|| {
                Doc::new(&json!({
                    "kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
                }))
            });
            Some(serve(doc, "application/json", headers))
        }
        ["apis"] => Some(serve(cached(&APIS, api_group_list), "application/json", headers)),
        ["api", version] => served(headers, "", version, false),
        ["apis", group] => served(headers, group, "", true),
        ["apis", group, version] => served(headers, group, version, false),
        _ => None,
    }
}

/// `/api/v1`, `/apis/G/V` (a resource list) or `/apis/G` (the group), if served.
fn served(headers: &HeaderMap, group: &str, version: &str, group_only: bool) -> Option<Response> {
    let known = group_versions().into_iter().any(|(g, v)| g == group && (group_only || v == version));
    if !known {
        return None;
    }
    let doc = if group_only { Doc::new(&api_group(group)) } else { Doc::new(&api_resource_list(group, version)) };
    Some(serve(&doc, "application/json", headers))
}

/// Every discovery path, for `GET /`.
pub fn paths() -> Vec<String> {
    let mut paths = vec!["/api".to_owned(), "/apis".to_owned()];
    for (g, v) in group_versions() {
        if g.is_empty() {
            paths.push(format!("/api/{v}"));
        } else {
            paths.push(format!("/apis/{g}"));
            paths.push(format!("/apis/{g}/{v}"));
        }
    }
    paths
}
