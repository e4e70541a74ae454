//! TLS between the API server and the kubelets: each node's kubelet serves its API
//! (`:10250`) with a certificate from the cluster CA naming the node, asks callers for
//! client certificates from the same CA, and the API server calls it as
//! `kube-apiserver-kubelet-client` (in `system:masters`, as kubeadm's certificate of that
//! name is cluster-admin), checking the kubelet's certificate against the cluster CA.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::{Error, Pki, Result};

/// The API server's identity toward kubelets.
pub const KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";
const KUBELET_CLIENT_GROUP: &str = "system:masters";

fn roots(ca_pem: &str) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| Error::InvalidCertificate(e.to_string()))?;
    roots.add(ca)?;
    Ok(roots)
}

fn parse(cert_pem: &str, key_pem: &str) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let cert =
        CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| Error::InvalidCertificate(e.to_string()))?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| Error::InvalidCertificate(e.to_string()))?;
    Ok((vec![cert], key))
}

impl Pki {
    /// A serving certificate and key for node `name`'s kubelet at `ips`.
    pub fn issue_kubelet_serving_cert(&self, name: &str, ips: &[IpAddr]) -> Result<(String, String)> {
        let key = KeyPair::generate()?;
        let mut sans = vec![name.to_owned()];
        sans.extend(ips.iter().map(IpAddr::to_string));
        let mut params = CertificateParams::new(sans)?;
        params.distinguished_name.push(DnType::CommonName, format!("system:node:{name}"));
        params.distinguished_name.push(DnType::OrganizationName, "system:nodes");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = self.ca.issue(params, &key)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// The API server's TLS client configuration toward kubelets: its client certificate,
    /// and the cluster CA as the only trusted root.
    pub fn kubelet_client_tls_config(&self) -> Result<ClientConfig> {
        let (cert_pem, key_pem) = self.issue_client_cert(KUBELET_CLIENT_USER, &[KUBELET_CLIENT_GROUP])?;
        let (chain, key) = parse(&cert_pem, &key_pem)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots(self.ca_pem())?)
            .with_client_auth_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// A kubelet's TLS server configuration: its serving certificate, HTTP/1.1 (streaming
/// upgrades), and client certificates from the CA of `ca_pem` requested but optional.
pub fn kubelet_server_tls_config(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca_pem)?), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let (chain, key) = parse(cert_pem, key_pem)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubelet_certificate_names_the_node_and_both_sides_build() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &crate::ServingOptions::default()).unwrap();
        let (cert, key) = pki.issue_kubelet_serving_cert("node-a", &["172.30.0.2".parse().unwrap()]).unwrap();
        let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
        let names = format!("{:?}", parsed.subject_alternative_name().unwrap().unwrap().value.general_names);
        assert_eq!(names, r#"[DNSName("node-a"), IPAddress([172, 30, 0, 2])]"#);
        assert!(kubelet_server_tls_config(pki.ca_pem(), &cert, &key).is_ok());
        assert!(pki.kubelet_client_tls_config().is_ok());
    }
}
