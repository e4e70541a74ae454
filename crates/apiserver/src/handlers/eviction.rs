//! The `pods/eviction` subresource: a policy/v1 Eviction deletes a pod unless that would
//! break the PodDisruptionBudget selecting it (upstream's `EvictionREST`). An allowed
//! eviction first takes one disruption from the budget's status, recording the pod under
//! `disruptedPods` so the disruption controller does not hand the disruption back before
//! the pod is gone; `kubectl drain` evicts through here.

use super::output;
use super::resource::Call;
use crate::negotiate::{Output, decode_body};
use crate::registry::{DeleteOptions, ListOptions, Subresource, WriteOptions, object, subject};
use crate::server::ApiServer;
use crate::status::{ApiError, ApiResult, success_status};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use resources::ResourceDef;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The message of a refused eviction, as `kubectl drain` shows it.
const VIOLATES_BUDGET: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

pub async fn handle(state: &ApiServer, def: &'static ResourceDef, ns: &str, call: &Call<'_>) -> ApiResult<Response> {
    if call.info.verb != "create" {
        return Err(ApiError::MethodNotAllowed("only create is allowed on pods/eviction".to_owned()));
    }
    let name = call.info.name.as_str();
    let eviction = decode_body(&call.body, call.body_type()?)?;
    let named = object::meta_str(&eviction, "name");
    if !named.is_empty() && named != name {
        return Err(ApiError::BadRequest("name in URL does not match name in Eviction object".to_owned()));
    }
    let delete = DeleteOptions::from_body_and_query(eviction.get("deleteOptions"), &|_| None)?;
    let write = WriteOptions {
        user: call.user.clone(),
        dry_run: delete.dry_run || call.query.dry_run()?,
        ..call.write_options()?
    };
    let pod = state.registry.get(def, ns, name).await?;
    if !ignores_budgets(&pod)
        && let Some(refusal) = take_disruption(state, ns, &pod, &write).await?
    {
        return Ok(refusal);
    }
    state.registry.delete(def, ns, name, &delete, &write).await?;
    let body = success_status(json!({}));
    Ok(output::respond(StatusCode::CREATED, &body, Output::Json, &[]))
}

/// Pods that are not running (pending or finished) or already being deleted disrupt
/// nothing: upstream evicts them without consulting a budget.
fn ignores_budgets(pod: &Value) -> bool {
    let phase = pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or_default();
    matches!(phase, "Succeeded" | "Failed" | "Pending") || object::is_deleting(pod)
}

/// Check the budget selecting `pod` and take one disruption from it. `Some` is the
/// response refusing the eviction.
async fn take_disruption(
    state: &ApiServer,
    ns: &str,
    pod: &Value,
    write: &WriteOptions,
) -> ApiResult<Option<Response>> {
    let Some(pdb_def) = resources::find("policy", "v1", "poddisruptionbudgets") else { return Ok(None) };
    let labels = object::labels(pod);
    let budgets = state.registry.list(pdb_def, ns, &ListOptions::default()).await?;
    let selecting: Vec<&Value> =
        budgets.items.iter().filter(|b| b.pointer("/spec/selector").is_some_and(|s| selects(s, &labels))).collect();
    let budget = match selecting.as_slice() {
        [] => return Ok(None),
        [one] => *one,
        _ => {
            return Err(ApiError::Internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
                    .to_owned(),
            ));
        }
    };
    let pod_name = object::name(pod).to_owned();
    let budget_name = object::name(budget).to_owned();
    let unhealthy_allowed = !is_ready(pod) && allows_unhealthy(budget);
    if unhealthy_allowed {
        return Ok(None);
    }
    let mut refusal = None;
    let result = state
        .registry
        .guaranteed_update(pdb_def, ns, &budget_name, Subresource::Status, write, |current| {
            refusal = None;
            match decrement(current, &pod_name) {
                Ok(next) => Ok(next),
                Err(Refused(message)) => {
                    refusal = Some(message);
                    Ok(current.clone())
                }
            }
        })
        .await;
    if let Some(message) = refusal {
        return Ok(Some(too_many_requests(&message)));
    }
    result.map(|_| None).map_err(|e| match e {
        ApiError::NotFound { .. } => ApiError::Conflict {
            message: format!("the disruption budget {budget_name} changed during the eviction; retry"),
            subject: subject(pdb_def, &budget_name),
            causes: Vec::new(),
        },
        other => other,
    })
}

/// Why a budget refuses a disruption (the `DisruptionBudget` cause's message).
struct Refused(String);

