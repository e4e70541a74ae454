//! Protobuf to JSON: unwraps the `k8s\0` + `runtime.Unknown` envelope, finds the message for
//! the object's apiVersion and kind, and walks its bytes with the descriptor table.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::descriptors::{FieldType, Label, Message, table};
use crate::error::DecodeError;
use crate::wellknown;
use crate::wire::{self, Reader};

/// How deeply messages may nest (embedded envelopes included) before decoding gives up, so that
/// hostile input cannot exhaust the stack. Real objects, CRD schemas included, stay far below.
const MAX_DEPTH: usize = 100;

/// Decodes a whole body: magic, envelope, then the object, with `apiVersion` and `kind` first.
pub fn decode(body: &[u8]) -> Result<Value, DecodeError> {
    decode_nested(body, 0)
}

/// Decodes a body found `depth` messages deep (inside a `RawExtension`).
pub(crate) fn decode_nested(body: &[u8], depth: usize) -> Result<Value, DecodeError> {
    let envelope = body.strip_prefix(crate::MAGIC).ok_or(DecodeError::MissingMagic)?;
    let (mut api_version, mut kind, mut raw, mut encoding, mut content_type) = (None, None, None, None, None);
    let mut reader = Reader::new(envelope, crate::MAGIC.len());
    while !reader.is_empty() {
        let (number, wire_type) = reader.key()?;
        if wire_type != wire::LEN || !(1..=4).contains(&number) {
            reader.skip(wire_type)?;
            continue;
        }
        let (payload, start) = reader.len_delimited()?;
        match number {
            1 => {
                let mut type_meta = Reader::new(payload, start);
                while !type_meta.is_empty() {
                    match type_meta.key()? {
                        (1, wire::LEN) => api_version = Some(utf8(type_meta.len_delimited()?, "typeMeta.apiVersion")?),
                        (2, wire::LEN) => kind = Some(utf8(type_meta.len_delimited()?, "typeMeta.kind")?),
                        (_, wire_type) => type_meta.skip(wire_type)?,
                    }
                }
            }
            2 => raw = Some((payload, start)),
            3 => encoding = Some(utf8((payload, start), "contentEncoding")?),
            _ => content_type = Some(utf8((payload, start), "contentType")?),
        }
    }
    if let Some(encoding) = encoding.filter(|e| !e.is_empty()) {
        return Err(DecodeError::UnsupportedContentEncoding(encoding.to_string()));
    }
    let (Some(api_version), Some(kind)) = (api_version.filter(|a| !a.is_empty()), kind.filter(|k| !k.is_empty()))
    else {
        return Err(DecodeError::MissingTypeMeta);
    };
    let (raw, raw_start) = raw.unwrap_or((&[], body.len()));
    let object = match content_type.unwrap_or_default() {
        "" | "application/vnd.kubernetes.protobuf" => {
            let unknown = || DecodeError::UnknownKind { api_version: api_version.into(), kind: kind.into() };
            let name = table().message_for_kind(api_version, kind).ok_or_else(unknown)?;
            decode_message(name, raw, raw_start, "", depth)?
        }
        "application/json" => serde_json::from_slice(raw)
            .map_err(|e| DecodeError::InvalidEmbeddedJson { field: "raw".into(), reason: e.to_string() })?,
        other => return Err(DecodeError::UnsupportedContentType(other.to_string())),
    };
    let mut out = Map::new();
    out.insert("apiVersion".into(), api_version.into());
    out.insert("kind".into(), kind.into());
    if let Value::Object(fields) = object {
        out.extend(fields.into_iter().filter(|(k, _)| k != "apiVersion" && k != "kind"));
    }
    Ok(Value::Object(out))
}

fn utf8<'a>((bytes, offset): (&'a [u8], usize), field: &str) -> Result<&'a str, DecodeError> {
    std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { field: field.to_string(), offset })
}

