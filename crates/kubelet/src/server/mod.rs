//! The kubelet API on `:10250` (HTTPS with a certificate from the cluster CA; callers
//! authenticated and authorized by [`auth`]): `/healthz`, `/metrics`, `/stats/summary`
//! ([`stats`]), `/pods` (the pods bound to this node), `/containerLogs` ([`logs`]) and the
//! streams ([`stream`]); and `/healthz` in plain HTTP on
//! `127.0.0.1:10248`, as upstream's kubelet serves it.

pub mod auth;
pub mod logs;
pub mod stats;
pub mod stream;

use crate::pods::Context;
use auth::{Authorizer, Caller};
use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{ObjectRef, Store};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// What the API's handlers need.
pub struct KubeletApi {
    pub context: Arc<Context>,
    pub pods: Store<Pod>,
    pub authorizer: Authorizer,
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    let mut response = Response::new(Body::from(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// Serve the kubelet API on `listener` with `tls` until the task is dropped.
pub async fn serve(listener: TcpListener, tls: rustls::ServerConfig, api: Arc<KubeletApi>) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let (acceptor, api) = (acceptor.clone(), api.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let caller = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|cert| pki::client_identity(cert.as_ref()).ok())
                .map(|id| Caller { user: id.user, groups: id.groups });
            let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                let (api, caller) = (api.clone(), caller.clone());
                async move { Ok::<_, std::convert::Infallible>(handle(api, caller, peer, request).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(error) = builder.serve_connection_with_upgrades(TokioIo::new(tls), service).await {
                tracing::debug!(%peer, %error, "kubelet API connection ended with an error");
            }
        });
    }
}

/// Serve `/healthz` in plain HTTP on `listener` (upstream's `127.0.0.1:10248`).
pub async fn serve_healthz(listener: TcpListener) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|request: Request<hyper::body::Incoming>| async move {
                Ok::<_, std::convert::Infallible>(match request.uri().path() {
                    "/healthz" => text(StatusCode::OK, "ok"),
                    _ => text(StatusCode::NOT_FOUND, "404 page not found\n"),
                })
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
        });
    }
}

async fn handle(
    api: Arc<KubeletApi>,
    caller: Option<Caller>,
    peer: SocketAddr,
    request: Request<hyper::body::Incoming>,
) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let caller = match caller {
        Some(caller) => Some(caller),
        None => match request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            Some(token) => api.authorizer.authenticate_token(token.trim()).await,
            None => None,
        },
    };
    let Some(caller) = caller else { return text(StatusCode::UNAUTHORIZED, "Unauthorized") };
    let (verb, subresource) = (auth::verb(request.method()), auth::subresource(&path));
    if !api.authorizer.allowed(&caller, verb, subresource).await {
        let message =
            format!("Forbidden (user={}, verb={verb}, resource=nodes, subresource={subresource})", caller.user);
        return text(StatusCode::FORBIDDEN, message);
    }
    tracing::debug!(%peer, user = %caller.user, %path, "kubelet API call");
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["healthz"] => text(StatusCode::OK, "ok"),
        ["metrics"] => {
            let mut response = text(StatusCode::OK, api.context.metrics.render());
            let kind = header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
            response.headers_mut().insert(header::CONTENT_TYPE, kind);
            response
        }
        ["stats", "summary"] => {
            let summary = stats::summary(&api).await;
            let mut response = Response::new(Body::from(summary.to_string()));
            response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
            response
        }
        ["pods"] | ["pods", ""] => {
            let items: Vec<Pod> = api.pods.state().iter().map(|p| (**p).clone()).collect();
            let list = serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items});
            let mut response = Response::new(Body::from(list.to_string()));
            response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
            response
        }
        ["exec", namespace, pod, container] => {
            let (namespace, pod, container) = (namespace.to_string(), pod.to_string(), container.to_string());
            stream::handle(api, stream::Kind::Exec, &namespace, &pod, Some(&container), request).await
        }
        ["attach", namespace, pod, container] => {
            let (namespace, pod, container) = (namespace.to_string(), pod.to_string(), container.to_string());
            stream::handle(api, stream::Kind::Attach, &namespace, &pod, Some(&container), request).await
        }
        ["portForward", namespace, pod] => {
            let (namespace, pod) = (namespace.to_string(), pod.to_string());
            stream::handle(api, stream::Kind::PortForward, &namespace, &pod, None, request).await
        }
        ["containerLogs", namespace, pod, container] => {
            container_logs(&api, namespace, pod, container, request.uri().query().unwrap_or_default()).await
        }
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
}

async fn container_logs(api: &KubeletApi, namespace: &str, name: &str, container: &str, query: &str) -> Response<Body> {
    let options = match logs::LogOptions::parse(query) {
        Ok(options) => options,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let Some(pod) = api.pods.get(&ObjectRef::new(name).within(namespace)) else {
        return text(StatusCode::NOT_FOUND, format!("pod \"{name}\" not found on this node"));
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let instance = match logs::instance(&api.context, &uid, name, container, options.previous).await {
        Ok(instance) => instance,
        Err(message) => {
            let waiting = pod
                .status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten().chain(s.init_container_statuses.iter().flatten()))
                .find(|s| s.name == container)
                .and_then(|s| s.state.as_ref()?.waiting.as_ref()?.reason.clone());
            let message = match waiting {
                Some(reason) if !options.previous => {
                    format!("container \"{container}\" in pod \"{name}\" is waiting to start: {reason}")
                }
                _ => message,
            };
            return text(StatusCode::BAD_REQUEST, message);
        }
    };
    let log_dir = api.context.paths.pod_logs(namespace, name, &uid);
    let receiver = logs::stream(api.context.clone(), log_dir, instance, options);
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(receiver));
    let mut response = Response::new(body);
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain"));
    response
}
