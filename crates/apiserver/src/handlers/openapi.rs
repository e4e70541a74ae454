//! `/openapi/v2` and `/openapi/v3[/<group-version>]`, from the `openapi` crate's
//! documents, with ETags and immutable caching for hashed URLs.

use super::query::Query;
use crate::server::ApiServer;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What clients ask for (`...spec.v2@v1.0+protobuf`), and the parseable spelling
/// upstream answers with (Go's MIME parser refuses the `@`).
const PROTOBUF_V2_ACCEPT: &str = "application/com.github.proto-openapi.spec.v2";
const PROTOBUF_V2: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

fn serve(body: &[u8], content_type: &'static str, etag: &str, headers: &HeaderMap, immutable: bool) -> Response {
    let mut resp = super::output::with_etag(body, content_type, &format!("\"{etag}\""), headers);
    let cache = if immutable { "public, immutable" } else { "no-cache, private" };
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}

/// Serve an OpenAPI path, or None when `path` is not one.
pub fn handle(state: &ApiServer, path: &str, query: &Query, headers: &HeaderMap) -> Option<Response> {
    let api = &state.openapi;
    match path {
        "/openapi/v2" => {
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
            Some(if accept.contains(PROTOBUF_V2_ACCEPT) && !accept.starts_with("application/json") {
                let body = api.v2_protobuf();
                serve(body, PROTOBUF_V2, &etag_of(body), headers, false)
            } else {
                let body = api.v2_json();
                serve(body, "application/json", &etag_of(body), headers, false)
            })
        }
        "/openapi/v3" | "/openapi/v3/" => {
            let body = api.v3_index();
            Some(serve(body, "application/json", &etag_of(body), headers, false))
        }
        _ => {
            let gv = path.strip_prefix("/openapi/v3/")?;
            let (body, hash) = api.v3_document(gv)?;
            match query.get("hash") {
                // A stale hashed URL: send the client to the current one, as kube-openapi does.
                Some(asked) if asked != hash => Some(redirect(&format!("{path}?hash={hash}"))),
                asked => Some(serve(body, "application/json", hash, headers, asked.is_some())),
            }
        }
    }
}

fn redirect(location: &str) -> Response {
    let mut resp = StatusCode::MOVED_PERMANENTLY.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn etag_of(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(body)[..16]).to_uppercase()
}
