//! The type graph of the served kinds: OpenAPI v3 component schemas generated from
//! k8s-openapi's `schemars` impls, keyed by definition name (`io.k8s.api.apps.v1.Deployment`).
//!
//! What strategic merge patch and server-side apply navigate by, and what the OpenAPI
//! documents publish. Built once, on first use: generating the whole graph takes tens of
//! milliseconds and some megabytes, which an idle server should not pay at startup.
//!
//! The shapes follow upstream's published v3 schemas: references carrying a description are
//! wrapped as `allOf: [{$ref}]` (OpenAPI 3.0 ignores siblings of `$ref`), `IntOrString` and
//! `Quantity` are `oneOf` their wire types, every kind and list carries
//! `x-kubernetes-group-version-kind`, and list kinds (generic in k8s-openapi) are spelled out.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::{
    apps, authentication, authorization, autoscaling, batch, coordination, core, discovery, events, networking, policy,
    rbac, scheduling, storage,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::{ListableResource, Resource};
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// Prefix of every `$ref` in [`definitions()`].
pub const REF_PREFIX: &str = "#/components/schemas/";

/// Every schema reachable from the served kinds, by definition name; built on first call.
pub fn definitions() -> &'static Map<String, Value> {
    static DEFINITIONS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFINITIONS.get_or_init(build)
}

/// The definition a schema refers to, if it is a `$ref` (bare or wrapped in a one-element `allOf`).
pub fn referenced_definition(schema: &Value) -> Option<&str> {
    let reference = match schema.get("allOf").and_then(Value::as_array) {
        Some(all_of) if all_of.len() == 1 => all_of[0].get("$ref"),
        _ => schema.get("$ref"),
    };
    reference?.as_str()?.strip_prefix(REF_PREFIX)
}

/// A group, version and kind, as the `x-kubernetes-group-version-kind` extension spells it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Gvk {
    group: &'static str,
    version: &'static str,
    kind: String,
}

impl Gvk {
    fn to_json(&self) -> Value {
        json!({"group": self.group, "kind": self.kind, "version": self.version})
    }
}

/// Collects the generated schemas and which definition is which kind.
struct Collector {
    generator: SchemaGenerator,
    kinds: Vec<(String, Gvk)>,
    lists: Vec<(String, String)>,
}

impl Collector {
    fn definition_name<T: JsonSchema>(&mut self) -> String {
        self.generator.subschema_for::<T>();
        T::schema_name().into_owned()
    }

    /// A kind that is not listed (reviews, subresource bodies).
    fn kind<T: JsonSchema + Resource>(&mut self) {
        let name = self.definition_name::<T>();
        self.kinds.push((name, Gvk { group: T::GROUP, version: T::VERSION, kind: T::KIND.to_owned() }));
    }

    /// A kind and its list kind.
    fn listed<T: JsonSchema + ListableResource>(&mut self) {
        self.kind::<T>();
        let item = T::schema_name().into_owned();
        let list = format!("{}List", item);
        self.kinds.push((list.clone(), Gvk { group: T::GROUP, version: T::VERSION, kind: T::LIST_KIND.to_owned() }));
        self.lists.push((list, item));
    }

    /// A meta/v1 type that carries no group-version-kind of its own.
    fn plain<T: JsonSchema>(&mut self) {
        self.definition_name::<T>();
    }
}

/// Invokes a [`Collector`] method for each type of a list.
macro_rules! collect {
    ($collector:ident; $($method:ident: [$($ty:ty),+ $(,)?];)+) => {
        $($($collector.$method::<$ty>();)+)+
    };
}

