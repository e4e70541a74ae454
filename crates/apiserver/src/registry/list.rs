//! List: a consistent snapshot at one revision, filtered by label and field selectors,
//! paginated with `limit` and opaque `continue` tokens.

use super::{Registry, decode_stored, keys, object};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use resources::ResourceDef;
use serde_json::{Value, json};
use storage::{RangeRequest, prefix_end};

#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    /// 0: no limit.
    pub limit: usize,
    pub continue_token: Option<String>,
    /// `resourceVersion` with `resourceVersionMatch=Exact`: read at that revision.
    pub exact_revision: Option<i64>,
    /// `resourceVersion` otherwise: the list must be at least this new.
    pub min_revision: Option<i64>,
}

/// How long a list waits for the store to reach a `resourceVersion` it has not seen yet
/// (upstream waits for its watch cache as long) before a 504.
const WAIT_FOR_REVISION: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug)]
pub struct ListResult {
    pub items: Vec<Value>,
    /// The revision the list is a snapshot of.
    pub revision: i64,
    pub continue_token: Option<String>,
}

/// Field values of an object for field selectors: `metadata.name`, `metadata.namespace`
/// and the strategy's own attributes.
pub fn field_value(def: &ResourceDef, obj: &Value, field: &str) -> Option<String> {
    match field {
        "metadata.name" => Some(object::name(obj).to_owned()),
        "metadata.namespace" => Some(object::meta_str(obj, "namespace").to_owned()),
        _ => def.strategy.selectable_fields(obj).into_iter().find(|(k, _)| *k == field).map(|(_, v)| v),
    }
}

/// Whether a field-selector key is supported on this resource.
pub fn supports_field(def: &ResourceDef, field: &str) -> bool {
    field == "metadata.name" || field == "metadata.namespace" || def.strategy.field_selectors().contains(&field)
}

/// Whether an object passes both selectors.
pub fn matches(def: &ResourceDef, obj: &Value, labels: &LabelSelector, fields: &FieldSelector) -> bool {
    (labels.is_empty() || labels.matches(&object::labels(obj)))
        && (fields.is_empty() || fields.matches(&|f| field_value(def, obj, f)))
}

impl Registry {
    pub async fn list(&self, def: &'static ResourceDef, namespace: &str, opts: &ListOptions) -> ApiResult<ListResult> {
        if let Some(min) = opts.min_revision {
            self.wait_for_revision(min).await?;
        }
        let prefix = keys::collection_prefix(def, namespace);
        let end = prefix_end(&prefix);
        let (mut start, mut revision) = match &opts.continue_token {
            Some(token) => decode_continue(token, &prefix)?,
            None => (prefix.clone(), opts.exact_revision.unwrap_or(0)),
        };
        // A field selector pinning one name reads one key instead of the collection.
        if let (Some(name), true) = (opts.field_selector.exact_name(), def.namespaced != namespace.is_empty()) {
            start = keys::object_key(def, namespace, name);
        }
        let single = opts.field_selector.exact_name().is_some() && def.namespaced != namespace.is_empty();
        let mut items = Vec::new();
        loop {
            let want = if opts.limit == 0 { 0 } else { (opts.limit - items.len()).max(1) };
            let req = RangeRequest {
                start: start.clone(),
                end: if single { String::new() } else { end.clone() },
                revision,
                limit: want,
            };
            let page = self.store.range(req).await?;
            revision = page.revision;
            for kv in &page.kvs {
                let obj = decode_stored(def, kv)?;
                if matches(def, &obj, &opts.label_selector, &opts.field_selector) {
                    items.push(obj);
                }
            }
            let Some(last) = page.kvs.last() else { break };
            start = format!("{}\0", last.key);
            if !page.more {
                break;
            }
            if opts.limit != 0 && items.len() >= opts.limit {
                return Ok(ListResult { items, revision, continue_token: Some(encode_continue(&start, revision)) });
            }
        }
        Ok(ListResult { items, revision, continue_token: None })
    }
}

impl Registry {
    /// Wait until the store has reached `revision`, or fail as upstream does when it
    /// does not in time.
    async fn wait_for_revision(&self, revision: i64) -> ApiResult<()> {
        let deadline = tokio::time::Instant::now() + WAIT_FOR_REVISION;
        loop {
            let current = self.store.current_revision().await?;
            if current >= revision {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ApiError::Timeout(format!("Too large resource version: {revision}, current: {current}")));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

fn encode_continue(start: &str, revision: i64) -> String {
    URL_SAFE_NO_PAD.encode(json!({"v": "krust/1", "rv": revision, "start": start}).to_string())
}

fn decode_continue(token: &str, prefix: &str) -> ApiResult<(String, i64)> {
    let invalid = || ApiError::BadRequest("continue key is not valid: malformed token".to_owned());
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(invalid)?;
    let rv = v.get("rv").and_then(Value::as_i64).ok_or_else(invalid)?;
    if !start.starts_with(prefix) {
        return Err(ApiError::BadRequest("continue key is not valid: it is for another collection".to_owned()));
    }
    Ok((start.to_owned(), rv))
}
