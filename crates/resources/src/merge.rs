//! How built-in fields merge: the `patchStrategy`/`patchMergeKey` tags of k8s.io/api as a
//! table ([`merge_strategy`]), and [`ResourceSchema`], the [`patch::Schema`] that
//! strategic merge patch and server-side apply navigate objects by: the type graph of
//! [`crate::schema::definitions()`] with this table's list types.
//!
//! Fields the table does not name are atomic lists (replaced as a whole); maps merge key
//! by key. The table also feeds the `x-kubernetes-patch-strategy` and
//! `x-kubernetes-patch-merge-key` extensions of the published OpenAPI.

use patch::{Field, ListType, Schema, Shape};
use serde_json::{Map, Value};

use crate::schema::referenced_definition;

/// The merge strategy of one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergeStrategy {
    /// `x-kubernetes-patch-strategy`: `merge`, `retainKeys`, `merge,retainKeys` or `replace`.
    pub patch_strategy: &'static str,
    /// `x-kubernetes-patch-merge-key`: the key of a list of objects merged element-wise.
    pub merge_key: Option<&'static str>,
}

impl MergeStrategy {
    /// Lists merge element by element (by key, or as a set of primitives).
    pub fn merges(&self) -> bool {
        self.patch_strategy.split(',').any(|s| s == "merge")
    }

    /// The field follows the `$retainKeys` directive.
    pub fn retain_keys(&self) -> bool {
        self.patch_strategy.split(',').any(|s| s == "retainKeys")
    }

    /// How a list field with this strategy merges.
    pub fn list_type(&self) -> ListType {
        match (self.merges(), self.merge_key) {
            (true, Some(key)) => ListType::Map(vec![key.to_owned()]),
            (true, None) => ListType::Set,
            (false, _) => ListType::Atomic,
        }
    }
}

/// (definition, field, patch strategy, merge key), from reference/strategic-merge-keys.md.
const STRATEGIES: &[(&str, &str, &str, Option<&str>)] = &[
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", "merge", Some("uid")),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", "merge", None),
    ("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", "retainKeys", None),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.batch.v1.JobSchedulingConfiguration", "resourceClaims", "merge", Some("name")),
    ("io.k8s.api.batch.v1.JobStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.VolumeHealthStatus", "healthConditions", "merge", Some("status")),
    ("io.k8s.api.core.v1.PodVolumeHealth", "healthConditions", "merge", Some("status")),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.Container", "ports", "merge", Some("containerPort")),
    ("io.k8s.api.core.v1.Container", "env", "merge", Some("name")),
    ("io.k8s.api.core.v1.Container", "volumeMounts", "merge", Some("mountPath")),
    ("io.k8s.api.core.v1.Container", "volumeDevices", "merge", Some("devicePath")),
    ("io.k8s.api.core.v1.ContainerStatus", "volumeMounts", "merge", Some("mountPath")),
    ("io.k8s.api.core.v1.ContainerStatus", "allocatedResourcesStatus", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "volumes", "merge,retainKeys", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "containers", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", "merge", Some("ip")),
    ("io.k8s.api.core.v1.PodSpec", "topologySpreadConstraints", "merge", Some("topologyKey")),
    ("io.k8s.api.core.v1.PodSpec", "schedulingGates", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "resourceClaims", "merge,retainKeys", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "evictionResponders", "merge", Some("name")),
    // EphemeralContainerCommon is inlined into EphemeralContainer.
    ("io.k8s.api.core.v1.EphemeralContainer", "ports", "merge", Some("containerPort")),
    ("io.k8s.api.core.v1.EphemeralContainer", "env", "merge", Some("name")),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeMounts", "merge", Some("mountPath")),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeDevices", "merge", Some("devicePath")),
    ("io.k8s.api.core.v1.PodStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.PodStatus", "hostIPs", "merge", Some("ip")),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", "merge", Some("ip")),
    ("io.k8s.api.core.v1.PodStatus", "resourceClaimStatuses", "merge,retainKeys", Some("name")),
    ("io.k8s.api.core.v1.PodStatus", "nodeAllocatableResourceClaimStatuses", "merge", Some("resourceClaimName")),
    ("io.k8s.api.core.v1.ReplicationControllerStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.ServiceStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", "merge", Some("port")),
    ("io.k8s.api.core.v1.ServiceAccount", "secrets", "merge", Some("name")),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", "merge", None),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", "merge", Some("type")),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.ComponentStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.NodeAllocatableResourceClaimStatus", "mapping", "merge", Some("name")),
    ("io.k8s.api.core.v1.NodeAllocatableResourceClaimStatus", "overhead", "merge", Some("name")),
    ("io.k8s.api.networking.v1.ServiceCIDRStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", "selector", "replace", None),
    ("io.k8s.api.policy.v1.PodDisruptionBudgetStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.storage.v1.CSINodeSpec", "drivers", "merge", Some("name")),
    ("io.k8s.api.storage.v1.CSINodeStatus", "storageHealth", "merge", Some("name")),
];

