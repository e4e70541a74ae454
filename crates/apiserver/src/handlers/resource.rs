//! The resource verbs: get, list, watch, create, update, patch, delete and
//! deletecollection on `/api/v1/...` and `/apis/<group>/<version>/...`.

use super::output::{self, IncludeObject, Render};
use super::query::Query;
use crate::negotiate::{BodyType, Output, choose_output, decode_body};
use crate::registry::watch::WatchOptions;
use crate::registry::{DeleteOptions, Deleted, FieldValidation, ListOptions, Subresource, WriteOptions, Written};
use crate::request_info::RequestInfo;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::server::ApiServer;
use crate::status::{ApiError, ApiResult, success_status};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use rand::Rng;
use resources::ResourceDef;
use serde_json::{Value, json};
use std::time::Duration;

/// Everything a resource handler needs from the request.
pub struct Call<'a> {
    pub user: &'a crate::auth::User,
    pub info: &'a RequestInfo,
    pub headers: &'a HeaderMap,
    pub query: &'a Query,
    pub body: Bytes,
    pub field_manager_default: &'a str,
}

impl Call<'_> {
    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn render(&self) -> ApiResult<Render> {
        Ok(Render {
            output: choose_output(self.header(header::ACCEPT))?,
            include: IncludeObject::parse(self.query.get("includeObject")),
        })
    }

    pub fn write_options(&self) -> ApiResult<WriteOptions> {
        let manager = self.query.get("fieldManager").filter(|m| !m.is_empty()).unwrap_or(self.field_manager_default);
        if manager.len() > 128 {
            return Err(ApiError::BadRequest("fieldManager: Too long: must have at most 128 bytes".to_owned()));
        }
        Ok(WriteOptions {
            user: self.user.clone(),
            dry_run: self.query.dry_run()?,
            field_manager: manager.to_owned(),
            field_validation: FieldValidation::parse(self.query.get("fieldValidation"))?,
            applied: false,
        })
    }

    pub fn body_type(&self) -> ApiResult<BodyType> {
        BodyType::from_content_type(self.header(header::CONTENT_TYPE))
    }
}

/// The resource definition a request names, or upstream's 404 for an unknown one.
pub fn lookup(info: &RequestInfo) -> ApiResult<&'static ResourceDef> {
    resources::find(&info.group, &info.version, &info.resource).ok_or_else(|| ApiError::NotFound {
        message: "the server could not find the requested resource".to_owned(),
        subject: None,
    })
}

pub async fn handle(state: &ApiServer, call: Call<'_>) -> ApiResult<Response> {
    let def = lookup(call.info)?;
    let mut response = serve(state, def, call).await?;
    if let Some(warning) = def.strategy.deprecation() {
        output::add_warnings(&mut response, &[warning.to_owned()]);
    }
    Ok(response)
}

