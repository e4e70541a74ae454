//! Regenerates `src/descriptors.json`, the protobuf descriptor table of `protobuf-codec`.
//!
//! Run from the workspace root (the k8s-pb and k8s-openapi sources must be in the cargo registry,
//! which any workspace build ensures):
//!
//! ```text
//! cargo run -p protobuf-codec --example generate
//! ```
//!
//! Field numbers and types come from the prost attributes of `k8s-pb`; the JSON field names and
//! the real (case-exact) message names come from the serde code of `k8s-openapi` for the same
//! definitions, because prost only keeps snake_case names (`pod_i_ps` for `podIPs`).

mod openapi_source;
mod prost_source;
mod table;

use std::path::{Path, PathBuf};

const K8S_PB: &str = "k8s-pb-0.9.0";
const K8S_OPENAPI: &str = "k8s-openapi-0.29.0";

fn main() {
    let prost_root = registry_crate(K8S_PB).join("src");
    let openapi_root = registry_crate(K8S_OPENAPI).join("src/v1_33");
    let prost = prost_source::read(&prost_root).expect("read k8s-pb sources");
    let openapi = openapi_source::read(&openapi_root).expect("read k8s-openapi sources");
    let table = table::build(&prost, &openapi);
    let unmatched = table::verify_required_kinds(&table);
    if !unmatched.is_empty() {
        eprintln!("fields of kubectl-created kinds without an exact JSON name:\n{}", unmatched.join("\n"));
        std::process::exit(1);
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/descriptors.json");
    std::fs::write(&out, table.to_json()).expect("write descriptor table");
    eprintln!(
        "wrote {} ({} messages, {} kinds, {} fields named by fallback)",
        out.display(),
        table.messages.len(),
        table.kinds.len(),
        table.fallback_names
    );
}

/// Locates an unpacked crate in `$CARGO_HOME/registry/src/<index>/`.
fn registry_crate(name: &str) -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .expect("CARGO_HOME or HOME must be set");
    let registry = cargo_home.join("registry/src");
    std::fs::read_dir(&registry)
        .unwrap_or_else(|e| panic!("read {}: {e}", registry.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path().join(name)))
        .find(|path| path.is_dir())
        .unwrap_or_else(|| panic!("{name} not found under {}; run `cargo fetch`", registry.display()))
}
