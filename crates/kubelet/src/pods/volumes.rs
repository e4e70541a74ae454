//! A pod's volumes on the node, under `pods/<uid>/volumes/kubernetes.io~<plugin>/<name>` as
//! upstream's kubelet lays them out: emptyDir (a directory, or a tmpfs for
//! `medium: Memory`), configMap, secret, downwardAPI and projected (written by the
//! [`atomic_writer`](super::atomic_writer), so updates appear in place), and hostPath.
//! Service-account tokens come from the TokenRequest API, bound to the pod, and are renewed
//! when 80% of their lifetime has passed.

use super::atomic_writer::{self, File};
use super::fields::Downward;
use super::objects::{Missing, Objects};
use crate::paths::Paths;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{KeyToPath, Pod, ServiceAccount, Volume};
use kube::api::{Api, PostParams};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Upstream's default file mode of configMap, secret, projected and downward API files.
const DEFAULT_MODE: i32 = 0o644;

/// A service-account token a pod holds, and when to renew it.
struct Token {
    value: String,
    renew_at: Instant,
}

/// What a pod's volumes keep between syncs: its tokens.
#[derive(Default)]
pub struct VolumeState {
    tokens: HashMap<String, Token>,
}

/// What building the volumes needs besides the pod.
pub struct VolumeInputs<'a> {
    pub client: &'a kube::Client,
    pub paths: &'a Paths,
    pub downward: Downward<'a>,
}

/// Set up (or refresh) every volume of `pod`; returns each volume's host path by name.
pub async fn prepare(
    pod: &Pod,
    inputs: &VolumeInputs<'_>,
    objects: &mut Objects,
    state: &mut VolumeState,
) -> Result<HashMap<String, PathBuf>, Missing> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let root = inputs.paths.pod_dir(&uid).join("volumes");
    let mut prepared = HashMap::new();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let dir = |plugin: &str| root.join(format!("kubernetes.io~{plugin}")).join(&volume.name);
        let claimed = match &volume.persistent_volume_claim {
            Some(claim) => Some(claimed_path(inputs.client, pod, &claim.claim_name).await?),
            None => None,
        };
        let path = if let Some(path) = claimed {
            path
        } else if let Some(host) = &volume.host_path {
            let path = PathBuf::from(&host.path);
            if matches!(host.type_.as_deref(), Some("DirectoryOrCreate")) {
                std::fs::create_dir_all(&path).map_err(|e| Missing(format!("hostPath {}: {e}", host.path)))?;
            }
            path
        } else if let Some(empty) = &volume.empty_dir {
            let path = dir("empty-dir");
            let memory = empty.medium.as_deref() == Some("Memory");
            let size = empty.size_limit.as_ref().map(|q| q.0.clone());
            ensure_empty_dir(&path, memory, size.as_deref())
                .map_err(|e| Missing(format!("emptyDir {}: {e}", volume.name)))?;
            path
        } else {
            let (plugin, files) = match files_of(pod, volume, inputs, objects, state).await? {
                Some(found) => found,
                None => {
                    tracing::debug!(volume = %volume.name, "volume type not supported; skipped");
                    continue;
                }
            };
            let path = dir(plugin);
            atomic_writer::write(&path, &files).map_err(|e| Missing(format!("writing volume {}: {e}", volume.name)))?;
            path
        };
        prepared.insert(volume.name.clone(), path);
    }
    Ok(prepared)
}

/// The directory of the volume bound to claim `name` (a hostPath or local volume on this
/// node, created if missing); an error while the claim is unbound.
async fn claimed_path(client: &kube::Client, pod: &Pod, name: &str) -> Result<PathBuf, Missing> {
    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace);
    let claim = claims
        .get_opt(name)
        .await
        .map_err(|e| Missing(format!("persistentvolumeclaim \"{name}\": {e}")))?
        .ok_or_else(|| Missing(format!("persistentvolumeclaim \"{name}\" not found")))?;
    let volume_name = claim.spec.and_then(|s| s.volume_name).filter(|v| !v.is_empty());
    let Some(volume_name) = volume_name else {
        return Err(Missing(format!("persistentvolumeclaim \"{name}\" is not bound")));
    };
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let volume =
        volumes.get(&volume_name).await.map_err(|e| Missing(format!("persistentvolume \"{volume_name}\": {e}")))?;
    let spec = volume.spec.unwrap_or_default();
    let path = spec
        .host_path
        .map(|h| h.path)
        .or(spec.local.map(|l| l.path))
        .ok_or_else(|| Missing(format!("persistentvolume \"{volume_name}\" is neither hostPath nor local")))?;
    std::fs::create_dir_all(&path).map_err(|e| Missing(format!("creating {path}: {e}")))?;
    Ok(PathBuf::from(path))
}

