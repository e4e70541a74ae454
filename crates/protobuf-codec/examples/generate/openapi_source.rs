//! Reads the `k8s-openapi` sources for one Kubernetes version: for each OpenAPI definition its
//! real (case-exact) name and the JSON name and optionality of every field.

use std::path::Path;

pub struct OpenApiDefinition {
    /// Proto-style package, e.g. `k8s.io.api.apps.v1` (from `io.k8s.api.apps.v1`).
    pub package: String,
    /// The definition's name as Kubernetes spells it, e.g. `CSIDriver`.
    pub name: String,
    pub fields: Vec<OpenApiField>,
}

pub struct OpenApiField {
    pub rust_name: String,
    pub json_name: String,
    /// `Option<...>` in k8s-openapi: the Go field has `omitempty` (or is a pointer).
    pub optional: bool,
}

pub fn read(version_root: &Path) -> std::io::Result<Vec<OpenApiDefinition>> {
    let mut files = Vec::new();
    collect_rs_files(version_root, &mut files)?;
    files.sort();
    let mut definitions = Vec::new();
    for file in files {
        if let Some(definition) = parse_file(&std::fs::read_to_string(&file)?) {
            definitions.push(definition);
        }
    }
    Ok(definitions)
}

fn collect_rs_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_rs_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn parse_file(text: &str) -> Option<OpenApiDefinition> {
    let full = text.lines().next()?.strip_prefix("// Generated from definition io.k8s.")?;
    let (package, name) = full.rsplit_once('.')?;
    let package = format!("k8s.io.{}", package.replace('-', "_"));
    let struct_header = format!("pub struct {name} {{");
    let mut optional_by_rust_name = Vec::new();
    let mut in_struct = false;
    for line in text.lines() {
        if line.starts_with(&struct_header) {
            in_struct = true;
        } else if in_struct && line.starts_with('}') {
            break;
        } else if in_struct
            && let Some((field, ty)) = line.trim().strip_prefix("pub ").and_then(|decl| decl.split_once(": "))
        {
            optional_by_rust_name.push((field.to_string(), ty.starts_with("Option<")));
        }
    }
    let fields = text
        .lines()
        .filter_map(|line| {
            let (json, key) = line.trim().split_once("\" => Field::Key_")?;
            let json_name = json.strip_prefix('"')?.to_string();
            let rust_name = key.trim_end_matches(',').to_string();
            let optional = optional_by_rust_name.iter().find(|(n, _)| *n == rust_name).is_none_or(|(_, o)| *o);
            Some(OpenApiField { rust_name, json_name, optional })
        })
        .collect();
    Some(OpenApiDefinition { package, name: name.to_string(), fields })
}
