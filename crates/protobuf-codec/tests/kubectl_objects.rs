//! Objects of the kinds kubectl 1.33 sends as protobuf, built with k8s-pb's prost types the
//! way Go writes them, decoded to JSON and encoded back byte for byte.

use std::collections::BTreeMap;

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::authentication::v1 as authn;
use k8s_pb::api::authorization::v1 as authz;
use k8s_pb::api::batch::v1 as batch;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::rbac::v1 as rbac;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use protobuf_codec::{decode, encode};
use serde_json::{Value, json};

fn body(api_version: &str, kind: &str, object: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta { api_version: Some(api_version.into()), kind: Some(kind.into()) }),
        raw: Some(object.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    [protobuf_codec::MAGIC, &unknown.encode_to_vec()].concat()
}

/// Decodes to exactly `expected` and encodes back to the same bytes.
fn assert_round_trip(api_version: &str, kind: &str, object: &impl Message, expected: Value) {
    let bytes = body(api_version, kind, object);
    let decoded = decode(&bytes).unwrap();
    assert_eq!(decoded, expected);
    assert_eq!(encode(&decoded).unwrap(), bytes, "re-encoding {kind}");
}

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn meta(name: &str, namespace: &str) -> Option<ObjectMeta> {
    Some(ObjectMeta { name: s(name), namespace: s(namespace), ..Default::default() })
}

#[test]
fn deployment() {
    let deployment = apps::Deployment {
        metadata: Some(ObjectMeta {
            name: s("web"),
            labels: labels(&[("app", "web")]),
            creation_timestamp: Some(Time { seconds: Some(1_704_164_645), nanos: None }),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(3),
            selector: Some(LabelSelector { match_labels: labels(&[("app", "web")]), ..Default::default() }),
            template: Some(core::PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: labels(&[("app", "web")]), ..Default::default() }),
                spec: Some(core::PodSpec {
                    containers: vec![core::Container {
                        name: s("nginx"),
                        image: s("nginx:1.27"),
                        ports: vec![core::ContainerPort { container_port: Some(80), ..Default::default() }],
                        resources: Some(core::ResourceRequirements {
                            limits: [("cpu".to_string(), Quantity { string: s("500m") })].into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            }),
            strategy: Some(apps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(apps::RollingUpdateDeployment {
                    max_surge: Some(IntOrString { r#type: Some(1), int_val: None, str_val: s("25%") }),
                    max_unavailable: Some(IntOrString { r#type: Some(0), int_val: Some(1), str_val: None }),
                }),
            }),
            ..Default::default()
        }),
        status: Some(apps::DeploymentStatus::default()),
    };
    let expected = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}, "creationTimestamp": "2024-01-02T03:04:05Z"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "nginx",
                    "image": "nginx:1.27",
                    "ports": [{"containerPort": 80}],
                    "resources": {"limits": {"cpu": "500m"}},
                }]},
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
        },
        "status": {},
    });
    assert_round_trip("apps/v1", "Deployment", &deployment, expected);
}

/// Go writes every non-pointer scalar, so kubectl's bytes carry empty strings, zeros and false
/// that its JSON would omit; explicit pointer zeros such as `replicas: 0` stay.
#[test]
fn go_zero_values_are_omitted_like_go_json() {
    let deployment = apps::Deployment {
        metadata: Some(ObjectMeta {
            name: s("web"),
            generate_name: s(""),
            namespace: s(""),
            uid: s(""),
            generation: Some(0),
            creation_timestamp: Some(Time::default()),
            ..Default::default()
        }),
        spec: Some(apps::DeploymentSpec {
            replicas: Some(0),
            min_ready_seconds: Some(0),
            paused: Some(false),
            template: Some(core::PodTemplateSpec {
                metadata: Some(ObjectMeta { creation_timestamp: Some(Time::default()), ..Default::default() }),
                spec: Some(core::PodSpec {
                    containers: vec![core::Container {
                        name: s("nginx"),
                        image: s("nginx"),
                        working_dir: s(""),
                        stdin: Some(false),
                        tty: Some(false),
                        resources: Some(core::ResourceRequirements::default()),
                        ..Default::default()
                    }],
                    restart_policy: s(""),
                    host_network: Some(false),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "creationTimestamp": null},
        "spec": {
            "replicas": 0,
            "template": {
                "metadata": {"creationTimestamp": null},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]},
            },
        },
    });
    assert_eq!(decode(&body("apps/v1", "Deployment", &deployment)).unwrap(), expected);
}

#[test]
fn config_map() {
    let config_map = core::ConfigMap {
        metadata: meta("settings", "default"),
        data: labels(&[("mode", "fast"), ("empty", "")]),
        binary_data: [("blob".to_string(), vec![0u8, 1, 2, 255])].into(),
        immutable: None,
    };
    let expected = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "default"},
        "data": {"mode": "fast", "empty": ""},
        "binaryData": {"blob": "AAEC/w=="},
    });
    assert_round_trip("v1", "ConfigMap", &config_map, expected);
}

