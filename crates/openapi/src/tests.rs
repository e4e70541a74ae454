//! Tests of the documents, over the served registry and over a fuller test registry (the
//! served table grows as resources are added; these kinds exercise every subresource).

use super::*;
use prost::Message as _;
use resources::{ALL_VERBS, Subresource};
use serde_json::Value;

/// A resource like `template` with another name, scope and subresources.
fn like(
    template: &ResourceDef,
    (group, version, kind, plural): (&'static str, &'static str, &'static str, &'static str),
    namespaced: bool,
    verbs: &'static [&'static str],
    subresources: &'static [Subresource],
    definition: &'static str,
) -> ResourceDef {
    ResourceDef {
        group,
        version,
        kind,
        plural,
        singular: "",
        short_names: &[],
        categories: &[],
        namespaced,
        verbs,
        subresources,
        definition,
        strategy: template.strategy,
    }
}

fn test_registry() -> &'static [ResourceDef] {
    let t = &resources::registry()[0];
    let pod_subs: &[Subresource] = &[
        Subresource::Status,
        Subresource::Binding,
        Subresource::Eviction,
        Subresource::Log,
        Subresource::Exec,
        Subresource::Attach,
        Subresource::PortForward,
        Subresource::Proxy,
    ];
    let defs = vec![
        like(t, ("", "v1", "Pod", "pods"), true, ALL_VERBS, pod_subs, "io.k8s.api.core.v1.Pod"),
        like(
            t,
            ("", "v1", "Namespace", "namespaces"),
            false,
            ALL_VERBS,
            &[Subresource::Status],
            "io.k8s.api.core.v1.Namespace",
        ),
        like(
            t,
            ("", "v1", "ServiceAccount", "serviceaccounts"),
            true,
            ALL_VERBS,
            &[Subresource::Token],
            "io.k8s.api.core.v1.ServiceAccount",
        ),
        like(
            t,
            ("apps", "v1", "Deployment", "deployments"),
            true,
            ALL_VERBS,
            &[Subresource::Status, Subresource::Scale],
            "io.k8s.api.apps.v1.Deployment",
        ),
        like(
            t,
            ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles"),
            false,
            ALL_VERBS,
            &[],
            "io.k8s.api.rbac.v1.ClusterRole",
        ),
        like(
            t,
            ("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews"),
            false,
            &["create"],
            &[],
            "io.k8s.api.authorization.v1.SelfSubjectAccessReview",
        ),
    ];
    Box::leak(defs.into_boxed_slice())
}

fn parse(json: &[u8]) -> Value {
    serde_json::from_slice(json).expect("valid JSON")
}

fn index_keys(api: &OpenApi) -> Vec<String> {
    parse(api.v3_index())["paths"].as_object().unwrap().keys().cloned().collect()
}

/// What kubectl's query-param verifier checks: each kind with a PATCH operation offers
/// `fieldValidation` on it, and the operation names the kind.
fn check_patch_operations(api: &OpenApi) {
    for def in api.registry.iter().filter(|d| d.verbs.contains(&"patch")) {
        let key = if def.group.is_empty() {
            format!("api/{}", def.version)
        } else {
            format!("apis/{}/{}", def.group, def.version)
        };
        let (json, _) = api.v3_document(&key).unwrap_or_else(|| panic!("no document for {key}"));
        let doc = parse(json);
        let found = doc["paths"].as_object().unwrap().values().filter_map(|item| item.get("patch")).any(|op| {
            op["x-kubernetes-group-version-kind"]["kind"] == def.kind
                && op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"))
        });
        assert!(found, "{key} has no PATCH of {} with fieldValidation", def.kind);
    }
}

#[test]
fn served_registry_documents_are_consistent() {
    let api = OpenApi::new("v1.33.0-krust.1");
    check_patch_operations(&api);
    let index = parse(api.v3_index());
    for (key, entry) in index["paths"].as_object().unwrap() {
        let (json, hash) = api.v3_document(key).unwrap();
        assert_eq!(hash, super::hash(json));
        assert_eq!(entry["serverRelativeURL"], format!("/openapi/v3/{key}?hash={hash}"));
    }
}

