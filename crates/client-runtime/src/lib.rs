//! The client runtime every API-client component of Krust shares (the controller manager,
//! the scheduler and the simulated nodes; the kubelet, proxy and DNS to come), as
//! upstream's components share client-go:
//! - [`client`]: a component's own client, with a certificate from the cluster CA
//!   ([`client::component_client`]);
//! - [`informers`]: shared informers (upstream's `SharedInformerFactory`), one watch and one
//!   cache per resource type for the whole process;
//! - [`queue`]: the de-duplicating, rate-limited [`queue::WorkQueue`];
//! - [`runner`]: the [`runner::Reconciler`] trait and the workers that feed it from a queue;
//! - [`events`]: the core/v1 event [`events::Recorder`] with upstream's spam filter;
//! - [`labels`]: label selector matching.

pub mod client;
pub mod error;
pub mod events;
pub mod informers;
pub mod labels;
pub mod queue;
pub mod runner;

pub use error::Error;
