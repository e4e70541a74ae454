//! JSON to protobuf: finds the message for the object's apiVersion and kind, writes its fields
//! in field-number order with the descriptor table, and wraps the bytes in the `k8s\0` +
//! `runtime.Unknown` envelope.
//!
//! JSON keys the message does not define are ignored, as Go's JSON decoding drops them before
//! a Go server could encode the object.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use crate::descriptors::{FieldType, Label, table};
use crate::error::EncodeError;
use crate::wellknown::{self, kind_of};
use crate::wire::{self, put_key, put_len_delimited, put_varint};

/// Encodes an object carrying `apiVersion` and `kind` as a complete protobuf body.
pub fn encode(obj: &Value) -> Result<Vec<u8>, EncodeError> {
    let type_meta = |key| obj.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    let (Some(api_version), Some(kind)) = (type_meta("apiVersion"), type_meta("kind")) else {
        return Err(EncodeError::MissingTypeMeta);
    };
    let unknown = || EncodeError::UnknownKind { api_version: api_version.into(), kind: kind.into() };
    let name = table().message_for_kind(api_version, kind).ok_or_else(unknown)?;
    let raw = encode_message(name, obj, "")?.unwrap_or_default();
    let mut type_meta = Vec::new();
    put_len_delimited(&mut type_meta, 1, api_version.as_bytes());
    put_len_delimited(&mut type_meta, 2, kind.as_bytes());
    let mut out = crate::MAGIC.to_vec();
    put_len_delimited(&mut out, 1, &type_meta);
    put_len_delimited(&mut out, 2, &raw);
    // contentEncoding and contentType: empty, meaning uncompressed protobuf, as Go writes them.
    put_len_delimited(&mut out, 3, b"");
    put_len_delimited(&mut out, 4, b"");
    Ok(out)
}

/// Encodes one message body; `None` when the value is `null` and the field is to be left out.
fn encode_message(name: &str, value: &Value, path: &str) -> Result<Option<Vec<u8>>, EncodeError> {
    let message = table().message(name).ok_or_else(|| EncodeError::InvalidValue {
        path: path.into(),
        what: "message type",
        value: name.into(),
    })?;
    let generic;
    let value = match wellknown::special(name) {
        Some(kind) => match wellknown::to_generic(kind, message, value, path)? {
            Some(converted) => {
                generic = converted;
                &generic
            }
            None => return Ok(None),
        },
        None if value.is_null() => return Ok(None),
        None => value,
    };
    let object = value.as_object().ok_or_else(|| wrong_type(path, "an object", value))?;
    let mut out = Vec::new();
    for field in message.write_order.iter().map(|&i| &message.fields[i]) {
        if field.label == Label::Inline {
            // The embedded message reads its own fields from this same object.
            if let FieldType::Message(name) = &field.ty {
                let body = encode_message(name, value, path)?.unwrap_or_default();
                if !body.is_empty() {
                    put_len_delimited(&mut out, field.number, &body);
                }
            }
            continue;
        }
        let Some(value) = object.get(&field.json_name).filter(|v| !v.is_null()) else {
            continue;
        };
        let path = join(path, &field.json_name);
        match field.label {
            Label::Singular { .. } | Label::Inline => write_value(&mut out, field.number, &field.ty, value, &path)?,
            Label::Repeated => {
                let items = value.as_array().ok_or_else(|| wrong_type(&path, "an array", value))?;
                for (i, item) in items.iter().enumerate() {
                    write_value(&mut out, field.number, &field.ty, item, &format!("{path}[{i}]"))?;
                }
            }
            Label::Map => {
                let entries = value.as_object().ok_or_else(|| wrong_type(&path, "an object", value))?;
                let mut sorted: Vec<_> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                for (key, value) in sorted {
                    let entry = map_entry(&field.ty, key, value, &join(&path, key))?;
                    put_len_delimited(&mut out, field.number, &entry);
                }
            }
        }
    }
    Ok(Some(out))
}

/// A map entry {1: key, 2: value}, leaving out a zero key or value as prost does.
fn map_entry(ty: &FieldType, key: &str, value: &Value, path: &str) -> Result<Vec<u8>, EncodeError> {
    let mut entry = Vec::new();
    if !key.is_empty() {
        put_len_delimited(&mut entry, 1, key.as_bytes());
    }
    let mut encoded = Vec::new();
    write_value(&mut encoded, 2, ty, value, path)?;
    let is_zero = match ty {
        FieldType::Message(_) | FieldType::String | FieldType::Bytes => encoded.len() == 2,
        FieldType::Double => encoded[1..].iter().all(|b| *b == 0),
        _ => encoded.get(1) == Some(&0),
    };
    if !is_zero {
        entry.extend_from_slice(&encoded);
    }
    Ok(entry)
}

