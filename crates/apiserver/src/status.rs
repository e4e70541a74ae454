//! API errors and their one mapping to a `meta/v1` `Status` response.
//!
//! Every handler returns [`ApiError`]; [`ApiError::into_response`] is the only place a
//! failure becomes HTTP, so codes, reasons and message shapes stay upstream's.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use resources::FieldError;
use serde_json::{Value, json};

/// The resource an error is about, for `details` (`{name, group, kind}`).
#[derive(Clone, Debug, Default)]
pub struct Subject {
    pub name: String,
    pub group: String,
    /// Upstream puts the plural resource here (`deployments`), not the Kind.
    pub kind: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404: the object, or the path, does not exist.
    #[error("{message}")]
    NotFound { message: String, subject: Option<Subject> },
    /// 409 AlreadyExists: create of an existing name.
    #[error("{message}")]
    AlreadyExists { message: String, subject: Subject },
    /// 409 Conflict: a stale resourceVersion or a failed precondition.
    #[error("{message}")]
    Conflict { message: String, subject: Subject, causes: Vec<Value> },
    /// 422 Invalid: validation failed on the listed fields.
    #[error("{message}")]
    Invalid { message: String, subject: Subject, causes: Vec<Value> },
    /// 400 BadRequest: the request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid credentials.
    #[error("Unauthorized")]
    Unauthorized,
    /// 403: authenticated but not allowed.
    #[error("{message}")]
    Forbidden { message: String, subject: Subject },
    /// 405: the verb is not served on this path.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 406: no acceptable response format.
    #[error("{0}")]
    NotAcceptable(String),
    /// 410 Expired: a watch or list from a compacted resourceVersion.
    #[error("{0}")]
    Expired(String),
    /// 413: the body is larger than the server accepts.
    #[error("{0}")]
    TooLarge(String),
    /// 415: a body content type the endpoint cannot decode.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 500: a server-side failure (storage, a bug).
    #[error("{0}")]
    Internal(String),
    /// 504 Timeout: the server gave up waiting (e.g. a storage write).
    #[error("{0}")]
    Timeout(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn not_found(group_resource: &str, name: &str, subject: Subject) -> Self {
        ApiError::NotFound { message: format!("{group_resource} \"{name}\" not found"), subject: Some(subject) }
    }

    pub fn already_exists(group_resource: &str, name: &str, subject: Subject) -> Self {
        ApiError::AlreadyExists { message: format!("{group_resource} \"{name}\" already exists"), subject }
    }

    /// A stale update: upstream's optimistic-concurrency message.
    pub fn stale(group_resource: &str, name: &str, subject: Subject) -> Self {
        ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {group_resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
            subject,
            causes: Vec::new(),
        }
    }

    /// 422 from field errors: `Deployment.apps "x" is invalid: [a: ..., b: ...]`.
    /// Upstream names the Kind (not the resource) in an Invalid error's details.
    pub fn invalid(kind: &str, group: &str, name: &str, errs: &[FieldError], subject: Subject) -> Self {
        let subject = Subject { kind: kind.to_owned(), ..subject };
        let qualified = if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") };
        let list = errs.iter().map(ToString::to_string).collect::<Vec<_>>();
        let joined = if list.len() == 1 { list[0].clone() } else { format!("[{}]", list.join(", ")) };
        let causes =
            errs.iter().map(|e| json!({"reason": e.kind.reason(), "message": e.message(), "field": e.field})).collect();
        ApiError::Invalid { message: format!("{qualified} \"{name}\" is invalid: {joined}"), subject, causes }
    }

    /// 422 for a patch that cannot be applied to the object.
    pub fn invalid_patch(kind: &str, group: &str, name: &str, detail: &str) -> Self {
        let qualified = if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") };
        ApiError::Invalid {
            message: format!("{qualified} \"{name}\" is invalid: patch: Invalid value: \"\": {detail}"),
            subject: Subject { name: name.to_owned(), group: group.to_owned(), kind: kind.to_owned() },
            causes: vec![json!({"reason": "FieldValueInvalid", "message": detail, "field": "patch"})],
        }
    }

    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } => 404,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::NotAcceptable(_) => 406,
            ApiError::Expired(_) => 410,
            ApiError::TooLarge(_) => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::Internal(_) => 500,
            ApiError::Timeout(_) => 504,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::NotAcceptable(_) => "NotAcceptable",
            ApiError::Expired(_) => "Expired",
            ApiError::TooLarge(_) => "RequestEntityTooLarge",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Internal(_) => "InternalError",
            ApiError::Timeout(_) => "Timeout",
        }
    }

    /// The `Status` object, with fields in upstream's order.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
        });
        let details = match self {
            ApiError::NotFound { subject: Some(s), .. }
            | ApiError::AlreadyExists { subject: s, .. }
            | ApiError::Forbidden { subject: s, .. } => Some(details(s, &[])),
            ApiError::Conflict { subject: s, causes, .. } | ApiError::Invalid { subject: s, causes, .. } => {
                Some(details(s, causes))
            }
            ApiError::Internal(msg) => Some(json!({"causes": [{"message": msg}]})),
            _ => None,
        };
        if let Some(d) = details {
            status["details"] = d;
        }
        status["code"] = self.code().into();
        status
    }
}

fn details(s: &Subject, causes: &[Value]) -> Value {
    let mut d = serde_json::Map::new();
    if !s.name.is_empty() {
        d.insert("name".into(), s.name.clone().into());
    }
    if !s.group.is_empty() {
        d.insert("group".into(), s.group.clone().into());
    }
    if !s.kind.is_empty() {
        d.insert("kind".into(), s.kind.clone().into());
    }
    if !causes.is_empty() {
        d.insert("causes".into(), causes.to_vec().into());
    }
    Value::Object(d)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (code, self.status().to_string()).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if matches!(self, ApiError::Timeout(_)) {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

impl From<storage::Error> for ApiError {
    fn from(e: storage::Error) -> Self {
        match e {
            storage::Error::Compacted { requested, compacted } => ApiError::Expired(format!(
                "The resourceVersion for the provided list is too old: requested {requested}, oldest held {compacted}"
            )),
            storage::Error::FutureRevision { requested, current } => {
                ApiError::Timeout(format!("Too large resource version: {requested}, current: {current}"))
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// A success `Status` (what some deletes return).
pub fn success_status(details: Value) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}
