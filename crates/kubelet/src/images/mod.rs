//! Images without any registry: Krust's own pause image ([`pause`]), OCI archives built in
//! memory ([`oci`]), and importing archives into the node's containerd ([`import`]).

pub mod busybox;
pub mod import;
pub mod oci;
pub mod pause;
