//! Krust's own pod sandbox image: one static `pause` program (see the crate's
//! `pause/pause.rs`), so no node ever pulls `registry.k8s.io/pause`.

use super::oci::{Image, Layer};

/// The name containerd's CRI plugin is configured to use for every pod sandbox.
pub const PAUSE_IMAGE: &str = "localhost/krust/pause:3.10";

const PAUSE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pause"));

/// The pause image as an OCI archive, ready to import.
pub fn archive() -> std::io::Result<Vec<u8>> {
    let mut image = Image::new(PAUSE_IMAGE);
    image.layers.push(Layer::new().file("pause", 0o755, PAUSE)?);
    image.entrypoint = vec!["/pause".to_owned()];
    image.env.clear();
    image.archive()
}
