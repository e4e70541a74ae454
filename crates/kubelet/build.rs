//! Builds the pause program of Krust's own pod sandbox image (see `pause/pause.rs`): a
//! static executable, so the image needs no C library, compiled with the same `rustc`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = "pause/pause.rs";
    println!("cargo:rerun-if-changed={source}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("pause");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(rustc)
        .args(["--edition", "2024", "-C", "opt-level=s", "-C", "panic=abort", "-C", "strip=symbols"])
        .args(["-C", "target-feature=+crt-static", "-C", "codegen-units=1"])
        .arg(source)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("running rustc for the pause program");
    assert!(status.success(), "compiling {source} failed");
}
