//! The per-resource strategy (upstream's `rest.RESTCreateStrategy` and friends), and the
//! adapter that lets a resource write it against its typed k8s-openapi struct.
//!
//! The generic store calls, for a create: [`Strategy::decode`] → [`Strategy::prepare_for_create`]
//! → [`Strategy::default`] → [`Strategy::validate`]; for an update the same with the
//! `_update` variants and the old object. Status and generation bookkeeping common to
//! every kind is done by the store itself, from [`crate::ResourceDef`]'s subresources and
//! [`Strategy::tracks_generation`].

use crate::{Cell, Column, FieldError};
use k8s_openapi::Metadata as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A request body decoded into a kind's canonical JSON.
#[derive(Debug)]
pub struct Decoded {
    pub object: Value,
    /// Paths of fields the kind does not have (`spec.foo`), dropped from `object`;
    /// reported as warnings or errors according to `fieldValidation`.
    pub unknown_fields: Vec<String>,
}

/// Per-resource behaviour over JSON objects. Implemented for every kind by [`Typed`].
pub trait Strategy: Send + Sync {
    /// Decode into canonical JSON: fields the type lacks are dropped and reported, a
    /// value of the wrong type is an error (upstream's decoding message).
    fn decode(&self, obj: Value) -> Result<Decoded, String>;
    /// Fill defaults, as upstream's `SetDefaults_*` functions do.
    fn default(&self, obj: &mut Value);
    /// Upstream's PrepareForCreate beyond the store's generic part (initial status, ...).
    fn prepare_for_create(&self, obj: &mut Value);
    /// Upstream's PrepareForUpdate beyond the store's generic part.
    fn prepare_for_update(&self, new: &mut Value, old: &Value);
    fn validate(&self, obj: &Value) -> Vec<FieldError>;
    /// Validation of an update; defaults to [`Strategy::validate`] of the new object.
    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError>;
    /// Table columns, Name first.
    fn columns(&self) -> Vec<Column>;
    /// One cell per column of [`Strategy::columns`].
    fn cells(&self, obj: &Value) -> Vec<Cell>;
    /// Field-selector attributes beyond `metadata.name` and `metadata.namespace`
    /// (e.g. pods' `spec.nodeName`), with the object's values.
    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)>;
    /// The attribute names [`Strategy::selectable_fields`] returns.
    fn field_selectors(&self) -> &'static [&'static str];
    /// Whether `metadata.generation` is kept (set to 1 on create, bumped on spec change).
    fn tracks_generation(&self) -> bool;
    /// Seconds a delete waits for the object's owner to finish it (upstream's
    /// `CheckGracefulDelete`: a running pod's kubelet), given the client's request; 0
    /// removes it at once.
    fn graceful_delete_period(&self, obj: &Value, requested: Option<i64>) -> i64;
    /// Whether kind-specific finalization keeps a deleted object (a Namespace until its
    /// `spec.finalizers` are done), besides `metadata.finalizers`.
    fn blocks_deletion(&self, obj: &Value) -> bool;
    /// What marking the object for deletion sets besides `deletionTimestamp` (a
    /// Namespace's `Terminating` phase).
    fn begin_deletion(&self, obj: &mut Value);
    /// The resource (group, plural) whose storage this kind shares, if not its own:
    /// upstream keeps one copy of an object served in two groups (events.k8s.io Events
    /// are core Events) and converts.
    fn stored_as(&self) -> Option<(&'static str, &'static str)>;
    /// This kind's form → the stored form (identity unless [`Strategy::stored_as`]).
    fn to_stored(&self, obj: Value) -> Value;
    /// The stored form → this kind's form.
    fn read_stored(&self, stored: Value) -> Value;
    /// A warning every request on this resource gets (upstream's deprecation notices).
    fn deprecation(&self) -> Option<&'static str>;
}

