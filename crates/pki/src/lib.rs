//! The cluster PKI of `krust server`: one certificate authority, the API server's serving certificate, client
//! certificates (for the admin and for components) and kubeconfig files that carry them.
//!
//! Start at [`Pki::load_or_create`], which keeps everything under one directory and reuses it across restarts;
//! [`Pki::server_tls_config`] builds the API server's TLS setup and [`client_identity`] turns a verified client
//! certificate into the user and groups Kubernetes authorisation sees.

mod ca;
mod client;
mod files;
mod host;
pub mod kubeconfig;
mod kubelet;
mod organizations;
mod serving;

use std::path::{Path, PathBuf};

use rcgen::{KeyPair, PublicKeyData};
use x509_parser::certificate::X509Certificate;

use ca::CertificateAuthority;
pub use client::{Identity, client_identity};
pub use kubeconfig::Kubeconfig;
pub use kubelet::{KUBELET_CLIENT_USER, kubelet_server_tls_config};
pub use serving::ServingOptions;

/// File names inside the PKI directory.
const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const SERVING_CERT: &str = "apiserver.crt";
const SERVING_KEY: &str = "apiserver.key";
const ADMIN_CERT: &str = "admin.crt";
const ADMIN_KEY: &str = "admin.key";

/// The admin identity: `system:masters` is bound to `cluster-admin` by the default RBAC policy.
const ADMIN_USER: &str = "admin";
const ADMIN_GROUP: &str = "system:masters";

/// Everything that can go wrong while creating, loading or using the PKI.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file or directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A stored certificate or key could not be parsed.
    #[error("{}: {reason}", path.display())]
    InvalidFile { path: PathBuf, reason: String },
    /// Only one of `ca.crt` and `ca.key` exists, so the CA can neither be used nor safely replaced.
    #[error("{} exists but {} is missing; restore it or remove both to create a new CA", present.display(), missing.display())]
    IncompleteCa { present: PathBuf, missing: PathBuf },
    /// rcgen refused the certificate parameters (for example a DNS name that is not ASCII).
    #[error("generating certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A certificate presented for identification could not be parsed.
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    /// A client certificate has an empty subject common name, so it names no user.
    #[error("certificate subject has no common name")]
    MissingCommonName,
    /// More organizations were asked for than one certificate can carry here.
    #[error("at most {max} organizations can be put in one certificate, {requested} were requested")]
    TooManyOrganizations { max: usize, requested: usize },
    /// rustls rejected the certificate or key while building the TLS configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// rustls could not build the client certificate verifier from the CA.
    #[error("client certificate verifier: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    /// A kubeconfig could not be serialised or parsed.
    #[error("kubeconfig YAML: {0}")]
    Yaml(#[from] yaml_serde::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A certificate and its private key, both PEM-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertAndKey {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The cluster's CA with the serving and admin certificates it has issued, all stored under one directory.
pub struct Pki {
    dir: PathBuf,
    ca: CertificateAuthority,
    serving: CertAndKey,
    admin: CertAndKey,
}

impl Pki {
    /// Loads the PKI from `dir`, creating whatever is missing.
    ///
    /// The CA is never replaced once it exists. The serving and admin certificates are reused unless they are
    /// missing, not issued by this CA, close to expiry or (for the serving certificate) lack a name that `opts` and
    /// this host now need; a re-issued certificate keeps its existing private key.
    pub fn load_or_create(dir: &Path, opts: &ServingOptions) -> Result<Pki> {
        files::create_private_dir(dir)?;
        let ca = CertificateAuthority::load_or_create(&dir.join(CA_CERT), &dir.join(CA_KEY))?;

        let serving_names = serving::required_names(opts);
        let serving = load_or_issue(
            &ca,
            &dir.join(SERVING_CERT),
            &dir.join(SERVING_KEY),
            |cert| serving::covers(cert, &serving_names),
            |key| Ok(ca.issue(serving::params(&serving_names)?, key)?.pem()),
        )?;
        let admin = load_or_issue(
            &ca,
            &dir.join(ADMIN_CERT),
            &dir.join(ADMIN_KEY),
            |cert| client_identity(cert.as_raw()).is_ok_and(|id| id.user == ADMIN_USER && id.groups == [ADMIN_GROUP]),
            |key| client::issue(&ca, ADMIN_USER, &[ADMIN_GROUP], key),
        )?;
        Ok(Pki { dir: dir.to_path_buf(), ca, serving, admin })
    }

    /// The directory holding the PKI files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate, PEM-encoded (what kubeconfigs carry as `certificate-authority-data`).
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }

    /// The API server's serving certificate and key.
    pub fn serving(&self) -> &CertAndKey {
        &self.serving
    }

    pub fn serving_cert_path(&self) -> PathBuf {
        self.dir.join(SERVING_CERT)
    }

    pub fn serving_key_path(&self) -> PathBuf {
        self.dir.join(SERVING_KEY)
    }

    /// The admin client certificate (CN `admin`, O `system:masters`) and key.
    pub fn admin(&self) -> &CertAndKey {
        &self.admin
    }

    pub fn admin_cert_path(&self) -> PathBuf {
        self.dir.join(ADMIN_CERT)
    }

    pub fn admin_key_path(&self) -> PathBuf {
        self.dir.join(ADMIN_KEY)
    }
}

