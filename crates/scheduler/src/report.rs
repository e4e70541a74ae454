//! What the scheduler writes besides the binding: the `PodScheduled=False` condition (and
//! `nominatedNodeName`) of a pod no node fits, the `DisruptionTarget` condition of a pod it
//! preempts, and the Events (`Scheduled`, `FailedScheduling`, `Preempted`) kubectl shows.
//! Events are written through `events.k8s.io/v1`, as upstream's scheduler writes them: a
//! repeat becomes the first event's `series` (kubectl shows its count).

use crate::{COMPONENT, Error};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

/// The last event recorded about a pod.
#[derive(Clone)]
struct LastEvent {
    name: String,
    reason: String,
    message: String,
    count: i32,
}

type PodKey = (String, String);

/// Writes pod conditions and events, folding repeats of one event into its count.
pub struct Reporter {
    client: kube::Client,
    /// This scheduler instance on its events (upstream's `default-scheduler-<host>`).
    instance: String,
    /// The last event about each pod, by (namespace, name).
    last_events: Mutex<HashMap<PodKey, LastEvent>>,
}

impl Reporter {
    pub fn new(client: kube::Client) -> Reporter {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let instance = format!("{COMPONENT}-{}", host.trim());
        Reporter { client, instance, last_events: Mutex::new(HashMap::new()) }
    }

    /// Set `PodScheduled=False` (reason `Unschedulable`) with `message`, and, when
    /// `nomination` is given, `status.nominatedNodeName` to it (`""` clears it); one status
    /// patch, skipped when nothing would change (upstream's `updatePod`).
    pub async fn mark_unschedulable(&self, pod: &Pod, message: &str, nomination: Option<&str>) -> Result<(), Error> {
        let status = pod.status.as_ref();
        let current =
            status.and_then(|s| s.conditions.as_ref()).and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
        let nominated = status.and_then(|s| s.nominated_node_name.as_deref()).unwrap_or_default();
        let nomination_changes = nomination.is_some_and(|n| n != nominated);
        let condition_holds = current.is_some_and(|c| {
            c.status == "False" && c.reason.as_deref() == Some("Unschedulable") && c.message.as_deref() == Some(message)
        });
        if condition_holds && !nomination_changes {
            return Ok(());
        }
        let transition = match current {
            Some(c) if c.status == "False" => c.last_transition_time.as_ref().map(|t| t.0),
            _ => None,
        }
        .unwrap_or_else(now);
        let mut patch = json!({"status": {"conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": transition.to_string(),
        }]}});
        if let Some(node) = nomination.filter(|_| nomination_changes) {
            patch["status"]["nominatedNodeName"] = if node.is_empty() { json!(null) } else { json!(node) };
        }
        self.patch_status(pod, &patch).await
    }

    /// Clear `pod`'s `status.nominatedNodeName`.
    pub async fn clear_nomination(&self, pod: &Pod) -> Result<(), Error> {
        self.patch_status(pod, &json!({"status": {"nominatedNodeName": null}})).await
    }

    /// Mark a victim `DisruptionTarget=True` (reason `PreemptionByScheduler`) before it is
    /// deleted, unless it says so already.
    pub async fn mark_disruption_target(&self, victim: &Pod, scheduler_name: &str) -> Result<(), Error> {
        let message = format!("{scheduler_name}: preempting to accommodate a higher priority pod");
        let conditions = victim.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
        let current = conditions.iter().find(|c| c.type_ == "DisruptionTarget");
        if current.is_some_and(|c| {
            c.status == "True"
                && c.reason.as_deref() == Some("PreemptionByScheduler")
                && c.message.as_deref() == Some(message.as_str())
        }) {
            return Ok(());
        }
        let transition = current.filter(|c| c.status == "True").and_then(|c| c.last_transition_time.as_ref());
        let patch = json!({"status": {"conditions": [{
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "PreemptionByScheduler",
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": transition.map_or_else(now, |t| t.0).to_string(),
        }]}});
        self.patch_status(victim, &patch).await
    }

    async fn patch_status(&self, pod: &Pod, patch: &serde_json::Value) -> Result<(), Error> {
        let (namespace, name) = identity(pod);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        api.patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch)).await?;
        Ok(())
    }

    /// Record on `victim` that `preemptor` preempted it to run on `node`.
    pub async fn preempted(&self, victim: &Pod, preemptor: &Pod, node: &str) -> Result<(), Error> {
        let uid = preemptor.metadata.uid.as_deref().unwrap_or_default();
        let message = format!("Preempted by pod {uid} on node {node}");
        self.record(victim, "Normal", "Preempted", "Preempting", &message, Some(reference(preemptor))).await
    }

    /// Record an event about `pod` for `action` (upstream's: `Binding` for `Scheduled`,
    /// `Scheduling` for `FailedScheduling`); a repeat of the last one extends its series.
    pub async fn event(&self, pod: &Pod, type_: &str, reason: &str, action: &str, message: &str) -> Result<(), Error> {
        self.record(pod, type_, reason, action, message, None).await
    }

    async fn record(
        &self,
        pod: &Pod,
        type_: &str,
        reason: &str,
        action: &str,
        message: &str,
        related: Option<ObjectReference>,
    ) -> Result<(), Error> {
        let (namespace, name) = identity(pod);
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let key = (namespace.clone(), name.clone());
        let repeat = self.lock().get(&key).filter(|e| e.reason == reason && e.message == message).cloned();
        if let Some(mut last) = repeat {
            last.count += 1;
            let series = EventSeries { count: last.count, last_observed_time: MicroTime(Timestamp::now()) };
            let patch = json!({ "series": series });
            if api.patch(&last.name, &PatchParams::default(), &Patch::Merge(&patch)).await.is_ok() {
                self.lock().insert(key, last);
                return Ok(());
            }
        }
        // Named by the exact time, as upstream's recorder does: two events about one pod
        // within a second (Scheduled, then Preempted) must not collide.
        let event_name = format!("{name}.{:x}", Timestamp::now().as_nanosecond());
        let event = Event {
            metadata: ObjectMeta { name: Some(event_name.clone()), namespace: Some(namespace), ..Default::default() },
            event_time: Some(MicroTime(Timestamp::now())),
            regarding: Some(reference(pod)),
            related,
            reason: Some(reason.to_owned()),
            note: Some(message.to_owned()),
            type_: Some(type_.to_owned()),
            action: Some(action.to_owned()),
            reporting_controller: Some(COMPONENT.to_owned()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        };
        api.create(&PostParams::default(), &event).await?;
        let last = LastEvent { name: event_name, reason: reason.to_owned(), message: message.to_owned(), count: 1 };
        self.lock().insert(key, last);
        Ok(())
    }

    /// Forget the pod's last event (it was scheduled or deleted).
    pub fn forget(&self, namespace: &str, name: &str) {
        self.lock().remove(&(namespace.to_owned(), name.to_owned()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PodKey, LastEvent>> {
        self.last_events.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("Pod".to_owned()),
        name: pod.metadata.name.clone(),
        namespace: pod.metadata.namespace.clone(),
        uid: pod.metadata.uid.clone(),
        resource_version: pod.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn identity(pod: &Pod) -> (String, String) {
    (pod.metadata.namespace.clone().unwrap_or_default(), pod.metadata.name.clone().unwrap_or_default())
}

/// Now, to the second (the precision of the API's condition timestamps).
fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now())
}
