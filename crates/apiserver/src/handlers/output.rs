//! Encoding responses in the form the client asked for: the object, a Table, metadata
//! only, or YAML; lists and watch events alike.

use crate::negotiate::Output;
use crate::registry::object::partial_metadata;
use crate::registry::watch::WatchEvent;
use crate::status::ApiError;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use resources::ResourceDef;
use serde_json::{Map, Value, json};

/// What a Table row carries besides its cells (`?includeObject=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// How to render: the chosen output and its Table option.
#[derive(Clone, Copy, Debug)]
pub struct Render {
    pub output: Output,
    pub include: IncludeObject,
}

fn column_definitions(def: &ResourceDef) -> Value {
    def.strategy
        .columns()
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.kind, "format": c.format, "description": c.description, "priority": c.priority})
        })
        .collect()
}

fn row(def: &ResourceDef, obj: &Value, include: IncludeObject) -> Value {
    let mut row = object([("cells", Value::Array(def.strategy.cells(obj)))]);
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => row["object"] = partial_metadata(obj),
        IncludeObject::Object => row["object"] = obj.clone(),
    }
    row
}

/// An object built from owned values, in this key order (`json!` would deep-copy
/// every value it is given).
fn object(fields: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// A Table of `items`, with list metadata.
pub fn table(def: &ResourceDef, items: &[Value], list_meta: Value, include: IncludeObject) -> Value {
    object([
        ("kind", Value::from("Table")),
        ("apiVersion", Value::from("meta.k8s.io/v1")),
        ("metadata", list_meta),
        ("columnDefinitions", column_definitions(def)),
        ("rows", Value::Array(items.iter().map(|o| row(def, o, include)).collect())),
    ])
}

/// Render one object.
pub fn object_body(def: &ResourceDef, obj: Value, render: Render) -> Value {
    match render.output {
        Output::Table => {
            let rv = obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
            table(def, std::slice::from_ref(&obj), json!({"resourceVersion": rv}), render.include)
        }
        Output::Metadata => partial_metadata(&obj),
        Output::Json | Output::Yaml => obj,
    }
}

/// Render a list with its metadata (`resourceVersion`, `continue`).
pub fn list_body(def: &ResourceDef, items: Vec<Value>, revision: i64, cont: Option<String>, render: Render) -> Value {
    let mut meta = Map::new();
    meta.insert("resourceVersion".into(), revision.to_string().into());
    if let Some(c) = cont {
        meta.insert("continue".into(), c.into());
    }
    let meta = Value::Object(meta);
    match render.output {
        Output::Table => table(def, &items, meta, render.include),
        Output::Metadata => object([
            ("kind", Value::from("PartialObjectMetadataList")),
            ("apiVersion", Value::from("meta.k8s.io/v1")),
            ("metadata", meta),
            ("items", Value::Array(items.iter().map(partial_metadata).collect())),
        ]),
        Output::Json | Output::Yaml => {
            // Items of a typed list carry no apiVersion/kind, as upstream encodes them.
            let items: Vec<Value> = items
                .into_iter()
                .map(|mut o| {
                    if let Some(m) = o.as_object_mut() {
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                    o
                })
                .collect();
            object([
                ("kind", Value::from(format!("{}List", def.kind))),
                ("apiVersion", Value::from(def.api_version())),
                ("metadata", meta),
                ("items", Value::Array(items)),
            ])
        }
    }
}

/// A watch event line's object in the requested form.
pub fn watch_event(def: &ResourceDef, ev: WatchEvent, render: Render) -> Value {
    let rendered = match (ev.kind, render.output) {
        ("ERROR" | "BOOKMARK", _) => ev.object,
        (_, Output::Table) => {
            let rv = ev.object.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
            table(def, std::slice::from_ref(&ev.object), json!({"resourceVersion": rv}), render.include)
        }
        (_, Output::Metadata) => partial_metadata(&ev.object),
        _ => ev.object,
    };
    object([("type", Value::from(ev.kind)), ("object", rendered)])
}

/// A response with `body` encoded as JSON or YAML, and `Warning` headers.
pub fn respond(code: StatusCode, body: &Value, output: Output, warnings: &[String]) -> Response {
    let (bytes, ctype) = match output {
        Output::Yaml => match yaml_serde::to_string(body) {
            Ok(s) => (s.into_bytes(), "application/yaml"),
            Err(e) => return ApiError::Internal(format!("encoding YAML: {e}")).into_response(),
        },
        _ => (serde_json::to_vec(body).unwrap_or_default(), "application/json"),
    };
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = code;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    add_warnings(&mut resp, warnings);
    resp
}

/// `Warning: 299 - "text"` headers, one per warning.
pub fn add_warnings(resp: &mut Response, warnings: &[String]) {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
}

/// A document served with an ETag (already quoted): 304 when the client has it, else
/// the body; `Vary: Accept` because the same path has several forms.
pub fn with_etag(body: &[u8], content_type: &'static str, etag: &str, headers: &HeaderMap) -> Response {
    let mut resp = if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.to_vec().into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    resp
}
