//! Content negotiation: decoding request bodies (JSON, YAML, Kubernetes protobuf) and
//! choosing the response form from `Accept` (plain object, Table, metadata only, YAML).

use crate::status::ApiError;
use serde_json::Value;

/// The largest request body accepted (upstream's limit for a single object).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The form a response takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Json,
    Yaml,
    /// `meta.k8s.io` Table (`as=Table`).
    Table,
    /// `meta.k8s.io` PartialObjectMetadata(List) (`as=PartialObjectMetadata[List]`).
    Metadata,
}

/// One media range from an `Accept` header.
#[derive(Debug, Default)]
struct MediaRange<'a> {
    essence: &'a str,
    as_kind: Option<&'a str>,
    group: Option<&'a str>,
}

fn media_ranges(accept: &str) -> Vec<MediaRange<'_>> {
    accept
        .split(',')
        .map(|part| {
            let mut pieces = part.split(';').map(str::trim);
            let mut range = MediaRange { essence: pieces.next().unwrap_or_default(), ..Default::default() };
            for param in pieces {
                match param.split_once('=') {
                    Some(("as", v)) => range.as_kind = Some(v),
                    Some(("g", v)) => range.group = Some(v),
                    _ => {}
                }
            }
            range
        })
        .collect()
}

/// Pick the response form from `Accept`; the first range the server can produce wins.
/// No header means JSON; nothing acceptable is a 406.
pub fn choose_output(accept: Option<&str>) -> Result<Output, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return Ok(Output::Json) };
    for range in media_ranges(accept) {
        let json_like = matches!(range.essence, "application/json" | "application/*" | "*/*");
        match (range.as_kind, range.group) {
            (Some("Table"), Some("meta.k8s.io")) if json_like => return Ok(Output::Table),
            (Some("PartialObjectMetadata" | "PartialObjectMetadataList"), Some("meta.k8s.io")) if json_like => {
                return Ok(Output::Metadata);
            }
            (Some(_), _) => continue,
            (None, _) if json_like => return Ok(Output::Json),
            (None, _) if matches!(range.essence, "application/yaml" | "text/yaml") => return Ok(Output::Yaml),
            _ => continue,
        }
    }
    Err(ApiError::NotAcceptable(format!(
        "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io (asked for {accept})"
    )))
}

/// How a body is encoded, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyType {
    Json,
    Yaml,
    Protobuf,
    JsonPatch,
    MergePatch,
    StrategicMergePatch,
    ApplyPatch,
}

impl BodyType {
    pub fn from_content_type(ct: Option<&str>) -> Result<BodyType, ApiError> {
        let essence = ct.unwrap_or("application/json").split(';').next().unwrap_or_default().trim();
        Ok(match essence {
            "application/json" | "" => BodyType::Json,
            "application/yaml" | "text/yaml" => BodyType::Yaml,
            "application/vnd.kubernetes.protobuf" => BodyType::Protobuf,
            "application/json-patch+json" => BodyType::JsonPatch,
            "application/merge-patch+json" => BodyType::MergePatch,
            "application/strategic-merge-patch+json" => BodyType::StrategicMergePatch,
            "application/apply-patch+yaml" => BodyType::ApplyPatch,
            _ => {
                return Err(ApiError::UnsupportedMediaType(
                    "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf".to_owned(),
                ));
            }
        })
    }

    pub fn is_patch(self) -> bool {
        matches!(
            self,
            BodyType::JsonPatch | BodyType::MergePatch | BodyType::StrategicMergePatch | BodyType::ApplyPatch
        )
    }
}

/// Decode a body into JSON. Protobuf goes through the Kubernetes envelope codec; apply
/// patches are YAML (a superset of JSON).
pub fn decode_body(body: &[u8], ty: BodyType) -> Result<Value, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::TooLarge("Request entity too large: limit is 3145728".to_owned()));
    }
    match ty {
        BodyType::Protobuf => protobuf_codec::decode(body).map_err(|e| ApiError::BadRequest(e.to_string())),
        BodyType::Yaml | BodyType::ApplyPatch => {
            let text = std::str::from_utf8(body).map_err(|e| ApiError::BadRequest(format!("invalid UTF-8: {e}")))?;
            yaml_serde::from_str::<Value>(text)
                .map_err(|e| ApiError::BadRequest(format!("error converting YAML to JSON: yaml: {e}")))
        }
        _ => serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(json_error(&e))),
    }
}

/// A JSON parse error worded like Go's encoding/json where it matters to users.
fn json_error(e: &serde_json::Error) -> String {
    format!("couldn't get version/kind; json parse error: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_table_when_kubectl_asks() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(choose_output(Some(accept)).unwrap(), Output::Table);
        assert_eq!(choose_output(None).unwrap(), Output::Json);
        assert_eq!(choose_output(Some("application/yaml")).unwrap(), Output::Yaml);
        assert_eq!(choose_output(Some("application/vnd.kubernetes.protobuf, */*")).unwrap(), Output::Json);
        assert!(choose_output(Some("application/vnd.kubernetes.protobuf")).is_err());
    }

    #[test]
    fn content_types() {
        assert_eq!(BodyType::from_content_type(Some("application/json; charset=utf-8")).unwrap(), BodyType::Json);
        assert!(BodyType::from_content_type(Some("text/plain")).is_err());
        assert!(decode_body(b"{bad", BodyType::Json).is_err());
        assert_eq!(decode_body(b"a: 1", BodyType::Yaml).unwrap()["a"], 1);
    }
}
