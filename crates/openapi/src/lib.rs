//! The API server's OpenAPI documents, as kube-apiserver publishes them.
//!
//! - `/openapi/v3`: an index of group-versions, each with a `serverRelativeURL` carrying
//!   the document's hash; `/openapi/v3/apis/apps/v1?hash=H`: that group-version's
//!   document. kubectl reads these for field validation (a PATCH operation per kind with
//!   `x-kubernetes-group-version-kind` and a `fieldValidation` parameter) and `explain`.
//! - `/openapi/v2`: the Swagger 2.0 document, as JSON or in gnostic's protobuf form, which
//!   kubectl falls back to and validates `kind: List` files against.
//!
//! [`OpenApi::new`] costs nothing; each document family is generated on first request and
//! then kept. Start at [`routes`] (what operations exist), then [`v3`], [`v2`] and [`pb`].

mod extensions;
mod model;
mod params;
mod pb;
mod proto;
mod routes;
mod subresources;
mod v2;
mod v3;

use resources::ResourceDef;
use sha2::{Digest, Sha512};
use std::sync::OnceLock;

/// The OpenAPI documents of the served resources; see the crate docs.
pub struct OpenApi {
    version: String,
    registry: &'static [ResourceDef],
    v3: OnceLock<V3>,
    v2: OnceLock<V2>,
}

struct V3 {
    index: Vec<u8>,
    documents: Vec<V3Document>,
}

struct V3Document {
    /// `api/v1`, `apis/apps/v1`.
    key: String,
    json: Vec<u8>,
    hash: String,
}

struct V2 {
    json: Vec<u8>,
    protobuf: Vec<u8>,
}

/// kube-openapi's document hash: SHA-512 of the JSON, upper-case hex.
fn hash(json: &[u8]) -> String {
    Sha512::digest(json).iter().map(|b| format!("{b:02X}")).collect()
}

impl OpenApi {
    /// Documents of [`resources::registry()`], reporting `version` (`v1.33.0-krust.1`) in `info`.
    pub fn new(version: &str) -> Self {
        Self::for_registry(version, resources::registry())
    }

    fn for_registry(version: &str, registry: &'static [ResourceDef]) -> Self {
        OpenApi { version: version.to_owned(), registry, v3: OnceLock::new(), v2: OnceLock::new() }
    }

    fn v3(&self) -> &V3 {
        self.v3.get_or_init(|| {
            let definitions = resources::schema::definitions();
            let documents: Vec<V3Document> = routes::group_versions(self.registry)
                .iter()
                .map(|gv| {
                    let json = serde_json::to_vec(&v3::document(gv, &self.version, definitions))
                        .expect("a JSON value serialises");
                    V3Document { key: gv.key.clone(), hash: hash(&json), json }
                })
                .collect();
            let mut paths: Vec<_> = documents.iter().collect();
            paths.sort_by(|a, b| a.key.cmp(&b.key));
            let paths: serde_json::Map<_, _> = paths
                .into_iter()
                .map(|d| {
                    let url = format!("/openapi/v3/{}?hash={}", d.key, d.hash);
                    (d.key.clone(), serde_json::json!({ "serverRelativeURL": url }))
                })
                .collect();
            let index = serde_json::to_vec(&serde_json::json!({ "paths": paths })).expect("a JSON value serialises");
            V3 { index, documents }
        })
    }

    fn v2(&self) -> &V2 {
        self.v2.get_or_init(|| {
            let gvs = routes::group_versions(self.registry);
            let doc = v2::document(&gvs, &self.version, resources::schema::definitions());
            V2 { json: serde_json::to_vec(&doc).expect("a JSON value serialises"), protobuf: pb::encode(&doc) }
        })
    }

    /// `GET /openapi/v3`: `{"paths":{"apis/apps/v1":{"serverRelativeURL":"/openapi/v3/apis/apps/v1?hash=H"}}}`.
    pub fn v3_index(&self) -> &[u8] {
        &self.v3().index
    }

    /// `GET /openapi/v3/<group_version_path>` (`api/v1`, `apis/apps/v1`): the JSON
    /// document and its hash (the `ETag`; a request's `?hash=` must match it).
    pub fn v3_document(&self, group_version_path: &str) -> Option<(&[u8], &str)> {
        let key = group_version_path.trim_matches('/');
        self.v3().documents.iter().find(|d| d.key == key).map(|d| (d.json.as_slice(), d.hash.as_str()))
    }

    /// `GET /openapi/v2` as JSON.
    pub fn v2_json(&self) -> &[u8] {
        &self.v2().json
    }

    /// `GET /openapi/v2` with `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`.
    pub fn v2_protobuf(&self) -> &[u8] {
        &self.v2().protobuf
    }
}

#[cfg(test)]
mod tests;
