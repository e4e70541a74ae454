use serde_json::{Value, json};

use super::apply;
use crate::testing::{TestSchema, deployment, pod};

fn patch_deployment(original: Value, patch: Value) -> Value {
    apply(&original, &patch, &TestSchema, &deployment()).unwrap()
}

fn patch_pod(original: Value, patch: Value) -> Value {
    apply(&original, &patch, &TestSchema, &pod()).unwrap()
}

fn nginx_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1.24", "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}],
                     "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "busybox", "args": ["sleep", "3600"]}
                ]}
            }
        }
    })
}

fn containers(d: &Value) -> &Value {
    &d["spec"]["template"]["spec"]["containers"]
}

#[test]
fn kubectl_set_image_updates_one_container_in_place() {
    let patch = json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"},{"name":"sidecar"}],"containers":[{"image":"nginx:1.25","name":"nginx"}]}}}});
    let result = patch_deployment(nginx_deployment(), patch);
    let mut expected = nginx_deployment();
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.25");
    assert_eq!(result, expected);
}

#[test]
fn kubectl_label_merges_labels_and_null_deletes() {
    let patch = json!({"metadata": {"labels": {"tier": "front", "app": null}}});
    let result = patch_deployment(nginx_deployment(), patch);
    assert_eq!(result["metadata"]["labels"], json!({"tier": "front"}));
    assert_eq!(result["spec"], nginx_deployment()["spec"]);
}

#[test]
fn env_var_added_by_name_keeps_existing_ones() {
    let patch = json!({"spec":{"template":{"spec":{"containers":[{"name":"nginx","env":[{"name":"B","value":"2"},{"name":"A","value":"3"}]}]}}}});
    let result = patch_deployment(nginx_deployment(), patch);
    let c = &containers(&result)[0];
    // Items named by the patch take the patch's order.
    assert_eq!(c["env"], json!([{"name": "B", "value": "2"}, {"name": "A", "value": "3"}]));
    assert_eq!(c["image"], "nginx:1.24");
    assert_eq!(containers(&result)[1]["name"], "sidecar");
}

#[test]
fn new_items_without_order_directive_go_before_later_server_items() {
    let patch = json!({"spec":{"template":{"spec":{"containers":[{"name":"log","image":"fluentd"}]}}}});
    let result = patch_deployment(nginx_deployment(), patch);
    let names: Vec<&str> =
        containers(&result).as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["log", "nginx", "sidecar"]);
}

#[test]
fn set_element_order_places_a_new_container_last() {
    let patch = json!({"spec":{"template":{"spec":{
        "$setElementOrder/containers":[{"name":"nginx"},{"name":"sidecar"},{"name":"log"}],
        "containers":[{"name":"log","image":"fluentd"}]}}}});
    let result = patch_deployment(nginx_deployment(), patch);
    let names: Vec<&str> =
        containers(&result).as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["nginx", "sidecar", "log"]);
}

#[test]
fn delete_directive_removes_a_port_and_a_container() {
    let patch = json!({"spec":{"template":{"spec":{"containers":[
        {"name":"nginx","ports":[{"$patch":"delete","containerPort":443}]},
        {"$patch":"delete","name":"sidecar"}
    ]}}}});
    let result = patch_deployment(nginx_deployment(), patch);
    assert_eq!(containers(&result).as_array().unwrap().len(), 1);
    assert_eq!(containers(&result)[0]["ports"], json!([{"containerPort": 80, "protocol": "TCP"}]));
}

#[test]
fn replace_directive_in_a_list_replaces_the_whole_list() {
    let patch = json!({"spec":{"template":{"spec":{"containers":[{"$patch":"replace"},{"name":"only","image":"x"}]}}}});
    let result = patch_deployment(nginx_deployment(), patch);
    assert_eq!(containers(&result), &json!([{"name": "only", "image": "x"}]));
}

