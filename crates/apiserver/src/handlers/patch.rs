//! PATCH: JSON patch, merge patch, strategic merge patch and server-side apply, each
//! applied to the current object inside the store's retrying update.

use super::resource::Call;
use crate::negotiate::{BodyType, decode_body};
use crate::registry::{Subresource, WriteOptions, Written};
use crate::server::ApiServer;
use crate::status::{ApiError, ApiResult};
use patch::{ApplyError, FieldManager};
use resources::ResourceDef;
use resources::merge::ResourceSchema;
use serde_json::Value;

/// Apply the request's patch; returns the written object and whether it was created
/// (server-side apply of an absent object).
pub async fn handle(
    state: &ApiServer,
    def: &'static ResourceDef,
    ns: &str,
    sub: Subresource,
    call: &Call<'_>,
) -> ApiResult<(Written, bool)> {
    let ty = call.body_type()?;
    if !ty.is_patch() {
        return Err(ApiError::UnsupportedMediaType(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml".to_owned(),
        ));
    }
    let patch = decode_body(&call.body, ty)?;
    let mut opts = call.write_options()?;
    let name = call.info.name.clone();
    if ty == BodyType::ApplyPatch {
        return server_side_apply(state, def, ns, sub, call, patch).await;
    }
    let schema = ResourceSchema::served();
    let root = ResourceSchema::root(def.definition);
    if opts.field_manager.is_empty() {
        opts.field_manager = call.field_manager_default.to_owned();
    }
    let written = state
        .registry
        .guaranteed_update(def, ns, &name, sub, &opts, |current| {
            let mut doc = current.clone();
            // A patch never pins the revision it was computed against unless it says so.
            crate::registry::object::set_meta(&mut doc, "resourceVersion", None);
            let patched = match ty {
                BodyType::JsonPatch => patch::json::apply_json_patch(&mut doc, &patch).map(|()| doc),
                BodyType::MergePatch => patch::json::apply_merge_patch(&mut doc, &patch).map(|()| doc),
                _ => patch::strategic::apply(&doc, &patch, &schema, &root),
            };
            patched.map_err(|e| patch_error(def, &name, e))
        })
        .await?;
    Ok((written, false))
}

fn patch_error(def: &ResourceDef, name: &str, e: patch::PatchError) -> ApiError {
    match e.status_code() {
        400 => ApiError::BadRequest(e.to_string()),
        422 => ApiError::invalid_patch(def.kind, def.group, name, &e.to_string()),
        _ => ApiError::Internal(e.to_string()),
    }
}

/// Server-side apply: create when absent, else merge the applied configuration with
/// field ownership (`managedFields`), failing on conflicts unless `force`.
async fn server_side_apply(
    state: &ApiServer,
    def: &'static ResourceDef,
    ns: &str,
    sub: Subresource,
    call: &Call<'_>,
    applied: Value,
) -> ApiResult<(Written, bool)> {
    let manager = call.query.get("fieldManager").unwrap_or_default().to_owned();
    if manager.is_empty() {
        return Err(ApiError::BadRequest(
            "PATCH request must have a fieldManager query parameter for apply patches".to_owned(),
        ));
    }
    let force = call.query.flag("force");
    // Apply records its own managed fields; the store must not add an Update entry.
    let opts = WriteOptions { applied: true, ..call.write_options()? };
    let schema = ResourceSchema::served();
    let root = ResourceSchema::root(def.definition);
    let api_version = def.api_version();
    let name = call.info.name.clone();
    let now = crate::registry::object::now_rfc3339();
    let fm = FieldManager::new(&schema, &root, &manager, &api_version, &now);
    let fm = match sub {
        Subresource::Status => fm.subresource("status").ignoring(&[&["spec"], &["metadata"]]),
        _ if def.has(resources::Subresource::Status) => fm.ignoring(&[&["status"]]),
        _ => fm,
    };
    match state.registry.get(def, ns, &name).await {
        Err(ApiError::NotFound { .. }) if sub == Subresource::Main => {
            let mut obj = fm.apply(None, &applied, force).map_err(|e| apply_error(def, &name, e))?;
            // The applied configuration names the object; the path must agree.
            crate::registry::object::set_meta(&mut obj, "name", Some(Value::String(name.clone())));
            let written = state.registry.create(def, ns, obj, &opts).await?;
            Ok((written, true))
        }
        Err(e) => Err(e),
        Ok(_) => {
            let written = state
                .registry
                .guaranteed_update(def, ns, &name, sub, &opts, |current| {
                    let mut live = current.clone();
                    crate::registry::object::set_meta(&mut live, "resourceVersion", None);
                    fm.apply(Some(&live), &applied, force).map_err(|e| apply_error(def, &name, e))
                })
                .await?;
            Ok((written, false))
        }
    }
}

fn apply_error(def: &ResourceDef, name: &str, e: ApplyError) -> ApiError {
    match e.status_code() {
        409 => ApiError::Conflict {
            message: e.to_string(),
            subject: crate::registry::subject(def, name),
            causes: e.causes(),
        },
        _ => ApiError::BadRequest(e.to_string()),
    }
}
