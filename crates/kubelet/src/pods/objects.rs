//! The ConfigMaps and Secrets one pod sync reads (for environment variables and volumes),
//! each fetched from the API server at most once per sync. The Node authorizer lets a node
//! read exactly those its pods reference.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use std::collections::{BTreeMap, HashMap};

/// Why a referenced object could not be used; the message is the one upstream shows.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Missing(pub String);

/// Lazily fetched ConfigMaps and Secrets of one namespace.
pub struct Objects {
    client: kube::Client,
    namespace: String,
    config_maps: HashMap<String, Option<ConfigMap>>,
    secrets: HashMap<String, Option<Secret>>,
}

impl Objects {
    pub fn new(client: kube::Client, namespace: &str) -> Objects {
        Objects { client, namespace: namespace.to_owned(), config_maps: HashMap::new(), secrets: HashMap::new() }
    }

    /// The data of ConfigMap `name` (binary data included, as bytes), or `None` if it does
    /// not exist; an API failure is an error.
    pub async fn config_map(&mut self, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, Missing> {
        if !self.config_maps.contains_key(name) {
            let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
            let found = api.get_opt(name).await.map_err(|e| Missing(format!("configmap {name:?}: {e}")))?;
            self.config_maps.insert(name.to_owned(), found);
        }
        Ok(self.config_maps[name].as_ref().map(|cm| {
            let mut data: BTreeMap<String, Vec<u8>> =
                cm.data.iter().flatten().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
            data.extend(cm.binary_data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())));
            data
        }))
    }

    /// The data of Secret `name`, or `None` if it does not exist.
    pub async fn secret(&mut self, name: &str) -> Result<Option<BTreeMap<String, Vec<u8>>>, Missing> {
        if !self.secrets.contains_key(name) {
            let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
            let found = api.get_opt(name).await.map_err(|e| Missing(format!("secret {name:?}: {e}")))?;
            self.secrets.insert(name.to_owned(), found);
        }
        Ok(self.secrets[name].as_ref().map(|secret| {
            let mut data: BTreeMap<String, Vec<u8>> =
                secret.string_data.iter().flatten().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
            data.extend(secret.data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())));
            data
        }))
    }

    /// ConfigMap `name`'s data, an error naming it if it is missing and not `optional`.
    pub async fn required_config_map(
        &mut self,
        name: &str,
        optional: bool,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, Missing> {
        match self.config_map(name).await? {
            None if !optional => Err(Missing(format!("configmap \"{name}\" not found"))),
            found => Ok(found),
        }
    }

    /// Secret `name`'s data, an error naming it if it is missing and not `optional`.
    pub async fn required_secret(
        &mut self,
        name: &str,
        optional: bool,
    ) -> Result<Option<BTreeMap<String, Vec<u8>>>, Missing> {
        match self.secret(name).await? {
            None if !optional => Err(Missing(format!("secret \"{name}\" not found"))),
            found => Ok(found),
        }
    }
}
