//! `pods/exec`, `pods/attach` and `pods/portforward`, as kubectl speaks them: the API server
//! finds the pod's kubelet and connects to its `/exec`, `/attach` or `/portForward` with
//! an HTTP upgrade to SPDY/3.1. What the client asked for decides the rest:
//! - SPDY/3.1 (kubectl's fallback): the upgrade is forwarded and the bytes joined;
//! - WebSocket `v5.channel.k8s.io` (kubectl's default for exec and attach): the API server
//!   translates ([`super::stream_translator`]) between the WebSocket channels and the
//!   SPDY streams of `v4.channel.k8s.io`, as upstream's StreamTranslator does;
//! - WebSocket `SPDY/3.1+portforward.k8s.io` (kubectl's default for port-forward): the
//!   WebSocket's binary messages carry the SPDY connection itself, tunnelled to the kubelet.

use super::pod_log::{kubelet_of, pick_container};
use super::query::Query;
use crate::server::ApiServer;
use crate::status::{ApiError, ApiResult};
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The WebSocket subprotocol of exec and attach that Krust serves.
pub const CHANNEL_V5: &str = "v5.channel.k8s.io";
/// The WebSocket subprotocol that tunnels port-forward's SPDY.
pub const PORT_FORWARD_TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";
/// The SPDY protocol of exec and attach toward the kubelet.
const CHANNEL_V4: &str = "v4.channel.k8s.io";
/// The SPDY protocol of port-forward.
const PORT_FORWARD: &str = "portforward.k8s.io";

fn header_has(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(token))
}

/// The kubelet path (with query) for the request.
fn kubelet_path(subresource: &str, ns: &str, name: &str, container: &str, query: &Query) -> String {
    let flag = |key: &str, default: bool| {
        let on = query.get(key).map_or(default, |v| v == "true" || v == "1");
        if on { "1" } else { "0" }
    };
    match subresource {
        "portforward" => format!("/portForward/{ns}/{name}"),
        kind => {
            // With a terminal, stderr is merged into stdout (the runtime refuses both).
            let tty = flag("tty", false);
            let stderr = if tty == "1" { "0" } else { flag("stderr", true) };
            let mut params = vec![
                format!("input={}", flag("stdin", false)),
                format!("output={}", flag("stdout", true)),
                format!("error={stderr}"),
                format!("tty={tty}"),
            ];
            if kind == "exec" {
                for command in query.all("command") {
                    params.push(format!(
                        "command={}",
                        form_urlencoded::byte_serialize(command.as_bytes()).collect::<String>()
                    ));
                }
            }
            format!("/{kind}/{ns}/{name}/{container}?{}", params.join("&"))
        }
    }
}

