//! The kube-rs client against a real `krust server` (scenario B5, seed 000's client
//! library flow): list, create, label, watch and delete a pod through the typed API, and
//! an informer (watcher + reflector store) that lists in pages, streams its initial list
//! up to the server's bookmark, relists into the same store, and receives the periodic
//! bookmarks of a quiet watch.

mod support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::watcher;
use kube::{Client, Config};
use serde_json::json;
use std::time::Duration;
use support::Cluster;
use tokio::time::timeout;

const POD: &str = "programmatically-created-pod";

/// A client built the way applications do: from the cluster's kubeconfig file.
async fn client(cluster: &Cluster) -> Client {
    let kubeconfig = Kubeconfig::read_from(cluster.kubeconfig()).expect("reading the kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("client config from the kubeconfig");
    Client::try_from(config).expect("kube client")
}

fn sleeper_pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "busybox", "command": ["sleep", "99999"]}]},
    }))
    .expect("pod")
}

/// The label on every ConfigMap these tests make: the cluster's own controllers write
/// ConfigMaps too (kube-root-ca.crt), so the tests watch only theirs, as a real client would.
const MINE: &str = "test=kube-client";

fn configmap(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"test": "kube-client"}}, "data": {"k": "v"}}))
        .expect("configmap")
}

/// The next watch event, failing the test after 10 seconds of silence.
async fn next_event<S>(stream: &mut S) -> WatchEvent<Pod>
where
    S: futures::Stream<Item = kube::Result<WatchEvent<Pod>>> + Unpin,
{
    timeout(Duration::from_secs(10), stream.try_next())
        .await
        .expect("a watch event within 10s")
        .expect("watch stream error")
        .expect("watch stream ended")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_create_label_watch_and_delete_a_pod() {
    let cluster = Cluster::start();
    let pods: Api<Pod> = Api::namespaced(client(&cluster).await, "default");

    let before = pods.list(&ListParams::default()).await.expect("listing pods");
    assert!(before.items.is_empty(), "a fresh cluster has no pods in default: {:?}", before.items);
    let list_rv = before.metadata.resource_version.clone().expect("list resourceVersion");

    let created = pods.create(&PostParams::default(), &sleeper_pod(POD)).await.expect("creating the pod");
    assert_eq!(created.metadata.namespace.as_deref(), Some("default"));
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    assert_eq!(created.status.and_then(|s| s.phase).as_deref(), Some("Pending"));

    // Watch from the list's revision: the creation is replayed, then live changes follow.
    let mut events = pods.watch(&WatchParams::default().timeout(60), &list_rv).await.expect("watch").boxed();
    match next_event(&mut events).await {
        WatchEvent::Added(pod) => assert_eq!(pod.metadata.name.as_deref(), Some(POD)),
        other => panic!("expected ADDED, got {other:?}"),
    }

    let label = json!({"metadata": {"labels": {"foo": "bar"}}});
    let labelled = pods.patch(POD, &PatchParams::default(), &Patch::Merge(&label)).await.expect("labelling the pod");
    assert_eq!(labelled.metadata.labels.as_ref().and_then(|l| l.get("foo")).map(String::as_str), Some("bar"));
    assert_ne!(labelled.metadata.resource_version, created.metadata.resource_version);

    // Other writers (the scheduler marks the pod Unschedulable: there are no nodes) may
    // modify the pod too; the label's own MODIFIED event must come.
    loop {
        match next_event(&mut events).await {
            WatchEvent::Modified(pod) if pod.metadata.resource_version == labelled.metadata.resource_version => {
                assert_eq!(pod.metadata.labels.unwrap_or_default().get("foo").map(String::as_str), Some("bar"));
                break;
            }
            WatchEvent::Modified(_) => continue,
            other => panic!("expected MODIFIED with the label, got {other:?}"),
        }
    }

    let listed = pods.list(&ListParams::default().labels("foo=bar")).await.expect("listing by label");
    assert_eq!(listed.items.len(), 1);

    // A pod no node runs is deleted at once, without a grace period.
    let deleted = pods.delete(POD, &DeleteParams::default()).await.expect("deleting the pod");
    assert!(deleted.is_left(), "the deleted pod is returned: {deleted:?}");
    loop {
        match next_event(&mut events).await {
            WatchEvent::Deleted(pod) => break assert_eq!(pod.metadata.name.as_deref(), Some(POD)),
            WatchEvent::Modified(_) => continue,
            other => panic!("expected DELETED, got {other:?}"),
        }
    }
    assert!(pods.get_opt(POD).await.expect("get after delete").is_none());
    let err = pods.get(POD).await.expect_err("the pod is gone");
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 404), "{err:?}");
}

/// Drive a watcher into `writer` until `done` holds for the store, then drop the stream.
async fn run_informer(
    stream: impl futures::Stream<Item = watcher::Result<watcher::Event<ConfigMap>>>,
    writer: &mut reflector::store::Writer<ConfigMap>,
    store: &reflector::Store<ConfigMap>,
    done: impl Fn(&reflector::Store<ConfigMap>) -> bool,
) -> Vec<&'static str> {
    let mut seen = Vec::new();
    let mut stream = std::pin::pin!(stream);
    let wait = async {
        while let Some(event) = stream.try_next().await.expect("watcher error") {
            writer.apply_watcher_event(&event);
            seen.push(match event {
                watcher::Event::Init => "Init",
                watcher::Event::InitApply(_) => "InitApply",
                watcher::Event::InitDone => "InitDone",
                watcher::Event::Apply(_) => "Apply",
                watcher::Event::Delete(_) => "Delete",
            });
            if done(store) {
                return;
            }
        }
        panic!("watcher stream ended");
    };
    timeout(Duration::from_secs(20), wait).await.expect("informer reached the expected state within 20s");
    seen
}

