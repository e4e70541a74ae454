//! The `scale` subresource: an autoscaling/v1 Scale view of `spec.replicas`, read and
//! written (PUT or any PATCH type) as `kubectl scale` and autoscalers do.

use super::output;
use super::resource::Call;
use crate::negotiate::{BodyType, Output, decode_body};
use crate::registry::{Subresource, object};
use crate::server::ApiServer;
use crate::status::{ApiError, ApiResult};
use axum::http::StatusCode;
use axum::response::Response;
use resources::ResourceDef;
use serde_json::{Value, json};

pub async fn handle(state: &ApiServer, def: &'static ResourceDef, ns: &str, call: &Call<'_>) -> ApiResult<Response> {
    let name = call.info.name.as_str();
    let obj = match call.info.verb.as_str() {
        "get" => state.registry.get(def, ns, name).await?,
        "update" | "patch" => {
            let ty = call.body_type()?;
            let body = decode_body(&call.body, ty)?;
            let opts = call.write_options()?;
            state
                .registry
                .guaranteed_update(def, ns, name, Subresource::Scale, &opts, |current| {
                    let scale = to_scale(current);
                    let wanted = match ty {
                        BodyType::JsonPatch => {
                            let mut s = scale;
                            patch::json::apply_json_patch(&mut s, &body).map_err(|e| bad(def, name, e))?;
                            s
                        }
                        BodyType::MergePatch | BodyType::StrategicMergePatch => {
                            let mut s = scale;
                            patch::json::apply_merge_patch(&mut s, &body).map_err(|e| bad(def, name, e))?;
                            s
                        }
                        _ => {
                            let rv = object::meta_str(&body, "resourceVersion");
                            if !rv.is_empty() && rv != object::meta_str(current, "resourceVersion") {
                                return Err(ApiError::stale(
                                    &def.group_resource(),
                                    name,
                                    crate::registry::subject(def, name),
                                ));
                            }
                            body.clone()
                        }
                    };
                    let replicas = wanted.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
                    if replicas < 0 {
                        let errs = [resources::FieldError::invalid(
                            &resources::FieldPath::new("spec.replicas"),
                            replicas,
                            "must be greater than or equal to 0",
                        )];
                        return Err(ApiError::invalid(
                            "Scale",
                            "autoscaling",
                            name,
                            &errs,
                            crate::registry::subject(def, name),
                        ));
                    }
                    let mut next = current.clone();
                    object::set_meta(&mut next, "resourceVersion", None);
                    next["spec"]["replicas"] = json!(replicas);
                    Ok(next)
                })
                .await?
                .object
        }
        verb => return Err(ApiError::MethodNotAllowed(format!("{verb} is not allowed on the scale subresource"))),
    };
    Ok(output::respond(StatusCode::OK, &to_scale(&obj), Output::Json, &[]))
}

fn bad(def: &ResourceDef, name: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_patch(def.kind, def.group, name, &e.to_string())
}

/// The Scale view of a scalable object.
fn to_scale(obj: &Value) -> Value {
    let meta = object::metadata(obj).cloned().unwrap_or_default();
    let pick = |k: &str| meta.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": pick("name"),
            "namespace": pick("namespace"),
            "uid": pick("uid"),
            "resourceVersion": pick("resourceVersion"),
            "creationTimestamp": pick("creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector_string(obj.pointer("/spec/selector")),
        },
    })
}

/// A selector as the string form Scale carries (`run=my-nginx`): a LabelSelector
/// (`matchLabels`/`matchExpressions`) or a plain map (ReplicationController).
fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel.and_then(Value::as_object) else { return String::new() };
    let map_terms = |m: &serde_json::Map<String, Value>| {
        m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>()
    };
    if !sel.contains_key("matchLabels") && !sel.contains_key("matchExpressions") {
        return map_terms(sel).join(",");
    }
    let mut terms = sel.get("matchLabels").and_then(Value::as_object).map(map_terms).unwrap_or_default();
    for expr in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = expr.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> =
            expr.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        terms.push(match expr.get("operator").and_then(Value::as_str).unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            _ => format!("!{key}"),
        });
    }
    terms.join(",")
}
