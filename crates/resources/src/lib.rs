//! What the API server knows about each kind it serves, in one table.
//!
//! Every served resource is a [`ResourceDef`] in [`registry()`]: its names as discovery
//! reports them, its scope, verbs and subresources, and its [`Strategy`] — upstream's
//! registry strategy: defaults, validation, what create and update prepare, table columns
//! and field-selector attributes. The API server has one generic store driven by this
//! table; nothing outside this crate matches on a kind.
//!
//! Start at [`defs`] (one file per resource) and [`strategy`] (the trait and its typed
//! adapter). [`validation`] holds the shared validators (names, metadata, pod specs).

pub mod defaults;
pub mod defs;
pub mod field_error;
pub mod merge;
mod omit_empty;
pub mod quantity;
pub mod schema;
pub mod strategy;
pub mod table;
pub mod validation;

pub use field_error::{ErrorType, FieldError, FieldPath};
pub use strategy::{Decoded, Strategy, TypedStrategy};
pub use table::{Cell, Column};

/// A subresource the API serves under `/<resource>/<name>/<sub>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// `status`: writes replace only `.status`; main-resource writes leave it alone.
    Status,
    /// `scale`: an autoscaling/v1 Scale view of `.spec.replicas`, `.status.replicas`
    /// and the label selector.
    Scale,
    /// `pods/binding`: assigns a pod to a node.
    Binding,
    /// `pods/eviction`: policy/v1 Eviction.
    Eviction,
    /// Streams served by the node: `log`, `exec`, `attach`, `portforward`, `proxy`.
    Log,
    Exec,
    Attach,
    PortForward,
    Proxy,
    /// `serviceaccounts/token`: TokenRequest.
    Token,
    /// `namespaces/finalize`: writes only `spec.finalizers`.
    Finalize,
    /// `pods/ephemeralcontainers`: writes only `spec.ephemeralContainers` (kubectl debug).
    EphemeralContainers,
}

impl Subresource {
    /// The path segment (`pods/status` → `status`).
    pub fn name(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::Eviction => "eviction",
            Subresource::Log => "log",
            Subresource::Exec => "exec",
            Subresource::Attach => "attach",
            Subresource::PortForward => "portforward",
            Subresource::Proxy => "proxy",
            Subresource::Token => "token",
            Subresource::Finalize => "finalize",
            Subresource::EphemeralContainers => "ephemeralcontainers",
        }
    }
}

/// One served resource. Static data plus a strategy; see the module docs.
pub struct ResourceDef {
    /// API group; "" for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Lower-case plural, the path segment (`deployments`).
    pub plural: &'static str,
    /// Lower-case singular (`deployment`).
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    /// Categories such as `all` (what `kubectl get all` lists).
    pub categories: &'static [&'static str],
    pub namespaced: bool,
    /// Verbs on the collection and objects, in discovery's order.
    pub verbs: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// The OpenAPI definition name of the kind (`io.k8s.api.apps.v1.Deployment`).
    pub definition: &'static str,
    pub strategy: &'static dyn Strategy,
}

/// The verbs of an ordinary read-write resource, as discovery lists them.
pub const ALL_VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

impl ResourceDef {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_owned() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `deployments.apps`, or `pods` for the core group: how messages name the resource.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() { self.plural.to_owned() } else { format!("{}.{}", self.plural, self.group) }
    }

    pub fn has(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }
}

/// Every served resource, in discovery order (groups in upstream's order).
pub fn registry() -> &'static [ResourceDef] {
    defs::ALL
}

/// Look a resource up by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    registry().iter().find(|d| d.group == group && d.version == version && d.plural == plural)
}

/// Look a resource up by group and kind (any served version).
pub fn find_kind(group: &str, kind: &str) -> Option<&'static ResourceDef> {
    registry().iter().find(|d| d.group == group && d.kind == kind)
}
