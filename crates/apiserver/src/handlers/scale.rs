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
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use resources::ResourceDef;
use serde_json::{Value, json};
use std::collections::BTreeMap;

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

/// A selector as the string form Scale carries (`run=my-nginx`; empty when none): a
/// LabelSelector (`matchLabels`/`matchExpressions`) or a plain map (ReplicationController),
/// printed as the table columns print them.
fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel.filter(|s| s.as_object().is_some_and(|o| !o.is_empty())) else { return String::new() };
    let printed = if sel.get("matchLabels").is_some() || sel.get("matchExpressions").is_some() {
        let typed: Option<LabelSelector> = serde_json::from_value(sel.clone()).ok();
        resources::table::selector(typed.as_ref())
    } else {
        let map: BTreeMap<String, String> = serde_json::from_value(sel.clone()).unwrap_or_default();
        resources::table::map_selector(&map)
    };
    if printed == "<none>" { String::new() } else { printed }
}

#[cfg(test)]
mod tests {
    use super::selector_string;
    use serde_json::json;

    #[test]
    fn selectors_print_as_scale_carries_them() {
        assert_eq!(selector_string(Some(&json!({"matchLabels": {"run": "my-nginx"}}))), "run=my-nginx");
        let expr = json!({"matchLabels": {"a": "b"}, "matchExpressions": [
            {"key": "t", "operator": "In", "values": ["x", "y"]}, {"key": "g", "operator": "DoesNotExist"}]});
        assert_eq!(selector_string(Some(&expr)), "a=b,t in (x,y),!g");
        assert_eq!(selector_string(Some(&json!({"app": "rc"}))), "app=rc");
        assert_eq!(selector_string(Some(&json!({}))), "");
        assert_eq!(selector_string(None), "");
    }
}
