//! Shared informers (upstream's `SharedInformerFactory`): one watch and one cache per
//! resource type (and selector) for every controller of the process, instead of one per
//! controller. A controller asks [`Informers`] for the [`Informer`] of a type, reads its
//! [`Store`], and subscribes handlers that turn each changed object into keys of its own
//! [`WorkQueue`].
//!
//! Handlers run on the watch task, right after the cache applied the change, so no
//! subscriber can fall behind and miss a change: a handler only queues keys (it must not
//! block, nor ask the informer for anything). A handler that joins after the cache listed
//! is first handed every cached object, as upstream's `AddEventHandler` does.

use crate::queue::WorkQueue;
use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event, watcher};
use kube::runtime::{WatchStreamExt, reflector as reflect};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

/// What a shared informer can hold: a namespaced or cluster-scoped object of a built-in type.
pub trait Cached: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static {}

impl<K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static> Cached for K {}

/// The informers of one component's term (a controller manager's, while it leads); clones
/// share them. Each informer starts
/// when first asked for, and stops when the last clone of this factory is dropped.
#[derive(Clone)]
pub struct Informers {
    inner: Arc<Factory>,
}

struct Factory {
    client: Client,
    started: Mutex<HashMap<Source, Arc<dyn Any + Send + Sync>>>,
    watches: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Drop for Factory {
    fn drop(&mut self) {
        for watch in self.watches.get_mut().unwrap_or_else(|p| p.into_inner()).drain(..) {
            watch.abort();
        }
    }
}

/// What one informer watches: a type, in one namespace or all, with selectors or none.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Source {
    kind: TypeId,
    namespace: Option<String>,
    labels: Option<String>,
    fields: Option<String>,
}

impl Informers {
    /// A factory whose informers watch through `client`. Nothing is watched until asked for.
    pub fn new(client: Client) -> Informers {
        Informers { inner: Arc::new(Factory { client, started: Mutex::default(), watches: Mutex::default() }) }
    }

    /// The informer of every `K` in the cluster.
    pub fn all<K: Cached>(&self) -> Informer<K> {
        self.selected(watcher::Config::default())
    }

    /// The informer of the `K`s in the cluster that `config`'s label and field selectors pick
    /// (for a type only one controller reads a small part of; a shared type is better
    /// shared whole, filtered in the handler).
    pub fn selected<K: Cached>(&self, config: watcher::Config) -> Informer<K> {
        let source = source_of::<K>(None, &config);
        self.informer(source, || (Api::all(self.inner.client.clone()), config))
    }

    /// The informer of every `K` in `namespace`.
    pub fn namespaced<K: Cached + Resource<Scope = NamespaceResourceScope>>(&self, namespace: &str) -> Informer<K> {
        let config = watcher::Config::default();
        let source = source_of::<K>(Some(namespace), &config);
        self.informer(source, || (Api::namespaced(self.inner.client.clone(), namespace), config))
    }

    fn informer<K: Cached>(&self, source: Source, watch: impl FnOnce() -> (Api<K>, watcher::Config)) -> Informer<K> {
        let mut started = self.inner.started.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(informer) = started.get(&source).and_then(|any| any.clone().downcast::<Informer<K>>().ok()) {
            return (*informer).clone();
        }
        let (store, writer) = reflector::store();
        let (listed, synced) = tokio::sync::watch::channel(false);
        let informer = Informer { store, handlers: Arc::default(), synced };
        let (api, config) = watch();
        let events = reflect(writer, watcher(api, config).default_backoff());
        let task = tokio::spawn(dispatch(events, informer.clone(), listed));
        self.inner.watches.lock().unwrap_or_else(|p| p.into_inner()).push(task.abort_handle());
        started.insert(source, Arc::new(informer.clone()));
        informer
    }
}

fn source_of<K: Cached>(namespace: Option<&str>, config: &watcher::Config) -> Source {
    Source {
        kind: TypeId::of::<K>(),
        namespace: namespace.map(str::to_owned),
        labels: config.label_selector.clone(),
        fields: config.field_selector.clone(),
    }
}

