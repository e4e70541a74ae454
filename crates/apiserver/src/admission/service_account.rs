//! ServiceAccount: a new pod runs as a service account that exists (`default` unless it
//! names one), inherits its image pull secrets, and gets the projected API-access volume
//! (token, cluster CA, namespace) mounted in every container unless automounting is off.
//! Mirror pods are left alone but may reference neither service accounts nor secrets.

use super::canonical::canonicalize;
use super::refusal::forbidden;
use crate::registry::admission::{Admission, Attributes, Operation};
use crate::registry::{Registry, Subresource, object};
use crate::status::{ApiError, ApiResult};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::Duration;

pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// Where the token, `ca.crt` and `namespace` files appear in containers.
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const VOLUME_PREFIX: &str = "kube-api-access-";
pub const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// Upstream's warn-only bound token lifetime: one hour and seven seconds.
const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// How often to look for the `default` account, which its controller may still be creating.
const DEFAULT_ACCOUNT_ATTEMPTS: usize = 10;

pub struct ServiceAccount;

#[async_trait]
impl Admission for ServiceAccount {
    async fn admit(
        &self,
        registry: &Registry,
        attrs: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        let def = attrs.def;
        if attrs.operation != Operation::Create
            || attrs.subresource != Subresource::Main
            || !def.group.is_empty()
            || def.plural != "pods"
        {
            return Ok(());
        }
        if is_mirror_pod(obj) {
            return check_mirror_pod(attrs, obj);
        }
        let name = match obj.pointer("/spec/serviceAccountName").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => n.to_owned(),
            _ => DEFAULT_SERVICE_ACCOUNT.to_owned(),
        };
        let account = find_account(registry, attrs.namespace, &name).await.map_err(|e| {
            forbidden(attrs, obj, format!("error looking up service account {}/{name}: {e}", attrs.namespace))
        })?;
        let spec = &mut obj["spec"];
        spec["serviceAccountName"] = Value::String(name.clone());
        spec["serviceAccount"] = Value::String(name);
        if automount(spec, &account) {
            mount_token(spec);
        }
        let has_pull_secrets = spec.get("imagePullSecrets").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
        if let (false, Some(secrets)) = (has_pull_secrets, account.get("imagePullSecrets").and_then(Value::as_array)) {
            let refs: Vec<Value> =
                secrets.iter().map(|s| json!({"name": s.get("name").cloned().unwrap_or_default()})).collect();
            spec["imagePullSecrets"] = Value::Array(refs);
        }
        canonicalize(def, obj);
        Ok(())
    }
}

/// The named account; `default` is retried briefly since its controller creates it
/// right after the namespace.
async fn find_account(registry: &Registry, namespace: &str, name: &str) -> ApiResult<Value> {
    let def = resources::find("", "v1", "serviceaccounts").expect("serviceaccounts are served");
    let attempts = if name == DEFAULT_SERVICE_ACCOUNT { DEFAULT_ACCOUNT_ATTEMPTS } else { 1 };
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 + rand::random_range(0..100))).await;
        }
        match registry.get(def, namespace, name).await {
            Err(ApiError::NotFound { .. }) => continue,
            other => return other,
        }
    }
    // Upstream names the resource in the singular here.
    Err(ApiError::not_found("serviceaccount", name, crate::registry::subject(def, name)))
}