fn ensure_empty_dir(path: &std::path::Path, memory: bool, size: Option<&str>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if !path.exists() {
        std::fs::create_dir_all(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))?;
        if memory {
            let options = size.map(|s| format!("size={}", super::fields::quantity_bytes(s)));
            nix::mount::mount(Some("tmpfs"), path, Some("tmpfs"), nix::mount::MsFlags::empty(), options.as_deref())
                .map_err(std::io::Error::from)?;
        }
    }
    Ok(())
}

/// The plugin directory name and files of a file-backed volume; `None` for volume types
/// this node does not handle.
async fn files_of(
    pod: &Pod,
    volume: &Volume,
    inputs: &VolumeInputs<'_>,
    objects: &mut Objects,
    state: &mut VolumeState,
) -> Result<Option<(&'static str, BTreeMap<String, File>)>, Missing> {
    let mut files = BTreeMap::new();
    let plugin = if let Some(source) = &volume.config_map {
        let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
        let data = objects.required_config_map(&source.name, source.optional.unwrap_or(false)).await?;
        add_keys(&mut files, data, &source.items, mode, "configmap", &source.name)?;
        "configmap"
    } else if let Some(source) = &volume.secret {
        let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
        let name = source.secret_name.clone().unwrap_or_default();
        let data = objects.required_secret(&name, source.optional.unwrap_or(false)).await?;
        add_keys(&mut files, data, &source.items, mode, "secret", &name)?;
        "secret"
    } else if let Some(source) = &volume.downward_api {
        let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
        for item in source.items.iter().flatten() {
            let value = downward_value(pod, item.field_ref.as_ref(), item.resource_field_ref.as_ref(), inputs)?;
            files.insert(
                item.path.clone(),
                File { content: value.into_bytes(), mode: item.mode.unwrap_or(mode) as u32 },
            );
        }
        "downward-api"
    } else if let Some(source) = &volume.projected {
        let mode = source.default_mode.unwrap_or(DEFAULT_MODE);
        for projection in source.sources.iter().flatten() {
            if let Some(cm) = &projection.config_map {
                let data = objects.required_config_map(&cm.name, cm.optional.unwrap_or(false)).await?;
                add_keys(&mut files, data, &cm.items, mode, "configmap", &cm.name)?;
            }
            if let Some(secret) = &projection.secret {
                let data = objects.required_secret(&secret.name, secret.optional.unwrap_or(false)).await?;
                add_keys(&mut files, data, &secret.items, mode, "secret", &secret.name)?;
            }
            if let Some(downward) = &projection.downward_api {
                for item in downward.items.iter().flatten() {
                    let value = downward_value(pod, item.field_ref.as_ref(), item.resource_field_ref.as_ref(), inputs)?;
                    files.insert(
                        item.path.clone(),
                        File { content: value.into_bytes(), mode: item.mode.unwrap_or(mode) as u32 },
                    );
                }
            }
            if let Some(token) = &projection.service_account_token {
                let key = format!("{}/{}/{}", volume.name, token.path, token.audience.clone().unwrap_or_default());
                let value = service_account_token(pod, inputs.client, token, &key, state).await?;
                files.insert(token.path.clone(), File { content: value.into_bytes(), mode: mode as u32 });
            }
        }
        "projected"
    } else {
        return Ok(None);
    };
    Ok(Some((plugin, files)))
}

fn downward_value(
    pod: &Pod,
    field: Option<&k8s_openapi::api::core::v1::ObjectFieldSelector>,
    resource: Option<&k8s_openapi::api::core::v1::ResourceFieldSelector>,
    inputs: &VolumeInputs<'_>,
) -> Result<String, Missing> {
    if let Some(field) = field {
        return inputs.downward.field(pod, field).map_err(Missing);
    }
    if let Some(resource) = resource {
        return inputs.downward.resource(pod, "", resource).map_err(Missing);
    }
    Ok(String::new())
}

