//! Client certificates: issuing them for the admin and for cluster components, and reading back the identity
//! (user and groups) that Kubernetes' x509 authenticator derives from one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};

use crate::ca::CertificateAuthority;
use crate::{Error, Pki, Result, organizations};

/// Who a client certificate says its holder is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The subject's common name.
    pub user: String,
    /// The subject's organization values, in order.
    pub groups: Vec<String>,
}

/// Reads the identity from a (DER) client certificate the way Kubernetes does: the user is the subject's common
/// name (the last one, as Go's `pkix.Name` keeps it) and the groups are its organizations. The certificate must
/// already have been verified; this only reads it.
pub fn client_identity(cert_der: &[u8]) -> Result<Identity> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(cert_der).map_err(|e| Error::InvalidCertificate(e.to_string()))?;
    let subject = cert.subject();
    let user = subject.iter_common_name().filter_map(|cn| cn.as_str().ok()).last().unwrap_or_default();
    if user.is_empty() {
        return Err(Error::MissingCommonName);
    }
    let groups = subject.iter_organization().filter_map(|o| o.as_str().ok()).map(String::from).collect();
    Ok(Identity { user: user.to_string(), groups })
}

impl Pki {
    /// Issues a client certificate with a new key for `common_name` (the user, e.g.
    /// `system:kube-controller-manager`) in `organizations` (the groups), returning the certificate and key PEMs.
    pub fn issue_client_cert(&self, common_name: &str, organizations: &[&str]) -> Result<(String, String)> {
        let key = KeyPair::generate()?;
        let cert_pem = issue(&self.ca, common_name, organizations, &key)?;
        Ok((cert_pem, key.serialize_pem()))
    }
}

/// Issues a client certificate for `key`, returned as PEM.
pub(crate) fn issue(
    ca: &CertificateAuthority,
    common_name: &str,
    organizations: &[&str],
    key: &KeyPair,
) -> Result<String> {
    let mut params = CertificateParams::default();
    // Organizations before the common name, the order Go's crypto/x509 writes a subject in.
    params.distinguished_name = DistinguishedName::new();
    organizations::push_organizations(&mut params.distinguished_name, organizations)?;
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = ca.issue(params, key)?;
    let der = organizations::rename_stand_ins(cert.der(), ca.signing_key())?;
    Ok(certificate_pem(&der))
}

/// PEM-encodes a DER certificate with the usual 64-column lines.
fn certificate_pem(der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::RootCertStore;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, UnixTime};
    use rustls::server::WebPkiClientVerifier;

    use super::*;
    use crate::test_pki;

    /// Issues a client certificate and checks that it verifies against the CA, returning its identity.
    fn issue_and_verify(pki: &Pki, common_name: &str, organizations: &[&str]) -> Identity {
        let (cert_pem, key_pem) = pki.issue_client_cert(common_name, organizations).unwrap();
        assert!(KeyPair::from_pem(&key_pem).is_ok());
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(pki.ca_pem().as_bytes()).unwrap()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
        verifier.verify_client_cert(&cert, &[], UnixTime::now()).unwrap();
        client_identity(&cert).unwrap()
    }

    #[test]
    fn component_certificate_carries_its_user() {
        let (_tmp, pki) = test_pki();
        let identity = issue_and_verify(&pki, "system:kube-controller-manager", &[]);
        assert_eq!(identity, Identity { user: "system:kube-controller-manager".into(), groups: vec![] });
    }

    #[test]
    fn every_organization_becomes_a_group_in_order() {
        let (_tmp, pki) = test_pki();
        let identity = issue_and_verify(&pki, "system:node:worker-1", &["system:nodes"]);
        assert_eq!(identity.groups, ["system:nodes"]);

        let groups = ["system:masters", "dev", "ops", "system:authenticated"];
        let identity = issue_and_verify(&pki, "jane", &groups);
        assert_eq!(identity, Identity { user: "jane".into(), groups: groups.map(String::from).to_vec() });

        let many: Vec<String> = (0..organizations::MAX_ORGANIZATIONS).map(|i| format!("group-{i}")).collect();
        let many_refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(issue_and_verify(&pki, "wide", &many_refs).groups, many);
    }

    #[test]
    fn too_many_organizations_are_refused() {
        let (_tmp, pki) = test_pki();
        let groups = vec!["g"; organizations::MAX_ORGANIZATIONS + 1];
        let err = pki.issue_client_cert("u", &groups).unwrap_err();
        assert!(matches!(err, Error::TooManyOrganizations { .. }), "{err}");
    }

    #[test]
    fn a_certificate_without_common_name_names_no_user() {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::OrganizationName, "system:masters");
        let cert = params.self_signed(&key).unwrap();
        assert!(matches!(client_identity(cert.der()), Err(Error::MissingCommonName)));
        assert!(matches!(client_identity(b"not a certificate"), Err(Error::InvalidCertificate(_))));
    }
}
