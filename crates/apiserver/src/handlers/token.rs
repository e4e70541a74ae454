//! `serviceaccounts/token` (TokenRequest): mint a bound service account token, as
//! `kubectl create token` asks for it.

use super::output;
use super::resource::Call;
use crate::negotiate::{Output, decode_body};
use crate::registry::object;
use crate::server::ApiServer;
use crate::status::{ApiError, ApiResult};
use authn::serviceaccount::{Binding, ObjectRef, TokenRequest};
use axum::http::StatusCode;
use axum::response::Response;
use resources::{FieldError, FieldPath, ResourceDef};
use serde_json::{Value, json};

/// Upstream's shortest and default token lifetimes.
const MIN_EXPIRATION: i64 = 600;
const DEFAULT_EXPIRATION: i64 = 3600;
/// Upstream caps requested lifetimes at 2^32 seconds.
const MAX_EXPIRATION: i64 = 1 << 32;

fn invalid(name: &str, field: &str, value: Value, detail: &str) -> ApiError {
    let errs = [FieldError::invalid(&FieldPath::new(field), value, detail)];
    let subject = crate::status::Subject {
        name: name.to_owned(),
        group: "authentication.k8s.io".into(),
        kind: "TokenRequest".into(),
    };
    ApiError::invalid("TokenRequest", "authentication.k8s.io", name, &errs, subject)
}

/// The binding a request's `boundObjectRef` names, checked against the store.
async fn binding(state: &ApiServer, ns: &str, name: &str, spec: &Value) -> ApiResult<Binding> {
    let Some(bound) = spec.get("boundObjectRef").filter(|b| b.is_object()) else { return Ok(Binding::None) };
    let s = |k: &str| bound.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (kind, bound_name, uid) = (s("kind"), s("name"), s("uid"));
    let (plural, namespace) = match kind.as_str() {
        "Pod" => ("pods", ns),
        "Secret" => ("secrets", ns),
        "Node" => ("nodes", ""),
        other => {
            return Err(invalid(
                name,
                "spec.boundObjectRef.kind",
                json!(other),
                "supported values: \"Pod\", \"Secret\", \"Node\"",
            ));
        }
    };
    let def = resources::find("", "v1", plural).expect("core kinds are served");
    let obj = state.registry.get(def, namespace, &bound_name).await?;
    let actual = object::meta_str(&obj, "uid").to_owned();
    if !uid.is_empty() && uid != actual {
        return Err(ApiError::Conflict {
            message: format!(
                "the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
            subject: crate::registry::subject(def, &bound_name),
            causes: Vec::new(),
        });
    }
    let reference = ObjectRef::new(bound_name, actual);
    Ok(match kind.as_str() {
        "Pod" => {
            let node = obj.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty());
            Binding::Pod { pod: reference, node: node.map(|n| ObjectRef::new(n, "")) }
        }
        "Secret" => Binding::Secret(reference),
        _ => Binding::Node(reference),
    })
}

pub async fn handle(state: &ApiServer, def: &'static ResourceDef, ns: &str, call: &Call<'_>) -> ApiResult<Response> {
    if call.info.verb != "create" {
        return Err(ApiError::MethodNotAllowed("only create is allowed on serviceaccounts/token".to_owned()));
    }
    let name = call.info.name.as_str();
    let account = state.registry.get(def, ns, name).await?;
    let body = decode_body(&call.body, call.body_type()?)?;
    let spec = body.get("spec").cloned().unwrap_or(json!({}));
    let expiration = spec.get("expirationSeconds").and_then(Value::as_i64).unwrap_or(DEFAULT_EXPIRATION);
    if expiration < MIN_EXPIRATION {
        return Err(invalid(
            name,
            "spec.expirationSeconds",
            json!(expiration),
            "may not specify a duration less than 10 minutes",
        ));
    }
    let audiences: Vec<String> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let request = TokenRequest {
        namespace: ns.to_owned(),
        service_account: ObjectRef::new(name, object::meta_str(&account, "uid")),
        audiences: audiences.clone(),
        expiration_seconds: expiration.min(MAX_EXPIRATION),
        binding: binding(state, ns, name, &spec).await?,
        warn_after_seconds: None,
    };
    let now = jiff::Timestamp::now();
    let (token, claims) = state.issuer.mint(&request, now).map_err(|e| ApiError::Internal(e.to_string()))?;
    let expires = claims.exp.and_then(|e| jiff::Timestamp::from_second(e).ok()).unwrap_or(now);
    let audiences = if audiences.is_empty() { state.issuer.api_audiences().to_vec() } else { audiences };
    let mut spec = spec;
    spec["audiences"] = json!(audiences);
    spec["expirationSeconds"] = json!(expiration);
    let response = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": object::now_rfc3339()},
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()},
    });
    Ok(output::respond(StatusCode::CREATED, &response, Output::Json, &[]))
}
