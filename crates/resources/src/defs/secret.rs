//! core/v1 Secret: small pieces of sensitive data (tokens, keys, certificates).

use super::shared::default_str;
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{config_key, meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "Secret",
    plural: "secrets",
    singular: "secret",
    short_names: &[],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.core.v1.Secret",
    strategy: &Typed(SecretStrategy),
};

pub struct SecretStrategy;

/// Upstream's `MaxSecretSize`: all values together at most 1 MiB.
const MAX_SECRET_SIZE: usize = 1024 * 1024;
const SERVICE_ACCOUNT_NAME_KEY: &str = "kubernetes.io/service-account.name";

fn has(secret: &Secret, key: &str) -> bool {
    secret.data.as_ref().is_some_and(|d| d.contains_key(key))
}

/// Keys a secret of `type` must hold, beyond the generic checks.
fn validate_type(secret: &Secret) -> Vec<FieldError> {
    let data = FieldPath::new("data");
    let required = |key: &str| FieldError::required(&data.key(key), "");
    let json_key = |key: &str| -> Vec<FieldError> {
        match secret.data.as_ref().and_then(|d| d.get(key)) {
            None => vec![required(key)],
            Some(v) => match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&v.0) {
                Ok(_) => Vec::new(),
                Err(e) => vec![FieldError::invalid(&data.key(key), "<secret contents redacted>", e.to_string())],
            },
        }
    };
    match secret.type_.as_deref().unwrap_or_default() {
        "kubernetes.io/service-account-token" => {
            let name = secret.metadata.annotations.as_ref().and_then(|a| a.get(SERVICE_ACCOUNT_NAME_KEY));
            if name.is_none_or(String::is_empty) {
                let path = FieldPath::new("metadata").child("annotations").key(SERVICE_ACCOUNT_NAME_KEY);
                return vec![FieldError::required(&path, "")];
            }
            Vec::new()
        }
        "kubernetes.io/dockercfg" => json_key(".dockercfg"),
        "kubernetes.io/dockerconfigjson" => json_key(".dockerconfigjson"),
        "kubernetes.io/basic-auth" if !has(secret, "username") && !has(secret, "password") => {
            vec![required("username"), required("password")]
        }
        "kubernetes.io/ssh-auth" => {
            let empty = secret.data.as_ref().and_then(|d| d.get("ssh-privatekey")).is_none_or(|v| v.0.is_empty());
            if empty { vec![required("ssh-privatekey")] } else { Vec::new() }
        }
        "kubernetes.io/tls" => ["tls.crt", "tls.key"].into_iter().filter(|k| !has(secret, k)).map(required).collect(),
        _ => Vec::new(),
    }
}

fn validate_data(secret: &Secret) -> Vec<FieldError> {
    let path = FieldPath::new("data");
    let data = secret.data.clone().unwrap_or_default();
    let mut errs = config_key::validate_keys(data.keys(), &path);
    if data.values().map(|v| v.0.len()).sum::<usize>() > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long(&path, MAX_SECRET_SIZE));
    }
    errs.extend(validate_type(secret));
    errs
}

impl TypedStrategy for SecretStrategy {
    type Object = Secret;
    const FIELD_SELECTORS: &'static [&'static str] = &["type"];

    /// `stringData` is write-only: its entries replace those of `data` (base64 on the
    /// wire), as upstream's conversion does, and the field is dropped.
    fn default(&self, secret: &mut Secret) {
        if let Some(string_data) = secret.string_data.take() {
            let data = secret.data.get_or_insert_with(Default::default);
            for (k, v) in string_data {
                data.insert(k, ByteString(v.into_bytes()));
            }
        }
        default_str(&mut secret.type_, "Opaque");
    }

    fn validate(&self, secret: &Secret) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&secret.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_data(secret));
        errs
    }

    fn validate_update(&self, new: &Secret, old: &Secret) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        if new.type_ != old.type_ {
            errs.push(FieldError::invalid(
                &FieldPath::new("type"),
                new.type_.clone().unwrap_or_default(),
                "field is immutable",
            ));
        }
        if old.immutable == Some(true) {
            if new.immutable != Some(true) {
                errs.push(FieldError::forbidden(
                    &FieldPath::new("immutable"),
                    "field is immutable when `immutable` is set",
                ));
            }
            if new.data != old.data {
                errs.push(FieldError::forbidden(&FieldPath::new("data"), "field is immutable when `immutable` is set"));
            }
        }
        errs.extend(validate_data(new));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new(
                "Type",
                "string",
                "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
            ),
            Column::new(
                "Data",
                "string",
                "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4",
            ),
            Column::AGE,
        ]
    }

    fn cells(&self, secret: &Secret) -> Vec<Cell> {
        vec![
            table::name(&secret.metadata),
            secret.type_.clone().unwrap_or_default().into(),
            secret.data.as_ref().map_or(0, |d| d.len()).into(),
            table::age(&secret.metadata),
        ]
    }

    fn selectable_fields(&self, secret: &Secret) -> Vec<(&'static str, String)> {
        vec![("type", secret.type_.clone().unwrap_or_default())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaulted(obj: serde_json::Value) -> serde_json::Value {
        let mut v = DEF.strategy.decode(obj).unwrap().object;
        DEF.strategy.default(&mut v);
        v
    }

    #[test]
    fn string_data_folds_into_data() {
        let v = defaulted(json!({
            "metadata": {"name": "s", "namespace": "default"},
            "data": {"a": "b2xk", "b": "Yg=="},
            "stringData": {"a": "new", "c": "hello"}
        }));
        assert_eq!(v["type"], "Opaque");
        assert!(v.get("stringData").is_none());
        assert_eq!(v["data"], json!({"a": "bmV3", "b": "Yg==", "c": "aGVsbG8="}));
        assert_eq!(DEF.strategy.cells(&v)[2], 3);
        assert_eq!(DEF.strategy.selectable_fields(&v), vec![("type", "Opaque".to_owned())]);
    }

    #[test]
    fn tls_secret_needs_cert_and_key() {
        let v = defaulted(json!({
            "metadata": {"name": "t", "namespace": "default"},
            "type": "kubernetes.io/tls",
            "stringData": {"tls.crt": "x"}
        }));
        let msgs: Vec<String> = DEF.strategy.validate(&v).iter().map(ToString::to_string).collect();
        assert_eq!(msgs, vec!["data[tls.key]: Required value"]);
    }

    #[test]
    fn token_secret_needs_account_annotation_and_type_is_immutable() {
        let v = defaulted(json!({
            "metadata": {"name": "t", "namespace": "default"},
            "type": "kubernetes.io/service-account-token"
        }));
        let msgs: Vec<String> = DEF.strategy.validate(&v).iter().map(ToString::to_string).collect();
        assert_eq!(msgs, vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"]);
        let old = defaulted(json!({"metadata": {"name": "t", "namespace": "default"}}));
        let mut new = old.clone();
        new["type"] = json!("kubernetes.io/basic-auth");
        new["data"] = json!({"username": "YQ=="});
        let msgs: Vec<String> = DEF.strategy.validate_update(&new, &old).iter().map(ToString::to_string).collect();
        assert_eq!(msgs, vec!["type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"]);
    }
}
