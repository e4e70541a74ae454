//! Joins the prost and OpenAPI views into the descriptor table: messages with numbered, typed,
//! JSON-named fields, plus the `apiVersion/Kind` to message map.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::openapi_source::{OpenApiDefinition, OpenApiField};
use crate::prost_source::{Cardinality, ProstField, ProstMessage, ProstSource};

/// Kinds real kubectl 1.33 sends as protobuf; every field reachable from them must have its JSON
/// name from the definition itself, not from a guess.
const KUBECTL_PROTOBUF_KINDS: [&str; 21] = [
    "apps/v1/Deployment",
    "v1/ConfigMap",
    "v1/Secret",
    "v1/Service",
    "v1/Namespace",
    "v1/ServiceAccount",
    "v1/ResourceQuota",
    "batch/v1/Job",
    "batch/v1/CronJob",
    "rbac.authorization.k8s.io/v1/Role",
    "rbac.authorization.k8s.io/v1/RoleBinding",
    "rbac.authorization.k8s.io/v1/ClusterRole",
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding",
    "scheduling.k8s.io/v1/PriorityClass",
    "policy/v1/PodDisruptionBudget",
    "networking.k8s.io/v1/Ingress",
    "authorization.k8s.io/v1/SelfSubjectAccessReview",
    "authentication.k8s.io/v1/SelfSubjectReview",
    "authentication.k8s.io/v1/TokenRequest",
    "meta.k8s.io/v1/Status",
    "meta.k8s.io/v1/DeleteOptions",
];

/// Messages k8s-openapi models as plain Rust types, not definitions (`ExtraValue` is `Vec<String>`).
const NEWTYPES_WITHOUT_DEFINITION: [&str; 1] = ["ExtraValue"];

/// meta.k8s.io/v1 messages that are kinds; they are served under every group version.
const META_KINDS: [&str; 16] = [
    "APIGroup",
    "APIGroupList",
    "APIResourceList",
    "APIVersions",
    "CreateOptions",
    "DeleteOptions",
    "GetOptions",
    "List",
    "ListOptions",
    "PartialObjectMetadata",
    "PartialObjectMetadataList",
    "PatchOptions",
    "Status",
    "Table",
    "UpdateOptions",
    "WatchEvent",
];

pub struct FieldRow {
    number: u32,
    json_name: String,
    ty: String,
    /// `""` singular (zero scalars are omitted like Go's `omitempty`), `"k"` singular keeping
    /// zero values (required or pointer fields), `"*"` repeated, `"m"` map keyed by string,
    /// `"i"` a message whose fields Go inlines into this object (`json:",inline"`).
    flags: &'static str,
    source: NameSource,
}

/// Where a field's JSON name came from, best first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum NameSource {
    /// The message's own OpenAPI definition (or that of the message inlining it).
    Definition,
    /// The same definition in another version of the group.
    OtherVersion,
    /// Not in 1.33's definition of this message: a newer field, named like fields elsewhere.
    NewerField,
    /// A message without a definition: named like fields elsewhere, else camelCased.
    Guessed,
}

pub struct Table {
    pub kinds: BTreeMap<String, String>,
    pub messages: BTreeMap<String, Vec<FieldRow>>,
    pub fallback_names: usize,
    /// Messages without fields in OpenAPI, serialized as scalars (times, quantities, ...).
    newtypes: BTreeSet<String>,
}

type Path = Vec<String>;

fn path_of(message: &ProstMessage) -> Path {
    [message.module.clone(), vec![message.rust_name.clone()]].concat()
}

