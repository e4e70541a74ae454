//! Watch: a stream of ADDED, MODIFIED, DELETED (and BOOKMARK, ERROR) events for one
//! collection, starting from a resourceVersion or from a snapshot of the current state.

use super::list::matches;
use super::{ListOptions, Registry, decode_stored, keys};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};
use futures::StreamExt;
use resources::ResourceDef;
use serde_json::{Value, json};
use std::time::Duration;
use storage::{Event, EventKind, prefix_end};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// How often a watch that allows bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    /// `resourceVersion`: None or "0" start with the current state as ADDED events.
    pub resource_version: Option<String>,
    pub allow_bookmarks: bool,
    /// `sendInitialEvents=true`: the initial ADDED events end with a BOOKMARK annotated
    /// `k8s.io/initial-events-end`.
    pub send_initial_events: bool,
    pub timeout: Duration,
}

/// One watch event: `type` and the object.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    pub kind: &'static str,
    pub object: Value,
}

pub type WatchStream = ReceiverStream<WatchEvent>;

impl Registry {
    pub async fn watch(
        &self,
        def: &'static ResourceDef,
        namespace: &str,
        opts: WatchOptions,
    ) -> ApiResult<WatchStream> {
        let prefix = keys::collection_prefix(def, namespace);
        let (tx, rx) = mpsc::channel(256);
        let rv = opts.resource_version.clone().filter(|v| !v.is_empty());
        let initial = match rv.as_deref() {
            None | Some("0") => true,
            Some(_) => opts.send_initial_events,
        };
        let mut after = match rv.as_deref() {
            None | Some("0") => 0,
            Some(v) => v.parse().map_err(|_| ApiError::BadRequest(format!("invalid resourceVersion {v:?}")))?,
        };
        let mut initial_events = Vec::new();
        if initial {
            let list_opts = ListOptions {
                label_selector: opts.label_selector.clone(),
                field_selector: opts.field_selector.clone(),
                ..Default::default()
            };
            let snapshot = self.list(def, namespace, &list_opts).await?;
            after = snapshot.revision;
            initial_events = snapshot.items.into_iter().map(|o| WatchEvent { kind: "ADDED", object: o }).collect();
        }
        let stream = match self.store.watch(&prefix, &prefix_end(&prefix), after).await {
            Ok(s) => Some(s),
            Err(storage::Error::Compacted { requested, compacted }) => {
                let status = ApiError::Expired(format!("too old resource version: {requested} ({compacted})")).status();
                let _ = tx.send(WatchEvent { kind: "ERROR", object: status }).await;
                None
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(stream) = stream {
            let end_marker = (opts.send_initial_events && opts.allow_bookmarks).then(|| bookmark(def, after, true));
            tokio::spawn(pump(def, opts, after, initial_events, end_marker, stream, tx));
        }
        Ok(ReceiverStream::new(rx))
    }
}

fn bookmark(def: &ResourceDef, revision: i64, initial_end: bool) -> WatchEvent {
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    WatchEvent {
        kind: "BOOKMARK",
        object: json!({"kind": def.kind, "apiVersion": def.api_version(), "metadata": metadata}),
    }
}

/// Feed the client: initial events, then store events translated through the
/// selectors, bookmarks, until the timeout, an error, or the client leaving.
async fn pump(
    def: &'static ResourceDef,
    opts: WatchOptions,
    mut last: i64,
    initial: Vec<WatchEvent>,
    end_marker: Option<WatchEvent>,
    mut stream: storage::WatchStream,
    tx: mpsc::Sender<WatchEvent>,
) {
    for ev in initial.into_iter().chain(end_marker) {
        if tx.send(ev).await.is_err() {
            return;
        }
    }
    let deadline = tokio::time::sleep(opts.timeout);
    tokio::pin!(deadline);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_INTERVAL, BOOKMARK_INTERVAL);
    loop {
        let out = tokio::select! {
            _ = &mut deadline => return,
            _ = tx.closed() => return,
            _ = ticker.tick(), if opts.allow_bookmarks => Some(bookmark(def, last, false)),
            next = stream.next() => match next {
                None => return,
                Some(Err(storage::Error::Compacted { requested, compacted })) => Some(WatchEvent {
                    kind: "ERROR",
                    object: ApiError::Expired(format!("too old resource version: {requested} ({compacted})")).status(),
                }),
                Some(Err(e)) => Some(WatchEvent { kind: "ERROR", object: ApiError::from(e).status() }),
                Some(Ok(event)) => {
                    last = event.kv.mod_revision;
                    translate(def, &event, &opts.label_selector, &opts.field_selector)
                }
            },
        };
        if let Some(ev) = out {
            let fatal = ev.kind == "ERROR";
            if tx.send(ev).await.is_err() || fatal {
                return;
            }
        }
    }
}

/// A store event as the client sees it through its selectors: an object that starts
/// matching is ADDED, one that stops is DELETED.
fn translate(def: &ResourceDef, event: &Event, labels: &LabelSelector, fields: &FieldSelector) -> Option<WatchEvent> {
    let new = decode_stored(def, &event.kv).ok()?;
    let old = event.prev.as_ref().and_then(|p| decode_stored(def, p).ok());
    let new_matches = matches(def, &new, labels, fields);
    let old_matches = old.as_ref().is_some_and(|o| matches(def, o, labels, fields));
    let kind = match event.kind {
        EventKind::Delete => {
            let last = old.unwrap_or_else(|| new.clone());
            if !matches(def, &last, labels, fields) {
                return None;
            }
            let mut obj = last;
            super::object::set_meta(
                &mut obj,
                "resourceVersion",
                Some(Value::String(event.kv.mod_revision.to_string())),
            );
            return Some(WatchEvent { kind: "DELETED", object: obj });
        }
        EventKind::Put => match (old.is_some(), old_matches, new_matches) {
            (false, _, true) => "ADDED",
            (true, true, true) => "MODIFIED",
            (true, false, true) => "ADDED",
            (true, true, false) => "DELETED",
            _ => return None,
        },
    };
    Some(WatchEvent { kind, object: new })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::WriteOptions;
    use serde_json::json;
    use std::sync::Arc;

    fn registry(dir: &std::path::Path) -> (Registry, Arc<storage::sqlite::SqliteStore>) {
        let store = Arc::new(storage::sqlite::SqliteStore::open(&dir.join("state.db")).unwrap());
        (Registry::new(store.clone()), store)
    }

    async fn create_namespace(r: &Registry, name: &str) -> i64 {
        let def = resources::find("", "v1", "namespaces").unwrap();
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        let written = r.create(def, "", obj, &WriteOptions::default()).await.unwrap();
        written.object["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
    }

    #[tokio::test]
    async fn watch_from_a_compacted_revision_is_expired() {
        let dir = tempfile::tempdir().unwrap();
        let (r, store) = registry(dir.path());
        let first = create_namespace(&r, "a").await;
        create_namespace(&r, "b").await;
        let last = create_namespace(&r, "c").await;
        storage::Store::compact(store.as_ref(), last).await.unwrap();
        let def = resources::find("", "v1", "namespaces").unwrap();
        let opts = WatchOptions {
            resource_version: Some(first.to_string()),
            timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        };
        let mut events = r.watch(def, "", opts).await.unwrap();
        let ev = events.next().await.unwrap();
        assert_eq!(ev.kind, "ERROR");
        assert_eq!(ev.object["code"], 410);
        assert_eq!(ev.object["reason"], "Expired");
    }

    #[tokio::test]
    async fn label_changes_move_objects_in_and_out_of_a_filtered_watch() {
        let dir = tempfile::tempdir().unwrap();
        let (r, _store) = registry(dir.path());
        let rv = create_namespace(&r, "n").await;
        let def = resources::find("", "v1", "namespaces").unwrap();
        let opts = WatchOptions {
            label_selector: LabelSelector::parse("team=a").unwrap(),
            resource_version: Some(rv.to_string()),
            timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        };
        let mut events = r.watch(def, "", opts).await.unwrap();
        let label = |v: Option<&str>| {
            let r = &r;
            let value = v.map(|s| json!(s)).unwrap_or(Value::Null);
            async move {
                let patch = json!({"metadata": {"labels": {"team": value}}});
                r.guaranteed_update(
                    def,
                    "",
                    "n",
                    crate::registry::Subresource::Main,
                    &WriteOptions::default(),
                    |cur| {
                        let mut next = cur.clone();
                        patch::json::apply_merge_patch(&mut next, &patch).unwrap();
                        Ok(next)
                    },
                )
                .await
                .unwrap();
            }
        };
        label(Some("a")).await;
        label(Some("b")).await;
        let kinds: Vec<&str> = vec![events.next().await.unwrap().kind, events.next().await.unwrap().kind];
        assert_eq!(kinds, ["ADDED", "DELETED"]);
    }
}
