//! The generic store: create, get, list, update, patch, delete and watch, once for every
//! resource, driven by its [`ResourceDef`] (upstream's `genericregistry.Store`).
//!
//! Objects are JSON in the store, without `resourceVersion`: it is the key's
//! `mod_revision`, filled in on every read. Per-kind behaviour comes from the resource's
//! strategy; behaviour that needs server state (Service IP and port allocation) comes
//! from [`hooks::RestHooks`], looked up by resource.

pub mod admission;
mod create;
mod delete;
pub mod hooks;
pub mod keys;
mod list;
pub mod object;
mod update;
pub mod watch;

use crate::status::{ApiError, ApiResult, Subject};
use bytes::Bytes;
use resources::ResourceDef;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use storage::{KeyValue, RangeRequest, Store};

pub use delete::{DeleteOptions, Deleted};
pub use list::{ListOptions, ListResult, supports_field};
pub use update::Subresource;

/// How unknown fields in a request are treated (`?fieldValidation=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(s: Option<&str>) -> ApiResult<Self> {
        match s {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::BadRequest(format!(
                "fieldValidation must be one of Ignore, Warn or Strict, got {other:?}"
            ))),
        }
    }
}

/// Options every write takes.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// Who writes: admission plugins decide by it. Internal writes use [`crate::auth::system_user`].
    pub user: crate::auth::User,
    pub dry_run: bool,
    pub field_manager: String,
    pub field_validation: FieldValidation,
    /// Server-side apply already recorded the managed fields of this write.
    pub applied: bool,
}

/// A successful write: the object as stored, and warnings for the client.
#[derive(Debug)]
pub struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
}

/// The generic store over one [`Store`].
pub struct Registry {
    store: Arc<dyn Store>,
    hooks: HashMap<(&'static str, &'static str), Arc<dyn hooks::RestHooks>>,
    admission: Option<Arc<dyn admission::Admission>>,
}

impl Registry {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Registry { store, hooks: HashMap::new(), admission: None }
    }

    /// Run every write through `chain` (see [`admission`]).
    pub fn with_admission(mut self, chain: Arc<dyn admission::Admission>) -> Self {
        self.admission = Some(chain);
        self
    }

    /// Pass a write through the admission chain, if there is one.
    async fn admit(&self, attrs: &admission::Attributes<'_>, obj: &mut Value, old: Option<&Value>) -> ApiResult<()> {
        match &self.admission {
            Some(chain) => chain.admit(self, attrs, obj, old).await,
            None => Ok(()),
        }
    }

    /// Attach state-ful behaviour to one resource (by group and plural).
    pub fn with_hooks(mut self, group: &'static str, plural: &'static str, h: Arc<dyn hooks::RestHooks>) -> Self {
        self.hooks.insert((group, plural), h);
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn hooks_for(&self, def: &ResourceDef) -> Option<&Arc<dyn hooks::RestHooks>> {
        self.hooks.get(&(def.group, def.plural))
    }

    /// Read one object.
    pub async fn get(&self, def: &'static ResourceDef, namespace: &str, name: &str) -> ApiResult<Value> {
        let (obj, _) = self.get_kv(def, namespace, name).await?;
        Ok(obj)
    }

    /// Read one object and its revision.
    async fn get_kv(&self, def: &'static ResourceDef, namespace: &str, name: &str) -> ApiResult<(Value, i64)> {
        let key = keys::object_key(def, namespace, name);
        let res = self.store.range(RangeRequest { start: key.clone(), ..Default::default() }).await?;
        let kv = res.kvs.into_iter().next().ok_or_else(|| not_found(def, name))?;
        let rev = kv.mod_revision;
        Ok((decode_stored(def, &kv)?, rev))
    }

    /// Whether a namespace exists, and whether it is terminating.
    pub async fn namespace_state(&self, namespace: &str) -> ApiResult<Option<bool>> {
        let def = resources::find("", "v1", "namespaces").expect("namespaces are served");
        match self.get(def, "", namespace).await {
            Ok(ns) => Ok(Some(ns.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating"))),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The `details` subject of errors about `name` of this resource.
pub fn subject(def: &ResourceDef, name: &str) -> Subject {
    Subject { name: name.to_owned(), group: def.group.to_owned(), kind: def.plural.to_owned() }
}

pub fn not_found(def: &ResourceDef, name: &str) -> ApiError {
    ApiError::not_found(&def.group_resource(), name, subject(def, name))
}

/// Decode a stored value as `def`'s kind and stamp its `resourceVersion`.
pub fn decode_stored(def: &ResourceDef, kv: &KeyValue) -> ApiResult<Value> {
    let stored: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::Internal(format!("stored object {} is not JSON: {e}", kv.key)))?;
    let mut obj = def.strategy.read_stored(stored);
    object::set_meta(&mut obj, "resourceVersion", Some(Value::String(kv.mod_revision.to_string())));
    Ok(obj)
}

/// Encode an object of `def`'s kind for the store: in its stored form, without
/// `resourceVersion`.
pub fn encode_for_store(def: &ResourceDef, obj: &Value) -> ApiResult<Bytes> {
    let mut obj = def.strategy.to_stored(obj.clone());
    object::set_meta(&mut obj, "resourceVersion", None);
    serde_json::to_vec(&obj).map(Bytes::from).map_err(|e| ApiError::Internal(e.to_string()))
}