#[test]
fn index_lists_each_group_version_with_its_hash() {
    let api = OpenApi::for_registry("v1.33.0-krust.1", test_registry());
    assert_eq!(
        index_keys(&api),
        ["api/v1", "apis/apps/v1", "apis/authorization.k8s.io/v1", "apis/rbac.authorization.k8s.io/v1"]
    );
    let (json, hash) = api.v3_document("apis/apps/v1").unwrap();
    assert_eq!(hash.len(), 128);
    assert!(hash.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    assert_eq!(
        parse(api.v3_index())["paths"]["apis/apps/v1"]["serverRelativeURL"],
        format!("/openapi/v3/apis/apps/v1?hash={hash}")
    );
    assert_eq!(parse(json)["info"], serde_json::json!({"title": "Kubernetes", "version": "v1.33.0-krust.1"}));
    assert!(api.v3_document("apis/nope/v1").is_none());
}

#[test]
fn patch_operations_offer_field_validation() {
    check_patch_operations(&OpenApi::for_registry("v", test_registry()));
}

#[test]
fn deployment_document_has_upstream_operations_and_schemas() {
    let api = OpenApi::for_registry("v", test_registry());
    let doc = parse(api.v3_document("apis/apps/v1").unwrap().0);
    assert_eq!(doc["openapi"], "3.0.0");
    let item = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
    let patch = &item["patch"];
    assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
    assert_eq!(patch["x-kubernetes-action"], "patch");
    assert_eq!(patch["tags"][0], "apps_v1");
    let names: Vec<&str> =
        patch["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["dryRun", "fieldManager", "fieldValidation", "force"]);
    let media: Vec<&String> = patch["requestBody"]["content"].as_object().unwrap().keys().collect();
    assert_eq!(
        media,
        [
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json"
        ]
    );
    let path_params: Vec<&str> =
        item["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(path_params, ["name", "namespace", "pretty"]);
    let paths = doc["paths"].as_object().unwrap();
    for (path, method, id) in [
        ("/apis/apps/v1/namespaces/{namespace}/deployments", "delete", "deleteAppsV1CollectionNamespacedDeployment"),
        ("/apis/apps/v1/deployments", "get", "listAppsV1DeploymentForAllNamespaces"),
        ("/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}", "get", "watchAppsV1NamespacedDeployment"),
        (
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status",
            "put",
            "replaceAppsV1NamespacedDeploymentStatus",
        ),
        (
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
            "patch",
            "patchAppsV1NamespacedDeploymentScale",
        ),
        ("/apis/apps/v1/", "get", "getAppsV1APIResources"),
    ] {
        assert_eq!(paths[path][method]["operationId"], id, "{method} {path}");
    }
    let scale = &paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"];
    assert_eq!(scale["x-kubernetes-group-version-kind"]["group"], "autoscaling");

    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let deref = |schema: &Value| -> Value {
        let name = resources::schema::referenced_definition(schema).expect("a reference");
        schemas.get(name).unwrap_or_else(|| panic!("{name} not in the document")).clone()
    };
    let deployment = &schemas["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(deployment["x-kubernetes-group-version-kind"][0]["kind"], "Deployment");
    let spec = deref(&deployment["properties"]["spec"]);
    let template = deref(&spec["properties"]["template"]);
    let pod_spec = deref(&template["properties"]["spec"]);
    let containers = &pod_spec["properties"]["containers"];
    assert_eq!(containers["type"], "array");
    assert_eq!(containers["items"]["$ref"], "#/components/schemas/io.k8s.api.core.v1.Container");
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert!(schemas.contains_key("io.k8s.api.autoscaling.v1.Scale"));
    assert!(schemas.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.Patch"));
    assert!(!schemas.contains_key("io.k8s.api.rbac.v1.ClusterRole"), "only this group-version's closure");
}

#[test]
fn core_subresources_follow_upstream_names() {
    let api = OpenApi::for_registry("v", test_registry());
    let doc = parse(api.v3_document("api/v1").unwrap().0);
    let paths = &doc["paths"];
    let pod = "/api/v1/namespaces/{namespace}/pods/{name}";
    assert_eq!(paths[format!("{pod}/exec")]["post"]["operationId"], "connectCoreV1PostNamespacedPodExec");
    assert_eq!(paths[format!("{pod}/exec")]["get"]["x-kubernetes-group-version-kind"]["kind"], "PodExecOptions");
    assert_eq!(paths[format!("{pod}/log")]["get"]["operationId"], "readCoreV1NamespacedPodLog");
    assert_eq!(paths[format!("{pod}/eviction")]["post"]["x-kubernetes-group-version-kind"]["group"], "policy");
    assert_eq!(
        paths[format!("{pod}/proxy/{{path}}")]["head"]["operationId"],
        "connectCoreV1HeadNamespacedPodProxyWithPath"
    );
    assert_eq!(
        paths["/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"]["post"]["operationId"],
        "createCoreV1NamespacedServiceAccountToken"
    );
    assert_eq!(paths["/api/v1/namespaces/{name}/status"]["patch"]["operationId"], "patchCoreV1NamespaceStatus");
    assert_eq!(paths["/api/v1/watch/pods"]["get"]["operationId"], "watchCoreV1PodListForAllNamespaces");
    let review = parse(api.v3_document("apis/authorization.k8s.io/v1").unwrap().0);
    let create = &review["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"];
    assert_eq!(create["post"]["operationId"], "createAuthorizationV1SelfSubjectAccessReview");
    assert_eq!(create.as_object().unwrap().len(), 2, "post and its path parameters only");
}

#[test]
fn v2_protobuf_decodes_to_the_json_document() {
    let api = OpenApi::for_registry("v1.33.0-krust.1", test_registry());
    let json = parse(api.v2_json());
    assert_eq!(json["swagger"], "2.0");
    let containers = &json["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["items"]["$ref"], "#/definitions/io.k8s.api.core.v1.Container");
    let metadata = &json["definitions"]["io.k8s.api.apps.v1.Deployment"]["properties"]["metadata"];
    assert_eq!(metadata["$ref"], "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");

    let doc = proto::Document::decode(api.v2_protobuf()).expect("decodes");
    assert_eq!(doc.swagger, "2.0");
    assert_eq!(doc.info.unwrap().version, "v1.33.0-krust.1");
    let definitions = doc.definitions.unwrap().additional_properties;
    assert_eq!(definitions.len(), json["definitions"].as_object().unwrap().len());
    let paths = doc.paths.unwrap().path;
    assert_eq!(paths.len(), json["paths"].as_object().unwrap().len());

    let deployment = definitions.iter().find(|d| d.name == "io.k8s.api.apps.v1.Deployment").unwrap();
    let gvk = &deployment.value.as_ref().unwrap().vendor_extension[0];
    assert_eq!(gvk.name, "x-kubernetes-group-version-kind");
    let gvk: Value = serde_json::from_str(&gvk.value.as_ref().unwrap().yaml).unwrap();
    assert_eq!(gvk[0]["kind"], "Deployment");

    let item = paths.iter().find(|p| p.name == "/apis/apps/v1/namespaces/{namespace}/deployments/{name}").unwrap();
    let patch = item.value.as_ref().unwrap().patch.as_ref().unwrap();
    assert_eq!(patch.operation_id, "patchAppsV1NamespacedDeployment");
    let has_field_validation = patch.parameters.iter().any(|p| {
        matches!(
            p.parameter.as_ref().and_then(|p| p.oneof.as_ref()),
            Some(proto::ParameterKind::NonBodyParameter(proto::NonBodyParameter {
                oneof: Some(proto::NonBodyKind::QueryParameterSubSchema(q))
            })) if q.name == "fieldValidation"
        )
    });
    assert!(has_field_validation);
}

#[test]
fn documents_are_built_lazily() {
    let api = OpenApi::for_registry("v", test_registry());
    assert!(api.v3.get().is_none() && api.v2.get().is_none());
    api.v3_index();
    assert!(api.v3.get().is_some() && api.v2.get().is_none());
}
