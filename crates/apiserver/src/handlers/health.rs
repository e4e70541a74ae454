//! Public endpoints: `/version`, `/healthz`, `/livez`, `/readyz` (with `?verbose`,
//! `?exclude=` and per-check paths).

use crate::server::ApiServer;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The Kubernetes version this server implements, and its own.
pub const KUBERNETES_VERSION: &str = "v1.33.0";

/// `gitVersion`: a valid semver whose major and minor are the Kubernetes ones, so
/// kubectl's version dispatcher picks kubectl 1.33.
pub fn git_version() -> String {
    format!("{KUBERNETES_VERSION}-krust.{}", env!("CARGO_PKG_VERSION"))
}

pub fn version_info() -> Value {
    let commit = env!("KRUST_GIT_COMMIT");
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": git_version(),
        "gitCommit": if commit.is_empty() { "unknown" } else { commit },
        "gitTreeState": env!("KRUST_GIT_TREE_STATE"),
        "buildDate": env!("KRUST_BUILD_DATE"),
        "goVersion": env!("KRUST_RUSTC_VERSION"),
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

/// Architecture names as Go spells them (kubectl prints them).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The checks behind a health endpoint, each with its current result.
async fn checks(state: &ApiServer, endpoint: &str) -> Vec<(&'static str, bool)> {
    let store_ok = state.registry.store().current_revision().await.is_ok();
    let mut out = vec![("ping", true), ("log", true), ("etcd", store_ok)];
    if endpoint == "readyz" {
        out.push(("poststarthook/bootstrap-controller", state.is_bootstrapped()));
        out.push(("shutdown", !state.is_shutting_down()));
    }
    out
}

fn text(code: StatusCode, body: String) -> Response {
    let mut resp = (code, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp.headers_mut().insert("X-Content-Type-Options", HeaderValue::from_static("nosniff"));
    resp
}

/// Serve `/healthz`, `/livez`, `/readyz` and `/<endpoint>/<check>`.
pub async fn handle(state: &ApiServer, path: &str, query: &super::query::Query) -> Option<Response> {
    let mut parts = path.trim_matches('/').splitn(2, '/');
    let endpoint = parts.next()?;
    if !["healthz", "livez", "readyz"].contains(&endpoint) {
        return None;
    }
    let results = checks(state, endpoint).await;
    if let Some(one) = parts.next() {
        let (_, ok) = results.iter().find(|(name, _)| *name == one)?;
        return Some(if *ok {
            text(StatusCode::OK, "ok".to_owned())
        } else {
            text(StatusCode::INTERNAL_SERVER_ERROR, format!("internal server error: {one} check failed"))
        });
    }
    let excluded: Vec<&str> = query.all("exclude");
    let mut lines = String::new();
    let mut healthy = true;
    for (name, ok) in results.iter().filter(|(n, _)| !excluded.contains(n)) {
        healthy &= ok;
        if *ok {
            lines.push_str(&format!("[+]{name} ok\n"));
        } else {
            lines.push_str(&format!("[-]{name} failed: reason withheld\n"));
        }
    }
    for name in excluded {
        lines.push_str(&format!("[+]{name} excluded: ok\n"));
    }
    let verbose = query.get("verbose").is_some();
    Some(if healthy {
        text(StatusCode::OK, if verbose { format!("{lines}{endpoint} check passed\n") } else { "ok".to_owned() })
    } else {
        text(StatusCode::INTERNAL_SERVER_ERROR, format!("{lines}{endpoint} check failed\n"))
    })
}
