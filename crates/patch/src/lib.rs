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

pub mod schema;

pub use schema::{Field, ListType, Schema, Shape, Untyped};
