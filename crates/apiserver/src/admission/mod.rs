//! Admission plugins, in upstream's order. [`Chain`] runs them all; each plugin is a file.

mod namespace_lifecycle;

use crate::registry::Registry;
use crate::registry::admission::{Admission, Attributes};
use crate::status::ApiResult;
use async_trait::async_trait;
use serde_json::Value;

pub use namespace_lifecycle::NamespaceLifecycle;

/// Every plugin, run in order; the first refusal wins.
pub struct Chain(Vec<Box<dyn Admission>>);

impl Chain {
    /// Upstream's default order of the plugins Krust implements.
    pub fn default_plugins() -> Chain {
        Chain(vec![Box::new(NamespaceLifecycle)])
    }
}

#[async_trait]
impl Admission for Chain {
    async fn admit(
        &self,
        registry: &Registry,
        attrs: &Attributes<'_>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        for plugin in &self.0 {
            plugin.admit(registry, attrs, obj, old).await?;
        }
        Ok(())
    }
}
