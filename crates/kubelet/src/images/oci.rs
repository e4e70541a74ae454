//! OCI image archives built in memory: Krust's own pause image, and the images tests make
//! from local files (no registry is ever needed). The archive is an OCI image layout in a
//! tar (`oci-layout`, `index.json`, `blobs/sha256/...`), which containerd imports and
//! `skopeo` pushes; the index names the image with containerd's
//! `io.containerd.image.name` annotation. Everything is deterministic (fixed times and
//! owners), so the same content is the same image ID.

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// One filesystem layer, built entry by entry.
pub struct Layer {
    tar: tar::Builder<Vec<u8>>,
}

impl Default for Layer {
    fn default() -> Self {
        Layer::new()
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}

impl Layer {
    pub fn new() -> Layer {
        Layer { tar: tar::Builder::new(Vec::new()) }
    }

    /// A regular file at `path` (relative to the root, e.g. `bin/sh`).
    pub fn file(mut self, path: &str, mode: u32, content: &[u8]) -> std::io::Result<Layer> {
        let mut header = header(tar::EntryType::Regular, mode, content.len() as u64);
        self.tar.append_data(&mut header, path, content)?;
        Ok(self)
    }

    /// A directory at `path`.
    pub fn dir(mut self, path: &str, mode: u32) -> std::io::Result<Layer> {
        let mut header = header(tar::EntryType::Directory, mode, 0);
        self.tar.append_data(&mut header, path, std::io::empty())?;
        Ok(self)
    }

    /// A symbolic link at `path` pointing at `target`.
    pub fn symlink(mut self, path: &str, target: &str) -> std::io::Result<Layer> {
        let mut header = header(tar::EntryType::Symlink, 0o777, 0);
        self.tar.append_link(&mut header, path, target)?;
        Ok(self)
    }

    fn into_tar(self) -> std::io::Result<Vec<u8>> {
        self.tar.into_inner()
    }
}

/// An image: its name, layers and run configuration.
pub struct Image {
    /// The full reference the image is known by, e.g. `docker.io/library/busybox:1.36`.
    pub reference: String,
    pub layers: Vec<Layer>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
}

impl Image {
    /// An image named `reference` with no layers and no command.
    pub fn new(reference: &str) -> Image {
        Image {
            reference: reference.to_owned(),
            layers: Vec::new(),
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned()],
            working_dir: String::new(),
        }
    }

    /// The image as an OCI archive (a tar holding an OCI image layout).
    pub fn archive(self) -> std::io::Result<Vec<u8>> {
        let mut blobs = Vec::new();
        let mut diff_ids = Vec::new();
        let mut layer_descriptors = Vec::new();
        for layer in self.layers {
            let tar = layer.into_tar()?;
            diff_ids.push(format!("sha256:{}", sha256(&tar)));
            let mut gz = GzEncoder::new(Vec::new(), Compression::default());
            gz.write_all(&tar)?;
            let gz = gz.finish()?;
            layer_descriptors.push(descriptor(LAYER_TYPE, &gz));
            blobs.push(gz);
        }
        let tag = self.reference.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')).map_or("latest", |(_, t)| t);
        let config = serde_json::to_vec(&json!({
            "architecture": go_arch(),
            "os": "linux",
            "config": {
                "Entrypoint": none_if_empty(self.entrypoint),
                "Cmd": none_if_empty(self.cmd),
                "Env": self.env,
                "WorkingDir": self.working_dir,
            },
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [],
        }))?;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": descriptor(CONFIG_TYPE, &config),
            "layers": layer_descriptors,
        }))?;
        let mut manifest_descriptor = descriptor(MANIFEST_TYPE, &manifest);
        manifest_descriptor["annotations"] = json!({
            "io.containerd.image.name": self.reference,
            "org.opencontainers.image.ref.name": tag,
        });
        let index = serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [manifest_descriptor]}))?;
        blobs.push(config);
        blobs.push(manifest);

        let mut out = tar::Builder::new(Vec::new());
        let mut add = |path: &str, content: &[u8]| {
            let mut header = header(tar::EntryType::Regular, 0o644, content.len() as u64);
            out.append_data(&mut header, path, content)
        };
        add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        add("index.json", &index)?;
        for blob in &blobs {
            add(&format!("blobs/sha256/{}", sha256(blob)), blob)?;
        }
        out.into_inner()
    }
}

fn none_if_empty(list: Vec<String>) -> Option<Vec<String>> {
    (!list.is_empty()).then_some(list)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn descriptor(media_type: &str, blob: &[u8]) -> serde_json::Value {
    json!({"mediaType": media_type, "digest": format!("sha256:{}", sha256(blob)), "size": blob.len()})
}

/// This machine's architecture in Go's (and OCI's) names.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut tar = tar::Archive::new(archive);
        tar.entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let path = entry.path().unwrap().to_string_lossy().into_owned();
                let mut content = Vec::new();
                entry.read_to_end(&mut content).unwrap();
                (path, content)
            })
            .collect()
    }

    #[test]
    fn an_archive_is_an_oci_layout_whose_blobs_match_their_digests() {
        let mut image = Image::new("example.com/tools:1.0");
        image.layers.push(Layer::new().dir("bin", 0o755).unwrap().file("bin/tool", 0o755, b"#!x").unwrap());
        image.entrypoint = vec!["/bin/tool".to_owned()];
        let archive = image.archive().unwrap();
        let files = entries(&archive);
        let index: serde_json::Value =
            serde_json::from_slice(&files.iter().find(|(p, _)| p == "index.json").unwrap().1).unwrap();
        let manifest = &index["manifests"][0];
        assert_eq!(manifest["annotations"]["io.containerd.image.name"], "example.com/tools:1.0");
        assert_eq!(manifest["annotations"]["org.opencontainers.image.ref.name"], "1.0");
        for (path, content) in files.iter().filter(|(p, _)| p.starts_with("blobs/")) {
            assert_eq!(path.trim_start_matches("blobs/sha256/"), sha256(content));
        }
        assert_eq!(files.iter().filter(|(p, _)| p.starts_with("blobs/")).count(), 3);
    }

    #[test]
    fn the_same_content_is_the_same_archive() {
        let build = || {
            let mut image = Image::new("a:1");
            image.layers.push(Layer::new().file("f", 0o644, b"x").unwrap());
            image.archive().unwrap()
        };
        assert_eq!(build(), build());
    }
}
