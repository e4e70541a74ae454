//! A minimal HTTPS client for the benchmark: a few HTTP/2 connections to the server on
//! loopback, authenticated with the admin client certificate, used round-robin.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{IpAddr as TlsIp, ServerName};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The cluster CA and the admin's certificate and key (PEM files).
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A finished request: status and the whole body.
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    connections: Vec<SendRequest<Full<Bytes>>>,
    next: AtomicUsize,
    authority: String,
}

fn tls_config(files: &TlsFiles) -> Result<rustls::ClientConfig> {
    let read = |p: &PathBuf| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut read(&files.ca)?.as_slice()) {
        roots.add(cert?)?;
    }
    let chain = rustls_pemfile::certs(&mut read(&files.cert)?.as_slice()).collect::<Result<Vec<_>, _>>()?;
    let key = rustls_pemfile::private_key(&mut read(&files.key)?.as_slice())?.context("no private key in the file")?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

impl Client {
    /// Open `connections` HTTP/2 connections to `127.0.0.1:port`.
    pub async fn connect(port: u16, files: &TlsFiles, connections: usize) -> Result<Client> {
        let connector = TlsConnector::from(Arc::new(tls_config(files)?));
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut senders = Vec::with_capacity(connections);
        for _ in 0..connections.max(1) {
            let tcp = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
            tcp.set_nodelay(true)?;
            let name = ServerName::IpAddress(TlsIp::from(std::net::IpAddr::from(Ipv4Addr::LOCALHOST)));
            let tls = connector.connect(name, tcp).await.context("TLS handshake")?;
            let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .initial_stream_window_size(8 << 20)
                .initial_connection_window_size(32 << 20)
                .max_concurrent_reset_streams(1024)
                .handshake(TokioIo::new(tls))
                .await
                .context("HTTP/2 handshake")?;
            tokio::spawn(conn);
            senders.push(sender);
        }
        let inner = Inner { connections: senders, next: AtomicUsize::new(0), authority: addr.to_string() };
        Ok(Client { inner: Arc::new(inner) })
    }

    /// Send a request and return the response head with its streaming body.
    pub async fn send(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<http::Response<Incoming>> {
        let i = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.inner.connections.len();
        let mut sender = self.inner.connections[i].clone();
        let mut req = Request::builder()
            .method(method)
            .uri(format!("https://{}{path}", self.inner.authority))
            .header(http::header::ACCEPT, "application/json");
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        sender.ready().await.context("connection closed")?;
        Ok(sender.send_request(req).await?)
    }

    /// Send a request and read the whole response.
    pub async fn call(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Reply> {
        let resp = self.send(method, path, body).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Reply { status, body })
    }

    pub async fn get(&self, path: &str) -> Result<Reply> {
        self.call(Method::GET, path, None).await
    }

    /// Send a request that must answer `expected`; the body otherwise says why not.
    pub async fn expect(&self, method: Method, path: &str, body: Option<Vec<u8>>, expected: u16) -> Result<Bytes> {
        let reply = self.call(method.clone(), path, body).await?;
        if reply.status != expected {
            bail!("{method} {path}: {} {}", reply.status, String::from_utf8_lossy(&reply.body));
        }
        Ok(reply.body)
    }
}