pub fn build(prost: &ProstSource, openapi: &[OpenApiDefinition]) -> Table {
    let full_names: HashMap<Path, String> =
        prost.messages.iter().map(|m| (path_of(m), full_name(m, openapi))).collect();
    let by_path: HashMap<Path, &ProstMessage> = prost.messages.iter().map(|m| (path_of(m), m)).collect();
    let own_definition = |message: &ProstMessage| {
        let (package, short) = full_names[&path_of(message)].rsplit_once('.').expect("qualified name");
        openapi.iter().find(|d| d.package == package && d.name == short)
    };
    // Go structs embedded with `json:",inline"` are fields in protobuf; their JSON names are in
    // the embedding definition.
    let mut inlined: HashMap<Path, Vec<&OpenApiDefinition>> = HashMap::new();
    let mut inline_fields: BTreeSet<(Path, u32)> = BTreeSet::new();
    for message in &prost.messages {
        let Some(own) = own_definition(message).filter(|d| !d.fields.is_empty()) else { continue };
        for field in &message.fields {
            let Some(target) = field.message_path.as_ref().and_then(|p| by_path.get(p)) else { continue };
            if field.cardinality != Cardinality::Optional || find_field(own, &normalize(&field.rust_name)).is_some() {
                continue;
            }
            let matching = target.fields.iter().filter(|f| find_field(own, &normalize(&f.rust_name)).is_some()).count();
            if matching > 0 && matching * 2 >= target.fields.len() {
                inlined.entry(path_of(target)).or_default().push(own);
                inline_fields.insert((path_of(message), field.tag));
            }
        }
    }
    let mut global_names: HashMap<String, BTreeSet<&str>> = HashMap::new();
    for field in openapi.iter().flat_map(|d| &d.fields) {
        for key in [normalize(&field.rust_name), normalize(&field.json_name)] {
            global_names.entry(key).or_default().insert(&field.json_name);
        }
    }
    let mut table =
        Table { kinds: BTreeMap::new(), messages: BTreeMap::new(), fallback_names: 0, newtypes: BTreeSet::new() };
    for message in &prost.messages {
        let name = &full_names[&path_of(message)];
        let (package, short) = name.rsplit_once('.').expect("qualified name");
        let own = own_definition(message);
        if own.is_some_and(|d| d.fields.is_empty()) {
            table.newtypes.insert(name.clone());
        }
        let definitions: Vec<&OpenApiDefinition> =
            own.into_iter().chain(inlined.get(&path_of(message)).into_iter().flatten().copied()).collect();
        let group_package = package.rsplit_once('.').map_or(package, |(g, _)| g);
        let other_versions: Vec<&OpenApiDefinition> = openapi
            .iter()
            .filter(|d| d.name == short && d.package.rsplit_once('.').is_some_and(|(g, _)| g == group_package))
            .collect();
        let lookups = Lookups { definitions, other_versions, global_names: &global_names, full_names: &full_names };
        let rows: Vec<FieldRow> = message
            .fields
            .iter()
            .map(|field| {
                let inline = inline_fields.contains(&(path_of(message), field.tag));
                let row = field_row(field, inline, &lookups);
                table.fallback_names += usize::from(row.source != NameSource::Definition);
                row
            })
            .collect();
        if let Some(api_version) = api_version(&message.module)
            && is_kind(short, &rows, &api_version)
        {
            table.kinds.insert(format!("{api_version}/{short}"), name.clone());
        }
        table.messages.insert(name.clone(), rows);
    }
    for resource in &prost.resources {
        assert_eq!(
            api_version(&resource.module).as_deref(),
            Some(resource.api_version.as_str()),
            "group of {:?}",
            resource.module
        );
    }
    table
}

fn full_name(message: &ProstMessage, openapi: &[OpenApiDefinition]) -> String {
    let package = format!("k8s.io.{}", message.module.join("."));
    let name = openapi
        .iter()
        .find(|d| d.package == package && d.name.eq_ignore_ascii_case(&message.rust_name))
        .map_or(message.rust_name.as_str(), |d| d.name.as_str());
    format!("{package}.{name}")
}

fn find_field<'a>(definition: &'a OpenApiDefinition, key: &str) -> Option<&'a OpenApiField> {
    definition.fields.iter().find(|f| normalize(&f.rust_name) == key || normalize(&f.json_name) == key)
}

struct Lookups<'a> {
    definitions: Vec<&'a OpenApiDefinition>,
    other_versions: Vec<&'a OpenApiDefinition>,
    global_names: &'a HashMap<String, BTreeSet<&'a str>>,
    full_names: &'a HashMap<Path, String>,
}

fn field_row(field: &ProstField, inline: bool, lookups: &Lookups) -> FieldRow {
    let key = normalize(&field.rust_name);
    let found = |definitions: &[&OpenApiDefinition]| {
        definitions.iter().find_map(|d| find_field(d, &key)).map(|f| (f.json_name.clone(), f.optional))
    };
    let guessed = || match lookups.global_names.get(&key) {
        Some(names) if names.len() == 1 => names.first().map(|n| (n.to_string(), true)),
        _ => None,
    };
    let newer_source = if lookups.definitions.is_empty() { NameSource::Guessed } else { NameSource::NewerField };
    let ((json_name, optional), source) = if inline {
        ((String::new(), true), NameSource::Definition)
    } else if let Some(found) = found(&lookups.definitions) {
        (found, NameSource::Definition)
    } else if let Some(found) = found(&lookups.other_versions) {
        (found, NameSource::OtherVersion)
    } else {
        (guessed().unwrap_or_else(|| (lower_camel(&field.rust_name), true)), newer_source)
    };
    let ty = match &field.message_path {
        Some(path) => lookups.full_names.get(path).unwrap_or_else(|| panic!("unknown message {path:?}")).clone(),
        None => field.scalar.clone(),
    };
    let flags = match field.cardinality {
        Cardinality::Repeated => "*",
        Cardinality::Map => "m",
        Cardinality::Optional if inline => "i",
        Cardinality::Optional if optional && !documents_pointer(&field.doc) => "",
        Cardinality::Optional => "k",
    };
    FieldRow { number: field.tag, json_name, ty, flags, source }
}