/// The pod's choice wins, then the account's; mounting is the default.
fn automount(spec: &Value, account: &Value) -> bool {
    spec.get("automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| account.get("automountServiceAccountToken").and_then(Value::as_bool))
        .unwrap_or(true)
}

/// Mount the API-access volume in every container without a mount at the token path,
/// adding the volume (reusing an existing `kube-api-access-*` one) if any needed it.
fn mount_token(spec: &mut Value) {
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .find(|n| n.starts_with(VOLUME_PREFIX))
        .map(str::to_owned);
    let volume_name = existing.clone().unwrap_or_else(|| format!("{VOLUME_PREFIX}{}", object::random_suffix()));
    let mut mounted = false;
    for field in ["initContainers", "containers"] {
        for container in spec.get_mut(field).and_then(Value::as_array_mut).into_iter().flatten() {
            let mounts = container.get("volumeMounts").and_then(Value::as_array);
            if mounts
                .into_iter()
                .flatten()
                .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(TOKEN_MOUNT_PATH))
            {
                continue;
            }
            let mount = json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
            match container.get_mut("volumeMounts").and_then(Value::as_array_mut) {
                Some(list) => list.push(mount),
                None => container["volumeMounts"] = json!([mount]),
            }
            mounted = true;
        }
    }
    if mounted && existing.is_none() {
        let volume = token_volume(&volume_name);
        match spec.get_mut("volumes").and_then(Value::as_array_mut) {
            Some(list) => list.push(volume),
            None => spec["volumes"] = json!([volume]),
        }
    }
}

/// Upstream's `TokenVolumeSource`: a bound token, the cluster CA and the namespace.
fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [
                    {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                ]}}
            ],
            "defaultMode": 420
        }
    })
}

pub fn is_mirror_pod(pod: &Value) -> bool {
    pod.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| a.contains_key(MIRROR_POD_ANNOTATION))
}

/// Mirror pods mirror a kubelet's static pod and may not reach for API credentials.
fn check_mirror_pod(attrs: &Attributes<'_>, pod: &Value) -> ApiResult<()> {
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    if spec.get("serviceAccountName").and_then(Value::as_str).is_some_and(|n| !n.is_empty()) {
        return Err(forbidden(attrs, pod, "a mirror pod may not reference service accounts"));
    }
    if references_secrets(spec) {
        return Err(forbidden(attrs, pod, "a mirror pod may not reference secrets"));
    }
    let projections = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.pointer("/projected/sources").and_then(Value::as_array))
        .flatten();
    if projections.clone().any(|s| s.get("serviceAccountToken").is_some()) {
        return Err(forbidden(attrs, pod, "a mirror pod may not use ServiceAccountToken volume projections"));
    }
    Ok(())
}

