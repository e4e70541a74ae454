//! The cluster certificate authority: created once, loaded on every start, and the signer of every other
//! certificate. Validity periods and serial numbers of issued certificates are decided here.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
    SerialNumber,
};
use rustls::pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;

use crate::files::{self, CERT_MODE, KEY_MODE};
use crate::{Error, Result, invalid_file};

const CA_COMMON_NAME: &str = "krust-ca";
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * DAY.as_secs());
const LEAF_LIFETIME: Duration = Duration::from_secs(365 * DAY.as_secs());
/// Leaf certificates are re-issued at start-up once less than this remains, as k3s does.
const RENEW_BEFORE: Duration = Duration::from_secs(90 * DAY.as_secs());
/// Certificates start slightly in the past so that peers whose clock lags a little still accept them.
const BACKDATE: Duration = Duration::from_secs(5 * 60);

pub(crate) struct CertificateAuthority {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl CertificateAuthority {
    /// Loads the CA from its two files. A key without a certificate gets a new self-signed certificate (that is
    /// what an interrupted first start leaves, as the key is written first); a certificate without its key is an
    /// error, because replacing it would silently invalidate everything it signed.
    pub(crate) fn load_or_create(cert_path: &Path, key_path: &Path) -> Result<Self> {
        let key_pem = files::read_optional(key_path)?;
        let cert_pem = files::read_optional(cert_path)?;
        let key = match (&key_pem, &cert_pem) {
            (Some(pem), _) => KeyPair::from_pem(pem).map_err(|e| invalid_file(key_path, e))?,
            (None, Some(_)) => {
                return Err(Error::IncompleteCa { present: cert_path.to_path_buf(), missing: key_path.to_path_buf() });
            }
            (None, None) => {
                let key = KeyPair::generate()?;
                files::write_atomic(key_path, key.serialize_pem().as_bytes(), KEY_MODE)?;
                key
            }
        };
        let Some(cert_pem) = cert_pem else {
            tracing::info!(path = %cert_path.display(), "creating cluster CA");
            return Self::create(cert_path, key);
        };
        let cert_der = files::pem_to_der(cert_path, &cert_pem)?;
        let (_, cert) = x509_parser::parse_x509_certificate(&cert_der).map_err(|e| invalid_file(cert_path, e))?;
        if cert.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(invalid_file(key_path, format!("does not match the public key of {}", cert_path.display())));
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der, key).map_err(|e| invalid_file(cert_path, e))?;
        Ok(Self { cert_pem, cert_der, issuer })
    }

    fn create(cert_path: &Path, key: KeyPair) -> Result<Self> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, CA_COMMON_NAME);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        set_validity(&mut params, CA_LIFETIME)?;
        let cert = params.self_signed(&key)?;
        let cert_pem = cert.pem();
        files::write_atomic(cert_path, cert_pem.as_bytes(), CERT_MODE)?;
        Ok(Self { cert_pem, cert_der: cert.der().clone(), issuer: Issuer::new(params, key) })
    }

    pub(crate) fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub(crate) fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    pub(crate) fn signing_key(&self) -> &KeyPair {
        self.issuer.key()
    }

    /// Signs a leaf certificate for `key`, with the leaf lifetime and a fresh serial number.
    pub(crate) fn issue(&self, mut params: CertificateParams, key: &KeyPair) -> Result<Certificate> {
        set_validity(&mut params, LEAF_LIFETIME)?;
        params.use_authority_key_identifier_extension = true;
        Ok(params.signed_by(key, &self.issuer)?)
    }

    /// Whether `cert` names this CA as issuer and carries its valid signature.
    pub(crate) fn issued(&self, cert: &X509Certificate) -> bool {
        let Ok((_, ca)) = x509_parser::parse_x509_certificate(&self.cert_der) else { return false };
        cert.issuer().as_raw() == ca.subject().as_raw() && cert.verify_signature(Some(ca.public_key())).is_ok()
    }
}

/// Whether `cert` has expired, is not yet valid, or expires within [`RENEW_BEFORE`].
pub(crate) fn needs_renewal(cert: &X509Certificate) -> bool {
    cert.validity().time_to_expiration().is_none_or(|left| left.whole_seconds() < RENEW_BEFORE.as_secs() as i64)
}

fn set_validity(params: &mut CertificateParams, lifetime: Duration) -> Result<()> {
    let since_epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let now = rcgen::date_time_ymd(1970, 1, 1) + since_epoch;
    params.not_before = now - BACKDATE;
    params.not_after = now + lifetime;
    params.serial_number = Some(random_serial()?);
    Ok(())
}

/// A random positive 128-bit serial: rcgen's default derives the serial from the public key, which would repeat
/// whenever a certificate is re-issued for the same key, and RFC 5280 wants serials unique per CA.
fn random_serial() -> Result<SerialNumber> {
    const SOURCE: &str = "/dev/urandom";
    let mut bytes = [0u8; 16];
    std::fs::File::open(SOURCE)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(files::io_error(Path::new(SOURCE)))?;
    // Positive and without a leading zero byte, so the DER integer keeps all 16 bytes.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}
