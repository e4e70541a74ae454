//! Records what `/version` reports about the build: commit, tree state, date, compiler.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    let commit = output("git", &["rev-parse", "HEAD"]).unwrap_or_default();
    let dirty = output("git", &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let date = output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]).unwrap_or_default();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let rustc_version = output(&rustc, &["--version"]).unwrap_or_default();
    let version = rustc_version.split_whitespace().nth(1).unwrap_or("unknown").to_owned();
    println!("cargo:rustc-env=KRUST_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=KRUST_GIT_TREE_STATE={}", if dirty { "dirty" } else { "clean" });
    println!("cargo:rustc-env=KRUST_BUILD_DATE={date}");
    println!("cargo:rustc-env=KRUST_RUSTC_VERSION=rust{version}");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
}
