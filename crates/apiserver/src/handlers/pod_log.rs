//! `pods/log`: the API server picks the container as upstream's `LogLocation` does (the
//! only one, the `kubectl.kubernetes.io/default-container`, or a 400 naming the choices),
//! then streams the node's kubelet's `/containerLogs` answer through. A kubelet's refusal
//! (e.g. a container still waiting to start) comes back as upstream words it, a 400.

use super::resource::Call;
use crate::kubelet_client::KubeletAddress;
use crate::server::ApiServer;
use crate::status::{ApiError, ApiResult};
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use resources::ResourceDef;
use serde_json::Value;

/// The query parameters the kubelet understands.
const FORWARDED: [&str; 7] =
    ["follow", "previous", "sinceSeconds", "sinceTime", "timestamps", "tailLines", "limitBytes"];

/// The names of a pod's containers of one kind (`containers`, `initContainers`, ...).
fn names(pod: &Value, kind: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{kind}"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|c| c["name"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The container to read, as upstream's `validateContainer` picks it.
pub fn pick_container(pod: &Value, asked: &str) -> ApiResult<String> {
    let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let (containers, inits, ephemerals) =
        (names(pod, "containers"), names(pod, "initContainers"), names(pod, "ephemeralContainers"));
    if asked.is_empty() {
        let default =
            pod.pointer("/metadata/annotations/kubectl.kubernetes.io~1default-container").and_then(Value::as_str);
        if let Some(default) = default.filter(|d| containers.iter().any(|c| c == d)) {
            return Ok(default.to_owned());
        }
        if containers.len() == 1 {
            return Ok(containers[0].clone());
        }
        let mut message =
            format!("a container name must be specified for pod {name}, choose one of: [{}]", containers.join(" "));
        if !inits.is_empty() {
            message.push_str(&format!(" or one of the init containers: [{}]", inits.join(" ")));
        }
        if !ephemerals.is_empty() {
            message.push_str(&format!(" or one of the ephemeral containers: [{}]", ephemerals.join(" ")));
        }
        return Err(ApiError::BadRequest(message));
    }
    if containers.iter().chain(&inits).chain(&ephemerals).any(|c| c == asked) {
        return Ok(asked.to_owned());
    }
    Err(ApiError::BadRequest(format!("container {asked} is not valid for pod {name}")))
}

/// Where the kubelet of the node `pod` is bound to listens.
pub async fn kubelet_of(state: &ApiServer, pod: &Value) -> ApiResult<KubeletAddress> {
    let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let node_name = pod.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or_default();
    if node_name.is_empty() {
        return Err(ApiError::BadRequest(format!("pod {name} does not have a host assigned")));
    }
    let nodes = resources::find("", "v1", "nodes").expect("nodes are served");
    let node = state.registry.get(nodes, "", node_name).await?;
    KubeletAddress::of(&node)
        .ok_or_else(|| ApiError::BadRequest(format!("node {node_name} has no address for its kubelet")))
}

pub async fn handle(state: &ApiServer, def: &'static ResourceDef, ns: &str, call: &Call<'_>) -> ApiResult<Response> {
    if call.info.verb != "get" {
        return Err(ApiError::MethodNotAllowed(format!("{} is not supported on pods/log", call.info.verb)));
    }
    let name = call.info.name.as_str();
    let pod = state.registry.get(def, ns, name).await?;
    let container = pick_container(&pod, call.query.get("container").unwrap_or_default())?;
    let address = kubelet_of(state, &pod).await?;
    let mut path = format!("/containerLogs/{ns}/{name}/{container}");
    let query: Vec<String> = FORWARDED
        .iter()
        .filter_map(|key| {
            call.query
                .get(key)
                .map(|value| format!("{key}={}", form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()))
        })
        .collect();
    if !query.is_empty() {
        path.push('?');
        path.push_str(&query.join("&"));
    }
    let request =
        hyper::Request::get(path).body(Empty::<Bytes>::new()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let response = state.kubelets.send(&address, request).await?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let message = String::from_utf8_lossy(&body).trim().to_owned();
        return Err(if status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND {
            ApiError::BadRequest(message)
        } else {
            ApiError::Internal(message)
        });
    }
    let mut out = Response::new(Body::new(response.into_body()));
    out.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_container_is_picked_as_upstream_does() {
        let one = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "web"}]}});
        assert_eq!(pick_container(&one, "").unwrap(), "web");
        let two = json!({"metadata": {"name": "p", "annotations": {}}, "spec": {"containers": [{"name": "a"}, {"name": "b"}], "initContainers": [{"name": "i"}]}});
        let error = pick_container(&two, "").unwrap_err().to_string();
        assert_eq!(
            error,
            "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [i]"
        );
        assert_eq!(pick_container(&two, "i").unwrap(), "i");
        assert_eq!(pick_container(&two, "x").unwrap_err().to_string(), "container x is not valid for pod p");
        let defaulted = json!({"metadata": {"name": "p", "annotations": {"kubectl.kubernetes.io/default-container": "b"}}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(pick_container(&defaulted, "").unwrap(), "b");
    }
}
