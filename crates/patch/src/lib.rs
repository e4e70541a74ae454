//! Patching objects as the API server does.
//!
//! - [`json`]: RFC 6902 JSON patch and RFC 7386 merge patch.
//! - [`strategic`]: strategic merge patch, upstream's `strategicpatch`, with merge keys
//!   and the `$patch`, `$setElementOrder`, `$retainKeys`, `$deleteFromPrimitiveList`
//!   directives.
//! - [`apply`]: server-side apply: `managedFields` bookkeeping in FieldsV1, field
//!   ownership, conflicts and `force` (upstream's structured-merge-diff).
//!
//! The last two navigate objects by a [`Schema`]: which fields are lists merged by a key,
//! sets, or atomic. The `resources` crate provides the schema of the served kinds.

pub mod apply;
pub mod fields;
pub mod json;
pub mod schema;
pub mod strategic;
#[cfg(test)]
mod testing;

pub use apply::{ApplyError, Conflict, FieldManager};
pub use fields::{FieldSet, PathElement};
pub use schema::{Field, ListType, Schema, Shape, Untyped};

/// Why a JSON, merge or strategic merge patch could not be applied. Each variant is the
/// HTTP status upstream answers with; the message is upstream's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document is malformed (400 Bad Request).
    #[error("{0}")]
    BadRequest(String),
    /// The patch is well formed but does not apply to the object (422 Unprocessable Entity).
    #[error("{0}")]
    Unprocessable(String),
    /// The patch contradicts the object's type, e.g. a merge-list element without its
    /// merge key (upstream passes these through as 500 Internal Server Error).
    #[error("{0}")]
    Internal(String),
}

impl PatchError {
    /// The HTTP status code of the Status the API server answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Unprocessable(_) => 422,
            PatchError::Internal(_) => 500,
        }
    }
}