/// Whether a pod spec names a secret anywhere (pull secrets, volumes, env).
pub fn references_secrets(spec: &Value) -> bool {
    let nonempty = |v: &Value| v.get("imagePullSecrets").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    let volumes = spec.get("volumes").and_then(Value::as_array).into_iter().flatten();
    let in_volumes = volumes.clone().any(|v| {
        v.get("secret").is_some()
            || v.pointer("/projected/sources")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(|p| p.get("secret").is_some()))
    });
    let in_env = super::pod_resources::all_containers_of_spec(spec).any(|c| {
        let env = c.get("env").and_then(Value::as_array).into_iter().flatten();
        let env_from = c.get("envFrom").and_then(Value::as_array).into_iter().flatten();
        env.clone().any(|e| e.pointer("/valueFrom/secretKeyRef").is_some())
            || env_from.clone().any(|e| e.get("secretRef").is_some())
    });
    nonempty(spec) || in_volumes || in_env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::WriteOptions;
    use std::sync::Arc;

    async fn registry(dir: &std::path::Path) -> Registry {
        let store = Arc::new(storage::sqlite::SqliteStore::open(&dir.join("state.db")).unwrap());
        let r = Registry::new(store).with_admission(Arc::new(ServiceAccount));
        let ns = resources::find("", "v1", "namespaces").unwrap();
        r.create(ns, "", json!({"metadata": {"name": "ns"}}), &WriteOptions::default()).await.unwrap();
        r
    }

    async fn create_account(r: &Registry, name: &str, extra: Value) {
        let def = resources::find("", "v1", "serviceaccounts").unwrap();
        let mut sa = json!({"metadata": {"name": name}});
        sa.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        r.create(def, "ns", sa, &WriteOptions::default()).await.unwrap();
    }

    async fn create_pod(r: &Registry, pod: Value) -> ApiResult<Value> {
        let def = resources::find("", "v1", "pods").unwrap();
        r.create(def, "ns", pod, &WriteOptions::default()).await.map(|w| w.object)
    }

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": spec})
    }

    #[tokio::test]
    async fn defaults_the_account_and_mounts_the_api_access_volume() {
        let dir = tempfile::tempdir().unwrap();
        let r = registry(dir.path()).await;
        create_account(&r, "default", json!({"imagePullSecrets": [{"name": "regcred"}]})).await;
        let spec =
            json!({"initContainers": [{"name": "i", "image": "x"}], "containers": [{"name": "c", "image": "x"}]});
        let created = create_pod(&r, pod(spec)).await.unwrap();
        let spec = &created["spec"];
        assert_eq!(spec["serviceAccountName"], "default");
        assert_eq!(spec["serviceAccount"], "default");
        assert_eq!(spec["imagePullSecrets"], json!([{"name": "regcred"}]));
        let volume = &spec["volumes"][0];
        let name = volume["name"].as_str().unwrap();
        assert!(name.starts_with("kube-api-access-") && name.len() == "kube-api-access-".len() + 5);
        assert_eq!(volume["projected"]["defaultMode"], 420);
        assert_eq!(volume["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"], 3607);
        assert_eq!(volume["projected"]["sources"][1]["configMap"]["name"], "kube-root-ca.crt");
        for c in [&spec["containers"][0], &spec["initContainers"][0]] {
            assert_eq!(c["volumeMounts"], json!([{"mountPath": TOKEN_MOUNT_PATH, "name": name, "readOnly": true}]));
        }
    }

    #[tokio::test]
    async fn automount_off_and_existing_mounts_are_respected() {
        let dir = tempfile::tempdir().unwrap();
        let r = registry(dir.path()).await;
        create_account(&r, "quiet", json!({"automountServiceAccountToken": false})).await;
        let quiet =
            create_pod(&r, pod(json!({"serviceAccountName": "quiet", "containers": [{"name": "c", "image": "x"}]})))
                .await
                .unwrap();
        assert!(quiet["spec"].get("volumes").is_none());
        create_account(&r, "default", json!({})).await;
        let own_mount = json!({"name": "mine", "mountPath": TOKEN_MOUNT_PATH});
        let spec = json!({"volumes": [{"name": "mine", "emptyDir": {}}],
                          "containers": [{"name": "c", "image": "x", "volumeMounts": [own_mount]}]});
        let mut own = pod(spec);
        own["metadata"]["name"] = json!("own");
        let created = create_pod(&r, own).await.unwrap();
        assert_eq!(created["spec"]["volumes"].as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_missing_account_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let r = registry(dir.path()).await;
        let err =
            create_pod(&r, pod(json!({"serviceAccountName": "ghost", "containers": [{"name": "c", "image": "x"}]})))
                .await
                .unwrap_err();
        assert_eq!(err.code(), 403);
        assert_eq!(
            err.to_string(),
            "pods \"p\" is forbidden: error looking up service account ns/ghost: serviceaccount \"ghost\" not found"
        );
    }

    #[tokio::test]
    async fn mirror_pods_are_not_changed_and_may_not_use_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let r = registry(dir.path()).await;
        let mirror =
            |spec: Value| json!({"metadata": {"name": "p", "annotations": {MIRROR_POD_ANNOTATION: "x"}}, "spec": spec});
        let created = create_pod(&r, mirror(json!({"containers": [{"name": "c", "image": "x"}]}))).await.unwrap();
        assert!(created["spec"].get("serviceAccountName").is_none());
        let env = json!([{"name": "E", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]);
        let err =
            create_pod(&r, mirror(json!({"containers": [{"name": "c", "image": "x", "env": env}]}))).await.unwrap_err();
        assert_eq!(err.to_string(), "pods \"p\" is forbidden: a mirror pod may not reference secrets");
    }
}