fn write_value(out: &mut Vec<u8>, number: u32, ty: &FieldType, value: &Value, path: &str) -> Result<(), EncodeError> {
    match ty {
        FieldType::String => {
            let text = value.as_str().ok_or_else(|| wrong_type(path, "a string", value))?;
            put_len_delimited(out, number, text.as_bytes());
        }
        FieldType::Int32 => {
            let n = integer(value, path)?;
            let n = i32::try_from(n).map_err(|_| out_of_range(path, value, "int32"))?;
            put_key(out, number, wire::VARINT);
            // Negative int32s are sign-extended to ten bytes on the wire.
            put_varint(out, i64::from(n) as u64);
        }
        FieldType::Int64 => {
            let n = integer(value, path)?;
            put_key(out, number, wire::VARINT);
            put_varint(out, n as u64);
        }
        FieldType::Bool => {
            let b = value.as_bool().ok_or_else(|| wrong_type(path, "a boolean", value))?;
            put_key(out, number, wire::VARINT);
            put_varint(out, u64::from(b));
        }
        FieldType::Double => {
            let f = value.as_f64().ok_or_else(|| wrong_type(path, "a number", value))?;
            put_key(out, number, wire::FIXED64);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        FieldType::Bytes => {
            let text = value.as_str().ok_or_else(|| wrong_type(path, "a base64 string", value))?;
            let bytes = BASE64.decode(text).map_err(|_| EncodeError::InvalidValue {
                path: path.into(),
                what: "base64",
                value: text.into(),
            })?;
            put_len_delimited(out, number, &bytes);
        }
        FieldType::Message(name) => {
            let body = encode_message(name, value, path)?.unwrap_or_default();
            put_len_delimited(out, number, &body);
        }
    }
    Ok(())
}

fn integer(value: &Value, path: &str) -> Result<i64, EncodeError> {
    match value {
        Value::Number(n) if n.is_f64() => Err(wrong_type(path, "an integer", value)),
        Value::Number(n) => n.as_i64().ok_or_else(|| out_of_range(path, value, "int64")),
        _ => Err(wrong_type(path, "an integer", value)),
    }
}

fn wrong_type(path: &str, expected: &'static str, value: &Value) -> EncodeError {
    EncodeError::WrongType { path: path.into(), expected, got: kind_of(value) }
}

fn out_of_range(path: &str, value: &Value, ty: &'static str) -> EncodeError {
    EncodeError::OutOfRange { path: path.into(), value: value.to_string(), ty }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_what_is_wrong() {
        assert_eq!(encode(&json!({"kind": "Pod"})), Err(EncodeError::MissingTypeMeta));
        assert_eq!(
            encode(&json!({"apiVersion": "example.com/v1", "kind": "Widget"})),
            Err(EncodeError::UnknownKind { api_version: "example.com/v1".into(), kind: "Widget".into() })
        );
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "three"}});
        assert_eq!(encode(&bad).unwrap_err().to_string(), "spec.replicas: expected an integer, got a string");
        let bad = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 1e10}]}]}});
        assert_eq!(
            encode(&bad).unwrap_err().to_string(),
            "spec.containers[0].ports[0].containerPort: expected an integer, got a number"
        );
        let bad = json!({"apiVersion": "v1", "kind": "Secret", "data": {"k": "not base64!"}});
        assert!(matches!(encode(&bad), Err(EncodeError::InvalidValue { what: "base64", .. })));
        let bad = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": "soon"}});
        assert!(matches!(encode(&bad), Err(EncodeError::InvalidValue { what: "time", .. })));
    }

    #[test]
    fn special_values_round_trip() {
        let object = json!({
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {
                "name": "r",
                "deletionTimestamp": "2024-01-02T03:04:05Z",
                "managedFields": [{"manager": "kubectl", "time": "2024-01-02T03:04:05Z", "fieldsV1": {"f:data": {}}}],
            },
            "data": {"spec": {"template": {"x": [1, "two", null]}}},
            "revision": 7,
        });
        assert_eq!(crate::decode(&encode(&object).unwrap()).unwrap(), object);
        let event = json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "e"},
            "eventTime": "2024-01-02T03:04:05.123456Z",
            "series": {"count": 2, "lastObservedTime": "2024-01-02T03:04:06.000000Z"},
            "reportingController": "krust",
        });
        assert_eq!(crate::decode(&encode(&event).unwrap()).unwrap(), event);
        let user = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
            "metadata": {"name": "me"},
            "status": {"userInfo": {"username": "admin", "groups": ["system:masters"], "extra": {"scopes": ["a", "b"]}}},
        });
        assert_eq!(crate::decode(&encode(&user).unwrap()).unwrap(), user);
    }
}