/// One shared watch of a type: its cache and the handlers told of each change. Clones share both.
pub struct Informer<K: Cached> {
    store: Store<K>,
    handlers: Arc<Mutex<Handlers<K>>>,
    /// Whether the cache has listed. (The store's own `wait_until_ready` wakes only one of
    /// several tasks waiting at once: its oneshot keeps the last waker.)
    synced: tokio::sync::watch::Receiver<bool>,
}

impl<K: Cached> Clone for Informer<K> {
    fn clone(&self) -> Self {
        Informer { store: self.store.clone(), handlers: self.handlers.clone(), synced: self.synced.clone() }
    }
}

type Handle<K> = Box<dyn Fn(&K) + Send + Sync>;

struct Handler<K> {
    /// Told only of deletions (and not of the objects cached when it joins).
    deletions_only: bool,
    handle: Handle<K>,
}

struct Handlers<K> {
    list: Vec<Handler<K>>,
    /// Handlers from this index on joined while the cache (re)listed: the objects listed
    /// before they joined reach the cache only when the list is done, so they are handed
    /// the cache then.
    joined_during_list: usize,
}

impl<K> Default for Handlers<K> {
    fn default() -> Self {
        Handlers { list: Vec::new(), joined_during_list: 0 }
    }
}

impl<K: Cached> Informer<K> {
    /// The shared cache (read-only).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Whether the cache has listed (upstream's `HasSynced`); waits for it. `false` when the
    /// informer stopped first.
    pub async fn synced(&self) -> bool {
        self.synced.clone().wait_for(|listed| *listed).await.is_ok()
    }

    /// Call `handle` with every object added, changed or deleted (a deletion with the last
    /// state known), starting with every object cached now.
    pub fn on_change(&self, handle: impl Fn(&K) + Send + Sync + 'static) {
        let mut handlers = self.lock();
        for object in self.store.state() {
            handle(&object);
        }
        handlers.list.push(Handler { deletions_only: false, handle: Box::new(handle) });
    }

    /// Call `handle` with every object deleted (its last state known).
    pub fn on_delete(&self, handle: impl Fn(&K) + Send + Sync + 'static) {
        self.lock().list.push(Handler { deletions_only: true, handle: Box::new(handle) });
    }