#[test]
fn map_directives_replace_and_delete() {
    let patch = json!({"metadata": {"labels": {"$patch": "replace", "only": "this"}}, "spec": {"strategy": {"$patch": "delete"}}});
    let result = patch_deployment(nginx_deployment(), patch);
    assert_eq!(result["metadata"]["labels"], json!({"only": "this"}));
    assert_eq!(result["spec"]["strategy"], json!({}));
    let merge = json!({"metadata": {"labels": {"$patch": "merge", "more": "x"}}});
    let result = patch_deployment(nginx_deployment(), merge);
    assert_eq!(result["metadata"]["labels"], json!({"app": "web", "more": "x"}));
}

#[test]
fn retain_keys_switches_rolling_update_to_recreate() {
    let patch = json!({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":null}}});
    let result = patch_deployment(nginx_deployment(), patch);
    assert_eq!(result["spec"]["strategy"], json!({"type": "Recreate"}));
    let bad = json!({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{"maxSurge":1}}}});
    let err = apply(&nginx_deployment(), &bad, &TestSchema, &deployment()).unwrap_err();
    assert_eq!(err.to_string(), "invalid patch format of retainKeys");
    assert_eq!(err.status_code(), 400);
}

#[test]
fn finalizers_merge_as_a_set_and_delete_from_primitive_list() {
    let original = json!({"metadata": {"name": "p", "finalizers": ["a", "b"]}});
    let added = patch_pod(original.clone(), json!({"metadata": {"finalizers": ["b", "c"]}}));
    assert_eq!(added["metadata"]["finalizers"], json!(["a", "b", "c"]));
    let removed = patch_pod(original, json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}));
    assert_eq!(removed["metadata"]["finalizers"], json!(["b"]));
}

#[test]
fn atomic_and_untyped_lists_are_replaced() {
    let patch = json!({"spec":{"template":{"spec":{"containers":[{"name":"sidecar","args":["true"]}]}}}, "extra": {"list": [3], "m": {"k": 1}}});
    let mut original = nginx_deployment();
    original["extra"] = json!({"list": [1, 2], "m": {"j": 0}});
    let result = patch_deployment(original, patch);
    assert_eq!(containers(&result)[1]["args"], json!(["true"]));
    assert_eq!(result["extra"], json!({"list": [3], "m": {"j": 0, "k": 1}}));
}

#[test]
fn rollout_restart_adds_a_template_annotation() {
    let patch = json!({"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2025-01-01T00:00:00Z"}}}}});
    let result = patch_deployment(nginx_deployment(), patch);
    assert_eq!(
        result["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        "2025-01-01T00:00:00Z"
    );
    assert_eq!(result["spec"]["template"]["metadata"]["labels"], json!({"app": "web"}));
}

#[test]
fn directives_never_leak_into_new_values() {
    let original = json!({"metadata": {"name": "p"}, "spec": {}});
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [{"name": "a", "env": [{"$patch": "delete", "name": "x"}], "resources": {"$patch": "replace", "limits": {"cpu": "1"}}}]}});
    let result = patch_pod(original, patch);
    assert_eq!(
        result["spec"],
        json!({"containers": [{"name": "a", "env": [], "resources": {"limits": {"cpu": "1"}}}]})
    );
}

#[test]
fn missing_merge_key_and_bad_directive_fail_like_upstream() {
    let patch = json!({"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}});
    let err = apply(&nginx_deployment(), &patch, &TestSchema, &deployment()).unwrap_err();
    assert_eq!(err.to_string(), "map: map[image:x] does not contain declared merge key: name");
    let patch = json!({"metadata": {"labels": {"$patch": "frob"}}});
    let err = apply(&nginx_deployment(), &patch, &TestSchema, &deployment()).unwrap_err();
    assert_eq!(err.to_string(), "unknown patch type: frob in map: map[$patch:frob]");
}

#[test]
fn set_element_order_must_agree_with_the_patch_list() {
    let patch = json!({"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"sidecar"}],"containers":[{"name":"nginx","image":"x"}]}}}});
    let err = apply(&nginx_deployment(), &patch, &TestSchema, &deployment()).unwrap_err();
    assert!(err.to_string().starts_with("The order in patch list:"), "{err}");
}

#[test]
fn volumes_retain_keys_inside_list_elements() {
    let original = json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}});
    let patch = json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}]}});
    let result = patch_pod(original, patch);
    assert_eq!(result["spec"]["volumes"], json!([{"name": "v", "configMap": {"name": "cm"}}]));
}
