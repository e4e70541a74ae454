//! The API server's serving certificate: the names it must carry, and the rustls configuration that serves it.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::{Pki, Result, host, invalid_file};

/// The serving certificate's subject, as kubeadm names it.
const SERVING_COMMON_NAME: &str = "kube-apiserver";

/// The in-cluster names of the `kubernetes` service in the `default` namespace.
const SERVICE_NAMES: [&str; 4] =
    ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"];

/// What the serving certificate must name besides this host and the `kubernetes` service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingOptions {
    /// Additional DNS names (an entry that parses as an IP address is taken as one).
    pub extra_names: Vec<String>,
    pub extra_ips: Vec<IpAddr>,
    /// The `kubernetes` service's cluster IP: the first address of the service range.
    pub service_ip: IpAddr,
}

impl Default for ServingOptions {
    fn default() -> Self {
        ServingOptions {
            extra_names: Vec::new(),
            extra_ips: Vec::new(),
            service_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        }
    }
}

/// One subject alternative name, normalised so that names read back from a certificate compare equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SubjectName {
    Dns(String),
    Ip(IpAddr),
}

impl SubjectName {
    fn parse(name: &str) -> SubjectName {
        match name.parse::<IpAddr>() {
            Ok(ip) => SubjectName::Ip(ip),
            Err(_) => SubjectName::Dns(name.to_ascii_lowercase()),
        }
    }
}

/// Every name the serving certificate needs now: loopback, this host's names and addresses, the `kubernetes`
/// service's names and IP, and the extras from `opts`.
pub(crate) fn required_names(opts: &ServingOptions) -> BTreeSet<SubjectName> {
    let mut names: BTreeSet<SubjectName> =
        ["localhost"].into_iter().chain(SERVICE_NAMES).map(SubjectName::parse).collect();
    let hostname = host::hostname();
    let fqdn = hostname.as_deref().and_then(host::fqdn);
    names.extend(hostname.iter().chain(fqdn.iter()).chain(opts.extra_names.iter()).map(|n| SubjectName::parse(n)));
    let ips = [IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST), opts.service_ip];
    names.extend(
        ips.into_iter().chain(host::interface_addresses()).chain(opts.extra_ips.iter().copied()).map(SubjectName::Ip),
    );
    names
}

/// Whether `cert` already names everything in `names`.
pub(crate) fn covers(cert: &X509Certificate, names: &BTreeSet<SubjectName>) -> bool {
    let Ok(Some(san)) = cert.subject_alternative_name() else { return false };
    let present: BTreeSet<SubjectName> = san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(SubjectName::Dns(dns.to_ascii_lowercase())),
            GeneralName::IPAddress(bytes) => ip_from_bytes(bytes).map(SubjectName::Ip),
            _ => None,
        })
        .collect();
    names.is_subset(&present)
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