async fn serve(state: &ApiServer, def: &'static ResourceDef, call: Call<'_>) -> ApiResult<Response> {
    let info = call.info;
    if def.namespaced && info.namespace.is_empty() && !matches!(info.verb.as_str(), "list" | "watch") {
        return Err(ApiError::NotFound {
            message: "the server could not find the requested resource".to_owned(),
            subject: None,
        });
    }
    let ns = if def.namespaced { info.namespace.as_str() } else { "" };
    if super::review::is_review(def) {
        return super::review::handle(state, def, ns, &call).await;
    }
    let sub = match info.subresource.as_str() {
        "" => Subresource::Main,
        "status" if def.has(resources::Subresource::Status) => Subresource::Status,
        "finalize" if def.has(resources::Subresource::Finalize) && info.verb == "update" => Subresource::Finalize,
        "ephemeralcontainers" if def.has(resources::Subresource::EphemeralContainers) => {
            Subresource::EphemeralContainers
        }
        "scale" if def.has(resources::Subresource::Scale) => return super::scale::handle(state, def, ns, &call).await,
        "binding" if def.has(resources::Subresource::Binding) => return bind(state, def, ns, &call).await,
        "eviction" if def.has(resources::Subresource::Eviction) => {
            return super::eviction::handle(state, def, ns, &call).await;
        }
        "token" if def.has(resources::Subresource::Token) => return super::token::handle(state, def, ns, &call).await,
        "log" if def.has(resources::Subresource::Log) => return super::pod_log::handle(state, def, ns, &call).await,
        _ => {
            return Err(ApiError::NotFound {
                message: "the server could not find the requested resource".to_owned(),
                subject: None,
            });
        }
    };
    let render = call.render()?;
    match info.verb.as_str() {
        "get" => {
            let obj = state.registry.get(def, ns, &info.name).await?;
            Ok(output::respond(StatusCode::OK, &output::object_body(def, obj, render), render.output, &[]))
        }
        "list" => list(state, def, ns, &call, render).await,
        "watch" => watch(state, def, ns, &call, render).await,
        "create" if sub == Subresource::Main && info.name.is_empty() => {
            let body = decode_body(&call.body, call.body_type()?)?;
            let written = state.registry.create(def, ns, body, &call.write_options()?).await?;
            Ok(written_response(def, StatusCode::CREATED, written, render))
        }
        "update" => {
            let body = decode_body(&call.body, call.body_type()?)?;
            let written = state.registry.update(def, ns, &info.name, sub, body, &call.write_options()?).await?;
            Ok(written_response(def, StatusCode::OK, written, render))
        }
        "patch" => {
            let (written, created) = super::patch::handle(state, def, ns, sub, &call).await?;
            let code = if created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(written_response(def, code, written, render))
        }
        "delete" if sub == Subresource::Main => delete(state, def, ns, &call, render).await,
        "deletecollection" if sub == Subresource::Main => delete_collection(state, def, ns, &call, render).await,
        verb => Err(ApiError::MethodNotAllowed(format!(
            "the server does not allow this method on the requested resource ({verb})"
        ))),
    }
}

fn written_response(def: &ResourceDef, code: StatusCode, written: Written, render: Render) -> Response {
    output::respond(code, &output::object_body(def, written.object, render), render.output, &written.warnings)
}

fn selectors(def: &ResourceDef, query: &Query) -> ApiResult<(LabelSelector, FieldSelector)> {
    let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or_default())?;
    let fields = FieldSelector::parse(query.get("fieldSelector").unwrap_or_default(), &|f| {
        crate::registry::supports_field(def, f)
    })?;
    Ok((labels, fields))
}

async fn list(
    state: &ApiServer,
    def: &'static ResourceDef,
    ns: &str,
    call: &Call<'_>,
    render: Render,
) -> ApiResult<Response> {
    let (label_selector, field_selector) = selectors(def, call.query)?;
    let rv = match call.query.get("resourceVersion").filter(|v| !v.is_empty()) {
        Some(v) => Some(v.parse::<i64>().map_err(|_| {
            ApiError::BadRequest(format!(
                "resourceVersion: Invalid value: \"{v}\": strconv.ParseUint: parsing \"{v}\": invalid syntax"
            ))
        })?),
        None => None,
    };
    let exact = call.query.get("resourceVersionMatch") == Some("Exact");
    let exact_revision = rv.filter(|_| exact);
    let min_revision = rv.filter(|r| !exact && *r > 0);
    let opts = ListOptions {
        label_selector,
        field_selector,
        limit: call.query.number("limit")?.unwrap_or(0) as usize,
        continue_token: call.query.get("continue").filter(|c| !c.is_empty()).map(str::to_owned),
        exact_revision,
        min_revision,
    };
    let result = state.registry.list(def, ns, &opts).await?;
    let body = output::list_body(def, result.items, result.revision, result.continue_token, render);
    Ok(output::respond(StatusCode::OK, &body, render.output, &[]))
}

async fn watch(
    state: &ApiServer,
    def: &'static ResourceDef,
    ns: &str,
    call: &Call<'_>,
    render: Render,
) -> ApiResult<Response> {
    let (label_selector, field_selector) = selectors(def, call.query)?;
    // Like kube-apiserver's --min-request-timeout: a random 30 to 60 minutes unless asked.
    let timeout = match call.query.number("timeoutSeconds")? {
        Some(secs) => Duration::from_secs(secs),
        None => Duration::from_secs(rand::rng().random_range(1800..3600)),
    };
    let opts = WatchOptions {
        label_selector,
        field_selector,
        resource_version: call.query.get("resourceVersion").map(str::to_owned),
        allow_bookmarks: call.query.flag("allowWatchBookmarks"),
        send_initial_events: call.query.flag("sendInitialEvents"),
        timeout,
    };
    let events = state.registry.watch(def, ns, opts).await?;
    let watchers = state.metrics.watch_started(def.plural);
    let lines = events.map(move |ev| {
        let _held = &watchers;
        let mut line = serde_json::to_vec(&output::watch_event(def, ev, render)).unwrap_or_default();
        line.push(b'\n');
        Ok::<_, std::convert::Infallible>(Bytes::from(line))
    });
    let mut resp = Response::new(Body::from_stream(lines));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    Ok(resp)
}

