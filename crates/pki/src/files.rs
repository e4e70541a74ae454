//! File handling for the PKI: private directories, atomic writes with fixed modes, and PEM reading.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::{Error, Result};

/// Private keys and kubeconfigs (which embed keys) are readable by their owner only.
pub(crate) const KEY_MODE: u32 = 0o600;
/// Certificates are public.
pub(crate) const CERT_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o700;

pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

/// Creates `dir` (and its parents) and restricts it to its owner, also when it already existed.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE)).map_err(io_error(dir))
}

/// Reads a UTF-8 file, or `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// Writes `contents` to a temporary file beside `path` created with `mode`, then renames it over `path`, so a
/// crash never leaves a truncated key or certificate and the contents are never readable with a wider mode.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let write = || -> io::Result<()> {
        let mut file = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp)?;
        // `mode` only applies when the file is created; a leftover temporary file may have another.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()
    };
    write().map_err(io_error(&tmp))?;
    fs::rename(&tmp, path).map_err(io_error(path))
}

/// Decodes the first certificate of a PEM file.
pub(crate) fn pem_to_der(path: &Path, pem: &str) -> Result<CertificateDer<'static>> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| Error::InvalidFile { path: path.to_path_buf(), reason: e.to_string() })
}