/// Handle an exec, attach or port-forward request (any method), taking the connection's
/// upgrade from `parts`.
pub async fn handle(
    state: &ApiServer,
    parts: &mut Parts,
    query: &Query,
    ns: &str,
    name: &str,
    subresource: &str,
) -> ApiResult<Response> {
    let pods = resources::find("", "v1", "pods").expect("pods are served");
    let pod = state.registry.get(pods, ns, name).await?;
    let phase = pod.pointer("/status/phase").and_then(|p| p.as_str()).unwrap_or_default();
    if matches!(phase, "Succeeded" | "Failed") {
        return Err(ApiError::BadRequest(format!(
            "cannot {subresource} into a container in a completed pod; current phase is {phase}"
        )));
    }
    let container = match subresource {
        "portforward" => String::new(),
        _ => pick_container(&pod, query.get("container").unwrap_or_default())?,
    };
    let address = kubelet_of(state, &pod).await?;
    let path = kubelet_path(subresource, ns, name, &container, query);
    let websocket = header_has(&parts.headers, header::UPGRADE, "websocket");
    let spdy = header_has(&parts.headers, header::UPGRADE, "SPDY/3.1");
    if !websocket && !spdy {
        return Err(ApiError::BadRequest("Upgrade request required".to_owned()));
    }
    let client_upgrade = parts
        .extensions
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or_else(|| ApiError::BadRequest("the connection cannot be upgraded (HTTP/1.1 is needed)".to_owned()))?;

    // Which protocol the kubelet speaks for this request.
    let backend_protocol = if subresource == "portforward" { PORT_FORWARD } else { CHANNEL_V4 };
    // A SPDY client offers its protocols (one header each); the runtime picks one.
    let mut protocols: Vec<HeaderValue> = parts.headers.get_all("x-stream-protocol-version").iter().cloned().collect();
    if !spdy || protocols.is_empty() {
        protocols = vec![HeaderValue::from_static(backend_protocol)];
    }
    let mut request = hyper::Request::post(path)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "SPDY/3.1")
        .body(Empty::<Bytes>::new())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    for protocol in protocols {
        request.headers_mut().append("x-stream-protocol-version", protocol);
    }
    let mut backend = state.kubelets.send(&address, request).await?;
    if backend.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = backend.status();
        let body = backend.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let message = String::from_utf8_lossy(&body).trim().to_owned();
        return Err(if status.is_client_error() { ApiError::BadRequest(message) } else { ApiError::Internal(message) });
    }
    let backend_headers = backend.headers().clone();
    let backend_upgrade = hyper::upgrade::on(&mut backend);

    if spdy {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        for name in [header::CONNECTION, header::UPGRADE] {
            if let Some(value) = backend_headers.get(&name) {
                response.headers_mut().insert(name, value.clone());
            }
        }
        if let Some(chosen) = backend_headers.get("x-stream-protocol-version") {
            response.headers_mut().insert("x-stream-protocol-version", chosen.clone());
        }
        tokio::spawn(async move {
            let (Ok(client), Ok(backend)) = (client_upgrade.await, backend_upgrade.await) else { return };
            let (mut client, mut backend) = (TokioIo::new(client), TokioIo::new(backend));
            let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
        });
        return Ok(response);
    }

    let offered: Vec<String> = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .collect();
    let wanted = if subresource == "portforward" { PORT_FORWARD_TUNNEL } else { CHANNEL_V5 };
    if !offered.iter().any(|p| p == wanted) {
        return Err(ApiError::BadRequest(format!(
            "unable to upgrade: none of the offered WebSocket protocols {offered:?} is supported ({wanted})"
        )));
    }
    let key = parts.headers.get(header::SEC_WEBSOCKET_KEY).map(|k| k.as_bytes().to_vec()).unwrap_or_default();
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(wanted));
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
    headers.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    let tty = query.get("tty").is_some_and(|v| v == "true" || v == "1");
    let streams = super::stream_translator::Streams {
        stdin: query.get("stdin").is_some_and(|v| v == "true" || v == "1"),
        stdout: query.get("stdout").is_none_or(|v| v == "true" || v == "1"),
        stderr: query.get("stderr").is_none_or(|v| v == "true" || v == "1") && !tty,
        tty,
    };
    let tunnel = subresource == "portforward";
    tokio::spawn(async move {
        let (Ok(client), Ok(backend)) = (client_upgrade.await, backend_upgrade.await) else { return };
        let websocket = WebSocketStream::from_raw_socket(TokioIo::new(client), Role::Server, None).await;
        if tunnel {
            tunnel_websocket(websocket, TokioIo::new(backend)).await;
        } else {
            super::stream_translator::translate(websocket, TokioIo::new(backend), streams).await;
        }
    });
    Ok(response)
}

/// Carry a SPDY connection in a WebSocket's binary messages (port-forward's tunnel).
async fn tunnel_websocket<W, B>(websocket: WebSocketStream<W>, backend: B)
where
    W: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    B: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut ws_out, mut ws_in) = websocket.split();
    let (mut backend_in, mut backend_out) = tokio::io::split(backend);
    let up = async {
        while let Some(Ok(message)) = ws_in.next().await {
            match message {
                Message::Binary(data) if backend_out.write_all(&data).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = backend_out.shutdown().await;
    };
    let down = async {
        let mut buffer = vec![0u8; 32 * 1024];
        loop {
            match backend_in.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if ws_out.send(Message::Binary(Bytes::copy_from_slice(&buffer[..n]))).await.is_err() {
                        break;
                    }
                }
            }
        }
        let normal = CloseFrame { code: CloseCode::Normal, reason: "".into() };
        let _ = ws_out.send(Message::Close(Some(normal))).await;
    };
    tokio::join!(up, down);
}
