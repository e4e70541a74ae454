//! Running one probe once, as upstream's prober does: `exec` through CRI `ExecSync` (exit
//! code 0 passes), `httpGet` (a status from 200 to 399 passes; HTTPS is not verified, as
//! upstream's), `tcpSocket` (the connection opens) and `grpc` (the standard health service
//! answers SERVING). Named ports resolve through the container's `ports`.

use crate::cri::Cri;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use k8s_cri::v1::ExecSyncRequest;
use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::time::Duration;

/// What a probe found: `Ok` passes, `Err` fails with upstream's output text.
pub type Outcome = Result<(), String>;

/// The port a probe names (a number, or a named port of the container).
fn port(container: &Container, port: &IntOrString) -> Result<u16, String> {
    match port {
        IntOrString::Int(number) => u16::try_from(*number).map_err(|_| format!("invalid port {number}")),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .ok_or_else(|| format!("couldn't find port {name:?} in container")),
    }
}

/// Run `probe` against `container` (instance `container_id`) of a pod at `pod_ip`.
pub async fn run(cri: &Cri, probe: &Probe, container: &Container, container_id: &str, pod_ip: &str) -> Outcome {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    if let Some(exec) = &probe.exec {
        let request = ExecSyncRequest {
            container_id: container_id.to_owned(),
            cmd: exec.command.clone().unwrap_or_default(),
            timeout: timeout.as_secs() as i64,
        };
        let response = tokio::time::timeout(timeout + Duration::from_secs(1), cri.runtime().exec_sync(request))
            .await
            .map_err(|_| format!("command timed out after {}s", timeout.as_secs()))?
            .map_err(|status| status.message().to_owned())?
            .into_inner();
        if response.exit_code == 0 {
            return Ok(());
        }
        let mut output = String::from_utf8_lossy(&response.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&response.stderr));
        return Err(output);
    }
    if let Some(tcp) = &probe.tcp_socket {
        let host = tcp.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| pod_ip.to_owned());
        let port = port(container, &tcp.port)?;
        return match tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host.as_str(), port))).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(format!("dial tcp {host}:{port}: {error}")),
            Err(_) => Err(format!("dial tcp {host}:{port}: i/o timeout")),
        };
    }
    if let Some(http) = &probe.http_get {
        let host = http.host.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| pod_ip.to_owned());
        let port = port(container, &http.port)?;
        let path = http.path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/".to_owned());
        let headers: Vec<(String, String)> =
            http.http_headers.iter().flatten().map(|h| (h.name.clone(), h.value.clone())).collect();
        let https = http.scheme.as_deref() == Some("HTTPS");
        let url = format!("{}://{host}:{port}{path}", if https { "https" } else { "http" });
        return match tokio::time::timeout(timeout, http_get(&host, port, &path, &headers, https)).await {
            Ok(Ok(status)) if (200..400).contains(&status) => Ok(()),
            Ok(Ok(status)) => Err(format!("HTTP probe failed with statuscode: {status}")),
            Ok(Err(error)) => Err(format!("Get \"{url}\": {error}")),
            Err(_) => Err(format!(
                "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            )),
        };
    }
    if let Some(grpc) = &probe.grpc {
        let address = format!("http://{pod_ip}:{}", grpc.port);
        let service = grpc.service.clone().unwrap_or_default();
        let check = async {
            let channel = tonic::transport::Endpoint::from_shared(address.clone())
                .map_err(|e| e.to_string())?
                .connect()
                .await
                .map_err(|e| e.to_string())?;
            let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
            let answer = client
                .check(tonic_health::pb::HealthCheckRequest { service })
                .await
                .map_err(|s| s.message().to_owned())?;
            Ok::<i32, String>(answer.into_inner().status)
        };
        return match tokio::time::timeout(timeout, check).await {
            Ok(Ok(1)) => Ok(()),
            Ok(Ok(status)) => Err(format!("service unhealthy (responded with {status})")),
            Ok(Err(error)) => {
                Err(format!("failed to connect service {address:?} within {}s: {error}", timeout.as_secs()))
            }
            Err(_) => Err(format!("timeout: failed to connect service {address:?} within {}s", timeout.as_secs())),
        };
    }
    Err("probe has no handler".to_owned())
}

pub(super) async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    https: bool,
) -> Result<u16, String> {
    let tcp = tokio::net::TcpStream::connect((host, port)).await.map_err(|e| format!("dial tcp {host}:{port}: {e}"))?;
    let mut request = hyper::Request::get(path).header(hyper::header::HOST, format!("{host}:{port}"));
    request = request.header(hyper::header::USER_AGENT, "kube-probe/1.33");
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?;
    let status = if https {
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(insecure_tls()));
        let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
        let stream = tls.connect(name, tcp).await.map_err(|e| e.to_string())?;
        send(TokioIo::new(stream), request).await?
    } else {
        send(TokioIo::new(tcp), request).await?
    };
    Ok(status)
}

async fn send<T>(io: T, request: hyper::Request<Empty<Bytes>>) -> Result<u16, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    Ok(status)
}

/// Upstream's prober does not verify a probed pod's certificate (it cannot know its CA).
fn insecure_tls() -> rustls::ClientConfig {
    #[derive(Debug)]
    struct AcceptAny(std::sync::Arc<rustls::crypto::CryptoProvider>);
    impl rustls::client::danger::ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AcceptAny(provider)))
        .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_ports_resolve_through_the_container() {
        let container: Container = serde_json::from_value(serde_json::json!({
            "name": "c", "ports": [{"name": "http", "containerPort": 8080}]}))
        .unwrap();
        assert_eq!(port(&container, &IntOrString::String("http".into())), Ok(8080));
        assert_eq!(port(&container, &IntOrString::Int(81)), Ok(81));
        assert!(port(&container, &IntOrString::String("grpc".into())).is_err());
    }
}