/// Add the keys of `data` (all of them, or the listed `items` with their paths and modes).
fn add_keys(
    files: &mut BTreeMap<String, File>,
    data: Option<BTreeMap<String, Vec<u8>>>,
    items: &Option<Vec<KeyToPath>>,
    mode: i32,
    kind: &str,
    name: &str,
) -> Result<(), Missing> {
    let Some(data) = data else { return Ok(()) };
    match items {
        Some(items) if !items.is_empty() => {
            for item in items {
                let Some(content) = data.get(&item.key) else {
                    return Err(Missing(format!("configuration of {kind} {name}: key {} not found", item.key)));
                };
                files.insert(
                    item.path.clone(),
                    File { content: content.clone(), mode: item.mode.unwrap_or(mode) as u32 },
                );
            }
        }
        _ => {
            for (key, content) in data {
                files.insert(key, File { content, mode: mode as u32 });
            }
        }
    }
    Ok(())
}

/// A token for the pod's service account from the TokenRequest API, bound to the pod; kept
/// until 80% of its lifetime has passed.
async fn service_account_token(
    pod: &Pod,
    client: &kube::Client,
    projection: &k8s_openapi::api::core::v1::ServiceAccountTokenProjection,
    key: &str,
    state: &mut VolumeState,
) -> Result<String, Missing> {
    if let Some(token) = state.tokens.get(key).filter(|t| t.renew_at > Instant::now()) {
        return Ok(token.value.clone());
    }
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let account = pod.spec.as_ref().and_then(|s| s.service_account_name.clone()).unwrap_or_else(|| "default".into());
    let expiration = projection.expiration_seconds.unwrap_or(3600);
    let request: TokenRequest = serde_json::from_value(json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {
            "audiences": projection.audience.iter().filter(|a| !a.is_empty()).collect::<Vec<_>>(),
            "expirationSeconds": expiration,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": pod.metadata.name, "uid": pod.metadata.uid},
        },
    }))
    .expect("a TokenRequest");
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let issued: TokenRequest = api
        .create_subresource("token", &account, &PostParams::default(), &request)
        .await
        .map_err(|e| Missing(format!("failed to fetch token: {e}")))?;
    let status =
        issued.status.ok_or_else(|| Missing("failed to fetch token: the answer carries no token".to_owned()))?;
    // The lifetime the API server granted (it may cap the request), as upstream's kubelet
    // reads it from the answer; renewed once 80% of it has passed.
    let granted = status.expiration_timestamp.0.duration_since(jiff::Timestamp::now()).as_secs();
    let lifetime = Duration::from_secs(if granted > 0 { granted as u64 } else { expiration.max(600) as u64 });
    let renew = renew_at(Instant::now(), lifetime);
    state.tokens.insert(key.to_owned(), Token { value: status.token.clone(), renew_at: renew });
    Ok(status.token)
}

/// When a token issued at `issued` for `lifetime` is renewed: after 80% of it.
fn renew_at(issued: Instant, lifetime: Duration) -> Instant {
    issued + lifetime.mul_f64(0.8)
}

/// Remove a pod's volume directories (unmounting memory-backed emptyDirs first).
pub fn clean_up(paths: &Paths, uid: &str) {
    let dir = paths.pod_dir(uid);
    let empty_dirs = dir.join("volumes/kubernetes.io~empty-dir");
    for entry in std::fs::read_dir(&empty_dirs).into_iter().flatten().flatten() {
        let _ = nix::mount::umount2(&entry.path(), nix::mount::MntFlags::MNT_DETACH);
    }
    if let Err(error) = std::fs::remove_dir_all(&dir)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(dir = %dir.display(), %error, "removing a pod's directory failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_after_eighty_percent_of_their_lifetime() {
        let issued = Instant::now();
        assert_eq!(renew_at(issued, Duration::from_secs(3600)), issued + Duration::from_secs(2880));
        assert_eq!(renew_at(issued, Duration::from_secs(600)), issued + Duration::from_secs(480));
    }
}
