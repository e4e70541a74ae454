//! Making sure a container's image is on the node, as `imagePullPolicy` says: `Never`
//! only uses what is there, `IfNotPresent` pulls when missing, `Always` pulls every time
//! (through CRI `PullImage`, with the credentials of the pod's `imagePullSecrets`).

use super::objects::Objects;
use crate::cri::Cri;
use k8s_cri::v1::{AuthConfig, ImageSpec, ImageStatusRequest, PullImageRequest};
use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::Value;

/// What happened to the image.
pub enum Pulled {
    /// It was already there.
    Present,
    /// It was pulled now, taking `seconds`, `size` bytes.
    Now { seconds: f64, size: u64 },
}

/// Why the image is not there; `never` says the policy forbade pulling.
pub struct PullError {
    pub message: String,
    pub never: bool,
}

/// The policy for `container` (the API server defaults it; `:latest` or no tag means Always).
pub fn pull_policy(container: &Container) -> String {
    container.image_pull_policy.clone().unwrap_or_else(|| {
        let image = container.image.clone().unwrap_or_default();
        let tagged = image.rsplit('/').next().is_some_and(|last| last.contains(':')) || image.contains('@');
        if !tagged || image.ends_with(":latest") { "Always".into() } else { "IfNotPresent".into() }
    })
}

/// Whether `image` is on the node.
pub async fn present(cri: &Cri, image: &str) -> Result<Option<u64>, String> {
    let request =
        ImageStatusRequest { image: Some(ImageSpec { image: image.to_owned(), ..Default::default() }), verbose: false };
    let status = cri.images().image_status(request).await.map_err(|s| s.message().to_owned())?.into_inner();
    Ok(status.image.map(|i| i.size))
}

/// Whether `container`'s image must be pulled now, by its policy and whether it is
/// present; an error when the policy forbids the pull it needs.
pub async fn needs_pull(cri: &Cri, container: &Container) -> Result<bool, PullError> {
    let image = container.image.clone().unwrap_or_default();
    let present = present(cri, &image).await.map_err(|message| PullError { message, never: false })?;
    match (pull_policy(container).as_str(), present) {
        ("Never", None) => Err(PullError {
            message: format!("Container image \"{image}\" is not present with pull policy of Never"),
            never: true,
        }),
        ("Never" | "IfNotPresent", Some(_)) => Ok(false),
        _ => Ok(true),
    }
}

/// Pull `container`'s image, trying the credentials of the pod's `imagePullSecrets` for its
/// registry, then none.
pub async fn pull(cri: &Cri, pod: &Pod, container: &Container, objects: &mut Objects) -> Result<Pulled, PullError> {
    let image = container.image.clone().unwrap_or_default();
    let started = std::time::Instant::now();
    let credentials = credentials(pod, &image, objects).await;
    let mut last_error = String::new();
    for auth in credentials.into_iter().map(Some).chain(std::iter::once(None)) {
        let request = PullImageRequest {
            image: Some(ImageSpec { image: image.clone(), ..Default::default() }),
            auth,
            sandbox_config: None,
        };
        match cri.images().pull_image(request).await {
            Ok(_) => {
                let size = present(cri, &image).await.ok().flatten().unwrap_or(0);
                return Ok(Pulled::Now { seconds: started.elapsed().as_secs_f64(), size });
            }
            Err(status) => last_error = status.message().to_owned(),
        }
    }
    Err(PullError { message: last_error, never: false })
}

/// The registry host of an image reference (`docker.io` when it names none).
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => first.to_owned(),
        _ => "docker.io".to_owned(),
    }
}

/// Credentials for `image`'s registry from the pod's `imagePullSecrets`
/// (`kubernetes.io/dockerconfigjson` or the older `.dockercfg`).
async fn credentials(pod: &Pod, image: &str, objects: &mut Objects) -> Vec<AuthConfig> {
    let registry = registry_of(image);
    let mut found = Vec::new();
    let names = pod.spec.iter().flat_map(|s| s.image_pull_secrets.iter().flatten()).map(|r| r.name.clone());
    for name in names {
        let Ok(Some(data)) = objects.secret(&name).await else { continue };
        let config: Value = data
            .get(".dockerconfigjson")
            .or_else(|| data.get(".dockercfg"))
            .and_then(|raw| serde_json::from_slice(raw).ok())
            .unwrap_or(Value::Null);
        let auths = config.get("auths").unwrap_or(&config);
        for (server, entry) in auths.as_object().into_iter().flatten() {
            let host = server
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or_default();
            let matches = host == registry || (registry == "docker.io" && host == "index.docker.io");
            if matches {
                let field = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
                found.push(AuthConfig {
                    username: field("username"),
                    password: field("password"),
                    auth: field("auth"),
                    // Matched to the image's registry here; containerd would compare it
                    // again as a URL, which a bare `host:port` is not.
                    ..Default::default()
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_and_default_policies() {
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("library/busybox:1"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/app:v1"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/krust/pause:3.10"), "localhost");
        let container = |image: &str| Container { name: "c".into(), image: Some(image.into()), ..Default::default() };
        assert_eq!(pull_policy(&container("busybox")), "Always");
        assert_eq!(pull_policy(&container("busybox:latest")), "Always");
        assert_eq!(pull_policy(&container("localhost:5000/busybox:1.36")), "IfNotPresent");
    }
}
