//! Where objects live in the store: `/registry/<group>/<resource>/<namespace>/<name>`
//! (`core` for the core group; no namespace segment for cluster-scoped kinds).

use resources::ResourceDef;

/// The (group, plural) a resource's objects are stored under: its own, or the one its
/// strategy shares storage with.
fn stored_resource(def: &ResourceDef) -> (&str, &str) {
    let (group, plural) = def.strategy.stored_as().unwrap_or((def.group, def.plural));
    (if group.is_empty() { "core" } else { group }, plural)
}

/// The key of one object.
pub fn object_key(def: &ResourceDef, namespace: &str, name: &str) -> String {
    let (group, plural) = stored_resource(def);
    if def.namespaced {
        format!("/registry/{group}/{plural}/{namespace}/{name}")
    } else {
        format!("/registry/{group}/{plural}/{name}")
    }
}

/// The key prefix of a collection: one namespace's objects, or all of them when
/// `namespace` is empty.
pub fn collection_prefix(def: &ResourceDef, namespace: &str) -> String {
    let (group, plural) = stored_resource(def);
    if def.namespaced && !namespace.is_empty() {
        format!("/registry/{group}/{plural}/{namespace}/")
    } else {
        format!("/registry/{group}/{plural}/")
    }
}
