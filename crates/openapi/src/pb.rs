//! The v2 document in gnostic's protobuf form
//! (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`), converted from its JSON.

use crate::proto::*;
use prost::Message as _;
use serde_json::{Map, Value};

/// Encodes the Swagger 2.0 JSON document.
pub fn encode(doc: &Value) -> Vec<u8> {
    document(doc).encode_to_vec()
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

fn entries<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = (&'a String, &'a Value)> {
    v.get(key).and_then(Value::as_object).into_iter().flatten()
}

fn any(v: &Value) -> Any {
    Any { yaml: v.to_string() }
}

/// `x-` keys, as gnostic keeps them: name and the value's YAML.
fn extensions(v: &Value) -> Vec<NamedAny> {
    let Some(map) = v.as_object() else { return Vec::new() };
    map.iter()
        .filter(|(k, _)| k.starts_with("x-"))
        .map(|(k, v)| NamedAny { name: k.clone(), value: Some(any(v)) })
        .collect()
}

fn document(doc: &Value) -> Document {
    let paths =
        entries(doc, "paths").map(|(name, item)| NamedPathItem { name: name.clone(), value: Some(path_item(item)) });
    let definitions =
        entries(doc, "definitions").map(|(name, s)| NamedSchema { name: name.clone(), value: Some(schema(s)) });
    let security = doc.get("security").and_then(Value::as_array).into_iter().flatten().map(|req| SecurityRequirement {
        additional_properties: (req.as_object().into_iter().flatten())
            .map(|(name, scopes)| NamedStringArray {
                name: name.clone(),
                value: Some(StringArray {
                    value: scopes
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                }),
            })
            .collect(),
    });
    let security_definitions = entries(doc, "securityDefinitions").map(|(name, def)| NamedSecurityDefinitionsItem {
        name: name.clone(),
        value: Some(SecurityDefinitionsItem {
            api_key_security: Some(ApiKeySecurity {
                r#type: text(def, "type"),
                name: text(def, "name"),
                r#in: text(def, "in"),
                description: text(def, "description"),
            }),
        }),
    });
    Document {
        swagger: text(doc, "swagger"),
        info: doc.get("info").map(|i| Info { title: text(i, "title"), version: text(i, "version") }),
        paths: Some(Paths { vendor_extension: Vec::new(), path: paths.collect() }),
        definitions: Some(Definitions { additional_properties: definitions.collect() }),
        security: security.collect(),
        security_definitions: Some(SecurityDefinitions { additional_properties: security_definitions.collect() }),
    }
}

fn path_item(item: &Value) -> PathItem {
    let op = |method: &str| item.get(method).map(operation);
    PathItem {
        get: op("get"),
        put: op("put"),
        post: op("post"),
        delete: op("delete"),
        options: op("options"),
        head: op("head"),
        patch: op("patch"),
        parameters: parameters(item),
    }
}

fn parameters(v: &Value) -> Vec<ParametersItem> {
    v.get("parameters").and_then(Value::as_array).into_iter().flatten().map(parameter).collect()
}

fn parameter(p: &Value) -> ParametersItem {
    let (required, location, description, name) = (
        p.get("required").and_then(Value::as_bool).unwrap_or(false),
        text(p, "in"),
        text(p, "description"),
        text(p, "name"),
    );
    let unique_items = p.get("uniqueItems").and_then(Value::as_bool).unwrap_or(false);
    let kind = match location.as_str() {
        "body" => ParameterKind::BodyParameter(Box::new(BodyParameter {
            description,
            name,
            r#in: location,
            required,
            schema: p.get("schema").map(schema),
        })),
        "path" => ParameterKind::NonBodyParameter(NonBodyParameter {
            oneof: Some(NonBodyKind::PathParameterSubSchema(PathParameterSubSchema {
                required,
                r#in: location,
                description,
                name,
                r#type: text(p, "type"),
                unique_items,
            })),
        }),
        _ => ParameterKind::NonBodyParameter(NonBodyParameter {
            oneof: Some(NonBodyKind::QueryParameterSubSchema(QueryParameterSubSchema {
                required,
                r#in: location,
                description,
                name,
                r#type: text(p, "type"),
                unique_items,
            })),
        }),
    };
    ParametersItem { parameter: Some(Parameter { oneof: Some(kind) }) }
}

fn operation(op: &Value) -> Operation {
    let responses = entries(op, "responses")
        .map(|(code, r)| NamedResponseValue {
            name: code.clone(),
            value: Some(ResponseValue {
                response: Some(Response {
                    description: text(r, "description"),
                    schema: r.get("schema").map(|s| SchemaItem { schema: Some(schema(s)) }),
                }),
            }),
        })
        .collect();
    Operation {
        tags: strings(op, "tags"),
        description: text(op, "description"),
        operation_id: text(op, "operationId"),
        produces: strings(op, "produces"),
        consumes: strings(op, "consumes"),
        parameters: parameters(op),
        responses: Some(Responses { response_code: responses }),
        schemes: strings(op, "schemes"),
        vendor_extension: extensions(op),
    }
}

fn number(s: &Map<String, Value>, key: &str) -> f64 {
    s.get(key).and_then(Value::as_f64).unwrap_or_default()
}

fn integer(s: &Map<String, Value>, key: &str) -> i64 {
    s.get(key).and_then(Value::as_i64).unwrap_or_default()
}

fn schema(v: &Value) -> Schema {
    let empty = Map::new();
    let s = v.as_object().unwrap_or(&empty);
    let additional_properties = s.get("additionalProperties").map(|a| {
        let oneof = match a {
            Value::Bool(b) => AdditionalProperties::Boolean(*b),
            other => AdditionalProperties::Schema(Box::new(schema(other))),
        };
        AdditionalPropertiesItem { oneof: Some(oneof) }
    });
    let r#type = s.get("type").map(|t| TypeItem {
        value: match t {
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            other => other.as_str().map(str::to_owned).into_iter().collect(),
        },
    });
    let items = s.get("items").map(|i| ItemsItem {
        schema: match i {
            Value::Array(each) => each.iter().map(schema).collect(),
            one => vec![schema(one)],
        },
    });
    let properties = s.get("properties").and_then(Value::as_object).map(|props| Properties {
        additional_properties: props
            .iter()
            .map(|(name, p)| NamedSchema { name: name.clone(), value: Some(schema(p)) })
            .collect(),
    });
    Schema {
        r#ref: text(v, "$ref"),
        format: text(v, "format"),
        title: text(v, "title"),
        description: text(v, "description"),
        default: s.get("default").map(any),
        maximum: number(s, "maximum"),
        minimum: number(s, "minimum"),
        max_length: integer(s, "maxLength"),
        min_length: integer(s, "minLength"),
        pattern: text(v, "pattern"),
        max_items: integer(s, "maxItems"),
        min_items: integer(s, "minItems"),
        unique_items: s.get("uniqueItems").and_then(Value::as_bool).unwrap_or(false),
        required: strings(v, "required"),
        r#enum: s.get("enum").and_then(Value::as_array).into_iter().flatten().map(any).collect(),
        additional_properties,
        r#type,
        items,
        all_of: s.get("allOf").and_then(Value::as_array).into_iter().flatten().map(schema).collect(),
        properties,
        read_only: s.get("readOnly").and_then(Value::as_bool).unwrap_or(false),
        example: s.get("example").map(any),
        vendor_extension: extensions(v),
    }
}