/// A strategy written against the kind's typed struct. Every method has a default, so a
/// plain kind (a ConfigMap) is a few lines.
pub trait TypedStrategy: Send + Sync + 'static {
    type Object: DeserializeOwned
        + Serialize
        + schemars::JsonSchema
        + k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>;

    /// See [`Strategy::tracks_generation`].
    const GENERATION: bool = false;
    /// Extra field-selector attribute names this kind supports (see [`TypedStrategy::selectable_fields`]).
    const FIELD_SELECTORS: &'static [&'static str] = &[];

    fn default(&self, _obj: &mut Self::Object) {}
    fn prepare_for_create(&self, _obj: &mut Self::Object) {}
    fn prepare_for_update(&self, _new: &mut Self::Object, _old: &Self::Object) {}
    fn validate(&self, _obj: &Self::Object) -> Vec<FieldError> {
        Vec::new()
    }
    fn validate_update(&self, new: &Self::Object, _old: &Self::Object) -> Vec<FieldError> {
        self.validate(new)
    }
    /// The whole column list, Name first; the default is Name and Age.
    fn columns(&self) -> Vec<Column> {
        vec![Column::NAME, Column::AGE]
    }
    fn cells(&self, obj: &Self::Object) -> Vec<Cell> {
        vec![crate::table::name(obj.metadata()), crate::table::age(obj.metadata())]
    }
    fn selectable_fields(&self, _obj: &Self::Object) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// See [`Strategy::graceful_delete_period`]; most kinds go at once.
    fn graceful_delete_period(&self, _obj: &Self::Object, _requested: Option<i64>) -> i64 {
        0
    }
    /// See [`Strategy::blocks_deletion`].
    fn blocks_deletion(&self, _obj: &Self::Object) -> bool {
        false
    }
    /// See [`Strategy::begin_deletion`].
    fn begin_deletion(&self, _obj: &mut Self::Object) {}
    /// See [`Strategy::stored_as`].
    const STORED_AS: Option<(&'static str, &'static str)> = None;
    /// See [`Strategy::deprecation`].
    const DEPRECATION: Option<&'static str> = None;
    /// See [`Strategy::to_stored`].
    fn to_stored(&self, obj: Value) -> Value {
        obj
    }
    /// See [`Strategy::read_stored`].
    fn read_stored(&self, stored: Value) -> Value {
        stored
    }
}

/// Adapts a [`TypedStrategy`] to [`Strategy`]. Constructible in a `static`.
pub struct Typed<S>(pub S);

impl<S: TypedStrategy> Typed<S> {
    /// The JSON upstream would write for `obj`: see [`crate::omit_empty`].
    fn canonical(mut obj: Value) -> Value {
        crate::omit_empty::drop_empty_collections(&mut obj, &<S::Object as schemars::JsonSchema>::schema_name());
        obj
    }

    fn typed(obj: &Value) -> Option<S::Object> {
        serde_json::from_value(obj.clone()).ok()
    }

    /// Apply `f` to the typed form of `obj` and write the result back. Objects reach the
    /// strategy only after [`Strategy::decode`], so the conversion cannot fail in practice;
    /// if it ever did, the object is left as it was.
    fn edit(obj: &mut Value, f: impl FnOnce(&mut S::Object)) {
        if let Some(mut typed) = Self::typed(obj) {
            f(&mut typed);
            if let Ok(v) = serde_json::to_value(&typed) {
                *obj = with_type_meta(Self::canonical(v), obj);
            }
        }
    }
}

/// Keep `apiVersion` and `kind` of `old` on `new` (typed structs re-add their own, which
/// are the same; this keeps key order stable).
fn with_type_meta(mut new: Value, old: &Value) -> Value {
    if let (Some(n), Some(o)) = (new.as_object_mut(), old.as_object()) {
        for key in ["apiVersion", "kind"] {
            if let Some(v) = o.get(key) {
                n.insert(key.to_owned(), v.clone());
            }
        }
    }
    new
}

