//! Carrying a preemption out through the API, as upstream's `prepareCandidate` does: each
//! victim not already terminating is marked `DisruptionTarget`, deleted (gracefully, a plain
//! DELETE) and told why in a `Preempted` event; pods of lower priority than the preemptor
//! nominated to the same node lose their nomination, since the room they counted on is taken.

use super::Candidate;
use crate::Error;
use crate::framework::pod_priority;
use crate::report::Reporter;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use std::sync::Arc;

fn is_not_found(error: &Error) -> bool {
    matches!(error, Error::Api(kube::Error::Api(status)) if status.is_not_found())
}

/// Evict `candidate`'s victims for `preemptor`. A victim already gone is skipped.
pub async fn evict_victims(
    client: &kube::Client,
    reporter: &Reporter,
    preemptor: &Pod,
    candidate: &Candidate,
) -> Result<(), Error> {
    let scheduler_name =
        preemptor.spec.as_ref().and_then(|s| s.scheduler_name.as_deref()).unwrap_or(crate::SCHEDULER_NAME);
    for victim in candidate.victims.pods.iter().filter(|v| v.metadata.deletion_timestamp.is_none()) {
        match reporter.mark_disruption_target(victim, scheduler_name).await {
            Err(error) if is_not_found(&error) => continue,
            result => result?,
        }
        let namespace = victim.metadata.namespace.as_deref().unwrap_or_default();
        let name = victim.metadata.name.as_deref().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        match api.delete(name, &DeleteParams::default()).await.map_err(Error::from) {
            Err(error) if is_not_found(&error) => continue,
            result => {
                result?;
            }
        }
        tracing::info!(%namespace, victim = %name, preemptor = ?preemptor.metadata.name, node = %candidate.node, "preempted");
        if let Err(error) = reporter.preempted(victim, preemptor, &candidate.node).await {
            tracing::warn!(%error, "recording Preempted");
        }
    }
    Ok(())
}

/// The pods nominated to the candidate's node that matter less than `preemptor`.
pub fn outranked_nominations<'a>(
    preemptor: &Pod,
    node: &str,
    nominated: &'a std::collections::BTreeMap<String, Vec<Arc<Pod>>>,
) -> Vec<&'a Arc<Pod>> {
    let priority = pod_priority(preemptor);
    nominated.get(node).into_iter().flatten().filter(|pod| pod_priority(pod) < priority).collect()
}