/// Decodes one message; `path` is the JSON path of the field holding it, for errors.
fn decode_message(name: &str, bytes: &[u8], base: usize, path: &str, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep { field: path.to_string(), offset: base });
    }
    let Some(message) = table().message(name) else {
        return Err(DecodeError::InvalidValue { field: path.to_string(), what: "message type" });
    };
    let mut values: Vec<Option<Value>> = vec![None; message.fields.len()];
    let mut reader = Reader::new(bytes, base);
    while !reader.is_empty() {
        let key_offset = reader.offset();
        let (number, wire_type) = reader.key()?;
        let Some(index) = message.fields.iter().position(|f| u64::from(f.number) == number) else {
            reader.skip(wire_type)?;
            continue;
        };
        let field = &message.fields[index];
        let field_path = join(path, &field.json_name);
        let slot = &mut values[index];
        match field.label {
            Label::Singular { .. } | Label::Inline => {
                *slot = Some(read_value(&field.ty, wire_type, &mut reader, &field_path, key_offset, depth)?)
            }
            Label::Repeated => {
                let items = slot.get_or_insert_with(|| Value::Array(Vec::new()));
                let Value::Array(items) = items else { unreachable!("repeated slots hold arrays") };
                if wire_type == wire::LEN && is_packable(&field.ty) {
                    let (packed, start) = reader.len_delimited()?;
                    let mut packed = Reader::new(packed, start);
                    while !packed.is_empty() {
                        items.push(read_value(&field.ty, wire::VARINT, &mut packed, &field_path, key_offset, depth)?);
                    }
                } else {
                    items.push(read_value(&field.ty, wire_type, &mut reader, &field_path, key_offset, depth)?);
                }
            }
            Label::Map => {
                expect_wire_type(wire_type, wire::LEN, &field_path, key_offset)?;
                let (entry, start) = reader.len_delimited()?;
                let (key, value) = read_map_entry(&field.ty, entry, start, &field_path, depth)?;
                let entries = slot.get_or_insert_with(|| Value::Object(Map::new()));
                let Value::Object(entries) = entries else { unreachable!("map slots hold objects") };
                entries.insert(key, value);
            }
        }
    }
    let mut object = Map::new();
    for (field, value) in message.fields.iter().zip(values) {
        match (field.label, value) {
            (Label::Inline, Some(Value::Object(inlined))) => object.extend(inlined),
            (_, Some(value)) => {
                object.insert(field.json_name.clone(), value);
            }
            (_, None) => {}
        }
    }
    let object = omit_zero_scalars(message, object);
    match wellknown::special(name) {
        Some(kind) => wellknown::to_json(kind, message, object, path, depth),
        None => Ok(Value::Object(object)),
    }
}

/// Drops zero scalars of `omitempty` fields, as Go's JSON encoding would (see [`Label`]).
fn omit_zero_scalars(message: &Message, mut object: Map<String, Value>) -> Map<String, Value> {
    for field in &message.fields {
        if field.label != (Label::Singular { keep_zero: false }) || matches!(field.ty, FieldType::Message(_)) {
            continue;
        }
        let zero = match object.get(&field.json_name) {
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::Number(n)) => n.as_f64() == Some(0.0),
            Some(Value::Bool(b)) => !b,
            _ => false,
        };
        if zero {
            object.remove(&field.json_name);
        }
    }
    object
}

fn is_packable(ty: &FieldType) -> bool {
    matches!(ty, FieldType::Int32 | FieldType::Int64 | FieldType::Bool)
}

fn expect_wire_type(actual: u8, expected: u8, field: &str, offset: usize) -> Result<(), DecodeError> {
    if actual == expected {
        return Ok(());
    }
    Err(DecodeError::WrongWireType { field: field.to_string(), wire_type: actual, expected, offset })
}

/// Reads one value of a field; `depth` is that of the message holding the field.
fn read_value(
    ty: &FieldType,
    wire_type: u8,
    reader: &mut Reader,
    path: &str,
    offset: usize,
    depth: usize,
) -> Result<Value, DecodeError> {
    let expected = match ty {
        FieldType::Int32 | FieldType::Int64 | FieldType::Bool => wire::VARINT,
        FieldType::Double => wire::FIXED64,
        FieldType::String | FieldType::Bytes | FieldType::Message(_) => wire::LEN,
    };
    expect_wire_type(wire_type, expected, path, offset)?;
    Ok(match ty {
        // int32 is sign-extended to 64 bits on the wire; truncating recovers it.
        FieldType::Int32 => Value::from(reader.varint()? as i32),
        FieldType::Int64 => Value::from(reader.varint()? as i64),
        FieldType::Bool => Value::from(reader.varint()? != 0),
        FieldType::Double => {
            serde_json::Number::from_f64(f64::from_bits(reader.fixed64()?)).map_or(Value::Null, Value::Number)
        }
        FieldType::String => Value::from(utf8(reader.len_delimited()?, path)?),
        FieldType::Bytes => Value::from(BASE64.encode(reader.len_delimited()?.0)),
        FieldType::Message(name) => {
            let (bytes, start) = reader.len_delimited()?;
            decode_message(name, bytes, start, path, depth + 1)?
        }
    })
}

