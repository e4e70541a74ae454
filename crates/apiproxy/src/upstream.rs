//! The connection to the API server: TLS that always verifies the server's certificate,
//! the client certificate in the handshake, and a bearer token or basic credentials added
//! to requests that carry no `Authorization` of their own (as client-go's round trippers do).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, HOST, HeaderValue};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::config::{ClusterAccess, Credential};

/// How long a token file is trusted before it is read again (client-go's refresh period).
const TOKEN_FILE_REFRESH: Duration = Duration::from_secs(60);

/// Where Go looks for the system's CA bundle on Linux, used when a cluster names no CA.
const SYSTEM_CA_FILES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Why the upstream TLS settings could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("certificate-authority holds no PEM certificate")]
    NoCaCertificate,
    #[error("no certificate-authority given and no system CA bundle found")]
    NoSystemRoots,
    #[error("client-certificate holds no PEM certificate")]
    NoClientCertificate,
    #[error("client-key holds no PEM private key")]
    NoClientKey,
    #[error("reading PEM: {0}")]
    Pem(#[source] std::io::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
}

/// Why one request could not be sent; the proxy answers it with this message.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("dial tcp {addr}: {source}")]
    Dial { addr: String, source: std::io::Error },
    /// The handshake failed, most often because the server's certificate was not signed by the trusted CA.
    #[error("TLS handshake with {addr} failed: {source}")]
    Tls { addr: String, source: std::io::Error },
    #[error("reading token file {}: {source}", path.display())]
    TokenFile { path: PathBuf, source: std::io::Error },
    /// A token or password holds bytes an HTTP header cannot carry.
    #[error("the configured credential is not a valid header value")]
    BadCredential,
    #[error("{0}")]
    Http(#[from] hyper::Error),
}

/// The API server end of the proxy.
pub struct Upstream {
    tls: Option<(TlsConnector, ServerName<'static>)>,
    /// The host to dial (brackets removed) and port.
    host: String,
    port: u16,
    /// `host:port` as the server URL spells it, sent as `Host`.
    authority: HeaderValue,
    credential: Credential,
    cached_token: Mutex<Option<(Instant, HeaderValue)>>,
}

impl Upstream {
    pub fn new(access: &ClusterAccess) -> Result<Upstream, SetupError> {
        let uri = &access.server;
        let tls_enabled = uri.scheme_str() == Some("https");
        let raw_host = uri.host().unwrap_or_default();
        let host = raw_host.trim_start_matches('[').trim_end_matches(']').to_string();
        let port = uri.port_u16().unwrap_or(if tls_enabled { 443 } else { 80 });
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or(raw_host);
        let tls = if tls_enabled {
            let name = access.tls_server_name.clone().unwrap_or_else(|| host.clone());
            let server_name = ServerName::try_from(name.clone()).map_err(|_| SetupError::ServerName(name))?;
            Some((TlsConnector::from(Arc::new(client_config(access)?)), server_name))
        } else {
            None
        };
        Ok(Upstream {
            tls,
            authority: HeaderValue::from_str(authority).map_err(|_| SetupError::ServerName(authority.into()))?,
            host,
            port,
            credential: access.credential.clone(),
            cached_token: Mutex::new(None),
        })
    }

    /// Sends `req` (origin-form URI) on a new connection, with the server's `Host` and the
    /// credentials. The connection supports upgrades: a `101` response can be taken over.
    pub async fn send(&self, mut req: Request<Incoming>) -> Result<Response<Incoming>, UpstreamError> {
        req.headers_mut().insert(HOST, self.authority.clone());
        if !req.headers().contains_key(AUTHORIZATION)
            && let Some(value) = self.authorization()?
        {
            req.headers_mut().insert(AUTHORIZATION, value);
        }
        let addr = format!("{}:{}", self.host, self.port);
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|source| UpstreamError::Dial { addr: addr.clone(), source })?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            Some((connector, name)) => {
                let tls =
                    connector.connect(name.clone(), tcp).await.map_err(|source| UpstreamError::Tls { addr, source })?;
                send_on(TokioIo::new(tls), req).await
            }
            None => send_on(TokioIo::new(tcp), req).await,
        }
    }

    fn authorization(&self) -> Result<Option<HeaderValue>, UpstreamError> {
        let value = match &self.credential {
            Credential::None => return Ok(None),
            Credential::Token(token) => format!("Bearer {token}"),
            Credential::Basic { username, password } => {
                format!("Basic {}", STANDARD.encode(format!("{username}:{password}")))
            }
            Credential::TokenFile(path) => {
                let mut cached = self.cached_token.lock().expect("token cache lock");
                if let Some((read_at, value)) = cached.as_ref()
                    && read_at.elapsed() < TOKEN_FILE_REFRESH
                {
                    return Ok(Some(value.clone()));
                }
                let token = std::fs::read_to_string(path)
                    .map_err(|source| UpstreamError::TokenFile { path: path.clone(), source })?;
                let value = bearer(token.trim())?;
                *cached = Some((Instant::now(), value.clone()));
                return Ok(Some(value));
            }
        };
        HeaderValue::from_str(&value).map(Some).map_err(invalid_token)
    }
}

fn bearer(token: &str) -> Result<HeaderValue, UpstreamError> {
    HeaderValue::from_str(&format!("Bearer {token}")).map_err(invalid_token)
}

fn invalid_token(_: http::header::InvalidHeaderValue) -> UpstreamError {
    UpstreamError::BadCredential
}

async fn send_on<IO>(io: TokioIo<IO>, req: Request<Incoming>) -> Result<Response<Incoming>, UpstreamError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "upstream connection ended");
        }
    });
    Ok(sender.send_request(req).await?)
}

fn client_config(access: &ClusterAccess) -> Result<rustls::ClientConfig, SetupError> {
    let mut roots = rustls::RootCertStore::empty();
    match &access.ca_pem {
        Some(pem) => {
            let certs =
                rustls_pemfile::certs(&mut pem.as_slice()).collect::<Result<Vec<_>, _>>().map_err(SetupError::Pem)?;
            if certs.is_empty() {
                return Err(SetupError::NoCaCertificate);
            }
            for cert in certs {
                roots.add(cert)?;
            }
        }
        None => {
            let bundle = SYSTEM_CA_FILES.iter().find_map(|f| std::fs::read(f).ok()).ok_or(SetupError::NoSystemRoots)?;
            roots.add_parsable_certificates(rustls_pemfile::certs(&mut bundle.as_slice()).flatten());
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = match &access.client_cert {
        Some(client) => {
            let chain = rustls_pemfile::certs(&mut client.cert_pem.as_slice())
                .collect::<Result<Vec<_>, _>>()
                .map_err(SetupError::Pem)?;
            if chain.is_empty() {
                return Err(SetupError::NoClientCertificate);
            }
            let key = rustls_pemfile::private_key(&mut client.key_pem.as_slice())
                .map_err(SetupError::Pem)?
                .ok_or(SetupError::NoClientKey)?;
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    };
    // HTTP/1.1 so that upgrades (exec, attach, port-forward) pass through unchanged.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