/// Reuses the certificate at `cert_path` when it still fits, otherwise issues a new one for the key at `key_path`
/// (generating the key only if there is none) with `issue`, and writes what changed.
fn load_or_issue(
    ca: &CertificateAuthority,
    cert_path: &Path,
    key_path: &Path,
    fits: impl Fn(&X509Certificate) -> bool,
    issue: impl FnOnce(&KeyPair) -> Result<String>,
) -> Result<CertAndKey> {
    let key = match files::read_optional(key_path)? {
        Some(pem) => KeyPair::from_pem(&pem).map_err(|e| invalid_file(key_path, e))?,
        None => {
            let key = KeyPair::generate()?;
            files::write_atomic(key_path, key.serialize_pem().as_bytes(), files::KEY_MODE)?;
            key
        }
    };
    if let Some(cert_pem) = files::read_optional(cert_path)? {
        let der = files::pem_to_der(cert_path, &cert_pem)?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| invalid_file(cert_path, e))?;
        let same_key = cert.public_key().raw == key.subject_public_key_info().as_slice();
        if same_key && ca.issued(&cert) && !ca::needs_renewal(&cert) && fits(&cert) {
            return Ok(CertAndKey { cert_pem, key_pem: key.serialize_pem() });
        }
        tracing::info!(path = %cert_path.display(), "re-issuing certificate");
    }
    let cert_pem = issue(&key)?;
    files::write_atomic(cert_path, cert_pem.as_bytes(), files::CERT_MODE)?;
    Ok(CertAndKey { cert_pem, key_pem: key.serialize_pem() })
}

fn invalid_file(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::InvalidFile { path: path.to_path_buf(), reason: reason.to_string() }
}

/// A PKI in a fresh temporary directory, shared by the tests of every module.
#[cfg(test)]
pub(crate) fn test_pki() -> (tempfile::TempDir, Pki) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = Pki::load_or_create(&dir.path().join("pki"), &ServingOptions::default()).expect("create PKI");
    (dir, pki)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::net::{IpAddr, Ipv4Addr};
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn first_start_creates_private_files() {
        let (_tmp, pki) = test_pki();
        assert_eq!(mode(pki.dir()), 0o700);
        for key in [CA_KEY, SERVING_KEY, ADMIN_KEY] {
            assert_eq!(mode(&pki.dir().join(key)), 0o600, "{key}");
        }
        assert_eq!(fs::read_to_string(pki.ca_cert_path()).unwrap(), pki.ca_pem());
        assert_eq!(fs::read_to_string(pki.admin_cert_path()).unwrap(), pki.admin().cert_pem);
        assert_eq!(fs::read_to_string(pki.serving_key_path()).unwrap(), pki.serving().key_pem);
        let admin_der = files::pem_to_der(&pki.admin_cert_path(), &pki.admin().cert_pem).unwrap();
        let identity = client_identity(&admin_der).unwrap();
        assert_eq!(
            (identity.user.as_str(), identity.groups.as_slice()),
            ("admin", ["system:masters".to_string()].as_slice())
        );
    }

    #[test]
    fn restart_reuses_everything() {
        let (_tmp, first) = test_pki();
        let second = Pki::load_or_create(first.dir(), &ServingOptions::default()).unwrap();
        assert_eq!(first.ca_pem(), second.ca_pem());
        assert_eq!(first.serving(), second.serving());
        assert_eq!(first.admin(), second.admin());
        assert_eq!(fs::read(first.ca_cert_path()).unwrap(), second.ca_pem().as_bytes());
    }

    #[test]
    fn a_new_name_reissues_only_the_serving_cert_with_the_same_key() {
        let (_tmp, first) = test_pki();
        let opts = ServingOptions {
            extra_names: vec!["api.example.test".into()],
            extra_ips: vec![IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))],
            ..ServingOptions::default()
        };
        let second = Pki::load_or_create(first.dir(), &opts).unwrap();
        assert_eq!(first.ca_pem(), second.ca_pem());
        assert_eq!(first.admin(), second.admin());
        assert_eq!(first.serving().key_pem, second.serving().key_pem);
        assert_ne!(first.serving().cert_pem, second.serving().cert_pem);

        let der = files::pem_to_der(&second.serving_cert_path(), &second.serving().cert_pem).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(serving::covers(&cert, &serving::required_names(&opts)));
        // Going back to fewer names keeps the wider certificate.
        let third = Pki::load_or_create(first.dir(), &ServingOptions::default()).unwrap();
        assert_eq!(second.serving(), third.serving());
    }

    #[test]
    fn a_certificate_from_another_ca_is_replaced() {
        let (_tmp, first) = test_pki();
        let (_other_tmp, other) = test_pki();
        fs::copy(other.admin_cert_path(), first.admin_cert_path()).unwrap();
        fs::copy(other.admin_key_path(), first.admin_key_path()).unwrap();
        let reloaded = Pki::load_or_create(first.dir(), &ServingOptions::default()).unwrap();
        assert_eq!(reloaded.admin().key_pem, other.admin().key_pem);
        assert_ne!(reloaded.admin().cert_pem, other.admin().cert_pem);
        let der = files::pem_to_der(&reloaded.admin_cert_path(), &reloaded.admin().cert_pem).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(reloaded.ca.issued(&cert));
    }

    #[test]
    fn a_ca_certificate_without_its_key_is_an_error() {
        let (_tmp, pki) = test_pki();
        fs::remove_file(pki.dir().join(CA_KEY)).unwrap();
        let err = Pki::load_or_create(pki.dir(), &ServingOptions::default()).err().unwrap();
        assert!(matches!(err, Error::IncompleteCa { .. }), "{err}");
    }
}
