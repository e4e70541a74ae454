//! A controller's event recorder (upstream's legacy `record.EventRecorder`): core/v1 Events
//! about an object, where a repeat of the same event (same object, type, reason and
//! message) bumps the first one's `count` and `lastTimestamp` instead of creating another.

use crate::FIELD_MANAGER;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

pub const NORMAL: &str = "Normal";
pub const WARNING: &str = "Warning";

/// What makes two events the same: the object's uid, the type, the reason and the message.
type EventKey = (String, String, String, String);
/// The name and count of the event recorded for each [`EventKey`].
type Seen = HashMap<EventKey, (String, i32)>;

/// Records events as `component` (upstream's event source, e.g. `replicaset-controller`).
pub struct Recorder {
    client: Client,
    component: &'static str,
    seen: Mutex<Seen>,
}

impl Recorder {
    pub fn new(client: Client, component: &'static str) -> Self {
        Recorder { client, component, seen: Mutex::new(HashMap::new()) }
    }

    /// Record an event of `type_` about `object`. Failing to record is logged, never fatal:
    /// events are best effort, as upstream's.
    pub async fn record<K: Resource<DynamicType = ()>>(&self, object: &K, type_: &str, reason: &str, message: &str) {
        let involved = reference(object);
        let namespace = involved.namespace.clone().unwrap_or_else(|| "default".to_owned());
        let key = (involved.uid.clone().unwrap_or_default(), type_.to_owned(), reason.to_owned(), message.to_owned());
        let now = Time(jiff::Timestamp::now());
        let api = Api::<Event>::namespaced(self.client.clone(), &namespace);
        let previous = self.lock().get(&key).cloned();
        if let Some((name, count)) = previous {
            let patch = json!({"count": count + 1, "lastTimestamp": now});
            match api
                .patch(
                    &name,
                    &PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() },
                    &Patch::Merge(patch),
                )
                .await
            {
                Ok(_) => {
                    self.lock().insert(key, (name, count + 1));
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
            source: Some(EventSource { component: Some(self.component.to_owned()), host: None }),
            reporting_component: Some(self.component.to_owned()),
            reporting_instance: Some(String::new()),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            ..Default::default()
        };
        match api
            .create(&PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() }, &event)
            .await
        {
            Ok(_) => {
                self.lock().insert(key, (name, 1));
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