#[test]
fn secret() {
    let secret = core::Secret {
        metadata: meta("creds", "default"),
        data: [("password".to_string(), b"hunter2".to_vec()), ("user".to_string(), b"admin".to_vec())].into(),
        r#type: s("Opaque"),
        ..Default::default()
    };
    let expected = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "default"},
        "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="},
        "type": "Opaque",
    });
    assert_round_trip("v1", "Secret", &secret, expected);
}

#[test]
fn service() {
    let service = core::Service {
        metadata: Some(ObjectMeta { name: s("web"), labels: labels(&[("app", "web")]), ..Default::default() }),
        spec: Some(core::ServiceSpec {
            ports: vec![core::ServicePort {
                name: s("80-8080"),
                protocol: s("TCP"),
                port: Some(80),
                target_port: Some(IntOrString { r#type: Some(0), int_val: Some(8080), str_val: None }),
                ..Default::default()
            }],
            selector: labels(&[("app", "web")]),
            r#type: s("ClusterIP"),
            cluster_ips: vec!["10.0.0.7".into()],
            ..Default::default()
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
            "selector": {"app": "web"},
            "type": "ClusterIP",
            "clusterIPs": ["10.0.0.7"],
        },
    });
    assert_round_trip("v1", "Service", &service, expected);
}

#[test]
fn namespace() {
    let namespace = core::Namespace {
        metadata: Some(ObjectMeta { name: s("team-a"), ..Default::default() }),
        spec: Some(core::NamespaceSpec::default()),
        status: Some(core::NamespaceStatus::default()),
    };
    let expected =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}, "spec": {}, "status": {}});
    assert_round_trip("v1", "Namespace", &namespace, expected);
}

fn pod_template(command: &[&str]) -> Option<core::PodTemplateSpec> {
    Some(core::PodTemplateSpec {
        metadata: None,
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("work"),
                image: s("busybox"),
                command: command.iter().map(|c| c.to_string()).collect(),
                ..Default::default()
            }],
            restart_policy: s("OnFailure"),
            ..Default::default()
        }),
    })
}

#[test]
fn job() {
    let job = batch::Job {
        metadata: meta("once", "default"),
        spec: Some(batch::JobSpec { backoff_limit: Some(2), template: pod_template(&["date"]), ..Default::default() }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once", "namespace": "default"},
        "spec": {
            "backoffLimit": 2,
            "template": {"spec": {"containers": [{"name": "work", "image": "busybox", "command": ["date"]}], "restartPolicy": "OnFailure"}},
        },
    });
    assert_round_trip("batch/v1", "Job", &job, expected);
}

#[test]
fn cron_job() {
    let cron_job = batch::CronJob {
        metadata: meta("nightly", "default"),
        spec: Some(batch::CronJobSpec {
            schedule: s("0 3 * * *"),
            job_template: Some(batch::JobTemplateSpec {
                metadata: Some(ObjectMeta { name: s("nightly"), ..Default::default() }),
                spec: Some(batch::JobSpec { template: pod_template(&["sh", "-c", "backup"]), ..Default::default() }),
            }),
            ..Default::default()
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "default"},
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {
                "metadata": {"name": "nightly"},
                "spec": {"template": {"spec": {
                    "containers": [{"name": "work", "image": "busybox", "command": ["sh", "-c", "backup"]}],
                    "restartPolicy": "OnFailure",
                }}},
            },
        },
    });
    assert_round_trip("batch/v1", "CronJob", &cron_job, expected);
}

