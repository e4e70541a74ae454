//! Table helpers the workload kinds share: the wide `Containers`, `Images` and
//! `Selector` columns, and counts as upstream's printers show them.

use crate::table::{self, Cell, Column};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

pub const CONTAINERS: Column = Column::new("Containers", "string", "Names of each container in the template.").wide();
pub const IMAGES: Column =
    Column::new("Images", "string", "Images referenced by each container in the template.").wide();

/// The wide Selector column; `description` is the kind's selector field documentation.
pub const fn selector_column(description: &'static str) -> Column {
    Column::new("Selector", "string", description).wide()
}

/// The template's container names and images, comma-separated (upstream's
/// `layoutContainerCells`).
pub fn container_cells(template: Option<&PodTemplateSpec>) -> [Cell; 2] {
    let containers = template.and_then(|t| t.spec.as_ref()).map(|s| s.containers.as_slice()).unwrap_or_default();
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    let images: Vec<&str> = containers.iter().map(|c| c.image.as_deref().unwrap_or_default()).collect();
    [Value::String(names.join(",")), Value::String(images.join(","))]
}

/// A label selector cell as `metav1.FormatLabelSelector` prints it (`<none>` when empty).
pub fn selector_cell(sel: Option<&LabelSelector>) -> Cell {
    Value::String(table::selector(sel))
}

/// An integer cell (upstream prints counts as int64).
pub fn count(n: Option<i32>) -> Cell {
    Value::from(n.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn container_cells_join_names_and_images() {
        let t: PodTemplateSpec = serde_json::from_value(
            json!({"spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis:7"}]}}),
        )
        .unwrap();
        assert_eq!(container_cells(Some(&t)), [json!("a,b"), json!("nginx,redis:7")]);
        assert_eq!(container_cells(None), [json!(""), json!("")]);
    }
}
