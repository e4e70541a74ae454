//! What the API server serves, from its discovery documents: the resources the controllers
//! act on generically and the kind → resource mapping of ownerReferences.

use crate::Error;
use kube::api::{Api, DynamicObject};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};

/// One served resource (not a subresource) with its verbs and scope.
#[derive(Clone, Debug)]
pub struct Served {
    pub resource: ApiResource,
    pub capabilities: ApiCapabilities,
}

impl Served {
    pub fn namespaced(&self) -> bool {
        self.capabilities.scope == Scope::Namespaced
    }

    pub fn supports(&self, verbs: &[&str]) -> bool {
        verbs.iter().all(|v| self.capabilities.supports_operation(v))
    }

    /// A dynamic client for this resource in `namespace`, or across all namespaces (and for
    /// cluster-scoped resources) with `None`.
    pub fn api(&self, client: &kube::Client, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) if self.namespaced() => Api::namespaced_with(client.clone(), ns, &self.resource),
            _ => Api::all_with(client.clone(), &self.resource),
        }
    }
}

/// Every served resource in every served version, and the preferred version of each group.
#[derive(Clone, Debug, Default)]
pub struct ServedResources {
    all: Vec<Served>,
    preferred: Vec<Served>,
}

impl ServedResources {
    /// Read `/api` and `/apis` and every group version under them.
    pub async fn discover(client: &kube::Client) -> Result<Self, Error> {
        let discovery = Discovery::new(client.clone()).run().await?;
        let mut served = ServedResources::default();
        for group in discovery.groups() {
            for version in group.versions() {
                served.all.extend(group.versioned_resources(version).into_iter().map(Served::from));
            }
            served.preferred.extend(group.recommended_resources().into_iter().map(Served::from));
        }
        Ok(served)
    }

    /// The resource of `kind` in `api_version` (`v1`, `apps/v1`), as ownerReferences name it.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Result<&Served, Error> {
        self.all
            .iter()
            .find(|s| s.resource.api_version == api_version && s.resource.kind == kind)
            .ok_or_else(|| Error::UnknownKind { api_version: api_version.to_owned(), kind: kind.to_owned() })
    }

    /// The preferred version of every resource that supports all of `verbs`.
    pub fn preferred_with(&self, verbs: &[&str]) -> impl Iterator<Item = &Served> {
        self.preferred.iter().filter(move |s| s.supports(verbs))
    }
}

impl From<(ApiResource, ApiCapabilities)> for Served {
    fn from((resource, capabilities): (ApiResource, ApiCapabilities)) -> Self {
        Served { resource, capabilities }
    }
}
