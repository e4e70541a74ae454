//! Create: decode → metadata → defaults → prepare → hooks → validate → store
//! (upstream's `BeforeCreate` then `Store.Create`).

use super::{FieldValidation, Registry, WriteOptions, Written, encode_for_store, keys, object, subject};
use crate::status::{ApiError, ApiResult};
use resources::{ResourceDef, Subresource};
use serde_json::Value;

impl Registry {
    pub async fn create(
        &self,
        def: &'static ResourceDef,
        namespace: &str,
        body: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Written> {
        let (mut obj, warnings) = decode(def, body, opts.field_validation)?;
        prepare_metadata(def, namespace, &mut obj)?;
        if def.has(Subresource::Status)
            && let Some(o) = obj.as_object_mut()
        {
            o.remove("status");
        }
        def.strategy.default(&mut obj);
        def.strategy.prepare_for_create(&mut obj);
        if def.strategy.tracks_generation() {
            object::set_meta(&mut obj, "generation", Some(1.into()));
        }
        let name = object::name(&obj).to_owned();
        let attrs = super::admission::Attributes {
            operation: super::admission::Operation::Create,
            def,
            namespace,
            name: &name,
            subresource: super::Subresource::Main,
            user: &opts.user,
            dry_run: opts.dry_run,
        };
        self.admit(&attrs, &mut obj, None).await?;
        let hooks = self.hooks_for(def);
        if let Some(h) = hooks
            && let Err(e) = h.before_create(&mut obj).await
        {
            h.release(&obj, None).await;
            return Err(e);
        }
        let result = self.validate_and_store(def, namespace, &mut obj, opts).await;
        if let Some(h) = hooks
            && (result.is_err() || opts.dry_run)
        {
            h.release(&obj, None).await;
        }
        result?;
        Ok(Written { object: obj, warnings })
    }

    async fn validate_and_store(
        &self,
        def: &'static ResourceDef,
        namespace: &str,
        obj: &mut Value,
        opts: &WriteOptions,
    ) -> ApiResult<()> {
        let name = object::name(obj).to_owned();
        let errs = def.strategy.validate(obj);
        if !errs.is_empty() {
            return Err(ApiError::invalid(def.kind, def.group, &name, &errs, subject(def, &name)));
        }
        if !opts.applied {
            super::update::track_managed_fields(def, super::Subresource::Main, None, obj, &opts.field_manager);
        }
        if opts.dry_run {
            return Ok(());
        }
        let key = keys::object_key(def, namespace, &name);
        match self.store.create(&key, encode_for_store(def, obj)?).await {
            Ok(rev) => {
                object::set_meta(obj, "resourceVersion", Some(Value::String(rev.to_string())));
                Ok(())
            }
            Err(storage::Error::AlreadyExists(_)) => {
                Err(ApiError::already_exists(&def.group_resource(), &name, subject(def, &name)))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Check apiVersion/kind, decode through the strategy and apply `fieldValidation` to
/// unknown fields. Returns the canonical object and the warnings to send.
pub(super) fn decode(def: &ResourceDef, body: Value, validation: FieldValidation) -> ApiResult<(Value, Vec<String>)> {
    if !body.is_object() {
        return Err(ApiError::BadRequest(format!(
            "{} in version \"{}\" cannot be handled as a {}: the request body must be an object",
            def.kind, def.version, def.kind
        )));
    }
    let api_version = def.api_version();
    if let Some(v) = body.get("apiVersion").and_then(Value::as_str)
        && v != api_version
    {
        return Err(ApiError::BadRequest(format!(
            "the API version in the data ({v}) does not match the expected API version ({api_version})"
        )));
    }
    if let Some(k) = body.get("kind").and_then(Value::as_str)
        && k != def.kind
    {
        return Err(ApiError::BadRequest(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            def.kind
        )));
    }
    let decoded = def.strategy.decode(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            def.kind, def.version, def.kind
        ))
    })?;
    let unknown: Vec<String> = decoded.unknown_fields.iter().map(|f| format!("unknown field \"{f}\"")).collect();
    let warnings = match validation {
        FieldValidation::Strict if !unknown.is_empty() => {
            return Err(ApiError::BadRequest(format!(
                "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
                def.kind,
                def.version,
                def.kind,
                unknown.join(", ")
            )));
        }
        FieldValidation::Warn => unknown,
        _ => Vec::new(),
    };
    let mut obj = decoded.object;
    obj["apiVersion"] = Value::String(api_version);
    obj["kind"] = Value::String(def.kind.to_owned());
    Ok((obj, warnings))
}

/// Upstream's `BeforeCreate` metadata handling: namespace from the path, name from
/// `generateName`, system fields set, client-set system fields cleared.
fn prepare_metadata(def: &ResourceDef, namespace: &str, obj: &mut Value) -> ApiResult<()> {
    let body_ns = object::meta_str(obj, "namespace").to_owned();
    if def.namespaced {
        if !body_ns.is_empty() && body_ns != namespace {
            return Err(ApiError::BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request".to_owned(),
            ));
        }
        object::set_meta(obj, "namespace", Some(Value::String(namespace.to_owned())));
    } else {
        object::set_meta(obj, "namespace", None);
    }
    if object::name(obj).is_empty() {
        let prefix = object::meta_str(obj, "generateName").to_owned();
        if !prefix.is_empty() {
            let name = format!("{prefix}{}", object::random_suffix());
            object::set_meta(obj, "name", Some(Value::String(name)));
        }
    }
    object::set_meta(obj, "uid", Some(Value::String(uuid::Uuid::new_v4().to_string())));
    object::set_meta(obj, "creationTimestamp", Some(Value::String(object::now_rfc3339())));
    for field in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "generation"] {
        object::set_meta(obj, field, None);
    }
    Ok(())
}