fn names(store: &reflector::Store<ConfigMap>) -> Vec<String> {
    let mut names: Vec<String> = store.state().iter().filter_map(|c| c.metadata.name.clone()).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn informer_pages_streams_relists_and_follows_changes() {
    let cluster = Cluster::start();
    let client = client(&cluster).await;
    let ns = "default";
    let cms: Api<ConfigMap> = Api::namespaced(client, ns);
    for i in 0..5 {
        cms.create(&PostParams::default(), &configmap(&format!("cm-{i}"))).await.expect("creating a configmap");
    }
    let key = |name: &str| ObjectRef::<ConfigMap>::new(name).within(ns);
    let wanted = |want: &'static [&'static str]| move |s: &reflector::Store<ConfigMap>| names(s) == want;

    // List+watch, the list in pages of 2 (continue tokens), then live changes.
    let (store, mut writer) = reflector::store::<ConfigMap>();
    let paged = watcher(cms.clone(), watcher::Config::default().labels(MINE).page_size(2));
    let mut paged = std::pin::pin!(paged);
    let initial =
        run_informer(&mut paged, &mut writer, &store, wanted(&["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"])).await;
    assert_eq!(initial.first(), Some(&"Init"));
    assert_eq!(initial.last(), Some(&"InitDone"));
    assert_eq!(initial.iter().filter(|e| **e == "InitApply").count(), 5);
    store.wait_until_ready().await.expect("store ready after the first list");

    let patch = json!({"metadata": {"labels": {"foo": "bar"}}});
    cms.patch("cm-0", &PatchParams::default(), &Patch::Merge(&patch)).await.expect("labelling cm-0");
    cms.delete("cm-4", &DeleteParams::default()).await.expect("deleting cm-4");
    let labelled = |s: &reflector::Store<ConfigMap>| {
        s.get(&key("cm-0")).is_some_and(|c| c.metadata.labels.as_ref().is_some_and(|l| l.contains_key("foo")))
            && s.get(&key("cm-4")).is_none()
    };
    let live = run_informer(&mut paged, &mut writer, &store, labelled).await;
    assert_eq!(live, ["Apply", "Delete"]);

    // While no watcher runs, the cluster changes; a new watch relists into the same store,
    // which then drops what vanished and holds what appeared.
    cms.delete("cm-1", &DeleteParams::default()).await.expect("deleting cm-1");
    cms.create(&PostParams::default(), &configmap("cm-new")).await.expect("creating cm-new");
    let relisted = run_informer(
        watcher(cms.clone(), watcher::Config::default().labels(MINE)),
        &mut writer,
        &store,
        wanted(&["cm-0", "cm-2", "cm-3", "cm-new"]),
    )
    .await;
    assert_eq!(relisted.first(), Some(&"Init"));
    assert_eq!(relisted.last(), Some(&"InitDone"), "the relist swaps the store in one step: {relisted:?}");

    // Streaming list: the initial state arrives as watch events and ends with the
    // server's `k8s.io/initial-events-end` bookmark, which alone makes the store ready.
    let (streamed, mut stream_writer) = reflector::store::<ConfigMap>();
    let events = run_informer(
        watcher(cms.clone(), watcher::Config::default().labels(MINE).streaming_lists()),
        &mut stream_writer,
        &streamed,
        wanted(&["cm-0", "cm-2", "cm-3", "cm-new"]),
    )
    .await;
    assert_eq!(events.last(), Some(&"InitDone"), "{events:?}");
    assert_eq!(names(&streamed), names(&store));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_watch_receives_periodic_bookmarks() {
    let cluster = Cluster::start();
    let cms: Api<ConfigMap> = Api::namespaced(client(&cluster).await, "default");
    let created = cms.create(&PostParams::default(), &configmap("marker")).await.expect("creating a configmap");
    let rv = created.metadata.resource_version.expect("resourceVersion");

    // Bookmarks are requested by default; the server sends one within its 30s interval
    // at (or after) the revision the watch started from.
    let mut events = cms.watch(&WatchParams::default().labels(MINE).timeout(90), &rv).await.expect("watch").boxed();
    let event = timeout(Duration::from_secs(45), events.try_next())
        .await
        .expect("an event within 45s")
        .expect("watch stream error")
        .expect("watch stream ended");
    match event {
        WatchEvent::Bookmark(bm) => {
            let at: i64 = bm.metadata.resource_version.parse().expect("numeric resourceVersion");
            assert!(at >= rv.parse::<i64>().unwrap(), "bookmark {at} is not behind the watch start {rv}");
            assert_eq!(bm.types.kind, "ConfigMap");
        }
        other => panic!("expected a BOOKMARK on a quiet watch, got {other:?}"),
    }
}
