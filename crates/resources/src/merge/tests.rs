use patch::{ListType, Schema, Shape};
use serde_json::{Map, Value, json};

use super::{ResourceSchema, merge_strategy};

fn pod_spec(shape: &Shape) -> &str {
    match shape {
        Shape::Struct(name) => name,
        other => panic!("not a struct: {other:?}"),
    }
}

/// A few definitions shaped like the generated ones.
fn hand_written() -> Map<String, Value> {
    let r = |name: &str| json!({"allOf": [{"$ref": format!("#/components/schemas/{name}")}], "description": "d"});
    let defs = json!({
        "io.k8s.api.core.v1.PodSpec": {"type": "object", "properties": {
            "containers": {"type": "array", "items": r("io.k8s.api.core.v1.Container")},
            "tolerations": {"type": "array", "items": r("io.k8s.api.core.v1.Toleration")},
            "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
            "overhead": {"type": "object", "additionalProperties": r("io.k8s.apimachinery.pkg.api.resource.Quantity")}
        }},
        "io.k8s.api.core.v1.Container": {"type": "object", "properties": {
            "name": {"type": "string"},
            "args": {"type": "array", "items": {"type": "string"}}
        }},
        "io.k8s.api.core.v1.Toleration": {"type": "object", "properties": {"key": {"type": "string"}}},
        "io.k8s.apimachinery.pkg.api.resource.Quantity": {"oneOf": [{"type": "string"}, {"type": "number"}]}
    });
    defs.as_object().unwrap().clone()
}

#[test]
fn table_lookups() {
    let containers = merge_strategy("io.k8s.api.core.v1.PodSpec", "containers").unwrap();
    assert_eq!(containers.list_type(), ListType::Map(vec!["name".into()]));
    let finalizers = merge_strategy("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers").unwrap();
    assert_eq!(finalizers.list_type(), ListType::Set);
    let owners = merge_strategy("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences").unwrap();
    assert_eq!(owners.merge_key, Some("uid"));
    let volumes = merge_strategy("io.k8s.api.core.v1.PodSpec", "volumes").unwrap();
    assert!(volumes.retain_keys() && volumes.merges());
    assert!(merge_strategy("io.k8s.api.apps.v1.DeploymentSpec", "strategy").unwrap().retain_keys());
    assert_eq!(merge_strategy("io.k8s.api.core.v1.PodSpec", "tolerations"), None);
}

#[test]
fn shapes_from_hand_written_definitions() {
    let defs = hand_written();
    let schema = ResourceSchema::new(&defs);
    let containers = schema.field("io.k8s.api.core.v1.PodSpec", "containers").unwrap().shape;
    let Shape::List(element, ListType::Map(keys)) = containers else { panic!("{containers:?}") };
    assert_eq!(keys, ["name"]);
    assert_eq!(pod_spec(&element), "io.k8s.api.core.v1.Container");
    let args = schema.field("io.k8s.api.core.v1.Container", "args").unwrap().shape;
    assert_eq!(args, Shape::List(Box::new(Shape::Scalar), ListType::Atomic));
    let tolerations = schema.field("io.k8s.api.core.v1.PodSpec", "tolerations").unwrap().shape;
    assert!(matches!(tolerations, Shape::List(_, ListType::Atomic)));
    let node_selector = schema.field("io.k8s.api.core.v1.PodSpec", "nodeSelector").unwrap().shape;
    assert_eq!(node_selector, Shape::Map(Box::new(Shape::Scalar)));
    let overhead = schema.field("io.k8s.api.core.v1.PodSpec", "overhead").unwrap().shape;
    assert_eq!(overhead, Shape::Map(Box::new(Shape::Scalar)));
    assert_eq!(schema.field("io.k8s.api.core.v1.PodSpec", "nope"), None);
}

#[test]
fn served_schema_drives_strategic_merge_of_a_deployment() {
    let schema = ResourceSchema::served();
    let root = ResourceSchema::root("io.k8s.api.apps.v1.Deployment");
    let live = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "finalizers": ["a"]},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
            "template": {"spec": {"containers": [
                {"name": "nginx", "image": "nginx:1.24", "resources": {"limits": {"cpu": "1"}},
                 "env": [{"name": "A", "value": "1"}]},
                {"name": "sidecar", "image": "busybox"}
            ]}}
        }
    });
    let set_image = json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"},{"name":"sidecar"}],"containers":[{"image":"nginx:1.25","name":"nginx"}]}}}});
    let result = patch::strategic::apply(&live, &set_image, &schema, &root).unwrap();
    let mut expected = live.clone();
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.25");
    assert_eq!(result, expected);

    let recreate = json!({"metadata": {"finalizers": ["b"]}, "spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"},
        "template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"B","value":"2"}],"resources":{"limits":{"memory":"1Gi"}}}]}}}});
    let result = patch::strategic::apply(&live, &recreate, &schema, &root).unwrap();
    assert_eq!(result["spec"]["strategy"], json!({"type": "Recreate"}));
    // Like upstream, items new to a merged list come before the server-only ones.
    assert_eq!(result["metadata"]["finalizers"], json!(["b", "a"]));
    let nginx = &result["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(nginx["env"], json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]));
    assert_eq!(nginx["resources"]["limits"], json!({"cpu": "1", "memory": "1Gi"}));
}

#[test]
fn served_schema_types_for_server_side_apply() {
    let schema = ResourceSchema::served();
    assert!(schema.is_atomic_struct("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"));
    let spec = schema.field("io.k8s.api.apps.v1.Deployment", "spec").unwrap().shape;
    assert_eq!(spec, Shape::Struct("io.k8s.api.apps.v1.DeploymentSpec".into()));
    let replicas = schema.field("io.k8s.api.apps.v1.DeploymentSpec", "replicas").unwrap().shape;
    assert_eq!(replicas, Shape::Scalar);
    let labels = schema.field("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels").unwrap().shape;
    assert_eq!(labels, Shape::Map(Box::new(Shape::Scalar)));
    let created = schema.field("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "creationTimestamp").unwrap();
    assert_eq!(created.shape, Shape::Scalar);
    let limits = schema.field("io.k8s.api.core.v1.ResourceRequirements", "limits").unwrap().shape;
    assert_eq!(limits, Shape::Map(Box::new(Shape::Scalar)));
    let ports = schema.field("io.k8s.api.core.v1.ServiceSpec", "ports").unwrap().shape;
    assert!(matches!(ports, Shape::List(_, ListType::Map(ref k)) if k == &["port"]));
    let target = schema.field("io.k8s.api.core.v1.ServicePort", "targetPort").unwrap().shape;
    assert_eq!(target, Shape::Scalar);
}