    /// Queue `key_of` of every object added, changed or deleted.
    pub fn queue_changes<Q>(&self, queue: &WorkQueue<Q>, key_of: impl Fn(&K) -> Q + Send + Sync + 'static)
    where
        Q: Clone + Eq + Hash + Send + 'static,
    {
        let queue = queue.clone();
        self.on_change(move |object| queue.add(key_of(object)));
    }

    fn lock(&self) -> MutexGuard<'_, Handlers<K>> {
        self.handlers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Tell the informer's handlers of every change `events` (already applied to the cache)
/// brings, and `listed` once the cache first listed. Runs until the factory stops it.
async fn dispatch<K: Cached>(
    events: impl futures::Stream<Item = watcher::Result<Event<K>>>,
    informer: Informer<K>,
    listed: tokio::sync::watch::Sender<bool>,
) {
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Apply(object) | Event::InitApply(object)) => {
                for handler in informer.lock().list.iter().filter(|h| !h.deletions_only) {
                    (handler.handle)(&object);
                }
            }
            Ok(Event::Delete(object)) => {
                for handler in &informer.lock().list {
                    (handler.handle)(&object);
                }
            }
            Ok(Event::Init) => {
                let mut handlers = informer.lock();
                handlers.joined_during_list = handlers.list.len();
            }
            Ok(Event::InitDone) => {
                let mut handlers = informer.lock();
                let cached = informer.store.state();
                let joined = handlers.joined_during_list;
                for handler in handlers.list[joined..].iter().filter(|h| !h.deletions_only) {
                    for object in &cached {
                        (handler.handle)(object);
                    }
                }
                handlers.joined_during_list = handlers.list.len();
                listed.send_replace(true);
            }
            Err(error) => tracing::warn!(kind = %K::kind(&()), %error, "watch failed; retrying"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::Stream;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::reflector::store::Writer;
    use std::pin::Pin;

    fn config_map(name: &str) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(name.to_owned());
        cm.metadata.namespace = Some("default".to_owned());
        cm
    }

    /// What a watch would bring for `events`: a fresh informer, its stream (applied to its
    /// cache) and the sender that reports it listed.
    type Fed = (Informer<ConfigMap>, Pin<Box<dyn Stream<Item = watcher::Result<Event<ConfigMap>>> + Send>>, Listed);
    type Listed = tokio::sync::watch::Sender<bool>;

    fn fed(events: Vec<Event<ConfigMap>>) -> Fed {
        let writer: Writer<ConfigMap> = Writer::default();
        let (listed, synced) = tokio::sync::watch::channel(false);
        let informer = Informer { store: writer.as_reader(), handlers: Arc::default(), synced };
        (informer, Box::pin(reflect(writer, futures::stream::iter(events.into_iter().map(Ok)))), listed)
    }

    async fn queued(queue: &WorkQueue<String>) -> Vec<String> {
        let mut keys = Vec::new();
        while !queue.is_empty() {
            let key = queue.get().await.unwrap();
            queue.done(&key);
            keys.push(key);
        }
        keys.sort();
        keys
    }

    #[tokio::test]
    async fn every_subscriber_hears_of_every_change_and_deletion() {
        let (informer, events, listed) = fed(vec![
            Event::Init,
            Event::InitApply(config_map("a")),
            Event::InitDone,
            Event::Apply(config_map("b")),
            Event::Delete(config_map("a")),
        ]);
        let (first, second, deleted) = (WorkQueue::new(), WorkQueue::new(), WorkQueue::new());
        informer.queue_changes(&first, |cm: &ConfigMap| cm.metadata.name.clone().unwrap());
        informer.queue_changes(&second, |cm: &ConfigMap| cm.metadata.name.clone().unwrap());
        let on_delete = deleted.clone();
        informer.on_delete(move |cm: &ConfigMap| on_delete.add(cm.metadata.name.clone().unwrap()));
        dispatch(events, informer.clone(), listed).await;
        assert_eq!(queued(&first).await, ["a", "b"]);
        assert_eq!(queued(&second).await, ["a", "b"]);
        assert_eq!(queued(&deleted).await, ["a"]);
        assert!(informer.synced().await);
        assert_eq!(informer.store().state().len(), 1, "only b is left");
    }

    #[tokio::test]
    async fn a_subscriber_joining_during_the_list_is_handed_what_was_listed_before() {
        let (informer, events, listed) = fed(vec![Event::Init, Event::InitApply(config_map("a")), Event::InitDone]);
        let joining = WorkQueue::new();
        let (join, queue) = (informer.clone(), joining.clone());
        // The subscriber joins after `a` was dispatched, before the list is done (and `a` cached).
        let events = events.inspect(move |event| {
            if matches!(event, Ok(Event::InitDone)) {
                join.queue_changes(&queue, |cm: &ConfigMap| cm.metadata.name.clone().unwrap());
            }
        });
        dispatch(events, informer, listed).await;
        assert_eq!(queued(&joining).await, ["a"]);
    }

    #[tokio::test]
    async fn every_task_waiting_for_the_list_is_told() {
        let (informer, events, listed) = fed(vec![Event::Init, Event::InitDone]);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                tokio::spawn({
                    let informer = informer.clone();
                    async move { informer.synced().await }
                })
            })
            .collect();
        tokio::task::yield_now().await;
        dispatch(events, informer, listed).await;
        for waiter in waiters {
            assert!(waiter.await.unwrap());
        }
    }

    #[tokio::test]
    async fn a_late_subscriber_is_handed_the_cache() {
        let (informer, events, listed) = fed(vec![Event::Init, Event::InitApply(config_map("a")), Event::InitDone]);
        dispatch(events, informer.clone(), listed).await;
        let late = WorkQueue::new();
        informer.queue_changes(&late, |cm: &ConfigMap| cm.metadata.name.clone().unwrap());
        assert_eq!(queued(&late).await, ["a"]);
    }
}
