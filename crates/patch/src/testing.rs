//! A small hand-written schema of Deployments and Pods for the tests.

use crate::{Field, ListType, Schema, Shape};

pub struct TestSchema;

pub fn deployment() -> Shape {
    Shape::Struct("Deployment".to_owned())
}

pub fn pod() -> Shape {
    Shape::Struct("Pod".to_owned())
}

fn object(name: &str) -> Shape {
    Shape::Struct(name.to_owned())
}

fn keyed(element: &str, keys: &[&str]) -> Shape {
    Shape::List(Box::new(object(element)), ListType::Map(keys.iter().map(|k| (*k).to_owned()).collect()))
}

fn strings(list_type: ListType) -> Shape {
    Shape::List(Box::new(Shape::Scalar), list_type)
}

fn string_map() -> Shape {
    Shape::Map(Box::new(Shape::Scalar))
}

impl Schema for TestSchema {
    fn field(&self, type_name: &str, field: &str) -> Option<Field> {
        let shape = match (type_name, field) {
            ("Deployment" | "Pod" | "PodTemplateSpec", "metadata") => object("ObjectMeta"),
            ("Deployment", "spec") => object("DeploymentSpec"),
            ("Deployment", "status") => object("DeploymentStatus"),
            ("Pod", "spec") | ("PodTemplateSpec", "spec") => object("PodSpec"),
            ("ObjectMeta", "labels" | "annotations") => string_map(),
            ("ObjectMeta", "finalizers") => strings(ListType::Set),
            ("ObjectMeta", "ownerReferences") => keyed("OwnerReference", &["uid"]),
            ("ObjectMeta", "managedFields") => Shape::List(Box::new(Shape::Untyped), ListType::Atomic),
            ("ObjectMeta", _) => Shape::Scalar,
            ("DeploymentSpec", "template") => object("PodTemplateSpec"),
            ("DeploymentSpec", "selector") => object("LabelSelector"),
            ("DeploymentSpec", "strategy") => {
                return Some(Field { shape: object("DeploymentStrategy"), retain_keys: true });
            }
            ("DeploymentSpec", _) => Shape::Scalar,
            ("DeploymentStrategy", "rollingUpdate") => object("RollingUpdateDeployment"),
            ("LabelSelector", "matchLabels") => string_map(),
            ("PodSpec", "containers" | "initContainers") => keyed("Container", &["name"]),
            ("PodSpec", "volumes") => {
                return Some(Field { shape: keyed("Volume", &["name"]), retain_keys: true });
            }
            ("PodSpec", "tolerations") => Shape::List(Box::new(object("Toleration")), ListType::Atomic),
            ("PodSpec", "nodeSelector") => string_map(),
            ("Container", "env") => keyed("EnvVar", &["name"]),
            ("Container", "ports") => keyed("ContainerPort", &["containerPort"]),
            ("Container", "args" | "command") => strings(ListType::Atomic),
            ("Container", "resources") => object("ResourceRequirements"),
            ("ResourceRequirements", "limits" | "requests") => string_map(),
            ("DeploymentStatus", "conditions") => keyed("Condition", &["type"]),
            ("Volume", "configMap") => object("ConfigMapVolumeSource"),
            ("Volume", "emptyDir") => object("EmptyDirVolumeSource"),
            ("RollingUpdateDeployment" | "EnvVar" | "ContainerPort" | "Condition" | "OwnerReference", _) => {
                Shape::Scalar
            }
            ("Container" | "Toleration" | "DeploymentStrategy" | "DeploymentStatus" | "ConfigMapVolumeSource", _) => {
                Shape::Scalar
            }
            _ => return None,
        };
        Some(Field { shape, retain_keys: false })
    }

    fn is_atomic_struct(&self, type_name: &str) -> bool {
        type_name == "LabelSelector"
    }
}
