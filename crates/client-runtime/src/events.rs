//! A component's event recorder (upstream's legacy `record.EventRecorder`): core/v1 Events
//! about an object, where a repeat of the same event (same object, type, reason and
//! message) bumps the first one's `count` and `lastTimestamp` instead of creating another,
//! and a burst of repeats is throttled as upstream's spam filter does: 25 at once, then one
//! per five minutes, so a controller retrying a failure cannot flood the API with events.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const NORMAL: &str = "Normal";
pub const WARNING: &str = "Warning";

/// What makes two events the same: the object's uid, the type, the reason and the message.
type EventKey = (String, String, String, String);
/// The name and count of the event recorded for each [`EventKey`], and its spam budget.
type Seen = HashMap<EventKey, Recorded>;

/// How many repeats of one event may be written at once (upstream's spam filter burst)...
const SPAM_BURST: f64 = 25.0;
/// ...and how often the budget grows back by one.
const SPAM_REFILL: Duration = Duration::from_secs(300);

#[derive(Clone)]
struct Recorded {
    name: String,
    count: i32,
    /// Writes left in the budget, as of `refilled`.
    tokens: f64,
    refilled: Instant,
}

impl Recorded {
    /// Take one write from the budget, if any is left.
    fn allow(&mut self, now: Instant) -> bool {
        let grown = now.duration_since(self.refilled).as_secs_f64() / SPAM_REFILL.as_secs_f64();
        self.tokens = (self.tokens + grown).min(SPAM_BURST);
        self.refilled = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// Records events as `component` (upstream's event source, e.g. `replicaset-controller`).
pub struct Recorder {
    client: Client,
    /// The field manager of the recorder's writes (the component's, e.g. `kube-controller-manager`).
    field_manager: &'static str,
    component: &'static str,
    /// The node the component runs on (`source.host` of a kubelet's events).
    host: Option<String>,
    seen: Mutex<Seen>,
}

impl Recorder {
    /// A recorder writing through `client` as `field_manager`, naming `component` as the source.
    pub fn new(client: Client, field_manager: &'static str, component: &'static str) -> Self {
        Recorder { client, field_manager, component, host: None, seen: Mutex::new(HashMap::new()) }
    }

    /// The same recorder naming `host` as the events' source host (a node's components).
    pub fn with_host(mut self, host: &str) -> Self {
        self.host = Some(host.to_owned());
        self
    }

    /// Record an event of `type_` about `object`. Failing to record is logged, never fatal:
    /// events are best effort, as upstream's.
    pub async fn record<K: Resource<DynamicType = ()>>(&self, object: &K, type_: &str, reason: &str, message: &str) {
        let involved = reference(object);
        let namespace = involved.namespace.clone().unwrap_or_else(|| "default".to_owned());
        let key = (involved.uid.clone().unwrap_or_default(), type_.to_owned(), reason.to_owned(), message.to_owned());
        let now = Time(jiff::Timestamp::now());
        let api = Api::<Event>::namespaced(self.client.clone(), &namespace);
        let previous = {
            let mut seen = self.lock();
            match seen.get_mut(&key) {
                Some(recorded) => {
                    if !recorded.allow(Instant::now()) {
                        return;
                    }
                    Some(recorded.clone())
                }
                None => None,
            }
        };
        if let Some(recorded) = &previous {
            let count = recorded.count + 1;
            let patch = json!({"count": count, "lastTimestamp": now});
            match api
                .patch(
                    &recorded.name,
                    &PatchParams { field_manager: Some(self.field_manager.to_owned()), ..Default::default() },
                    &Patch::Merge(patch),
                )
                .await
            {
                Ok(_) => {
                    if let Some(r) = self.lock().get_mut(&key) {
                        r.count = count;
                    }
                    return;
                }
                // The first event expired or was deleted: record a new one.
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(error) => return tracing::warn!(%error, reason, "recording an event failed"),
            }
        }
        let name = format!("{}.{:x}", involved.name.as_deref().unwrap_or_default(), now.0.as_nanosecond());
        let event = Event {
            metadata: ObjectMeta { name: Some(name.clone()), namespace: Some(namespace), ..Default::default() },
            involved_object: involved,
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            type_: Some(type_.to_owned()),
            source: Some(EventSource { component: Some(self.component.to_owned()), host: self.host.clone() }),
            reporting_component: Some(self.component.to_owned()),
            reporting_instance: Some(self.host.clone().unwrap_or_default()),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            ..Default::default()
        };
        match api
            .create(&PostParams { field_manager: Some(self.field_manager.to_owned()), ..Default::default() }, &event)
            .await
        {
            Ok(_) => {
                let budget = previous.map_or(SPAM_BURST - 1.0, |r| r.tokens);
                let recorded = Recorded { name, count: 1, tokens: budget, refilled: Instant::now() };
                self.lock().insert(key, recorded);
            }
            Err(error) => tracing::warn!(%error, reason, "recording an event failed"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The `involvedObject` of an event about `object`.
pub fn reference<K: Resource<DynamicType = ()>>(object: &K) -> ObjectReference {
    let meta = object.meta();
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;

    #[test]
    fn repeats_are_throttled_after_a_burst_and_allowed_again_later() {
        let start = Instant::now();
        let mut recorded = Recorded { name: "e".into(), count: 1, tokens: SPAM_BURST - 1.0, refilled: start };
        let allowed = (0..100).filter(|_| recorded.allow(start)).count();
        assert_eq!(allowed, 24, "the first write and 24 repeats make upstream's burst of 25");
        assert!(!recorded.allow(start + Duration::from_secs(60)));
        assert!(recorded.allow(start + SPAM_REFILL + Duration::from_secs(1)));
        assert!(!recorded.allow(start + SPAM_REFILL + Duration::from_secs(2)));
    }

    #[test]
    fn the_reference_names_the_object_and_its_kind() {
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web-abc".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let r = reference(&rs);
        assert_eq!(
            (r.api_version.as_deref(), r.kind.as_deref(), r.name.as_deref(), r.uid.as_deref()),
            (Some("apps/v1"), Some("ReplicaSet"), Some("web-abc"), Some("u1"))
        );
    }
}
