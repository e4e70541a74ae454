//! The review resources (upstream's create-only REST storages): the caller asks a
//! question in `spec` and reads the answer in `status`; nothing is stored.
//! SelfSubjectReview (`kubectl auth whoami`), TokenReview, the access reviews
//! (`kubectl auth can-i`) and SelfSubjectRulesReview (`kubectl auth can-i --list`).

use super::output;
use super::resource::Call;
use crate::auth::User;
use crate::auth::authorize::decide_with_nodes;
use crate::negotiate::{Output, decode_body};
use crate::server::ApiServer;
use crate::status::{ApiError, ApiResult};
use axum::http::StatusCode;
use axum::response::Response;
use resources::ResourceDef;
use serde_json::{Value, json};

/// The review a resource is, if it is one.
fn review_of(def: &ResourceDef) -> Option<&'static str> {
    const REVIEWS: &[(&str, &str)] = &[
        ("authentication.k8s.io", "selfsubjectreviews"),
        ("authentication.k8s.io", "tokenreviews"),
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("authorization.k8s.io", "localsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ];
    REVIEWS.iter().find(|(g, p)| *g == def.group && *p == def.plural).map(|(_, p)| *p)
}

pub fn is_review(def: &ResourceDef) -> bool {
    review_of(def).is_some()
}

fn user_info(u: &User) -> Value {
    let mut v = json!({"username": u.name, "groups": u.groups});
    if !u.uid.is_empty() {
        v["uid"] = json!(u.uid);
    }
    if !u.extra.is_empty() {
        v["extra"] = json!(u.extra);
    }
    v
}

/// RBAC attributes from a SubjectAccessReviewSpec's resource or non-resource attributes.
fn attributes(user: User, spec: &Value) -> ApiResult<rbac::Attributes> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(r) = spec.get("resourceAttributes").filter(|v| v.is_object()) {
        return Ok(rbac::Attributes {
            user,
            verb: s(r, "verb"),
            is_resource: true,
            api_group: s(r, "group"),
            resource: s(r, "resource"),
            subresource: s(r, "subresource"),
            namespace: s(r, "namespace"),
            name: s(r, "name"),
            path: String::new(),
        });
    }
    if let Some(n) = spec.get("nonResourceAttributes").filter(|v| v.is_object()) {
        return Ok(rbac::Attributes { user, verb: s(n, "verb"), path: s(n, "path"), ..Default::default() });
    }
    Err(ApiError::BadRequest("spec.resourceAttributes or spec.nonResourceAttributes is required".to_owned()))
}

fn access_status(state: &ApiServer, attrs: &rbac::Attributes) -> Value {
    let (allowed, reason) = decide_with_nodes(&state.nodes, &state.policy.current(), attrs);
    let mut status = json!({"allowed": allowed});
    if !reason.is_empty() {
        status["reason"] = json!(reason);
    }
    status
}

/// Answer a review. `kind` is the reviewed object as sent; its `status` is filled in.
pub async fn handle(state: &ApiServer, def: &'static ResourceDef, ns: &str, call: &Call<'_>) -> ApiResult<Response> {
    if call.info.verb != "create" {
        return Err(ApiError::MethodNotAllowed(format!("{} only supports create", def.plural)));
    }
    let body = decode_body(&call.body, call.body_type()?)?;
    let decoded = def.strategy.decode(body).map_err(ApiError::BadRequest)?;
    let mut review = decoded.object;
    review["apiVersion"] = json!(def.api_version());
    review["kind"] = json!(def.kind);
    let spec = review.get("spec").cloned().unwrap_or(Value::Null);
    let status = match review_of(def).unwrap_or_default() {
        "selfsubjectreviews" => json!({"userInfo": user_info(call.user)}),
        "tokenreviews" => {
            let token = spec.get("token").and_then(Value::as_str).unwrap_or_default();
            match state.authenticator.token_user(&state.registry, token).await? {
                Some(user) => {
                    json!({"authenticated": true, "user": user_info(&user), "audiences": spec.get("audiences").cloned().unwrap_or(json!([]))})
                }
                None => json!({"user": {}, "error": "[invalid bearer token, token lookup failed]"}),
            }
        }
        "selfsubjectaccessreviews" => access_status(state, &attributes(call.user.clone(), &spec)?),
        "subjectaccessreviews" | "localsubjectaccessreviews" => {
            let strings = |k: &str| -> Vec<String> {
                spec.get(k)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            };
            let extra = spec.get("extra").and_then(|e| serde_json::from_value(e.clone()).ok()).unwrap_or_default();
            let subject = User {
                name: spec.get("user").and_then(Value::as_str).unwrap_or_default().to_owned(),
                uid: spec.get("uid").and_then(Value::as_str).unwrap_or_default().to_owned(),
                groups: strings("groups"),
                extra,
            };
            let attrs = attributes(subject, &spec)?;
            if def.namespaced && attrs.namespace != ns {
                return Err(ApiError::BadRequest(format!(
                    "spec.resourceAttributes.namespace must match namespace: {ns}"
                )));
            }
            access_status(state, &attrs)
        }
        _ => {
            let namespace = spec.get("namespace").and_then(Value::as_str).unwrap_or_default();
            let review = state.policy.current().rules_for(call.user, namespace);
            let mut status = json!({
                "resourceRules": review.resource_rules,
                "nonResourceRules": review.non_resource_rules,
                "incomplete": review.incomplete,
            });
            if let Some(err) = review.evaluation_error.filter(|e| !e.is_empty()) {
                status["evaluationError"] = json!(err);
            }
            status
        }
    };
    review["status"] = status;
    Ok(output::respond(StatusCode::CREATED, &review, Output::Json, &[]))
}
