//! Behaviour of a resource that needs server state, beside its strategy: upstream's
//! REST wrappers (the Service allocators).

use crate::status::ApiResult;
use async_trait::async_trait;
use serde_json::Value;

#[async_trait]
pub trait RestHooks: Send + Sync {
    /// After defaults, before validation, on create. Must be undone by
    /// [`RestHooks::release`] if the create does not happen.
    async fn before_create(&self, obj: &mut Value) -> ApiResult<()>;
    /// After defaults, before validation, on update.
    async fn before_update(&self, new: &mut Value, old: &Value) -> ApiResult<()>;
    /// The object is gone (deleted, or its create failed or was a dry run): free what
    /// it held. `kept` is what survives, when an update replaced it.
    async fn release(&self, obj: &Value, kept: Option<&Value>);
}
