//! Messages whose JSON form is not an object of their fields: times, durations, quantities,
//! int-or-string, embedded raw JSON, string lists and the apiextensions schema unions.
//!
//! The codec first decodes such a message generically (an object keyed by its fields' JSON
//! names); [`to_json`] turns that into the Kubernetes JSON form, and [`to_generic`] does the
//! reverse before generic encoding.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use crate::descriptors::Message;
use crate::error::{DecodeError, EncodeError};
use crate::gotime;

const META: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.";
const APIEXTENSIONS: &str = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Special {
    /// `metav1.Time` {1: seconds, 2: nanos}: RFC 3339, whole seconds; zero is `null`.
    Time,
    /// `metav1.MicroTime`: RFC 3339 with microseconds.
    MicroTime,
    /// `metav1.Duration` {1: nanoseconds}: Go duration text.
    Duration,
    /// `resource.Quantity` {1: string}.
    Quantity,
    /// `intstr.IntOrString` {1: type (0 int, 1 string), 2: intVal, 3: strVal}.
    IntOrString,
    /// `runtime.RawExtension`, `metav1.FieldsV1`, apiextensions `JSON` {1: raw JSON bytes}.
    RawJson,
    /// `metav1.Verbs` and the `ExtraValue`s {1: repeated string}: a JSON array.
    StringList,
    /// apiextensions `JSONSchemaPropsOrArray` {1: schema, 2: schemas}.
    SchemaOrArray,
    /// apiextensions `JSONSchemaPropsOrBool` {1: allows, 2: schema}.
    SchemaOrBool,
    /// apiextensions `JSONSchemaPropsOrStringArray` {1: schema, 2: property}.
    SchemaOrStringArray,
}

pub(crate) fn special(name: &str) -> Option<Special> {
    let (package, short) = name.rsplit_once('.')?;
    let package = &name[..=package.len()];
    Some(match (package, short) {
        (META, "Time") => Special::Time,
        (META, "MicroTime") => Special::MicroTime,
        (META, "Duration") => Special::Duration,
        (META, "FieldsV1") | ("k8s.io.apimachinery.pkg.runtime.", "RawExtension") => Special::RawJson,
        (META, "Verbs") => Special::StringList,
        ("k8s.io.apimachinery.pkg.api.resource.", "Quantity") => Special::Quantity,
        ("k8s.io.apimachinery.pkg.util.intstr.", "IntOrString") => Special::IntOrString,
        (p, "ExtraValue") if p.starts_with("k8s.io.api.") => Special::StringList,
        (p, s) if p.starts_with(APIEXTENSIONS) => match s.to_ascii_lowercase().as_str() {
            "json" => Special::RawJson,
            "jsonschemapropsorarray" => Special::SchemaOrArray,
            "jsonschemapropsorbool" => Special::SchemaOrBool,
            "jsonschemapropsorstringarray" => Special::SchemaOrStringArray,
            _ => return None,
        },
        _ => return None,
    })
}

/// Turns a generically decoded message into its Kubernetes JSON form. `field` names the field
/// holding it, for errors; `depth` is the message's nesting depth.
pub(crate) fn to_json(
    kind: Special,
    message: &Message,
    generic: Map<String, Value>,
    field: &str,
    depth: usize,
) -> Result<Value, DecodeError> {
    let get = |number: u32| generic.get(message.json_name(number)).cloned();
    let int = |number: u32| get(number).and_then(|v| v.as_i64()).unwrap_or(0);
    let invalid = |what| DecodeError::InvalidValue { field: field.to_string(), what };
    Ok(match kind {
        Special::Time | Special::MicroTime => match (int(1), int(2)) {
            (0, 0) => Value::Null,
            (seconds, nanos) => {
                let nanos = i32::try_from(nanos).map_err(|_| invalid("timestamp"))?;
                gotime::format_time(seconds, nanos, kind == Special::MicroTime).ok_or(invalid("timestamp"))?.into()
            }
        },
        Special::Duration => gotime::format_duration(int(1)).into(),
        Special::Quantity => get(1).unwrap_or_else(|| "".into()),
        Special::IntOrString if int(1) == 1 => get(3).unwrap_or_else(|| "".into()),
        Special::IntOrString => int(2).into(),
        Special::RawJson => {
            let raw = get(1).and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let raw = BASE64.decode(raw).map_err(|_| invalid("raw payload"))?;
            raw_to_json(&raw, field, depth)?
        }
        Special::StringList => get(1).unwrap_or_else(|| json!([])),
        Special::SchemaOrArray => get(2).or_else(|| get(1)).unwrap_or(Value::Null),
        Special::SchemaOrBool => match get(2) {
            Some(schema) => schema,
            None => get(1).unwrap_or(Value::Bool(false)),
        },
        Special::SchemaOrStringArray => get(2).or_else(|| get(1)).unwrap_or(Value::Null),
    })
}