fn delete_options(call: &Call<'_>) -> ApiResult<DeleteOptions> {
    let body = if call.body.is_empty() { None } else { Some(decode_body(&call.body, call.body_type()?)?) };
    DeleteOptions::from_body_and_query(body.as_ref(), &|k| call.query.get(k).map(str::to_owned))
}

async fn delete(
    state: &ApiServer,
    def: &'static ResourceDef,
    ns: &str,
    call: &Call<'_>,
    render: Render,
) -> ApiResult<Response> {
    let opts = delete_options(call)?;
    let write =
        WriteOptions { user: call.user.clone(), dry_run: opts.dry_run || call.query.dry_run()?, ..Default::default() };
    let (code, obj) = match state.registry.delete(def, ns, &call.info.name, &opts, &write).await? {
        Deleted::Gone(obj) => (StatusCode::OK, obj),
        Deleted::Pending(obj) => (StatusCode::OK, obj),
    };
    Ok(output::respond(code, &output::object_body(def, obj, render), render.output, &[]))
}

async fn delete_collection(
    state: &ApiServer,
    def: &'static ResourceDef,
    ns: &str,
    call: &Call<'_>,
    render: Render,
) -> ApiResult<Response> {
    let (label_selector, field_selector) = selectors(def, call.query)?;
    let opts = delete_options(call)?;
    let write =
        WriteOptions { user: call.user.clone(), dry_run: opts.dry_run || call.query.dry_run()?, ..Default::default() };
    let listed =
        state.registry.list(def, ns, &ListOptions { label_selector, field_selector, ..Default::default() }).await?;
    let mut deleted = Vec::new();
    for obj in &listed.items {
        let obj_ns = crate::registry::object::meta_str(obj, "namespace");
        match state.registry.delete(def, obj_ns, crate::registry::object::name(obj), &opts, &write).await {
            Ok(Deleted::Gone(o) | Deleted::Pending(o)) => deleted.push(o),
            Err(ApiError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let body = output::list_body(def, deleted, listed.revision, None, render);
    Ok(output::respond(StatusCode::OK, &body, render.output, &[]))
}

/// `pods/binding`: assign an unbound pod to the node the Binding names.
async fn bind(state: &ApiServer, def: &'static ResourceDef, ns: &str, call: &Call<'_>) -> ApiResult<Response> {
    if call.info.verb != "create" {
        return Err(ApiError::MethodNotAllowed("only create is allowed on pods/binding".to_owned()));
    }
    let binding = decode_body(&call.body, call.body_type()?)?;
    let node = binding.pointer("/target/name").and_then(Value::as_str).unwrap_or_default().to_owned();
    if node.is_empty() {
        let errs = [resources::FieldError::required(&resources::FieldPath::new("target.name"), "")];
        return Err(ApiError::invalid(
            "Binding",
            "",
            &call.info.name,
            &errs,
            crate::registry::subject(def, &call.info.name),
        ));
    }
    let name = call.info.name.clone();
    let write = call.write_options()?;
    state
        .registry
        .guaranteed_update(def, ns, &name, Subresource::Binding, &write, |pod| {
            let current = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default();
            if !current.is_empty() {
                return Err(ApiError::Conflict {
                    message: format!("Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{current}\""),
                    subject: crate::registry::subject(def, &name),
                    causes: Vec::new(),
                });
            }
            let mut pod = pod.clone();
            pod["spec"]["nodeName"] = Value::String(node.clone());
            Ok(pod)
        })
        .await?;
    let body = success_status(json!({}));
    Ok(output::respond(StatusCode::CREATED, &body, Output::Json, &[]))
}
