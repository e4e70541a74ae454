//! DefaultStorageClass: a new claim that names no class gets the cluster's default
//! StorageClass (annotated `storageclass.kubernetes.io/is-default-class: "true"`).

use crate::registry::admission::{Admission, Attributes, Operation};
use crate::registry::{ListOptions, Registry, object};
use crate::status::ApiResult;
use async_trait::async_trait;
use serde_json::{Value, json};

const DEFAULT_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

pub struct DefaultStorageClass;

#[async_trait]
impl Admission for DefaultStorageClass {
    async fn admit(
        &self,
        registry: &Registry,
        attrs: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        let is_claim = attrs.def.group.is_empty() && attrs.def.plural == "persistentvolumeclaims";
        // An explicit class, even "", is the user's choice.
        if attrs.operation != Operation::Create || !is_claim || obj.pointer("/spec/storageClassName").is_some() {
            return Ok(());
        }
        let def = resources::find("storage.k8s.io", "v1", "storageclasses").expect("storageclasses are served");
        let classes = registry.list(def, "", &ListOptions::default()).await?;
        // Several defaults: upstream takes the newest.
        let default = classes
            .items
            .iter()
            .filter(|sc| {
                sc.pointer(&format!("/metadata/annotations/{}", DEFAULT_ANNOTATION.replace('/', "~1")))
                    .and_then(Value::as_str)
                    == Some("true")
            })
            .max_by_key(|sc| object::meta_str(sc, "creationTimestamp").to_owned());
        if let Some(sc) = default {
            obj["spec"]["storageClassName"] = json!(object::name(sc));
        }
        Ok(())
    }
}