fn build() -> Map<String, Value> {
    let generator = SchemaSettings::openapi3().into_generator();
    let mut c = Collector { generator, kinds: Vec::new(), lists: Vec::new() };
    collect! { c;
        listed: [
            core::v1::Pod, core::v1::PodTemplate, core::v1::ReplicationController, core::v1::Service,
            core::v1::Endpoints, core::v1::Namespace, core::v1::Node, core::v1::ConfigMap, core::v1::Secret,
            core::v1::ServiceAccount, core::v1::PersistentVolume, core::v1::PersistentVolumeClaim, core::v1::Event,
            core::v1::LimitRange, core::v1::ResourceQuota,
            apps::v1::Deployment, apps::v1::ReplicaSet, apps::v1::StatefulSet, apps::v1::DaemonSet,
            apps::v1::ControllerRevision,
            batch::v1::Job, batch::v1::CronJob,
            autoscaling::v2::HorizontalPodAutoscaler,
            networking::v1::Ingress, networking::v1::IngressClass, networking::v1::NetworkPolicy,
            rbac::v1::Role, rbac::v1::RoleBinding, rbac::v1::ClusterRole, rbac::v1::ClusterRoleBinding,
            storage::v1::StorageClass, storage::v1::VolumeAttachment, storage::v1::CSIDriver, storage::v1::CSINode,
            discovery::v1::EndpointSlice,
            coordination::v1::Lease,
            events::v1::Event,
            policy::v1::PodDisruptionBudget,
            scheduling::v1::PriorityClass,
        ];
        kind: [
            core::v1::Binding, autoscaling::v1::Scale, policy::v1::Eviction,
            authentication::v1::TokenRequest, authentication::v1::TokenReview, authentication::v1::SelfSubjectReview,
            authorization::v1::SelfSubjectAccessReview, authorization::v1::SubjectAccessReview,
            authorization::v1::SelfSubjectRulesReview, authorization::v1::LocalSubjectAccessReview,
            meta::Status, meta::APIResourceList,
        ];
        plain: [meta::DeleteOptions, meta::WatchEvent<Pod>, meta::Patch];
    }
    let Collector { mut generator, kinds, lists } = c;
    let mut defs = generator.take_definitions(true);

    for (list, item) in &lists {
        defs.insert(list.clone(), list_schema(item));
    }
    for (name, gvk) in &kinds {
        set_gvks(&mut defs, name, std::slice::from_ref(gvk));
        if name != CORE_EVENT {
            make_metadata_optional(&mut defs, name);
        }
    }
    // Options and events are decoded in every group-version the server serves.
    let group_versions: BTreeSet<_> = kinds.iter().map(|(_, g)| (g.group, g.version)).collect();
    for kind in ["DeleteOptions", "WatchEvent"] {
        let gvks: Vec<_> =
            group_versions.iter().map(|&(group, version)| Gvk { group, version, kind: kind.to_owned() }).collect();
        set_gvks(&mut defs, &format!("io.k8s.apimachinery.pkg.apis.meta.v1.{kind}"), &gvks);
    }
    set_one_of(&mut defs, "io.k8s.apimachinery.pkg.util.intstr.IntOrString", &["integer", "string"]);
    set_one_of(&mut defs, "io.k8s.apimachinery.pkg.api.resource.Quantity", &["string", "number"]);
    defs.sort_keys();
    defs
}

/// The one kind whose Go type has a non-optional `metadata`, so upstream lists it as required.
const CORE_EVENT: &str = "io.k8s.api.core.v1.Event";

/// k8s-openapi types `metadata` as non-optional on every kind, so its schemas list it as
/// required; upstream's (and `kubectl explain`'s `-required-` marker) do not.
fn make_metadata_optional(defs: &mut Map<String, Value>, name: &str) {
    let Some(Value::Object(schema)) = defs.get_mut(name) else { return };
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        required.retain(|field| field != "metadata");
        if required.is_empty() {
            schema.remove("required");
        }
    }
}

fn set_gvks(defs: &mut Map<String, Value>, name: &str, gvks: &[Gvk]) {
    if let Some(Value::Object(schema)) = defs.get_mut(name) {
        schema.insert("x-kubernetes-group-version-kind".into(), gvks.iter().map(Gvk::to_json).collect());
    }
}

/// Upstream publishes the types that accept several JSON types as `oneOf` those types
/// (kube-openapi's `OpenAPIV3OneOfTypes`); `IntOrString` also keeps its format.
fn set_one_of(defs: &mut Map<String, Value>, name: &str, types: &[&str]) {
    if let Some(Value::Object(schema)) = defs.get_mut(name) {
        schema.remove("x-kubernetes-int-or-string");
        if name.ends_with("IntOrString") {
            schema.insert("format".into(), "int-or-string".into());
        }
        schema.insert("oneOf".into(), types.iter().map(|t| json!({"type": t})).collect());
    }
}

