//! The admission seam: after the store has prepared an object and before it validates
//! it, every write passes the admission chain with the caller's identity (upstream's
//! mutating-then-validating admission). Plugins live in [`crate::admission`].

use super::{Registry, Subresource};
use crate::auth::User;
use crate::status::ApiResult;
use async_trait::async_trait;
use resources::ResourceDef;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// What a plugin knows about the write it admits.
pub struct Attributes<'a> {
    pub operation: Operation,
    pub def: &'static ResourceDef,
    pub namespace: &'a str,
    pub name: &'a str,
    pub subresource: Subresource,
    pub user: &'a User,
    pub dry_run: bool,
}

#[async_trait]
pub trait Admission: Send + Sync {
    /// Admit (and possibly change) `obj`; `old` is the stored object on updates and
    /// deletes. `registry` reads other objects (namespaces, quotas, service accounts).
    async fn admit(
        &self,
        registry: &Registry,
        attrs: &Attributes<'_>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> ApiResult<()>;
}