/// The merge strategy of `field` of the OpenAPI definition `definition`
/// (`("io.k8s.api.core.v1.PodSpec", "containers")`), if it has one.
pub fn merge_strategy(definition: &str, field: &str) -> Option<MergeStrategy> {
    STRATEGIES
        .iter()
        .find(|(d, f, _, _)| *d == definition && *f == field)
        .map(|(_, _, patch_strategy, merge_key)| MergeStrategy { patch_strategy, merge_key: *merge_key })
}

/// Types serialised as one JSON scalar.
const SCALAR_TYPES: &[&str] = &[
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
];

/// Free-form JSON.
const UNTYPED_TYPES: &[&str] = &[
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
];

/// Structs owned and replaced as a whole by server-side apply (`+structType=atomic`).
const ATOMIC_STRUCTS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.TopologySelectorTerm",
];

/// The [`Schema`] of the served kinds: start from `Shape::Struct(definition)` of a
/// kind ([`ResourceSchema::root`]).
pub struct ResourceSchema<'d> {
    definitions: &'d Map<String, Value>,
}

impl ResourceSchema<'static> {
    /// The schema of every served type ([`crate::schema::definitions()`]).
    pub fn served() -> Self {
        ResourceSchema { definitions: crate::schema::definitions() }
    }
}

impl<'d> ResourceSchema<'d> {
    /// A schema over these OpenAPI v3 component schemas.
    pub fn new(definitions: &'d Map<String, Value>) -> Self {
        ResourceSchema { definitions }
    }

    /// The shape of a whole object of the definition `definition`
    /// (`io.k8s.api.apps.v1.Deployment`, as in `ResourceDef::definition`).
    pub fn root(definition: &str) -> Shape {
        Shape::Struct(definition.to_owned())
    }

    /// The shape a property schema describes; `strategy` decides a list's type.
    fn shape(&self, schema: &Value, strategy: Option<MergeStrategy>) -> Shape {
        if let Some(name) = referenced_definition(schema) {
            return self.named_shape(name);
        }
        if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
            return Shape::Untyped;
        }
        match json_type(schema) {
            Some("array") => {
                let items = schema.get("items").map(|items| self.shape(items, None)).unwrap_or(Shape::Untyped);
                let list_type = strategy.map(|s| s.list_type()).unwrap_or(ListType::Atomic);
                Shape::List(Box::new(items), list_type)
            }
            Some("object") => match schema.get("additionalProperties") {
                Some(values) if values.is_object() => Shape::Map(Box::new(self.shape(values, None))),
                _ => Shape::Untyped,
            },
            Some(_) => Shape::Scalar,
            None if schema.get("oneOf").is_some() || schema.get("anyOf").is_some() => Shape::Scalar,
            None => Shape::Untyped,
        }
    }

    fn named_shape(&self, name: &str) -> Shape {
        if SCALAR_TYPES.contains(&name) {
            return Shape::Scalar;
        }
        if UNTYPED_TYPES.contains(&name) {
            return Shape::Untyped;
        }
        let Some(definition) = self.definitions.get(name) else { return Shape::Untyped };
        if definition.get("properties").is_some() {
            return Shape::Struct(name.to_owned());
        }
        self.shape(definition, None)
    }
}

/// A schema's `type`, ignoring `null` in a list of types.
fn json_type(schema: &Value) -> Option<&str> {
    match schema.get("type")? {
        Value::String(t) => Some(t),
        Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

impl Schema for ResourceSchema<'_> {
    fn field(&self, type_name: &str, field: &str) -> Option<Field> {
        let property = self.definitions.get(type_name)?.get("properties")?.get(field)?;
        let strategy = merge_strategy(type_name, field);
        Some(Field { shape: self.shape(property, strategy), retain_keys: strategy.is_some_and(|s| s.retain_keys()) })
    }

    fn is_atomic_struct(&self, type_name: &str) -> bool {
        ATOMIC_STRUCTS.contains(&type_name)
    }
}

#[cfg(test)]
mod tests;
