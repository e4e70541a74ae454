//! The node agent, as upstream's kubelet: it registers this machine as a Node and runs the
//! pods bound to it as real containers through CRI on containerd, which it starts itself
//! ([`containerd`]) with Krust's own pause image ([`images`]) and a bridge pod network
//! ([`cni`]). It is an API client with its own identity (`system:node:<name>` in
//! `system:nodes`), like every other component.
//!
//! Start with [`agent::Config`] and [`agent::run`]; a pod's way through the node is in
//! [`pods`].

pub mod agent;
pub mod cni;
pub mod containerd;
pub mod cri;
pub mod error;
pub mod images;
pub mod metrics;
pub mod node;
pub mod paths;
pub mod pods;
pub mod server;

pub use agent::{Config, ServingTls, run};
pub use error::{Error, Result};