/// Embedded objects are JSON, or a nested protobuf envelope when a protobuf client wrote them.
fn raw_to_json(raw: &[u8], field: &str, depth: usize) -> Result<Value, DecodeError> {
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if raw.starts_with(crate::MAGIC) {
        return crate::decode::decode_nested(raw, depth + 1);
    }
    serde_json::from_slice(raw)
        .map_err(|e| DecodeError::InvalidEmbeddedJson { field: field.to_string(), reason: e.to_string() })
}

/// Turns a Kubernetes JSON value into the generic form of the message; `None` for `null`.
pub(crate) fn to_generic(
    kind: Special,
    message: &Message,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, EncodeError> {
    if value.is_null() {
        return Ok(None);
    }
    let name = |number: u32| message.json_name(number).to_string();
    let object = |pairs: Vec<(u32, Value)>| Some(Value::Object(pairs.into_iter().map(|(n, v)| (name(n), v)).collect()));
    let wrong = |expected| EncodeError::WrongType { path: path.to_string(), expected, got: kind_of(value) };
    let invalid = |what| EncodeError::InvalidValue { path: path.to_string(), what, value: value.to_string() };
    Ok(match kind {
        Special::Time | Special::MicroTime => {
            let text = value.as_str().ok_or_else(|| wrong("an RFC 3339 time string"))?;
            let (seconds, nanos) = gotime::parse_time(text).ok_or_else(|| invalid("time"))?;
            let nanos = if kind == Special::MicroTime { nanos / 1000 * 1000 } else { 0 };
            object([(1, seconds.into())].into_iter().chain((nanos != 0).then(|| (2, nanos.into()))).collect())
        }
        Special::Duration => {
            let text = value.as_str().ok_or_else(|| wrong("a duration string"))?;
            object(vec![(1, gotime::parse_duration(text).ok_or_else(|| invalid("duration"))?.into())])
        }
        Special::Quantity => match value {
            Value::String(_) => object(vec![(1, value.clone())]),
            Value::Number(n) => object(vec![(1, n.to_string().into())]),
            _ => return Err(wrong("a quantity string")),
        },
        Special::IntOrString => match value {
            Value::String(_) => object(vec![(1, 1.into()), (3, value.clone())]),
            Value::Number(_) => object(vec![(1, 0.into()), (2, value.clone())]),
            _ => return Err(wrong("an integer or string")),
        },
        Special::RawJson => {
            let raw = serde_json::to_vec(value).expect("serializing a Value cannot fail");
            object(vec![(1, BASE64.encode(raw).into())])
        }
        Special::StringList => object(vec![(1, value.clone())]),
        Special::SchemaOrArray => match value {
            Value::Array(_) => object(vec![(2, value.clone())]),
            _ => object(vec![(1, value.clone())]),
        },
        Special::SchemaOrBool => match value {
            Value::Bool(_) => object(vec![(1, value.clone())]),
            _ => object(vec![(1, true.into()), (2, value.clone())]),
        },
        Special::SchemaOrStringArray => match value {
            Value::Array(_) => object(vec![(2, value.clone())]),
            _ => object(vec![(1, value.clone())]),
        },
    })
}

/// A short description of a JSON value's type, for errors.
pub(crate) fn kind_of(value: &Value) -> String {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
    .to_string()
}
