//! Errors of decoding and encoding, each naming what was wrong and where.

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("protobuf body does not start with the magic bytes \"k8s\\x00\"")]
    MissingMagic,
    #[error("truncated message at byte {offset}")]
    Truncated { offset: usize },
    #[error("varint longer than 10 bytes at byte {offset}")]
    VarintTooLong { offset: usize },
    #[error("invalid wire type {wire_type} at byte {offset}")]
    InvalidWireType { wire_type: u8, offset: usize },
    #[error("field {field} has wire type {wire_type}, expected {expected} (byte {offset})")]
    WrongWireType { field: String, wire_type: u8, expected: u8, offset: usize },
    #[error("field {field} is not valid UTF-8 (byte {offset})")]
    InvalidUtf8 { field: String, offset: usize },
    #[error("envelope has no apiVersion and kind")]
    MissingTypeMeta,
    #[error("no protobuf message is known for apiVersion {api_version:?} kind {kind:?}")]
    UnknownKind { api_version: String, kind: String },
    #[error("unsupported content encoding {0:?}")]
    UnsupportedContentEncoding(String),
    #[error("unsupported embedded content type {0:?}")]
    UnsupportedContentType(String),
    #[error("field {field} holds invalid embedded JSON: {reason}")]
    InvalidEmbeddedJson { field: String, reason: String },
    #[error("messages nest too deeply at {field:?} (byte {offset})")]
    TooDeep { field: String, offset: usize },
    #[error("field {field} holds an invalid {what}")]
    InvalidValue { field: String, what: &'static str },
}

/// Why a JSON object could not be turned into a protobuf body.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    #[error("object has no string apiVersion and kind")]
    MissingTypeMeta,
    #[error("no protobuf message is known for apiVersion {api_version:?} kind {kind:?}")]
    UnknownKind { api_version: String, kind: String },
    #[error("{path}: expected {expected}, got {got}")]
    WrongType { path: String, expected: &'static str, got: String },
    #[error("{path}: {value} is out of range for {ty}")]
    OutOfRange { path: String, value: String, ty: &'static str },
    #[error("{path}: invalid {what} {value:?}")]
    InvalidValue { path: String, what: &'static str, value: String },
}
