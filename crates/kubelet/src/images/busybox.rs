//! An image made of this machine's busybox (Debian's `busybox-static`): `/bin/busybox` and a
//! link for each of its applets (`sh`, `httpd`, `wget`, `nc`, `tar`, ...). Tests and
//! benchmarks build it to run real containers without any registry.

use super::oci::{Image, Layer};
use std::path::Path;

/// Where Debian's `busybox-static` installs the static busybox.
pub const BUSYBOX: &str = "/bin/busybox";

/// An image named `reference` holding the busybox at `busybox` with all its applets,
/// running `sh` by default.
pub fn image(reference: &str, busybox: &Path) -> std::io::Result<Image> {
    let binary = std::fs::read(busybox)?;
    let listed = std::process::Command::new(busybox).arg("--list-full").output()?;
    let mut layer = Layer::new();
    for dir in ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "tmp", "root", "var", "www"] {
        layer = layer.dir(dir, if dir == "tmp" { 0o1777 } else { 0o755 })?;
    }
    layer = layer.file("bin/busybox", 0o755, &binary)?;
    for applet in String::from_utf8_lossy(&listed.stdout).lines().map(str::trim) {
        if applet.is_empty() || applet == "bin/busybox" {
            continue;
        }
        let depth = applet.matches('/').count();
        let target = format!("{}bin/busybox", "../".repeat(depth));
        layer = layer.symlink(applet, &target)?;
    }
    layer = layer
        .file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")?
        .file("etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n")?;
    let mut image = Image::new(reference);
    image.layers.push(layer);
    image.cmd = vec!["sh".to_owned()];
    Ok(image)
}
