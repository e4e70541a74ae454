//! The API server's connections to kubelets (`pods/log`, and the streaming subresources):
//! HTTPS to the node's InternalIP and `daemonEndpoints.kubeletEndpoint.Port`, as
//! `kube-apiserver-kubelet-client`, trusting only the cluster CA, over HTTP/1.1 so a
//! response can be upgraded.

use crate::status::ApiError;
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::TlsConnector;

/// How long connecting to a kubelet may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a node's kubelet listens.
#[derive(Clone, Debug)]
pub struct KubeletAddress {
    pub ip: IpAddr,
    pub port: u16,
}

impl KubeletAddress {
    /// The kubelet of `node` (a Node object): its InternalIP and kubelet port.
    pub fn of(node: &Value) -> Option<KubeletAddress> {
        let addresses = node.pointer("/status/addresses")?.as_array()?;
        let ip = ["InternalIP", "ExternalIP"].iter().find_map(|wanted| {
            addresses
                .iter()
                .find(|a| a["type"] == *wanted)
                .and_then(|a| a["address"].as_str())
                .and_then(|a| a.parse().ok())
        })?;
        let port =
            node.pointer("/status/daemonEndpoints/kubeletEndpoint/Port").and_then(Value::as_u64).unwrap_or(10250);
        Some(KubeletAddress { ip, port: port as u16 })
    }
}

/// Calls kubelets.
#[derive(Clone)]
pub struct KubeletClient {
    tls: TlsConnector,
}

fn unavailable(address: &KubeletAddress, error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("error dialing backend: {}:{}: {error}", address.ip, address.port))
}

impl KubeletClient {
    pub fn new(tls: rustls::ClientConfig) -> KubeletClient {
        KubeletClient { tls: TlsConnector::from(Arc::new(tls)) }
    }

    /// Send `request` (path and query only; method and headers as given) to the kubelet at
    /// `address`; the response streams, and may be upgraded (the connection serves upgrades).
    pub async fn send(
        &self,
        address: &KubeletAddress,
        mut request: Request<Empty<Bytes>>,
    ) -> Result<Response<Incoming>, ApiError> {
        let socket = SocketAddr::new(address.ip, address.port);
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(socket))
            .await
            .map_err(|_| unavailable(address, "connect timed out"))?
            .map_err(|e| unavailable(address, e))?;
        let tls = self
            .tls
            .connect(ServerName::IpAddress(address.ip.into()), tcp)
            .await
            .map_err(|e| unavailable(address, e))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| unavailable(address, e))?;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%error, "kubelet connection ended");
            }
        });
        let host = format!("{}:{}", address.ip, address.port);
        request.headers_mut().insert(hyper::header::HOST, host.parse().map_err(|e| unavailable(address, e))?);
        sender.send_request(request).await.map_err(|e| unavailable(address, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_address_is_the_internal_ip_and_the_kubelet_port() {
        let node = json!({"status": {"addresses": [{"type": "Hostname", "address": "n"}, {"type": "InternalIP", "address": "172.30.0.2"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}});
        let address = KubeletAddress::of(&node).unwrap();
        assert_eq!((address.ip.to_string(), address.port), ("172.30.0.2".to_owned(), 10250));
        assert!(KubeletAddress::of(&json!({"status": {}})).is_none());
    }
}