/// Go pointer fields say so ("This is a pointer to distinguish between explicit zero and not
/// specified", "Defaulted to nil"); an explicit zero in them means something, so it is kept.
fn documents_pointer(doc: &str) -> bool {
    let doc = doc.to_lowercase();
    doc.contains("pointer") || doc.split(|c: char| !c.is_ascii_alphanumeric()).any(|word| word == "nil")
}

fn normalize(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

fn lower_camel(snake: &str) -> String {
    let mut out = String::new();
    for (i, part) in snake.split('_').filter(|p| !p.is_empty()).enumerate() {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(if i == 0 { first } else { first.to_ascii_uppercase() });
            out.extend(chars);
        }
    }
    out
}

/// The `apiVersion` objects of a prost module are served under, if it is an API group version.
fn api_version(module: &[String]) -> Option<String> {
    let strs: Vec<&str> = module.iter().map(String::as_str).collect();
    let (group, version) = match strs.as_slice() {
        ["api", dir, version] => (group_of_dir(dir), *version),
        ["apiextensions_apiserver", "pkg", "apis", dir, version]
        | ["kube_aggregator", "pkg", "apis", dir, version]
        | ["metrics", "pkg", "apis", dir, version] => (group_of_dir(dir), *version),
        ["apimachinery", "pkg", "apis", "meta", version] => ("meta.k8s.io".to_string(), *version),
        _ => return None,
    };
    Some(if group.is_empty() { version.to_string() } else { format!("{group}/{version}") })
}

fn group_of_dir(dir: &str) -> String {
    match dir {
        "core" => String::new(),
        "apps" | "batch" | "autoscaling" | "policy" | "extensions" => dir.to_string(),
        "apiserverinternal" => "internal.apiserver.k8s.io".into(),
        "flowcontrol" => "flowcontrol.apiserver.k8s.io".into(),
        "rbac" => "rbac.authorization.k8s.io".into(),
        "custom_metrics" => "custom.metrics.k8s.io".into(),
        "external_metrics" => "external.metrics.k8s.io".into(),
        other => format!("{other}.k8s.io"),
    }
}

/// Top-level objects carry ObjectMeta (ListMeta for lists); templates embed ObjectMeta too but
/// are never sent on their own.
fn is_kind(name: &str, rows: &[FieldRow], api_version: &str) -> bool {
    if api_version.starts_with("meta.k8s.io/") {
        return META_KINDS.contains(&name);
    }
    let has_meta = rows.iter().any(|r| {
        r.json_name == "metadata" && (r.ty.ends_with("meta.v1.ObjectMeta") || r.ty.ends_with("meta.v1.ListMeta"))
    });
    (has_meta && !name.ends_with("TemplateSpec") && name != "PersistentVolumeClaimTemplate")
        || name == "AdmissionReview"
}

/// Lists `message.field` for every field reachable from [`KUBECTL_PROTOBUF_KINDS`] whose JSON
/// name is a guess. Fields newer than 1.33 are not followed (kubectl 1.33 cannot send them), and
/// [`NEWTYPES_WITHOUT_DEFINITION`] and field-less definitions are serialized specially.
pub fn verify_required_kinds(table: &Table) -> Vec<String> {
    let mut pending: Vec<String> = KUBECTL_PROTOBUF_KINDS
        .iter()
        .map(|k| table.kinds.get(*k).unwrap_or_else(|| panic!("kind {k} missing")).clone())
        .collect();
    let mut seen = BTreeSet::new();
    let mut unmatched = Vec::new();
    while let Some(name) = pending.pop() {
        let short = name.rsplit('.').next().unwrap_or_default();
        if !seen.insert(name.clone()) || table.newtypes.contains(&name) || NEWTYPES_WITHOUT_DEFINITION.contains(&short)
        {
            continue;
        }
        for row in &table.messages[&name] {
            match row.source {
                NameSource::Definition | NameSource::OtherVersion => {}
                NameSource::NewerField => continue,
                NameSource::Guessed => unmatched.push(format!("{name}.{}", row.json_name)),
            }
            if table.messages.contains_key(&row.ty) {
                pending.push(row.ty.clone());
            }
        }
    }
    unmatched
}

impl Table {
    /// One line per entry so regenerations diff readably.
    pub fn to_json(&self) -> String {
        let kinds: Vec<String> = self.kinds.iter().map(|(k, v)| format!("{}: {}", json(k), json(v))).collect();
        let messages: Vec<String> = self
            .messages
            .iter()
            .map(|(name, rows)| {
                let rows: Vec<String> = rows
                    .iter()
                    .map(|r| format!("[{},{},{},{}]", r.number, json(&r.json_name), json(&r.ty), json(r.flags)))
                    .collect();
                format!("{}: [{}]", json(name), rows.join(","))
            })
            .collect();
        format!("{{\"kinds\": {{\n{}\n}},\n\"messages\": {{\n{}\n}}}}\n", kinds.join(",\n"), messages.join(",\n"))
    }
}

fn json(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}
