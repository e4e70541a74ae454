//! Loading image archives (OCI or docker-archive tarballs, optionally compressed) into the
//! node's containerd, in the `k8s.io` namespace the CRI plugin serves. containerd's CRI has
//! no import call, so this drives containerd's own `ctr` (installed with it), as
//! `ctr images import` is containerd's documented way to load an archive.

use crate::error::{Error, Result};
use crate::paths::Paths;
use std::path::{Path, PathBuf};
use tokio::process::Command;

/// The containerd namespace whose images CRI sees.
pub const CRI_NAMESPACE: &str = "k8s.io";

/// Import the archive at `archive` into the containerd listening on `socket`.
pub async fn import(socket: &Path, archive: &Path) -> Result<()> {
    let output = Command::new("ctr")
        .arg("--address")
        .arg(socket)
        .args(["--namespace", CRI_NAMESPACE, "images", "import"])
        .arg(archive)
        .output()
        .await
        .map_err(|error| Error::Import { path: archive.to_path_buf(), message: format!("running ctr: {error}") })?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(Error::Import { path: archive.to_path_buf(), message });
    }
    Ok(())
}

/// Import an archive held in memory (written to a file under `scratch` first).
pub async fn import_bytes(socket: &Path, scratch: &Path, name: &str, archive: &[u8]) -> Result<()> {
    std::fs::create_dir_all(scratch).map_err(Error::io("creating", scratch))?;
    let file = scratch.join(name);
    std::fs::write(&file, archive).map_err(Error::io("writing", &file))?;
    let imported = import(socket, &file).await;
    let _ = std::fs::remove_file(&file);
    imported
}

/// Whether `path` looks like an image archive (`.tar`, `.tar.gz`, `.tgz`, `.tar.zst`).
fn is_archive(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    [".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd"].iter().any(|ext| name.ends_with(ext))
}

/// The image archives in `dir` (k3s's air-gap directory), in name order.
pub fn archives_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.is_file() && is_archive(p)).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Import every archive in the data dir's `images/`; a bad archive is logged, not fatal.
pub async fn import_dir(socket: &Path, data_dir: &Path) {
    for archive in archives_in(&Paths::images_dir(data_dir)) {
        match import(socket, &archive).await {
            Ok(()) => tracing::info!(archive = %archive.display(), "imported image archive"),
            Err(error) => tracing::error!(%error, "importing an image archive failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_archives_are_picked_up_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.tar", "a.tar.gz", "notes.txt", "c.tgz"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let names: Vec<String> =
            archives_in(dir.path()).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.tar.gz", "b.tar", "c.tgz"]);
    }
}
