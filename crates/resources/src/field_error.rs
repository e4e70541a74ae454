//! Field errors: what validation returns, shaped as upstream's `field.Error` so the API
//! server can build a 422 `Status` with `details.causes` naming each field.

use serde_json::Value;
use std::fmt;

/// The kind of a field error; each has upstream's cause `reason` and message prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    Required,
    Invalid,
    Duplicate,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    NotFound,
}

impl ErrorType {
    /// The `details.causes[].reason` upstream uses (`FieldValueRequired`, ...).
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::NotFound => "FieldValueNotFound",
        }
    }

    fn text(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::NotFound => "Not found",
        }
    }
}

/// One invalid field: `spec.replicas: Invalid value: -1: must be greater than or equal to 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub kind: ErrorType,
    /// The field path, upstream's spelling: `spec.template.spec.containers[0].name`.
    pub field: String,
    /// The offending value, shown for Invalid, Duplicate and NotSupported.
    pub value: Option<Value>,
    pub detail: String,
}

impl FieldError {
    pub fn required(field: &FieldPath, detail: impl Into<String>) -> Self {
        Self { kind: ErrorType::Required, field: field.to_string(), value: None, detail: detail.into() }
    }
    pub fn invalid(field: &FieldPath, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self { kind: ErrorType::Invalid, field: field.to_string(), value: Some(value.into()), detail: detail.into() }
    }
    pub fn duplicate(field: &FieldPath, value: impl Into<Value>) -> Self {
        Self { kind: ErrorType::Duplicate, field: field.to_string(), value: Some(value.into()), detail: String::new() }
    }
    /// `supported` lists the allowed values, quoted as upstream prints them.
    pub fn not_supported(field: &FieldPath, value: impl Into<Value>, supported: &[&str]) -> Self {
        let list = supported.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
        Self {
            kind: ErrorType::NotSupported,
            field: field.to_string(),
            value: Some(value.into()),
            detail: if supported.is_empty() { String::new() } else { format!("supported values: {list}") },
        }
    }
    pub fn forbidden(field: &FieldPath, detail: impl Into<String>) -> Self {
        Self { kind: ErrorType::Forbidden, field: field.to_string(), value: None, detail: detail.into() }
    }
    pub fn too_long(field: &FieldPath, max: usize) -> Self {
        Self {
            kind: ErrorType::TooLong,
            field: field.to_string(),
            value: None,
            detail: format!("must have at most {max} bytes"),
        }
    }

    /// The cause message without the field: `Invalid value: "x": detail`.
    pub fn message(&self) -> String {
        let mut s = self.kind.text().to_owned();
        if let Some(v) = self
            .value
            .as_ref()
            .filter(|_| matches!(self.kind, ErrorType::Invalid | ErrorType::Duplicate | ErrorType::NotSupported))
        {
            s.push_str(": ");
            s.push_str(&render_value(v));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

/// Values print as Go's `%#v` would for the common cases: strings quoted, numbers bare.
fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

/// A field path under construction, upstream's `field.Path`: `root.child("spec").index(0)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    pub fn new(root: &str) -> Self {
        FieldPath(root.to_owned())
    }
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() { FieldPath(name.to_owned()) } else { FieldPath(format!("{}.{name}", self.0)) }
    }
    pub fn index(&self, i: usize) -> Self {
        FieldPath(format!("{}[{i}]", self.0))
    }
    pub fn key(&self, k: &str) -> Self {
        FieldPath(format!("{}[{k}]", self.0))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
