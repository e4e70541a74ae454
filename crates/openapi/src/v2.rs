//! The Swagger 2.0 document (`/openapi/v2`): every path of every group-version, and the
//! definitions converted from the v3 component schemas.

use crate::extensions::annotated;
use crate::model::{GroupVersion, Operation, Payload, hoist_common_params};
use crate::params::{In, Param};
use crate::v3::gvk_json;
use resources::schema::REF_PREFIX;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const DEFINITIONS_PREFIX: &str = "#/definitions/";

/// The whole v2 document.
pub fn document(gvs: &[GroupVersion], version: &str, definitions: &Map<String, Value>) -> Value {
    let mut paths = BTreeMap::new();
    for gv in gvs {
        for (path, ops) in &gv.paths {
            paths.insert(path.clone(), path_item(ops.clone()));
        }
    }
    let definitions: BTreeMap<_, _> =
        definitions.iter().map(|(name, schema)| (name.clone(), schema_v2(&annotated(name, schema)))).collect();
    json!({
        "definitions": definitions,
        "info": {"title": "Kubernetes", "version": version},
        "paths": paths,
        "security": [{"BearerToken": []}],
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "in": "header",
                "name": "authorization",
                "type": "apiKey",
            },
        },
        "swagger": "2.0",
    })
}

/// A v3 schema in Swagger 2.0 form: refs point into `#/definitions`, a described ref is a
/// `$ref` with siblings again (as upstream's v2 has it), and `oneOf` wire types collapse
/// to `string` (upstream's v2 `IntOrString` and `Quantity`).
pub fn schema_v2(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                match key.as_str() {
                    "$ref" => {
                        let r = value.as_str().unwrap_or_default();
                        let name = r.strip_prefix(REF_PREFIX).unwrap_or(r);
                        out.insert(key.clone(), format!("{DEFINITIONS_PREFIX}{name}").into());
                    }
                    "allOf" if value.as_array().is_some_and(|a| a.len() == 1 && a[0].get("$ref").is_some()) => {
                        if let Value::Object(inner) = schema_v2(&value[0]) {
                            out.extend(inner);
                        }
                    }
                    "oneOf" => {
                        out.entry("type").or_insert_with(|| "string".into());
                    }
                    "nullable" => {}
                    _ => {
                        out.insert(key.clone(), schema_v2(value));
                    }
                }
            }
            let sorted: BTreeMap<_, _> = out.into_iter().collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => items.iter().map(schema_v2).collect(),
        other => other.clone(),
    }
}

fn path_item(mut ops: Vec<Operation>) -> Value {
    let common = hoist_common_params(&mut ops);
    let mut item: BTreeMap<String, Value> = BTreeMap::new();
    for op in &ops {
        item.insert(op.method.key().to_owned(), operation(op));
    }
    if !common.is_empty() {
        item.insert("parameters".into(), common.iter().map(parameter).collect());
    }
    json!(item)
}

fn payload_schema(payload: &Payload) -> Value {
    match payload {
        Payload::Definition(name) => json!({"$ref": format!("{DEFINITIONS_PREFIX}{name}")}),
        Payload::Text => json!({"type": "string"}),
    }
}

fn operation(op: &Operation) -> Value {
    let mut out = Map::new();
    let consumes: Vec<&str> = op.body.as_ref().map_or(vec!["*/*"], |b| b.media.to_vec());
    out.insert("consumes".into(), json!(consumes));
    out.insert("description".into(), op.description.clone().into());
    out.insert("operationId".into(), op.id.clone().into());
    let mut params: Vec<Value> = Vec::new();
    if let Some(body) = &op.body {
        params.push(
            json!({"in": "body", "name": "body", "required": body.required, "schema": payload_schema(&body.payload)}),
        );
    }
    params.extend(op.params.iter().map(parameter));
    if !params.is_empty() {
        out.insert("parameters".into(), params.into());
    }
    let produces = op.replies.iter().find(|r| !r.media.is_empty()).map_or(&[][..], |r| r.media);
    out.insert("produces".into(), json!(produces));
    let mut responses = Map::new();
    for reply in &op.replies {
        let mut r = Map::new();
        r.insert("description".into(), reply.description.into());
        if let Some(payload) = &reply.payload {
            r.insert("schema".into(), payload_schema(payload));
        }
        responses.insert(reply.code.to_string(), r.into());
    }
    out.insert("responses".into(), responses.into());
    out.insert("schemes".into(), json!(["https"]));
    out.insert("tags".into(), json!([op.tag]));
    if let Some(action) = op.action {
        out.insert("x-kubernetes-action".into(), action.into());
    }
    if let Some(gvk) = &op.gvk {
        out.insert("x-kubernetes-group-version-kind".into(), gvk_json(gvk));
    }
    out.into()
}

fn parameter(p: &Param) -> Value {
    let mut out = Map::new();
    out.insert("description".into(), p.description.clone().into());
    out.insert("in".into(), p.location.as_str().into());
    out.insert("name".into(), p.name.into());
    if p.location == In::Path {
        out.insert("required".into(), true.into());
    }
    out.insert("type".into(), p.kind.into());
    out.insert("uniqueItems".into(), true.into());
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn described_refs_unwrap_and_one_of_collapses() {
        let v3 = json!({
            "properties": {
                "metadata": {"allOf": [{"$ref": "#/components/schemas/X"}], "description": "d"},
                "n": {"oneOf": [{"type": "integer"}, {"type": "string"}], "format": "int-or-string"},
            },
        });
        let v2 = schema_v2(&v3);
        assert_eq!(v2["properties"]["metadata"], json!({"$ref": "#/definitions/X", "description": "d"}));
        assert_eq!(v2["properties"]["n"], json!({"format": "int-or-string", "type": "string"}));
    }
}