impl<S: TypedStrategy> Strategy for Typed<S> {
    fn decode(&self, obj: Value) -> Result<Decoded, String> {
        let mut unknown_fields = Vec::new();
        let typed: S::Object = serde_ignored::deserialize(obj, |path| {
            unknown_fields.push(field_path(&path));
        })
        .map_err(|e| e.to_string())?;
        let object = Self::canonical(serde_json::to_value(&typed).map_err(|e| e.to_string())?);
        Ok(Decoded { object, unknown_fields })
    }

    fn default(&self, obj: &mut Value) {
        Self::edit(obj, |o| self.0.default(o));
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        Self::edit(obj, |o| self.0.prepare_for_create(o));
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        if let Some(old) = Self::typed(old) {
            Self::edit(new, |n| self.0.prepare_for_update(n, &old));
        }
    }

    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        Self::typed(obj).map(|o| self.0.validate(&o)).unwrap_or_default()
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        match (Self::typed(new), Self::typed(old)) {
            (Some(n), Some(o)) => self.0.validate_update(&n, &o),
            _ => Vec::new(),
        }
    }

    fn columns(&self) -> Vec<Column> {
        self.0.columns()
    }

    fn cells(&self, obj: &Value) -> Vec<Cell> {
        match Self::typed(obj) {
            Some(o) => self.0.cells(&o),
            None => Vec::new(),
        }
    }

    fn selectable_fields(&self, obj: &Value) -> Vec<(&'static str, String)> {
        Self::typed(obj).map(|o| self.0.selectable_fields(&o)).unwrap_or_default()
    }

    fn field_selectors(&self) -> &'static [&'static str] {
        S::FIELD_SELECTORS
    }

    fn tracks_generation(&self) -> bool {
        S::GENERATION
    }

    fn graceful_delete_period(&self, obj: &Value, requested: Option<i64>) -> i64 {
        Self::typed(obj).map_or(0, |o| self.0.graceful_delete_period(&o, requested))
    }

    fn blocks_deletion(&self, obj: &Value) -> bool {
        Self::typed(obj).is_some_and(|o| self.0.blocks_deletion(&o))
    }

    fn begin_deletion(&self, obj: &mut Value) {
        Self::edit(obj, |o| self.0.begin_deletion(o));
    }

    fn stored_as(&self) -> Option<(&'static str, &'static str)> {
        S::STORED_AS
    }

    fn to_stored(&self, obj: Value) -> Value {
        self.0.to_stored(obj)
    }

    fn read_stored(&self, stored: Value) -> Value {
        self.0.read_stored(stored)
    }

    fn deprecation(&self) -> Option<&'static str> {
        S::DEPRECATION
    }
}

/// A path as upstream's strict decoder prints it: `spec.containers[0].foo`.
fn field_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", field_path(parent)),
        Path::Map { parent, key } => {
            let parent = field_path(parent);
            if parent.is_empty() { key.clone() } else { format!("{parent}.{key}") }
        }
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => field_path(parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Plain;
    impl TypedStrategy for Plain {
        type Object = k8s_openapi::api::apps::v1::Deployment;
    }

    #[test]
    fn decode_reports_unknown_fields_with_upstream_paths() {
        let obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "bogus": 1},
            "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "a", "imagee": "nginx"}]}}}
        });
        let d = Typed(Plain).decode(obj).unwrap();
        assert_eq!(d.unknown_fields, vec!["metadata.bogus", "spec.template.spec.containers[0].imagee"]);
        assert!(d.object.pointer("/spec/template/spec/containers/0/imagee").is_none());
    }

    #[test]
    fn decode_omits_emptied_collections_as_go_does() {
        let obj = json!({"metadata": {"name": "x", "annotations": {}}, "spec": {"selector": {},
            "template": {"spec": {"containers": [{"name": "a", "env": []}]}}}});
        let d = Typed(Plain).decode(obj).unwrap();
        assert!(d.object["metadata"].get("annotations").is_none());
        assert!(d.object.pointer("/spec/template/spec/containers/0/env").is_none());
    }

    #[test]
    fn decode_rejects_wrong_types() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "two"}});
        assert!(Typed(Plain).decode(obj).is_err());
    }
}
