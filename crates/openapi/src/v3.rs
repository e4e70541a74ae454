//! OpenAPI v3 documents, one per group-version, as kube-openapi's builder3 shapes them:
//! paths with their operations, and `components.schemas` holding every definition the
//! operations reach (closure over `$ref`).

use crate::extensions::annotated;
use crate::model::{Body, GroupVersion, Gvk, Operation, Payload, Reply, hoist_common_params};
use crate::params::{In, Param};
use resources::schema::REF_PREFIX;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The v3 document of one group-version.
pub fn document(gv: &GroupVersion, version: &str, definitions: &Map<String, Value>) -> Value {
    let mut paths = Map::new();
    for (path, ops) in &gv.paths {
        paths.insert(path.clone(), path_item(ops.clone()));
    }
    let roots: Vec<&str> = gv.definitions().collect();
    let schemas = closure(roots, definitions);
    json!({
        "components": {"schemas": schemas},
        "info": {"title": "Kubernetes", "version": version},
        "openapi": "3.0.0",
        "paths": paths,
    })
}

/// The definitions named by `roots` and everything they reference, sorted by name.
pub fn closure<'a>(roots: impl IntoIterator<Item = &'a str>, definitions: &Map<String, Value>) -> Map<String, Value> {
    let mut found: BTreeMap<String, Value> = BTreeMap::new();
    let mut pending: Vec<String> = roots.into_iter().map(str::to_owned).collect();
    while let Some(name) = pending.pop() {
        if found.contains_key(&name) {
            continue;
        }
        let Some(schema) = definitions.get(&name) else { continue };
        let mut refs = BTreeSet::new();
        collect_refs(schema, &mut refs);
        pending.extend(refs.into_iter().filter(|r| !found.contains_key(r)));
        let schema = annotated(&name, schema);
        found.insert(name, schema);
    }
    found.into_iter().collect()
}

fn collect_refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix(REF_PREFIX)) {
                out.insert(name.to_owned());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn path_item(mut ops: Vec<Operation>) -> Value {
    let common = hoist_common_params(&mut ops);
    let mut item = Map::new();
    for op in &ops {
        item.insert(op.method.key().to_owned(), operation(op));
    }
    if !common.is_empty() {
        item.insert("parameters".into(), common.iter().map(parameter).collect());
    }
    sorted(item)
}

fn operation(op: &Operation) -> Value {
    let mut out = Map::new();
    out.insert("description".into(), op.description.clone().into());
    out.insert("operationId".into(), op.id.clone().into());
    if !op.params.is_empty() {
        out.insert("parameters".into(), op.params.iter().map(parameter).collect());
    }
    if let Some(body) = &op.body {
        out.insert("requestBody".into(), request_body(body));
    }
    let responses: Map<String, Value> = op.replies.iter().map(|r| (r.code.to_string(), response(r))).collect();
    out.insert("responses".into(), responses.into());
    out.insert("tags".into(), json!([op.tag]));
    if let Some(action) = op.action {
        out.insert("x-kubernetes-action".into(), action.into());
    }
    if let Some(gvk) = &op.gvk {
        out.insert("x-kubernetes-group-version-kind".into(), gvk_json(gvk));
    }
    out.into()
}

pub fn gvk_json(gvk: &Gvk) -> Value {
    json!({"group": gvk.group, "kind": gvk.kind, "version": gvk.version})
}

fn parameter(p: &Param) -> Value {
    let mut out = Map::new();
    out.insert("description".into(), p.description.clone().into());
    out.insert("in".into(), p.location.as_str().into());
    out.insert("name".into(), p.name.into());
    if p.location == In::Path {
        out.insert("required".into(), true.into());
    }
    out.insert("schema".into(), json!({"type": p.kind, "uniqueItems": true}));
    out.into()
}

fn payload_schema(payload: &Payload) -> Value {
    match payload {
        Payload::Definition(name) => json!({"$ref": format!("{REF_PREFIX}{name}")}),
        Payload::Text => json!({"type": "string"}),
    }
}

fn content(payload: &Payload, media: &[&str]) -> Value {
    let schema = payload_schema(payload);
    media.iter().map(|m| (m.to_string(), json!({"schema": schema}))).collect::<Map<_, _>>().into()
}

fn request_body(body: &Body) -> Value {
    let mut out = Map::new();
    out.insert("content".into(), content(&body.payload, body.media));
    if body.required {
        out.insert("required".into(), true.into());
    }
    out.into()
}

fn response(reply: &Reply) -> Value {
    let mut out = Map::new();
    if let Some(payload) = &reply.payload {
        out.insert("content".into(), content(payload, reply.media));
    }
    out.insert("description".into(), reply.description.into());
    out.into()
}

fn sorted(map: Map<String, Value>) -> Value {
    let sorted: BTreeMap<_, _> = map.into_iter().collect();
    Value::Object(sorted.into_iter().collect())
}
