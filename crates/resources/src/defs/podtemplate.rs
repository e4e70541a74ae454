//! core/v1 PodTemplate: a named pod template other objects can refer to.

use super::workload::container_cells;
use crate::defaults::pod::pod_template_spec;
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::pod::validate_pod_template_spec;
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::core::v1::PodTemplate;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "PodTemplate",
    plural: "podtemplates",
    singular: "podtemplate",
    short_names: &[],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.core.v1.PodTemplate",
    strategy: &Typed(PodTemplateStrategy),
};

pub struct PodTemplateStrategy;

fn validate_template(pt: &PodTemplate) -> Vec<FieldError> {
    validate_pod_template_spec(&pt.template.clone().unwrap_or_default(), &FieldPath::new("template"))
}

impl TypedStrategy for PodTemplateStrategy {
    type Object = PodTemplate;

    // Template changes bump the generation.
    const GENERATION: bool = true;

    fn default(&self, pt: &mut PodTemplate) {
        pod_template_spec(pt.template.get_or_insert_with(Default::default));
    }

    fn validate(&self, pt: &PodTemplate) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&pt.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_template(pt));
        errs
    }

    fn validate_update(&self, new: &PodTemplate, old: &PodTemplate) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_template(new));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Containers", "string", "Names of each container in the template."),
            Column::new("Images", "string", "Images referenced by each container in the template."),
            Column::new("Pod Labels", "string", "The labels for the pod template."),
        ]
    }

    fn cells(&self, pt: &PodTemplate) -> Vec<Cell> {
        let [names, images] = container_cells(pt.template.as_ref());
        let labels =
            pt.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default();
        vec![table::name(&pt.metadata), names, images, table::map_selector(&labels).into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_cells() {
        let mut obj = json!({"metadata": {"name": "tmpl", "namespace": "default"},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}});
        DEF.strategy.default(&mut obj);
        assert_eq!(obj["template"]["spec"]["restartPolicy"], "Always");
        assert!(DEF.strategy.validate(&obj).is_empty());
        assert_eq!(DEF.strategy.cells(&obj), vec![json!("tmpl"), json!("c"), json!("nginx:1.27"), json!("app=x")]);
    }
}
