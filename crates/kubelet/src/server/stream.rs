//! `/exec`, `/attach` and `/portForward`: the kubelet asks the runtime (CRI `Exec`,
//! `Attach`, `PortForward`) for a streaming URL on containerd's own streaming server and
//! proxies the caller's upgraded connection (SPDY/3.1) to it byte for byte, as upstream's
//! kubelet does with its streaming proxy. The protocol (`v4.channel.k8s.io`,
//! `portforward.k8s.io`) is between the caller and containerd.

use super::{KubeletApi, text};
use crate::pods::runtime_pod::runtime_pod;
use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use k8s_cri::v1::{AttachRequest, ExecRequest, PortForwardRequest};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::ObjectRef;
use std::sync::Arc;

/// Which stream is asked for.
pub enum Kind {
    Exec,
    Attach,
    PortForward,
}

/// The query of a streaming request: `command` (repeated), `input`, `output`, `error`, `tty`.
struct StreamOptions {
    command: Vec<String>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

fn options(query: &str) -> StreamOptions {
    let mut options = StreamOptions { command: Vec::new(), stdin: false, stdout: false, stderr: false, tty: false };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let on = value == "1" || value == "true";
        match key.as_ref() {
            "command" => options.command.push(value.into_owned()),
            "input" | "stdin" => options.stdin = on,
            "output" | "stdout" => options.stdout = on,
            "error" | "stderr" => options.stderr = on,
            "tty" => options.tty = on,
            _ => {}
        }
    }
    options
}

/// Handle a streaming request for `pod` (and `container`, except for port forwarding).
pub async fn handle(
    api: Arc<KubeletApi>,
    kind: Kind,
    namespace: &str,
    name: &str,
    container: Option<&str>,
    request: Request<hyper::body::Incoming>,
) -> Response<Body> {
    let Some(pod) = api.pods.get(&ObjectRef::<Pod>::new(name).within(namespace)) else {
        return text(StatusCode::NOT_FOUND, format!("pod \"{name}\" not found on this node"));
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let runtime = match runtime_pod(&api.context.cri, &uid).await {
        Ok(runtime) => runtime,
        Err(error) => return text(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    };
    let options = options(request.uri().query().unwrap_or_default());
    let mut cri = api.context.cri.runtime();
    let url = match kind {
        Kind::PortForward => {
            let Some(sandbox) = runtime.sandbox().filter(|s| s.ready) else {
                return text(StatusCode::BAD_REQUEST, format!("pod {name} does not have a running sandbox"));
            };
            let request = PortForwardRequest { pod_sandbox_id: sandbox.id.clone(), port: Vec::new() };
            cri.port_forward(request).await.map(|r| r.into_inner().url)
        }
        Kind::Exec | Kind::Attach => {
            let container = container.unwrap_or_default();
            let Some(instance) = runtime.latest_anywhere(container).filter(|c| c.running()) else {
                return text(StatusCode::BAD_REQUEST, format!("container {container} is not running in pod {name}"));
            };
            let id = instance.id.clone();
            if matches!(kind, Kind::Exec) {
                let request = ExecRequest {
                    container_id: id,
                    cmd: options.command,
                    tty: options.tty,
                    stdin: options.stdin,
                    stdout: options.stdout,
                    stderr: options.stderr,
                };
                cri.exec(request).await.map(|r| r.into_inner().url)
            } else {
                let request = AttachRequest {
                    container_id: id,
                    stdin: options.stdin,
                    tty: options.tty,
                    stdout: options.stdout,
                    stderr: options.stderr,
                };
                cri.attach(request).await.map(|r| r.into_inner().url)
            }
        }
    };
    match url {
        Ok(url) => proxy_upgrade(&url, request).await,
        Err(status) => text(StatusCode::INTERNAL_SERVER_ERROR, status.message().to_owned()),
    }
}

/// Forward the upgrade request to `url` (containerd's streaming server, plain HTTP on
/// loopback), answer with its 101, then join the two connections.
async fn proxy_upgrade(url: &str, mut request: Request<hyper::body::Incoming>) -> Response<Body> {
    let failed = |message: String| text(StatusCode::INTERNAL_SERVER_ERROR, message);
    let Ok(uri) = url.parse::<http::Uri>() else { return failed(format!("bad streaming URL {url}")) };
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let tcp = match tokio::net::TcpStream::connect(&authority).await {
        Ok(tcp) => tcp,
        Err(error) => return failed(format!("connecting to the runtime's streaming server: {error}")),
    };
    let (mut sender, connection) = match hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await {
        Ok(pair) => pair,
        Err(error) => return failed(format!("connecting to the runtime's streaming server: {error}")),
    };
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
    });
    let mut backend = Request::builder()
        .method(request.method().clone())
        .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    for (name, value) in request.headers() {
        if name != header::HOST && name != header::AUTHORIZATION {
            backend = backend.header(name, value);
        }
    }
    let Ok(backend) = backend.header(header::HOST, authority).body(Empty::<Bytes>::new()) else {
        return failed("building the streaming request".to_owned());
    };
    let mut answer = match sender.send_request(backend).await {
        Ok(answer) => answer,
        Err(error) => return failed(format!("the runtime's streaming server: {error}")),
    };
    if answer.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = answer.status();
        let body = http_body_util::BodyExt::collect(answer.into_body()).await.map(|b| b.to_bytes()).unwrap_or_default();
        let mut response = text(status, String::from_utf8_lossy(&body).into_owned());
        *response.status_mut() = status;
        return response;
    }
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *response.headers_mut() = answer.headers().clone();
    let backend_upgrade = hyper::upgrade::on(&mut answer);
    let client_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let (Ok(client), Ok(backend)) = (client_upgrade.await, backend_upgrade.await) else { return };
        let (mut client, mut backend) = (TokioIo::new(client), TokioIo::new(backend));
        let _ = tokio::io::copy_bidirectional(&mut client, &mut backend).await;
    });
    response
}