pub(crate) fn params(names: &BTreeSet<SubjectName>) -> Result<CertificateParams> {
    let sans: Vec<String> = names
        .iter()
        .map(|name| match name {
            SubjectName::Dns(dns) => dns.clone(),
            SubjectName::Ip(ip) => ip.to_string(),
        })
        .collect();
    let mut params = CertificateParams::new(sans)?;
    params.distinguished_name.push(DnType::CommonName, SERVING_COMMON_NAME);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

impl Pki {
    /// The API server's TLS configuration: the serving certificate, ALPN `h2` then `http/1.1`, and client
    /// certificates requested but optional. A presented client certificate must verify against the cluster CA;
    /// a client without one is left to other authenticators (tokens, anonymous).
    pub fn server_tls_config(&self) -> Result<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.cert_der().clone())?;
        let client_verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated()
            .build()?;
        let cert = CertificateDer::from_pem_slice(self.serving.cert_pem.as_bytes())
            .map_err(|e| invalid_file(&self.serving_cert_path(), e))?;
        let key = PrivateKeyDer::from_pem_slice(self.serving.key_pem.as_bytes())
            .map_err(|e| invalid_file(&self.serving_key_path(), e))?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(vec![cert], key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{ServerName, UnixTime};
    use rustls::{ClientConfig, ClientConnection, ServerConnection};

    use super::*;
    use crate::{client_identity, test_pki};

    fn ca_roots(pki: &Pki) -> Arc<RootCertStore> {
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(pki.ca_pem().as_bytes()).unwrap()).unwrap();
        Arc::new(roots)
    }

    #[test]
    fn serving_cert_verifies_for_loopback_and_service_names() {
        let (_tmp, pki) = test_pki();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiServerVerifier::builder_with_provider(ca_roots(&pki), provider).build().unwrap();
        let cert = CertificateDer::from_pem_slice(pki.serving().cert_pem.as_bytes()).unwrap();
        let mut names = vec!["localhost", "127.0.0.1", "::1", "kubernetes.default.svc", "kubernetes", "10.0.0.1"];
        let hostname = host::hostname();
        names.extend(hostname.as_deref());
        for name in names {
            let server_name = ServerName::try_from(name).unwrap();
            verifier
                .verify_server_cert(&cert, &[], &server_name, &[], UnixTime::now())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let stranger = ServerName::try_from("example.com").unwrap();
        assert!(verifier.verify_server_cert(&cert, &[], &stranger, &[], UnixTime::now()).is_err());
    }

    /// Runs a TLS handshake in memory and sends one byte, returning the server side or the server's error.
    fn handshake(pki: &Pki, client_cert: Option<(String, String)>) -> Result<ServerConnection, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(ca_roots(pki));
        let mut client_config = match client_cert {
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        client_config.alpn_protocols = vec![b"h2".to_vec()];
        let server_name = ServerName::try_from("kubernetes.default.svc").unwrap();
        let mut client = ClientConnection::new(Arc::new(client_config), server_name).unwrap();
        let mut server = ServerConnection::new(Arc::new(pki.server_tls_config().unwrap())).unwrap();
        client.writer().write_all(b"x").unwrap();
        for _ in 0..10 {
            let mut buf = Vec::new();
            client.write_tls(&mut buf).unwrap();
            server.read_tls(&mut buf.as_slice()).unwrap();
            server.process_new_packets()?;
            let mut buf = Vec::new();
            server.write_tls(&mut buf).unwrap();
            client.read_tls(&mut buf.as_slice()).unwrap();
            // The client learns of a server-side failure only through the alert; the server's error is what counts.
            if client.process_new_packets().is_err() {
                break;
            }
        }
        let mut byte = [0u8; 1];
        server.reader().read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"x");
        assert_eq!(server.alpn_protocol(), Some(&b"h2"[..]));
        Ok(server)
    }

    #[test]
    fn tls_accepts_clients_with_and_without_a_certificate() {
        let (_tmp, pki) = test_pki();
        let anonymous = handshake(&pki, None).unwrap();
        assert!(anonymous.peer_certificates().is_none());

        let component = pki.issue_client_cert("system:kube-scheduler", &[]).unwrap();
        let authenticated = handshake(&pki, Some(component)).unwrap();
        let peer = &authenticated.peer_certificates().unwrap()[0];
        assert_eq!(client_identity(peer).unwrap().user, "system:kube-scheduler");
    }

    #[test]
    fn tls_rejects_a_client_certificate_from_another_ca() {
        let (_tmp, pki) = test_pki();
        let (_other_tmp, other) = test_pki();
        let foreign = other.issue_client_cert("mallory", &["system:masters"]).unwrap();
        let err = handshake(&pki, Some(foreign)).expect_err("a certificate from another CA must fail the handshake");
        assert!(matches!(err, rustls::Error::InvalidCertificate(_)), "{err}");
    }

    #[test]
    fn required_names_include_service_and_extras() {
        let opts = ServingOptions {
            extra_names: vec!["API.Example.test".into(), "192.0.2.9".into()],
            extra_ips: vec!["2001:db8::1".parse().unwrap()],
            service_ip: "10.96.0.1".parse().unwrap(),
        };
        let names = required_names(&opts);
        for expected in
            ["api.example.test", "192.0.2.9", "2001:db8::1", "10.96.0.1", "kubernetes.default.svc.cluster.local"]
        {
            assert!(names.contains(&SubjectName::parse(expected)), "{expected}");
        }
        assert!(!names.contains(&SubjectName::parse("10.0.0.1")));
    }
}
