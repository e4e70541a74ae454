//! Property test: decoding truncated, corrupted or random bytes returns an error or a value but
//! never panics or overflows the stack.

use k8s_pb::api::apps::v1 as apps;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_pb::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use prost::Message;
use protobuf_codec::{DecodeError, MAGIC, decode};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn body(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta { api_version: Some(api_version.into()), kind: Some(kind.into()) }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    [MAGIC, &unknown.encode_to_vec()].concat()
}

fn samples() -> Vec<Vec<u8>> {
    let pod = core::Pod {
        metadata: Some(ObjectMeta {
            name: Some("p".into()),
            labels: [("a".to_string(), "b".to_string())].into(),
            creation_timestamp: Some(Time { seconds: Some(1_700_000_000), nanos: Some(5) }),
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![core::Container { name: Some("c".into()), args: vec!["x".into()], ..Default::default() }],
            ..Default::default()
        }),
        status: None,
    };
    let revision = apps::ControllerRevision {
        metadata: None,
        data: Some(RawExtension { raw: Some(br#"{"spec":{"replicas":2}}"#.to_vec()) }),
        revision: Some(4),
    };
    vec![body("v1", "Pod", pod.encode_to_vec()), body("apps/v1", "ControllerRevision", revision.encode_to_vec())]
}

#[test]
fn every_truncation_is_an_error_or_a_value() {
    for sample in samples() {
        assert!(decode(&sample).is_ok());
        for len in 0..sample.len() {
            let _ = decode(&sample[..len]);
        }
    }
}

#[test]
fn truncation_inside_the_object_reports_the_offset() {
    let sample = &samples()[0];
    let error = decode(&sample[..sample.len() - 3]).unwrap_err();
    assert!(matches!(error, DecodeError::Truncated { .. }), "{error}");
}

#[test]
fn corrupted_and_random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let samples = samples();
    for round in 0..20_000 {
        let mut bytes = samples[round % samples.len()].clone();
        for _ in 0..=rng.below(4) {
            let i = rng.below(bytes.len());
            bytes[i] = rng.next() as u8;
        }
        let _ = decode(&bytes);
        let random: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
        let _ = decode(&[MAGIC, &random].concat());
        // Random bytes as the payload of a well-formed envelope exercise the object decoder.
        let _ = decode(&body("v1", "Pod", random));
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    // Each level: a ControllerRevision whose RawExtension data holds the next envelope.
    let mut inner = body("apps/v1", "ControllerRevision", Vec::new());
    for _ in 0..5_000 {
        let revision =
            apps::ControllerRevision { metadata: None, data: Some(RawExtension { raw: Some(inner) }), revision: None };
        inner = body("apps/v1", "ControllerRevision", revision.encode_to_vec());
    }
    assert!(matches!(decode(&inner), Err(DecodeError::TooDeep { .. })));
}

const NESTING_REFUSED: usize = 150;

/// A CRD whose schema nests `levels` objects deep through `properties`.
fn nested_crd(levels: usize) -> Vec<u8> {
    let mut schema = apiextensions::JsonSchemaProps { r#type: Some("string".into()), ..Default::default() };
    for _ in 0..levels {
        schema = apiextensions::JsonSchemaProps {
            r#type: Some("object".into()),
            properties: [("child".to_string(), schema)].into(),
            ..Default::default()
        };
    }
    let crd = apiextensions::CustomResourceDefinition {
        metadata: Some(ObjectMeta { name: Some("widgets.example.com".into()), ..Default::default() }),
        spec: Some(apiextensions::CustomResourceDefinitionSpec {
            versions: vec![apiextensions::CustomResourceDefinitionVersion {
                name: Some("v1".into()),
                schema: Some(apiextensions::CustomResourceValidation { open_apiv3_schema: Some(schema) }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    };
    body("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd.encode_to_vec())
}

#[test]
fn deep_real_schemas_decode_and_deeper_ones_are_refused() {
    let json = decode(&nested_crd(90)).unwrap();
    let mut schema = &json["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    for _ in 0..90 {
        schema = &schema["properties"]["child"];
    }
    assert_eq!(schema, &serde_json::json!({"type": "string"}));
    assert!(matches!(decode(&nested_crd(NESTING_REFUSED)), Err(DecodeError::TooDeep { .. })));
}
