//! Where objects live in the store: `/registry/<group>/<resource>/<namespace>/<name>`
//! (`core` for the core group; no namespace segment for cluster-scoped kinds).

use resources::ResourceDef;

fn group_segment(def: &ResourceDef) -> &str {
    if def.group.is_empty() { "core" } else { def.group }
}

/// The key of one object.
pub fn object_key(def: &ResourceDef, namespace: &str, name: &str) -> String {
    if def.namespaced {
        format!("/registry/{}/{}/{namespace}/{name}", group_segment(def), def.plural)
    } else {
        format!("/registry/{}/{}/{name}", group_segment(def), def.plural)
    }
}

/// The key prefix of a collection: one namespace's objects, or all of them when
/// `namespace` is empty.
pub fn collection_prefix(def: &ResourceDef, namespace: &str) -> String {
    if def.namespaced && !namespace.is_empty() {
        format!("/registry/{}/{}/{namespace}/", group_segment(def), def.plural)
    } else {
        format!("/registry/{}/{}/", group_segment(def), def.plural)
    }
}
