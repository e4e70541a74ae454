//! Container lifecycle hooks, as upstream runs them: `postStart` right after the container
//! starts (the container counts as started only when it returns; a failure kills it), and
//! `preStop` before the stop signal, within the grace period. Handlers: `exec` (CRI
//! `ExecSync`), `httpGet` and `sleep`.

use super::probe::http_get;
use crate::cri::Cri;
use k8s_cri::v1::ExecSyncRequest;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::time::Duration;

/// Run `handler` for `container` (instance `id`, in a pod at `pod_ip`) within `limit`.
pub async fn run(
    cri: &Cri,
    handler: &LifecycleHandler,
    container: &Container,
    id: &str,
    pod_ip: &str,
    limit: Duration,
) -> Result<(), String> {
    let work = async {
        if let Some(exec) = &handler.exec {
            let request = ExecSyncRequest {
                container_id: id.to_owned(),
                cmd: exec.command.clone().unwrap_or_default(),
                timeout: limit.as_secs() as i64,
            };
            let response = cri.runtime().exec_sync(request).await.map_err(|s| s.message().to_owned())?.into_inner();
            if response.exit_code != 0 {
                let mut output = String::from_utf8_lossy(&response.stdout).into_owned();
                output.push_str(&String::from_utf8_lossy(&response.stderr));
                return Err(format!(
                    "command {:?} exited with {}: {output}",
                    exec.command.clone().unwrap_or_default(),
                    response.exit_code
                ));
            }
            return Ok(());
        }
        if let Some(http) = &handler.http_get {
            let host = http.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| pod_ip.to_owned());
            let port = match &http.port {
                IntOrString::Int(port) => *port as u16,
                IntOrString::String(name) => container
                    .ports
                    .iter()
                    .flatten()
                    .find(|p| p.name.as_deref() == Some(name.as_str()))
                    .map(|p| p.container_port as u16)
                    .ok_or_else(|| format!("couldn't find port {name:?}"))?,
            };
            let path = http.path.clone().unwrap_or_else(|| "/".to_owned());
            let headers: Vec<(String, String)> =
                http.http_headers.iter().flatten().map(|h| (h.name.clone(), h.value.clone())).collect();
            let status = http_get(&host, port, &path, &headers, http.scheme.as_deref() == Some("HTTPS")).await?;
            return if (200..400).contains(&status) {
                Ok(())
            } else {
                Err(format!("HTTP lifecycle hook failed with status {status}"))
            };
        }
        if let Some(sleep) = &handler.sleep {
            tokio::time::sleep(Duration::from_secs(sleep.seconds.max(0) as u64)).await;
        }
        Ok(())
    };
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err(format!("hook timed out after {}s", limit.as_secs())))
}
