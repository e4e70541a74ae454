//! The local plain-HTTP/1.1 side: route under the API prefix, filter, then forward with
//! streaming bodies both ways (watches) or, for an upgrade (exec, port-forward), splice
//! the two upgraded connections together.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::filter::Filter;
use crate::upstream::Upstream;

pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Headers that describe one connection, never forwarded (Go's `httputil.ReverseProxy` list).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A configured proxy: what to forward to, under which prefix, through which filter.
pub struct Proxy {
    upstream: Upstream,
    /// Always ends with `/`.
    api_prefix: String,
    /// `None` when filtering is disabled (`--disable-filter`).
    filter: Option<Filter>,
}

impl Proxy {
    /// `api_prefix` gains a trailing `/` if it lacks one, as kubectl's does.
    pub fn new(upstream: Upstream, api_prefix: &str, filter: Option<Filter>) -> Proxy {
        let mut api_prefix = api_prefix.to_string();
        if !api_prefix.ends_with('/') {
            api_prefix.push('/');
        }
        Proxy { upstream, api_prefix, filter }
    }

    /// Serves HTTP/1.1 on `listener` until the process ends.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (tcp, peer) = listener.accept().await?;
            let proxy = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let proxy = proxy.clone();
                    async move { Ok::<_, std::convert::Infallible>(proxy.handle(req, peer).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
                if let Err(e) = conn.with_upgrades().await {
                    tracing::debug!(error = %e, %peer, "client connection ended");
                }
            });
        }
    }

    async fn handle(&self, mut req: Request<Incoming>, peer: SocketAddr) -> Response<ProxyBody> {
        let path = req.uri().path().to_string();
        let Some(rest) = path.strip_prefix(&self.api_prefix) else {
            if format!("{path}/") == self.api_prefix {
                return redirect(&self.api_prefix, req.uri().query());
            }
            return text(StatusCode::NOT_FOUND, "404 page not found\n");
        };
        // A prefix under /api keeps the whole path; any other is cut off, leaving a leading slash.
        let forwarded = if self.api_prefix.starts_with("/api") {
            path.clone()
        } else if rest.is_empty() {
            String::new()
        } else {
            format!("/{rest}")
        };
        if let Some(filter) = &self.filter {
            let host = request_host(&req);
            if !filter.accepts(req.method().as_str(), &forwarded, &host) {
                tracing::debug!(method = %req.method(), path = %forwarded, %host, "filter rejecting");
                return text(StatusCode::FORBIDDEN, "Forbidden\n");
            }
        }
        let path_and_query = match req.uri().query() {
            Some(q) => format!("{}?{q}", if forwarded.is_empty() { "/" } else { &forwarded }),
            None => {
                if forwarded.is_empty() {
                    "/".to_string()
                } else {
                    forwarded
                }
            }
        };
        *req.uri_mut() = match path_and_query.parse::<Uri>() {
            Ok(uri) => uri,
            Err(_) => return text(StatusCode::BAD_REQUEST, "400 Bad Request\n"),
        };
        append_forwarded_for(req.headers_mut(), peer);
        if is_upgrade(req.headers()) { self.upgrade(req).await } else { self.forward(req).await }
    }

    async fn forward(&self, mut req: Request<Incoming>) -> Response<ProxyBody> {
        strip_hop_by_hop(req.headers_mut());
        match self.upstream.send(req).await {
            Ok(mut resp) => {
                strip_hop_by_hop(resp.headers_mut());
                resp.map(BodyExt::boxed)
            }
            Err(e) => proxy_error(&e),
        }
    }

    /// Sends the upgrade request as it is; on `101` both sides switch protocols and the
    /// bytes are copied both ways until either closes.
    async fn upgrade(&self, mut req: Request<Incoming>) -> Response<ProxyBody> {
        let client_upgrade = hyper::upgrade::on(&mut req);
        let mut resp = match self.upstream.send(req).await {
            Ok(resp) => resp,
            Err(e) => return proxy_error(&e),
        };
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            return resp.map(BodyExt::boxed);
        }
        let server_upgrade = hyper::upgrade::on(&mut resp);
        tokio::spawn(async move {
            let (client, server) = match tokio::try_join!(client_upgrade, server_upgrade) {
                Ok(both) => both,
                Err(e) => return tracing::warn!(error = %e, "upgrade failed"),
            };
            let (mut client, mut server) = (TokioIo::new(client), TokioIo::new(server));
            if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
                tracing::debug!(error = %e, "upgraded connection ended");
            }
        });
        let (parts, _) = resp.into_parts();
        Response::from_parts(parts, empty())
    }
}

/// The host the client addressed: the absolute URI's authority, else the `Host` header.
fn request_host(req: &Request<Incoming>) -> String {
    if let Some(authority) = req.uri().authority() {
        return authority.to_string();
    }
    req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default().to_string()
}

