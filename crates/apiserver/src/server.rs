//! The server: shared state, the route table every request goes through (authenticate,
//! authorize, dispatch, measure), and HTTPS serving with HTTP/2 and HTTP/1.1 on one port.

use crate::auth::impersonate::impersonate;
use crate::auth::{self, User};
use crate::handlers::{discovery, health, query::Query, resource};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::request_info::RequestInfo;
use crate::status::ApiError;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// State shared by every request.
pub struct ApiServer {
    pub registry: Arc<Registry>,
    pub authenticator: crate::auth::authenticate::Authenticator,
    pub policy: Arc<crate::auth::policy::PolicyStore>,
    /// The Node authorizer and its graph of what each kubelet may reach.
    pub nodes: Arc<crate::auth::node::NodeAuthorizer>,
    /// Mints service account tokens (TokenRequest).
    pub issuer: authn::serviceaccount::Issuer,
    pub metrics: Arc<Metrics>,
    pub openapi: openapi::OpenApi,
    /// `host:port` clients should use, for `/api`'s serverAddressByClientCIDRs.
    pub server_address: String,
    /// The audit log, when `--audit-log-path` is set.
    pub audit: Option<crate::audit::AuditLog>,
    /// Calls kubelets (pod logs and streams).
    pub kubelets: crate::kubelet_client::KubeletClient,
    bootstrapped: AtomicBool,
    shutting_down: AtomicBool,
}

impl ApiServer {
    pub fn new(
        registry: Registry,
        authenticator: crate::auth::authenticate::Authenticator,
        policy: Arc<crate::auth::policy::PolicyStore>,
        issuer: authn::serviceaccount::Issuer,
        metrics: Arc<Metrics>,
        server_address: String,
        kubelets: crate::kubelet_client::KubeletClient,
    ) -> Self {
        ApiServer {
            registry: Arc::new(registry),
            authenticator,
            issuer,
            policy,
            nodes: Arc::default(),
            metrics,
            openapi: openapi::OpenApi::new(&health::git_version()),
            server_address,
            audit: None,
            kubelets,
            bootstrapped: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
        }
    }

    pub fn is_bootstrapped(&self) -> bool {
        self.bootstrapped.load(Ordering::Acquire)
    }

    pub fn set_bootstrapped(&self) {
        self.bootstrapped.store(true, Ordering::Release);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub fn set_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }
}

/// Handle one request on a connection from `peer`, whose verified client certificate
/// named `cert_user`.
pub async fn dispatch(
    state: Arc<ApiServer>,
    cert_user: Option<User>,
    peer: Option<SocketAddr>,
    req: Request<Body>,
) -> Response {
    let start = Instant::now();
    let received = jiff::Timestamp::now();
    let (mut parts, body) = req.into_parts();
    let query = Query::parse(parts.uri.query());
    let path = parts.uri.path().to_owned();
    let info = RequestInfo::parse(&parts.method, &path, query.flag("watch"));
    let policy = state.policy.current();
    let authenticated = state.authenticator.authenticate(&state.registry, cert_user.as_ref(), &parts.headers).await;
    let user = authenticated.and_then(|u| impersonate(&policy, &u, &parts.headers)).and_then(|u| {
        let info = info.for_authorization(query.get("fieldSelector"));
        auth::authorize(&state.nodes, &policy, &u, &info).map(|()| u)
    });
    let (user, response) = match user {
        Err(e) => (cert_user.unwrap_or_else(auth::anonymous), e.into_response()),
        Ok(user) => {
            let response = match route(&state, &user, &info, &mut parts, &query, body).await {
                Ok(r) => r,
                Err(e) => e.into_response(),
            };
            (user, response)
        }
    };
    let resource = if info.is_resource { info.resource.as_str() } else { "" };
    // A watch is measured to its first byte; its lifetime shows in the watcher gauge.
    state.metrics.observe_request(&info.verb, resource, response.status().as_u16(), start.elapsed());
    if let Some(audit) = &state.audit {
        audit.record(&crate::audit::Record {
            user: &user,
            info: &info,
            method: parts.method.as_str(),
            uri: &parts.uri.to_string(),
            source: peer,
            user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
            code: response.status().as_u16(),
            received,
        });
    }
    response
}

async fn route(
    state: &ApiServer,
    user: &User,
    info: &RequestInfo,
    parts: &mut axum::http::request::Parts,
    query: &Query,
    body: Body,
) -> Result<Response, ApiError> {
    let path = info.path.as_str();
    if info.is_resource
        && info.group.is_empty()
        && info.resource == "pods"
        && matches!(info.subresource.as_str(), "exec" | "attach" | "portforward")
    {
        return crate::handlers::pod_stream::handle(
            state,
            parts,
            query,
            &info.namespace,
            &info.name,
            &info.subresource,
        )
        .await;
    }
    if info.is_resource {
        let body = read_body(body).await?;
        let call = resource::Call {
            user,
            info,
            headers: &parts.headers,
            query,
            body,
            field_manager_default: user_agent_manager(parts),
        };
        return resource::handle(state, call).await;
    }
    if let Some(resp) = health::handle(state, path, query).await {
        return Ok(resp);
    }
    match path {
        "/" => {
            let mut paths = discovery::paths();
            paths.extend(
                ["/healthz", "/livez", "/readyz", "/metrics", "/openapi/v2", "/openapi/v3", "/openapi/v3/", "/version"]
                    .map(str::to_owned),
            );
            paths.sort();
            return Ok(crate::handlers::output::respond(
                StatusCode::OK,
                &json!({"paths": paths}),
                crate::negotiate::Output::Json,
                &[],
            ));
        }
        "/version" | "/version/" => {
            return Ok(crate::handlers::output::respond(
                StatusCode::OK,
                &health::version_info(),
                crate::negotiate::Output::Json,
                &[],
            ));
        }
        "/metrics" => {
            let mut resp = state.metrics.render().into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
            return Ok(resp);
        }
        _ => {}
    }
    if let Some(resp) = crate::handlers::openapi::handle(state, path, query, &parts.headers) {
        return Ok(resp);
    }
    if let Some(resp) = discovery::handle(path, &parts.headers, &state.server_address) {
        return Ok(resp);
    }
    Err(ApiError::NotFound { message: "the server could not find the requested resource".to_owned(), subject: None })
}

/// The default field manager: the client's program name, as upstream derives it
/// from the User-Agent (`kubectl/v1.33.0 (linux/amd64) ...` → `kubectl`).
fn user_agent_manager(parts: &axum::http::request::Parts) -> &str {
    parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
}

async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    match Limited::new(body, crate::negotiate::MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            Err(ApiError::TooLarge("Request entity too large: limit is 3145728".to_owned()))
        }
        Err(e) => Err(ApiError::BadRequest(format!("reading the request body: {e}"))),
    }
}

/// Accept TLS connections on `listener` until the process ends; each connection speaks
/// HTTP/2 or HTTP/1.1 (with upgrades) as ALPN decided.
pub async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>, state: Arc<ApiServer>) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let user = peer_user(tls.get_ref().1);
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let state = state.clone();
                let user = user.clone();
                async move { Ok::<_, std::convert::Infallible>(dispatch(state, user, Some(peer), req.map(Body::new)).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(tls), service).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

/// The user a verified client certificate names, if any.
fn peer_user(conn: &rustls::ServerConnection) -> Option<User> {
    conn.peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|cert| pki::client_identity(cert.as_ref()).ok())
        .map(|id| auth::from_certificate(id.user, id.groups))
}