/// Map entries are messages {1: key, 2: value}; missing parts take their zero value.
fn read_map_entry(
    ty: &FieldType,
    entry: &[u8],
    base: usize,
    path: &str,
    depth: usize,
) -> Result<(String, Value), DecodeError> {
    let (mut key, mut value) = (String::new(), None);
    let mut reader = Reader::new(entry, base);
    while !reader.is_empty() {
        let offset = reader.offset();
        match reader.key()? {
            (1, wire_type) => {
                expect_wire_type(wire_type, wire::LEN, path, offset)?;
                key = utf8(reader.len_delimited()?, path)?.to_string();
            }
            (2, wire_type) => value = Some(read_value(ty, wire_type, &mut reader, &join(path, &key), offset, depth)?),
            (_, wire_type) => reader.skip(wire_type)?,
        }
    }
    let value = match (value, ty) {
        (Some(value), _) => value,
        (None, FieldType::Message(name)) => decode_message(name, &[], base, &join(path, &key), depth + 1)?,
        (None, FieldType::String | FieldType::Bytes) => Value::from(""),
        (None, FieldType::Bool) => Value::from(false),
        (None, _) => Value::from(0),
    };
    Ok((key, value))
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::put_len_delimited;

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let mut type_meta = Vec::new();
        put_len_delimited(&mut type_meta, 1, api_version.as_bytes());
        put_len_delimited(&mut type_meta, 2, kind.as_bytes());
        let mut body = crate::MAGIC.to_vec();
        put_len_delimited(&mut body, 1, &type_meta);
        put_len_delimited(&mut body, 2, raw);
        body
    }

    #[test]
    fn reports_what_is_wrong() {
        assert_eq!(decode(b"{\"kind\":\"Pod\"}"), Err(DecodeError::MissingMagic));
        assert_eq!(decode(b"k8s\0"), Err(DecodeError::MissingTypeMeta));
        assert_eq!(
            decode(&envelope("example.com/v1", "Widget", b"")),
            Err(DecodeError::UnknownKind { api_version: "example.com/v1".into(), kind: "Widget".into() })
        );
        // ObjectMeta (field 1) claims 5 bytes but the body ends after 2.
        let body = envelope("v1", "ConfigMap", &[0x0a, 0x05, 0x0a, 0x01]);
        let end = body.len();
        assert_eq!(decode(&body), Err(DecodeError::Truncated { offset: end }));
        assert_eq!(decode(&body).unwrap_err().to_string(), format!("truncated message at byte {end}"));
        // ConfigMap.data is a map: a varint there has the wrong wire type.
        let body = envelope("v1", "ConfigMap", &[0x10, 0x01]);
        assert!(matches!(decode(&body), Err(DecodeError::WrongWireType { field, .. }) if field == "data"));
    }

    #[test]
    fn skips_unknown_fields_and_reads_packed_numbers() {
        // ConfigMap with an unknown field 99 (varint), then immutable = true.
        let mut raw = Vec::new();
        wire::put_key(&mut raw, 99, wire::VARINT);
        wire::put_varint(&mut raw, 7);
        wire::put_key(&mut raw, 4, wire::VARINT);
        wire::put_varint(&mut raw, 1);
        let json = decode(&envelope("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(json, serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "immutable": true}));
        // PodSecurityContext.supplementalGroups (field 4, repeated int64) packed: [1, 2].
        let mut spec = Vec::new();
        put_len_delimited(&mut spec, 4, &[1, 2]);
        let mut pod_spec = Vec::new();
        put_len_delimited(&mut pod_spec, 14, &spec);
        let mut pod = Vec::new();
        put_len_delimited(&mut pod, 2, &pod_spec);
        let json = decode(&envelope("v1", "Pod", &pod)).unwrap();
        assert_eq!(json["spec"]["securityContext"]["supplementalGroups"], serde_json::json!([1, 2]));
    }
}