/// An upgrade request names `upgrade` among its `Connection` tokens.
fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// Removes the fixed hop-by-hop headers and those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn append_forwarded_for(headers: &mut HeaderMap, peer: SocketAddr) {
    let ip = peer.ip().to_string();
    let value = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, {ip}"),
        None => ip,
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert("x-forwarded-for", value);
    }
}

/// kubectl answers a failed forward with 500 and the error's text, and logs it.
fn proxy_error(e: &crate::upstream::UpstreamError) -> Response<ProxyBody> {
    tracing::error!("Error while proxying request: {e}");
    text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n"))
}

/// Go's `http.Error`: plain text that browsers must not sniff.
fn text(status: StatusCode, body: &str) -> Response<ProxyBody> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())).map_err(|never| match never {}).boxed());
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

/// The prefix without its slash redirects to the prefix (Go's `ServeMux` subtree rule).
fn redirect(prefix: &str, query: Option<&str>) -> Response<ProxyBody> {
    let location = match query {
        Some(q) => format!("{prefix}?{q}"),
        None => prefix.to_string(),
    };
    let mut resp = text(StatusCode::MOVED_PERMANENTLY, "");
    resp.headers_mut().remove(header::CONTENT_TYPE);
    if let Ok(value) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, value);
    }
    resp
}

fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hyper::body::Frame;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::ReceiverStream;

    use super::*;
    use crate::config::{ClusterAccess, Credential};

    type Chunks = mpsc::Receiver<Result<Frame<Bytes>, hyper::Error>>;

    /// A plain-HTTP stand-in for the API server: `/stream` sends what arrives on `chunks`,
    /// `/upgrade` switches protocols and echoes once, anything else describes the request.
    async fn fake_api_server(chunks: Chunks) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let chunks = Arc::new(std::sync::Mutex::new(Some(chunks)));
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let chunks = chunks.clone();
                let service = service_fn(move |req: Request<Incoming>| {
                    let chunks = chunks.lock().unwrap().take();
                    async move { Ok::<_, std::convert::Infallible>(fake_response(req, chunks)) }
                });
                tokio::spawn(async move {
                    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
                    let _ = conn.with_upgrades().await;
                });
            }
        });
        addr
    }

    fn fake_response(mut req: Request<Incoming>, chunks: Option<Chunks>) -> Response<ProxyBody> {
        match req.uri().path() {
            "/stream" => Response::new(http_body_util::StreamBody::new(ReceiverStream::new(chunks.unwrap())).boxed()),
            "/upgrade" => {
                let on = hyper::upgrade::on(&mut req);
                tokio::spawn(async move {
                    let mut io = TokioIo::new(on.await.unwrap());
                    let mut buf = [0u8; 64];
                    let n = io.read(&mut buf).await.unwrap();
                    io.write_all(&buf[..n]).await.unwrap();
                });
                let mut resp = Response::new(empty());
                *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
                resp.headers_mut().insert(header::UPGRADE, HeaderValue::from_static("echo"));
                resp
            }
            _ => {
                let h = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
                let text = format!("{} host={} auth={} te={}", req.uri(), h("host"), h("authorization"), h("te"));
                let mut resp = text_response(&text);
                resp.headers_mut().insert("keep-alive", HeaderValue::from_static("timeout=5"));
                resp
            }
        }
    }

    fn text_response(body: &str) -> Response<ProxyBody> {
        Response::new(Full::new(Bytes::from(body.to_string())).map_err(|never| match never {}).boxed())
    }

    async fn start_proxy(api: SocketAddr, prefix: &str, filter: Option<Filter>) -> SocketAddr {
        let access = ClusterAccess {
            server: format!("http://{api}").parse().unwrap(),
            tls_server_name: None,
            ca_pem: None,
            client_cert: None,
            credential: Credential::Token("secret".into()),
        };
        let proxy = Arc::new(Proxy::new(Upstream::new(&access).unwrap(), prefix, filter));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(proxy.serve(listener));
        addr
    }

    /// One raw HTTP/1.1 request on a closing connection; returns the whole response.
    async fn raw(proxy: SocketAddr, head: &str) -> String {
        let mut tcp = TcpStream::connect(proxy).await.unwrap();
        tcp.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        tcp.read_to_string(&mut out).await.unwrap();
        out
    }

    async fn read_until(tcp: &mut TcpStream, seen: &mut String, needle: &str) {
        let mut buf = [0u8; 1024];
        while !seen.contains(needle) {
            let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await.expect("timely").unwrap();
            assert!(n > 0, "closed before {needle:?}; got {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }

    #[tokio::test]
    async fn forwards_with_credentials_and_server_host_dropping_hop_by_hop_headers() {
        let api = fake_api_server(mpsc::channel(1).1).await;
        let proxy = start_proxy(api, "/", Some(Filter::default())).await;
        let out = raw(proxy, "GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: localhost:8001\r\nTE: trailers\r\n").await;
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.contains(&format!("/api/v1/pods?watch=1 host={api} auth=Bearer secret te=-")), "{out}");
        assert!(!out.to_ascii_lowercase().contains("keep-alive: timeout"), "{out}");
        // A client's own credentials are kept, as client-go's round trippers keep them.
        let out = raw(proxy, "GET /version HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer mine\r\n").await;
        assert!(out.contains("auth=Bearer mine"), "{out}");
    }

    #[tokio::test]
    async fn filter_refuses_foreign_hosts_and_exec_like_kubectl() {
        let api = fake_api_server(mpsc::channel(1).1).await;
        let proxy = start_proxy(api, "/", Some(Filter::default())).await;
        for head in [
            "GET /api/v1/pods HTTP/1.1\r\nHost: evil.example\r\n",
            "POST /api/v1/namespaces/default/pods/p/exec?command=sh HTTP/1.1\r\nHost: localhost\r\n",
        ] {
            let out = raw(proxy, head).await;
            assert!(out.starts_with("HTTP/1.1 403 Forbidden"), "{out}");
            assert!(out.ends_with("\r\n\r\nForbidden\n"), "{out}");
            assert!(out.contains("content-type: text/plain; charset=utf-8"), "{out}");
        }
        let open = start_proxy(api, "/", None).await;
        let out = raw(open, "GET /api/v1/pods HTTP/1.1\r\nHost: evil.example\r\n").await;
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    }

    #[tokio::test]
    async fn api_prefix_is_cut_off_unless_it_is_under_api() {
        let api = fake_api_server(mpsc::channel(1).1).await;
        let custom = start_proxy(api, "/custom", Some(Filter::default())).await;
        let out = raw(custom, "GET /custom/api/v1/pods HTTP/1.1\r\nHost: localhost\r\n").await;
        assert!(out.contains("\r\n\r\n/api/v1/pods host="), "{out}");
        let out = raw(custom, "GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\n").await;
        assert!(out.starts_with("HTTP/1.1 404") && out.ends_with("404 page not found\n"), "{out}");
        let out = raw(custom, "GET /custom HTTP/1.1\r\nHost: localhost\r\n").await;
        assert!(out.starts_with("HTTP/1.1 301") && out.contains("location: /custom/"), "{out}");
        let under_api = start_proxy(api, "/api/", Some(Filter::default())).await;
        let out = raw(under_api, "GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\n").await;
        assert!(out.contains("\r\n\r\n/api/v1/pods host="), "{out}");
    }

    #[tokio::test]
    async fn response_bodies_stream_as_they_arrive() {
        let (tx, rx) = mpsc::channel(1);
        let api = fake_api_server(rx).await;
        let proxy = start_proxy(api, "/", Some(Filter::default())).await;
        let mut tcp = TcpStream::connect(proxy).await.unwrap();
        tcp.write_all(b"GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
        let mut seen = String::new();
        tx.send(Ok(Frame::data(Bytes::from_static(b"{\"type\":\"ADDED\"}\n")))).await.unwrap();
        read_until(&mut tcp, &mut seen, "ADDED").await;
        tx.send(Ok(Frame::data(Bytes::from_static(b"{\"type\":\"MODIFIED\"}\n")))).await.unwrap();
        read_until(&mut tcp, &mut seen, "MODIFIED").await;
        assert!(seen.contains("transfer-encoding: chunked"), "{seen}");
    }

    #[tokio::test]
    async fn upgrades_splice_both_connections() {
        let api = fake_api_server(mpsc::channel(1).1).await;
        let proxy = start_proxy(api, "/", Some(Filter::default())).await;
        let mut tcp = TcpStream::connect(proxy).await.unwrap();
        tcp.write_all(b"GET /upgrade HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
            .await
            .unwrap();
        let mut seen = String::new();
        read_until(&mut tcp, &mut seen, "\r\n\r\n").await;
        assert!(seen.starts_with("HTTP/1.1 101"), "{seen}");
        assert!(seen.to_ascii_lowercase().contains("upgrade: echo"), "{seen}");
        tcp.write_all(b"ping over the upgraded stream").await.unwrap();
        let mut echoed = String::new();
        read_until(&mut tcp, &mut echoed, "ping over the upgraded stream").await;
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_500_with_the_error() {
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let proxy = start_proxy(closed, "/", Some(Filter::default())).await;
        let out = raw(proxy, "GET /api HTTP/1.1\r\nHost: localhost\r\n").await;
        assert!(out.starts_with("HTTP/1.1 500"), "{out}");
        assert!(out.contains(&format!("dial tcp {closed}: ")), "{out}");
    }
}