#[test]
fn self_subject_access_review() {
    let review = authz::SelfSubjectAccessReview {
        metadata: Some(ObjectMeta::default()),
        spec: Some(authz::SelfSubjectAccessReviewSpec {
            resource_attributes: Some(authz::ResourceAttributes {
                namespace: s("default"),
                verb: s("create"),
                group: s("apps"),
                resource: s("deployments"),
                ..Default::default()
            }),
            non_resource_attributes: None,
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {},
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "group": "apps", "resource": "deployments"}},
    });
    assert_round_trip("authorization.k8s.io/v1", "SelfSubjectAccessReview", &review, expected);
}

#[test]
fn token_request() {
    let request = authn::TokenRequest {
        metadata: meta("builder", "ci"),
        spec: Some(authn::TokenRequestSpec {
            audiences: vec!["https://kubernetes.default.svc".into()],
            expiration_seconds: Some(3600),
            bound_object_ref: Some(authn::BoundObjectReference {
                kind: s("Pod"),
                api_version: s("v1"),
                name: s("runner"),
                u_id: s("0f4c7f2e-1c7e-4a8e-9f38-6f0f6cde9a11"),
            }),
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": {"name": "builder", "namespace": "ci"},
        "spec": {
            "audiences": ["https://kubernetes.default.svc"],
            "expirationSeconds": 3600,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "runner", "uid": "0f4c7f2e-1c7e-4a8e-9f38-6f0f6cde9a11"},
        },
    });
    assert_round_trip("authentication.k8s.io/v1", "TokenRequest", &request, expected);
}

#[test]
fn self_subject_review() {
    let review = authn::SelfSubjectReview { metadata: Some(ObjectMeta::default()), status: None };
    let expected = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {}});
    assert_round_trip("authentication.k8s.io/v1", "SelfSubjectReview", &review, expected);
}

#[test]
fn role_with_rules() {
    let role = rbac::Role {
        metadata: meta("reader", "default"),
        rules: vec![
            rbac::PolicyRule {
                verbs: vec!["get".into(), "list".into(), "watch".into()],
                api_groups: vec!["".into()],
                resources: vec!["pods".into(), "pods/log".into()],
                ..Default::default()
            },
            rbac::PolicyRule {
                verbs: vec!["get".into()],
                api_groups: vec!["apps".into()],
                resources: vec!["deployments".into()],
                resource_names: vec!["web".into()],
                ..Default::default()
            },
        ],
    };
    let expected = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "reader", "namespace": "default"},
        "rules": [
            {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods", "pods/log"]},
            {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"]},
        ],
    });
    assert_round_trip("rbac.authorization.k8s.io/v1", "Role", &role, expected);
}

#[test]
fn inline_probe_handler_and_negative_numbers() {
    let pod = core::Pod {
        metadata: meta("p", "default"),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("c"),
                liveness_probe: Some(core::Probe {
                    handler: Some(core::ProbeHandler {
                        http_get: Some(core::HttpGetAction {
                            path: s("/healthz"),
                            port: Some(IntOrString { r#type: Some(1), int_val: None, str_val: s("http") }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    period_seconds: Some(10),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            priority: Some(-5),
            ..Default::default()
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {
            "containers": [{"name": "c", "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}}],
            "priority": -5,
        },
    });
    assert_round_trip("v1", "Pod", &pod, expected);
}

/// `IngressRule` embeds `IngressRuleValue` inline: `http` sits beside `host` in JSON.
#[test]
fn ingress_with_inline_rule_value() {
    use k8s_pb::api::networking::v1 as networking;
    let ingress = networking::Ingress {
        metadata: meta("web", "default"),
        spec: Some(networking::IngressSpec {
            ingress_class_name: s("nginx"),
            rules: vec![networking::IngressRule {
                host: s("example.com"),
                ingress_rule_value: Some(networking::IngressRuleValue {
                    http: Some(networking::HttpIngressRuleValue {
                        paths: vec![networking::HttpIngressPath {
                            path: s("/"),
                            path_type: s("Prefix"),
                            backend: Some(networking::IngressBackend {
                                service: Some(networking::IngressServiceBackend {
                                    name: s("web"),
                                    port: Some(networking::ServiceBackendPort { number: Some(80), name: None }),
                                }),
                                resource: None,
                            }),
                        }],
                    }),
                }),
            }],
            ..Default::default()
        }),
        status: None,
    };
    let expected = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": "example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
            ]}}],
        },
    });
    assert_round_trip("networking.k8s.io/v1", "Ingress", &ingress, expected);
}
