use serde_json::{Value, json};

use super::{ApplyError, FieldManager};
use crate::testing::{TestSchema, deployment};

const T0: &str = "2025-01-01T00:00:00Z";
const T1: &str = "2025-01-01T00:01:00Z";

fn manager<'a>(root: &'a crate::Shape, name: &'a str, time: &'a str) -> FieldManager<'a> {
    FieldManager::new(&TestSchema, root, name, "apps/v1", time).ignoring(&[&["status"]])
}

fn config(replicas: i64, labels: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}
            }
        }
    })
}

fn entry<'v>(object: &'v Value, name: &str, operation: &str) -> Option<&'v Value> {
    object["metadata"]["managedFields"].as_array()?.iter().find(|e| e["manager"] == name && e["operation"] == operation)
}

/// What the API server stores after a create: server-set metadata and defaults.
fn stored(mut object: Value) -> Value {
    object["metadata"]["uid"] = json!("u-1");
    object["metadata"]["resourceVersion"] = json!("1");
    object["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
    object
}

#[test]
fn server_side_apply_creates_and_records_the_applied_fields() {
    let root = deployment();
    let created = manager(&root, "kubectl", T0).apply(None, &config(2, json!({"app": "web"})), false).unwrap();
    assert_eq!(created["spec"]["replicas"], 2);
    let entry = entry(&created, "kubectl", "Apply").unwrap();
    assert_eq!(entry["apiVersion"], "apps/v1");
    assert_eq!(entry["time"], T0);
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert_eq!(
        entry["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}
                }
            }
        })
    );
}

