//! The leader-election flags of `krust server` (upstream's `--leader-elect*`) and running a
//! component only while this process holds its Lease.

use std::time::Duration;
use tokio::sync::oneshot;

/// How the in-process controller manager and scheduler elect a leader among servers
/// sharing one store.
#[derive(clap::Args, Clone)]
pub struct ElectionArgs {
    /// Take a Lease in kube-system before running the controller manager or the scheduler,
    /// so that of several servers on one store only one of each acts.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// How long standbys wait after the leader's last renewal before taking over.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    leader_elect_lease_duration: Duration,
    /// How long the leader tries to renew before it stops leading.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    leader_elect_renew_deadline: Duration,
    /// How often candidates try to take the Lease and the leader renews it.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    leader_elect_retry_period: Duration,
}

/// A Go-style duration (`15s`, `1m30s`, `500ms`), as upstream's flags take.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let span: jiff::SignedDuration = text.parse().map_err(|e| format!("invalid duration {text:?}: {e}"))?;
    Duration::try_from(span).map_err(|_| format!("invalid duration {text:?}: negative"))
}

/// A future that resolves when a component should stop.
pub type Shutdown = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

impl ElectionArgs {
    /// Run `component` as `lease` (`kube-controller-manager`, `kube-scheduler`) with
    /// `client`: under leader election unless it is turned off, and until the returned
    /// sender fires. A component that fails is logged.
    pub fn spawn<C, F, E>(&self, client: kube::Client, lease: &str, identity: &str, component: C) -> oneshot::Sender<()>
    where
        C: FnMut(Shutdown) -> F + Send + 'static,
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        if !self.leader_elect {
            return spawn(lease.to_owned(), component);
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown: Shutdown = Box::pin(async move { stopped.await.unwrap_or_default() });
        let lease = lease.to_owned();
        let lock = leaderelection::LeaseLock::new(client, &lease, identity);
        let timing = leaderelection::Timing {
            lease_duration: self.leader_elect_lease_duration,
            renew_deadline: self.leader_elect_renew_deadline,
            retry_period: self.leader_elect_retry_period,
        };
        tokio::spawn(async move {
            if let Err(error) = leaderelection::run(lock, timing, shutdown, component).await {
                tracing::error!(%error, "{lease} stopped");
            }
        });
        stop
    }
}

/// Run `component` until the returned sender fires, logging if it stops on its own.
pub fn spawn<C, F, E>(name: String, component: C) -> oneshot::Sender<()>
where
    C: FnOnce(Shutdown) -> F,
    F: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let running = component(Box::pin(async move { stopped.await.unwrap_or_default() }));
    tokio::spawn(async move {
        if let Err(error) = running.await {
            tracing::error!(%error, "{name} stopped");
        }
    });
    stop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_upstream_flags_write_them() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("soon").is_err());
    }
}
