//! Emptying a namespace (upstream's `deleteAllContent`): every discovered namespaced
//! resource that can be deleted is deleted there (as a collection when the resource allows),
//! then listed again to see what is left and which finalizers hold it.

use super::conditions::Findings;
use crate::Error;
use crate::discovery::{Served, ServedResources};
use kube::api::{DeleteParams, DynamicObject, ListParams};
use std::time::Duration;

/// How long to wait for objects held by finalizers before looking again (upstream's
/// `finalizerEstimateSeconds`).
const FINALIZER_ESTIMATE: Duration = Duration::from_secs(5);

/// The outcome of one pass.
#[derive(Debug, Default)]
pub struct Pass {
    pub findings: Findings,
    /// How long until the remaining content is expected to be gone (zero: nothing expected).
    pub estimate: Duration,
}

/// Delete everything in `namespace`, deleted at `deleted_at`.
pub async fn delete_all(client: &kube::Client, namespace: &str, deleted_at: jiff::Timestamp) -> Pass {
    let mut pass = Pass::default();
    let served = match ServedResources::discover(client).await {
        Ok(served) => served,
        Err(e) => {
            pass.findings.discovery_error = Some(e.to_string());
            return pass;
        }
    };
    for resource in served.preferred_with(&["delete"]).filter(|s| s.namespaced()) {
        match delete_resource(client, resource, namespace, deleted_at, &mut pass.findings).await {
            Ok(estimate) => pass.estimate = pass.estimate.max(estimate),
            Err(e) => pass.findings.delete_errors.push(e.to_string()),
        }
    }
    pass
}

/// Delete one resource's objects in `namespace`; returns how long what is left should take.
async fn delete_resource(
    client: &kube::Client,
    served: &Served,
    namespace: &str,
    deleted_at: jiff::Timestamp,
    findings: &mut Findings,
) -> Result<Duration, Error> {
    let api = served.api(client, Some(namespace));
    let listable = served.supports(&["list"]);
    let estimate = if listable { graceful_estimate(served, &api.list(&ListParams::default()).await?.items) } else { 0 };
    let since_deleted = jiff::Timestamp::now().duration_since(deleted_at).as_secs().max(0);
    let mut estimate = if since_deleted >= estimate { Duration::ZERO } else { Duration::from_secs(estimate as u64) };
    // Like upstream, dependents of what is deleted here are removed in the background.
    let params = DeleteParams::background();
    if served.supports(&["deletecollection"]) {
        api.delete_collection(&params, &ListParams::default()).await?;
    } else if listable {
        for item in api.list(&ListParams::default()).await?.items {
            let name = item.metadata.name.unwrap_or_default();
            match api.delete(&name, &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() || s.code == 405 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    if !listable {
        return Ok(estimate);
    }
    let left = api.list(&ListParams::default()).await?.items;
    if left.is_empty() {
        return Ok(estimate);
    }
    *findings.remaining.entry(format!("{}.{}", served.resource.plural, served.resource.group)).or_default() +=
        left.len();
    let mut held = false;
    for finalizer in left.iter().flat_map(|o| o.metadata.finalizers.iter().flatten()) {
        *findings.finalizers.entry(finalizer.clone()).or_default() += 1;
        held = true;
    }
    if estimate.is_zero() {
        if !held {
            // Nothing should keep these: a failure, retried with backoff.
            return Err(Error::Content(format!(
                "unexpected items still remain in namespace: {namespace} for gvr: {}/{}, Resource={}",
                served.resource.group, served.resource.version, served.resource.plural
            )));
        }
        estimate = FINALIZER_ESTIMATE;
    }
    Ok(estimate)
}

/// Pods that are not finished take up to their grace period to go (upstream's
/// `estimateGracefulTerminationForPods`); other resources are deleted at once.
fn graceful_estimate(served: &Served, items: &[DynamicObject]) -> i64 {
    if !served.resource.group.is_empty() || served.resource.plural != "pods" {
        return 0;
    }
    items
        .iter()
        .filter(|pod| {
            let phase = pod.data.pointer("/status/phase").and_then(|p| p.as_str());
            !matches!(phase, Some("Succeeded" | "Failed"))
        })
        .filter_map(|pod| pod.data.pointer("/spec/terminationGracePeriodSeconds").and_then(|g| g.as_i64()))
        .max()
        .unwrap_or(0)
}
