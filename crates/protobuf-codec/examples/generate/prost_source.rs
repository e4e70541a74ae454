//! Reads the prost-generated sources of `k8s-pb`: every message struct with its fields'
//! `#[prost(...)]` attributes, Rust types and doc comments.

use std::path::Path;

/// A message struct as prost generated it.
pub struct ProstMessage {
    /// Rust module path below the crate root, e.g. `["api", "apps", "v1"]`.
    pub module: Vec<String>,
    pub rust_name: String,
    pub fields: Vec<ProstField>,
}

pub struct ProstField {
    pub rust_name: String,
    pub tag: u32,
    /// `string`, `int32`, `int64`, `bool`, `double`, `bytes` or `message`.
    pub scalar: String,
    pub cardinality: Cardinality,
    /// For message fields (and maps with message values): the module path plus struct name.
    pub message_path: Option<Vec<String>>,
    pub doc: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    Optional,
    Repeated,
    /// `map<string, value>`; the value kind is in `scalar`.
    Map,
}

/// One `impl crate::Resource for X` block: the group/version a module belongs to.
pub struct ResourceImpl {
    pub module: Vec<String>,
    pub api_version: String,
}

pub struct ProstSource {
    pub messages: Vec<ProstMessage>,
    pub resources: Vec<ResourceImpl>,
}

pub fn read(src_root: &Path) -> std::io::Result<ProstSource> {
    let mut source = ProstSource { messages: Vec::new(), resources: Vec::new() };
    let mut files = Vec::new();
    collect_mod_files(src_root, &mut files)?;
    files.sort();
    for file in files {
        let module: Vec<String> = file
            .parent()
            .and_then(|dir| dir.strip_prefix(src_root).ok())
            .map(|rel| rel.iter().map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        parse_file(&std::fs::read_to_string(&file)?, &module, &mut source);
    }
    Ok(source)
}

fn collect_mod_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_mod_files(&path, out)?;
        } else if path.file_name().is_some_and(|n| n == "mod.rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn parse_file(text: &str, module: &[String], source: &mut ProstSource) {
    let lines: Vec<&str> = text.lines().collect();
    let mut doc = String::new();
    let mut current: Option<ProstMessage> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if let Some(comment) = line.strip_prefix("///") {
            doc.push_str(comment.trim());
            doc.push('\n');
            continue;
        }
        if let Some(rest) = line.strip_prefix("pub struct ") {
            // Empty messages are declared on one line: `pub struct StorageVersionSpec {}`.
            let (name, empty) = match rest.strip_suffix("{}") {
                Some(name) => (name, true),
                None => (rest.trim_end_matches('{'), false),
            };
            let message = ProstMessage { module: module.to_vec(), rust_name: name.trim().into(), fields: Vec::new() };
            if empty {
                source.messages.push(message);
            } else {
                current = Some(message);
            }
        } else if line == "}" {
            if let Some(message) = current.take() {
                source.messages.push(message);
            }
        } else if let Some(attr) = line.strip_prefix("#[prost(") {
            // The declaration may wrap over several lines; gather it up to its closing comma.
            let mut decl = String::new();
            while i < lines.len() {
                decl.push_str(lines[i].trim());
                i += 1;
                if decl.ends_with(',') && decl.matches('<').count() == decl.matches('>').count() {
                    break;
                }
            }
            if let Some(message) = current.as_mut() {
                message.fields.push(parse_field(attr, &decl, module, std::mem::take(&mut doc)));
            }
        } else if let Some(rest) = line.strip_prefix("impl crate::Resource for ") {
            let api_version = lines[i..].iter().find_map(|l| {
                l.trim().strip_prefix("const API_VERSION: &'static str = \"").map(|v| v.trim_end_matches("\";"))
            });
            if let (Some(api_version), false) = (api_version, rest.is_empty()) {
                source.resources.push(ResourceImpl { module: module.to_vec(), api_version: api_version.into() });
            }
        }
        if !line.starts_with("#[") {
            doc.clear();
        }
    }
}

fn parse_field(attr: &str, decl: &str, module: &[String], doc: String) -> ProstField {
    let attr = attr.trim_end_matches(")]");
    let tag = attr
        .split("tag = \"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no tag in #[prost({attr})]"));
    let (scalar, cardinality) = if let Some(map) = attr.strip_prefix("btree_map = \"") {
        let value = map.split('"').next().and_then(|kv| kv.split(", ").nth(1)).unwrap_or("string");
        (value.to_string(), Cardinality::Map)
    } else {
        let kind = attr.split([',', ' ']).next().unwrap_or_default().to_string();
        let cardinality = if attr.contains(" repeated") { Cardinality::Repeated } else { Cardinality::Optional };
        (kind, cardinality)
    };
    let (name, ty) = decl.trim_start_matches("pub ").split_once(':').unwrap_or_else(|| panic!("bad field {decl}"));
    let rust_name = name.trim().trim_start_matches("r#").to_string();
    let message_path = (scalar == "message").then(|| resolve_type(ty, module));
    ProstField { rust_name, tag, scalar, cardinality, message_path, doc }
}

/// Finds the message type inside wrappers such as `Option<Box<...>>` or `BTreeMap<String, ...>`
/// and resolves its `super::`/`crate::` path against the current module.
fn resolve_type(ty: &str, module: &[String]) -> Vec<String> {
    const WRAPPERS: [&str; 7] = ["Option", "Box", "Vec", "BTreeMap", "String", "u8", ""];
    let compact: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
    let path = compact
        .split(['<', '>', ','])
        .rfind(|token| !WRAPPERS.contains(&token.rsplit("::").next().unwrap_or_default()))
        .unwrap_or_else(|| panic!("no message type in {ty}"));
    let mut resolved = module.to_vec();
    let mut segments = path.split("::").peekable();
    if segments.peek() == Some(&"crate") {
        resolved.clear();
        segments.next();
    }
    for segment in segments {
        if segment == "super" {
            resolved.pop();
        } else {
            resolved.push(segment.to_string());
        }
    }
    resolved
}