/// The budget with one disruption taken for `pod`, or why it has none to give.
fn decrement(budget: &Value, pod: &str) -> Result<Value, Refused> {
    let name = object::name(budget);
    let generation = budget.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    let observed = budget.pointer("/status/observedGeneration").and_then(Value::as_i64).unwrap_or(0);
    if observed < generation {
        return Err(Refused(format!("The disruption budget {name} is still being processed by the server.")));
    }
    let allowed = budget.pointer("/status/disruptionsAllowed").and_then(Value::as_i64).unwrap_or(0);
    if allowed <= 0 {
        let field = |f: &str| budget.pointer(&format!("/status/{f}")).and_then(Value::as_i64).unwrap_or(0);
        return Err(Refused(format!(
            "The disruption budget {name} needs {} healthy pods and has {} currently",
            field("desiredHealthy"),
            field("currentHealthy")
        )));
    }
    let mut next = budget.clone();
    object::set_meta(&mut next, "resourceVersion", None);
    next["status"]["disruptionsAllowed"] = json!(allowed - 1);
    if !next["status"]["disruptedPods"].is_object() {
        next["status"]["disruptedPods"] = json!({});
    }
    next["status"]["disruptedPods"][pod] = json!(object::now_rfc3339());
    Ok(next)
}

/// Upstream's 429 TooManyRequests with a `DisruptionBudget` cause.
fn too_many_requests(cause: &str) -> Response {
    let status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": VIOLATES_BUDGET,
        "reason": "TooManyRequests",
        "details": {"causes": [{"reason": "DisruptionBudget", "message": cause}]},
        "code": 429,
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, status.to_string()).into_response();
    response.headers_mut().insert(axum::http::header::CONTENT_TYPE, "application/json".parse().expect("static"));
    response
}

/// Whether a pod's `Ready` condition is `True`.
fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten().any(|c| {
        c.get("type").and_then(Value::as_str) == Some("Ready")
            && c.get("status").and_then(Value::as_str) == Some("True")
    })
}

/// Whether the budget lets an unready pod go without taking a disruption: always under
/// `AlwaysAllow`, else (`IfHealthyBudget`) while the budget is met.
fn allows_unhealthy(budget: &Value) -> bool {
    let field = |f: &str| budget.pointer(&format!("/status/{f}")).and_then(Value::as_i64).unwrap_or(0);
    match budget.pointer("/spec/unhealthyPodEvictionPolicy").and_then(Value::as_str) {
        Some("AlwaysAllow") => true,
        _ => field("currentHealthy") >= field("desiredHealthy") && field("desiredHealthy") > 0,
    }
}

/// Whether a metav1.LabelSelector (as JSON) selects `labels`; an empty one selects every pod.
fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let by_label = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let by_expression = selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten().all(|e| {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> =
            e.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let found = labels.get(key).map(String::as_str);
        match e.get("operator").and_then(Value::as_str).unwrap_or_default() {
            "In" => found.is_some_and(|v| values.contains(&v)),
            "NotIn" => found.is_none_or(|v| !values.contains(&v)),
            "Exists" => found.is_some(),
            "DoesNotExist" => found.is_none(),
            _ => false,
        }
    });
    by_label && by_expression
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(generation: i64, observed: i64, allowed: i64) -> Value {
        json!({
            "metadata": {"name": "web", "generation": generation, "resourceVersion": "9"},
            "status": {"observedGeneration": observed, "disruptionsAllowed": allowed, "desiredHealthy": 2, "currentHealthy": 2},
        })
    }

    #[test]
    fn a_disruption_is_taken_and_the_pod_recorded() {
        let next = decrement(&budget(1, 1, 1), "web-1").ok().unwrap();
        assert_eq!(next["status"]["disruptionsAllowed"], 0);
        assert!(next["status"]["disruptedPods"]["web-1"].is_string());
        assert!(next.pointer("/metadata/resourceVersion").is_none());
    }

    #[test]
    fn no_disruption_left_or_a_stale_status_refuses() {
        let Err(Refused(message)) = decrement(&budget(1, 1, 0), "web-1") else { panic!("allowed") };
        assert_eq!(message, "The disruption budget web needs 2 healthy pods and has 2 currently");
        let Err(Refused(message)) = decrement(&budget(2, 1, 3), "web-1") else { panic!("allowed") };
        assert_eq!(message, "The disruption budget web is still being processed by the server.");
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let labels: BTreeMap<String, String> = [("app".to_owned(), "web".to_owned())].into();
        assert!(selects(&json!({}), &labels));
        assert!(selects(&json!({"matchLabels": {"app": "web"}}), &labels));
        assert!(!selects(&json!({"matchLabels": {"app": "db"}}), &labels));
        assert!(selects(&json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}), &labels));
        assert!(!selects(&json!({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}), &labels));
    }

    #[test]
    fn finished_and_deleting_pods_skip_budgets() {
        assert!(ignores_budgets(&json!({"status": {"phase": "Succeeded"}})));
        assert!(ignores_budgets(&json!({"metadata": {"deletionTimestamp": "x"}, "status": {"phase": "Running"}})));
        assert!(!ignores_budgets(&json!({"status": {"phase": "Running"}})));
    }
}