/// The schema of `<Kind>List`: kind, apiVersion, list metadata and the items.
fn list_schema(item: &str) -> Value {
    let kind = item.rsplit('.').next().unwrap_or(item);
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
                "type": "string",
            },
            "items": {
                "description": format!("items is the list of {kind} objects."),
                "type": "array",
                "items": {"$ref": format!("{REF_PREFIX}{item}")},
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "type": "string",
            },
            "metadata": {
                "allOf": [{"$ref": format!("{REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")}],
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
            },
        },
        "required": ["items"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str) -> &'static Value {
        definitions().get(name).unwrap_or_else(|| panic!("missing definition {name}"))
    }

    fn property<'a>(schema: &'a Value, field: &str) -> &'a Value {
        &schema["properties"][field]
    }

    #[test]
    fn deployment_reaches_containers_through_refs() {
        let deployment = def("io.k8s.api.apps.v1.Deployment");
        assert_eq!(
            deployment["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        let spec = def(referenced_definition(property(deployment, "spec")).unwrap());
        let template = def(referenced_definition(property(spec, "template")).unwrap());
        let pod_spec = def(referenced_definition(property(template, "spec")).unwrap());
        let containers = property(pod_spec, "containers");
        assert_eq!(containers["type"], "array");
        assert_eq!(referenced_definition(&containers["items"]), Some("io.k8s.api.core.v1.Container"));
    }

    #[test]
    fn described_refs_are_wrapped_in_all_of() {
        let metadata = property(def("io.k8s.api.core.v1.Pod"), "metadata");
        assert!(metadata.get("$ref").is_none());
        assert_eq!(
            metadata["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert!(metadata["description"].as_str().is_some());
    }

    #[test]
    fn every_ref_resolves() {
        fn walk(value: &Value, defs: &Map<String, Value>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        let name = r.strip_prefix(REF_PREFIX).expect("components ref");
                        assert!(defs.contains_key(name), "dangling ref {r}");
                    }
                    map.values().for_each(|v| walk(v, defs));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, defs)),
                _ => {}
            }
        }
        let defs = definitions();
        defs.values().for_each(|schema| walk(schema, defs));
    }

    #[test]
    fn lists_and_special_types() {
        let list = def("io.k8s.api.core.v1.PodList");
        assert_eq!(list["x-kubernetes-group-version-kind"][0]["kind"], "PodList");
        assert_eq!(referenced_definition(&list["properties"]["items"]["items"]), Some("io.k8s.api.core.v1.Pod"));
        let int_or_string = def("io.k8s.apimachinery.pkg.util.intstr.IntOrString");
        assert_eq!(int_or_string["format"], "int-or-string");
        assert_eq!(int_or_string["oneOf"], json!([{"type": "integer"}, {"type": "string"}]));
        let delete_options = def("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions");
        let gvks = delete_options["x-kubernetes-group-version-kind"].as_array().unwrap();
        assert!(gvks.contains(&json!({"group": "apps", "kind": "DeleteOptions", "version": "v1"})));
        assert_eq!(def("io.k8s.api.events.v1.Event")["x-kubernetes-group-version-kind"][0]["group"], "events.k8s.io");
    }

    #[test]
    fn metadata_is_required_only_where_upstream_requires_it() {
        assert!(def("io.k8s.api.core.v1.Pod").get("required").is_none());
        assert_eq!(def("io.k8s.api.core.v1.Binding")["required"], json!(["target"]));
        assert_eq!(def(CORE_EVENT)["required"], json!(["involvedObject", "metadata"]));
        assert!(def("io.k8s.apimachinery.pkg.apis.meta.v1.Status").get("required").is_none());
    }

    #[test]
    fn served_kinds_have_definitions() {
        for resource in crate::registry() {
            assert!(definitions().contains_key(resource.definition), "{} has no schema", resource.definition);
        }
    }
}