#[test]
fn reapplying_without_a_label_removes_it_but_keeps_server_fields() {
    let root = deployment();
    let kubectl = manager(&root, "kubectl", T0);
    let live = stored(kubectl.apply(None, &config(2, json!({"app": "web", "tier": "front"})), false).unwrap());
    let result = kubectl.apply(Some(&live), &config(2, json!({"app": "web"})), false).unwrap();
    assert_eq!(result["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(result["metadata"]["uid"], "u-1");
    assert_eq!(result["metadata"]["name"], "web");
    assert_eq!(result["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
}

#[test]
fn dropping_a_container_removes_it_with_its_defaults() {
    let root = deployment();
    let kubectl = manager(&root, "kubectl", T0);
    let mut two = config(1, json!({"app": "web"}));
    two["spec"]["template"]["spec"]["containers"] =
        json!([{"name": "nginx", "image": "nginx"}, {"name": "log", "image": "fluentd"}]);
    let live = stored(kubectl.apply(None, &two, false).unwrap());
    let result = kubectl.apply(Some(&live), &config(1, json!({"app": "web"})), false).unwrap();
    let containers = result["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["image"], "nginx:1.25");
    assert_eq!(containers[0]["imagePullPolicy"], "IfNotPresent");
}

#[test]
fn fields_another_manager_owns_survive_removal_from_the_config() {
    let root = deployment();
    let live = stored(
        manager(&root, "kubectl", T0).apply(None, &config(2, json!({"app": "web", "tier": "a"})), false).unwrap(),
    );
    let mut labelled = live.clone();
    labelled["metadata"]["labels"]["tier"] = json!("a");
    labelled["metadata"]["labels"]["team"] = json!("x");
    let mut edited = labelled.clone();
    manager(&root, "kubectl-label", T1).track_update(Some(&live), &mut edited);
    // kubectl-label only changed `team`; `tier` stays kubectl's alone, so it goes.
    let result = manager(&root, "kubectl", T1).apply(Some(&edited), &config(2, json!({"app": "web"})), false).unwrap();
    assert_eq!(result["metadata"]["labels"], json!({"app": "web", "team": "x"}));
}

#[test]
fn changing_a_field_owned_by_client_side_apply_conflicts_unless_forced() {
    let root = deployment();
    let mut live = stored(config(3, json!({"app": "web"})));
    manager(&root, "kubectl-client-side-apply", T0).track_update(None, &mut live);
    assert!(entry(&live, "kubectl-client-side-apply", "Update").is_some());

    // The same values: shared ownership, no conflict.
    let same = manager(&root, "kubectl", T1).apply(Some(&live), &config(3, json!({"app": "web"})), false).unwrap();
    let csa = entry(&same, "kubectl-client-side-apply", "Update").unwrap();
    assert_eq!(csa["fieldsV1"]["f:spec"]["f:replicas"], json!({}));

    let err = manager(&root, "kubectl", T1).apply(Some(&live), &config(5, json!({"app": "web"})), false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    assert_eq!(err.status_code(), 409);
    assert_eq!(
        err.causes(),
        vec![
            json!({"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-client-side-apply\" using apps/v1", "field": ".spec.replicas"})
        ]
    );

    let forced = manager(&root, "kubectl", T1).apply(Some(&live), &config(5, json!({"app": "web"})), true).unwrap();
    assert_eq!(forced["spec"]["replicas"], 5);
    let csa = entry(&forced, "kubectl-client-side-apply", "Update").unwrap();
    assert!(csa["fieldsV1"]["f:spec"].get("f:replicas").is_none());
    assert!(csa["fieldsV1"]["f:spec"].get("f:template").is_some());
    assert_eq!(entry(&forced, "kubectl", "Apply").unwrap()["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let root = deployment();
    let mut live = stored(config(3, json!({"app": "web"})));
    manager(&root, "kubectl-create", T0).track_update(None, &mut live);
    let mut changed = config(4, json!({"app": "web"}));
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let Err(err @ ApplyError::Conflicts(_)) = manager(&root, "kubectl", T1).apply(Some(&live), &changed, false) else {
        panic!("expected conflicts");
    };
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"kubectl-create\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
    );
}

#[test]
fn track_update_moves_changed_fields_and_keeps_unchanged_entries() {
    let root = deployment();
    let mut live = stored(config(1, json!({"app": "web"})));
    manager(&root, "kubectl-create", T0).track_update(None, &mut live);
    let created = entry(&live, "kubectl-create", "Update").unwrap().clone();
    assert_eq!(created["fieldsV1"]["f:metadata"], json!({"f:labels": {".": {}, "f:app": {}}}));
    assert!(created["fieldsV1"]["f:metadata"].get("f:uid").is_none());

    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(4);
    scaled["status"] = json!({"replicas": 4});
    manager(&root, "kubectl-scale", T1).track_update(Some(&live), &mut scaled);
    let scale = entry(&scaled, "kubectl-scale", "Update").unwrap();
    assert_eq!(scale["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    assert!(entry(&scaled, "kubectl-create", "Update").unwrap()["fieldsV1"]["f:spec"].get("f:replicas").is_none());

    // A write that changes nothing leaves managedFields alone.
    let mut again = scaled.clone();
    manager(&root, "other", T1).track_update(Some(&scaled), &mut again);
    assert_eq!(again, scaled);
}

#[test]
fn managed_fields_in_the_config_are_rejected() {
    let root = deployment();
    let mut bad = config(1, json!({}));
    bad["metadata"]["managedFields"] = json!([]);
    let err = manager(&root, "kubectl", T0).apply(None, &bad, false).unwrap_err();
    assert_eq!(err.to_string(), "metadata.managedFields must be nil");
}

#[test]
fn status_is_neither_applied_nor_owned_on_the_main_resource() {
    let root = deployment();
    let mut with_status = config(1, json!({"app": "web"}));
    with_status["status"] = json!({"replicas": 9});
    let live = stored(config(1, json!({"app": "web"})));
    let result = manager(&root, "kubectl", T0).apply(Some(&live), &with_status, false).unwrap();
    assert!(result.get("status").is_none());
    assert!(entry(&result, "kubectl", "Apply").unwrap()["fieldsV1"].get("f:status").is_none());
}
